/**
 * Interop: the management API lists real clients of every protocol (amqplib, mqtt.js over TCP and WebSocket,
 * stompit, @stomp/stompjs over WebSocket) with RabbitMQ 3.10's `protocol` labels and fields, and closes them
 * (DELETE /api/connections/{name}) the way RabbitMQ does: amqplib sees 320 CONNECTION_FORCED with the text, an
 * MQTT 5 client a DISCONNECT 0x98, stompit the ERROR frame "AMQP channel died".
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import { Client } from '@stomp/stompjs';
import amqp from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import type { RunningBroker } from '@warren/server';

// mqtt.js over ws:// in vitest needs ws's CommonJS static (see web-harness.ts).
(WebSocket as unknown as { createWebSocketStream?: typeof createWebSocketStream }).createWebSocketStream ??= createWebSocketStream;

const require = createRequire(import.meta.url);
interface StompitClient {
  on(event: 'error', cb: (err: Error & { longMessage?: string }) => void): void;
  disconnect(): void;
}
const stompit = require('stompit') as {
  connect(options: object, cb: (err: Error | null, client: StompitClient) => void): void;
};

let running: RunningBroker;
let api: string;
const AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

beforeAll(async () => {
  const { startEmbeddedBroker } = await import('@warren/server');
  running = await startEmbeddedBroker();
  api = `http://127.0.0.1:${running.ports.management}/api`;
});
afterAll(() => running.stop());

async function get(path: string): Promise<unknown> {
  const res = await fetch(`${api}${path}`, { headers: { authorization: AUTH } });
  expect(res.status, path).toBe(200);
  return res.json();
}
async function closeConnection(name: string, reason?: string): Promise<number> {
  const headers: Record<string, string> = { authorization: AUTH };
  if (reason !== undefined) headers['x-reason'] = reason;
  const res = await fetch(`${api}/connections/${encodeURIComponent(name)}`, { method: 'DELETE', headers });
  return res.status;
}
type Conn = Record<string, unknown> & { name: string; protocol: string; peer_port: number };
/** The listed connection whose peer port is `port` (each client's local port). */
async function listed(port: number): Promise<Conn> {
  for (let i = 0; i < 50; i++) {
    const c = ((await get('/connections')) as Conn[]).find((x) => x.peer_port === port);
    if (c !== undefined) return c;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no connection from port ${port}`);
}

function mqttLocalPort(c: MqttClient): number {
  const s = c.stream as unknown as { localPort?: number; _socket?: { localPort?: number }; socket?: { _socket?: { localPort?: number } } };
  return s.localPort ?? s._socket?.localPort ?? s.socket?._socket?.localPort ?? 0;
}

describe('listing every protocol', () => {
  it('AMQP: client properties, connection_name, channels, frame_max, traffic', async () => {
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${running.ports.amqp}`, { clientProperties: { connection_name: 'orders-service' } });
    try {
      const ch = await conn.createConfirmChannel();
      const q = await ch.assertQueue('', { exclusive: true });
      await ch.prefetch(7);
      await ch.consume(q.queue, () => {}, { consumerTag: 'interop-tag' });
      const port = (conn.connection as unknown as { stream: { localPort: number } }).stream.localPort;
      const c = await listed(port);
      expect(c).toMatchObject({
        protocol: 'AMQP 0-9-1', name: `127.0.0.1:${port} -> 127.0.0.1:${running.ports.amqp}`, user: 'guest', vhost: '/',
        peer_host: '127.0.0.1', host: '127.0.0.1', port: running.ports.amqp, ssl: false, state: 'running', type: 'network',
        channels: 1, frame_max: 131072, user_provided_name: 'orders-service', auth_mechanism: 'PLAIN',
        client_properties: { product: 'amqplib', connection_name: 'orders-service', capabilities: { publisher_confirms: true } },
      });
      expect(c['recv_oct'] as number).toBeGreaterThan(100);
      expect(c['send_oct'] as number).toBeGreaterThan(100);
      const channels = (await get(`/connections/${encodeURIComponent(c.name)}/channels`)) as Record<string, unknown>[];
      expect(channels).toHaveLength(1);
      expect(channels[0]).toMatchObject({ name: `${c.name} (1)`, number: 1, confirm: true, consumer_count: 1, prefetch_count: 7 });
      const consumers = (await get('/consumers/%2F')) as Record<string, unknown>[];
      expect(consumers.find((k) => k['consumer_tag'] === 'interop-tag')).toMatchObject({
        queue: { name: q.queue, vhost: '/' }, ack_required: true, prefetch_count: 7, channel_details: { name: `${c.name} (1)`, number: 1 },
      });
    } finally {
      await conn.close();
    }
  });

  it('MQTT 3.1.1 and 5 over TCP, MQTT over WebSocket: protocol labels and the client id', async () => {
    const v4 = await mqtt.connectAsync(`mqtt://127.0.0.1:${running.ports.mqtt}`, { username: 'guest', password: 'guest', clientId: 'sensor-v4', reconnectPeriod: 0 });
    const v5 = await mqtt.connectAsync(`mqtt://127.0.0.1:${running.ports.mqtt}`, { username: 'guest', password: 'guest', clientId: 'sensor-v5', protocolVersion: 5, reconnectPeriod: 0 });
    const web = await mqtt.connectAsync(`ws://127.0.0.1:${running.ports.webMqtt}/ws`, { username: 'guest', password: 'guest', clientId: 'sensor-web', reconnectPeriod: 0 });
    try {
      const all = (await get('/connections')) as Conn[];
      const byClient = (id: string): Conn => all.find((c) => (c['client_properties'] as { client_id?: string }).client_id === id)!;
      expect(byClient('sensor-v4')).toMatchObject({ protocol: 'MQTT 3.1.1', type: 'direct', variable_map: { client_id: 'sensor-v4' }, port: running.ports.mqtt, channels: 1 });
      expect(byClient('sensor-v5')).toMatchObject({ protocol: 'MQTT 5-0' });
      expect(byClient('sensor-web')).toMatchObject({ protocol: 'Web MQTT 3.1.1', port: running.ports.webMqtt });
      expect(byClient('sensor-v4').peer_port).toBe(mqttLocalPort(v4));
    } finally {
      await Promise.all([v4.endAsync(), v5.endAsync(), web.endAsync()]);
    }
  });

  it('STOMP over TCP (stompit) and Web STOMP (@stomp/stompjs)', async () => {
    const tcp = await new Promise<StompitClient>((resolve, reject) =>
      stompit.connect({ host: '127.0.0.1', port: running.ports.stomp, connectHeaders: { host: '/', login: 'guest', passcode: 'guest', 'heart-beat': '0,0' } },
        (err, c) => (err ? reject(err) : resolve(c))));
    const web = new Client({ webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${running.ports.webStomp}/ws`, ['v12.stomp']), reconnectDelay: 0, heartbeatIncoming: 0, heartbeatOutgoing: 0 });
    await new Promise<void>((resolve) => {
      web.onConnect = () => resolve();
      web.activate();
    });
    try {
      const all = (await get('/connections')) as Conn[];
      expect(all.find((c) => c['port'] === running.ports.stomp)).toMatchObject({ protocol: 'STOMP 1.2', timeout: 0, client_properties: { product: 'STOMP client' } });
      const w = all.find((c) => c['port'] === running.ports.webStomp)!;
      expect(w).toMatchObject({ protocol: 'Web STOMP 1.2', type: 'direct' });
      expect('timeout' in w).toBe(false);
    } finally {
      tcp.disconnect();
      await web.deactivate();
    }
  });
});

describe('closing from the API', () => {
  it('amqplib sees 320 CONNECTION_FORCED with RabbitMQ\'s default text, or the X-Reason', async () => {
    for (const [reason, text] of [[undefined, 'CONNECTION_FORCED - Closed via management plugin'], ['maintenance window', 'CONNECTION_FORCED - maintenance window']] as const) {
      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${running.ports.amqp}`);
      conn.on('error', () => {});
      const closed = new Promise<Error & { code?: number }>((resolve) => conn.on('close', resolve));
      const port = (conn.connection as unknown as { stream: { localPort: number } }).stream.localPort;
      const c = await listed(port);
      expect(await closeConnection(c.name, reason)).toBe(204);
      const err = await closed;
      expect(err.code).toBe(320);
      expect(err.message).toContain(`"${text}"`);
    }
  });

  it('an MQTT 5 client gets DISCONNECT 0x98 (administrative action); a 3.1.1 client is closed', async () => {
    const v5 = await mqtt.connectAsync(`mqtt://127.0.0.1:${running.ports.mqtt}`, { username: 'guest', password: 'guest', clientId: 'close-v5', protocolVersion: 5, reconnectPeriod: 0 });
    const disconnect = new Promise<{ reasonCode?: number }>((resolve) => v5.on('disconnect', resolve));
    const c5 = await listed(mqttLocalPort(v5));
    expect(await closeConnection(c5.name, 'maintenance')).toBe(204);
    expect((await disconnect).reasonCode).toBe(0x98);
    const v4 = await mqtt.connectAsync(`mqtt://127.0.0.1:${running.ports.mqtt}`, { username: 'guest', password: 'guest', clientId: 'close-v4', reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => v4.on('close', () => resolve()));
    const c4 = await listed(mqttLocalPort(v4));
    expect(await closeConnection(c4.name)).toBe(204);
    await closed;
    v4.end(true);
    v5.end(true);
  });

  it('a STOMP client gets the same bytes as from RabbitMQ: ERROR "AMQP channel died" with the reason, then the end', async () => {
    // stompit reports that ERROR as an uncaught error of its frame stream (as against RabbitMQ), so read raw bytes.
    // What RabbitMQ 3.10 sent (recorded as connection-close-via-management.json "stomp-raw", NUL written as \\0).
    const raw = {
      request: { headers: { 'X-Reason': 'Closed by the Warren reference capture' } },
      client_saw: {
        bytes_after_delete:
          'ERROR\nmessage:AMQP channel died\ncontent-type:text/plain\nversion:1.0,1.1,1.2\ncontent-length:160\n\nReason: {shutdown,\n' +
          '            {connection_closing,\n                {server_initiated_close,320,\n' +
          '                    "Closed by the Warren reference capture"}}}\\0\n',
      },
    };
    const socket = net.connect(running.ports.stomp!, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (b) => chunks.push(b));
    const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
    socket.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0');
    const c = await listed(await new Promise<number>((resolve) => socket.once('data', () => resolve(socket.localPort!))));
    chunks.length = 0;
    expect(await closeConnection(c.name, raw.request.headers['X-Reason'])).toBe(204);
    await ended;
    // The recording shows NUL as the two characters \0.
    expect(Buffer.concat(chunks).toString('utf8').replace(/\0/g, '\\0')).toBe(raw.client_saw.bytes_after_delete);
    socket.destroy();
    expect(((await get('/connections')) as Conn[]).some((x) => x.name === c.name)).toBe(false);
  });
});
