/**
 * Keeps the STOMP load tool (bench/src/stomp) from rotting: a very short run of every STOMP scenario against an
 * in-process Warren. No timing assertions: only that messages flow, latencies are recorded and nothing fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStompScenario, STOMP_SCENARIOS } from '../../bench/src/stomp/stomp-load.js';

let port = 0;
let stop: () => Promise<void> = async () => {};

beforeAll(async () => {
  const { startEmbeddedBroker: startBroker, SETTINGS } = await import('@warren/server');
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-stomp-bench-'));
  const config: Record<string, unknown> = { dataDir, log: { level: 'silent' } };
  for (const setting of SETTINGS) {
    const [section, field] = setting.path.split('.');
    if (setting.kind !== 'port' || section === undefined || field === undefined) continue;
    ((config[section] ??= {}) as Record<string, unknown>)[field] = field === 'port' ? 0 : null;
  }
  const running = await startBroker(config as Parameters<typeof startBroker>[0]);
  port = running.ports.stomp ?? 0;
  stop = async () => {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
});
afterAll(() => stop());

describe('STOMP bench scenarios', () => {
  it.each(STOMP_SCENARIOS.map((s) => [s.id, s] as const))('%s delivers and measures latency', async (_id, spec) => {
    const r = await runStompScenario(spec, { host: '127.0.0.1', port, durationS: 0.3, warmupS: 0.1, bodySize: 100 });
    expect(r.error).toBeUndefined();
    expect(r.totalDelivered).toBeGreaterThan(0);
    expect(r.deliveredPerS).toBeGreaterThan(0);
    expect(r.p50Ms).toBeGreaterThan(0);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
  });
});
