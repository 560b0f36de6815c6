/**
 * WebSocket variants of the STOMP and MQTT 1→1 scenarios: one publisher → one subscriber, 100-byte bodies, over
 * WebSocket (web-stomp, web-mqtt) and, with the same load tool, over TCP for the WebSocket/TCP ratio.
 *
 * Fairness: the publisher and the subscriber each run in their own process (web-peer.ts), on a bare RFC 6455 client
 * (ws-wire.ts) that sends pre-encoded, pre-masked frames — one protocol frame per WebSocket message, as browser
 * clients send them, but a batch of messages per socket write — so the broker, not the tool, is the bottleneck.
 * `--ceiling` runs the same scenarios against a do-nothing server (null-ws-server.ts) to show the tool's own limit.
 * The publisher keeps at most `window` messages in flight (the subscriber reports its count through this process),
 * so queues stay short and the figure is sustained end-to-end throughput. Latency comes from a wall-clock stamp the
 * publisher writes at the start of each body.
 *
 * Standalone: `node bench/dist/web/web-load.js [--duration S] [--warmup S] [--only ids] [--reference] [--ceiling]
 * [--no-warren] [--batch N] [--rate MSGS_PER_S] [--cpu-prof DIR] [--json]` starts Warren in a child process (every listener on a free port) and, with
 * --reference, also measures the reference RabbitMQ's web_stomp/web_mqtt (15684/15685) and STOMP/MQTT (61623/1893).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioResult } from '../runner.js';
import { startNullWebServer } from './null-ws-server.js';
import { runPeer, type PeerCommand, type PeerConfig, type PeerResult } from './web-peer.js';
import type { Endpoint } from './ws-wire.js';

/** One scenario. */
export interface WebScenarioSpec {
  id: string;
  title: string;
  protocol: 'stomp' | 'mqtt';
  transport: 'ws' | 'tcp';
  /** MQTT QoS of the publisher and the subscription. Default 0. */
  qos?: 0 | 1;
}

/** The scenarios, in run order: each WebSocket one followed by the same over TCP. */
export const WEB_SCENARIOS: readonly WebScenarioSpec[] = [
  { id: 'w-stomp', title: 'STOMP over WebSocket, 1 SEND → /topic → 1 SUBSCRIBE, ack auto', protocol: 'stomp', transport: 'ws' },
  { id: 'w-stomp-tcp', title: 'the same over TCP (same load tool)', protocol: 'stomp', transport: 'tcp' },
  { id: 'w-mqtt', title: 'MQTT over WebSocket, QoS 0, 1 publisher → 1 subscriber', protocol: 'mqtt', transport: 'ws' },
  { id: 'w-mqtt-tcp', title: 'the same over TCP (same load tool)', protocol: 'mqtt', transport: 'tcp' },
  { id: 'w-mqtt-q1', title: 'MQTT over WebSocket, QoS 1 (PUBACK both ways), 1 publisher → 1 subscriber', protocol: 'mqtt', transport: 'ws', qos: 1 },
  { id: 'w-mqtt-q1-tcp', title: 'the same over TCP (same load tool)', protocol: 'mqtt', transport: 'tcp', qos: 1 },
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
  /** The broker's process (on this machine): its CPU time per message is reported. */
  pid?: number;
}

/** User + system CPU time of process `pid` in µs (/proc/<pid>/stat), or undefined when it cannot be read. */
function cpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces), from its closing parenthesis: state is field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    // USER_HZ is 100 on Linux.
    return Number.isFinite(ticks) ? ticks * 10_000 : undefined;
  } catch {
    return undefined;
  }
}

/** Run settings. */
export interface WebRunOptions {
  durationS: number;
  warmupS: number;
  bodySize: number;
  /** Messages in flight between publisher and subscriber. Default 2000. */
  window?: number;
  /** Messages per publisher socket write (each still its own WebSocket message). Default 64. */
  batch?: number;
  /** Run only these scenario ids. */
  only?: readonly string[];
  /** Publisher rate cap, msgs/s (0 or absent: as fast as the window allows). */
  rate?: number;
}

/** The do-nothing servers (one per scenario) as a target: the load tool's own ceiling. */
export async function startNullTarget(bodySize: number): Promise<WebTarget & { stop(): Promise<void> }> {
  const [stomp, stompWs, mqtt, mqttWs] = await Promise.all([
    startNullWebServer('stomp', false, bodySize),
    startNullWebServer('stomp', true, bodySize),
    startNullWebServer('mqtt', false, bodySize),
    startNullWebServer('mqtt', true, bodySize),
  ]);
  return {
    name: 'do-nothing server (load tool ceiling)',
    host: '127.0.0.1',
    stompPort: stomp.port,
    mqttPort: mqtt.port,
    webStompUrl: `ws://127.0.0.1:${stompWs.port}/ws`,
    webMqttUrl: `ws://127.0.0.1:${mqttWs.port}/ws`,
    stop: async () => {
      await Promise.all([stomp.close(), stompWs.close(), mqtt.close(), mqttWs.close()]);
    },
  };
}

