/**
 * Persistent MQTT sessions and retained messages across a broker restart, through the real composition root
 * (startBroker with a data directory), with AMQP on the same broker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker as startBroker, type RunningBroker } from '@warren/server';
import amqp from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';

let running: RunningBroker | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

async function start(): Promise<{ mqttUrl: string; amqpUrl: string }> {
  dataDir ??= await mkdtemp(join(tmpdir(), 'warren-mqtt-restart-'));
  running = await startBroker({
    dataDir,
    host: '127.0.0.1',
    log: { level: 'silent' },
    amqp: { port: 0, tlsPort: null },
    stomp: { port: null, tlsPort: null },
    mqtt: { port: 0, tlsPort: null },
  } as Parameters<typeof startBroker>[0]);
  const ports = running.ports as Record<string, number>;
  return { mqttUrl: `mqtt://127.0.0.1:${ports['mqtt']}`, amqpUrl: `amqp://guest:guest@127.0.0.1:${ports['amqp']}` };
}

function nextMessage(c: MqttClient): Promise<{ topic: string; payload: string; qos: number; retain: boolean }> {
  return new Promise((resolve) => c.once('message', (topic, payload, packet) => resolve({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain })));
}

describe('across a restart', () => {
  it('a persistent session keeps its subscription and the QoS 1 message an AMQP publisher queued for it', async () => {
    let urls = await start();
    const sub = await mqtt.connectAsync(urls.mqttUrl, { clientId: 'restart-sub', clean: false, reconnectPeriod: 0 });
    await sub.subscribeAsync('plant/+/alarm', { qos: 1 });
    await sub.endAsync();
    const conn = await amqp.connect(urls.amqpUrl);
    const ch = await conn.createConfirmChannel();
    ch.publish('amq.topic', 'plant.boiler.alarm', Buffer.from('overheat'), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
    await running?.stop();

    urls = await start();
    const again = mqtt.connect(urls.mqttUrl, { clientId: 'restart-sub', clean: false, reconnectPeriod: 0, manualConnect: true });
    const got = nextMessage(again);
    const connack = new Promise<boolean>((resolve) => again.once('connect', (p) => resolve(p.sessionPresent)));
    again.connect();
    expect(await connack).toBe(true);
    expect(await got).toEqual({ topic: 'plant/boiler/alarm', payload: 'overheat', qos: 1, retain: false });
    // The subscription itself survived too: a new publish is routed to it.
    const pub = await mqtt.connectAsync(urls.mqttUrl, { reconnectPeriod: 0 });
    const next = nextMessage(again);
    await pub.publishAsync('plant/pump/alarm', 'dry', { qos: 1 });
    expect((await next).payload).toBe('dry');
    await pub.endAsync();
    await again.endAsync();
  });

  it('retained messages survive and reach wildcard subscribers', async () => {
    let urls = await start();
    const pub = await mqtt.connectAsync(urls.mqttUrl, { reconnectPeriod: 0 });
    await pub.publishAsync('house/hall/light', 'off', { qos: 1, retain: true });
    await pub.endAsync();
    await running?.stop();
    urls = await start();
    const sub = await mqtt.connectAsync(urls.mqttUrl, { reconnectPeriod: 0 });
    const got = nextMessage(sub);
    await sub.subscribeAsync('house/#', { qos: 1 });
    expect(await got).toEqual({ topic: 'house/hall/light', payload: 'off', qos: 1, retain: true });
    await sub.endAsync();
  });
});
