/**
 * Connection state tests over an in-memory stream pair, raw packets in and out, named after the spec rules.
 */
import { Broker, silentLogger } from '@warren/core';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket, ISubackPacket, IUnsubackPacket } from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMqttService, type MqttService } from '../index.js';
import { RawClient } from '../testing/mqtt-test-server.js';
import mqttPacket from 'mqtt-packet';
import { createRequire } from 'node:module';

const mqttPacketGenerate = (p: import('mqtt-packet').Packet): Buffer => mqttPacket.generate(p, { protocolVersion: 4 });

let broker: Broker;
let service: MqttService;

beforeEach(() => {
  broker = new Broker({ logger: silentLogger });
  service = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 1024, connectTimeoutMs: 200 } });
});
afterEach(async () => {
  await service.close();
  broker.close();
});

describe('CONNECT', () => {
  it('[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection', async () => {
    const c = new RawClient(service);
    c.send({ cmd: 'pingreq' });
    await c.waitClosed();
    expect(c.packets).toEqual([]);
  });

  it('[MQTT-3.1.0-2] a second CONNECT is a protocol error (MQTT 5: DISCONNECT 0x82)', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'connect', protocolVersion: 5, clientId: 'again', clean: true, keepalive: 0 } as never);
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x82);
    await c.waitClosed();
  });

  it('[MQTT-3.1.3-8] 3.1.1: empty client id with CleanSession=0 is refused with return code 2', async () => {
    const c = new RawClient(service);
    // mqtt-packet refuses to generate this CONNECT, so it is written by hand: level 4, flags 0, keep-alive 0, id "".
    c.sendBytes([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0, 0, 0, 0, 0]);
    const ack = (await c.next('connack')) as IConnackPacket;
    expect(ack.returnCode).toBe(2);
    await c.waitClosed();
  });

  it('[MQTT-3.1.3-6] MQTT 5: an empty client id gets an Assigned Client Identifier', async () => {
    const c = new RawClient(service, 5);
    const ack = await c.connect({ clientId: '' });
    expect(ack.reasonCode).toBe(0);
    expect(ack.properties?.assignedClientIdentifier).toMatch(/^warren-/);
  });

  it('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and a close', async () => {
    const c = new RawClient(service);
    // CONNECT, protocol name MQTT, level 6.
    c.sendBytes([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 6, 2, 0, 0, 0, 0]);
    const ack = (await c.next('connack')) as IConnackPacket;
    expect(ack.returnCode).toBe(1);
    await c.waitClosed();
  });

  it('wrong password: 3.1.1 return code 4, MQTT 5 reason 0x86', async () => {
    const c4 = new RawClient(service);
    expect((await c4.connect({ username: 'guest', password: Buffer.from('nope') })).returnCode).toBe(4);
    const c5 = new RawClient(service, 5);
    expect((await c5.connect({ username: 'guest', password: Buffer.from('nope') })).reasonCode).toBe(0x86);
  });

  it('the vhost comes from `vhost:user` (RabbitMQ); an unknown vhost is refused with 5 / 0x87', async () => {
    const c = new RawClient(service);
    expect((await c.connect({ username: 'nowhere:guest', password: Buffer.from('guest') })).returnCode).toBe(5);
    const ok = new RawClient(service);
    expect((await ok.connect({ username: '/:guest', password: Buffer.from('guest') })).returnCode).toBe(0);
  });

  it('anonymous connections are refused when disabled', async () => {
    const strict = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 1024, allowAnonymous: false } });
    const c = new RawClient(strict);
    expect((await c.connect()).returnCode).toBe(4);
    await strict.close();
  });

  it('no CONNECT within the connect timeout closes the connection', async () => {
    const c = new RawClient(service);
    await c.waitClosed();
  });

  it('[MQTT-3.1.4-3] a second connection with the same client id closes the first (MQTT 5: 0x8E)', async () => {
    const a = new RawClient(service, 5);
    await a.connect({ clientId: 'same' });
    const b = new RawClient(service, 5);
    await b.connect({ clientId: 'same' });
    expect(((await a.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x8e);
    await a.waitClosed();
    b.send({ cmd: 'pingreq' });
    await b.next('pingresp');
  });
});

