/**
 * The MQTT end-to-end benchmark, against any MQTT 3.1.1 broker (Warren, Mosquitto, RabbitMQ's MQTT plugin):
 * - m-qos0 / m-qos1: 1 publisher → 1 subscriber on one topic, 100-byte payloads, at most `window` messages in flight
 *   end to end (so queues stay short and the figure is sustained throughput);
 * - m-fanin: `devices` connections each publishing QoS 1 to `devices/<id>/temp` 10 times a second, one subscriber
 *   on `devices/#`: delivered msgs/s and latency percentiles.
 * Its own minimal MQTT 3.1.1 client (hand-built packets, a PUBLISH-only reader), independent of @warren/mqtt and of
 * mqtt-packet, so the load tool shares no code with the broker it measures. Latency comes from a timestamp the
 * publisher writes into the first 8 payload bytes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Histogram } from '../histogram.js';
import type { ScenarioResult } from '../runner.js';
import { nowUs } from '../worker.js';
import { devicesOfProcess } from './fanin-schedule.js';
import type { FanInWorkerCommand, FanInWorkerReply } from './fanin-worker.js';

/** One MQTT scenario. */
export interface MqttScenarioSpec {
  id: string;
  title: string;
  kind: 'throughput' | 'fanin';
  qos: 0 | 1;
}

/** The MQTT scenarios, in run order. */
export const MQTT_SCENARIOS: readonly MqttScenarioSpec[] = [
  { id: 'm-qos0', title: 'MQTT QoS 0, 1 publisher → 1 subscriber', kind: 'throughput', qos: 0 },
  { id: 'm-qos1', title: 'MQTT QoS 1, 1 publisher → 1 subscriber', kind: 'throughput', qos: 1 },
  { id: 'm-fanin', title: 'MQTT fan-in: devices × QoS 1 at 10/s → 1 subscriber on devices/#', kind: 'fanin', qos: 1 },
];

/** Run settings. */
export interface MqttRunOptions {
  host: string;
  port: number;
  durationS: number;
  warmupS: number;
  bodySize: number;
  /** Messages in flight end to end (throughput scenarios). Default 2000. */
  window?: number;
  /** Device connections in the fan-in scenario. Default 500. */
  devices?: number;
  /** Processes the fan-in devices are spread over (the subscriber has one of its own). Default 4. */
  deviceProcesses?: number;
  username?: string;
  password?: string;
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/** CONNECT, MQTT 3.1.1 (§3.1). */
function connectPacket(clientId: string, o: MqttRunOptions): Buffer {
  const parts = [str('MQTT'), Buffer.from([4, 0x02 | (o.username !== undefined ? 0xc0 : 0), 0, 60]), str(clientId)];
  if (o.username !== undefined) parts.push(str(o.username), str(o.password ?? ''));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]);
}

/** A PUBLISH template whose payload (timestamp first) and packet id are patched per message. */
export class PublishTemplate {
  readonly buf: Buffer;
  readonly idOffset: number;
  readonly payloadOffset: number;
  constructor(topic: string, qos: 0 | 1, payloadSize: number) {
    const t = str(topic);
    const remaining = t.length + (qos > 0 ? 2 : 0) + payloadSize;
    const head = Buffer.from([0x30 | (qos << 1), ...varint(remaining)]);
    this.buf = Buffer.alloc(head.length + remaining, 0x61);
    head.copy(this.buf, 0);
    t.copy(this.buf, head.length);
    this.idOffset = head.length + t.length;
    this.payloadOffset = this.idOffset + (qos > 0 ? 2 : 0);
  }
  /** Write one message into `out` at `at`; returns the next offset. */
  fill(out: Buffer, at: number, packetId: number): number {
    this.buf.copy(out, at);
    if (this.payloadOffset !== this.idOffset) out.writeUInt16BE(packetId, at + this.idOffset);
    out.writeDoubleLE(nowUs(), at + this.payloadOffset);
    return at + this.buf.length;
  }
}

/** A minimal MQTT 3.1.1 client connection. */
export class LoadClient {
  readonly socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #waiting: { type: number; resolve: () => void; reject: (e: Error) => void } | undefined;
  /** Called with the payload of each PUBLISH received (a view; read it at once). */
  onPublish: (payload: Buffer) => void = () => undefined;
  onPuback: () => void = () => undefined;
  #acks: Buffer[] = [];
  #ackScheduled = false;
  error: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.#read(c));
    socket.on('error', (e) => {
      this.error = e;
      this.#waiting?.reject(e);
    });
    socket.on('close', () => this.#waiting?.reject(new Error('connection closed')));
  }

