/**
 * Interop: MQTT over WebSocket (web-mqtt, RabbitMQ's web_mqtt) with mqtt.js over ws:// in Node, packets split and
 * packed by hand over a raw WebSocket, cross-protocol with amqplib and an MQTT device over TCP, and bad input.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { rawWebSocket, startWebBroker, untilClosed, type WebBroker } from './web-harness.js';

let broker: WebBroker;
const clients: MqttClient[] = [];
const sockets: WebSocket[] = [];
beforeAll(async () => {
  broker = await startWebBroker();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  for (const s of sockets.splice(0)) s.terminate();
});
afterAll(async () => {
  await broker.stop();
});

const id = (): string => randomBytes(4).toString('hex');

async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, {
    username: 'guest',
    password: 'guest',
    clientId: `web-${id()}`,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  clients.push(c);
  return c;
}

function nextMessage(c: MqttClient): Promise<{ topic: string; payload: string; qos: number }> {
  return new Promise((resolve) =>
    c.once('message', (topic, payload, packet) => resolve({ topic, payload: payload.toString(), qos: packet.qos })),
  );
}

const packet = (p: Record<string, unknown>): Buffer => mqttPacket.generate(p as unknown as mqttPacket.Packet);
const CONNECT = packet({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 4,
  clean: true,
  clientId: 'raw-ws',
  keepalive: 0,
  username: 'guest',
  password: Buffer.from('guest'),
});

/** Parse every MQTT packet the server sends on a raw WebSocket. */
function packets(ws: WebSocket): { next(cmd: string): Promise<mqttPacket.Packet> } {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const seen: mqttPacket.Packet[] = [];
  const waiters: Array<{ cmd: string; resolve: (p: mqttPacket.Packet) => void }> = [];
  parser.on('packet', (p: mqttPacket.Packet) => {
    const i = waiters.findIndex((w) => w.cmd === p.cmd);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(p);
    else seen.push(p);
  });
  ws.on('message', (d: Buffer) => parser.parse(Buffer.from(d)));
  return {
    next(cmd) {
      const i = seen.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0]!);
      return new Promise((resolve) => waiters.push({ cmd, resolve }));
    },
  };
}

describe.each([
  ['3.1.1', { protocolVersion: 4 }],
  ['5', { protocolVersion: 5 }],
  ['3.1 (subprotocol mqttv3.1)', { protocolVersion: 3, protocolId: 'MQIsdp' }],
] as const)('mqtt.js over ws://, MQTT %s', (_name, version) => {
  it('QoS 0 and QoS 1 publish/subscribe', async (ctx) => {
    // RabbitMQ 3.10 has no MQTT 5.
    if (broker.reference && version.protocolVersion === 5) ctx.skip();
    const c = await connect(broker.webMqttUrl, version as IClientOptions);
    const base = `web/${id()}`;
    await c.subscribeAsync(`${base}/+`, { qos: 1 });
    const got1 = nextMessage(c);
    await c.publishAsync(`${base}/one`, 'qos1', { qos: 1 });
    expect(await got1).toEqual({ topic: `${base}/one`, payload: 'qos1', qos: 1 });
    const got0 = nextMessage(c);
    await c.publishAsync(`${base}/zero`, 'qos0', { qos: 0 });
    expect(await got0).toEqual({ topic: `${base}/zero`, payload: 'qos0', qos: 0 });
  });
});

describe('web-mqtt across protocols', () => {
  it('an MQTT device over TCP and an AMQP publisher reach a WebSocket subscriber; its publish reaches AMQP', async () => {
    const page = await connect(broker.webMqttUrl);
    const device = await connect(broker.mqttUrl);
    const base = id();
    await page.subscribeAsync(`${base}/#`, { qos: 0 });

    const fromDevice = nextMessage(page);
    await device.publishAsync(`${base}/kitchen/temp`, '21.5');
    expect(await fromDevice).toMatchObject({ topic: `${base}/kitchen/temp`, payload: '21.5' });

    const conn = await amqp.connect(broker.amqpUrl);
    try {
      const ch = await conn.createConfirmChannel();
      const fromAmqp = nextMessage(page);
      ch.publish('amq.topic', `${base}.hall.temp`, Buffer.from('19.0'));
      await ch.waitForConfirms();
      expect(await fromAmqp).toMatchObject({ topic: `${base}/hall/temp`, payload: '19.0' });

      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, 'amq.topic', `${base}.commands.*`);
      const got = new Promise<amqp.ConsumeMessage>((resolve) => {
        void ch.consume(queue, (m) => m && resolve(m), { noAck: true });
      });
      await page.publishAsync(`${base}/commands/window`, 'open', { qos: 1 });
      const m = await got;
      expect(m.content.toString()).toBe('open');
      expect(m.fields.routingKey).toBe(`${base}.commands.window`);
    } finally {
      await conn.close();
    }
  });
});

