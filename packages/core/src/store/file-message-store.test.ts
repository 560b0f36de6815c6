import fc from 'fast-check';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { pbkdf2 } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, MessageProperties } from '../contract.js';
import { makeMessage } from '../testing/fake-host.js';
import { TestBroker, type TestChannel } from '../testing/setup.js';
import { crc32, crc32Fallback } from './crc32.js';
import { ENTRY_OVERHEAD, FileMessageStore, type FileMessageStoreOptions, type FileQueueStore } from './file-message-store.js';
import { ByteWriter, checkRecord, readRecord, writeRecord } from './record-codec.js';
import type { QueueEntry } from './store.js';
import { recordingLogger, tempDirs } from '../testing/temp-store.js';

const temp = tempDirs('warren-store-');
const tmpDir = temp.make;
const open: TestBroker[] = [];

afterEach(() => {
  for (const b of open.splice(0)) b.close();
  temp.removeAll();
});

/** A broker on a file store in `dir`, with the durable queue `q` declared (as the definitions store will). */
function boot(dir: string, options: Partial<FileMessageStoreOptions> = {}, queueArgs = {}): { tb: TestBroker; store: FileMessageStore; c: TestChannel } {
  const store = new FileMessageStore({ dir, ...options });
  const tb = new TestBroker({ store });
  open.push(tb);
  const c = tb.channel();
  c.ch.declareQueue('q', { durable: true, arguments: queueArgs });
  return { tb, store, c };
}

/** kill -9 as far as the files are concerned: what was written stays, nothing is closed or synced. */
function crash(tb: TestBroker, store: FileMessageStore): void {
  store.flushNow();
  open.splice(open.indexOf(tb), 1);
}

const persistent: MessageProperties = { deliveryMode: 2 };

function publish(c: TestChannel, body: string, props: MessageProperties = persistent, sequence?: number): void {
  c.ch.publish(makeMessage('', 'q', body, props), sequence === undefined ? {} : { sequence });
}

function drain(c: TestChannel, queue = 'q'): { body: string; redelivered: boolean }[] {
  const out: { body: string; redelivered: boolean }[] = [];
  for (let r = c.ch.get(queue, true); r !== undefined; r = c.ch.get(queue, true)) {
    out.push({ body: r.delivery.message.body.toString(), redelivered: r.delivery.redelivered });
  }
  return out;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function queueStore(tb: TestBroker): FileQueueStore {
  return tb.broker.vhost('/')!.queues.get('q')!.store as FileQueueStore;
}

describe('record codec', () => {
  it('round-trips every property and every header value type', () => {
    const m: Message = {
      exchange: 'ex',
      routingKey: 'a.b',
      rawProperties: undefined,
      body: Buffer.from([0, 1, 2, 255]),
      properties: {
        contentType: 'text/plain',
        contentEncoding: 'gzip',
        deliveryMode: 2,
        priority: 7,
        correlationId: 'c',
        replyTo: 'r',
        expiration: '60000',
        messageId: 'm',
        timestamp: 1_700_000_000,
        type: 't',
        userId: 'guest',
        appId: 'app',
        clusterId: 'cl',
        headers: {
          s: 'ünïcode',
          i: 42,
          d: 1.5,
          big: 2n ** 62n,
          t: true,
          n: null,
          x: Buffer.from('bin'),
          ts: new Date(1_700_000_000_000),
          dec: { $decimal: true, scale: 2, value: 314 },
          arr: [1, 'two', [3]],
          tbl: { nested: { deep: false } },
        },
      },
    };
    const w = new ByteWriter(16);
    const size = writeRecord(w, 1, 12, 34, 5, m);
    expect(checkRecord(w.buf.subarray(0, w.length), 0)).toBe(size);
    const r = readRecord(w.buf, 0);
    expect(r).toEqual({ flags: 1, seq: 12, expiresAt: 34, priority: 5, message: m });
  });

  it('detects a flipped bit and a cut-off record', () => {
    const w = new ByteWriter();
    writeRecord(w, 1, 1, 0, 0, makeMessage('', 'q', 'hello'));
    const buf = Buffer.from(w.buf.subarray(0, w.length));
    expect(checkRecord(buf.subarray(0, buf.length - 1), 0)).toBe('truncated');
    buf[buf.length - 2]! ^= 0x10;
    expect(checkRecord(buf, 0)).toBe('checksum');
  });

  it('crc32: the fallback agrees with the check value and with zlib', () => {
    expect(crc32Fallback(Buffer.from('123456789'))).toBe(0xcbf43926);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff));
    expect(crc32Fallback(data)).toBe(crc32(data));
  });
});