function endpointFor(spec: WebScenarioSpec, target: WebTarget): Endpoint | undefined {
  if (spec.transport === 'tcp') {
    const port = spec.protocol === 'stomp' ? target.stompPort : target.mqttPort;
    return port === undefined ? undefined : { host: target.host, port };
  }
  const url = spec.protocol === 'stomp' ? target.webStompUrl : target.webMqttUrl;
  if (url === undefined) return undefined;
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    subprotocol: spec.protocol === 'stomp' ? 'v12.stomp' : 'mqtt',
  };
}

type PeerMessage = { ready: true } | { delivered: number } | { result: PeerResult } | { error: string };

/** A running {@link PeerConfig}: a child process, or (from TypeScript sources, in tests) a call in this process. */
interface Peer {
  send(m: PeerCommand): void;
  stop(): void;
  /** The next message of this kind; rejects on an error report or exit. */
  next<K extends 'ready' | 'result'>(kind: K): Promise<Extract<PeerMessage, Record<K, unknown>>>;
}

/** Compiled (bench/dist): peers get their own processes. From sources (vitest) they cannot be forked. */
const CAN_FORK = import.meta.url.endsWith('.js');

function startPeer(cfg: PeerConfig, onDelivered?: (n: number) => void): Peer {
  const waiting = new Map<string, { resolve(m: PeerMessage): void; reject(e: Error): void }>();
  let failure: Error | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    for (const w of waiting.values()) w.reject(failure);
    waiting.clear();
  };
  const onMessage = (m: PeerMessage): void => {
    if ('delivered' in m) onDelivered?.(m.delivered);
    else if ('error' in m) fail(new Error(`${cfg.role}: ${m.error}`));
    else {
      const kind = 'ready' in m ? 'ready' : 'result';
      waiting.get(kind)?.resolve(m);
      waiting.delete(kind);
    }
  };
  const next: Peer['next'] = (kind) =>
    new Promise((resolve, reject) => {
      if (failure !== undefined) reject(failure);
      else waiting.set(kind, { resolve: resolve as (m: PeerMessage) => void, reject });
    });
  if (!CAN_FORK) {
    let listener: ((m: PeerCommand) => void) | undefined;
    // Asynchronous both ways, as IPC is, so neither side re-enters the other.
    runPeer(cfg, {
      send: (m) => queueMicrotask(() => onMessage(m as PeerMessage)),
      onCommand: (l) => (listener = l),
    });
    return { send: (m) => queueMicrotask(() => listener?.(m)), stop: () => listener?.({ cmd: 'stop' }), next };
  }
  const child: ChildProcess = fork(fileURLToPath(new URL('./web-peer.js', import.meta.url)), ['peer'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', onMessage);
  child.once('exit', (code) => fail(new Error(`${cfg.role} peer exited with ${code}`)));
  child.send(cfg);
  return { send: (m) => child.send(m), stop: () => child.kill(), next };
}

/**
 * Run one scenario against `target`: a subscriber process, then a publisher process, a window of `window` messages
 * in flight between them (the subscriber's counts go through this process to the publisher). Never throws: failures
 * come back in `error`.
 */
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
  const endpoint = endpointFor(spec, target);
  if (endpoint === undefined) {
    result.error = 'no such listener on this target';
    return result;
  }
  const peers: Peer[] = [];
  let watchdog: NodeJS.Timeout | undefined;
  try {
    // A broker that stops answering (a lost RECEIPT or SUBACK) must not hang the whole bench.
    const timeout = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => reject(new Error('timed out')), (o.warmupS + o.durationS + 15) * 1000);
    });
    await Promise.race([runInner(endpoint), timeout]);
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    clearTimeout(watchdog);
    for (const p of peers) p.stop();
  }
  return result;

  async function runInner(ep: Endpoint): Promise<void> {
    const base = {
      protocol: spec.protocol,
      endpoint: ep,
      name: `bench${Math.random().toString(16).slice(2, 10)}`,
      bodySize: o.bodySize,
      window: o.window ?? 2000,
      batch: o.batch ?? 64,
      qos: spec.qos ?? 0,
      rate: o.rate ?? 0,
    };
    let pub: Peer | undefined;
    const sub = startPeer({ ...base, role: 'sub' }, (n) => pub?.send({ cmd: 'delivered', n }));
    peers.push(sub);
    await sub.next('ready');
    pub = startPeer({ ...base, role: 'pub' });
    peers.push(pub);
    await pub.next('ready');
    pub.send({ cmd: 'go' });
    await new Promise((r) => setTimeout(r, o.warmupS * 1000));
    for (const p of peers) p.send({ cmd: 'measure' });
    const cpu0 = cpuMicros(target.pid);
    await new Promise((r) => setTimeout(r, o.durationS * 1000));
    const cpu1 = cpuMicros(target.pid);
    const results = Promise.all([sub.next('result'), pub.next('result')]);
    for (const p of peers) p.send({ cmd: 'stop' });
    const [s, p] = await results;
    if (cpu0 !== undefined && cpu1 !== undefined && s.result.count > 0) result.brokerCpuUsPerMsg = (cpu1 - cpu0) / s.result.count;
    result.deliveredPerS = s.result.count / s.result.elapsedS;
    result.confirmedPerS = p.result.count / p.result.elapsedS;
    result.p50Ms = s.result.p50Ms ?? Number.NaN;
    result.p99Ms = s.result.p99Ms ?? Number.NaN;
    result.p999Ms = s.result.p999Ms ?? Number.NaN;
    result.totalPublished = p.result.total;
    result.totalDelivered = s.result.total;
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
export async function startWarrenWebChild(
  execArgv: readonly string[] = [],
): Promise<WebTarget & { stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'warren-web-bench-'));
  const child = fork(fileURLToPath(import.meta.url), ['child', dataDir], {
    stdio: 'inherit',
    execArgv: [...process.execArgv, ...execArgv],
  });
  const ports = await new Promise<ChildPorts>((resolve, reject) => {
    child.once('message', (m: { ports?: ChildPorts; error?: string }) =>
      m.ports !== undefined ? resolve(m.ports) : reject(new Error(m.error ?? 'Warren child failed')),
    );
    child.once('exit', (code) => reject(new Error(`Warren child exited with ${code}`)));
  });
  const target: WebTarget & { stop(): Promise<void> } = {
    name: 'Warren',
    host: '127.0.0.1',
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
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
      // Free ports: another broker on this machine may hold 15672 and 15692.
      management: { port: 0, tlsPort: null },
      prometheus: { port: 0 },
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
        : `${fmt(r.deliveredPerS).padStart(10)} msgs/s (sent ${fmt(r.confirmedPerS)}/s)   p50 ${ms(r.p50Ms)} ms   p99 ${ms(r.p99Ms)} ms` +
          (r.brokerCpuUsPerMsg !== undefined ? `   broker CPU ${r.brokerCpuUsPerMsg.toFixed(2)} µs/msg` : '');
      lines.push(`  ${r.id.padEnd(12)} ${row}`);
    }
    for (const proto of ['stomp', 'mqtt', 'mqtt-q1']) {
      const ws = rs.find((r) => r.id === `w-${proto}`)?.deliveredPerS ?? Number.NaN;
      const tcp = rs.find((r) => r.id === `w-${proto}-tcp`)?.deliveredPerS ?? Number.NaN;
      if (Number.isFinite(ws) && Number.isFinite(tcp)) lines.push(`  ${proto} WebSocket/TCP: ${(ws / tcp).toFixed(2)}`);
      // CPU per message is steadier than msgs/s on a shared machine: TCP's cost over WebSocket's.
      const wsCpu = rs.find((r) => r.id === `w-${proto}`)?.brokerCpuUsPerMsg;
      const tcpCpu = rs.find((r) => r.id === `w-${proto}-tcp`)?.brokerCpuUsPerMsg;
      if (wsCpu !== undefined && tcpCpu !== undefined) lines.push(`  ${proto} CPU/msg TCP/WebSocket: ${(tcpCpu / wsCpu).toFixed(2)}`);
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
  const o: WebRunOptions = {
    durationS: num('--duration', 5),
    warmupS: num('--warmup', 1),
    bodySize: num('--body', 100),
    batch: num('--batch', 64),
    rate: num('--rate', 0),
  };
  const only = argv.indexOf('--only');
  if (only >= 0) o.only = (argv[only + 1] ?? '').split(',');
  const json = argv.includes('--json');
  const log = (s: string): void => void (json ? process.stderr : process.stdout).write(`${s}\n`);
  const started: Array<WebTarget & { stop(): Promise<void> }> = [];
  try {
    if (argv.includes('--ceiling')) started.push(await startNullTarget(o.bodySize));
    // --cpu-prof DIR: profile the broker child (written when it exits); read it with cpu-profile-top.ts.
    const prof = argv.indexOf('--cpu-prof');
    const execArgv = prof >= 0 ? ['--cpu-prof', '--cpu-prof-dir', argv[prof + 1] ?? '.'] : [];
    if (!argv.includes('--no-warren')) started.push(await startWarrenWebChild(execArgv));
    const targets: WebTarget[] = [...started];
    if (argv.includes('--reference')) targets.push(REFERENCE_RABBITMQ);
    const results = await runWebBench(targets, o, log);
    if (json) process.stdout.write(`${JSON.stringify(Object.fromEntries(results), null, 2)}\n`);
    else log(`\n${formatWebResults(results)}`);
  } finally {
    for (const t of started) await t.stop();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  void main(process.argv.slice(2));
}