describe('MQTT 5 problem and response information', () => {
  it('a refused CONNECT carries the reason as a Reason String', async () => {
    const c = new RawClient(service, 5);
    const ack = await c.connect({ username: 'guest', password: Buffer.from('nope') });
    expect(ack.reasonCode).toBe(0x86);
    expect(ack.properties?.reasonString).toMatch(/authentication failed for user 'guest'/);
  });

  it('a server DISCONNECT carries the reason as a Reason String', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x90);
    expect(d.properties?.reasonString).toMatch(/topic name/);
  });

  it('[MQTT-3.14.2-3] no Reason String when it would exceed the client Maximum Packet Size', async () => {
    const c = new RawClient(service, 5);
    await c.connect({ properties: { maximumPacketSize: 8 } });
    c.send({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x90);
    expect(d.properties?.reasonString).toBeUndefined();
  });

  it('[MQTT-3.1.2-29] a refused PUBLISH is explained in its PUBACK unless Request Problem Information is 0', async () => {
    broker.addUser('reader', 'reader');
    broker.setPermissions('reader', '/', { configure: '.*', write: '^$', read: '.*' });
    const explained = new RawClient(service, 5);
    await explained.connect({ clientId: 'r1', username: 'reader', password: Buffer.from('reader') });
    explained.send({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false });
    const a = (await explained.next('puback')) as import('mqtt-packet').IPubackPacket;
    expect(a.reasonCode).toBe(0x87);
    expect(a.properties?.reasonString).toMatch(/access|refused|write/i);

    const quiet = new RawClient(service, 5);
    await quiet.connect({ clientId: 'r2', username: 'reader', password: Buffer.from('reader'), properties: { requestProblemInformation: false } });
    quiet.send({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, messageId: 8, retain: false, dup: false });
    const b = (await quiet.next('puback')) as import('mqtt-packet').IPubackPacket;
    expect(b.reasonCode).toBe(0x87);
    expect(b.properties?.reasonString).toBeUndefined();
  });

  it('Request Response Information gets a response topic prefix in CONNACK; without it, none', async () => {
    const asked = new RawClient(service, 5);
    const ack = await asked.connect({ clientId: 'asker', properties: { requestResponseInformation: true } });
    expect(ack.properties?.responseInformation).toBe('response/asker');
    const plain = new RawClient(service, 5);
    expect((await plain.connect({ clientId: 'plain' })).properties?.responseInformation).toBeUndefined();
  });
});

describe('memory', () => {
  it("mqtt-packet's 65,536-Buffer number cache is never built (6 MB of heap)", async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 300, subscriptions: [{ topic: 'a/b', qos: 1 }] });
    expect(((await c.next('suback')) as ISubackPacket).messageId).toBe(300);
    const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };
    expect(Object.keys(numbers.cache)).toHaveLength(0);
  });
});

describe('keep-alive', () => {
  it('[MQTT-3.1.2-24] silence for 1.5 × keep-alive closes the connection (MQTT 5: 0x8D)', async () => {
    const c = new RawClient(service, 5);
    await c.connect({ keepalive: 1 });
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x8d);
  });

  it('[MQTT-3.12.4-1] PINGREQ gets PINGRESP', async () => {
    const c = new RawClient(service);
    await c.connect();
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
  });
});

