import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FieldValue } from '../contract.js';
import type { StreamLog } from '../queue/stream-log.js';
import { makeMessage } from '../testing/fake-host.js';
import { TestBroker, type TestChannel } from '../testing/setup.js';
import { FileMessageStore, type FileMessageStoreOptions } from './file-message-store.js';
import { recordingLogger, tempDirs } from '../testing/temp-store.js';

const temp = tempDirs('warren-stream-');
const tmpDir = temp.make;
const open: TestBroker[] = [];

afterEach(() => {
  vi.useRealTimers();
  for (const b of open.splice(0)) b.close();
  temp.removeAll();
});

/** A broker on a file store in `dir` with the stream `s` declared (as the definitions store does at boot). */
function boot(dir: string, options: Partial<FileMessageStoreOptions> = {}, args: Record<string, FieldValue> = {}): { tb: TestBroker; store: FileMessageStore; c: TestChannel } {
  const store = new FileMessageStore({ dir, ...options });
  const tb = new TestBroker({ store });
  open.push(tb);
  const c = tb.channel();
  c.ch.declareQueue('s', { durable: true, arguments: { 'x-queue-type': 'stream', ...args } });
  return { tb, store, c };
}

/** kill -9 as far as the files are concerned: what was written stays, nothing is closed or synced. */
function crash(tb: TestBroker, store: FileMessageStore): void {
  store.flushNow();
  open.splice(open.indexOf(tb), 1);
}

