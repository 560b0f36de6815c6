/**
 * Retained messages and persistent sessions live in the core's state log, and the acknowledgement of a
 * change to them (PUBACK/PUBREC of a retained PUBLISH, hence PUBCOMP; SUBACK/UNSUBACK of a persistent session) goes
 * out only once the log says it is on disk. A stand-in log whose sync is released by hand shows the order.
 */
import { Broker, MemoryStateLog, silentLogger } from '@warren/core';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMqttService, type MqttService } from './index.js';
import { RawClient } from './testing/mqtt-test-server.js';

/** An in-memory state log whose syncs wait until {@link release}. */
class SlowStateLog extends MemoryStateLog {
  syncs = 0;
  #held: Array<() => void> = [];

  override sync(): Promise<void> {
    this.syncs++;
    return new Promise((resolve) => this.#held.push(resolve));
  }

  release(): void {
    for (const r of this.#held.splice(0)) r();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

const cmds = (c: RawClient): string[] => c.packets.map((p) => p.cmd);

let log: SlowStateLog;
let broker: Broker;
let service: MqttService;
beforeEach(() => {
  log = new SlowStateLog();
  broker = new Broker({ logger: silentLogger });
  service = createMqttService({ broker, logger: silentLogger, dataDir: '', stateLog: log, options: { maxFrameSize: 1 << 20, connectTimeoutMs: 0 } });
});
afterEach(async () => {
  await service.close();
  broker.close();
});

describe('acknowledgements wait for the MQTT state on disk', () => {
  it('retained QoS 1 PUBLISH: PUBACK (and what follows) only after the sync', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'r1', clean: true });
    c.packets.length = 0;
    c.send({ cmd: 'publish', topic: 'home/t', payload: Buffer.from('21'), qos: 1, messageId: 5, retain: true, dup: false });
    c.send({ cmd: 'pingreq' });
    await settle();
    expect(cmds(c)).toEqual([]);
    expect(log.syncs).toBe(1);
    expect(log.get('r/\u0000home/t')).toBeDefined();
    log.release();
    await settle();
    expect(cmds(c)).toEqual(['puback', 'pingresp']);
  });

  it('clearing a retained message (empty payload) at QoS 1 waits too', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'r2', clean: true });
    c.send({ cmd: 'publish', topic: 'home/x', payload: Buffer.from('1'), qos: 1, messageId: 1, retain: true, dup: false });
    await settle();
    log.release();
    await c.next('puback');
    c.packets.length = 0;
    c.send({ cmd: 'publish', topic: 'home/x', payload: Buffer.alloc(0), qos: 1, messageId: 2, retain: true, dup: false });
    await settle();
    expect(cmds(c)).toEqual([]);
    expect(log.get('r/\u0000home/x')).toBeUndefined();
    log.release();
    await settle();
    expect(cmds(c)).toEqual(['puback']);
  });

  it('retained QoS 2 PUBLISH: PUBREC after the sync, so PUBCOMP is too', async () => {
    const c = new RawClient(service, 5);
    await c.connect({ clientId: 'r3', clean: true, protocolVersion: 5 });
    c.packets.length = 0;
    c.send({ cmd: 'publish', topic: 'home/q2', payload: Buffer.from('v'), qos: 2, messageId: 9, retain: true, dup: false });
    c.send({ cmd: 'pubrel', messageId: 9 });
    await settle();
    expect(cmds(c)).toEqual([]);
    log.release();
    await settle();
    expect(cmds(c)).toEqual(['pubrec', 'pubcomp']);
  });

  it('retained PUBLISHes that arrived during a wait share the next sync, and their PUBACKs keep their order', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'r5', clean: true });
    c.packets.length = 0;
    // One read: the first PUBLISH starts a wait, the other three wait behind it.
    const publish = (id: number): Buffer =>
      mqttPacket.generate({ cmd: 'publish', topic: `b/${id}`, payload: Buffer.from(String(id)), qos: 1, messageId: id, retain: true, dup: false });
    c.sendBytes(Buffer.concat([1, 2, 3, 4].map(publish)));
    await settle();
    expect(log.syncs).toBe(1);
    log.release();
    await settle();
    expect(c.packets.map((p) => (p.cmd === 'puback' ? p.messageId : p.cmd))).toEqual([1]);
    expect(log.syncs).toBe(2);
    expect(log.size).toBe(4);
    log.release();
    await settle();
    expect(c.packets.map((p) => (p.cmd === 'puback' ? p.messageId : p.cmd))).toEqual([1, 2, 3, 4]);
  });

  it('a non-retained QoS 1 PUBLISH does not wait', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'r4', clean: true });
    c.send({ cmd: 'publish', topic: 'home/n', payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false });
    expect((await c.next('puback')).cmd).toBe('puback');
    expect(log.syncs).toBe(0);
  });

  it("persistent session: CONNACK only after the new session is on disk; a clean session's CONNACK waits for nothing", async () => {
    const c = new RawClient(service);
    const connack = c.connect({ clientId: 'p0', clean: false });
    c.send({ cmd: 'pingreq' });
    await settle();
    expect(cmds(c)).toEqual([]);
    expect(log.syncs).toBe(1);
    expect(JSON.parse(log.get('s/\u0000p0')!.toString())).toMatchObject({ clientId: 'p0' });
    log.release();
    expect((await connack).sessionPresent).toBe(false);
    await settle();
    expect(cmds(c)).toEqual(['pingresp']);
    const clean = new RawClient(service);
    await clean.connect({ clientId: 'c0', clean: true });
    expect(log.syncs).toBe(1);
  });

  it('persistent session: SUBACK and UNSUBACK only after the session is on disk', async () => {
    const c = new RawClient(service);
    const connack = c.connect({ clientId: 'p1', clean: false });
    await settle();
    log.release();
    await connack;
    c.packets.length = 0;
    c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/b', qos: 1 }] });
    c.send({ cmd: 'pingreq' });
    await settle();
    expect(cmds(c)).toEqual([]);
    const stored = JSON.parse(log.get('s/\u0000p1')!.toString()) as { subscriptions: Array<{ filter: string }> };
    expect(stored.subscriptions.map((s) => s.filter)).toEqual(['a/b']);
    log.release();
    await settle();
    expect(cmds(c)).toEqual(['suback', 'pingresp']);
    c.packets.length = 0;
    c.send({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['a/b'] });
    await settle();
    expect(cmds(c)).toEqual([]);
    log.release();
    await settle();
    expect(cmds(c)).toEqual(['unsuback']);
  });

  it('clean session: SUBACK at once, nothing written', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'c1', clean: true });
    c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/b', qos: 0 }] });
    expect((await c.next('suback')).cmd).toBe('suback');
    expect(log.syncs).toBe(0);
    expect(log.size).toBe(0);
  });
});

describe('a resource alarm outlasts a wait for the disk', () => {
  it('a persistent SUBSCRIBE answered during an alarm does not start reading again; the PUBLISH after it waits for the alarm to clear', async () => {
    const c = new RawClient(service);
    const connack = c.connect({ clientId: 'alarm-1', clean: false });
    await settle();
    log.release();
    await connack;
    c.packets.length = 0;
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alarm/#', qos: 1 }] });
    await settle();
    // The SUBACK waits for the session on disk; meanwhile the broker raises a memory alarm (reading stops).
    broker.setAlarm('memory', true);
    log.release();
    await settle();
    expect(cmds(c)).toEqual(['suback']);
    c.send({ cmd: 'publish', topic: 'other/x', payload: Buffer.from('1'), qos: 1, messageId: 2, retain: false, dup: false });
    await settle();
    // Still blocked: the PUBLISH is not read, so no PUBACK.
    expect(cmds(c)).toEqual(['suback']);
    broker.setAlarm('memory', false);
    await settle();
    expect(cmds(c)).toEqual(['suback', 'puback']);
  });
});
