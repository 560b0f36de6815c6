/**
 * MQTT 5 behaviour the specification fixes and clients check: session resumption, Message Expiry
 * Interval, Server Keep Alive, Receive Maximum, unsupported Authentication Method and `$SYS` statistics. Raw packets
 * over in-memory streams.
 */
import { Broker, silentLogger } from '@warren/core';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

vi.setConfig({ testTimeout: 5000 });
import { createMqttService, type MqttServerOptions, type MqttService } from '../index.js';
import { RawClient } from '../testing/mqtt-test-server.js';

let broker: Broker;
let service: MqttService;
const extra: MqttService[] = [];

function serviceWith(options: Partial<MqttServerOptions>): MqttService {
  const s = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 65536, ...options } });
  extra.push(s);
  return s;
}

beforeEach(() => {
  broker = new Broker({ logger: silentLogger });
  service = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 65536 } });
});
afterEach(async () => {
  vi.useRealTimers();
  for (const s of extra.splice(0)) await s.close();
  await service.close();
  broker.close();
});

const queues = (): string[] => [...(broker.vhost('/')?.queues.keys() ?? [])].filter((q) => q.startsWith('mqtt-subscription-')).sort();

async function publish(c: RawClient, topic: string, body: string, qos: 0 | 1 | 2, id: number, properties?: IPublishPacket['properties']): Promise<void> {
  c.send({ cmd: 'publish', topic, payload: Buffer.from(body), qos, messageId: id, retain: false, dup: false, ...(properties ? { properties } : {}) });
  if (qos === 1) await c.next('puback');
  if (qos === 2) {
    await c.next('pubrec');
    c.send({ cmd: 'pubrel', messageId: id });
    await c.next('pubcomp');
  }
}

describe('session resumption (MQTT 5 §3.1.2.4, §3.1.2.11)', () => {
  it('Clean Start 0 after a connection with Session Expiry 0 finds no session, and no subscription queue is left behind', async () => {
    const a = new RawClient(service, 5);
    await a.connect({ clientId: 's0', clean: false });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 's0/a', qos: 1 }, { topic: 's0/b', qos: 0 }] });
    await a.next('suback');
    a.close();
    await a.waitClosed();
    const p = new RawClient(service, 5);
    await p.connect({ clientId: 's0-pub' });
    await publish(p, 's0/a', 'lost', 1, 1);
    await vi.waitFor(() => expect(queues()).toEqual([]));
    const b = new RawClient(service, 5);
    const ack = await b.connect({ clientId: 's0', clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(ack.sessionPresent).toBe(false);
    expect(queues()).toEqual([]);
  });

  it('taking over a connection with Session Expiry 0: Session Present 0, and its queued messages are not left in a queue', async () => {
    const a = new RawClient(service, 5);
    await a.connect({ clientId: 'tk', clean: false });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'tk', qos: 1 }] });
    await a.next('suback');
    const b = new RawClient(service, 5);
    const ack = await b.connect({ clientId: 'tk', clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(ack.sessionPresent).toBe(false);
    await a.waitClosed();
    await vi.waitFor(() => expect(queues()).toEqual([]));
    // The new session is empty: it subscribes and gets what is published from now on.
    b.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'tk', qos: 1 }] });
    await b.next('suback');
    const p = new RawClient(service, 5);
    await p.connect({ clientId: 'tk-pub' });
    await publish(p, 'tk', 'new', 1, 1);
    expect(((await b.next('publish')) as IPublishPacket).payload.toString()).toBe('new');
  });

  it('a session resumed by a connection with Session Expiry 0 still delivers what was queued for it', async () => {
    const a = new RawClient(service, 5);
    await a.connect({ clientId: 'r0', clean: false, properties: { sessionExpiryInterval: 60 } });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'r0', qos: 1 }] });
    await a.next('suback');
    a.send({ cmd: 'disconnect' });
    await a.waitClosed();
    const p = new RawClient(service, 5);
    await p.connect({ clientId: 'r0-pub' });
    await publish(p, 'r0', 'kept', 1, 1);
    const b = new RawClient(service, 5);
    const ack = await b.connect({ clientId: 'r0', clean: false });
    expect(ack.sessionPresent).toBe(true);
    expect(((await b.next('publish')) as IPublishPacket).payload.toString()).toBe('kept');
    // Its expiry is now 0: the session ends with this connection.
    b.send({ cmd: 'disconnect' });
    await b.waitClosed();
    await vi.waitFor(() => expect(queues()).toEqual([]));
  });

  it('with a non-zero expiry every queued message of the resumed session is delivered, at QoS 0, 1 and 2', async () => {
    const a = new RawClient(service, 5);
    await a.connect({ clientId: 'rq', clean: false, properties: { sessionExpiryInterval: 60 } });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rq/0', qos: 0 }, { topic: 'rq/1', qos: 1 }, { topic: 'rq/2', qos: 2 }] });
    await a.next('suback');
    a.close();
    await a.waitClosed();
    const p = new RawClient(service, 5);
    await p.connect({ clientId: 'rq-pub' });
    const sent: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const qos = (i % 3) as 0 | 1 | 2;
      await publish(p, `rq/${qos}`, `m${i}`, qos, i);
      sent.push(`m${i}`);
    }
    const b = new RawClient(service, 5);
    // A small Receive Maximum: the rest wait for acknowledgements, and must still all come.
    const ack = await b.connect({ clientId: 'rq', clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: 2 } });
    expect(ack.sessionPresent).toBe(true);
    const got: string[] = [];
    while (got.length < sent.length) {
      const m = (await b.next('publish')) as IPublishPacket;
      got.push(m.payload.toString());
      if (m.qos === 1) b.send({ cmd: 'puback', messageId: m.messageId as number });
      if (m.qos === 2) {
        b.send({ cmd: 'pubrec', messageId: m.messageId as number });
        await b.next('pubrel');
        b.send({ cmd: 'pubcomp', messageId: m.messageId as number });
      }
    }
    expect(got.sort()).toEqual(sent.sort());
  });
});

