import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageProperties } from '../contract.js';
import { makeMessage } from '../testing/fake-host.js';
import { TestBroker, type TestChannel } from '../testing/setup.js';
import { recordingLogger, tempDirs } from '../testing/temp-store.js';
import { isRunLocalPath, type DataDirChange, type DataDirObserver } from './data-dir-observer.js';
import * as dataFs from './data-fs.js';
import { observeDataDir } from './data-fs.js';
import { FileDefinitionsStore } from './definitions.js';
import { FileMessageStore } from './file-message-store.js';
import { FileStateLog } from './state-log.js';
import type { ConfirmSink } from './store.js';

const temp = tempDirs('warren-datafs-');
const tmpDir = temp.make;
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const f of cleanups.splice(0).reverse()) f();
  temp.removeAll();
});

const persistent: MessageProperties = { deliveryMode: 2 };

function observe(root: string, observer: DataDirObserver): void {
  cleanups.push(observeDataDir(root, observer));
}

/** An observer that records every change and passes every barrier at once. */
function recorder(): { changes: DataDirChange[]; observer: DataDirObserver } {
  const changes: DataDirChange[] = [];
  return { changes, observer: { change: (c) => void changes.push(c), barrier: (cb) => cb() } };
}

/** An observer whose barriers wait until the test releases them. */
function holdingObserver(): { observer: DataDirObserver; held: ((error?: Error) => void)[]; changes: DataDirChange[] } {
  const held: ((error?: Error) => void)[] = [];
  const changes: DataDirChange[] = [];
  return { held, changes, observer: { change: (c) => void changes.push(c), barrier: (cb) => void held.push(cb) } };
}

/** Apply one change to the copy of a data directory at `root`, as a replica would (test-only). */
function apply(root: string, c: DataDirChange): void {
  switch (c.kind) {
    case 'write': {
      const file = path.join(root, c.file);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w');
      try {
        for (let done = 0; done < c.data.length; ) done += fs.writeSync(fd, c.data, done, c.data.length - done, c.position + done);
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    case 'truncate': {
      const file = path.join(root, c.file);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      if (!fs.existsSync(file)) fs.writeFileSync(file, '');
      fs.truncateSync(file, c.length);
      return;
    }
    case 'mkdir':
      fs.mkdirSync(path.join(root, c.dir), { recursive: true });
      return;
    case 'rename':
      fs.renameSync(path.join(root, c.from), path.join(root, c.to));
      return;
    case 'remove':
      fs.rmSync(path.join(root, c.path), { recursive: true, force: true });
      return;
  }
}

/** Every file and directory under `root` that a replica keeps (relative, `/`-separated) → contents ('' for dirs). */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (isRunLocalPath(r)) continue;
      if (e.isDirectory()) {
        out.set(`${r}/`, '');
        walk(r);
      } else out.set(r, fs.readFileSync(path.join(root, r)).toString('base64'));
    }
  };
  walk('');
  return out;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('data-fs wrappers', () => {
  it('report nothing and change nothing without an observer, and only under the observed root with one', () => {
    const a = tmpDir();
    const b = tmpDir();
    dataFs.writeFileSync(path.join(a, 'before'), 'x');
    const rec = recorder();
    observe(a, rec.observer);
    dataFs.writeFileSync(path.join(b, 'elsewhere'), 'y');
    dataFs.mkdirSync(path.join(a, 'd', 'e'), { recursive: true });
    const fd = dataFs.openSync(path.join(a, 'd', 'f'), 'a');
    const buf = Buffer.from('hello');
    dataFs.writeSync(fd, buf, 0, 5, null);
    buf.write('HELLO');
    dataFs.writeSync(fd, buf, 1, 2, null);
    dataFs.ftruncateSync(fd, 3);
    dataFs.closeSync(fd);
    dataFs.renameSync(path.join(a, 'd', 'f'), path.join(a, 'g'));
    dataFs.unlinkSync(path.join(a, 'before'));
    expect(rec.changes).toEqual([
      { kind: 'mkdir', dir: 'd/e' },
      { kind: 'truncate', file: 'd/f', length: 0 },
      { kind: 'write', file: 'd/f', position: 0, data: Buffer.from('hello') },
      { kind: 'write', file: 'd/f', position: 5, data: Buffer.from('EL') },
      { kind: 'truncate', file: 'd/f', length: 3 },
      { kind: 'rename', from: 'd/f', to: 'g' },
      { kind: 'remove', path: 'before' },
    ]);
    expect(() => observeDataDir(a, rec.observer)).toThrow(/already has an observer/);
    cleanups.pop()!();
    dataFs.writeFileSync(path.join(a, 'after'), 'z');
    expect(rec.changes).toHaveLength(7);
  });

  it('knows the files behind descriptors opened before the observer came (a replica joining a running store)', () => {
    const a = tmpDir();
    const fd = dataFs.openSync(path.join(a, 'log'), 'a');
    dataFs.writeSync(fd, Buffer.from('abc'), 0, 3, null);
    const pfd = dataFs.openSync(path.join(a, 'seg'), 'w+');
    const rec = recorder();
    observe(a, rec.observer);
    dataFs.writeSync(fd, Buffer.from('de'), 0, 2, null);
    dataFs.writeSync(fd, Buffer.from('f'), 0, 1, null);
    dataFs.writeSync(pfd, Buffer.from('zz'), 0, 2, 7);
    dataFs.closeSync(fd);
    dataFs.closeSync(pfd);
    expect(rec.changes).toEqual([
      { kind: 'write', file: 'log', position: 3, data: Buffer.from('de') },
      { kind: 'write', file: 'log', position: 5, data: Buffer.from('f') },
      { kind: 'write', file: 'seg', position: 7, data: Buffer.from('zz') },
    ]);
  });

  it('gives a path to the observer with the longest root containing it', () => {
    const a = tmpDir();
    fs.mkdirSync(path.join(a, 'inner'));
    const outer = recorder();
    const inner = recorder();
    observe(a, outer.observer);
    observe(path.join(a, 'inner'), inner.observer);
    dataFs.writeFileSync(path.join(a, 'inner', 'x'), '');
    dataFs.writeFileSync(path.join(a, 'y'), '');
    expect(inner.changes).toEqual([{ kind: 'truncate', file: 'x', length: 0 }]);
    expect(outer.changes).toEqual([{ kind: 'truncate', file: 'y', length: 0 }]);
  });
});

