/**
 * WebSocket variants of the STOMP and MQTT 1→1 scenarios: one publisher client → one subscriber client, 100-byte
 * bodies, over WebSocket (web-stomp, web-mqtt) and, with the same load tool, over TCP for the WebSocket/TCP ratio.
 * Its own minimal STOMP and MQTT 3.1.1 clients (no code shared with the broker), one frame or packet per WebSocket
 * message as browser clients send them.
 *
 * The publisher keeps at most `window` messages in flight (sent, not yet received; both clients live in this
 * process), so queues stay short and the figure is sustained end-to-end throughput. Latency comes from a timestamp
 * the publisher writes at the start of each body.
 *
 * Standalone: `node bench/dist/web/web-load.js [--duration S] [--warmup S] [--only ids] [--reference] [--json]` starts Warren in a
 * child process (every listener on a free port) and, with --reference, also measures the reference RabbitMQ's
 * web_stomp/web_mqtt (15684/15685) and STOMP/MQTT (61623/1893) plugins on this machine.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Histogram } from '../histogram.js';
import type { ScenarioResult } from '../runner.js';

/** One scenario. */
export interface WebScenarioSpec {
  id: string;
  title: string;
  protocol: 'stomp' | 'mqtt';
  transport: 'ws' | 'tcp';
}

/** The scenarios, in run order: each WebSocket one followed by the same over TCP. */
export const WEB_SCENARIOS: readonly WebScenarioSpec[] = [
  { id: 'w-stomp', title: 'STOMP over WebSocket, 1 SEND → /topic → 1 SUBSCRIBE, ack auto', protocol: 'stomp', transport: 'ws' },
  { id: 'w-stomp-tcp', title: 'the same over TCP (same load tool)', protocol: 'stomp', transport: 'tcp' },
  { id: 'w-mqtt', title: 'MQTT over WebSocket, QoS 0, 1 publisher → 1 subscriber', protocol: 'mqtt', transport: 'ws' },
  { id: 'w-mqtt-tcp', title: 'the same over TCP (same load tool)', protocol: 'mqtt', transport: 'tcp' },
];

/** Where a broker listens. Missing entries skip their scenarios. */
export interface WebTarget {
  name: string;
  host: string;
  stompPort?: number;
  mqttPort?: number;
  /** ws://host:port/ws */
  webStompUrl?: string;
  webMqttUrl?: string;
}

/** Run settings. */
export interface WebRunOptions {
  durationS: number;
  warmupS: number;
  bodySize: number;
  /** Messages in flight between publisher and subscriber. Default 2000. */
  window?: number;
  /** Run only these scenario ids. */
  only?: readonly string[];
}

/** A byte pipe: a TCP socket, or a WebSocket where each write is one binary message. */
interface Pipe {
  write(buf: Buffer): void;
  /** Bytes queued but not yet handed to the kernel. */
  pending(): number;
  close(): void;
}

async function openPipe(spec: WebScenarioSpec, target: WebTarget, onData: (b: Buffer) => void): Promise<Pipe> {
  if (spec.transport === 'tcp') {
    const port = spec.protocol === 'stomp' ? target.stompPort : target.mqttPort;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port ?? 0, target.host, () => resolve(s));
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('error', () => {});
    return { write: (b) => void socket.write(b), pending: () => socket.writableLength, close: () => socket.destroy() };
  }
  const url = spec.protocol === 'stomp' ? target.webStompUrl : target.webMqttUrl;
  const ws = new WebSocket(url ?? '', [spec.protocol === 'stomp' ? 'v12.stomp' : 'mqtt'], { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => {});
  ws.on('message', (d: Buffer) => onData(d));
  // STOMP frames go as text messages (as stomp.js sends them); MQTT packets must be binary ([MQTT-6.0.0-1]).
  const binary = spec.protocol === 'mqtt';
  return { write: (b) => ws.send(b, { binary }), pending: () => ws.bufferedAmount, close: () => ws.terminate() };
}

/** Counts messages in the subscriber's byte stream and hands each body's first bytes to `onBody`. */
interface Reader {
  push(b: Buffer): void;
}

/** STOMP: frames end with NUL; bodies carry no NUL. Calls onFrame(command initial, body start offset, buffer). */
function stompReader(onFrame: (frame: Buffer) => void): Reader {
  let rest: Buffer | undefined;
  return {
    push(chunk) {
      const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
      let pos = 0;
      for (;;) {
        // Heart-beats and the EOL some brokers send after each NUL (RabbitMQ) precede the next command.
        while (pos < buf.length && (buf[pos] === 0x0a || buf[pos] === 0x0d)) pos++;
        const nul = buf.indexOf(0, pos);
        if (nul < 0) break;
        onFrame(buf.subarray(pos, nul));
        pos = nul + 1;
      }
      rest = pos < buf.length ? buf.subarray(pos) : undefined;
    },
  };
}