/** One event-loop turn: the store flushes, which ends the chunk. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function read(tb: TestBroker, offset: FieldValue, prefetch = 10_000): string[] {
  const r = tb.channel();
  r.ch.qos(prefetch, false);
  r.ch.consume('s', { arguments: { 'x-stream-offset': offset } });
  return r.host.bodies();
}

function log(tb: TestBroker): StreamLog {
  return tb.broker.vhost('/')!.queues.get('s')!.stream!;
}

function streamDir(dir: string): string {
  const subs = fs.readdirSync(path.join(dir, 'streams'));
  expect(subs).toHaveLength(1);
  return path.join(dir, 'streams', subs[0]!);
}

function segments(dir: string): string[] {
  return fs.readdirSync(streamDir(dir)).filter((f) => f.endsWith('.seg')).sort();
}

describe('FileMessageStore: streams', () => {
  it('confirms a stream publish only after fdatasync, whatever the delivery mode', async () => {
    const a = boot(tmpDir());
    a.c.ch.publish(makeMessage('', 's', 'transient', { deliveryMode: 1 }), { sequence: 1 });
    a.c.ch.publish(makeMessage('', 's', 'persistent', { deliveryMode: 2 }), { sequence: 2 });
    expect(a.c.host.confirms).toEqual([]);
    await until(() => a.c.host.confirms.length === 2, 'confirms');
    expect(a.c.host.confirms).toEqual([
      [1, true],
      [2, true],
    ]);
  });

  it('keeps offsets across a clean restart and a crash; new messages continue after them', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    for (const b of ['m0', 'm1']) a.c.ch.publish(makeMessage('', 's', b), {});
    await turn();
    a.c.ch.publish(makeMessage('', 's', 'm2'), {});
    await turn();
    a.tb.close();
    open.splice(open.indexOf(a.tb), 1);

    const b = boot(dir);
    expect(read(b.tb, 'first')).toEqual(['m0', 'm1', 'm2']);
    expect(read(b.tb, 1)).toEqual(['m1', 'm2']);
    expect(read(b.tb, 'last')).toEqual(['m2']); // the last chunk of the previous run
    const next = b.tb.channel();
    next.ch.qos(10, false);
    next.ch.consume('s', { arguments: { 'x-stream-offset': 'next' } });
    b.c.ch.publish(makeMessage('', 's', 'm3'), {});
    b.c.ch.publish(makeMessage('', 's', 'm4'), {});
    await turn();
    expect(next.host.bodies()).toEqual(['m3', 'm4']);
    expect(next.host.deliveries.map((d) => d.message.properties.headers?.['x-stream-offset'])).toEqual([3n, 4n]);
    crash(b.tb, b.store);

    const c = boot(dir);
    expect(read(c.tb, 'first')).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(read(c.tb, 'last')).toEqual(['m3', 'm4']);
    expect(log(c.tb).end).toBe(5);
  });

  it('keeps message properties and headers', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    a.c.ch.publish(makeMessage('', 's', 'h', { contentType: 'text/plain', headers: { n: 7, s: 'x' } }), {});
    await turn();
    crash(a.tb, a.store);
    const b = boot(dir);
    const r = b.tb.channel();
    r.ch.qos(10, false);
    r.ch.consume('s', { arguments: { 'x-stream-offset': 'first' } });
    const p = r.host.deliveries[0]!.message.properties;
    expect(p.contentType).toBe('text/plain');
    expect(p.headers).toEqual({ n: 7, s: 'x', 'x-stream-offset': 0n });
  });

  it('x-max-length-bytes deletes whole segment files from the head, never the current one', async () => {
    const dir = tmpDir();
    // Each one-message chunk is over 100 bytes, so each turn starts a new segment.
    const a = boot(dir, {}, { 'x-max-length-bytes': 400, 'x-stream-max-segment-size-bytes': 100 });
    const body = 'x'.repeat(100);
    for (let i = 0; i < 6; i++) {
      a.c.ch.publish(makeMessage('', 's', `${i}${body}`), {});
      await turn();
    }
    const l = log(a.tb);
    expect(l.byteCount).toBeLessThanOrEqual(400 + 200);
    expect(l.first).toBeGreaterThan(0);
    const first = l.first;
    await until(() => segments(dir).length === l.segmentCount, 'segment files deleted');
    expect(segments(dir)[0]).toBe(`${String(first).padStart(20, '0')}.seg`);
    expect(read(a.tb, 'first').map((b) => b[0])).toEqual(['0', '1', '2', '3', '4', '5'].slice(first));
    expect(read(a.tb, 0).length).toBe(6 - first); // below the first retained offset: from first
    crash(a.tb, a.store);
    // Opening applies retention again: the segment appended to since the last roll may push out one more.
    const b = boot(dir, {}, { 'x-max-length-bytes': 400, 'x-stream-max-segment-size-bytes': 100 });
    expect(log(b.tb).first).toBeGreaterThanOrEqual(first);
    expect(log(b.tb).byteCount).toBeLessThanOrEqual(400);
    expect(read(b.tb, 'first')[0]![0]).toBe(String(log(b.tb).first));
  });

  it('a segment over x-stream-max-segment-size-bytes is kept whole (a chunk never splits)', async () => {
    const dir = tmpDir();
    const a = boot(dir, {}, { 'x-max-length-bytes': 1, 'x-stream-max-segment-size-bytes': 100 });
    for (let i = 0; i < 20; i++) a.c.ch.publish(makeMessage('', 's', `m${i}`), {});
    await turn();
    expect(segments(dir)).toHaveLength(1);
    expect(read(a.tb, 'first')).toHaveLength(20);
  });

  it('x-max-age deletes segments whose newest chunk is older, at the next segment start and at recovery', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const dir = tmpDir();
    const args = { 'x-max-age': '10s', 'x-stream-max-segment-size-bytes': 10 };
    vi.setSystemTime(1_000_000);
    const a = boot(dir, {}, args);
    a.c.ch.publish(makeMessage('', 's', 'old'), {});
    await turn();
    vi.setSystemTime(1_005_000);
    a.c.ch.publish(makeMessage('', 's', 'mid'), {});
    await turn();
    vi.setSystemTime(1_012_000);
    a.c.ch.publish(makeMessage('', 's', 'new'), {});
    await turn();
    expect(read(a.tb, 'first')).toEqual(['mid', 'new']);
    crash(a.tb, a.store);
    vi.setSystemTime(1_020_000);
    const b = boot(dir, {}, args);
    expect(read(b.tb, 'first')).toEqual(['new']); // the newest segment stays
  });

  it('reads from a timestamp and an interval by chunk timestamps after a restart', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const dir = tmpDir();
    vi.setSystemTime(1_000_000);
    const a = boot(dir);
    a.c.ch.publish(makeMessage('', 's', 'old'), {});
    await turn();
    vi.setSystemTime(2_000_000);
    a.c.ch.publish(makeMessage('', 's', 'new'), {});
    await turn();
    crash(a.tb, a.store);
    vi.setSystemTime(2_000_000 + 60_000);
    const b = boot(dir);
    expect(read(b.tb, new Date(1_500_000))).toEqual(['new']);
    expect(read(b.tb, '2m')).toEqual(['new']);
    expect(read(b.tb, '1h')).toEqual(['old', 'new']);
  });

  it('cuts off a torn append at the end of the last segment with a warning', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    for (const b of ['a', 'b']) a.c.ch.publish(makeMessage('', 's', b), {});
    await turn();
    crash(a.tb, a.store);
    const seg = path.join(streamDir(dir), segments(dir).at(-1)!);
    const size = fs.statSync(seg).size;
    fs.appendFileSync(seg, Buffer.from([200, 0, 0, 0, 1, 2, 3]));
    const lines: string[] = [];
    const b = boot(dir, { logger: recordingLogger(lines) });
    expect(lines).toContain('warn: torn write at the end of a stream segment cut off');
    expect(fs.statSync(seg).size).toBe(size);
    expect(read(b.tb, 'first')).toEqual(['a', 'b']);
  });

  it('bounded memory: a stream past the budget reads old chunks back from disk', async () => {
    const dir = tmpDir();
    const budget = 16 * 1024;
    const a = boot(dir, { queueMemoryBytes: budget });
    const body = (i: number): string => `${String(i).padStart(5, '0')}${'.'.repeat(995)}`;
    for (let t = 0; t < 50; t++) {
      for (let i = 0; i < 10; i++) a.c.ch.publish(makeMessage('', 's', body(t * 10 + i)), {});
      await turn();
    }
    const l = log(a.tb);
    expect(l.residentBytes).toBeLessThanOrEqual(budget);
    const r = a.tb.channel();
    r.ch.qos(10_000, false);
    r.ch.consume('s', { arguments: { 'x-stream-offset': 'first' } });
    await until(() => r.host.bodies().length === 500, 'every message read back');
    const all = r.host.bodies();
    expect(all.every((b, i) => b === body(i))).toBe(true);
    expect(l.residentBytes).toBeLessThanOrEqual(budget);
  });

  it('deleting the stream deletes its files', async () => {
    const dir = tmpDir();
    const a = boot(dir);
    a.c.ch.publish(makeMessage('', 's', 'x'), {});
    await turn();
    expect(segments(dir)).toHaveLength(1);
    a.c.ch.deleteQueue('s', {});
    await until(() => fs.readdirSync(path.join(dir, 'streams')).length === 0, 'stream directory removed');
  });
});
