import fc from 'fast-check';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageProperties } from '../contract.js';
import { makeMessage } from '../testing/fake-host.js';
import { TestBroker, type TestChannel } from '../testing/setup.js';
import { FileDefinitionsStore } from './definitions.js';
import { ENTRY_OVERHEAD, FileMessageStore, type FileMessageStoreOptions } from './file-message-store.js';
import type { QueueEntry } from './store.js';
import { ByteWriter, checkRecord, FLAG_PERSISTENT, FLAG_REF, recordHead, refLocation, writeRef } from './record-codec.js';
import { recordingLogger, tempDirs } from '../testing/temp-store.js';

const require = createRequire(import.meta.url);
const temp = tempDirs('warren-bodies-');
const tmpDir = temp.make;
const open: TestBroker[] = [];

afterEach(() => {
  for (const b of open.splice(0)) b.close();
  temp.removeAll();
});

const N = 10;
const persistent: MessageProperties = { deliveryMode: 2 };
const qname = (i: number): string => `q${i}`;

/**
 * A broker on a file store in `dir` with the durable fanout exchange fx and the durable queues q0..q(n-1) bound to it
 * (declared again after a restart, as the definitions store would), or only the queues in `only`.
 */
function boot(dir: string, options: Partial<FileMessageStoreOptions> = {}, only?: number[]): { tb: TestBroker; store: FileMessageStore; c: TestChannel } {
  const store = new FileMessageStore({ dir, ...options });
  const tb = new TestBroker({ store });
  open.push(tb);
  const c = tb.channel();
  c.ch.declareExchange('fx', 'fanout', { durable: true });
  for (const i of only ?? Array.from({ length: N }, (_, k) => k)) {
    c.ch.declareQueue(qname(i), { durable: true });
    c.ch.bindQueue(qname(i), 'fx', '');
  }
  return { tb, store, c };
}

/** kill -9 as far as the files are concerned: what was written stays, nothing is closed or synced. */
function crash(tb: TestBroker, store: FileMessageStore): void {
  store.flushNow();
  open.splice(open.indexOf(tb), 1);
}

function fanout(c: TestChannel, body: string | Buffer, sequence?: number, props: MessageProperties = persistent): void {
  const m = { ...makeMessage('fx', '', '', props), body: Buffer.isBuffer(body) ? body : Buffer.from(body) };
  c.ch.publish(m, sequence === undefined ? {} : { sequence });
}

function drain(c: TestChannel, queue: string): string[] {
  const out: string[] = [];
  for (let r = c.ch.get(queue, true); r !== undefined; r = c.ch.get(queue, true)) out.push(r.delivery.message.body.toString());
  return out;
}

/** Take every message of `queue` unacked; returns body → delivery tag. */
function take(c: TestChannel, queue: string): Map<string, number> {
  const tags = new Map<string, number>();
  for (let r = c.ch.get(queue, false); r !== undefined; r = c.ch.get(queue, false)) tags.set(r.delivery.message.body.toString(), r.delivery.deliveryTag);
  return tags;
}

function files(dir: string, ext: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(ext)) : [];
}

function bodySegments(store: FileMessageStore): string[] {
  return files(path.join(store.dir, 'bodies'), '.seg');
}

/** The records of every segment of a queue: [flags, bodyLocation or -1]. */
function queueRecords(store: FileMessageStore, queue: string): { ref: boolean; body: number }[] {
  const dir = store.queueDir('/', queue);
  const out: { ref: boolean; body: number }[] = [];
  for (const f of files(dir, '.seg').sort()) {
    const data = fs.readFileSync(path.join(dir, f));
    for (let pos = 0; pos < data.length; ) {
      const size = checkRecord(data, pos);
      if (typeof size !== 'number') throw new Error(`bad record: ${size}`);
      const ref = (recordHead(data, pos).flags & FLAG_REF) !== 0;
      out.push({ ref, body: ref ? refLocation(data, pos) : -1 });
      pos += size;
    }
  }
  return out;
}