  static async open(clientId: string, o: MqttRunOptions): Promise<LoadClient> {
    const socket = net.connect({ host: o.host, port: o.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new LoadClient(socket);
    await c.request(connectPacket(clientId, o), 2);
    return c;
  }

  request(packet: Buffer, replyType: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting = { type: replyType, resolve, reject };
      this.socket.write(packet);
    });
  }

  subscribe(filter: string, qos: 0 | 1): Promise<void> {
    const body = Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([qos])]);
    return this.request(Buffer.concat([Buffer.from([0x82, ...varint(body.length)]), body]), 9);
  }

  close(): void {
    this.socket.end(Buffer.from([0xe0, 0]));
    this.socket.destroy();
  }

  #read(chunk: Buffer): void {
    let buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let pos = 0;
    for (;;) {
      if (buf.length - pos < 2) break;
      let len = 0;
      let mul = 1;
      let i = pos + 1;
      let complete = false;
      for (; i < buf.length && i < pos + 5; i++) {
        const b = buf[i] as number;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || buf.length - i < len) break;
      const header = buf[pos] as number;
      const type = header >> 4;
      if (type === 3) {
        const qos = (header >> 1) & 3;
        const topicLen = buf.readUInt16BE(i);
        let p = i + 2 + topicLen;
        if (qos > 0) {
          // PUBACK, batched per read.
          this.#acks.push(Buffer.from([0x40, 2, buf[p] as number, buf[p + 1] as number]));
          p += 2;
        }
        this.onPublish(buf.subarray(p, i + len));
      } else if (type === 4) {
        this.onPuback();
      } else if (this.#waiting !== undefined && type === this.#waiting.type) {
        const w = this.#waiting;
        this.#waiting = undefined;
        if (type === 2 && buf[i + 1] !== 0) w.reject(new Error(`CONNACK return code ${buf[i + 1]}`));
        else w.resolve();
      }
      pos = i + len;
    }
    this.#buf = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    if (this.#acks.length > 0 && !this.#ackScheduled) {
      this.#ackScheduled = true;
      setImmediate(() => {
        this.#ackScheduled = false;
        this.socket.write(Buffer.concat(this.#acks));
        this.#acks = [];
      });
    }
    buf = Buffer.alloc(0);
  }
}