describe('a mirror built from the reported changes', () => {
  it('is byte-identical to the data directory outside run-local paths, and a broker recovers the same messages from it', async () => {
    const dir = tmpDir();
    const mirror = tmpDir();
    const rec = recorder();
    observe(dir, rec.observer);

    const store = new FileMessageStore({ dir: path.join(dir, 'messages'), segmentSize: 2048, queueMemoryBytes: 16 * 1024 });
    const tb = new TestBroker({ store, definitions: new FileDefinitionsStore(dir) });
    const state = new FileStateLog({ dir: path.join(dir, 'mqtt'), name: 'mqtt-state', compactBytes: 2048 });
    const c: TestChannel = tb.channel();
    c.ch.declareExchange('fx', 'fanout', { durable: true });
    for (const q of ['a', 'b', 'c', 'gone']) {
      c.ch.declareQueue(q, { durable: true });
      c.ch.bindQueue(q, 'fx', '');
    }
    c.ch.declareQueue('solo', { durable: true });
    c.ch.declareQueue('s', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-stream-max-segment-size-bytes': 600, 'x-max-length-bytes': 3000 } });
    let seq = 0;
    const body = (i: number): string => `message ${i} ${'.'.repeat(i % 97)}`;
    for (let i = 0; i < 120; i++) {
      c.ch.publish(makeMessage('', 'solo', body(i), persistent), { sequence: ++seq });
      // Shared bodies: one persistent message routed to several durable queues.
      if (i % 3 === 0) c.ch.publish(makeMessage('fx', '', `fan ${body(i)}`, persistent), { sequence: ++seq });
      c.ch.publish(makeMessage('', 's', `stream ${body(i)}`, {}), { sequence: ++seq });
      state.set(`k${i % 10}`, Buffer.from(body(i)));
      if (i % 7 === 0) state.delete(`k${(i + 3) % 10}`);
      if (i % 10 === 9) await tick();
    }
    await until(() => c.host.confirms.length === seq, 'confirms');
    expect(c.host.confirms.every(([, ok]) => ok)).toBe(true);
    const generation = state.generation;
    await state.sync();
    for (let i = 0; i < 40; i++) state.set('big', Buffer.alloc(200, i));
    await state.sync();
    await tick();
    await state.sync();
    expect(state.generation).toBeGreaterThan(generation); // compacted into a new generation

    // Acks: the first 40 of solo and a (whole segments and shared bodies go), then every other one of the next 20.
    for (const q of ['solo', 'a']) {
      for (let i = 0; i < 60; i++) {
        const r = c.ch.get(q, false);
        if (r === undefined) break;
        if (i < 40 || i % 2 === 0) c.ch.ack(r.delivery.deliveryTag, false);
      }
    }
    c.ch.deleteQueue('gone', {});
    c.ch.declareExchange('later', 'topic', { durable: true });
    await tb.broker.flushDefinitions();
    await new Promise((r) => setTimeout(r, 50));
    state.close();
    tb.close();
    // Background removals of deleted queues and dropped stream segments are issued before now; let them finish.
    await new Promise((r) => setTimeout(r, 100));

    // A restart while observed: recovery's own changes (a state log appended to again, settled segments removed,
    // unreferenced bodies dropped) and more work on top.
    {
      const s2 = new FileMessageStore({ dir: path.join(dir, 'messages'), segmentSize: 2048, logger: recordingLogger([]) });
      const t2 = new TestBroker({ store: s2, definitions: new FileDefinitionsStore(dir) });
      const st2 = new FileStateLog({ dir: path.join(dir, 'mqtt'), name: 'mqtt-state', compactBytes: 1 << 20 });
      const c2 = t2.channel();
      st2.set('after-restart', Buffer.from('yes'));
      st2.delete('k1');
      for (let r = c2.ch.get('b', false), i = 0; r !== undefined && i < 25; r = c2.ch.get('b', false), i++) c2.ch.ack(r.delivery.deliveryTag, false);
      // Every reference to the oldest shared bodies goes: their segments are deleted.
      c2.ch.deleteQueue('c', {});
      c2.ch.purgeQueue('a');
      for (let i = 0; i < 10; i++) c2.ch.publish(makeMessage('fx', '', `again ${i}`, persistent), { sequence: i + 1 });
      await until(() => c2.host.confirms.length === 10, 'confirms after the restart');
      await st2.sync();
      st2.close();
      t2.close();
    }

    for (const change of rec.changes) apply(mirror, change);
    const real = snapshot(dir);
    const copy = snapshot(mirror);
    expect([...copy.keys()].sort()).toEqual([...real.keys()].sort());
    for (const [file, bytes] of real) expect(copy.get(file), file).toBe(bytes);
    expect(real.has('definitions.json')).toBe(true);
    expect([...real.keys()].some((f) => f.startsWith('messages/bodies/'))).toBe(true);
    expect([...real.keys()].some((f) => f.startsWith('messages/streams/'))).toBe(true);

    // The mirror holds the same broker: counts and bodies of every queue, the stream and the state log.
    const read = (root: string): Record<string, string[]> => {
      const s2 = new FileMessageStore({ dir: path.join(root, 'messages'), logger: recordingLogger([]) });
      const t2 = new TestBroker({ store: s2, definitions: new FileDefinitionsStore(root) });
      const c2 = t2.channel();
      const out: Record<string, string[]> = {};
      for (const q of ['a', 'b', 'solo']) {
        out[q] = [];
        for (let r = c2.ch.get(q, true); r !== undefined; r = c2.ch.get(q, true)) out[q].push(r.delivery.message.body.toString());
      }
      const log = new FileStateLog({ dir: path.join(root, 'mqtt'), name: 'mqtt-state' });
      out['state'] = [...log.entries()].map(([k, v]) => `${k}=${v.toString('hex')}`).sort();
      log.close();
      t2.close();
      return out;
    };
    const fromMirror = read(mirror);
    expect(Object.fromEntries(['a', 'b', 'solo'].map((q) => [q, fromMirror[q]!.length]))).toEqual({ a: 10, b: 25, solo: 70 });
    expect(fromMirror['state']).toContain(`after-restart=${Buffer.from('yes').toString('hex')}`);
    expect(fromMirror).toEqual(read(dir));
  });
});

describe('durability waits include the observer barrier', () => {
  it('a persistent publish is confirmed only once the barrier passes', async () => {
    const dir = tmpDir();
    const h = holdingObserver();
    observe(dir, h.observer);
    const store = new FileMessageStore({ dir: path.join(dir, 'messages') });
    const tb = new TestBroker({ store });
    cleanups.push(() => tb.close());
    const c = tb.channel();
    c.ch.declareQueue('q', { durable: true });
    c.ch.publish(makeMessage('', 'q', 'p', persistent), { sequence: 1 });
    await until(() => h.held.length === 1, 'the barrier');
    // Local fdatasync long done; the confirm still waits for the replicas.
    await new Promise((r) => setTimeout(r, 50));
    expect(c.host.confirms).toEqual([]);
    expect(h.changes.some((x) => x.kind === 'write' && x.file.startsWith('messages/queues/'))).toBe(true);
    h.held.shift()!();
    await until(() => c.host.confirms.length === 1, 'the confirm');
    expect(c.host.confirms).toEqual([[1, true]]);
  });

  it('a barrier error turns the confirm into a nack (store.confirm sink)', async () => {
    const dir = tmpDir();
    const h = holdingObserver();
    observe(dir, h.observer);
    const store = new FileMessageStore({ dir: path.join(dir, 'messages'), logger: recordingLogger([]) });
    const q = store.openQueue('/', 'q', { durable: true, maxPriority: 0 });
    const got: [number, boolean][] = [];
    const sink: ConfirmSink = { confirm: (s, ack) => void got.push([s, ack]) };
    q.push({ message: makeMessage('', 'q', 'p', persistent), seq: 1, expiresAt: 0, priority: 0, redelivered: false, deliveryCount: 0 });
    store.confirm(sink, 7, true);
    await until(() => h.held.length === 1, 'the barrier');
    expect(got).toEqual([]);
    h.held.shift()!(new Error('fenced'));
    await until(() => got.length === 1, 'the confirm');
    expect(got).toEqual([[7, false]]);
    store.close();
  });

  it('closing while a barrier is held fails the waits instead of confirming them', async () => {
    const dir = tmpDir();
    const h = holdingObserver();
    observe(dir, h.observer);
    const store = new FileMessageStore({ dir: path.join(dir, 'messages'), logger: recordingLogger([]) });
    const q = store.openQueue('/', 'q', { durable: true, maxPriority: 0 });
    const got: [number, boolean][] = [];
    q.push({ message: makeMessage('', 'q', 'p', persistent), seq: 1, expiresAt: 0, priority: 0, redelivered: false, deliveryCount: 0 });
    store.confirm({ confirm: (s, ack) => void got.push([s, ack]) }, 1, true);
    const log = new FileStateLog({ dir: path.join(dir, 'mqtt'), name: 'st' });
    log.set('a', Buffer.from('1'));
    const synced = log.sync();
    await until(() => h.held.length === 2, 'both barriers');
    store.close();
    log.close();
    expect(got).toEqual([[1, false]]);
    await expect(synced).rejects.toThrow('closed before its replicas confirmed');
    for (const cb of h.held.splice(0)) cb();
  });

  it('StateLog.sync waits for the barrier, and rejects with its error', async () => {
    const dir = tmpDir();
    const h = holdingObserver();
    observe(dir, h.observer);
    const log = new FileStateLog({ dir: path.join(dir, 'mqtt'), name: 'st' });
    cleanups.push(() => log.close());
    log.set('a', Buffer.from('1'));
    let done = false;
    const first = log.sync().then(() => (done = true));
    await until(() => h.held.length === 1, 'the barrier');
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    h.held.shift()!();
    await first;
    log.set('b', Buffer.from('2'));
    const second = log.sync();
    await until(() => h.held.length === 1, 'the second barrier');
    h.held.shift()!(new Error('fenced'));
    await expect(second).rejects.toThrow('fenced');
  });

  it('a definitions flush resolves only once the barrier passes', async () => {
    const dir = tmpDir();
    const h = holdingObserver();
    observe(dir, h.observer);
    const tb = new TestBroker({ definitions: new FileDefinitionsStore(dir) });
    cleanups.push(() => tb.close());
    const c = tb.channel();
    c.ch.declareQueue('q', { durable: true });
    let done = false;
    const flushed = tb.broker.flushDefinitions().then(() => (done = true));
    await until(() => h.held.length > 0, 'the barrier');
    expect(h.changes.some((x) => x.kind === 'rename' && x.to === 'definitions.json')).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    // The bootstrap write and the declare's write may each wait for a barrier: pass them all.
    while (!done) {
      for (const cb of h.held.splice(0)) cb();
      await new Promise((r) => setTimeout(r, 5));
    }
    await flushed;
  });
});