describe('PUBLISH and SUBSCRIBE', () => {
  it('[MQTT-3.8.4-1] SUBACK carries the packet id and one code per filter; invalid filters fail with 0x80', async () => {
    const c = new RawClient(service);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'a/+', qos: 1 }, { topic: 'a/b#', qos: 0 }, { topic: 'x', qos: 2 }] });
    const s = (await c.next('suback')) as ISubackPacket;
    expect(s.messageId).toBe(7);
    expect(s.granted).toEqual([1, 0x80, 2]);
  });

  it('MQTT 5: an invalid filter gets 0x8F', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/+b', qos: 1 }] });
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([0x8f]);
  });

  it('[MQTT-3.3.2-2] a wildcard in a PUBLISH topic closes the connection (MQTT 5: 0x90)', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'publish', topic: 'a/+', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x90);
    const c4 = new RawClient(service);
    await c4.connect();
    c4.send({ cmd: 'publish', topic: 'a/#', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    await c4.waitClosed();
  });

  it('[MQTT-1.5.4-2] a NUL in a topic closes the connection', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'publish', topic: 'a\u0000b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x90);
  });

  it('[MQTT-1.5.4-1] invalid UTF-8 in a topic closes the connection', async () => {
    const c = new RawClient(service);
    await c.connect();
    // PUBLISH QoS 0, topic length 2, bytes 0xC3 0x28 (invalid sequence), payload "x".
    c.sendBytes([0x30, 5, 0, 2, 0xc3, 0x28, 0x78]);
    await c.waitClosed();
  });

  it('[MQTT-3.3.1-4] QoS 3 is a malformed packet (MQTT 5: 0x81)', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.sendBytes([0x36, 6, 0, 1, 0x61, 0, 1, 0, 0x78]);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x81);
  });

  it('MQTT 5 §3.2.2.3.6: a packet over the maximum size closes with 0x95', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(2000), qos: 0, retain: false, dup: false });
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x95);
  });

  it('an unknown packet type (0) is malformed and closes the connection', async () => {
    const c = new RawClient(service);
    await c.connect();
    c.sendBytes([0x00, 0x00]);
    await c.waitClosed();
  });

  it('[MQTT-3.3.4-1] QoS 1 is acknowledged with PUBACK; delivery QoS is the minimum of publish and subscription', async () => {
    const c = new RawClient(service);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'm/#', qos: 0 }] });
    await c.next('suback');
    c.send({ cmd: 'publish', topic: 'm/1', payload: Buffer.from('one'), qos: 1, messageId: 5, retain: false, dup: false });
    expect((await c.next('puback')).messageId).toBe(5);
    const p = (await c.next('publish')) as IPublishPacket;
    expect(p.qos).toBe(0);
    expect(p.payload.toString()).toBe('one');
  });

  it('[MQTT-4.3.3-10] a resent QoS 2 PUBLISH before PUBREL is not delivered twice', async () => {
    const c = new RawClient(service);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2', qos: 2 }] });
    await c.next('suback');
    const pub = { cmd: 'publish' as const, topic: 'q2', payload: Buffer.from('once'), qos: 2 as const, messageId: 9, retain: false, dup: false };
    c.send(pub);
    expect((await c.next('pubrec')).messageId).toBe(9);
    c.send({ ...pub, dup: true });
    expect((await c.next('pubrec')).messageId).toBe(9);
    c.send({ cmd: 'pubrel', messageId: 9 });
    expect((await c.next('pubcomp')).messageId).toBe(9);
    const got = (await c.next('publish')) as IPublishPacket;
    expect(got.qos).toBe(2);
    // Finish the outbound flow; a second copy would arrive before this PINGRESP.
    c.send({ cmd: 'pubrec', messageId: got.messageId ?? 0 });
    expect((await c.next('pubrel')).messageId).toBe(got.messageId);
    c.send({ cmd: 'pubcomp', messageId: got.messageId ?? 0 });
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    expect(c.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
  });

  it('[MQTT-3.10.4-4] UNSUBACK; MQTT 5 reports 0x11 for a filter that was not subscribed', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'u/1', qos: 1 }] });
    await c.next('suback');
    c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['u/1', 'u/2'] });
    const u = (await c.next('unsuback')) as IUnsubackPacket;
    expect(u.messageId).toBe(2);
    expect(u.granted).toEqual([0, 0x11]);
  });

  it('[MQTT-4.7.2-1] `#` does not match topics beginning with $', async () => {
    const c = new RawClient(service);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] });
    await c.next('suback');
    c.send({ cmd: 'publish', topic: '$SYS/x', payload: Buffer.from('hidden'), qos: 0, retain: false, dup: false });
    c.send({ cmd: 'publish', topic: 'visible', payload: Buffer.from('v'), qos: 0, retain: false, dup: false });
    const p = (await c.next('publish')) as IPublishPacket;
    expect(p.topic).toBe('visible');
  });

  it('[MQTT-3.8.3-3] MQTT 5 No Local: own messages are not delivered back', async () => {
    const c = new RawClient(service, 5);
    await c.connect({ clientId: 'nl' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'nl/#', qos: 0, nl: true }] });
    await c.next('suback');
    const other = new RawClient(service, 5);
    await other.connect({ clientId: 'other' });
    c.send({ cmd: 'publish', topic: 'nl/mine', payload: Buffer.from('m'), qos: 0, retain: false, dup: false });
    other.send({ cmd: 'publish', topic: 'nl/theirs', payload: Buffer.from('t'), qos: 0, retain: false, dup: false });
    expect(((await c.next('publish')) as IPublishPacket).topic).toBe('nl/theirs');
  });

  it('MQTT 5 subscription identifiers come back on matching deliveries', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 42 }, subscriptions: [{ topic: 'sid/+', qos: 1 }] });
    await c.next('suback');
    c.send({ cmd: 'publish', topic: 'sid/a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    const p = (await c.next('publish')) as IPublishPacket;
    expect(p.properties?.subscriptionIdentifier).toBe(42);
  });

  it('MQTT 5 topic aliases inbound: an alias set with a topic is reusable with an empty topic', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alias/x', qos: 0 }] });
    await c.next('suback');
    c.send({ cmd: 'publish', topic: 'alias/x', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } });
    c.send({ cmd: 'publish', topic: '', payload: Buffer.from('2'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } });
    expect(((await c.next('publish')) as IPublishPacket).payload.toString()).toBe('1');
    const second = (await c.next('publish')) as IPublishPacket;
    expect(second.payload.toString()).toBe('2');
    expect(second.topic).toBe('alias/x');
  });

  it('MQTT 5: a topic alias above Topic Alias Maximum closes with 0x94', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'publish', topic: 't', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: { topicAlias: 1000 } });
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x94);
  });

  it('shared subscriptions: members of $share/g/f compete on one queue', async () => {
    const a = new RawClient(service, 5);
    await a.connect({ clientId: 'sa' });
    const b = new RawClient(service, 5);
    await b.connect({ clientId: 'sb' });
    for (const c of [a, b]) {
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/work/+', qos: 0 }] });
      await c.next('suback');
    }
    const p = new RawClient(service, 5);
    await p.connect({ clientId: 'sp' });
    for (let i = 0; i < 4; i++) p.send({ cmd: 'publish', topic: 'work/x', payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
    await a.next('publish');
    await b.next('publish');
    await a.next('publish');
    await b.next('publish');
    expect(broker.vhost('/')?.queues.has('mqtt-shared-g-work.*')).toBe(true);
  });

  it('shared subscriptions: a persistent session joins a group a clean session started (and the other way round)', async () => {
    const clean = new RawClient(service, 5);
    await clean.connect({ clientId: 'sh-clean' });
    const persistent = new RawClient(service, 5);
    await persistent.connect({ clientId: 'sh-persistent', clean: false, properties: { sessionExpiryInterval: 60 } });
    for (const [first, second] of [
      [clean, persistent],
      [persistent, clean],
    ] as const) {
      const filter = first === clean ? '$share/g/mixed/a' : '$share/g/mixed/b';
      for (const c of [first, second]) {
        c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
        expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([1]);
      }
    }
    expect(clean.closed || persistent.closed).toBe(false);
  });
  it('[MQTT-2.2.1-3] reusing a packet id still in flight closes the connection (MQTT 5: 0x82)', async () => {
    const c = new RawClient(service, 5);
    await c.connect();
    c.send({ cmd: 'publish', topic: 'reuse', payload: Buffer.from('a'), qos: 2, messageId: 9, retain: false, dup: false });
    await c.next('pubrec');
    c.send({ cmd: 'publish', topic: 'reuse', payload: Buffer.from('b'), qos: 1, messageId: 9, retain: false, dup: false });
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x82);
  });

});

