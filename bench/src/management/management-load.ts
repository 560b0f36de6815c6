/**
 * Scenario group 'g': what the management API and the Prometheus exporter cost the broker. Declares `queues` idle
 * queues, runs a-noack alone, then once per poller variant while a poller fetches /api/overview, a queue list and
 * /metrics once a second, as a dashboard plus a scraper would: every queue with gzip (a browser, Prometheus), every
 * queue without (curl, rabbitmqadmin), and a page of 500 (the management UI). Reports each throughput drop (target
 * < 5%), then the latency and wire size of each endpoint on the idle broker, with and without gzip.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { StartedBroker } from '../brokers.js';
import { runScenario, SCENARIOS, type RunOptions, type ScenarioResult } from '../runner.js';

const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

/** Latency and size of one endpoint. */
export interface EndpointFigure {
  path: string;
  /** The Accept-Encoding the request sent ('identity' = none). */
  encoding: 'gzip' | 'identity';
  medianMs: number;
  maxMs: number;
  /** Bytes on the wire (compressed when gzip). */
  bytes: number;
  /** CPU time of the broker process per request (all its threads: zlib runs in the threadpool), or NaN. */
  cpuMs: number;
}

/** What one poller variant fetches every second, and what it cost a-noack. */
export interface PollerFigure {
  name: string;
  /** The window without a poller just before. */
  alone: ScenarioResult;
  polled: ScenarioResult;
  /** Throughput lost to the poller, percent of a-noack's delivered/s in the window just before. */
  dropPercent: number;
  polls: number;
  /** Broker process CPU (all threads) during each window, percent of one core (warm-up included). */
  aloneCpuPercent: number;
  polledCpuPercent: number;
}

/** The figures of the management scenario. */
export interface ManagementBenchResult {
  queues: number;
  /** The median window without a poller. */
  alone: ScenarioResult;
  pollers: PollerFigure[];
  endpoints: EndpointFigure[];
}

