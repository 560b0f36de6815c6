/**
 * The TLS and WebSocket listeners of the real composition root against clients that never log in: a TCP connection
 * to a TLS port that sends no ClientHello, or to a WebSocket port that sends no HTTP request, is closed at the
 * handshake deadline with one log line and no stack trace; past `maxUnauthenticatedConnections` new connections are
 * closed; a Web MQTT client cannot make the server buffer a big WebSocket message before CONNECT; and replaced
 * certificate files are served to new connections without a restart. During each attack a bystander on AMQP, MQTT
 * and STOMP (plain listeners, logged in before it) keeps its round trips under the bound of bystanders.ts.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createLogger, startEmbeddedBroker, type RunningBroker } from '@warren/server';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import { createTestPki, type TestPki } from '../support/pki.js';
import { expectBystandersUnhurt, hold, logReport, withBystanders } from './bystanders.js';

// mqtt.js over ws:// in vitest needs ws's CommonJS static (as tests/interop/management-connections.test.ts).
(WebSocket as unknown as { createWebSocketStream?: typeof createWebSocketStream }).createWebSocketStream ??= createWebSocketStream;

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.dispose());

/** Collects pino's JSON lines and lets a test wait for one. */
function logCapture(): {
  lines: Array<Record<string, unknown>>;
  logger: ReturnType<typeof createLogger>;
  waitFor: (msg: string) => Promise<Record<string, unknown>>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ msg: string; resolve: (l: Record<string, unknown>) => void }> = [];
  const logger = createLogger({
    level: 'info',
    destination: {
      write: (text: string) => {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        for (const w of waiters.splice(0)) {
          if (line['msg'] === w.msg) w.resolve(line);
          else waiters.push(w);
        }
      },
    },
  });
  return {
    lines,
    logger,
    waitFor: (msg) => {
      const seen = lines.find((l) => l['msg'] === msg);
      return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ msg, resolve }));
    },
  };
}

function tcpConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

describe('idle and excess connections', () => {
  let running: RunningBroker;
  const log = logCapture();
  beforeAll(async () => {
    running = await startEmbeddedBroker(
      {
        host: '127.0.0.1',
        maxUnauthenticatedConnections: 3,
        amqp: { port: 0, tlsPort: 0, handshakeTimeoutMs: 200 },
        stomp: { port: 0, tlsPort: 0, connectTimeoutMs: 200 },
        mqtt: { port: 0, tlsPort: 0 },
        webStomp: { port: 0 },
        webMqtt: { port: null },
        management: { port: null },
        prometheus: { port: null },
        tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile },
      },
      { logger: log.logger },
    );
  });
  afterAll(() => running.stop());

  it('closes TLS connections that send no ClientHello at the deadline, one log line each, no stack trace', async () => {
    const seen: Array<Array<Record<string, unknown>>> = [];
    const r = await withBystanders(running.ports, async () => {
      for (const port of [running.ports.amqps!, running.ports.stomps!]) {
        const before = log.lines.length;
        const clients = await Promise.all([1, 2, 3].map(() => tcpConnect(port)));
        await Promise.all(clients.map(closed));
        seen.push(log.lines.slice(before).filter((l) => l['level'] === 'warn'));
      }
    });
    logReport('silent TLS sockets', r);
    for (const mine of seen) {
      expect(mine.map((l) => l['msg'])).toEqual(['handshake timed out', 'handshake timed out', 'handshake timed out']);
      expect(mine[0]!['err']).toMatch(/^handshake from 127\.0\.0\.1 timed out after 200 ms$/);
      expect(JSON.stringify(mine)).not.toMatch(/stack|    at /);
    }
    expect(seen).toHaveLength(2);
    expectBystandersUnhurt(r);
  });

  it('closes WebSocket connections that send no HTTP request at the deadline', async () => {
    let mine: Array<Record<string, unknown>> = [];
    const r = await withBystanders(running.ports, async () => {
      const before = log.lines.length;
      const client = await tcpConnect(running.ports.webStomp!);
      await closed(client);
      mine = log.lines.slice(before).filter((l) => l['listener'] === 'web-stomp');
    });
    logReport('silent WebSocket socket', r);
    expect(mine.map((l) => [l['msg'], l['err']])).toEqual([
      ['WebSocket connection refused', 'handshake from 127.0.0.1 timed out after 200 ms'],
    ]);
    expectBystandersUnhurt(r);
  });

  it('refuses connections past maxUnauthenticatedConnections, with a log line', async () => {
    const port = running.ports.mqtts!; // MQTT's TLS deadline is the 10 s default: these stay pending meanwhile
    let refused: Record<string, unknown> = {};
    let heldOpen = false;
    // The bystanders logged in before: the limit counts only connections still waiting to authenticate.
    const r = await withBystanders(running.ports, async () => {
      const held = await Promise.all([1, 2, 3].map(() => tcpConnect(port)));
      const extra = await tcpConnect(port);
      await closed(extra);
      refused = await log.waitFor('connection refused');
      await hold(300); // the held connections stay pending while the bystanders measure
      heldOpen = held.every((s) => !s.destroyed);
      for (const s of held) s.destroy();
    });
    logReport('connections past maxUnauthenticatedConnections', r);
    expect(refused['err']).toBe('refused a connection from 127.0.0.1: 3 connections are already waiting to authenticate');
    expect(heldOpen).toBe(true);
    expectBystandersUnhurt(r);
  });
});