function emptyResult(spec: MqttScenarioSpec, o: MqttRunOptions): ScenarioResult {
  return {
    id: spec.id,
    title: spec.title,
    durationS: o.durationS,
    confirmedPerS: 0,
    deliveredPerS: 0,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    p999Ms: Number.NaN,
    nacked: 0,
    totalPublished: 0,
    totalDelivered: 0,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run one MQTT scenario. Errors are reported in the result, never thrown. */
export async function runMqttScenario(spec: MqttScenarioSpec, o: MqttRunOptions): Promise<ScenarioResult> {
  const result = emptyResult(spec, o);
  const clients: LoadClient[] = [];
  try {
    if (spec.kind === 'throughput') await throughput(spec, o, result, clients);
    else await fanIn(o, result);
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    for (const c of clients) c.close();
  }
  return result;
}

async function throughput(spec: MqttScenarioSpec, o: MqttRunOptions, result: ScenarioResult, clients: LoadClient[]): Promise<void> {
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const topic = `bench/${tag}/${spec.id}`;
  const window = o.window ?? 2000;
  const sub = await LoadClient.open(`bench-sub-${tag}`, o);
  clients.push(sub);
  await sub.subscribe(topic, spec.qos);
  const pub = await LoadClient.open(`bench-pub-${tag}`, o);
  clients.push(pub);
  const tpl = new PublishTemplate(topic, spec.qos, Math.max(o.bodySize, 8));
  const hist = new Histogram();
  let sent = 0;
  let received = 0;
  let measuring = false;
  let windowDelivered = 0;
  let windowSent = 0;
  let packetId = 0;
  let stopped = false;
  const batchMax = 64;
  const scratch = Buffer.alloc(tpl.buf.length * batchMax);
  const pump = (): void => {
    if (stopped) return;
    while (sent - received < window && pub.socket.writableLength < 1 << 20) {
      const n = Math.min(batchMax, window - (sent - received));
      let at = 0;
      for (let k = 0; k < n; k++) {
        packetId = packetId === 65535 ? 1 : packetId + 1;
        at = tpl.fill(scratch, at, packetId);
      }
      pub.socket.write(Buffer.from(scratch.subarray(0, at)));
      sent += n;
      if (measuring) windowSent += n;
    }
  };
  sub.onPublish = (payload) => {
    received++;
    if (measuring) {
      windowDelivered++;
      hist.record(nowUs() - payload.readDoubleLE(0));
    }
  };
  let pumpScheduled = false;
  const schedule = (): void => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  };
  const origOnPublish = sub.onPublish;
  sub.onPublish = (payload) => {
    origOnPublish(payload);
    schedule();
  };
  pub.socket.on('drain', schedule);
  pump();
  await sleep(o.warmupS * 1000);
  measuring = true;
  const t0 = nowUs();
  await sleep(o.durationS * 1000);
  measuring = false;
  const seconds = (nowUs() - t0) / 1e6;
  stopped = true;
  result.deliveredPerS = windowDelivered / seconds;
  result.confirmedPerS = windowSent / seconds;
  result.p50Ms = hist.quantile(0.5) / 1000;
  result.p99Ms = hist.quantile(0.99) / 1000;
  result.p999Ms = hist.quantile(0.999) / 1000;
  result.totalPublished = sent;
  result.totalDelivered = received;
  const failure = pub.error ?? sub.error;
  if (failure !== undefined) result.error = failure.message;
}

/** Least warm-up of the fan-in scenario, s (see fanIn). */
export const FANIN_MIN_WARMUP_S = 3;

/** A forked fan-in load process (fanin-worker.ts): devices or the subscriber. */
class LoadProcess {
  readonly child: ChildProcess;
  #replies: Array<(m: FanInWorkerReply) => void> = [];
  constructor() {
    this.child = fork(fileURLToPath(new URL('./fanin-worker.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: FanInWorkerReply) => this.#replies.shift()?.(m));
    this.child.on('exit', () => {
      for (const r of this.#replies.splice(0)) r({ type: 'failed', message: 'load process exited' });
    });
  }
  request(cmd: FanInWorkerCommand): Promise<FanInWorkerReply> {
    return new Promise((resolve) => {
      this.#replies.push(resolve);
      this.child.send(cmd);
    });
  }
}

/**
 * Fan-in: the subscriber and the devices each in forked processes (the devices spread over `deviceProcesses`), so
 * no process's event loop or collector delays another's packets, and this process (which has run earlier scenarios)
 * stays out of the measured path. Latency = subscriber's receive time − the publisher's timestamp, both µs of the
 * host's monotonic clock.
 */
async function fanIn(o: MqttRunOptions, result: ScenarioResult): Promise<void> {
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const devices = o.devices ?? 500;
  const nproc = Math.max(1, Math.min(o.deviceProcesses ?? 4, devices));
  const subscriber = new LoadProcess();
  const procs = Array.from({ length: nproc }, () => new LoadProcess());
  const all = [subscriber, ...procs];
  try {
    const subscribed = await subscriber.request({ type: 'subscribe', options: o, tag });
    if (subscribed.type === 'failed') throw new Error(subscribed.message);
    // Devices are dealt round-robin, so every process has devices all over the period (see fanin-schedule.ts).
    const ready = await Promise.all(
      procs.map((p, k) => p.request({ type: 'init', options: o, tag, ids: devicesOfProcess(devices, nproc, k), devices })),
    );
    const bad = ready.find((r) => r.type === 'failed');
    if (bad !== undefined && bad.type === 'failed') throw new Error(bad.message);
    // One start time on the shared clock, a little ahead so every process has its message by then.
    const atUs = nowUs() + 20_000;
    for (const p of procs) p.child.send({ type: 'start', atUs } satisfies FanInWorkerCommand);
    // The figure is steady telemetry, not the connect storm: for a few seconds after 500 connections open, every
    // process is still promoting their state (Warren's young collections take 3-7 ms then, against 0.5-1.5 ms
    // after). So the fan-in warm-up is at least FANIN_MIN_WARMUP_S, for every broker alike.
    await sleep(Math.max(o.warmupS, FANIN_MIN_WARMUP_S) * 1000);
    await subscriber.request({ type: 'measure' });
    await sleep(o.durationS * 1000);
    const report = await subscriber.request({ type: 'report' });
    if (report.type === 'report') {
      const hist = Histogram.fromSparse(report.hist);
      result.deliveredPerS = report.delivered / report.seconds;
      result.p50Ms = hist.quantile(0.5) / 1000;
      result.p99Ms = hist.quantile(0.99) / 1000;
      result.p999Ms = hist.quantile(0.999) / 1000;
    } else if (report.type === 'failed') throw new Error(report.message);
    const stopped = await Promise.all(procs.map((p) => p.request({ type: 'stop' })));
    const subStopped = await subscriber.request({ type: 'stop' });
    for (const r of [...stopped, subStopped]) {
      if (r.type === 'stopped') {
        result.totalPublished += r.sent;
        result.totalDelivered += r.received;
      }
      const error = r.type === 'stopped' ? r.error : r.type === 'failed' ? r.message : undefined;
      if (error !== undefined) result.error ??= error;
    }
  } finally {
    for (const p of all) if (p.child.exitCode === null) p.child.kill();
  }
  result.confirmedPerS = 0;
}