describe('sessions', () => {
  it("a clean session's subscription queues are transient and auto-delete (no disk work per message)", async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'cleanq', clean: true });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'c/0', qos: 0 }, { topic: 'c/1', qos: 1 }] });
    await c.next('suback');
    for (const qos of [0, 1]) {
      const q = broker.vhost('/')?.queues.get(`mqtt-subscription-cleanqqos${qos}`);
      expect(q?.durable).toBe(false);
      expect(q?.autoDelete).toBe(true);
    }
  });

  it('[MQTT-3.2.2-2] a persistent session is resumed with Session Present and its queued QoS 1 messages', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'persist', clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'p/#', qos: 1 }] });
    await c.next('suback');
    c.send({ cmd: 'disconnect' });
    await c.waitClosed();
    expect(broker.vhost('/')?.queues.get('mqtt-subscription-persistqos1')?.durable).toBe(true);
    const p = new RawClient(service);
    await p.connect({ clientId: 'pub' });
    p.send({ cmd: 'publish', topic: 'p/1', payload: Buffer.from('offline'), qos: 1, messageId: 1, retain: false, dup: false });
    await p.next('puback');
    const again = new RawClient(service);
    const ack = await again.connect({ clientId: 'persist', clean: false });
    expect(ack.sessionPresent).toBe(true);
    const m = (await again.next('publish')) as IPublishPacket;
    expect(m.payload.toString()).toBe('offline');
    expect(m.qos).toBe(1);
  });

  it('[MQTT-3.1.2-6] a clean session deletes its queues on disconnect', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'cleanie', clean: true });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'c/#', qos: 1 }] });
    await c.next('suback');
    expect(broker.vhost('/')?.queues.has('mqtt-subscription-cleanieqos1')).toBe(true);
    c.send({ cmd: 'disconnect' });
    await c.waitClosed();
    expect(broker.vhost('/')?.queues.has('mqtt-subscription-cleanieqos1')).toBe(false);
  });

  it('unacknowledged QoS 1 deliveries are redelivered with DUP after reconnecting', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'redeliver', clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'r', qos: 1 }] });
    await c.next('suback');
    c.send({ cmd: 'publish', topic: 'r', payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false });
    await c.next('publish');
    c.close();
    await c.waitClosed();
    const again = new RawClient(service);
    await again.connect({ clientId: 'redeliver', clean: false });
    const m = (await again.next('publish')) as IPublishPacket;
    expect(m.dup).toBe(true);
  });

  it('[MQTT-4.3.3-9] QoS 2 inbound state survives a reconnect: the resent PUBLISH is not delivered twice', async () => {
    const watcher = new RawClient(service);
    await watcher.connect({ clientId: 'q2watch' });
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2r', qos: 0 }] });
    await watcher.next('suback');
    const c = new RawClient(service);
    await c.connect({ clientId: 'q2sess', clean: false });
    const pub = { cmd: 'publish' as const, topic: 'q2r', payload: Buffer.from('once'), qos: 2 as const, messageId: 77, retain: false, dup: false };
    c.send(pub);
    await c.next('pubrec');
    c.close();
    await c.waitClosed();
    const again = new RawClient(service);
    expect((await again.connect({ clientId: 'q2sess', clean: false })).sessionPresent).toBe(true);
    again.send({ ...pub, dup: true });
    expect((await again.next('pubrec')).messageId).toBe(77);
    again.send({ cmd: 'pubrel', messageId: 77 });
    expect((await again.next('pubcomp')).messageId).toBe(77);
    expect(((await watcher.next('publish')) as IPublishPacket).payload.toString()).toBe('once');
    watcher.send({ cmd: 'pingreq' });
    await watcher.next('pingresp');
    expect(watcher.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
  });

  it('[MQTT-4.4.0-1] an unfinished outbound QoS 2 flow resumes with PUBREL after reconnecting', async () => {
    const c = new RawClient(service);
    await c.connect({ clientId: 'q2out', clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2o', qos: 2 }] });
    await c.next('suback');
    c.send({ cmd: 'publish', topic: 'q2o', payload: Buffer.from('x'), qos: 2, messageId: 3, retain: false, dup: false });
    const m = (await c.next('publish')) as IPublishPacket;
    c.send({ cmd: 'pubrec', messageId: m.messageId ?? 0 });
    await c.next('pubrel');
    c.close();
    await c.waitClosed();
    const again = new RawClient(service);
    await again.connect({ clientId: 'q2out', clean: false });
    expect((await again.next('pubrel')).messageId).toBe(m.messageId);
  });

  it('[MQTT-3.1.2-8] the will is published when the keep-alive expires', async () => {
    const watcher = new RawClient(service);
    await watcher.connect({ clientId: 'kawatch' });
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ka/will', qos: 0 }] });
    await watcher.next('suback');
    const c = new RawClient(service);
    await c.connect({ clientId: 'silent', keepalive: 1, will: { topic: 'ka/will', payload: Buffer.from('timeout'), qos: 0, retain: false } });
    expect(((await watcher.next('publish')) as IPublishPacket).payload.toString()).toBe('timeout');
    await c.waitClosed();
  });

  it('MQTT 5 Session Expiry Interval: the session and its queues are deleted when it expires', async () => {
    const c = new RawClient(service, 5);
    await c.connect({ clientId: 'expiring', clean: false, properties: { sessionExpiryInterval: 1 } });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'e/#', qos: 1 }] });
    await c.next('suback');
    c.send({ cmd: 'disconnect' });
    await c.waitClosed();
    expect(broker.vhost('/')?.queues.has('mqtt-subscription-expiringqos1')).toBe(true);
    await vi.waitFor(() => expect(broker.vhost('/')?.queues.has('mqtt-subscription-expiringqos1')).toBe(false), { timeout: 3000, interval: 50 });
    const again = new RawClient(service, 5);
    expect((await again.connect({ clientId: 'expiring', clean: false, properties: { sessionExpiryInterval: 1 } })).sessionPresent).toBe(false);
  });

  it('the offline queue is bounded by maxOfflineMessages (oldest dropped), and the overflow is counted', async () => {
    const bounded = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 1024, maxOfflineMessages: 2 } });
    const c = new RawClient(bounded);
    await c.connect({ clientId: 'bounded', clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'b', qos: 1 }] });
    await c.next('suback');
    c.send({ cmd: 'disconnect' });
    await c.waitClosed();
    const p = new RawClient(bounded);
    await p.connect({ clientId: 'bpub' });
    for (let i = 1; i <= 5; i++) {
      p.send({ cmd: 'publish', topic: 'b', payload: Buffer.from(String(i)), qos: 1, messageId: i, retain: false, dup: false });
      await p.next('puback');
    }
    const again = new RawClient(bounded);
    await again.connect({ clientId: 'bounded', clean: false });
    const got = [(await again.next('publish')) as IPublishPacket, (await again.next('publish')) as IPublishPacket];
    expect(got.map((m) => m.payload.toString())).toEqual(['4', '5']);
    const counters = bounded as unknown as { offlineOverflows: number; offlineDropped: number };
    expect(counters.offlineOverflows).toBe(1);
    expect(counters.offlineDropped).toBe(3);
    // Counted once: the next reconnect finds nothing new.
    again.send({ cmd: 'disconnect' });
    await again.waitClosed();
    const third = new RawClient(bounded);
    await third.connect({ clientId: 'bounded', clean: false });
    expect(counters.offlineDropped).toBe(3);
    await bounded.close();
  });

  it('MQTT 5 Will Delay Interval: a reconnect within the delay cancels the will', async () => {
    const watcher = new RawClient(service, 5);
    await watcher.connect({ clientId: 'watch' });
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'wd/#', qos: 0 }] });
    await watcher.next('suback');
    const c = new RawClient(service, 5);
    await c.connect({
      clientId: 'wd',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: { topic: 'wd/cancelled', payload: Buffer.from('w'), qos: 0, retain: false, properties: { willDelayInterval: 30 } },
    });
    c.close();
    await c.waitClosed();
    const back = new RawClient(service, 5);
    await back.connect({ clientId: 'wd', clean: false, properties: { sessionExpiryInterval: 60 }, will: { topic: 'wd/now', payload: Buffer.from('n'), qos: 0, retain: false } });
    back.close();
    expect(((await watcher.next('publish')) as IPublishPacket).topic).toBe('wd/now');
  });
});

