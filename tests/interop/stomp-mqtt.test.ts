/**
 * STOMP ⇄ MQTT through the shared core (DESIGN.md §4): MQTT topics are amq.topic routing keys with `/` ↔ `.`, so an
 * MQTT device and a STOMP `/topic/` client see each other's messages. mqtt.js and @stomp/stompjs over TCP, against
 * one embedded Warren.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { Client, type IMessage } from '@stomp/stompjs';
import { TcpWebSocket } from './tcp-websocket.js';

let stompPort = 0;
let mqttPort = 0;
let stop: () => Promise<void> = async () => {};

beforeAll(async () => {
  const { startEmbeddedBroker: startBroker, SETTINGS } = await import('@warren/server');
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-stomp-mqtt-'));
  const config: Record<string, unknown> = { dataDir, log: { level: 'silent' } };
  for (const setting of SETTINGS) {
    const [section, field] = setting.path.split('.');
    if (setting.kind !== 'port' || section === undefined || field === undefined) continue;
    ((config[section] ??= {}) as Record<string, unknown>)[field] = field === 'port' ? 0 : null;
  }
  const running = await startBroker(config as Parameters<typeof startBroker>[0]);
  const ports = running.ports as Record<string, number | undefined>;
  stompPort = ports['stomp'] ?? 0;
  mqttPort = ports['mqtt'] ?? 0;
  stop = async () => {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
});
afterAll(() => stop());

function within<T>(p: Promise<T>, ms = 5000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms))]);
}

function stompClient(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new TcpWebSocket(stompPort),
      connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      onConnect: () => resolve(client),
      onStompError: (f) => reject(new Error(f.headers['message'])),
    });
    client.activate();
  });
}

/** Resolves once every frame sent before it has been processed (a RECEIPT round trip). */
function settled(client: Client, id: string): Promise<void> {
  return new Promise((resolve) => {
    client.watchForReceipt(id, () => resolve());
    client.publish({ destination: '/exchange/amq.fanout', body: '', headers: { receipt: id } });
  });
}

describe('MQTT ⇄ STOMP', () => {
  it('an MQTT 5 QoS 1 publish with a user property reaches /topic/sensors.kitchen.* as persistent:true with the header', async () => {
    const stomp = await stompClient();
    const got = new Promise<IMessage>((resolve) => stomp.subscribe('/topic/sensors.kitchen.*', resolve, { id: 'k' }));
    await settled(stomp, 'sub-ready');
    const device: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0 });
    await device.publishAsync('sensors/kitchen/temp', '21.5', { qos: 1, properties: { userProperties: { unit: 'celsius' }, contentType: 'text/plain' } });
    const m = await within(got);
    expect(m.body).toBe('21.5');
    expect(m.headers).toMatchObject({
      destination: '/topic/sensors.kitchen.temp',
      persistent: 'true',
      unit: 'celsius',
      'content-type': 'text/plain',
    });
    await device.endAsync();
    await stomp.deactivate();
  });

  it('a STOMP SEND to /topic/sensors.hall.temp reaches an MQTT subscriber of sensors/+/temp', async () => {
    const device: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0 });
    await device.subscribeAsync('sensors/+/temp', { qos: 1 });
    const got = new Promise<{ topic: string; payload: Buffer; packet: mqtt.IPublishPacket }>((resolve) =>
      device.once('message', (topic, payload, packet) => resolve({ topic, payload, packet })),
    );
    const stomp = await stompClient();
    stomp.publish({ destination: '/topic/sensors.hall.temp', body: '19', headers: { persistent: 'true', room: 'hall' } });
    const m = await within(got);
    expect(m.topic).toBe('sensors/hall/temp');
    expect(m.payload.toString()).toBe('19');
    expect(m.packet.qos).toBe(1);
    expect(m.packet.properties?.userProperties).toMatchObject({ room: 'hall' });
    await device.endAsync();
    await stomp.deactivate();
  });
});
