/**
 * Memory per idle MQTT connection, Warren beside Mosquitto, and the 100,000-connection run (opt-in, not part of
 * `npm test`).
 *
 *   ulimit -n 1048576        # as root; the broker and this process each need one descriptor per connection
 *   npm run build && node --expose-gc bench/dist/mqtt/idle-connections.js 10000 50000 100000
 *   node bench/dist/mqtt/idle-connections.js --compare           # 600, 10,000 and 19,000: Warren and Mosquitto
 *   node bench/dist/mqtt/idle-connections.js 10000 --mosquitto --tls --ws
 *
 * For each N given, it forks a fresh Warren (MQTT listener only, a temporary data dir, run with --expose-gc), measures the
 * broker's RSS and JS heap after a full GC, opens N MQTT 3.1.1 connections (CONNECT, clean session, keep-alive 60 s,
 * no subscriptions), waits, measures again after GC, and reports (after − before) / N. Connections come from
 * 127.0.0.2, 127.0.0.3, … (20,000 per source address) so the ephemeral port range is never exhausted.
 *
 * `--mosquitto` does the same against a fresh Mosquitto (its VmRSS from /proc/<pid>/status), `--tls` against
 * Warren's mqtts listener (a self-signed certificate made with openssl), `--ws` against its MQTT-over-WebSocket one;
 * `--compare` is `600 10000 19000 --mosquitto`. A summary table of KiB per connection ends the run.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startMosquitto } from './mosquitto.js';

/** How the idle clients connect. */
type Transport = 'tcp' | 'tls' | 'ws';

/** Broker child → parent. */
type ChildReply = { type: 'listening'; port: number; pid: number } | { type: 'memory'; rss: number; heapUsed: number; external: number };

/** An open client connection of any transport. */
interface Idle {
  close(): void;
}

const PER_SOURCE_ADDRESS = 20_000;
const KEEP_ALIVE_S = 60;
const WS_PATH = '/ws';