describe('fast path (PUBLISH/PUBACK decoded without mqtt-packet)', () => {
  it('packets mixed in one chunk and split across chunks arrive in order, each QoS 1 PUBLISH acked', async () => {
    const sub = new RawClient(service);
    await sub.connect({ clientId: 'fast-sub' });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'f/#', qos: 1 }] });
    await sub.next('suback');
    const pub = new RawClient(service);
    await pub.connect({ clientId: 'fast-pub' });
    const gen = (p: import('mqtt-packet').Packet): Buffer => mqttPacketGenerate(p);
    const pkt = (i: number, qos: 0 | 1): Buffer =>
      gen({ cmd: 'publish', topic: `f/${i}`, payload: Buffer.from(`m${i}`), qos, retain: false, dup: false, ...(qos === 1 ? { messageId: 100 + i } : {}) });
    // One chunk: PUBLISH, PINGREQ (left to mqtt-packet), PUBLISH; then a PUBLISH split in the middle of its header.
    const tail = pkt(3, 1);
    pub.sendBytes(Buffer.concat([pkt(0, 1), pkt(1, 0), gen({ cmd: 'pingreq' }), pkt(2, 1), tail.subarray(0, 1)]));
    pub.sendBytes(tail.subarray(1));
    await pub.next('pingresp');
    const acks: number[] = [];
    for (let i = 0; i < 3; i++) acks.push(((await pub.next('puback')) as { messageId: number }).messageId);
    expect(acks.sort()).toEqual([100, 102, 103]);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const p = (await sub.next('publish')) as IPublishPacket;
      got.push(`${p.topic}=${p.payload.toString()}/q${p.qos}`);
      if (p.qos === 1) sub.send({ cmd: 'puback', messageId: p.messageId ?? 0 });
    }
    expect(got).toEqual(['f/0=m0/q1', 'f/1=m1/q0', 'f/2=m2/q1', 'f/3=m3/q1']);
  });
});

