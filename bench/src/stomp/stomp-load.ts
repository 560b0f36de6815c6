/**
 * The STOMP end-to-end benchmark: 1 SEND client → `/queue/<name>` → 1 SUBSCRIBE client, 100-byte bodies, against any
 * STOMP broker (Warren or RabbitMQ's STOMP plugin). Its own minimal STOMP client, independent of @warren/stomp, so
 * the load tool never shares code (or bugs) with the broker it measures.
 *
 * The publisher keeps at most `window` messages in flight (sent, not yet received by the consumer; both clients live
 * in this process), so the queue stays short and the figure is sustained end-to-end throughput. Latency is measured
 * from a timestamp the publisher writes into the body.
 */
import net from 'node:net';
import { Histogram } from '../histogram.js';
import type { ScenarioResult } from '../runner.js';
import { nowUs } from '../worker.js';

/** One STOMP scenario. */
export interface StompScenarioSpec {
  id: string;
  title: string;
  ack: 'auto' | 'client-individual';
  /** Fixed publish rate (msgs/s) for the latency scenario; 0 = as fast as the window allows. */
  rate: number;
}

/** The STOMP scenarios, in run order. */
export const STOMP_SCENARIOS: readonly StompScenarioSpec[] = [
  { id: 's-auto', title: 'STOMP 1 SEND → /queue → 1 SUBSCRIBE, ack auto', ack: 'auto', rate: 0 },
  { id: 's-client', title: 'STOMP 1 SEND → /queue → 1 SUBSCRIBE, client-individual, prefetch 1000', ack: 'client-individual', rate: 0 },
  { id: 's-latency', title: 'STOMP latency at a fixed 1,000 msgs/s, client-individual', ack: 'client-individual', rate: 1000 },
];

/** Run settings. */
export interface StompRunOptions {
  host: string;
  port: number;
  durationS: number;
  warmupS: number;
  bodySize: number;
  /** prefetch-count of the subscription (client-individual). Default 1000. */
  prefetch?: number;
  /** Messages in flight between publisher and consumer. Default 2000. */
  window?: number;
  /** vhost for the host header. Default '/'. */
  vhost?: string;
}


const NUL = 0;
const LF = 0x0a;

/** A frame as this client needs it. */
interface Frame {
  command: string;
  headers: Map<string, string>;
  body: Buffer;
}

/** Minimal STOMP reader: EOL heart-beats, headers, content-length or NUL-terminated body. */
class FrameReader {
  #buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    let buf: Buffer = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let pos = 0;
    for (;;) {
      while (pos < buf.length && (buf[pos] === LF || buf[pos] === 0x0d)) pos++;
      if (pos >= buf.length) break;
      const headEnd = buf.indexOf('\n\n', pos);
      if (headEnd < 0) break;
      const lines = buf.toString('utf8', pos, headEnd).split('\n');
      const headers = new Map<string, string>();
      for (let i = 1; i < lines.length; i++) {
        const l = lines[i] ?? '';
        const c = l.indexOf(':');
        if (c > 0 && !headers.has(l.slice(0, c))) headers.set(l.slice(0, c), l.slice(c + 1));
      }
      const bodyStart = headEnd + 2;
      const cl = headers.get('content-length');
      let bodyEnd: number;
      if (cl !== undefined) {
        bodyEnd = bodyStart + Number(cl);
        if (bodyEnd >= buf.length) break;
      } else {
        bodyEnd = buf.indexOf(NUL, bodyStart);
        if (bodyEnd < 0) break;
      }
      onFrame({ command: lines[0] ?? '', headers, body: buf.subarray(bodyStart, bodyEnd) });
      pos = bodyEnd + 1;
    }
    buf = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    this.#buf = buf;
  }
}

/** One STOMP connection of the load tool. */
class LoadClient {
  readonly socket: net.Socket;
  readonly #reader = new FrameReader();
  onFrame: (f: Frame) => void = () => undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#reader.push(d, (f) => this.onFrame(f)));
  }

  static async open(o: StompRunOptions): Promise<LoadClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(o.port, o.host, () => resolve(s));
      s.once('error', reject);
    });
    const c = new LoadClient(socket);
    await new Promise<void>((resolve, reject) => {
      c.onFrame = (f) => (f.command === 'CONNECTED' ? resolve() : reject(new Error(f.headers.get('message') ?? f.command)));
      socket.write(`CONNECT\naccept-version:1.2\nhost:${o.vhost ?? '/'}\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0`);
    });
    return c;
  }

  /** Send a frame and wait for its RECEIPT. */
  request(frame: string, receipt: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const prev = this.onFrame;
      this.onFrame = (f) => {
        if (f.command === 'RECEIPT' && f.headers.get('receipt-id') === receipt) {
          this.onFrame = prev;
          resolve();
        } else if (f.command === 'ERROR') reject(new Error(`${f.headers.get('message')}: ${f.body.toString()}`));
        else prev(f);
      };
      this.socket.write(frame.replace('\n\n', `\nreceipt:${receipt}\n\n`));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}