describe('a session expiry longer than a timer can wait', () => {
  it('a 30-day session is still there after 25 days and gone after 31', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const day = 24 * 3600;
    const s = serviceWith({ maxSessionExpiry: 30 * day });
    const a = new RawClient(s, 5);
    await a.connect({ clientId: 'long', clean: false, properties: { sessionExpiryInterval: 30 * day } });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'long/#', qos: 1 }] });
    await a.next('suback');
    a.send({ cmd: 'disconnect' });
    await a.waitClosed();
    await vi.advanceTimersByTimeAsync(25 * day * 1000);
    expect(queues()).toEqual(['mqtt-subscription-longqos1']);
    await vi.advanceTimersByTimeAsync(6 * day * 1000);
    expect(queues()).toEqual([]);
  });
});

describe('Message Expiry Interval (MQTT 5 §3.3.2.3.3)', () => {
  it('a queued message is sent with the interval less the time it waited; an expired one is not sent', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const a = new RawClient(service, 5);
    await a.connect({ clientId: 'mx', clean: false, properties: { sessionExpiryInterval: 600 } });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mx/#', qos: 1 }] });
    await a.next('suback');
    a.send({ cmd: 'disconnect' });
    await a.waitClosed();
    const p = new RawClient(service, 5);
    await p.connect({ clientId: 'mx-pub' });
    await publish(p, 'mx/short', 'gone', 1, 1, { messageExpiryInterval: 5 });
    await publish(p, 'mx/long', 'kept', 1, 2, { messageExpiryInterval: 60 });
    await publish(p, 'mx/none', 'forever', 1, 3);
    vi.setSystemTime(1_000_000 + 20_000);
    const b = new RawClient(service, 5);
    await b.connect({ clientId: 'mx', clean: false, properties: { sessionExpiryInterval: 600 } });
    const first = (await b.next('publish')) as IPublishPacket;
    const second = (await b.next('publish')) as IPublishPacket;
    expect([first.topic, first.properties?.messageExpiryInterval]).toEqual(['mx/long', 40]);
    expect(second.topic).toBe('mx/none');
    expect(second.properties?.messageExpiryInterval).toBeUndefined();
  });
  it('a retained message counts its interval down too, and a subscriber after it ran out gets nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(2_000_000);
    const p = new RawClient(service, 5);
    await p.connect({ clientId: 'rx-pub' });
    p.send({ cmd: 'publish', topic: 'rx/a', payload: Buffer.from('short'), qos: 1, messageId: 1, retain: true, dup: false, properties: { messageExpiryInterval: 30 } });
    await p.next('puback');
    p.send({ cmd: 'publish', topic: 'rx/b', payload: Buffer.from('forever'), qos: 1, messageId: 2, retain: true, dup: false });
    await p.next('puback');
    vi.setSystemTime(2_000_000 + 12_500);
    const a = new RawClient(service, 5);
    await a.connect({ clientId: 'rx-a' });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rx/+', qos: 1 }] });
    await a.next('suback');
    const got = [(await a.next('publish')) as IPublishPacket, (await a.next('publish')) as IPublishPacket];
    expect(got.map((m) => [m.topic, m.retain, m.properties?.messageExpiryInterval])).toEqual([
      ['rx/a', true, 18],
      ['rx/b', true, undefined],
    ]);
    vi.setSystemTime(2_000_000 + 30_000);
    const b = new RawClient(service, 5);
    await b.connect({ clientId: 'rx-b' });
    b.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rx/+', qos: 1 }] });
    await b.next('suback');
    expect(((await b.next('publish')) as IPublishPacket).topic).toBe('rx/b');
    b.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'rx/a', qos: 1 }] });
    await b.next('suback');
    // Retained messages follow their SUBACK; by the PINGRESP after it, none came for the expired topic.
    b.send({ cmd: 'pingreq' });
    await b.next('pingresp');
    expect(b.packets.filter((x) => x.cmd === 'publish')).toEqual([]);
  });
});