/** The broker child: Warren with only MQTT on `transport`; answers 'memory' requests after a full GC. */
async function runBrokerChild(transport: Transport): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-idle-'));
  let tlsFiles: { certFile: string; keyFile: string } | undefined;
  if (transport === 'tls') {
    const certDir = mkdtempSync(join(tmpdir(), 'warren-idle-cert-'));
    tlsFiles = { certFile: join(certDir, 'cert.pem'), keyFile: join(certDir, 'key.pem') };
    process.once('exit', () => rmSync(certDir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', tlsFiles.keyFile, '-out', tlsFiles.certFile], { stdio: 'ignore' });
  }
  const { startBroker } = await import('@warren/server');
  const broker = await startBroker({
    amqp: { port: null, tlsPort: null },
    stomp: { port: null, tlsPort: null },
    mqtt: { port: transport === 'tcp' ? 0 : null, tlsPort: transport === 'tls' ? 0 : null },
    webStomp: { port: null, tlsPort: null },
    webMqtt: { port: transport === 'ws' ? 0 : null, tlsPort: null, path: WS_PATH },
    log: { level: 'warn' },
    dataDir,
    ...(tlsFiles !== undefined ? { tls: tlsFiles } : {}),
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
  const ports = broker.ports;
  const port = transport === 'tcp' ? ports.mqtt : transport === 'tls' ? ports.mqtts : ports.webMqtt;
  if (port === undefined) throw new Error(`no ${transport} port in ${JSON.stringify(ports)}`);
  send({ type: 'listening', port, pid: process.pid });
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([Buffer.from([0, 4, 77, 81, 84, 84, 4, 2, 0, KEEP_ALIVE_S, id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

const isConnackOk = (d: Buffer): boolean => d[0] === 0x20 && d[3] === 0;

/**
 * The first source address (127.0.0.<n>) of the current measurement: each takes fresh ones, so the ports the last
 * one left in TIME_WAIT do not slow (or refuse) its connects.
 */
let firstAddress = 2;

/** Take source addresses for `n` connections (plus the warm one). */
function reserveAddresses(n: number): void {
  firstAddress += Math.ceil((n + 1) / PER_SOURCE_ADDRESS) + 1;
  if (firstAddress > 250) firstAddress = 2;
}

function open(transport: Transport, port: number, i: number, tag: string): Promise<Idle> {
  const localAddress = `127.0.0.${firstAddress + Math.floor(i / PER_SOURCE_ADDRESS)}`;
  const packet = connectPacket(`idle-${tag}-${i}`);
  return new Promise((resolve, reject) => {
    if (transport === 'ws') {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${WS_PATH}`, 'mqtt', { localAddress });
      ws.once('open', () => ws.send(packet));
      ws.once('message', (d: Buffer) => (isConnackOk(d) ? resolve({ close: () => ws.terminate() }) : reject(new Error('CONNACK refused'))));
      ws.once('error', reject);
      return;
    }
    const s: net.Socket =
      transport === 'tls'
        ? tls.connect({ socket: net.connect({ host: '127.0.0.1', port, localAddress }), rejectUnauthorized: false }, () => s.write(packet))
        : net.connect({ host: '127.0.0.1', port, localAddress }, () => s.write(packet));
    s.once('data', (d: Buffer) => (isConnackOk(d) ? resolve({ close: () => s.destroy() }) : reject(new Error('CONNACK refused'))));
    s.once('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One measurement: KiB of RSS per connection, and the line that reports it. */
interface Result {
  kib: number;
  line: string;
}

/** Open `n` connections in batches of 500. */
async function openAll(transport: Transport, port: number, n: number, tag: string): Promise<{ conns: Idle[]; seconds: number }> {
  const conns: Idle[] = [];
  const t0 = Date.now();
  for (let i = 0; i < n; i += 500) {
    conns.push(...(await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, k) => open(transport, port, i + k, tag)))));
  }
  return { conns, seconds: (Date.now() - t0) / 1000 };
}

async function measureWarren(n: number, transport: Transport): Promise<Result> {
  const replies: Array<(m: ChildReply) => void> = [];
  const ask = (): Promise<ChildReply & { type: 'memory' }> =>
    new Promise((resolve) => {
      replies.push(resolve as (m: ChildReply) => void);
      child.send({ type: 'memory' });
    });
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['broker', transport], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const first = await new Promise<ChildReply>((resolve) => child.once('message', resolve));
  if (first.type !== 'listening') throw new Error('broker child did not start');
  const port = first.port;
  child.on('message', (m: ChildReply) => replies.shift()?.(m));
  const tag = Date.now().toString(36);
  reserveAddresses(n);
  // One connection first, kept open, so one-time costs (code, the core's first channel) are in the baseline rather
  // than spread over N.
  const warm = await open(transport, port, n, `${tag}-warm`);
  await sleep(500);
  const before = await ask();
  const { conns, seconds } = await openAll(transport, port, n, tag);
  await sleep(3000);
  const after = await ask();
  const perConn = (b: number): number => b / 1024 / n;
  const kib = perConn(after.rss - before.rss);
  const line =
    `Warren ${transport} ${n} idle connections (opened in ${seconds.toFixed(1)} s): RSS ${(before.rss / 2 ** 20).toFixed(0)} → ` +
    `${(after.rss / 2 ** 20).toFixed(0)} MiB = ${kib.toFixed(2)} KiB/connection` +
    `; JS heap ${perConn(after.heapUsed - before.heapUsed).toFixed(2)} KiB, external ${perConn(after.external - before.external).toFixed(2)} KiB per connection`;
  for (const c of conns) c.close();
  warm.close();
  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  return { kib, line };
}

/** VmRSS of a process, bytes. */
function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

async function measureMosquitto(n: number): Promise<Result> {
  const mosq = await startMosquitto();
  try {
    const port = mosq.mqttPort as number;
    const tag = Date.now().toString(36);
    reserveAddresses(n);
    const warm = await open('tcp', port, n, `${tag}-warm`);
    await sleep(500);
    const before = vmRss(mosq.pid);
    const { conns, seconds } = await openAll('tcp', port, n, tag);
    await sleep(3000);
    const after = vmRss(mosq.pid);
    const kib = (after - before) / 1024 / n;
    const line =
      `Mosquitto tcp ${n} idle connections (opened in ${seconds.toFixed(1)} s): RSS ${(before / 2 ** 20).toFixed(1)} → ` +
      `${(after / 2 ** 20).toFixed(1)} MiB = ${kib.toFixed(2)} KiB/connection`;
    for (const c of conns) c.close();
    warm.close();
    return { kib, line };
  } finally {
    await mosq.stop();
  }
}

if (process.argv[2] === 'broker') {
  await runBrokerChild((process.argv[3] ?? 'tcp') as Transport);
} else {
  const args = process.argv.slice(2);
  const compare = args.includes('--compare');
  const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const runs: Array<{ name: string; run: (n: number) => Promise<Result> }> = [
    { name: 'Warren TCP', run: (n) => measureWarren(n, 'tcp') },
  ];
  if (compare || args.includes('--mosquitto')) runs.push({ name: 'Mosquitto TCP', run: measureMosquitto });
  if (args.includes('--tls')) runs.push({ name: 'Warren TLS', run: (n) => measureWarren(n, 'tls') });
  if (args.includes('--ws')) runs.push({ name: 'Warren WS', run: (n) => measureWarren(n, 'ws') });
  const ns = sizes.length > 0 ? sizes : compare ? [600, 10_000, 19_000] : [10_000];
  const table: string[][] = [];
  for (const n of ns) {
    const row = [String(n)];
    for (const r of runs) {
      const result = await r.run(n);
      console.log(result.line);
      row.push(result.kib.toFixed(2));
    }
    table.push(row);
  }
  console.log(`\nKiB of RSS per idle MQTT connection\n${['connections', ...runs.map((r) => r.name)].map((h) => h.padStart(14)).join('')}`);
  for (const row of table) console.log(row.map((c) => c.padStart(14)).join(''));
}
