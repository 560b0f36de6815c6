/**
 * Memory per idle MQTT connection, and the 100,000-connection run (opt-in, not part of `npm test`).
 *
 *   ulimit -n 1048576        # as root; the broker and this process each need one descriptor per connection
 *   npm run build && node --expose-gc bench/dist/mqtt/idle-connections.js 10000 50000 100000
 *
 * For each N given, it forks a fresh Warren (MQTT listener only, a temporary data dir, run with --expose-gc), measures the
 * broker's RSS and JS heap after a full GC, opens N MQTT 3.1.1 connections (CONNECT, clean session, keep-alive 60 s,
 * no subscriptions), waits, measures again after GC, and reports (after − before) / N. Connections come from
 * 127.0.0.2, 127.0.0.3, … (20,000 per source address) so the ephemeral port range is never exhausted.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Broker child → parent. */
type ChildReply = { type: 'listening'; port: number; pid: number } | { type: 'memory'; rss: number; heapUsed: number; external: number };

const PER_SOURCE_ADDRESS = 20_000;
const KEEP_ALIVE_S = 60;

/** The broker child: Warren with only MQTT; answers 'memory' requests after a full GC. */
async function runBrokerChild(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-idle-'));
  const { startBroker } = await import('@warren/server');
  const broker = await startBroker({
    amqp: { port: null, tlsPort: null },
    stomp: { port: null, tlsPort: null },
    mqtt: { port: 0, tlsPort: null },
    webStomp: { port: null, tlsPort: null },
    webMqtt: { port: null, tlsPort: null },
    log: { level: 'warn' },
    dataDir,
  });
  const send = (m: ChildReply): void => void process.send?.(m);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const u = process.memoryUsage();
      send({ type: 'memory', rss: u.rss, heapUsed: u.heapUsed, external: u.external });
    } else if (m.type === 'stop') {
      void broker.stop().finally(() => {
        rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
        process.exit(0);
      });
    }
  });
  send({ type: 'listening', port: broker.ports.mqtt as number, pid: process.pid });
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([Buffer.from([0, 4, 77, 81, 84, 84, 4, 2, 0, KEEP_ALIVE_S, id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

function open(port: number, i: number, tag: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const localAddress = `127.0.0.${2 + Math.floor(i / PER_SOURCE_ADDRESS)}`;
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => s.write(connectPacket(`idle-${tag}-${i}`)));
    s.once('data', (d: Buffer) => (d[0] === 0x20 && d[3] === 0 ? resolve(s) : reject(new Error('CONNACK refused'))));
    s.once('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measure(n: number): Promise<string> {
  const replies: Array<(m: ChildReply) => void> = [];
  const ask = (): Promise<ChildReply & { type: 'memory' }> =>
    new Promise((resolve) => {
      replies.push(resolve as (m: ChildReply) => void);
      child.send({ type: 'memory' });
    });
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['broker'], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const first = await new Promise<ChildReply>((resolve) => child.once('message', resolve));
  if (first.type !== 'listening') throw new Error('broker child did not start');
  const port = first.port;
  child.on('message', (m: ChildReply) => replies.shift()?.(m));
  const tag = Date.now().toString(36);
  // One connection first, kept open, so one-time costs (code, mqtt-packet's 65,536-entry number cache, the core's
  // first channel) are in the baseline rather than spread over N.
  const warm = await open(port, 0, `${tag}-warm`);
  await sleep(500);
  const before = await ask();
  const socks: net.Socket[] = [];
  const t0 = Date.now();
  for (let i = 0; i < n; i += 500) {
    socks.push(...(await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, k) => open(port, i + k, tag)))));
  }
  const openS = (Date.now() - t0) / 1000;
  await sleep(3000);
  const after = await ask();
  const kib = (b: number): string => (b / 1024 / n).toFixed(2);
  const line =
    `Warren ${n} idle connections (opened in ${openS.toFixed(1)} s): RSS ${(before.rss / 2 ** 20).toFixed(0)} → ` +
    `${(after.rss / 2 ** 20).toFixed(0)} MiB = ${kib(after.rss - before.rss)} KiB/connection` +
    `; JS heap ${kib(after.heapUsed - before.heapUsed)} KiB, external ${kib(after.external - before.external)} KiB per connection`;
  for (const s of socks) s.destroy();
  warm.destroy();
  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  return line;
}

if (process.argv[2] === 'broker') {
  await runBrokerChild();
} else {
  const sizes = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
  for (const n of sizes.length > 0 ? sizes : [10_000]) console.log(await measure(n));
}
