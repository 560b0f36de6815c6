/**
 * Scenario definitions and the runner that sets up a broker's topology, starts publisher and consumer workers (forked
 * processes, or in-process for tests), measures a fixed window and tears everything down.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LoadConnection, type ConnectOptions } from './client.js';
import { Histogram } from './histogram.js';
import { M } from './wire.js';
import {
  Worker,
  nowUs,
  type ConsumerInit,
  type ParentMessage,
  type PublisherInit,
  type WorkerMessage,
  type WorkerResult,
} from './worker.js';

/** Scenario ids accepted by `--scenarios`. */
/** 's' = the STOMP scenarios (bench/src/stomp), run by main.ts against each broker's STOMP port. */
/** 'm' = the MQTT scenarios (bench/src/mqtt), run by main.ts against each broker's MQTT port. */
/** 'w' = STOMP and MQTT over WebSocket (bench/src/web), run by main.ts against its own Warren and RabbitMQ's web plugins. */
/** 'g' = management API and Prometheus polling under load (bench/src/management), run by main.ts. */
/** 'f' = persistent fan-out to 10 durable queues with confirms (bytes written per message from /proc/<pid>/io). */
export const SCENARIO_IDS = ['a', 'b', 'c', 'd', 'p', 's', 'm', 'w', 'g', 'f'] as const;
/** A scenario group id. */
export type ScenarioGroup = (typeof SCENARIO_IDS)[number];

/** One measured variant of a scenario. */
export interface ScenarioSpec {
  /** Short id, e.g. 'a-noack'. */
  id: string;
  group: ScenarioGroup;
  title: string;
  /** Which figure is the headline for this scenario. */
  headline: 'delivered' | 'confirmed' | 'latency';
}

/** Every variant, in run order. */
export const SCENARIOS: readonly ScenarioSpec[] = [
  { id: 'a-noack', group: 'a', title: '1 pub → 1 queue → 1 consumer, no-ack', headline: 'delivered' },
  { id: 'a-ack', group: 'a', title: '1 pub → 1 queue → 1 consumer, manual ack, prefetch 1000', headline: 'delivered' },
  { id: 'b-fanout', group: 'b', title: 'fanout → 10 queues → 10 consumers (deliveries/s)', headline: 'delivered' },
  { id: 'c-topic', group: 'c', title: 'topic, 10,000 bindings → 10 queues, random keys (routed msgs/s)', headline: 'confirmed' },
  { id: 'd-latency', group: 'd', title: 'latency at a fixed 1,000 msgs/s, manual ack', headline: 'latency' },
  { id: 'p-persistent', group: 'p', title: 'persistent → durable queue, confirms after fsync, manual ack', headline: 'confirmed' },
  { id: 'p-persistent-10', group: 'p', title: '10 pubs, persistent → durable queue, manual ack', headline: 'confirmed' },
  { id: 'f-fanout-10', group: 'f', title: 'persistent → fanout → 10 durable queues, confirms, manual ack', headline: 'confirmed' },
];

/** Run-wide settings. */
export interface RunOptions {
  target: ConnectOptions;
  durationS: number;
  warmupS: number;
  bodySize: number;
  /** Unconfirmed messages a publisher may have in flight. */
  confirmWindow: number;
  /** 'fork' (default) runs each worker in its own process; 'inline' runs them in this process (tests). */
  spawn: 'fork' | 'inline';
  /** Path of the built bench entry (dist/main.js) to fork; defaults to ./main.js next to this file. */
  script?: string;
  /** The broker's process: its /proc/<pid>/io write_bytes over the window gives the bytes written per message. */
  brokerPid?: number;
  /** Tell the null server's users apart from a real broker: no topology setup needed, but harmless. */
  log?: (line: string) => void;
}

