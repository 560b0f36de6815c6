/**
 * The subscription-flood bench (bench/src/security/flood-bench.ts) runs end to end: both floods complete and both
 * bystanders are measured during each. Its latency figures are for `node bench/dist/security/flood-bench.js`, not
 * asserted here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '@warren/server';

let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
beforeAll(async () => {
  broker = await startEmbeddedBroker({ mqtt: { port: 0, tlsPort: null }, stomp: { port: 0, tlsPort: null } });
});
afterAll(async () => {
  await broker.stop();
});

describe('flood bench', () => {
  it('floods MQTT then STOMP with 3,000 subscriptions while an MQTT and a STOMP bystander do round trips', async () => {
    const { runFloodBench } = await import('../../bench/dist/security/flood-bench.js');
    const results = await runFloodBench({ mqtt: broker.ports.mqtt as number, stomp: broker.ports.stomp as number }, 3000);
    expect(results.map((r) => `${r.flood}/${r.bystander}`)).toEqual(['mqtt/mqtt', 'mqtt/stomp', 'stomp/mqtt', 'stomp/stomp']);
    for (const r of results) {
      expect(r.filters).toBe(3000);
      expect(r.samples).toBeGreaterThan(0);
      expect(r.maxMs).toBeGreaterThanOrEqual(r.p99Ms);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
    }
    expect(results.every((r) => r.floodMs > 0)).toBe(true);
  }, 60_000);
});