describe('logging (DESIGN.md §7)', () => {
  it('logs one line when a connection opens and one when it closes, with client, user and vhost', async () => {
    const lines: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
    const record = (obj: object | string, msg?: string): void => {
      if (typeof obj === 'object') lines.push({ obj: obj as Record<string, unknown>, msg });
    };
    const logger = { ...silentLogger, info: record, child: () => logger };
    const logged = createMqttService({ broker, logger, dataDir: '', options: { maxFrameSize: 1024 } });
    try {
      const c = new RawClient(logged);
      await c.connect({ clientId: 'logged-client' });
      c.send({ cmd: 'disconnect' });
      await c.waitClosed();
      await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain('MQTT connection closed'));
      const opened = lines.find((l) => l.msg === 'MQTT connection accepted');
      const closed = lines.find((l) => l.msg === 'MQTT connection closed');
      expect(opened?.obj).toMatchObject({ clientId: 'logged-client', user: 'guest', vhost: '/' });
      expect(closed?.obj).toMatchObject({ clientId: 'logged-client', user: 'guest', vhost: '/', clean: true });
      const refused = new RawClient(logged);
      await refused.connect({ clientId: 'refused-client', username: 'guest', password: Buffer.from('nope') });
      const line = lines.find((l) => l.msg?.startsWith('CONNECT refused') === true);
      expect(line?.obj).toMatchObject({ clientId: 'refused-client', user: 'guest' });
    } finally {
      await logged.close();
    }
  });
});