/** MQTT: fixed header, remaining length (varint), body. Calls onPacket(type, packet body). */
function mqttReader(onPacket: (type: number, body: Buffer) => void): Reader {
  let rest: Buffer | undefined;
  return {
    push(chunk) {
      const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
      let pos = 0;
      for (;;) {
        if (pos + 2 > buf.length) break;
        let len = 0;
        let mul = 1;
        let i = pos + 1;
        let complete = false;
        for (; i < buf.length && i < pos + 5; i++) {
          const byte = buf[i]!;
          len += (byte & 0x7f) * mul;
          mul *= 128;
          if ((byte & 0x80) === 0) {
            complete = true;
            break;
          }
        }
        if (!complete) break;
        const start = i + 1;
        if (start + len > buf.length) break;
        onPacket(buf[pos]! >> 4, buf.subarray(start, start + len));
        pos = start + len;
      }
      rest = pos < buf.length ? buf.subarray(pos) : undefined;
    },
  };
}

function mqttString(s: string): Buffer {
  const b = Buffer.from(s);
  const out = Buffer.alloc(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

function mqttPacket(first: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}

/** MQTT 3.1.1 CONNECT with clean session, username and password guest, no keep-alive. */
function mqttConnect(clientId: string): Buffer {
  const header = Buffer.concat([mqttString('MQTT'), Buffer.from([4, 0xc2, 0, 0])]);
  return mqttPacket(0x10, Buffer.concat([header, mqttString(clientId), mqttString('guest'), mqttString('guest')]));
}

/** Body: the send time (performance.now(), ms) as text, padded to `size` with 'x'. */
function body(size: number): Buffer {
  const b = Buffer.alloc(Math.max(size, 24), 'x');
  b.write(performance.now().toFixed(3).padEnd(20, ' '), 0, 'latin1');
  return b;
}

function sentAt(b: Buffer, offset: number): number {
  return Number.parseFloat(b.toString('latin1', offset, offset + 20));
}

/** Run one scenario against `target`. Never throws: failures come back in `error`. */
export async function runWebScenario(
  spec: WebScenarioSpec,
  target: WebTarget,
  o: WebRunOptions,
): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    id: spec.id,
    title: spec.title,
    durationS: o.durationS,
    confirmedPerS: Number.NaN,
    deliveredPerS: Number.NaN,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    p999Ms: Number.NaN,
    nacked: 0,
    totalPublished: 0,
    totalDelivered: 0,
  };
  const pipes: Pipe[] = [];
  let watchdog: NodeJS.Timeout | undefined;
  try {
    // A broker that stops answering (a lost RECEIPT or SUBACK) must not hang the whole bench.
    const timeout = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => reject(new Error('timed out')), (o.warmupS + o.durationS + 15) * 1000);
    });
    await Promise.race([runInner(), timeout]);
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    clearTimeout(watchdog);
    for (const p of pipes) p.close();
  }
  return result;

  async function runInner(): Promise<void> {
    const window = o.window ?? 2000;
    const name = `bench${Math.random().toString(16).slice(2, 10)}`;
    const histogram = new Histogram();
    let published = 0;
    let delivered = 0;
    let measuring = false;
    let measuredDelivered = 0;
    let ready: (() => void) | undefined;
    const readyP = new Promise<void>((resolve) => (ready = resolve));
    let subscribedResolve: (() => void) | undefined;
    const subscribedP = new Promise<void>((resolve) => (subscribedResolve = resolve));
    let topUp = (): void => {};

    const onDelivery = (t: number): void => {
      delivered++;
      if (measuring) {
        measuredDelivered++;
        histogram.record((performance.now() - t) * 1000);
      }
      if (published - delivered <= window / 2) topUp();
    };

    let sub: Pipe;
    let pub: Pipe;
    let publishOne: () => void;
    if (spec.protocol === 'stomp') {
      const connect = 'CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0';
      const subReader = stompReader((frame) => {
        const c = frame[0];
        if (c === 0x4d /* M */) {
          const start = frame.indexOf('\n\n') + 2;
          onDelivery(sentAt(frame, start));
        } else if (c === 0x52 /* RECEIPT */) subscribedResolve?.();
        else if (c === 0x43 /* CONNECTED */) ready?.();
        else if (c === 0x45 /* ERROR */) throw new Error(`ERROR frame: ${frame.toString()}`);
      });
      sub = await openPipe(spec, target, (b) => subReader.push(b));
      pipes.push(sub);
      sub.write(Buffer.from(connect));
      await readyP;
      sub.write(Buffer.from(`SUBSCRIBE\nid:0\ndestination:/topic/${name}\nack:auto\nreceipt:s\n\n\0`));
      await subscribedP;
      let pubReady: (() => void) | undefined;
      const pubReadyP = new Promise<void>((resolve) => (pubReady = resolve));
      const pubReader = stompReader((frame) => {
        if (frame[0] === 0x43) pubReady?.();
      });
      pub = await openPipe(spec, target, (b) => pubReader.push(b));
      pipes.push(pub);
      pub.write(Buffer.from(connect));
      await pubReadyP;
      const head = Buffer.from(`SEND\ndestination:/topic/${name}\ncontent-length:${Math.max(o.bodySize, 24)}\n\n`);
      const nul = Buffer.from([0]);
      publishOne = () => pub.write(Buffer.concat([head, body(o.bodySize), nul]));
    } else {
      const topic = `bench/${name}`;
      const subReader = mqttReader((type, b) => {
        if (type === 3) onDelivery(sentAt(b, 2 + b.readUInt16BE(0)));
        else if (type === 2) ready?.();
        else if (type === 9) subscribedResolve?.();
      });
      sub = await openPipe(spec, target, (b) => subReader.push(b));
      pipes.push(sub);
      sub.write(mqttConnect(`${name}-sub`));
      await readyP;
      sub.write(mqttPacket(0x82, Buffer.concat([Buffer.from([0, 1]), mqttString(topic), Buffer.from([0])])));
      await subscribedP;
      let pubReady: (() => void) | undefined;
      const pubReadyP = new Promise<void>((resolve) => (pubReady = resolve));
      const pubReader = mqttReader((type) => {
        if (type === 2) pubReady?.();
      });
      pub = await openPipe(spec, target, (b) => pubReader.push(b));
      pipes.push(pub);
      pub.write(mqttConnect(`${name}-pub`));
      await pubReadyP;
      const topicBytes = mqttString(topic);
      publishOne = () => pub.write(mqttPacket(0x30, Buffer.concat([topicBytes, body(o.bodySize)])));
    }

    // Publisher: fill the window; one write (one WebSocket message) per message. Re-entered from deliveries.
    let scheduled = false;
    let running = true;
    topUp = () => {
      if (!running || scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        while (running && published - delivered < window && pub.pending() < 1 << 20) {
          publishOne();
          published++;
        }
        if (running && pub.pending() >= 1 << 20) setTimeout(topUp, 1);
      });
    };
    topUp();
    await new Promise((r) => setTimeout(r, o.warmupS * 1000));
    measuring = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, o.durationS * 1000));
    measuring = false;
    const elapsedS = (performance.now() - t0) / 1000;
    running = false;
    result.deliveredPerS = measuredDelivered / elapsedS;
    result.confirmedPerS = Number.NaN;
    result.p50Ms = histogram.quantile(0.5) / 1000;
    result.p99Ms = histogram.quantile(0.99) / 1000;
    result.p999Ms = histogram.quantile(0.999) / 1000;
    result.totalPublished = published;
    result.totalDelivered = delivered;
  }
}

