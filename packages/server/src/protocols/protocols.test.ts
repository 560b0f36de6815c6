/**
 * The protocol modules start.ts loops over: together they name every protocol listener of RunningBroker['ports']
 * once, with RabbitMQ's listener names, and each is made only when one of its listeners is on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
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
