/**
 * Interop: mqtt.js (MQTT 3.1.1 and 5) against Warren's MQTT adapter over loopback TCP, plus the cross-protocol
 * mapping with amqplib (DESIGN.md §4).
 */
import { createAmqpService } from '@warren/amqp';
import { silentLogger } from '@warren/core';
import { listen, type Listener } from '@warren/transport';
import amqp from 'amqplib';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMqttTestServer, type MqttTestServer } from '../../packages/mqtt/src/testing/mqtt-test-server.js';

let server: MqttTestServer;
let amqpListener: Listener;
const clients: MqttClient[] = [];

beforeAll(async () => {
  server = await startMqttTestServer();
  // The AMQP adapter on the same core broker.
  const amqp = createAmqpService({
    broker: server.broker,
    logger: silentLogger,
    options: { frameMax: 131072, channelMax: 2047, heartbeat: 0, maxMessageSize: 134217728, handshakeTimeoutMs: 10000 },
  });
  amqpListener = await listen({ name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0 }, (socket, info) =>
    amqp.handleConnection(socket, info),
  );
});
afterAll(async () => {
  for (const c of clients) c.end(true);
  await amqpListener.close();
  await server.stop();
});

async function amqpPort(): Promise<number> {
  return amqpListener.port;
}

async function connect(options: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(server.url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  clients.push(c);
  return c;
}

function nextMessage(c: MqttClient): Promise<{ topic: string; payload: Buffer; packet: mqtt.IPublishPacket }> {
  return new Promise((resolve) => c.once('message', (topic, payload, packet) => resolve({ topic, payload, packet })));
}

describe.each([4, 5] as const)('mqtt.js protocol %i', (protocolVersion) => {
  it('QoS 0 and QoS 1 publish/subscribe', async () => {
    const sub = await connect({ protocolVersion, clientId: `sub-${protocolVersion}` });
    const pub = await connect({ protocolVersion });
    await sub.subscribeAsync('t/+/x', { qos: 1 });
    const got = nextMessage(sub);
    await pub.publishAsync('t/a/x', 'hello', { qos: 1 });
    const m = await got;
    expect(m.topic).toBe('t/a/x');
    expect(m.payload.toString()).toBe('hello');
    expect(m.packet.qos).toBe(1);
    const got0 = nextMessage(sub);
    await pub.publishAsync('t/b/x', 'zero', { qos: 0 });
    expect((await got0).packet.qos).toBe(0);
  });

  it('QoS 2 both ways', async () => {
    const sub = await connect({ protocolVersion });
    const pub = await connect({ protocolVersion });
    await sub.subscribeAsync('q2/#', { qos: 2 });
    const got = nextMessage(sub);
    await pub.publishAsync('q2/a', 'exactly once', { qos: 2 });
    const m = await got;
    expect(m.packet.qos).toBe(2);
    expect(m.payload.toString()).toBe('exactly once');
  });

  it('retained messages reach exact and wildcard subscribers; empty payload clears', async () => {
    const pub = await connect({ protocolVersion });
    await pub.publishAsync(`ret${protocolVersion}/kitchen/temp`, '21', { qos: 1, retain: true });
    const sub = await connect({ protocolVersion });
    const got = nextMessage(sub);
    await sub.subscribeAsync(`ret${protocolVersion}/+/temp`, { qos: 1 });
    const m = await got;
    expect(m.payload.toString()).toBe('21');
    expect(m.packet.retain).toBe(true);
    await pub.publishAsync(`ret${protocolVersion}/kitchen/temp`, '', { qos: 1, retain: true });
    const sub2 = await connect({ protocolVersion });
    let received = 0;
    sub2.on('message', () => received++);
    await sub2.subscribeAsync(`ret${protocolVersion}/#`, { qos: 1 });
    // A round trip on the same connection proves nothing retained was queued before it.
    const probe = nextMessage(sub2);
    await pub.publishAsync(`ret${protocolVersion}/probe`, 'p', { qos: 1 });
    expect((await probe).topic).toBe(`ret${protocolVersion}/probe`);
    expect(received).toBe(1);
  });

  it('will is sent on abnormal disconnect, not on clean DISCONNECT', async () => {
    const watcher = await connect({ protocolVersion });
    await watcher.subscribeAsync(`will${protocolVersion}/#`, { qos: 1 });
    const clean = await connect({ protocolVersion, will: { topic: `will${protocolVersion}/clean`, payload: Buffer.from('x'), qos: 1, retain: false } });
    await clean.endAsync();
    const dirty = await connect({ protocolVersion, will: { topic: `will${protocolVersion}/dirty`, payload: Buffer.from('gone'), qos: 1, retain: false } });
    const got = nextMessage(watcher);
    dirty.stream.destroy();
    const m = await got;
    expect(m.topic).toBe(`will${protocolVersion}/dirty`);
    expect(m.payload.toString()).toBe('gone');
  });

  it('[MQTT-3.1.4-3] a second connection with the same client id takes over', async () => {
    const first = await connect({ protocolVersion, clientId: `dup-${protocolVersion}` });
    const closed = new Promise<void>((r) => first.once('close', () => r()));
    await connect({ protocolVersion, clientId: `dup-${protocolVersion}` });
    await closed;
  });
});

describe('cross-protocol with AMQP (amqplib)', () => {
  it('an AMQP queue bound with sensors.*.temp receives sensors/kitchen/temp with RabbitMQ headers', async () => {
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${await amqpPort()}`);
    try {
      const ch = await conn.createChannel();
      const q = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(q.queue, 'amq.topic', 'sensors.*.temp');
      const pub = await connect({ protocolVersion: 5 });
      await pub.publishAsync('sensors/kitchen/temp', '22.5', {
        qos: 1,
        properties: { userProperties: { unit: 'C' }, contentType: 'text/plain', correlationData: Buffer.from('c-1'), responseTopic: 'replies/x', messageExpiryInterval: 60 },
      });
      const m = await waitGet(ch, q.queue);
      expect(m.fields.routingKey).toBe('sensors.kitchen.temp');
      expect(m.content.toString()).toBe('22.5');
      expect(m.properties.deliveryMode).toBe(2);
      expect(m.properties.contentType).toBe('text/plain');
      expect(m.properties.correlationId).toBe('c-1');
      expect(m.properties.expiration).toBe('60000');
      expect(m.properties.headers).toMatchObject({ unit: 'C', 'x-mqtt-publish-qos': 1, 'x-mqtt-dup': false, 'x-reply-to-topic': 'replies/x' });
    } finally {
      await conn.close();
    }
  });

  it('an AMQP publish to amq.topic with key cmd.kitchen reaches an MQTT subscriber of cmd/+', async () => {
    const sub = await connect({ protocolVersion: 5 });
    await sub.subscribeAsync('cmd/+', { qos: 1 });
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${await amqpPort()}`);
    try {
      const ch = await conn.createChannel();
      const got = nextMessage(sub);
      ch.publish('amq.topic', 'cmd.kitchen', Buffer.from('on'), { persistent: true, headers: { who: 'amqp' }, contentType: 'text/plain' });
      const m = await got;
      expect(m.topic).toBe('cmd/kitchen');
      expect(m.payload.toString()).toBe('on');
      expect(m.packet.qos).toBe(1);
      expect(m.packet.properties?.userProperties).toMatchObject({ who: 'amqp' });
      expect(m.packet.properties?.contentType).toBe('text/plain');
    } finally {
      await conn.close();
    }
  });
});

async function waitGet(ch: amqp.Channel, queue: string): Promise<amqp.GetMessage> {
  for (let i = 0; i < 200; i++) {
    const m = await ch.get(queue, { noAck: true });
    if (m !== false) return m;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no message');
}