describe('subscription cap (maxSubscriptions) and huge SUBSCRIBEs', () => {
  const capped = (maxSubscriptions: number): MqttService =>
    createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 1 << 20, connectTimeoutMs: 200, maxSubscriptions } });

  it('3.1.1: filters past the cap get 0x80 in SUBACK; re-subscribing a filter held is still granted', async () => {
    const s = capped(2);
    const c = new RawClient(s);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }, { topic: 'b', qos: 1 }, { topic: 'c', qos: 0 }] });
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([0, 1, 0x80]);
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a', qos: 1 }, { topic: 'd', qos: 0 }] });
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([1, 0x80]);
    c.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['b'] });
    await c.next('unsuback');
    c.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'd', qos: 0 }] });
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([0]);
    await s.close();
  });

  it('MQTT 5: filters past the cap get 0x97 Quota Exceeded', async () => {
    const s = capped(1);
    const c = new RawClient(s, 5);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }, { topic: 'b', qos: 0 }] } as never);
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([0, 0x97]);
    await s.close();
  });

  it('a SUBSCRIBE with thousands of filters is answered in order, before the packets sent after it', async () => {
    const s = capped(0);
    const c = new RawClient(s);
    await c.connect();
    const subscriptions = Array.from({ length: 5000 }, (_, i) => ({ topic: `f/${i}/+`, qos: (i % 2) as 0 | 1 }));
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions });
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'g', qos: 0 }] });
    c.send({ cmd: 'pingreq' });
    const first = (await c.next('suback')) as ISubackPacket;
    expect(first.messageId).toBe(1);
    expect(first.granted).toEqual(subscriptions.map((x) => x.qos));
    expect(((await c.next('suback')) as ISubackPacket).messageId).toBe(2);
    await c.next('pingresp');
    // Every filter is live.
    const pub = new RawClient(s);
    await pub.connect({ clientId: 'pub' });
    pub.send({ cmd: 'publish', topic: 'f/4999/x', payload: Buffer.from('last'), qos: 0, retain: false, dup: false });
    expect(((await c.next('publish')) as IPublishPacket).topic).toBe('f/4999/x');
    await s.close();
  });
});