describe('FileMessageStore: restart', () => {
  it('persistent messages in a durable queue survive a restart in order; transient ones and transient queues do not', () => {
    const dir = tmpDir();
    const a = boot(dir);
    a.c.ch.declareQueue('tq', { durable: false });
    for (let i = 1; i <= 5; i++) publish(a.c, `p${i}`);
    publish(a.c, 'transient', {});
    a.c.ch.publish(makeMessage('', 'tq', 'in a transient queue', persistent), {});
    a.tb.close();
    open.splice(0);

    const b = boot(dir);
    b.c.ch.declareQueue('tq', { durable: false });
    expect(drain(b.c).map((d) => d.body)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(drain(b.c, 'tq')).toEqual([]);
  });

  it('after a crash: acked messages never come back, delivered ones come back redelivered, in order, once', () => {
    const dir = tmpDir();
    const a = boot(dir);
    for (const b of ['a', 'b', 'c', 'd']) publish(a.c, b);
    const ga = a.c.ch.get('q', false)!; // a: acked
    a.c.ch.ack(ga.delivery.deliveryTag, false);
    a.c.ch.get('q', false); // b: delivered, not acked
    crash(a.tb, a.store);

    const b = boot(dir);
    expect(drain(b.c)).toEqual([
      { body: 'b', redelivered: true },
      { body: 'c', redelivered: false },
      { body: 'd', redelivered: false },
    ]);
    crash(b.tb, b.store);
    // They were consumed with no-ack (settled): nothing remains.
    const c = boot(dir);
    expect(drain(c.c)).toEqual([]);
  });

  it('a segment whose messages are all settled is gone from disk when the settle returns (a crash then cannot bring them back)', () => {
    const dir = tmpDir();
    const a = boot(dir);
    for (const b of ['a', 'b']) publish(a.c, b);
    crash(a.tb, a.store);
    // After a restart the recovered segment is no longer the one being written: settling all of it drops it.
    const b = boot(dir);
    const qdir = b.store.queueDir('/', 'q');
    const recovered = fs.readdirSync(qdir).filter((f) => f.endsWith('.seg'));
    expect(recovered).toHaveLength(1);
    // Keep libuv's threadpool busy for a moment, as a loaded machine does: an asynchronous unlink waits behind it.
    for (let i = 0; i < 8; i++) pbkdf2('busy', 'salt', 100_000, 32, 'sha256', () => {});
    expect(drain(b.c)).toHaveLength(2);
    b.store.flushNow();
    // Checked at once, with no turn of the event loop: the files must not wait for an asynchronous unlink, or a crash
    // now would bring both messages back (their ack marks go with the segment).
    const left = fs.readdirSync(qdir).filter((f) => f.startsWith(recovered[0]!.slice(0, -4)));
    expect(left).toEqual([]);
    crash(b.tb, b.store);
    expect(drain(boot(dir).c)).toEqual([]);
  });

  it('a message delivered straight to a consumer is on disk until acked', () => {
    const dir = tmpDir();
    const a = boot(dir);
    a.c.ch.consume('q', { consumerTag: 'c1' });
    publish(a.c, 'direct');
    expect(a.c.host.deliveries).toHaveLength(1);
    crash(a.tb, a.store);
    const b = boot(dir);
    expect(drain(b.c)).toEqual([{ body: 'direct', redelivered: true }]);
  });

  it('a message handed straight to a no-ack consumer is not written, and its confirm does not wait for a sync', () => {
    const dir = tmpDir();
    const a = boot(dir);
    a.c.ch.consume('q', { consumerTag: 'c1', noAck: true });
    publish(a.c, 'gone', persistent, 1);
    expect(a.c.host.deliveries).toHaveLength(1);
    expect(a.c.host.confirms).toEqual([[1, true]]);
    a.store.flushNow();
    const qdir = a.store.queueDir('/', 'q');
    const segs = fs.existsSync(qdir) ? fs.readdirSync(qdir).filter((f) => f.endsWith('.seg')) : [];
    expect(segs).toEqual([]);
  });

  it('new messages after a restart queue behind the recovered ones (seq continues)', () => {
    const dir = tmpDir();
    const a = boot(dir);
    publish(a.c, 'old1');
    publish(a.c, 'old2');
    crash(a.tb, a.store);
    const b = boot(dir);
    publish(b.c, 'new');
    const g = b.c.ch.get('q', false)!;
    b.c.ch.nack(g.delivery.deliveryTag, false, true); // requeue old1 to its place
    expect(drain(b.c).map((d) => d.body)).toEqual(['old1', 'old2', 'new']);
  });

  it('TTL keeps counting across a restart (absolute expiry)', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    publish(a.c, 'short', { deliveryMode: 2, expiration: '30' });
    publish(a.c, 'long', { deliveryMode: 2, expiration: '600000' });
    crash(a.tb, a.store);
    await new Promise((r) => setTimeout(r, 60));
    const b = boot(dir);
    expect(drain(b.c).map((d) => d.body)).toEqual(['long']);
  });

  it('priority queues recover each message at its priority', () => {
    const dir = tmpDir();
    const a = boot(dir, {}, { 'x-max-priority': 5 });
    publish(a.c, 'low', { deliveryMode: 2, priority: 1 });
    publish(a.c, 'high', { deliveryMode: 2, priority: 5 });
    crash(a.tb, a.store);
    const b = boot(dir, {}, { 'x-max-priority': 5 });
    expect(drain(b.c).map((d) => d.body)).toEqual(['high', 'low']);
  });

  it('deleting a durable queue removes its files; redeclaring it starts empty', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    publish(a.c, 'x');
    a.store.flushNow();
    const qdir = a.store.queueDir('/', 'q');
    expect(fs.existsSync(qdir)).toBe(true);
    a.c.ch.deleteQueue('q', {});
    expect(fs.existsSync(qdir)).toBe(false);
    a.c.ch.declareQueue('q', { durable: true });
    expect(drain(a.c)).toEqual([]);
    crash(a.tb, a.store);
    const b = boot(dir);
    expect(drain(b.c)).toEqual([]);
  });
});

