/**
 * A SUBSCRIBE of a persistent session declares a durable queue and durable bindings; its SUBACK (and the
 * packets after it) waits until the definitions are fsynced. A clean session's QoS 0 subscription does not wait.
 */
import { Broker, silentLogger } from '@warren/core';
import { SlowDefinitionsStore } from '@warren/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMqttService, type MqttService } from '../index.js';
import { RawClient } from '../testing/mqtt-test-server.js';

/** Let stream and promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

let store: SlowDefinitionsStore;
let broker: Broker;
let service: MqttService;
beforeEach(() => {
  store = new SlowDefinitionsStore();
  broker = new Broker({ logger: silentLogger, definitions: store });
  service = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 1024, connectTimeoutMs: 0 } });
});
afterEach(async () => {
  await service.close();
  broker.close();
});

describe('SUBACK waits for durable definitions', () => {
  it('persistent session: SUBACK and the PINGRESP after it come only after the fsync', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'dev1', clean: false });
    c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/b', qos: 1 }] });
    c.send({ cmd: 'pingreq' });
    await settle();
    expect(c.packets.map((p) => p.cmd)).toEqual([]);
    expect(store.flushes).toBeGreaterThan(0);
    store.release();
    await settle();
    expect(c.packets.map((p) => p.cmd)).toEqual(['suback', 'pingresp']);
  });

  it('clean session, QoS 0: SUBACK at once, no flush', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'dev2', clean: true });
    const flushes = store.flushes;
    c.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'x/y', qos: 0 }] });
    expect((await c.next('suback')).cmd).toBe('suback');
    expect(store.flushes).toBe(flushes);
  });
});
