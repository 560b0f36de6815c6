/**
 * Scenario group 'g': what the management API and the Prometheus exporter cost the broker. Declares `queues` idle
 * queues, runs a-noack twice — alone, then while a poller fetches /api/overview, /api/queues (every queue) and
 * /metrics once a second, as a dashboard plus a scraper would — and reports the throughput drop (target < 5%); then
 * times `GET /api/queues?page_size=500` and `/metrics` (and `/metrics/per-object`) and reports their sizes.
 */
import type { StartedBroker } from '../brokers.js';
import { runScenario, SCENARIOS, type RunOptions, type ScenarioResult } from '../runner.js';

const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

/** Latency and size of one endpoint. */
export interface EndpointFigure {
  path: string;
  medianMs: number;
  maxMs: number;
  bytes: number;
}

/** The figures of the management scenario. */
export interface ManagementBenchResult {
  queues: number;
  alone: ScenarioResult;
  polled: ScenarioResult;
  /** Throughput lost to the poller, percent of a-noack's delivered/s alone. */
  dropPercent: number;
  polls: number;
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

async function timeGet(url: string, headers: Record<string, string>, times: number): Promise<{ medianMs: number; maxMs: number; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers });
    const body = await res.arrayBuffer();
    ms.push(performance.now() - t);
    bytes = body.byteLength;
  }
  ms.sort((a, b) => a - b);
  return { medianMs: ms[Math.floor(ms.length / 2)]!, maxMs: ms[ms.length - 1]!, bytes };
}

/** Run the management scenario against a Warren child started with management and Prometheus listeners. */
export async function runManagementBench(broker: StartedBroker, opts: RunOptions, queues: number, log: (s: string) => void): Promise<ManagementBenchResult> {
  if (broker.managementPort === undefined || broker.prometheusPort === undefined) throw new Error(`${broker.name} has no management/Prometheus port`);
  const api = `http://${broker.host}:${broker.managementPort}`;
  const prom = `http://${broker.host}:${broker.prometheusPort}`;
  const spec = SCENARIOS.find((s) => s.id === 'a-noack')!;
  log(`  declaring ${queues} queues …`);
  await declareQueues(api, queues);
  log('  g: a-noack without a poller …');
  const alone = await runScenario(spec, opts);
  log('  g: a-noack with a poller (overview, all queues, /metrics every second) …');
  let polling = true;
  let polls = 0;
  const poller = (async () => {
    while (polling) {
      const started = Date.now();
      await Promise.all([
        fetch(`${api}/api/overview`, { headers: AUTH }).then((r) => r.arrayBuffer()),
        fetch(`${api}/api/queues`, { headers: AUTH }).then((r) => r.arrayBuffer()),
        fetch(`${prom}/metrics`).then((r) => r.arrayBuffer()),
      ]);
      polls++;
      const wait = 1000 - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  const polled = await runScenario(spec, opts);
  polling = false;
  await poller;
  const endpoints: EndpointFigure[] = [];
  for (const [path, url, headers] of [
    ['/api/queues?page_size=500', `${api}/api/queues?page=1&page_size=500`, AUTH],
    ['/api/queues (all)', `${api}/api/queues`, AUTH],
    ['/metrics', `${prom}/metrics`, {}],
    ['/metrics/per-object', `${prom}/metrics/per-object`, {}],
  ] as const) {
    endpoints.push({ path, ...(await timeGet(url, headers, 5)) });
  }
  const dropPercent = alone.deliveredPerS > 0 ? ((alone.deliveredPerS - polled.deliveredPerS) / alone.deliveredPerS) * 100 : Number.NaN;
  return { queues, alone, polled, dropPercent, polls, endpoints };
}

/** The figures as a table. */
export function formatManagementResult(r: ManagementBenchResult): string {
  const lines = [
    `management scenario, ${r.queues} queues`,
    `  a-noack alone:       ${Math.round(r.alone.deliveredPerS).toLocaleString('en-US')} msg/s${r.alone.error !== undefined ? ` (FAILED: ${r.alone.error})` : ''}`,
    `  a-noack with poller: ${Math.round(r.polled.deliveredPerS).toLocaleString('en-US')} msg/s (${r.polls} polls)${r.polled.error !== undefined ? ` (FAILED: ${r.polled.error})` : ''}`,
    `  drop: ${r.dropPercent.toFixed(1)}% (target < 5%)`,
    '  endpoint                      median ms   max ms      bytes',
  ];
  for (const e of r.endpoints) {
    lines.push(`  ${e.path.padEnd(28)}  ${e.medianMs.toFixed(1).padStart(9)}  ${e.maxMs.toFixed(1).padStart(7)}  ${String(e.bytes).padStart(9)}`);
  }
  return lines.join('\n');
}