describe('FileMessageStore: confirms after fsync', () => {
  it('a persistent publish to a durable queue confirms only after the group commit; order is kept', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    a.c.ch.declareQueue('tq', { durable: false });
    publish(a.c, 'p', persistent, 1);
    a.c.ch.publish(makeMessage('', 'tq', 'to a transient queue', persistent), { sequence: 2 });
    expect(a.c.host.confirms).toEqual([]); // 2 waits behind 1
    await until(() => a.c.host.confirms.length === 2, 'confirms');
    expect(a.c.host.confirms).toEqual([
      [1, true],
      [2, true],
    ]);
  });

  it('a publish that wrote nothing durable confirms at once', () => {
    const dir = tmpDir();
    const a = boot(dir);
    publish(a.c, 'transient', {}, 1);
    a.c.ch.publish(makeMessage('', 'nowhere', 'unroutable', persistent), { sequence: 2 });
    expect(a.c.host.confirms).toEqual([
      [1, true],
      [2, true],
    ]);
  });

  it('a sink with nothing waiting is not held up by another sink waiting for the fsync', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    const other = a.tb.channel();
    publish(a.c, 'p', persistent, 1);
    publish(other, 't', {}, 1);
    expect(other.host.confirms).toEqual([[1, true]]);
    expect(a.c.host.confirms).toEqual([]);
    await until(() => a.c.host.confirms.length === 1, 'the durable confirm');
  });

  it('many publishers share fsync rounds', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    const chans = [a.c, a.tb.channel(), a.tb.channel()];
    for (let i = 1; i <= 300; i++) for (const c of chans) publish(c, `m${i}`, persistent, i);
    await until(() => chans.every((c) => c.host.confirms.length === 300), 'confirms');
    for (const c of chans) expect(c.host.confirms.map(([s]) => s)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });
});

