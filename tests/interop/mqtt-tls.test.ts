/**
 * MQTT over TLS (8883) through the real composition root, with the generated self-signed certificate, and vhost
 * selection by `vhost:user` usernames.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker as startBroker, type RunningBroker } from '@warren/server';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';

let running: RunningBroker;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'warren-mqtt-tls-'));
  running = await startBroker({
    dataDir,
    host: '127.0.0.1',
    log: { level: 'silent' },
    amqp: { port: null, tlsPort: null },
    stomp: { port: null, tlsPort: null },
    mqtt: { port: 0, tlsPort: 0 },
    tls: { selfSigned: true },
  } as Parameters<typeof startBroker>[0]);
});
afterAll(async () => {
  await running.stop();
  await rm(dataDir, { recursive: true, force: true });
});

it('mqtts: publish and subscribe over TLS (QoS 1)', async () => {
  const port = (running.ports as Record<string, number>)['mqtts'];
  const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { rejectUnauthorized: false, reconnectPeriod: 0, username: 'guest', password: 'guest' });
  await c.subscribeAsync('secure/+', { qos: 1 });
  const got = new Promise<string>((resolve) => c.once('message', (_t, payload) => resolve(payload.toString())));
  await c.publishAsync('secure/x', 'over tls', { qos: 1 });
  expect(await got).toBe('over tls');
  await c.endAsync();
});

it('`/:guest` selects the default vhost explicitly; an unknown vhost is refused', async () => {
  const port = (running.ports as Record<string, number>)['mqtt'];
  const ok = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, username: '/:guest', password: 'guest' });
  await ok.endAsync();
  await expect(
    mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, username: 'nope:guest', password: 'guest' }),
  ).rejects.toThrow(/Not authorized/i);
});