/** The reference RabbitMQ of this machine (web_stomp 15684, web_mqtt 15685, STOMP 61623, MQTT 1893). */
export const REFERENCE_RABBITMQ: WebTarget = {
  name: 'RabbitMQ 3.10.8 (reference)',
  host: '127.0.0.1',
  stompPort: 61623,
  mqttPort: 1893,
  webStompUrl: 'ws://127.0.0.1:15684/ws',
  webMqttUrl: 'ws://127.0.0.1:15685/ws',
};

interface ChildPorts {
  stomp?: number;
  mqtt?: number;
  webStomp?: number;
  webMqtt?: number;
}

/** Start Warren in a child process (this file in 'child' mode) with every listener on a free port. */
export async function startWarrenWebChild(): Promise<WebTarget & { stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'warren-web-bench-'));
  const child = fork(fileURLToPath(import.meta.url), ['child', dataDir], { stdio: 'inherit' });
  const ports = await new Promise<ChildPorts>((resolve, reject) => {
    child.once('message', (m: { ports?: ChildPorts; error?: string }) =>
      m.ports !== undefined ? resolve(m.ports) : reject(new Error(m.error ?? 'Warren child failed')),
    );
    child.once('exit', (code) => reject(new Error(`Warren child exited with ${code}`)));
  });
  const target: WebTarget & { stop(): Promise<void> } = {
    name: 'Warren',
    host: '127.0.0.1',
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => {
          rmSync(dataDir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
  if (ports.stomp !== undefined) target.stompPort = ports.stomp;
  if (ports.mqtt !== undefined) target.mqttPort = ports.mqtt;
  if (ports.webStomp !== undefined) target.webStompUrl = `ws://127.0.0.1:${ports.webStomp}/ws`;
  if (ports.webMqtt !== undefined) target.webMqttUrl = `ws://127.0.0.1:${ports.webMqtt}/ws`;
  return target;
}

async function runChild(dataDir: string): Promise<void> {
  try {
    const { startBroker } = await import('@warren/server');
    const broker = await startBroker({
      dataDir,
      host: '127.0.0.1',
      log: { level: 'warn' },
      amqp: { port: 0, tlsPort: null },
      stomp: { port: 0, tlsPort: null },
      mqtt: { port: 0, tlsPort: null },
      webStomp: { port: 0, tlsPort: null },
      webMqtt: { port: 0, tlsPort: null },
    });
    process.once('SIGTERM', () => void broker.stop().finally(() => process.exit(0)));
    process.once('disconnect', () => void broker.stop().finally(() => process.exit(0)));
    const p = broker.ports;
    process.send?.({
      ports: { stomp: p.stomp, mqtt: p.mqtt, webStomp: p.webStomp, webMqtt: p.webMqtt },
    });
  } catch (err) {
    process.send?.({ error: (err as Error).message });
    process.exitCode = 1;
  }
}

/** Run every scenario against each target, alternating targets per scenario. */
export async function runWebBench(
  targets: readonly WebTarget[],
  o: WebRunOptions,
  log: (s: string) => void = () => {},
): Promise<Map<string, ScenarioResult[]>> {
  const out = new Map<string, ScenarioResult[]>(targets.map((t) => [t.name, []]));
  for (const spec of WEB_SCENARIOS) {
    if (o.only !== undefined && !o.only.includes(spec.id)) continue;
    for (const t of targets) {
      log(`  ${t.name}: ${spec.id} — ${spec.title} …`);
      out.get(t.name)!.push(await runWebScenario(spec, t, o));
    }
  }
  return out;
}

/** A table: msgs/s and latency per scenario, per target, plus the WebSocket/TCP ratio. */
export function formatWebResults(results: Map<string, ScenarioResult[]>): string {
  const lines: string[] = [];
  const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
  const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—');
  for (const [name, rs] of results) {
    lines.push(name);
    for (const r of rs) {
      const row = r.error !== undefined
        ? `    error: ${r.error}`
        : `${fmt(r.deliveredPerS).padStart(10)} msgs/s   p50 ${ms(r.p50Ms)} ms   p99 ${ms(r.p99Ms)} ms`;
      lines.push(`  ${r.id.padEnd(12)} ${row}`);
    }
    for (const proto of ['stomp', 'mqtt']) {
      const ws = rs.find((r) => r.id === `w-${proto}`)?.deliveredPerS ?? Number.NaN;
      const tcp = rs.find((r) => r.id === `w-${proto}-tcp`)?.deliveredPerS ?? Number.NaN;
      if (Number.isFinite(ws) && Number.isFinite(tcp)) lines.push(`  ${proto} WebSocket/TCP: ${(ws / tcp).toFixed(2)}`);
    }
  }
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'child') {
    await runChild(argv[1] ?? tmpdir());
    return;
  }
  const num = (flag: string, dflt: number): number => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const o: WebRunOptions = { durationS: num('--duration', 5), warmupS: num('--warmup', 1), bodySize: num('--body', 100) };
  const only = argv.indexOf('--only');
  if (only >= 0) o.only = (argv[only + 1] ?? '').split(',');
  const json = argv.includes('--json');
  const log = (s: string): void => void (json ? process.stderr : process.stdout).write(`${s}\n`);
  const warren = await startWarrenWebChild();
  try {
    const targets: WebTarget[] = [warren];
    if (argv.includes('--reference')) targets.push(REFERENCE_RABBITMQ);
    const results = await runWebBench(targets, o, log);
    if (json) process.stdout.write(`${JSON.stringify(Object.fromEntries(results), null, 2)}\n`);
    else log(`\n${formatWebResults(results)}`);
  } finally {
    await warren.stop();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  void main(process.argv.slice(2));
}