describe('FileMessageStore: paging and reclaim', () => {
  const small = { queueMemoryBytes: 20 * (ENTRY_OVERHEAD + 8), segmentSize: 4096 };

  it('keeps at most the memory budget resident and reads the rest back in order', () => {
    const dir = tmpDir();
    const a = boot(dir, small);
    for (let i = 0; i < 1000; i++) publish(a.c, `m${String(i).padStart(4, '0')}`, i % 3 === 0 ? {} : persistent);
    const qs = queueStore(a.tb);
    expect(qs.messageCount).toBe(1000);
    expect(qs.residentCount).toBeLessThanOrEqual(20);
    const got = drain(a.c).map((d) => d.body);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => `m${String(i).padStart(4, '0')}`));
  });

  it('paged-out messages survive a crash (persistent ones only), and read back in order', () => {
    const dir = tmpDir();
    const a = boot(dir, small);
    for (let i = 0; i < 500; i++) publish(a.c, `m${i}`, i % 2 === 0 ? persistent : {});
    for (let i = 0; i < 10; i++) a.c.ch.get('q', true); // m0..m9 settled
    crash(a.tb, a.store);
    const b = boot(dir, small);
    const qs = queueStore(b.tb);
    expect(qs.messageCount).toBe(245);
    expect(qs.residentCount).toBeLessThanOrEqual(20);
    const expected = Array.from({ length: 250 }, (_, i) => `m${i * 2}`).slice(5);
    expect(drain(b.c).map((d) => d.body)).toEqual(expected);
  });

  it('deletes segments whose messages are all settled while running', async () => {
    const dir = tmpDir();
    const a = boot(dir, { segmentSize: 1024 });
    for (let i = 0; i < 200; i++) publish(a.c, `message ${i}`);
    a.store.flushNow();
    const qdir = a.store.queueDir('/', 'q');
    const segs = (): string[] => fs.readdirSync(qdir).filter((f) => f.endsWith('.seg'));
    expect(segs().length).toBeGreaterThan(10);
    a.c.ch.purgeQueue('q');
    a.store.flushNow();
    await until(() => segs().length === 1, 'settled segments to be deleted');
    crash(a.tb, a.store);
    const b = boot(dir, { segmentSize: 1024 });
    expect(drain(b.c)).toEqual([]);
  });
});

describe('FileMessageStore: damaged files', () => {
  function lastSegment(store: FileMessageStore): string {
    const qdir = store.queueDir('/', 'q');
    const segs = fs.readdirSync(qdir).filter((f) => f.endsWith('.seg')).sort();
    return path.join(qdir, segs[segs.length - 1]!);
  }

  it('a torn write at the end of the last segment is cut off with a warning', () => {
    const dir = tmpDir();
    const a = boot(dir);
    publish(a.c, 'one');
    publish(a.c, 'two');
    crash(a.tb, a.store);
    const file = lastSegment(a.store);
    const size = fs.statSync(file).size;
    // Half a record: a header announcing 100 bytes, and 10 of them.
    const torn = Buffer.alloc(18);
    torn.writeUInt32LE(100, 0);
    fs.appendFileSync(file, torn);
    const lines: string[] = [];
    const b = boot(dir, { logger: recordingLogger(lines) });
    expect(lines).toContain('warn: torn write at the end of a segment cut off');
    expect(fs.statSync(file).size).toBe(size);
    expect(drain(b.c).map((d) => d.body)).toEqual(['one', 'two']);
  });

  it('a zero-filled tail (extended but never written) is cut off too', () => {
    const dir = tmpDir();
    const a = boot(dir);
    publish(a.c, 'one');
    crash(a.tb, a.store);
    fs.appendFileSync(lastSegment(a.store), Buffer.alloc(4096));
    const lines: string[] = [];
    const b = boot(dir, { logger: recordingLogger(lines) });
    expect(lines).toContain('warn: torn write at the end of a segment cut off');
    expect(drain(b.c).map((d) => d.body)).toEqual(['one']);
  });

  it('corruption inside an older segment is reported as an error; the rest of the queue is recovered', () => {
    const dir = tmpDir();
    const a = boot(dir, { segmentSize: 256 });
    for (let i = 0; i < 40; i++) publish(a.c, `message number ${i}`);
    crash(a.tb, a.store);
    const qdir = a.store.queueDir('/', 'q');
    const segs = fs.readdirSync(qdir).filter((f) => f.endsWith('.seg')).sort();
    expect(segs.length).toBeGreaterThan(3);
    const first = path.join(qdir, segs[0]!);
    const data = fs.readFileSync(first);
    data[data.length - 3]! ^= 0xff; // inside the last record of the first segment
    fs.writeFileSync(first, data);
    const lines: string[] = [];
    const b = boot(dir, { segmentSize: 256, logger: recordingLogger(lines) });
    expect(lines).toContain('error: corrupt segment file: records from this offset on are skipped');
    const got = drain(b.c).map((d) => d.body);
    expect(got.length).toBe(39);
    expect(got[got.length - 1]).toBe('message number 39');
  });

  it('a torn ack mark is cut off: that message comes back (at-least-once)', () => {
    const dir = tmpDir();
    const a = boot(dir);
    publish(a.c, 'a');
    publish(a.c, 'b');
    a.c.ch.get('q', true);
    crash(a.tb, a.store);
    const ack = lastSegment(a.store).replace(/\.seg$/, '.ack');
    fs.appendFileSync(ack, Buffer.from([1, 2]));
    const lines: string[] = [];
    const b = boot(dir, { logger: recordingLogger(lines) });
    expect(lines).toContain('warn: torn ack mark cut off');
    expect(drain(b.c).map((d) => d.body)).toEqual(['b']);
  });
});

