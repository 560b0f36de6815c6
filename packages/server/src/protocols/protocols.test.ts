/**
 * The protocol modules start.ts loops over: together they name every protocol listener of RunningBroker['ports']
 * once, with RabbitMQ's listener names, and each is made only when one of its listeners is on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import type { Broker } from '@warren/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listenersOff } from '../embedded.js';
import { startBroker, type RunningBroker } from '../start.js';
import { amqpProtocol } from './amqp.js';
import { mqttProtocol } from './mqtt.js';
import { stompProtocol } from './stomp.js';

const MODULES = [amqpProtocol, stompProtocol, mqttProtocol];

let running: RunningBroker | undefined;
let dataDir = '';
afterEach(async () => {
  await running?.stop();
  running = undefined;
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

describe('protocol modules', () => {
  it('name each protocol listener once, as the ports map and the listener logs have them', () => {
    const listeners = MODULES.flatMap((m) => [
      [m.tcp.name, m.tcp.portKey],
      [m.tls.name, m.tls.portKey],
      ...(m.web !== undefined ? [[m.web.name, m.web.portKey], [m.web.tlsName, m.web.tlsPortKey]] : []),
    ]);
    expect(listeners).toEqual([
      ['amqp', 'amqp'],
      ['amqps', 'amqps'],
      ['stomp', 'stomp'],
      ['stomps', 'stomps'],
      ['web-stomp', 'webStomp'],
      ['web-stomp-tls', 'webStompTls'],
      ['mqtt', 'mqtt'],
      ['mqtts', 'mqtts'],
      ['web-mqtt', 'webMqtt'],
      ['web-mqtt-tls', 'webMqttTls'],
    ]);
  });

  it('start only the listeners that are on, and fill the ports map from each module', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'warren-protocols-'));
    running = await startBroker({
      ...listenersOff(),
      dataDir,
      log: { level: 'silent' },
      stomp: { port: 0, tlsPort: null },
      webMqtt: { port: 0, tlsPort: null },
    });
    expect(Object.keys(running.ports).sort()).toEqual(['stomp', 'webMqtt']);
    expect(running.ports.stomp).toBeGreaterThan(0);
    expect(running.ports.webMqtt).toBeGreaterThan(0);
  });
});

describe('the one slow-consumer setting', () => {
  it('closes an MQTT subscriber that stops reading, after slowConsumerTimeoutMs', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'warren-protocols-'));
    running = await startBroker({
      ...listenersOff(),
      dataDir,
      log: { level: 'silent' },
      mqtt: { port: 0, tlsPort: null },
      slowConsumerTimeoutMs: 200,
    });
    const core = running.broker as Broker;
    const port = running.ports.mqtt as number;
    const connect = (clientId: string): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('error', reject);
        s.once('connect', () => {
          s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 }));
          s.once('data', () => resolve(s));
        });
      });
    const subscriber = await connect('slow');
    subscriber.on('error', () => {});
    subscriber.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 0 }] }));
    await new Promise((r) => subscriber.once('data', r));
    // From now on the subscriber reads nothing: its deliveries pile up in the kernel and then in the broker's writer.
    subscriber.pause();
    const publisher = await connect('fast');
    const publish = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(64 * 1024), qos: 0, retain: false, dup: false });
    const open = (): string[] => core.connections().map((c) => c.info.clientId ?? '');
    // Far more than the kernel's socket buffers and the writer's high-water mark hold, unless the broker lets go first.
    for (let i = 0; i < 2000 && open().includes('slow'); i++) {
      if (!publisher.write(publish)) await new Promise((r) => publisher.once('drain', r));
    }
    await vi.waitFor(() => expect(open()).toEqual(['fast']), { timeout: 10_000 });
    publisher.destroy();
    subscriber.destroy();
  });
});