function bodyOf(i: number, size = 1024): Buffer {
  const b = Buffer.alloc(size, 0x61 + (i % 26));
  b.write(`m${i}:`);
  return b;
}

describe('reference record codec', () => {
  it('round-trips and is checked like any record', () => {
    const w = new ByteWriter(8);
    const size = writeRef(w, FLAG_PERSISTENT, 7, 123, 3, 16384, 5 * 0x1_0000_0000 + 4096);
    const buf = Buffer.from(w.buf.subarray(0, w.length));
    expect(checkRecord(buf, 0)).toBe(size);
    expect(recordHead(buf, 0)).toEqual({ flags: FLAG_PERSISTENT | FLAG_REF, seq: 7, expiresAt: 123, priority: 3, bodyBytes: 16384 });
    expect(refLocation(buf, 0)).toBe(5 * 0x1_0000_0000 + 4096);
    buf[buf.length - 1]! ^= 1;
    expect(checkRecord(buf, 0)).toBe('checksum');
  });
});

describe('shared message bodies: fanout to durable queues', () => {
  it('a persistent message routed to 10 durable queues is written once, with a small reference in each queue', () => {
    const dir = tmpDir();
    const a = boot(dir);
    for (let i = 0; i < 20; i++) fanout(a.c, bodyOf(i));
    a.store.flushNow();
    // 20 bodies of 1 KiB once each plus 200 references, not 200 copies.
    expect(a.store.bytesWritten).toBeLessThan(20 * 1024 * 2);
    expect(a.store.bytesWritten).toBeGreaterThan(20 * 1024);
    for (let q = 0; q < N; q++) {
      const recs = queueRecords(a.store, qname(q));
      expect(recs).toHaveLength(20);
      expect(recs.every((r) => r.ref)).toBe(true);
    }
    // Every queue refers to the same 20 bodies.
    const bodies = new Set(queueRecords(a.store, 'q0').map((r) => r.body));
    expect(bodies.size).toBe(20);
    expect(new Set(queueRecords(a.store, 'q9').map((r) => r.body))).toEqual(bodies);
    expect(a.store.bodies.liveBodies).toBe(20);
  });

  it('a single durable queue keeps whole records (no body log), and a transient message is not shared', () => {
    const dir = tmpDir();
    const a = boot(dir, {}, [0]);
    a.c.ch.declareQueue('tq', { durable: false });
    a.c.ch.bindQueue('tq', 'fx', '');
    fanout(a.c, 'one durable queue');
    fanout(a.c, 'transient', undefined, {});
    a.store.flushNow();
    expect(queueRecords(a.store, 'q0').map((r) => r.ref)).toEqual([false]);
    expect(bodySegments(a.store)).toEqual([]);
  });

  it('after a crash every queue has every message, in order, with the publish properties', () => {
    const dir = tmpDir();
    const a = boot(dir);
    for (let i = 0; i < 30; i++) fanout(a.c, `m${i}`, undefined, { deliveryMode: 2, headers: { n: i }, correlationId: `c${i}` });
    crash(a.tb, a.store);
    const b = boot(dir);
    const want = Array.from({ length: 30 }, (_, i) => `m${i}`);
    for (let q = 0; q < N; q++) expect(drain(b.c, qname(q))).toEqual(want);
    crash(b.tb, b.store);
    const r = boot(dir);
    const g = r.c.ch.get('q0', true);
    expect(g).toBeUndefined();
  });

  it('recovery keeps header values and properties of a shared body', () => {
    const dir = tmpDir();
    const a = boot(dir);
    fanout(a.c, 'p', undefined, { deliveryMode: 2, headers: { n: 1, s: 'x' }, correlationId: 'c', priority: 3 });
    crash(a.tb, a.store);
    const b = boot(dir);
    const g = b.c.ch.get('q5', true)!;
    expect(g.delivery.message.properties).toEqual({ deliveryMode: 2, headers: { n: 1, s: 'x' }, correlationId: 'c', priority: 3 });
    expect(g.delivery.message.exchange).toBe('fx');
  });

  it('acks in a different order in each queue: a body lives until the last queue acks it, then it is garbage', () => {
    const dir = tmpDir();
    // Small segments, so bodies spread over several body segments that can go one by one.
    const a = boot(dir, { segmentSize: 4096 });
    const M = 24;
    for (let i = 0; i < M; i++) fanout(a.c, bodyOf(i, 900));
    a.store.flushNow();
    const before = bodySegments(a.store).length;
    expect(before).toBeGreaterThan(3);
    const tags = Array.from({ length: N }, (_, q) => take(a.c, qname(q)));
    // Queue q acks in a rotation of its own, queues 0..8 everything; queue 9 keeps m5 unacked.
    for (let q = 0; q < N; q++) {
      const order = [...tags[q]!.keys()];
      const rotated = [...order.slice((q * 7) % M), ...order.slice(0, (q * 7) % M)].reverse();
      for (const body of rotated) if (!(q === 9 && body.startsWith('m5:'))) a.c.ch.ack(tags[q]!.get(body)!, false);
    }
    a.store.flushNow();
    expect(a.store.bodies.liveBodies).toBe(1);
    // Only the segment holding m5 (and the one being written) remain.
    expect(bodySegments(a.store).length).toBeLessThanOrEqual(2);
    crash(a.tb, a.store);

    const b = boot(dir, { segmentSize: 4096 });
    for (let q = 0; q < 9; q++) expect(drain(b.c, qname(q))).toEqual([]);
    const left = drain(b.c, 'q9');
    expect(left).toHaveLength(1);
    expect(left[0]!.startsWith('m5:')).toBe(true);
    b.store.flushNow();
    expect(b.store.bodies.liveBodies).toBe(0);
    expect(bodySegments(b.store)).toEqual([]);
  });

  it('purging one queue and deleting another keeps the bodies the other queues still hold', () => {
    const dir = tmpDir();
    const a = boot(dir);
    for (let i = 0; i < 5; i++) fanout(a.c, `m${i}`);
    expect(a.c.ch.purgeQueue('q0')).toBe(5);
    a.c.ch.deleteQueue('q1', {});
    a.store.flushNow();
    expect(a.store.bodies.liveBodies).toBe(5);
    crash(a.tb, a.store);
    const b = boot(dir);
    expect(drain(b.c, 'q0')).toEqual([]);
    expect(drain(b.c, 'q1')).toEqual([]);
    for (let q = 2; q < N; q++) expect(drain(b.c, qname(q))).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    b.store.flushNow();
    expect(b.store.bodies.liveBodies).toBe(0);
  });

  it('deleting queues releases their references, paged-out ones included', () => {
    const dir = tmpDir();
    // A budget of a few messages: most references live only on disk.
    const a = boot(dir, { queueMemoryBytes: 8 * 1024, segmentSize: 8192 });
    for (let i = 0; i < 40; i++) fanout(a.c, bodyOf(i, 2000));
    a.store.flushNow();
    expect(a.store.bodies.liveBodies).toBe(40);
    // A delivered, unacked message of a deleted queue no longer holds its body either.
    take(a.c, 'q3');
    for (let q = 0; q < N; q++) a.c.ch.deleteQueue(qname(q), {});
    a.store.flushNow();
    expect(a.store.bodies.liveBodies).toBe(0);
    expect(bodySegments(a.store).length).toBeLessThanOrEqual(1);
  });

  it('paged-out references read back in order, before and after a crash', () => {
    const dir = tmpDir();
    const opts = { queueMemoryBytes: 8 * 1024, segmentSize: 16 * 1024 };
    const a = boot(dir, opts);
    for (let i = 0; i < 50; i++) fanout(a.c, bodyOf(i, 1500));
    const want = Array.from({ length: 50 }, (_, i) => bodyOf(i, 1500).toString());
    expect(drain(a.c, 'q0')).toEqual(want);
    crash(a.tb, a.store);
    const b = boot(dir, opts);
    expect(drain(b.c, 'q0')).toEqual([]);
    for (let q = 1; q < N; q++) expect(drain(b.c, qname(q))).toEqual(want);
    b.store.flushNow();
    expect(b.store.bodies.liveBodies).toBe(0);
    expect(bodySegments(b.store)).toEqual([]);
  });

  it('recovery counts references: bodies stay while any queue holds them, even a queue not opened yet', () => {
    const dir = tmpDir();
    const a = boot(dir);
    for (let i = 0; i < 3; i++) fanout(a.c, `m${i}`);
    crash(a.tb, a.store);

    // Only q0..q8 are opened: q9 may still claim the bodies, so acking them everywhere else keeps them.
    const b = boot(dir, {}, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(b.store.bodies.liveBodies).toBe(3);
    for (let q = 0; q < 9; q++) expect(drain(b.c, qname(q))).toEqual(['m0', 'm1', 'm2']);
    b.store.flushNow();
    expect(b.store.bodies.liveBodies).toBe(3);
    expect(bodySegments(b.store)).toHaveLength(1);
    // q9 opens: it gets its messages; acking them makes the bodies garbage.
    b.c.ch.declareQueue('q9', { durable: true });
    expect(drain(b.c, 'q9')).toEqual(['m0', 'm1', 'm2']);
    b.store.flushNow();
    expect(b.store.bodies.liveBodies).toBe(0);
    expect(bodySegments(b.store)).toEqual([]);
  });

  it('once the broker says every durable queue is open, bodies no opened queue refers to are dropped', () => {
    const dir = tmpDir();
    const a = boot(dir);
    fanout(a.c, 'orphan');
    crash(a.tb, a.store);
    // The queues' directories vanish (as when a deleted queue's directory was set aside).
    for (let q = 0; q < N; q++) fs.rmSync(a.store.queueDir('/', qname(q)), { recursive: true });
    const store = new FileMessageStore({ dir });
    expect(store.bodies.liveBodies).toBe(0);
    store.flushNow();
    expect(bodySegments(store)).toEqual([]);
    store.close();

    const dir2 = tmpDir();
    const b = boot(dir2, {}, [0, 1]);
    fanout(b.c, 'x');
    crash(b.tb, b.store);
    const s2 = new FileMessageStore({ dir: dir2 });
    expect(s2.bodies.liveBodies).toBe(1);
    s2.recoveryComplete();
    s2.flushNow();
    expect(s2.bodies.liveBodies).toBe(0);
    expect(bodySegments(s2)).toEqual([]);
    s2.close();
  });

  it('a broker restoring its definitions tells the store every durable queue is open: bodies only a stray queue directory refers to go', async () => {
    const dir = tmpDir();
    const start = (): { tb: TestBroker; store: FileMessageStore } => {
      const store = new FileMessageStore({ dir: path.join(dir, 'messages') });
      const tb = new TestBroker({ store, definitions: new FileDefinitionsStore(dir) });
      open.push(tb);
      return { tb, store };
    };
    const a = start();
    const c = a.tb.channel();
    c.ch.declareExchange('fx', 'fanout', { durable: true });
    for (const q of ['q0', 'q1']) {
      c.ch.declareQueue(q, { durable: true });
      c.ch.bindQueue(q, 'fx', '');
    }
    await a.tb.broker.flushDefinitions();
    fanout(c, 'm');
    crash(a.tb, a.store);
    // A directory of a queue the definitions do not have (its declare was lost to the crash) refers to the body too.
    fs.cpSync(a.store.queueDir('/', 'q1'), a.store.queueDir('/', 'lost'), { recursive: true });

    const b = start();
    expect(b.store.bodies.liveBodies).toBe(1);
    const d = b.tb.channel();
    expect(drain(d, 'q0')).toEqual(['m']);
    expect(drain(d, 'q1')).toEqual(['m']);
    b.store.flushNow();
    expect(b.store.bodies.liveBodies).toBe(0);
    expect(bodySegments(b.store)).toEqual([]);
  });

  it('a reference whose body is gone is dropped with an error line; the rest of the queue recovers', () => {
    const dir = tmpDir();
    const a = boot(dir, {}, [0, 1]);
    a.c.ch.declareQueue('solo', { durable: true });
    fanout(a.c, 'shared');
    a.c.ch.publish(makeMessage('', 'solo', 'whole', persistent), {});
    crash(a.tb, a.store);
    for (const f of bodySegments(a.store)) fs.rmSync(path.join(dir, 'bodies', f));
    const lines: string[] = [];
    const b = boot(dir, { logger: recordingLogger(lines) }, [0, 1]);
    b.c.ch.declareQueue('solo', { durable: true });
    expect(drain(b.c, 'q0')).toEqual([]);
    expect(drain(b.c, 'solo')).toEqual(['whole']);
    expect(lines).toContain('error: references to missing shared message bodies dropped');
  });

  it('a torn body at the end of the body log is cut off with a warning', () => {
    const dir = tmpDir();
    const a = boot(dir, {}, [0, 1]);
    fanout(a.c, 'kept');
    fanout(a.c, 'torn');
    crash(a.tb, a.store);
    const seg = path.join(dir, 'bodies', bodySegments(a.store)[0]!);
    fs.truncateSync(seg, fs.statSync(seg).size - 3);
    const lines: string[] = [];
    const b = boot(dir, { logger: recordingLogger(lines) }, [0, 1]);
    expect(lines).toContain('warn: torn write at the end of a body segment cut off');
    expect(drain(b.c, 'q0')).toEqual(['kept']);
    expect(drain(b.c, 'q1')).toEqual(['kept']);
  });

  it('confirms of a fanout go out only after an fdatasync round that covers the body file and every queue file', async () => {
    const dir = tmpDir();
    const a = boot(dir, {}, [0, 1, 2]);
    // Which files each fdatasync covered (sync-all.ts calls fs.fdatasync).
    const synced: string[] = [];
    const real = fs.fdatasync;
    const fsMut = require('node:fs') as { fdatasync: typeof fs.fdatasync };
    fsMut.fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      // Stores of earlier tests (left as if killed) may sync their own files now: only this store's count.
      const file = path.relative(dir, fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (!file.startsWith('..')) synced.push(file);
      real(fd, cb);
    }) as typeof fs.fdatasync;
    try {
      fanout(a.c, 'p', 1);
      expect(a.c.host.confirms).toEqual([]);
      for (let i = 0; i < 500 && a.c.host.confirms.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      fsMut.fdatasync = real;
    }
    expect(a.c.host.confirms).toEqual([[1, true]]);
    const expected = [path.join('bodies', bodySegments(a.store)[0]!)];
    for (let q = 0; q < 3; q++) expected.push(path.relative(dir, path.join(a.store.queueDir('/', qname(q)), '0000000001.seg')));
    expect(synced.sort()).toEqual(expected.sort());
    for (let q = 0; q < 3; q++) expect(queueRecords(a.store, qname(q)).map((r) => r.ref)).toEqual([true]);
  });

  it('a message delivered straight to consumers of several queues refers to one body until acked', () => {
    const dir = tmpDir();
    const a = boot(dir, {}, [0, 1, 2]);
    for (let q = 0; q < 3; q++) a.c.ch.consume(qname(q), { consumerTag: `c${q}` });
    fanout(a.c, 'direct');
    expect(a.c.host.deliveries).toHaveLength(3);
    a.store.flushNow();
    expect(a.store.bodies.liveBodies).toBe(1);
    crash(a.tb, a.store);
    const b = boot(dir, {}, [0, 1, 2]);
    for (let q = 0; q < 3; q++) expect(drain(b.c, qname(q))).toEqual(['direct']);
  });
});

describe('shared message bodies: model check', () => {
  it('any mix of fan-out, single pushes, shift, requeue, settle and purge over 3 queues, with paging: live bodies are those with an unsettled reference, and a restart recovers exactly the unsettled entries of each queue', () => {
    const Q = 3;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('fanout', 'push', 'shift', 'requeue', 'settle', 'purge'), fc.integer({ min: 0, max: Q - 1 })), { maxLength: 250 }),
        (ops) => {
          const dir = tmpDir();
          const options = { dir, queueMemoryBytes: 3 * (ENTRY_OVERHEAD + 8), segmentSize: 400 };
          const store = new FileMessageStore(options);
          const qs = Array.from({ length: Q }, (_, i) => store.openQueue('/', qname(i), { durable: true, maxPriority: 0 }));
          const ready = qs.map(() => [] as number[]);
          const out = qs.map(() => [] as QueueEntry[]);
          /** Per queue: seqs not settled yet; and which fan-out (by message id) each seq of each queue refers to. */
          const live = qs.map(() => new Map<number, number>());
          const seqs = qs.map(() => 0);
          let ids = 0;
          for (const [op, q] of ops) {
            if (op === 'fanout' || op === 'push') {
              const id = ++ids;
              const m = makeMessage('x', '', `m${id}`, persistent);
              if (op === 'fanout') store.shareBody(m);
              for (const i of op === 'fanout' ? [...qs.keys()] : [q]) {
                const sq = ++seqs[i]!;
                qs[i]!.push({ message: m, seq: sq, expiresAt: 0, priority: 0, redelivered: false, deliveryCount: 0 });
                ready[i]!.push(sq);
                live[i]!.set(sq, op === 'fanout' ? id : -id);
              }
            } else if (op === 'shift') {
              const e = qs[q]!.shift();
              expect(e?.seq).toBe(ready[q]!.shift());
              if (e !== undefined) {
                expect(e.message.body.toString()).toBe(`m${Math.abs(live[q]!.get(e.seq)!)}`);
                out[q]!.push(e);
              }
            } else if (op === 'purge') {
              for (const sq of ready[q]!) live[q]!.delete(sq);
              ready[q] = [];
              qs[q]!.purge();
            } else {
              const e = out[q]!.shift();
              if (e === undefined) continue;
              if (op === 'settle') {
                qs[q]!.settled(e);
                live[q]!.delete(e.seq);
              } else {
                e.redelivered = true;
                qs[q]!.requeue(e);
                ready[q]!.push(e.seq);
                ready[q]!.sort((a, b) => a - b);
              }
            }
            const bodies = new Set<number>();
            for (const l of live) for (const id of l.values()) if (id > 0) bodies.add(id);
            expect(store.bodies.liveBodies).toBe(bodies.size);
          }
          store.flushNow(); // crash: nothing closed
          const again = new FileMessageStore(options);
          const reopened = qs.map((_, i) => again.openQueue('/', qname(i), { durable: true, maxPriority: 0 }));
          for (let i = 0; i < Q; i++) {
            const got: string[] = [];
            const taken: QueueEntry[] = [];
            for (let e = reopened[i]!.shift(); e !== undefined; e = reopened[i]!.shift()) {
              got.push(`${e.seq}:${e.message.body.toString()}`);
              taken.push(e);
            }
            const want = [...live[i]!].sort((a, b) => a[0] - b[0]).map(([sq, id]) => `${sq}:m${Math.abs(id)}`);
            expect(got).toEqual(want);
            for (const e of taken) reopened[i]!.settled(e);
          }
          again.flushNow();
          expect(again.bodies.liveBodies).toBe(0);
          expect(again.bodies.segmentCount).toBe(0);
          again.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
