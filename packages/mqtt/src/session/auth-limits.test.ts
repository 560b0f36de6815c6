/**
 * Who an MQTT client is (anonymous logins), what it may publish and subscribe to (topic permissions) and the limits
 * it counts against (vhost and user limits), as raw packets over an in-memory stream.
 */
import { Broker, silentLogger, type Logger } from '@warren/core';
import type { IDisconnectPacket, IPubackPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { createMqttService, type MqttServerOptions, type MqttService } from '../index.js';
import { RawClient } from '../testing/mqtt-test-server.js';

const REMOTE = { remoteAddress: '10.0.0.1' };

const open: Array<{ service: MqttService; broker: Broker }> = [];
afterEach(async () => {
  for (const { service, broker } of open.splice(0)) {
    await service.close();
    await broker.close();
  }
});

function recordingLogger(lines: string[]): Logger {
  const l: Logger = {
    debug: () => {},
    info: (o, m) => void lines.push(`${m ?? ''} ${JSON.stringify(o)}`),
    warn: (o, m) => void lines.push(`${m ?? ''} ${JSON.stringify(o)}`),
    error: (o, m) => void lines.push(`${m ?? ''} ${JSON.stringify(o)}`),
    child: () => l,
  };
  return l;
}

function setup(
  options: Partial<MqttServerOptions> = {},
  broker = new Broker({ logger: silentLogger }),
  logger: Logger = silentLogger,
): { broker: Broker; service: MqttService } {
  const service = createMqttService({ broker, logger, dataDir: '', options: { maxFrameSize: 1 << 20, ...options } });
  open.push({ service, broker });
  return { broker, service };
}

/** Answered by the server after everything sent before it: nothing else arrived in between. */
async function settled(c: RawClient): Promise<void> {
  c.send({ cmd: 'pingreq' });
  await c.next('pingresp');
}

describe('anonymous MQTT connections', () => {
  it('log in as the MQTT default user (guest) with its checks: accepted from loopback, refused (4 / 0x86) from elsewhere', async () => {
    const lines: string[] = [];
    const { broker, service } = setup({}, undefined, recordingLogger(lines));
    const local = new RawClient(service);
    expect((await local.connect()).returnCode).toBe(0);
    expect(broker.connections().map((c) => c.user.name)).toEqual(['guest']);
    // guest may connect from loopback only (RabbitMQ's loopback_users): so may an anonymous client logged in as guest.
    for (const version of [3, 4] as const) {
      const remote = new RawClient(service, version, REMOTE);
      expect((await remote.connect()).returnCode).toBe(4);
      await remote.waitClosed();
    }
    const remote5 = new RawClient(service, 5, REMOTE);
    expect((await remote5.connect()).reasonCode).toBe(0x86);
    expect(lines.filter((l) => l.includes('CONNECT refused') && l.includes('can only connect via localhost'))).toHaveLength(3);
    expect(broker.connections()).toHaveLength(1);
  });

  it('never log in as the broker default user: with only an administrator defined, they are refused from anywhere', async () => {
    const broker = new Broker({ logger: silentLogger, users: [{ name: 'admin', password: 'S3cret', tags: ['administrator'] }], loopbackUsers: [] });
    const lines: string[] = [];
    const { service } = setup({}, broker, recordingLogger(lines));
    for (const info of [{}, REMOTE]) {
      expect((await new RawClient(service, 4, info).connect()).returnCode).toBe(4);
      expect((await new RawClient(service, 3, info).connect()).returnCode).toBe(4);
      expect((await new RawClient(service, 5, info).connect()).reasonCode).toBe(0x86);
    }
    expect(lines.filter((l) => l.includes("CONNECT refused: authentication failed for user 'guest'"))).toHaveLength(6);
    expect(broker.connections()).toHaveLength(0);
    // The administrator still logs in by name, from anywhere (no loopback-only users).
    const named = new RawClient(service, 4, REMOTE);
    expect((await named.connect({ username: 'admin', password: Buffer.from('S3cret') })).returnCode).toBe(0);
    expect(broker.connections().map((c) => c.user.name)).toEqual(['admin']);
  });

  it('a configured anonymous user is that user, with its own permissions', async () => {
    const broker = new Broker({ logger: silentLogger, users: [{ name: 'admin', password: 'S3cret', tags: ['administrator'] }], loopbackUsers: [] });
    broker.addUser('anon', 'anon-pass');
    broker.setPermissions('anon', '/', { configure: '^mqtt-subscription-', write: '^mqtt-subscription-|^amq\\.topic$', read: '^mqtt-subscription-|^amq\\.topic$' });
    const { service } = setup({ anonymousUser: { username: 'anon', password: 'anon-pass' } }, broker);
    const c = new RawClient(service, 4, REMOTE);
    expect((await c.connect()).returnCode).toBe(0);
    expect(broker.connections().map((x) => x.user.name)).toEqual(['anon']);
    // A wrong configured password is refused as any bad login.
    const { service: wrong } = setup({ anonymousUser: { username: 'anon', password: 'nope' } }, broker);
    expect((await new RawClient(wrong, 4).connect()).returnCode).toBe(4);
  });
});

describe('topic permissions on amq.topic (MQTT topic a/b is routing key a.b)', () => {
  function withTopicPermission(write: string, read: string): MqttService {
    const { broker, service } = setup();
    broker.setTopicPermission('guest', '/', 'amq.topic', { write, read });
    return service;
  }

  it('{client_id} expands to the MQTT client id, on publish (write) and subscribe (read)', async () => {
    const service = withTopicPermission('^{client_id}\\.', '^{client_id}\\.');
    const c = new RawClient(service, 5);
    await c.connect({ clientId: 'dev1', username: 'guest', password: Buffer.from('guest') });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dev1/#', qos: 1 }, { topic: 'dev2/#', qos: 1 }] });
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([1, 0x87]);
    c.send({ cmd: 'publish', topic: 'dev1/t', payload: Buffer.from('mine'), qos: 1, messageId: 2, retain: false, dup: false });
    expect(((await c.next('puback')) as IPubackPacket).reasonCode ?? 0).toBe(0);
    expect(((await c.next('publish')) as IPublishPacket).payload.toString()).toBe('mine');
  });

  it('3.1.1: a refused SUBSCRIBE is 0x80 in the SUBACK; a refused PUBLISH closes the connection (RabbitMQ 3.10)', async () => {
    const service = withTopicPermission('^{client_id}\\.', '^{client_id}\\.');
    const c = new RawClient(service, 4);
    await c.connect({ clientId: 'dev1', username: 'guest', password: Buffer.from('guest') });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dev2/x', qos: 0 }, { topic: 'dev1/x', qos: 0 }] });
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([0x80, 0]);
    c.send({ cmd: 'publish', topic: 'dev2/x', payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false });
    await c.waitClosed();
    expect(c.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
  });

  it('MQTT 5: a refused QoS 1 PUBLISH gets PUBACK 0x87 and the connection stays; a refused QoS 0 one is DISCONNECT 0x87', async () => {
    const service = withTopicPermission('^allowed\\.', '.*');
    const c = new RawClient(service, 5);
    await c.connect({ username: 'guest', password: Buffer.from('guest') });
    c.send({ cmd: 'publish', topic: 'denied/x', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false });
    const ack = (await c.next('puback')) as IPubackPacket;
    expect(ack.messageId).toBe(7);
    expect(ack.reasonCode).toBe(0x87);
    await settled(c);
    c.send({ cmd: 'publish', topic: 'denied/x', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x87);
    await c.waitClosed();
  });

  it('a refused retained PUBLISH neither stores nor clears the retained message of the topic', async () => {
    const { broker, service } = setup();
    const owner = new RawClient(service, 5);
    await owner.connect({ clientId: 'owner', username: 'guest', password: Buffer.from('guest') });
    owner.send({ cmd: 'publish', topic: 'owner/state', payload: Buffer.from('kept'), qos: 1, messageId: 1, retain: true, dup: false });
    expect(((await owner.next('puback')) as IPubackPacket).reasonCode ?? 0).toBe(0);
    broker.setTopicPermission('guest', '/', 'amq.topic', { write: '^{client_id}\\.', read: '.*' });
    const intruder = new RawClient(service, 5);
    await intruder.connect({ clientId: 'intruder', username: 'guest', password: Buffer.from('guest') });
    // An empty retained payload would clear the topic's retained message; another one would replace it.
    intruder.send({ cmd: 'publish', topic: 'owner/state', payload: Buffer.alloc(0), qos: 1, messageId: 2, retain: true, dup: false });
    expect(((await intruder.next('puback')) as IPubackPacket).reasonCode).toBe(0x87);
    intruder.send({ cmd: 'publish', topic: 'other/state', payload: Buffer.from('forged'), qos: 1, messageId: 4, retain: true, dup: false });
    expect(((await intruder.next('puback')) as IPubackPacket).reasonCode).toBe(0x87);
    const reader = new RawClient(service, 5);
    await reader.connect({ clientId: 'reader', username: 'guest', password: Buffer.from('guest') });
    reader.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'owner/state', qos: 0 }, { topic: 'other/state', qos: 0 }] });
    await reader.next('suback');
    await settled(reader);
    const retained = reader.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
    expect(retained.map((p) => [p.topic, p.payload.toString()])).toEqual([['owner/state', 'kept']]);
  });

  it('a will refused by a topic permission is not published or retained', async () => {
    const { broker, service } = setup();
    broker.setTopicPermission('guest', '/', 'amq.topic', { write: '^{client_id}\\.', read: '.*' });
    const reader = new RawClient(service, 5);
    await reader.connect({ clientId: 'reader', username: 'guest', password: Buffer.from('guest') });
    reader.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alarm/#', qos: 0 }] });
    await reader.next('suback');
    const dying = new RawClient(service, 5);
    await dying.connect({
      clientId: 'dying',
      username: 'guest',
      password: Buffer.from('guest'),
      will: { topic: 'alarm/x', payload: Buffer.from('gone'), qos: 0, retain: true },
    } as never);
    dying.close();
    // The close reaches the server before the reader's PINGREQ is answered: the will, if any, was routed by then.
    while (broker.connections().length > 1) await new Promise((r) => setImmediate(r));
    await settled(reader);
    expect(reader.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
    const late = new RawClient(service, 5);
    await late.connect({ clientId: 'late', username: 'guest', password: Buffer.from('guest') });
    late.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'alarm/#', qos: 0 }] });
    await late.next('suback');
    await settled(late);
    expect(late.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
  });
});