/** The figures of one scenario run. */
export interface ScenarioResult {
  id: string;
  title: string;
  durationS: number;
  /** Publisher-confirmed messages per second (for the topic scenario: routed msgs/s). */
  confirmedPerS: number;
  /** Deliveries received by all consumers per second. */
  deliveredPerS: number;
  /** Latency percentiles in milliseconds (NaN when nothing was delivered). */
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  nacked: number;
  /** Whole-run totals (sanity). */
  totalPublished: number;
  /** Publishes the broker settled (confirmed or nacked) before the publishers stopped (AMQP scenarios). */
  totalConfirmed?: number;
  totalDelivered: number;
  /**
   * Bytes the broker process wrote to storage during the window (/proc/<pid>/io write_bytes, page-granular: a page
   * dirtied again after an fsync counts again) per publisher-confirmed message; undefined without a broker pid.
   */
  writeBytesPerMsg?: number;
  /** CPU time of the broker process during the window per delivered message, µs (WebSocket scenarios, with a pid). */
  brokerCpuUsPerMsg?: number;
  error?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Worker handles

interface WorkerHandle {
  send(m: ParentMessage): void;
  /** The next non-error message; rejects on a worker error or exit. */
  next(): Promise<WorkerMessage>;
  /** Rejects when the worker reports an error or exits; never resolves. */
  failure: Promise<never>;
  kill(): void;
}

function makeQueue(): {
  push(m: WorkerMessage | Error): void;
  next(): Promise<WorkerMessage>;
  failure: Promise<never>;
} {
  const items: Array<WorkerMessage | Error> = [];
  const waiters: Array<{ resolve(m: WorkerMessage): void; reject(e: Error): void }> = [];
  let failed: Error | null = null;
  let fail: (e: Error) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => (fail = reject));
  failure.catch(() => undefined); // observed through Promise.race; never an unhandled rejection
  return {
    failure,
    push(m) {
      if (m instanceof Error || m.type === 'error') {
        const err = m instanceof Error ? m : new Error(m.message);
        failed ??= err;
        fail(err);
        for (const w of waiters.splice(0)) w.reject(err);
        return;
      }
      const w = waiters.shift();
      if (w) w.resolve(m);
      else items.push(m);
    },
    next() {
      const m = items.shift();
      if (m && !(m instanceof Error)) return Promise.resolve(m);
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
  };
}

function forkWorker(script: string): WorkerHandle {
  const q = makeQueue();
  const child: ChildProcess = fork(script, ['worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('message', (m: WorkerMessage) => q.push(m));
  child.on('exit', (code) => q.push(new Error(`worker exited with code ${code ?? 'null'}`)));
  child.on('error', (err) => q.push(err));
  return {
    send: (m) => {
      if (child.connected) child.send(m);
    },
    next: () => q.next(),
    failure: q.failure,
    kill: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}

function inlineWorker(): WorkerHandle {
  const q = makeQueue();
  const w = new Worker((m) => q.push(m));
  return { send: (m) => void w.handle(m), next: () => q.next(), failure: q.failure, kill: () => undefined };
}

// ---------------------------------------------------------------------------------------------------------------
// Topology

/** Deterministic PRNG (mulberry32) so both brokers of a comparison get the same bindings and keys. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REGIONS = ['eu', 'us', 'ap', 'sa', 'af'];
const LEVELS = ['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg'];

/** A random routing key `tenant.region.service.level` (1000 × 5 × 20 × 8 possible keys). */
function topicKey(r: () => number): string[] {
  const pick = (a: readonly string[]): string => a[Math.floor(r() * a.length)] as string;
  return [`t${Math.floor(r() * 1000)}`, pick(REGIONS), `s${Math.floor(r() * 20)}`, pick(LEVELS)];
}

/**
 * The topic workload: `bindings` distinct binding keys spread over `queues` queues, and `keys` random routing keys.
 * Each binding key starts from a random routing key; the tenant word becomes `*` with p = 0.005, each later word `*`
 * with p = 0.3, and from the second word on the rest of the key is cut to `#` with p = 0.15 — about 38% of the
 * bindings hold a `#` and 50% a `*`. Against the random keys, a message matches ~4.6 bindings and reaches ~3.8 of
 * 10 queues; ~1.5% match nothing (still routed through the exchange, then dropped). Seeded, so every broker of a
 * comparison gets the same workload.
 */
export function topicWorkload(queues: number, bindings = 10_000, keys = 1000): {
  bindings: Array<[queueIndex: number, key: string]>;
  routingKeys: string[];
} {
  const r = rng(0x5eed);
  const seen = new Set<string>();
  const out: Array<[number, string]> = [];
  while (out.length < bindings) {
    const k = topicKey(r);
    const parts: string[] = [];
    for (let i = 0; i < k.length; i++) {
      if (i > 0 && r() < 0.15) {
        parts.push('#');
        break;
      }
      parts.push(r() < (i === 0 ? 0.005 : 0.3) ? '*' : (k[i] as string));
    }
    if (parts.every((p) => p === '*' || p === '#')) continue;
    const key = parts.join('.');
    const qi = Math.floor(r() * queues);
    const id = `${qi}|${key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push([qi, key]);
  }
  const routingKeys: string[] = [];
  for (let i = 0; i < keys; i++) routingKeys.push(topicKey(r).join('.'));
  return { bindings: out, routingKeys };
}

interface Plan {
  publishers: Array<Omit<PublisherInit, 'conn' | 'bodySize' | 'confirmWindow'>>;
  consumers: Array<Omit<ConsumerInit, 'conn'>>;
  queues: string[];
  exchange: string | null;
}

let runCounter = 0;

async function setupTopology(setup: LoadConnection, spec: ScenarioSpec): Promise<Plan> {
  const tag = `${process.pid}.${++runCounter}`;
  const qname = (i: number): string => `bench.${spec.id}.${tag}.${i}`;
  switch (spec.group) {
    case 'a':
    case 'd': {
      const q = await setup.declareQueue(1, qname(0));
      const noAck = spec.id === 'a-noack';
      return {
        publishers: [{ role: 'publisher', exchange: '', routingKeys: [q], rate: spec.group === 'd' ? 1000 : null }],
        consumers: [{ role: 'consumer', queues: [q], noAck, prefetch: 1000 }],
        queues: [q],
        exchange: null,
      };
    }
    case 'b': {
      const ex = `bench.fanout.${tag}`;
      await setup.declareExchange(1, ex, 'fanout');
      const queues: string[] = [];
      for (let i = 0; i < 10; i++) {
        const q = await setup.declareQueue(1, qname(i));
        await setup.bind(1, q, ex, '');
        queues.push(q);
      }
      return {
        publishers: [{ role: 'publisher', exchange: ex, routingKeys: ['x'], rate: null }],
        // Ten consumers (one connection each) in two processes, to leave the 2-core host some room for the broker.
        consumers: [
          { role: 'consumer', queues: queues.slice(0, 5), noAck: true, prefetch: 0 },
          { role: 'consumer', queues: queues.slice(5), noAck: true, prefetch: 0 },
        ],
        queues,
        exchange: ex,
      };
    }
    case 'c': {
      const ex = `bench.topic.${tag}`;
      await setup.declareExchange(1, ex, 'topic');
      const queues: string[] = [];
      for (let i = 0; i < 10; i++) queues.push(await setup.declareQueue(1, qname(i)));
      const w = topicWorkload(queues.length);
      const frames = w.bindings.map(([qi, key]) => LoadConnection.bindFrame(1, queues[qi] as string, ex, key));
      await setup.pipeline(1, frames, M.queueBindOk);
      return {
        publishers: [{ role: 'publisher', exchange: ex, routingKeys: w.routingKeys, rate: null }],
        consumers: [
          { role: 'consumer', queues: queues.slice(0, 5), noAck: true, prefetch: 0 },
          { role: 'consumer', queues: queues.slice(5), noAck: true, prefetch: 0 },
        ],
        queues,
        exchange: ex,
      };
    }
    case 'p': {
      // Issue "Durable by default": delivery-mode 2 into a durable queue; confirms wait for the group commit.
      const q = await setup.declareQueue(1, qname(0), {}, true);
      const n = spec.id === 'p-persistent-10' ? 10 : 1;
      const publishers = Array.from({ length: n }, () => ({
        role: 'publisher' as const,
        exchange: '',
        routingKeys: [q],
        rate: null,
        persistent: true,
      }));
      return { publishers, consumers: [{ role: 'consumer', queues: [q], noAck: false, prefetch: 1000 }], queues: [q], exchange: null };
    }
    case 'f': {
      // One persistent message to ten durable queues: a store writing the body once per queue writes it ten times.
      const ex = `bench.pfanout.${tag}`;
      await setup.declareExchange(1, ex, 'fanout');
      const queues: string[] = [];
      for (let i = 0; i < 10; i++) {
        const q = await setup.declareQueue(1, qname(i), {}, true);
        await setup.bind(1, q, ex, '');
        queues.push(q);
      }
      return {
        publishers: [{ role: 'publisher', exchange: ex, routingKeys: ['x'], rate: null, persistent: true }],
        consumers: [
          { role: 'consumer', queues: queues.slice(0, 5), noAck: false, prefetch: 1000 },
          { role: 'consumer', queues: queues.slice(5), noAck: false, prefetch: 1000 },
        ],
        queues,
        exchange: ex,
      };
    }
    case 's':
      // The STOMP scenarios have their own load tool (bench/src/stomp); there are no AMQP specs in group 's'.
      throw new Error('STOMP scenarios run through bench/src/stomp/stomp-load.ts');
    case 'm':
      // Likewise the MQTT scenarios (bench/src/mqtt).
      throw new Error('MQTT scenarios run through bench/src/mqtt/mqtt-load.ts');
    case 'w':
      throw new Error('WebSocket scenarios run through bench/src/web/web-load.ts');
    case 'g':
      throw new Error('the management scenario runs through bench/src/management/management-load.ts');
    default: {
      const never: never = spec.group;
      throw new Error(`unknown scenario group ${String(never)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Running

/** Run one scenario against `opts.target`; never throws (a failure is reported in `error`). */
export async function runScenario(spec: ScenarioSpec, opts: RunOptions): Promise<ScenarioResult> {
  const base: ScenarioResult = {
    id: spec.id,
    title: spec.title,
    durationS: opts.durationS,
    confirmedPerS: Number.NaN,
    deliveredPerS: Number.NaN,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    p999Ms: Number.NaN,
    nacked: 0,
    totalPublished: 0,
    totalConfirmed: 0,
    totalDelivered: 0,
  };
  const handles: WorkerHandle[] = [];
  let writeBytesFrom: number | undefined;
  let writeBytesInWindow: number | undefined;
  let setup: LoadConnection | null = null;
  let plan: Plan | null = null;
  try {
    setup = await LoadConnection.open(opts.target);
    await setup.openChannel(1);
    plan = await setupTopology(setup, spec);
    const script = opts.script ?? fileURLToPath(new URL('./main.js', import.meta.url));
    const spawn = (): WorkerHandle => {
      const h = opts.spawn === 'fork' ? forkWorker(script) : inlineWorker();
      handles.push(h);
      return h;
    };
    const consumers = plan.consumers.map((c) => ({ h: spawn(), init: { ...c, conn: opts.target } as ConsumerInit }));
    for (const c of consumers) c.h.send({ type: 'init', init: c.init });
    for (const c of consumers) await expectType(c.h, 'ready');
    const publishers = plan.publishers.map((p) => ({
      h: spawn(),
      init: { ...p, conn: opts.target, bodySize: opts.bodySize, confirmWindow: opts.confirmWindow } as PublisherInit,
    }));
    for (const p of publishers) p.h.send({ type: 'init', init: p.init });
    for (const p of publishers) await expectType(p.h, 'ready');

    const fromUs = nowUs() + opts.warmupS * 1e6;
    const untilUs = fromUs + opts.durationS * 1e6;
    for (const h of handles) h.send({ type: 'start', fromUs, untilUs });
    // Bytes written by the broker over the measured window (read when it opens and when it closes).
    const pid = opts.brokerPid;
    let ioTimer: NodeJS.Timeout | undefined;
    if (pid !== undefined) {
      ioTimer = setTimeout(() => (writeBytesFrom = writeBytes(pid)), Math.max(0, (fromUs - nowUs()) / 1000));
    }
    // Wait out the window, failing early if any worker reports an error.
    const ms = Math.max(0, (untilUs - nowUs()) / 1000) + 20;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => (timer = setTimeout(r, ms))), ...handles.map((h) => h.failure)]).finally(
      () => {
        clearTimeout(timer);
        clearTimeout(ioTimer);
      },
    );
    if (pid !== undefined && writeBytesFrom !== undefined) {
      const to = writeBytes(pid);
      if (to !== undefined) writeBytesInWindow = to - writeBytesFrom;
    }
  } catch (err) {
    for (const h of handles) h.kill();
    await teardown(setup, plan);
    return { ...base, error: (err as Error).message };
  }
  // Stop publishers first (they wait for their outstanding confirms), then consumers.
  try {
    const results: WorkerResult[] = [];
    const pubs = handles.filter((_, i) => i >= (plan?.consumers.length ?? 0));
    const cons = handles.filter((_, i) => i < (plan?.consumers.length ?? 0));
    for (const group of [pubs, cons]) {
      for (const h of group) h.send({ type: 'stop' });
      for (const h of group) {
        const m = await h.next();
        if (m.type === 'result') results.push(m.result);
      }
    }
    const hist = new Histogram();
    let confirmed = 0;
    let delivered = 0;
    let nacked = 0;
    let totalPublished = 0;
    let totalConfirmed = 0;
    let totalDelivered = 0;
    for (const r of results) {
      confirmed += r.confirmed;
      delivered += r.delivered;
      nacked += r.nacked;
      totalPublished += r.totalPublished;
      totalConfirmed += r.totalConfirmed;
      totalDelivered += r.totalDelivered;
      hist.merge(Histogram.fromSparse(r.latency));
    }
    return {
      ...base,
      confirmedPerS: confirmed / opts.durationS,
      deliveredPerS: delivered / opts.durationS,
      p50Ms: hist.quantile(0.5) / 1000,
      p99Ms: hist.quantile(0.99) / 1000,
      p999Ms: hist.quantile(0.999) / 1000,
      nacked,
      totalPublished,
      totalConfirmed,
      totalDelivered,
      ...(writeBytesInWindow !== undefined && confirmed > 0 ? { writeBytesPerMsg: writeBytesInWindow / confirmed } : {}),
    };
  } catch (err) {
    return { ...base, error: (err as Error).message };
  } finally {
    for (const h of handles) h.kill();
    await teardown(setup, plan);
  }
}

/** write_bytes of a process (bytes it caused to be sent to storage), or undefined when unreadable. */
function writeBytes(pid: number): number | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const m = /^write_bytes: (\d+)$/m.exec(io);
    const c = /^cancelled_write_bytes: (\d+)$/m.exec(io);
    return m === null ? undefined : Number(m[1]) - (c === null ? 0 : Number(c[1]));
  } catch {
    return undefined;
  }
}

async function expectType(h: WorkerHandle, type: WorkerMessage['type']): Promise<void> {
  const m = await h.next();
  if (m.type !== type) throw new Error(`expected ${type} from worker, got ${m.type}`);
}

async function teardown(setup: LoadConnection | null, plan: Plan | null): Promise<void> {
  if (!setup) return;
  try {
    if (plan) {
      for (const q of plan.queues) await setup.deleteQueue(1, q);
      if (plan.exchange !== null) await setup.deleteExchange(1, plan.exchange);
    }
  } catch {
    // Best effort: the broker may be gone.
  }
  await setup.close().catch(() => undefined);
}

/** Select the variants of the given groups, in run order. */
export function selectScenarios(groups: readonly ScenarioGroup[]): ScenarioSpec[] {
  return SCENARIOS.filter((s) => groups.includes(s.group));
}
