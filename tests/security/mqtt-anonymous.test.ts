/**
 * Anonymous MQTT and Web MQTT logins on a broker started with the hardening flags (`--default-user admin
 * --default-pass S3cret --loopback-users ''`): a client without a username is the MQTT default user
 * (`--mqtt-default-user`, guest unless set), checked as any login, never the administrator. A remote peer is
 * simulated through Web MQTT behind a trusted proxy (X-Forwarded-For).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Broker } from '@warren/core';
import { createLogger, mergeConfig, parseFlags, startBroker, type RunningBroker } from '@warren/server';
import mqtt, { type IClientOptions } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';

// mqtt.js over ws:// calls require('ws').createWebSocketStream, which ws's ESM wrapper (what vitest hands it) lacks.
const WebSocketWithStream = WebSocket as unknown as { createWebSocketStream?: typeof createWebSocketStream };
WebSocketWithStream.createWebSocketStream ??= createWebSocketStream;

const HARDENED = ['--default-user', 'admin', '--default-pass', 'S3cret', '--loopback-users', ''];
const REMOTE = '203.0.113.9';

let dataDir = '';
let running: RunningBroker | undefined;
let logLines: string[] = [];
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'warren-mqtt-anon-'));
  logLines = [];
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

/** Start the broker from command-line flags, on free ports, MQTT and Web MQTT (behind a trusted proxy) only. */
async function start(flags: string[]): Promise<{ broker: Broker; tcp: string; ws: string }> {
  const config = mergeConfig(parseFlags(flags).config);
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  running = await startBroker(
    {
      defaultUser: config.defaultUser,
      loopbackUsers: config.loopbackUsers,
      mqtt: { ...config.mqtt, port: 0, tlsPort: null },
      webMqtt: { port: 0, tlsPort: null, trustProxy: true },
      dataDir,
      host: '127.0.0.1',
      amqp: { port: null, tlsPort: null },
      stomp: { port: null, tlsPort: null },
      webStomp: { port: null, tlsPort: null },
      management: { port: null, tlsPort: null },
      prometheus: { port: null },
    } as Parameters<typeof startBroker>[0],
    { logger: createLogger({ level: 'info', destination }) },
  );
  return {
    broker: running.broker as Broker,
    tcp: `mqtt://127.0.0.1:${running.ports.mqtt}`,
    ws: `ws://127.0.0.1:${running.ports.webMqtt}/ws`,
  };
}

/** Connect; resolve with the CONNACK code (0 when accepted, then disconnect). */
async function connackCode(url: string, options: IClientOptions = {}): Promise<number> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, clientId: `anon-${Math.random().toString(16).slice(2)}`, ...options }).then(
    async (c) => {
      await c.endAsync(true);
      return 0;
    },
    (e: Error & { code?: number }) => e.code ?? -1,
  );
}

const fromRemote: IClientOptions = { wsOptions: { headers: { 'X-Forwarded-For': REMOTE } } };

describe('anonymous MQTT on a hardened broker', () => {
  it('is not the administrator: refused over TCP and WebSocket, from loopback and remote (3.1.1: 4, MQTT 5: 0x86)', async () => {
    const { broker, tcp, ws } = await start(HARDENED);
    expect(await connackCode(tcp)).toBe(4);
    expect(await connackCode(tcp, { protocolVersion: 5 })).toBe(0x86);
    expect(await connackCode(tcp, { protocolVersion: 3, protocolId: 'MQIsdp' })).toBe(4);
    expect(await connackCode(ws)).toBe(4);
    expect(await connackCode(ws, fromRemote)).toBe(4);
    expect(await connackCode(ws, { ...fromRemote, protocolVersion: 5 })).toBe(0x86);
    expect(broker.connections()).toHaveLength(0);
    // One log line per refusal, naming the user it tried.
    const refused = logLines.filter((l) => l.includes('CONNECT refused') && l.includes("authentication failed for user 'guest'"));
    expect(refused).toHaveLength(6);
    expect(logLines.some((l) => l.includes(REMOTE))).toBe(true);
    // The administrator logs in by name, from anywhere.
    expect(await connackCode(ws, { ...fromRemote, username: 'admin', password: 'S3cret' })).toBe(0);
  });

  it("is the MQTT default user, guest unless set, which keeps guest's loopback-only rule", async () => {
    // The hardening without --loopback-users '': guest stays loopback-only.
    const { broker, tcp, ws } = await start(['--default-user', 'admin', '--default-pass', 'S3cret']);
    broker.addUser('guest', 'guest');
    broker.setPermissions('guest', '/', { configure: '.*', write: '.*', read: '.*' });
    const client = await mqtt.connectAsync(tcp, { reconnectPeriod: 0, clientId: 'anon-local' });
    expect(broker.connections().map((c) => c.user.name)).toEqual(['guest']);
    await client.endAsync(true);
    expect(await connackCode(ws)).toBe(0);
    expect(await connackCode(ws, fromRemote)).toBe(4);
    expect(await connackCode(ws, { ...fromRemote, protocolVersion: 5 })).toBe(0x86);
    expect(logLines.filter((l) => l.includes("user 'guest' can only connect via localhost"))).toHaveLength(2);
  });

  it('--mqtt-default-user / --mqtt-default-pass name the anonymous user, also for Web MQTT', async () => {
    const { broker, tcp, ws } = await start([...HARDENED, '--mqtt-default-user', 'device', '--mqtt-default-pass', 'd3vice']);
    broker.addUser('device', 'd3vice');
    broker.setPermissions('device', '/', { configure: '^mqtt-', write: '^mqtt-|^amq\\.topic$', read: '^mqtt-|^amq\\.topic$' });
    const client = await mqtt.connectAsync(ws, { reconnectPeriod: 0, clientId: 'anon-remote', ...fromRemote });
    expect(broker.connections().map((c) => [c.user.name, c.info.remoteAddress])).toEqual([['device', REMOTE]]);
    await client.endAsync(true);
    expect(await connackCode(tcp, { protocolVersion: 5 })).toBe(0);
    // A wrong password for that user refuses anonymous clients, as any bad login.
    broker.addUser('device', 'changed');
    expect(await connackCode(tcp)).toBe(4);
  });

  it('--no-mqtt-allow-anonymous refuses clients without a username (4 / 0x86)', async () => {
    const { tcp } = await start([...HARDENED, '--no-mqtt-allow-anonymous']);
    expect(await connackCode(tcp)).toBe(4);
    expect(await connackCode(tcp, { protocolVersion: 5 })).toBe(0x86);
  });
});