describe('FileQueueStore: model check', () => {
  it('any mix of push, shift, requeue and settle keeps seq order with paging; a restart recovers exactly the unsettled persistent entries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('push', 'pushTransient', 'shift', 'requeue', 'settle'), { maxLength: 300 }),
        (ops) => {
          const dir = tmpDir();
          const options = { dir, queueMemoryBytes: 3 * (ENTRY_OVERHEAD + 4), segmentSize: 300 };
          const store = new FileMessageStore(options);
          const qs = store.openQueue('/', 'q', { durable: true, maxPriority: 0 });
          const ready: number[] = []; // model: ready seqs, sorted
          const out: QueueEntry[] = [];
          const persistentSeqs = new Set<number>();
          const settledSeqs = new Set<number>();
          let seq = 0;
          for (const op of ops) {
            if (op === 'push' || op === 'pushTransient') {
              const s = ++seq;
              if (op === 'push') persistentSeqs.add(s);
              const props = op === 'push' ? { deliveryMode: 2 } : {};
              qs.push({ message: makeMessage('', 'q', `m${s}`, props), seq: s, expiresAt: 0, priority: 0, redelivered: false, deliveryCount: 0 });
              ready.push(s);
            } else if (op === 'shift') {
              const e = qs.shift();
              expect(e?.seq).toBe(ready.shift());
              if (e !== undefined) {
                expect(e.message.body.toString()).toBe(`m${e.seq}`);
                out.push(e);
              }
            } else if (op === 'requeue' || op === 'settle') {
              const e = out.shift();
              if (e === undefined) continue;
              if (op === 'settle') {
                qs.settled(e);
                settledSeqs.add(e.seq);
              } else {
                e.redelivered = true;
                qs.requeue(e);
                ready.push(e.seq);
                ready.sort((a, b) => a - b);
              }
            }
            expect(qs.messageCount).toBe(ready.length);
          }
          store.flushNow(); // crash: nothing closed
          const again = new FileMessageStore(options).openQueue('/', 'q', { durable: true, maxPriority: 0 });
          const recovered: number[] = [];
          for (let e = again.shift(); e !== undefined; e = again.shift()) recovered.push(e.seq);
          const expected = [...persistentSeqs].filter((s) => !settledSeqs.has(s)).sort((a, b) => a - b);
          expect(recovered).toEqual(expected);
          expect(again.lastSeq).toBeLessThanOrEqual(seq);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('FileMessageStore: open file cap', () => {
  it('keeps at most maxOpenFiles files open across many durable queues; paged reads, acks and recovery reopen them', async () => {
    // Watch the store's system calls: a file must never be closed with writes that no fdatasync has covered (the
    // cache may only close synced files, or a confirm could be sent for data still in the page cache only).
    const fsCjs = createRequire(import.meta.url)('node:fs') as typeof fs;
    const orig = { writeSync: fsCjs.writeSync, fdatasync: fsCjs.fdatasync, closeSync: fsCjs.closeSync };
    const dirty = new Set<number>();
    const violations: number[] = [];
    let writes = 0;
    fsCjs.writeSync = ((fd: number, ...rest: unknown[]) => {
      writes++;
      dirty.add(fd);
      return (orig.writeSync as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.writeSync;
    fsCjs.fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      dirty.delete(fd);
      orig.fdatasync(fd, cb);
    }) as typeof fs.fdatasync;
    fsCjs.closeSync = ((fd: number) => {
      if (dirty.has(fd)) violations.push(fd);
      dirty.delete(fd);
      orig.closeSync(fd);
    }) as typeof fs.closeSync;
    syncBuiltinESMExports();
    try {
      await capRun();
    } finally {
      Object.assign(fsCjs, orig);
      syncBuiltinESMExports();
    }
    expect(writes).toBeGreaterThan(100); // the watch saw the store's writes
    expect(violations).toEqual([]);
  });
});

async function capRun(): Promise<void> {
  {
    const dir = tmpDir();
    const options = { maxOpenFiles: 8, queueMemoryBytes: 2 * (ENTRY_OVERHEAD + 8), segmentSize: 4096 };
    const store = new FileMessageStore({ dir, ...options });
    const tb = new TestBroker({ store });
    open.push(tb);
    const c = tb.channel();
    const queues = 30;
    let seq = 0;
    for (let i = 0; i < queues; i++) {
      c.ch.declareQueue(`q${i}`, { durable: true });
      // Five messages each: with a budget of two resident, three are paged out to the segment file.
      for (let m = 0; m < 5; m++) c.ch.publish(makeMessage('', `q${i}`, `q${i}-m${m}`, persistent), { sequence: ++seq });
      const want = seq;
      await until(() => c.host.confirms.length === want, 'confirms');
      // Files are closed only once synced: at most one queue's worth over the cap at any time.
      expect(store.openFiles).toBeLessThanOrEqual(options.maxOpenFiles + 2);
    }
    // A burst to every queue in one turn: all those files are written before any sync round, so the cap must give
    // way until the round is done rather than close files with unsynced writes.
    for (let i = 0; i < queues; i++) c.ch.publish(makeMessage('', `q${i}`, `q${i}-m5`, persistent), { sequence: ++seq });
    const burst = seq;
    await until(() => c.host.confirms.length === burst, 'the burst confirmed');
    expect(c.host.confirms.every(([, ok]) => ok)).toBe(true);
    // Take two of each queue (reading back pages from files closed long ago), acking them. A persistent publish
    // to another queue, confirmed, makes a sync round: only synced files may be closed, so without rounds the ack
    // files written meanwhile would all stay open.
    c.ch.declareQueue('sync', { durable: true });
    const syncRound = async (): Promise<void> => {
      c.ch.publish(makeMessage('', 'sync', 'x', persistent), { sequence: ++seq });
      const want = seq;
      await until(() => c.host.confirms.length === want, 'a sync round');
    };
    for (let i = 0; i < queues; i++) {
      for (let m = 0; m < 2; m++) expect(c.ch.get(`q${i}`, true)?.delivery.message.body.toString()).toBe(`q${i}-m${m}`);
      await syncRound();
      // This queue's segment and ack file, and the sync queue's, may be over the cap until the next opens.
      expect(store.openFiles).toBeLessThanOrEqual(options.maxOpenFiles + 4);
    }
    crash(tb, store);
    // Recovery opens nothing up front; every queue still reads back exactly what was not taken.
    const store2 = new FileMessageStore({ dir, ...options });
    const tb2 = new TestBroker({ store: store2 });
    open.push(tb2);
    const c2 = tb2.channel();
    for (let i = 0; i < queues; i++) c2.ch.declareQueue(`q${i}`, { durable: true });
    expect(store2.openFiles).toBe(0);
    for (let i = 0; i < queues; i++) {
      expect(drain(c2, `q${i}`).map((d) => d.body)).toEqual([`q${i}-m2`, `q${i}-m3`, `q${i}-m4`, `q${i}-m5`]);
      expect(store2.openFiles).toBeLessThanOrEqual(options.maxOpenFiles + 2);
    }
  }
}