async function declareQueues(base: string, n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const res = await fetch(`${base}/api/queues/%2F/mgmt-bench-${i}`, {
        method: 'PUT',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: '{"durable":false}',
      });
      if (res.status >= 300) throw new Error(`declare mgmt-bench-${i}: HTTP ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

/**
 * GET `url` with an explicit Accept-Encoding (node:http, which neither adds one nor decodes), reading the body
 * to the end; resolves with the bytes received.
 */
function get(url: string, headers: Record<string, string>, encoding: 'gzip' | 'identity'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { ...headers, 'accept-encoding': encoding }, agent }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`${url}: HTTP ${res.statusCode ?? '?'}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
const agent = new http.Agent({ keepAlive: true });

/** User plus system CPU time of a process, ms (Linux /proc; NaN elsewhere). */
function cpuTimeMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th, in clock ticks (1/100 s).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

async function timeGet(
  url: string,
  headers: Record<string, string>,
  encoding: 'gzip' | 'identity',
  times: number,
  pid: number | undefined,
): Promise<{ medianMs: number; maxMs: number; bytes: number; cpuMs: number }> {
  const ms: number[] = [];
  let bytes = 0;
  const cpu0 = cpuTimeMs(pid);
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    bytes = await get(url, headers, encoding);
    ms.push(performance.now() - t);
  }
  const cpuMs = (cpuTimeMs(pid) - cpu0) / times;
  ms.sort((a, b) => a - b);
  return { medianMs: ms[Math.floor(ms.length / 2)]!, maxMs: ms[ms.length - 1]!, bytes, cpuMs };
}

/**
 * The pollers measured: a dashboard fetching the overview and a queue list plus a Prometheus scrape, once a second.
 * Browsers and Prometheus ask for gzip; curl and rabbitmqadmin do not; the management UI pages by 500 at most.
 */
const POLLERS: { name: string; queues: string; encoding: 'gzip' | 'identity' }[] = [
  { name: 'all queues, gzip', queues: '/api/queues', encoding: 'gzip' },
  { name: 'all queues, identity', queues: '/api/queues', encoding: 'identity' },
  { name: 'page_size=500, gzip', queues: '/api/queues?page=1&page_size=500', encoding: 'gzip' },
];

/** Run the management scenario against a Warren child started with management and Prometheus listeners. */
export async function runManagementBench(broker: StartedBroker, opts: RunOptions, queues: number, log: (s: string) => void): Promise<ManagementBenchResult> {
  if (broker.managementPort === undefined || broker.prometheusPort === undefined) throw new Error(`${broker.name} has no management/Prometheus port`);
  const api = `http://${broker.host}:${broker.managementPort}`;
  const prom = `http://${broker.host}:${broker.prometheusPort}`;
  const spec = SCENARIOS.find((s) => s.id === 'a-noack')!;
  log(`  declaring ${queues} queues …`);
  await declareQueues(api, queues);
  // Each poller window follows its own window without a poller, so the machine's drift (other jobs on the same
  // cores) weighs on both sides of each drop alike.
  const alones: ScenarioResult[] = [];
  const pollers: PollerFigure[] = [];
  for (const p of POLLERS) {
    log('  g: a-noack without a poller …');
    const window = async (): Promise<[ScenarioResult, number]> => {
      const cpu0 = cpuTimeMs(broker.pid);
      const t0 = performance.now();
      const r = await runScenario(spec, opts);
      return [r, ((cpuTimeMs(broker.pid) - cpu0) / (performance.now() - t0)) * 100];
    };
    const [alone, aloneCpuPercent] = await window();
    alones.push(alone);
    log(`  g: a-noack with a poller (overview, ${p.queues}, /metrics every second; ${p.encoding}) …`);
    let polling = true;
    let polls = 0;
    const poller = (async () => {
      while (polling) {
        const started = Date.now();
        await Promise.all([
          get(`${api}/api/overview`, AUTH, p.encoding),
          get(`${api}${p.queues}`, AUTH, p.encoding),
          get(`${prom}/metrics`, {}, p.encoding),
        ]);
        polls++;
        const wait = 1000 - (Date.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
    const [polled, polledCpuPercent] = await window();
    polling = false;
    await poller;
    const dropPercent = alone.deliveredPerS > 0 ? ((alone.deliveredPerS - polled.deliveredPerS) / alone.deliveredPerS) * 100 : Number.NaN;
    pollers.push({ name: p.name, alone, polled, dropPercent, polls, aloneCpuPercent, polledCpuPercent });
  }
  const alone = [...alones].sort((a, b) => a.deliveredPerS - b.deliveredPerS)[Math.floor(alones.length / 2)]!;
  const endpoints: EndpointFigure[] = [];
  for (const [path, url, headers] of [
    ['/api/overview', `${api}/api/overview`, AUTH],
    ['/api/queues?page_size=500', `${api}/api/queues?page=1&page_size=500`, AUTH],
    ['/api/queues (all)', `${api}/api/queues`, AUTH],
    ['/metrics', `${prom}/metrics`, {}],
    ['/metrics/per-object', `${prom}/metrics/per-object`, {}],
  ] as const) {
    for (const encoding of ['identity', 'gzip'] as const) endpoints.push({ path, encoding, ...(await timeGet(url, headers, encoding, 20, broker.pid)) });
  }
  return { queues, alone, pollers, endpoints };
}

/** The figures as a table. */
export function formatManagementResult(r: ManagementBenchResult): string {
  const rate = (x: ScenarioResult): string => `${Math.round(x.deliveredPerS).toLocaleString('en-US')} msg/s${x.error !== undefined ? ` (FAILED: ${x.error})` : ''}`;
  const lines = [`management scenario, ${r.queues} queues (each poller window follows a window without one)`];
  for (const p of r.pollers) {
    lines.push(
      `  ${p.name.padEnd(22)} alone ${rate(p.alone)} (p99 ${p.alone.p99Ms.toFixed(1)} ms), polled ${rate(p.polled)} (p99 ${p.polled.p99Ms.toFixed(1)} ms), ` +
        `${p.polls} polls, drop ${p.dropPercent.toFixed(1)}% (target < 5%); broker CPU ${p.aloneCpuPercent.toFixed(0)}% → ${p.polledCpuPercent.toFixed(0)}% of a core`,
    );
  }
  lines.push('  endpoint (idle broker)         encoding  median ms   max ms  wire bytes  broker CPU ms/request');
  for (const e of r.endpoints) {
    lines.push(
      `  ${e.path.padEnd(29)}  ${e.encoding.padEnd(8)}  ${e.medianMs.toFixed(1).padStart(9)}  ${e.maxMs.toFixed(1).padStart(7)}  ${String(e.bytes).padStart(10)}  ${e.cpuMs.toFixed(1).padStart(8)}`,
    );
  }
  return lines.join('\n');
}