/** Run one STOMP scenario against the broker at `o.host:o.port`. */
export async function runStompScenario(spec: StompScenarioSpec, o: StompRunOptions): Promise<ScenarioResult> {
  const queue = `bench-stomp-${process.pid}-${spec.id}-${Date.now().toString(36)}`;
  const window = o.window ?? 2000;
  const prefetch = o.prefetch ?? 1000;
  const result: ScenarioResult = {
    id: spec.id,
    title: spec.title,
    durationS: o.durationS,
    // STOMP has no publisher confirms: this is the publish rate in the measured window.
    confirmedPerS: 0,
    deliveredPerS: 0,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    p999Ms: Number.NaN,
    nacked: 0,
    totalPublished: 0,
    totalDelivered: 0,
  };
  let pub: LoadClient | undefined;
  let sub: LoadClient | undefined;
  try {
    pub = await LoadClient.open(o);
    sub = await LoadClient.open(o);
    const subscribe =
      `SUBSCRIBE\ndestination:/queue/${queue}\nid:1\nack:${spec.ack}\n` +
      (spec.ack === 'auto' ? '' : `prefetch-count:${prefetch}\n`) +
      '\n\0';
    await sub.request(subscribe, 'sub');

    let sent = 0;
    let received = 0;
    let measuring = false;
    let windowDelivered = 0;
    const hist = new Histogram();
    const body = Buffer.alloc(Math.max(o.bodySize, 8), 0x61);
    const head = Buffer.from(`SEND\ndestination:/queue/${queue}\ncontent-length:${body.length}\n\n`);
    const frameLen = head.length + body.length + 1;
    const subSocket = sub.socket;
    const pubSocket = pub.socket;

    let ackBatch = '';
    let ackScheduled = false;
    const flushAcks = (): void => {
      ackScheduled = false;
      if (ackBatch !== '') subSocket.write(ackBatch);
      ackBatch = '';
    };
    sub.onFrame = (f) => {
      if (f.command !== 'MESSAGE') {
        if (f.command === 'ERROR') result.error ??= `${f.headers.get('message')}: ${f.body.toString()}`;
        return;
      }
      received++;
      if (measuring) {
        windowDelivered++;
        const t = f.body.readDoubleLE(0);
        hist.record(nowUs() - t);
      }
      if (spec.ack !== 'auto') {
        ackBatch += `ACK\nid:${f.headers.get('ack') ?? ''}\n\n\0`;
        if (!ackScheduled) {
          ackScheduled = true;
          setImmediate(flushAcks);
        }
      }
      if (spec.rate === 0 && sent - received <= window / 2) schedulePublish();
    };

    // Publisher: fill the window in one write per turn; stop at socket backpressure until 'drain'.
    let publishScheduled = false;
    let stalled = false;
    let stopped = false;
    const publishBurst = (count: number): void => {
      if (count <= 0 || stopped) return;
      const out = Buffer.allocUnsafe(frameLen * count);
      let off = 0;
      for (let i = 0; i < count; i++) {
        off += head.copy(out, off);
        body.writeDoubleLE(nowUs(), 0);
        off += body.copy(out, off);
        out[off++] = 0;
      }
      sent += count;
      if (!pubSocket.write(out)) stalled = true;
    };
    const publishWindow = (): void => {
      publishScheduled = false;
      if (stalled || stopped) return;
      publishBurst(Math.min(window - (sent - received), 500));
      if (sent - received < window) schedulePublish();
    };
    function schedulePublish(): void {
      if (!publishScheduled && !stalled) {
        publishScheduled = true;
        setImmediate(publishWindow);
      }
    }
    pub.onFrame = (f) => {
      if (f.command === 'ERROR') result.error ??= `${f.headers.get('message')}: ${f.body.toString()}`;
    };
    pubSocket.on('drain', () => {
      stalled = false;
      if (spec.rate === 0) schedulePublish();
    });

    let rateTimer: NodeJS.Timeout | undefined;
    const startUs = nowUs();
    if (spec.rate > 0) {
      // Fixed rate: every millisecond, send what the schedule owes (drift-free).
      rateTimer = setInterval(() => {
        const due = Math.floor(((nowUs() - startUs) / 1e6) * spec.rate);
        if (!stalled) publishBurst(Math.min(due - sent, 100));
      }, 1);
    } else {
      schedulePublish();
    }
    await new Promise((r) => setTimeout(r, o.warmupS * 1000));
    measuring = true;
    const sentAtStart = sent;
    const t0 = nowUs();
    await new Promise((r) => setTimeout(r, o.durationS * 1000));
    measuring = false;
    const elapsedS = (nowUs() - t0) / 1e6;
    stopped = true;
    if (rateTimer !== undefined) clearInterval(rateTimer);
    result.durationS = elapsedS;
    result.deliveredPerS = windowDelivered / elapsedS;
    result.confirmedPerS = (sent - sentAtStart) / elapsedS;
    result.p999Ms = hist.quantile(0.999) / 1000;
    result.p50Ms = hist.quantile(0.5) / 1000;
    result.p99Ms = hist.quantile(0.99) / 1000;
    result.totalPublished = sent;
    result.totalDelivered = received;
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    pub?.close();
    sub?.close();
  }
  return result;
}
