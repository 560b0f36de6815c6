/**
 * 100,000 MQTT sessions in one broker process, over in-memory streams (opt-in, not part of `npm test`):
 *
 *   npm run build && node --expose-gc bench/dist/mqtt/idle-sessions.js 100000
 *
 * Real TCP connections (idle-connections.ts) need one file descriptor each in the broker, and a machine whose hard
 * limit is below 100,000 (this one: 20,000) cannot hold that many. This run keeps everything the broker holds per
 * connection (the MQTT connection state machine, its outbound writer, the core connection and channel, the session
 * record, the keep-alive wheel entry) and swaps only the socket for an in-memory stream pair. It reports the JS heap
 * per session (the stream pairs are counted before the CONNECTs and subtracted; a net.Socket is measured by
 * idle-connections.ts), the time to CONNECT them all, and that keep-alive still closes every one of them on time.
 */
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Broker, silentLogger, type ConnectionInfo } from '@warren/core';
import { createMqttService } from '@warren/mqtt';
import { streamPair } from '@warren/transport';

/** What {@link runIdleSessions} measured. */
export interface IdleSessionsResult {
  sessions: number;
  /** Sessions that got CONNACK 0. */
  accepted: number;
  connectSeconds: number;
  /** JS heap per session, bytes (after a full GC when run with --expose-gc). */
  heapPerSession: number;
  /** Sessions the broker closed for keep-alive, and when the first and last closed (s after the last CONNECT). */
  closedByKeepAlive: number;
  lastCloseSeconds: number;
  firstCloseSeconds: number;
}

/** CONNECT, MQTT 3.1.1, clean session, the given keep-alive. */
function connectPacket(clientId: string, keepAliveS: number): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, keepAliveS >> 8, keepAliveS & 0xff, id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/**
 * A full collection before each reading, so the difference is what the sessions hold and not what the collector
 * happened to free meanwhile (without it, a collection during the run can make the difference negative). When the
 * process was not started with --expose-gc, V8 can still hand `gc` to a fresh context.
 */
const collect: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();

const heapUsed = (): number => {
  collect();
  return process.memoryUsage().heapUsed;
};

/** Open `sessions` idle MQTT sessions with keep-alive `keepAliveS`, then wait for keep-alive to close them all. */
export async function runIdleSessions(sessions: number, keepAliveS = 2): Promise<IdleSessionsResult> {
  const broker = new Broker({ logger: silentLogger });
  const service = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 268_435_455 } });
  const pairs = Array.from({ length: sessions }, () => streamPair());
  const before = heapUsed();
  let accepted = 0;
  let closed = 0;
  let lastClose = 0;
  let firstClose = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let answered = 0;
    pairs.forEach(([client, server], i) => {
      const info: ConnectionInfo = {
        id: `idle-${i}`,
        protocol: 'mqtt',
        remoteAddress: '127.0.0.1',
        remotePort: 10_000 + (i % 50_000),
        localPort: 1883,
        tls: false,
        listener: 'mqtt',
      };
      client.once('data', (c: Buffer) => {
        // CONNACK: 0x20, 2, flags, return code.
        if (c[0] === 0x20 && c[3] === 0) accepted++;
        if (++answered === sessions) resolve();
      });
      // The broker ends its side when it gives up on a session (it destroys the stream a grace period later).
      client.once('end', () => {
        if (closed++ === 0) firstClose = performance.now();
        lastClose = performance.now();
      });
      service.handleConnection(server, info);
      client.write(connectPacket(`idle-${i}`, keepAliveS));
    });
  });
  const connected = performance.now();
  const after = heapUsed();
  // Nothing is sent from now on: keep-alive (1.5 × the interval) must close every session.
  const deadline = connected + keepAliveS * 1500 + 5000;
  while (closed < sessions && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await service.close();
  broker.close();
  return {
    sessions,
    accepted,
    connectSeconds: (connected - t0) / 1000,
    heapPerSession: (after - before) / sessions,
    closedByKeepAlive: closed,
    lastCloseSeconds: (lastClose - connected) / 1000,
    firstCloseSeconds: (firstClose - connected) / 1000,
  };
}

async function main(): Promise<void> {
  const counts = process.argv.slice(2).map(Number);
  for (const n of counts.length > 0 ? counts : [100_000]) {
    const r = await runIdleSessions(n);
    console.log(
      `${r.sessions} MQTT sessions over in-memory streams: ${r.accepted} accepted in ${r.connectSeconds.toFixed(1)} s; ` +
        `JS heap ${(r.heapPerSession / 1024).toFixed(2)} KiB per session (${((r.heapPerSession * r.sessions) / 2 ** 20).toFixed(0)} MiB); ` +
        `keep-alive closed ${r.closedByKeepAlive}, from ${r.firstCloseSeconds.toFixed(2)} to ${r.lastCloseSeconds.toFixed(2)} s after the CONNECTs (keep-alive 2 s: due at 3 s)`,
    );
  }
}

// Run as a script (not when a test imports it).
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