describe('Web MQTT before CONNECT', () => {
  let running: RunningBroker;
  beforeAll(async () => {
    running = await startEmbeddedBroker({
      host: '127.0.0.1',
      amqp: { port: 0 },
      stomp: { port: 0 },
      mqtt: { port: 0 },
      webStomp: { port: null },
      webMqtt: { port: 0 },
      management: { port: null },
      prometheus: { port: null },
    });
  });
  afterAll(() => running.stop());

  it('closes with 1009 a WebSocket message over 64 KiB before CONNECT; after CONNECT big messages pass', async () => {
    // Ten hostile clients one after the other, so the bystanders get round trips in while they send.
    const codes: unknown[] = [];
    const r = await withBystanders(running.ports, async () => {
      for (let i = 0; i < 10; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${running.ports.webMqtt}/ws`, ['mqtt']);
        await new Promise((resolve) => ws.once('open', resolve));
        ws.send(Buffer.alloc(1024 * 1024, 0x30)); // 1 MiB: the default packet limit (256 MiB) would buffer it whole
        codes.push(await new Promise((resolve) => ws.once('close', (code) => resolve(code))));
      }
    });
    logReport('Web MQTT 1 MiB before CONNECT', r);
    expect(codes).toEqual(Array(10).fill(1009));
    expectBystandersUnhurt(r);

    const c = await mqtt.connectAsync(`ws://127.0.0.1:${running.ports.webMqtt}/ws`, { reconnectPeriod: 0, username: 'guest', password: 'guest' });
    try {
      await c.subscribeAsync('big/t', { qos: 1 });
      const got = new Promise<number>((resolve) => c.once('message', (_t, payload) => resolve(payload.length)));
      await c.publishAsync('big/t', Buffer.alloc(512 * 1024, 1), { qos: 1 });
      expect(await got).toBe(512 * 1024);
    } finally {
      await c.endAsync();
    }
  });
});

describe('certificate reloading', () => {
  let running: RunningBroker;
  let dir: string;
  const log = logCapture();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-reload-'));
    await copyFile(pki.server.certFile, join(dir, 'cert.pem'));
    await copyFile(pki.server.keyFile, join(dir, 'key.pem'));
    running = await startEmbeddedBroker(
      {
        host: '127.0.0.1',
        amqp: { port: null, tlsPort: 0 },
        stomp: { port: null },
        mqtt: { port: null, tlsPort: 0 },
        webStomp: { port: null },
        webMqtt: { port: null },
        management: { port: null },
        prometheus: { port: null },
        tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), reloadIntervalMs: 50 },
      },
      { logger: log.logger },
    );
  });
  afterAll(async () => {
    await running.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function subjectAt(port: number): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.cert }, () => {
        resolve(s.getPeerX509Certificate()?.subject);
        s.destroy();
      });
      s.once('error', reject);
    });
  }

  it('serves the replaced certificate to new connections without a restart', async () => {
    expect(await subjectAt(running.ports.amqps!)).toBe('CN=localhost');
    const renewed = pki.newServer('renewed', '/CN=localhost/O=Renewed');
    // Key first, then the certificate (a check in between finds a mismatched pair: kept, retried on the next change).
    await copyFile(renewed.keyFile, join(dir, 'key.pem'));
    await copyFile(renewed.certFile, join(dir, 'cert.pem'));
    await log.waitFor('TLS certificate reloaded');
    expect(await subjectAt(running.ports.amqps!)).toBe('CN=localhost\nO=Renewed');
    expect(await subjectAt(running.ports.mqtts!)).toBe('CN=localhost\nO=Renewed');
  });
});
