import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger, Message } from '../contract.js';
import { decodeMessage, encodeMessage } from './record-codec.js';
import { FileStateLog, MemoryStateLog } from './state-log.js';
import { recordingLogger, tempDirs } from '../testing/temp-store.js';

const temp = tempDirs('warren-statelog-');
const tmp = temp.make;
const logs: FileStateLog[] = [];
afterEach(() => {
  for (const l of logs.splice(0)) l.close();
  temp.removeAll();
});

function open(dir: string, extra: { compactBytes?: number; logger?: Logger } = {}): FileStateLog {
  const l = new FileStateLog({ dir, name: 'state', ...extra });
  logs.push(l);
  return l;
}

const asObject = (l: { entries(): IterableIterator<[string, Buffer]> }): Record<string, string> =>
  Object.fromEntries([...l.entries()].map(([k, v]) => [k, v.toString()]));

const logFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort();

describe('FileStateLog', () => {
  it('keeps sets and deletes across a restart, in first-set order', async () => {
    const dir = tmp();
    const a = open(dir);
    a.set('b', Buffer.from('1'));
    a.set('a', Buffer.from('2'));
    a.set('c', Buffer.from('3'));
    a.set('b', Buffer.from('4'));
    expect(a.delete('c')).toBe(true);
    expect(a.delete('missing')).toBe(false);
    await a.sync();
    a.close();
    const b = open(dir);
    expect(asObject(b)).toEqual({ b: '4', a: '2' });
    // Read back whole and small: the restart keeps appending to the same file.
    expect(b.generation).toBe(a.generation);
    b.set('d', Buffer.from('5'));
    b.close();
    expect(asObject(open(dir))).toEqual({ b: '4', a: '2', d: '5' });
    expect(logFiles(dir)).toHaveLength(1);
    expect(b.get('a')?.toString()).toBe('2');
  });

  it('has everything synced on disk without a clean close (as after kill -9)', async () => {
    const dir = tmp();
    const a = open(dir);
    for (let i = 0; i < 100; i++) a.set(`k${i}`, Buffer.from(`v${i}`));
    a.delete('k7');
    await a.sync();
    // A second process reads what the first left in its files; the first never closed.
    const b = open(dir);
    expect(b.size).toBe(99);
    expect(b.get('k99')?.toString()).toBe('v99');
    expect(b.get('k7')).toBeUndefined();
  });

  it('resolves sync() only after an fdatasync of the change has completed', async () => {
    const dir = tmp();
    const a = open(dir);
    const fsCjs = createRequire(import.meta.url)('node:fs') as typeof fs;
    const orig = fsCjs.fdatasync;
    const held: Array<() => void> = [];
    fsCjs.fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      held.push(() => orig(fd, cb));
    }) as typeof fs.fdatasync;
    syncBuiltinESMExports();
    let done = false;
    try {
      a.set('x', Buffer.from('y'));
      const p = a.sync().then(() => {
        done = true;
      });
      for (let i = 0; i < 20 && held.length === 0; i++) await new Promise((r) => setImmediate(r));
      expect(held.length).toBe(1);
      await new Promise((r) => setTimeout(r, 20));
      expect(done).toBe(false);
      for (const h of held.splice(0)) h();
      await p;
      expect(done).toBe(true);
    } finally {
      fsCjs.fdatasync = orig;
      syncBuiltinESMExports();
    }
  });

  it('appends work proportional to the change, not to the number of keys', async () => {
    const dir = tmp();
    const a = open(dir, { compactBytes: 1 << 30 });
    for (let i = 0; i < 20_000; i++) a.set(`topic/${i}`, Buffer.alloc(50, 1));
    await a.sync();
    const before = a.fileBytes;
    a.set('topic/new', Buffer.alloc(50, 2));
    await a.sync();
    // One record: 8 bytes framing, 5 bytes op and key length, the key and the value.
    expect(a.fileBytes - before).toBe(8 + 5 + 'topic/new'.length + 50);
    expect(fs.statSync(path.join(dir, logFiles(dir)[0]!)).size).toBe(a.fileBytes);
  });

  it('compacts into a new generation and deletes the old one once the new one is synced', async () => {
    const dir = tmp();
    const lines: string[] = [];
    const a = open(dir, { compactBytes: 4096, logger: recordingLogger(lines) });
    const gen0 = a.generation;
    for (let round = 0; round < 200; round++) {
      for (let k = 0; k < 5; k++) a.set(`k${k}`, Buffer.from(`value ${round} of ${k}`.padEnd(40, '.')));
      await a.sync();
    }
    expect(a.generation).toBeGreaterThan(gen0);
    expect(lines).toContain('info: state log compacted');
    await a.sync();
    expect(logFiles(dir).length).toBeLessThanOrEqual(2);
    expect(a.fileBytes).toBeLessThan(3 * 4096);
    const b = open(dir);
    expect(b.get('k3')?.toString()).toBe('value 199 of 3'.padEnd(40, '.'));
    expect(b.size).toBe(5);
    expect(logFiles(dir)).toHaveLength(1);
  });

  it('cuts off a torn tail with a warning and keeps what came before', async () => {
    const dir = tmp();
    const a = open(dir);
    a.set('kept', Buffer.from('yes'));
    a.set('torn', Buffer.from('no'));
    await a.sync();
    a.close();
    const file = path.join(dir, logFiles(dir)[0]!);
    fs.truncateSync(file, fs.statSync(file).size - 1);
    const lines: string[] = [];
    const b = open(dir, { logger: recordingLogger(lines) });
    expect(asObject(b)).toEqual({ kept: 'yes' });
    expect(lines).toContain('warn: torn write at the end of a state log cut off');
    // The restart wrote a fresh generation: appends never follow the damaged bytes.
    expect(logFiles(dir)).toHaveLength(1);
    b.set('after', Buffer.from('1'));
    b.close();
    expect(asObject(open(dir))).toEqual({ kept: 'yes', after: '1' });
  });

  it('reports a corrupt record in the middle as an error', async () => {
    const dir = tmp();
    const a = open(dir);
    a.set('one', Buffer.from('1'));
    a.set('two', Buffer.from('2'));
    a.close();
    const file = path.join(dir, logFiles(dir)[0]!);
    const data = fs.readFileSync(file);
    data[data.length - 1]! ^= 0xff; // flip a value byte of the last record: checksum mismatch
    fs.writeFileSync(file, data);
    const lines: string[] = [];
    const b = open(dir, { logger: recordingLogger(lines) });
    expect(asObject(b)).toEqual({ one: '1' });
    expect(lines).toContain('error: corrupt state log record: the rest of the file is skipped');
  });

  it('falls back to the older generation when the newest snapshot is incomplete', async () => {
    const dir = tmp();
    const a = open(dir);
    a.set('a', Buffer.from('1'));
    a.close();
    const [only] = logFiles(dir);
    const gen = Number(only!.slice('state.'.length, -4));
    // A compaction torn before its snapshot ended: only the begin record of the next generation.
    const data = fs.readFileSync(path.join(dir, only!));
    fs.writeFileSync(path.join(dir, `state.${String(gen + 1).padStart(10, '0')}.log`), data.subarray(0, 13));
    const lines: string[] = [];
    const b = open(dir, { logger: recordingLogger(lines) });
    expect(asObject(b)).toEqual({ a: '1' });
    expect(lines).toContain('warn: state log generation without a complete snapshot ignored');
    expect(b.generation).toBe(gen + 2);
    expect(logFiles(dir)).toHaveLength(1);
  });
});

describe('MemoryStateLog', () => {
  it('counts changes and syncs at once', async () => {
    const m = new MemoryStateLog();
    m.set('a', Buffer.from('1'));
    m.delete('a');
    m.delete('a');
    expect(m.changes).toBe(2);
    await m.sync();
    expect(m.size).toBe(0);
  });
});

describe('encodeMessage / decodeMessage', () => {
  it('round-trips a message after a prefix, sharing the body with the buffer', () => {
    const m: Message = {
      exchange: 'amq.topic',
      routingKey: 'a.b',
      properties: { contentType: 'text/plain', headers: { n: 1, s: 'x' }, deliveryMode: 2 },
      rawProperties: undefined,
      body: Buffer.from('hello'),
    };
    const buf = encodeMessage(m, Buffer.from([7]));
    expect(buf[0]).toBe(7);
    const back = decodeMessage(buf, 1);
    expect(back).toMatchObject({ exchange: 'amq.topic', routingKey: 'a.b', properties: m.properties });
    expect(back.body.toString()).toBe('hello');
    expect(back.body.buffer).toBe(buf.buffer);
    buf[buf.length - 1]! ^= 1;
    expect(() => decodeMessage(buf, 1)).toThrow(/checksum/);
  });
});
