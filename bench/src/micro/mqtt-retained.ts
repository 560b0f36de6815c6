/**
 * Micro-benchmark of MQTT retained-message persistence: the cost of storing ONE new retained message when
 * many topics are already retained.
 *
 * Run after a build: `node bench/dist/micro/mqtt-retained.js [topics] [payloadBytes]` (defaults 100000 and 100).
 *
 * Bytes written are counted at `fs.writeSync` for `after`; for `before` they are the size of the rewritten file.
 *
 * - `before`: what the previous store did per flush: the whole set as JSON (base64 bodies) written to a temp file
 *   and renamed over `retained.json`, no fsync; measured per new message (a trickle of single retained messages
 *   flushes each one separately).
 * - `after`: the RetainedStore over the core's FileStateLog: one appended record, and one group-committed fdatasync
 *   before the acknowledgement. Measured one message at a time (`set` + `await sync()`, the latency a client sees),
 *   and as a burst (many `set`s, then one `sync`: the amortised cost, compaction included).
 */
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStateLog, type Message } from '@warren/core';
import { RetainedStore } from '@warren/mqtt';

const topics = Number(process.argv[2] ?? 100_000);
const payloadBytes = Number(process.argv[3] ?? 100);

const fsCjs = createRequire(import.meta.url)('node:fs') as typeof fs;
let bytesWritten = 0;
const origWriteSync = fsCjs.writeSync;
fsCjs.writeSync = ((fd: number, buf: NodeJS.ArrayBufferView | string, ...rest: unknown[]) => {
  const n = (origWriteSync as (...a: unknown[]) => number)(fd, buf, ...rest);
  bytesWritten += n;
  return n;
}) as typeof fs.writeSync;
syncBuiltinESMExports();

const message = (i: number): Message => ({
  exchange: 'amq.topic',
  routingKey: `sensors.${i}.state`,
  properties: { deliveryMode: 2 },
  rawProperties: undefined,
  body: Buffer.alloc(payloadBytes, 0x41 + (i % 26)),
});
const topic = (i: number): string => `sensors/${i}/state`;

function line(label: string, us: number, bytes: number): void {
  process.stdout.write(`${label.padEnd(58)} ${us.toFixed(1).padStart(10)} µs ${Math.round(bytes).toLocaleString('en-US').padStart(14)} bytes\n`);
}

/** The previous store's flush: every retained message, as JSON, rewritten through a temp file. */
function beforeFlush(file: string, rows: Map<string, Message>): void {
  const out: unknown[] = [];
  for (const [t, m] of rows) {
    out.push({ vhost: '/', topic: t, qos: 1, exchange: m.exchange, routingKey: m.routingKey, properties: m.properties, body: m.body.toString('base64') });
  }
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(out));
  fs.renameSync(`${file}.tmp`, file);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-retained-bench-'));
  try {
    process.stdout.write(`${topics.toLocaleString('en-US')} retained topics, ${payloadBytes}-byte payloads; per new retained message:\n`);

    // ---- before ----
    const rows = new Map<string, Message>();
    for (let i = 0; i < topics; i++) rows.set(topic(i), message(i));
    const file = path.join(dir, 'retained.json');
    beforeFlush(file, rows);
    const beforeN = 10;
    let t0 = performance.now();
    bytesWritten = 0;
    for (let i = 0; i < beforeN; i++) {
      rows.set(topic(topics + i), message(i));
      beforeFlush(file, rows);
    }
    // writeFileSync does not go through fs.writeSync: the bytes per flush are the file's size.
    line('before: JSON rewrite of the whole set (no fsync)', ((performance.now() - t0) * 1000) / beforeN, fs.statSync(file).size);

    // ---- after ----
    const log = new FileStateLog({ dir: path.join(dir, 'mqtt'), name: 'mqtt-state' });
    const store = new RetainedStore(log);
    for (let i = 0; i < topics; i++) store.set('/', topic(i), 1, message(i));
    await log.sync();
    const single = 200;
    bytesWritten = 0;
    t0 = performance.now();
    for (let i = 0; i < single; i++) {
      store.set('/', topic(topics + i), 1, message(i));
      await log.sync();
    }
    line('after: one message, then await its fdatasync', ((performance.now() - t0) * 1000) / single, bytesWritten / single);
    // Rewrites every topic once and a half: the log passes twice its live size and compacts.
    const burst = Math.round(topics * 1.5);
    bytesWritten = 0;
    const gen = log.generation;
    t0 = performance.now();
    for (let i = 0; i < burst; i++) store.set('/', topic(i % topics), 1, message(i + 1));
    await log.sync();
    line(`after: burst of ${burst.toLocaleString('en-US')}, one sync (amortised, ${log.generation - gen} compactions)`, ((performance.now() - t0) * 1000) / burst, bytesWritten / burst);
    t0 = performance.now();
    log.close();
    const again = new RetainedStore(new FileStateLog({ dir: path.join(dir, 'mqtt'), name: 'mqtt-state' }));
    process.stdout.write(`recovery of ${again.size('/').toLocaleString('en-US')} retained topics: ${Math.round(performance.now() - t0)} ms\n`);
  } finally {
    fsCjs.writeSync = origWriteSync;
    syncBuiltinESMExports();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