describe('limits', () => {
  const login = { username: 'guest', password: Buffer.from('guest') };

  it('vhost max-connections: CONNACK 5 (3.1.1, as RabbitMQ) / 0x97 Quota exceeded (MQTT 5)', async () => {
    const { broker, service } = setup();
    broker.setVhostLimits('/', { 'max-connections': 0 });
    expect((await new RawClient(service, 4).connect(login)).returnCode).toBe(5);
    expect((await new RawClient(service, 5).connect(login)).reasonCode).toBe(0x97);
    expect(broker.connections()).toHaveLength(0);
  });

  it('user max-connections: the connection over the limit is refused, 5 / 0x97', async () => {
    const { broker, service } = setup();
    broker.setUserLimits('guest', { 'max-connections': 1 });
    expect((await new RawClient(service, 5).connect({ ...login, clientId: 'a' })).reasonCode).toBe(0);
    expect((await new RawClient(service, 4).connect({ ...login, clientId: 'b' })).returnCode).toBe(5);
    expect((await new RawClient(service, 5).connect({ ...login, clientId: 'c' })).reasonCode).toBe(0x97);
    expect(broker.connections()).toHaveLength(1);
  });

  it('user max-channels: an MQTT connection is one channel, refused 5 / 0x97, and leaves no core connection', async () => {
    const { broker, service } = setup();
    broker.setUserLimits('guest', { 'max-channels': 0 });
    const c4 = new RawClient(service, 4);
    expect((await c4.connect(login)).returnCode).toBe(5);
    await c4.waitClosed();
    const c5 = new RawClient(service, 5);
    expect((await c5.connect(login)).reasonCode).toBe(0x97);
    expect(broker.connections()).toHaveLength(0);
    broker.setUserLimits('guest', { 'max-channels': 1 });
    expect((await new RawClient(service, 5).connect(login)).reasonCode).toBe(0);
  });

  it("vhost max-queues: a SUBSCRIBE that needs a new queue is refused, 0x80 / 0x97 (RabbitMQ 3.13's MQTT 5)", async () => {
    const { broker, service } = setup();
    const c4 = new RawClient(service, 4);
    await c4.connect({ ...login, clientId: 'q4' });
    const c5 = new RawClient(service, 5);
    await c5.connect({ ...login, clientId: 'q5' });
    // q5's QoS 0 queue exists; the limit allows no more.
    c5.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] });
    expect(((await c5.next('suback')) as ISubackPacket).granted).toEqual([0]);
    broker.setVhostLimits('/', { 'max-queues': broker.vhost('/')!.queues.size });
    c4.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a', qos: 0 }] });
    expect(((await c4.next('suback')) as ISubackPacket).granted).toEqual([0x80]);
    // The existing queue takes another filter; a QoS 1 one needs a second queue.
    c5.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'b', qos: 0 }, { topic: 'c', qos: 1 }] });
    expect(((await c5.next('suback')) as ISubackPacket).granted).toEqual([0, 0x97]);
  });
});

