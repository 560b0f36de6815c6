/**
 * Cross-protocol MQTT ⇄ STOMP through the core (RabbitMQ's /topic destinations on amq.topic), with a raw STOMP 1.2
 * client over TCP and mqtt.js.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker as startBroker, type RunningBroker } from '@warren/server';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';

let running: RunningBroker;
let dataDir: string;
let ports: Record<string, number>;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'warren-mqtt-stomp-'));
  running = await startBroker({
    dataDir,
    host: '127.0.0.1',
    log: { level: 'silent' },
    amqp: { port: null, tlsPort: null },
    stomp: { port: 0, tlsPort: null },
    mqtt: { port: 0, tlsPort: null },
  } as Parameters<typeof startBroker>[0]);
  ports = running.ports as Record<string, number>;
});
afterAll(async () => {
  await running.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A STOMP connection that collects MESSAGE frames' bodies and destinations. */
async function stomp(): Promise<{ send(frame: string): void; frames: string[]; waitFor(re: RegExp): Promise<string>; close(): void }> {
  const socket = net.connect({ host: '127.0.0.1', port: ports['stomp'] as number });
  let buf = '';
  const frames: string[] = [];
  let wake: () => void = () => undefined;
  socket.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\0')) >= 0) {
      frames.push(buf.slice(0, i).replace(/^\n+/, ''));
      buf = buf.slice(i + 1);
    }
    wake();
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const api = {
    frames,
    send: (frame: string) => void socket.write(frame),
    async waitFor(re: RegExp): Promise<string> {
      for (;;) {
        const f = frames.find((x) => re.test(x));
        if (f !== undefined) return f;
        await new Promise<void>((r) => (wake = r));
      }
    },
    close: () => void socket.destroy(),
  };
  api.send('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0');
  await api.waitFor(/^CONNECTED/);
  return api;
}

it('a STOMP SEND to /topic/sensors.kitchen.temp reaches an MQTT subscriber of sensors/+/temp', async () => {
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports['mqtt']}`, { reconnectPeriod: 0 });
  await sub.subscribeAsync('sensors/+/temp', { qos: 1 });
  const got = new Promise<[string, string]>((resolve) => sub.once('message', (t, p) => resolve([t, p.toString()])));
  const s = await stomp();
  s.send('SEND\ndestination:/topic/sensors.kitchen.temp\ncontent-type:text/plain\n\n21.5\0');
  expect(await got).toEqual(['sensors/kitchen/temp', '21.5']);
  s.close();
  await sub.endAsync();
});

it('an MQTT publish to cmd/kitchen reaches a STOMP subscription on /topic/cmd.*', async () => {
  const s = await stomp();
  s.send('SUBSCRIBE\nid:1\ndestination:/topic/cmd.*\nreceipt:r1\n\n\0');
  await s.waitFor(/^RECEIPT/);
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports['mqtt']}`, { reconnectPeriod: 0 });
  await pub.publishAsync('cmd/kitchen', 'on', { qos: 1 });
  const frame = await s.waitFor(/^MESSAGE/);
  expect(frame).toMatch(/\ndestination:\/topic\/cmd\.kitchen\n/);
  expect(frame.endsWith('\n\non')).toBe(true);
  s.close();
  await pub.endAsync();
});