describe('Server Keep Alive (MQTT 5 §3.2.2.3.14)', () => {
  it('a client asking for more than the maximum, or for 0, gets Server Keep Alive; one asking for less does not', async () => {
    const s = serviceWith({ maxKeepAlive: 60 });
    const ask = async (keepalive: number, version: 4 | 5 = 5): Promise<IConnackPacket> => new RawClient(s, version).connect({ clientId: `ka${keepalive}-${version}`, keepalive });
    expect((await ask(0)).properties?.serverKeepAlive).toBe(60);
    expect((await ask(600)).properties?.serverKeepAlive).toBe(60);
    expect((await ask(30)).properties?.serverKeepAlive).toBeUndefined();
    // MQTT 3.1.1 cannot be told: it keeps its own keep-alive, as with Mosquitto 2.0.11 (max_keepalive 30: a 3.1.1
    // client asking for 0 or 60 is accepted).
    expect((await ask(0, 4)).returnCode).toBe(0);
    expect((await ask(600, 4)).returnCode).toBe(0);
  });

  it('the client is held to the Server Keep Alive: idle for 1.5 times it, it is disconnected with 0x8D', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const s = serviceWith({ maxKeepAlive: 10 });
    const c = new RawClient(s, 5);
    expect((await c.connect({ clientId: 'held', keepalive: 0 })).properties?.serverKeepAlive).toBe(10);
    vi.advanceTimersByTime(14_000);
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    vi.advanceTimersByTime(16_000);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x8d);
  });
});

describe('Receive Maximum (MQTT 5 §3.3.4)', () => {
  it('[MQTT-3.3.4-7] more unacknowledged QoS 2 PUBLISHes than the Receive Maximum: DISCONNECT 0x93', async () => {
    const s = serviceWith({ receiveMaximum: 2 });
    const c = new RawClient(s, 5);
    const ack = await c.connect({ clientId: 'rm' });
    expect(ack.properties?.receiveMaximum).toBe(2);
    for (const id of [1, 2]) {
      c.send({ cmd: 'publish', topic: 'rm', payload: Buffer.from('x'), qos: 2, messageId: id, retain: false, dup: false });
      await c.next('pubrec');
    }
    c.send({ cmd: 'publish', topic: 'rm', payload: Buffer.from('x'), qos: 2, messageId: 3, retain: false, dup: false });
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x93);
    await c.waitClosed();
  });

  it('a QoS 2 flow completed with PUBREL frees its place', async () => {
    const s = serviceWith({ receiveMaximum: 1 });
    const c = new RawClient(s, 5);
    await c.connect({ clientId: 'rm1' });
    for (const id of [1, 2, 3]) await publish(c, 'rm1', 'x', 2, id);
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    expect(c.packets.filter((p) => p.cmd === 'disconnect')).toEqual([]);
  });
});