describe('web-mqtt packets and WebSocket messages', () => {
  it('a packet split over several messages, and several packets packed in one', async () => {
    const ws = await rawWebSocket(broker.webMqttUrl, ['mqtt']);
    sockets.push(ws);
    const rx = packets(ws);
    for (let i = 0; i < CONNECT.length; i += 5) ws.send(CONNECT.subarray(i, i + 5));
    expect(await rx.next('connack')).toMatchObject({ returnCode: 0 });
    const topic = `raw/${id()}`;
    ws.send(
      Buffer.concat([
        packet({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }),
        packet({ cmd: 'pingreq' }),
      ]),
    );
    await rx.next('suback');
    await rx.next('pingresp');
    ws.send(packet({ cmd: 'publish', topic, payload: Buffer.from('packed'), qos: 0, dup: false, retain: false }));
    const p = (await rx.next('publish')) as mqttPacket.IPublishPacket;
    expect(p.topic).toBe(topic);
    expect(p.payload.toString()).toBe('packed');
  });

  it('a wrong password is refused (CONNACK return code 4 or 5) and the WebSocket closes', async () => {
    const ws = await rawWebSocket(broker.webMqttUrl, ['mqtt']);
    sockets.push(ws);
    const rx = packets(ws);
    const closed = untilClosed(ws);
    ws.send(packet({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true,
      clientId: `bad-${id()}`, keepalive: 0, username: 'guest', password: Buffer.from('wrong') }));
    if (!broker.reference) {
      // RabbitMQ 3.10's web_mqtt closes with 1002 without a CONNACK; Warren answers as on TCP, then closes.
      const connack = (await rx.next('connack')) as mqttPacket.IConnackPacket;
      expect([4, 5]).toContain(connack.returnCode);
    }
    await closed;
  });
});

describe('web-mqtt bad input', () => {
  it('a malformed packet (CONNECT cut short inside its length) closes that WebSocket and nothing else', async () => {
    const other = await connect(broker.webMqttUrl);
    const ws = await rawWebSocket(broker.webMqttUrl, ['mqtt']);
    sockets.push(ws);
    const closed = untilClosed(ws);
    // Remaining length 3, but the protocol name length says 4 bytes follow: the packet is truncated within itself.
    ws.send(Buffer.from([0x10, 0x03, 0x00, 0x04, 0x4d]));
    ws.send(Buffer.from([0xe0, 0x00]));
    await closed;
    const topic = `alive/${id()}`;
    await other.subscribeAsync(topic);
    const got = nextMessage(other);
    await other.publishAsync(topic, 'still here');
    expect((await got).payload).toBe('still here');
  });

  it.skipIf(process.env['WARREN_INTEROP_WEB_REFERENCE'] === '1')(
    'a text WebSocket message closes the connection with 1003 ([MQTT-6.0.0-1]: binary frames only)',
    async () => {
      const ws = await rawWebSocket(broker.webMqttUrl, ['mqtt']);
      sockets.push(ws);
      const closed = untilClosed(ws);
      ws.send(CONNECT.toString('latin1'));
      expect((await closed).code).toBe(1003);
    },
  );

  it.skipIf(process.env['WARREN_INTEROP_WEB_REFERENCE'] === '1')(
    'a client offering a non-MQTT subprotocol cannot open the WebSocket',
    async () => {
      const { default: WebSocketClient } = await import('ws');
      const ws = new WebSocketClient(broker.webMqttUrl, ['v12.stomp']);
      sockets.push(ws);
      const error = await new Promise<Error>((resolve) => ws.once('error', resolve));
      expect(error.message).toMatch(/no subprotocol/);
    },
  );

  it.skipIf(process.env['WARREN_INTEROP_WEB_REFERENCE'] === '1')(
    'an oversized WebSocket message closes that connection with 1009',
    async () => {
      const small = await startWebBroker({ mqtt: { port: null, tlsPort: null, maxPacketSize: 1024 } });
      try {
        const ws = await rawWebSocket(small.webMqttUrl, ['mqtt']);
        sockets.push(ws);
        const closed = untilClosed(ws);
        ws.send(Buffer.alloc(2048));
        expect((await closed).code).toBe(1009);
      } finally {
        await small.stop();
      }
    },
  );
});