describe('Authentication Method (MQTT 5 §4.12)', () => {
  it('[MQTT-4.12.0-1] an unsupported Authentication Method gets CONNACK 0x8C', async () => {
    const c = new RawClient(service, 5);
    const ack = await c.connect({ clientId: 'am', properties: { authenticationMethod: 'SCRAM-SHA-1' } });
    expect(ack.reasonCode).toBe(0x8c);
    await c.waitClosed();
  });
});

describe('$SYS statistics (as Mosquitto publishes them)', () => {
  const sysTopics = (c: RawClient): Map<string, IPublishPacket> => {
    const out = new Map<string, IPublishPacket>();
    for (const p of c.packets) if (p.cmd === 'publish' && p.topic.startsWith('$SYS/')) out.set(p.topic, p);
    return out;
  };

  it('a $SYS/# subscriber gets the current values at once (retained) and again every interval; # and + never match them [MQTT-4.7.2-1]', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = serviceWith({ sysInterval: 10 });
    const wild = new RawClient(s, 4);
    await wild.connect({ clientId: 'wild' });
    wild.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }, { topic: '+/broker/#', qos: 0 }, { topic: '+/+/uptime', qos: 0 }] });
    await wild.next('suback');
    const sys = new RawClient(s, 4);
    await sys.connect({ clientId: 'sys' });
    sys.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$SYS/#', qos: 0 }] });
    await sys.next('suback');
    await vi.waitFor(() => expect(sysTopics(sys).has('$SYS/broker/version')).toBe(true));
    const now = sysTopics(sys);
    for (const t of [
      '$SYS/broker/version',
      '$SYS/broker/uptime',
      '$SYS/broker/clients/connected',
      '$SYS/broker/messages/received',
      '$SYS/broker/messages/sent',
      '$SYS/broker/publish/messages/received',
      '$SYS/broker/publish/messages/sent',
      '$SYS/broker/bytes/received',
      '$SYS/broker/bytes/sent',
      '$SYS/broker/retained messages/count',
      '$SYS/broker/subscriptions/count',
      '$SYS/broker/shared_subscriptions/count',
      '$SYS/broker/publish/bytes/received',
      '$SYS/broker/publish/bytes/sent',
    ]) {
      expect(now.get(t)?.retain, t).toBe(true);
    }
    expect(now.get('$SYS/broker/clients/connected')?.payload.toString()).toBe('2');
    expect(now.get('$SYS/broker/subscriptions/count')?.payload.toString()).toBe('4');
    expect(now.get('$SYS/broker/uptime')?.payload.toString()).toMatch(/^\d+ seconds$/);
    expect(now.get('$SYS/broker/version')?.payload.toString()).toMatch(/^warren version /);
    sys.packets.length = 0;
    vi.advanceTimersByTime(10_000);
    const pub = new RawClient(s, 4);
    await pub.connect({ clientId: 'sys-pub' });
    await publish(pub, 'plain', 'x', 1, 1);
    await vi.waitFor(() => expect(sysTopics(sys).get('$SYS/broker/publish/messages/received')?.payload.toString()).toBe('0'));
    vi.advanceTimersByTime(10_000);
    await vi.waitFor(() => expect(sysTopics(sys).get('$SYS/broker/publish/messages/received')?.payload.toString()).toBe('1'));
    expect(sysTopics(sys).get('$SYS/broker/clients/connected')?.retain).toBe(false);
    // The wildcard subscriber got the plain message and nothing from $SYS.
    const first = (await wild.next('publish')) as IPublishPacket;
    expect(first.topic).toBe('plain');
    expect(wild.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
  });

  it('an interval of 0 publishes nothing', async () => {
    const s = serviceWith({ sysInterval: 0 });
    const sys = new RawClient(s, 4);
    await sys.connect({ clientId: 'nosys' });
    sys.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$SYS/#', qos: 0 }] });
    await sys.next('suback');
    sys.send({ cmd: 'pingreq' });
    await sys.next('pingresp');
    expect(sysTopics(sys).size).toBe(0);
  });
});
