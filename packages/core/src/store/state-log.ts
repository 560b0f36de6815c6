import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dataFs from './data-fs.js';
import type { Logger } from '../contract.js';
import { silentLogger } from '../util/logger.js';
import { syncDir } from '../util/sync-dir.js';
import { crc32 } from './crc32.js';
import { ByteWriter, RECORD_HEADER } from './record-codec.js';
import type { StateLog } from './store.js';
import { syncAll } from './sync-all.js';
import { PRIVATE_DIR, PRIVATE_FILE } from './private-mode.js';

/**
 * Durable keyed state of adapters (DESIGN.md §5): opaque values under string keys, for state that is not a queue
 * (MQTT retained messages and persistent sessions). The core gives the bytes no meaning.
 *
 * On disk it is one append-only log per generation, `<dir>/<name>.<generation>.log`, of records framed like the
 * message store's segments (`length:u32 crc32:u32 payload`, little-endian):
 *
 * ```
 * payload = op:u8 keyLength:u32 key:utf8 value   ; value = the rest of the payload (set only)
 * op      = 1 set | 2 delete | 3 snapshot begins | 4 snapshot ends
 * ```
 *
 * A generation starts with a snapshot of every live key (begin, sets, end) and continues with changes. A change costs
 * one appended record: its key and value, not the whole state. Changes made in one event-loop turn are written with
 * one `write`; {@link sync} waits for a group-committed `fdatasync` covering them (one round covers every write made
 * before it started). When the file holds more than twice the live bytes (and at least `compactBytes`), the next
 * generation is written from memory and the older one deleted once the new one is synced, so disk use stays within
 * about twice the live state and each byte written is rewritten at most about once by compaction (amortised).
 *
 * Recovery reads the newest generation whose snapshot is complete (an older one exists only while a compaction's
 * sync was in flight) and keeps appending to it; when its tail was torn (a crash mid-append: never acknowledged,
 * reported with a warning) or damaged, or it is due for compaction, it starts a fresh generation from what it read,
 * so later appends never follow damaged bytes.
 */

/** Options of {@link FileStateLog}. */
export interface FileStateLogOptions {
  /** Directory (created if missing). */
  dir: string;
  /** File name stem, e.g. `mqtt-state`. */
  name: string;
  /** Do not compact below this file size. Default 4 MiB. */
  compactBytes?: number;
  logger?: Logger;
}

const OP_SET = 1;
const OP_DELETE = 2;
const OP_BEGIN = 3;
const OP_END = 4;
/** Payload bytes besides key and value: op and key length. */
const PAYLOAD_FIXED = 5;
const DEFAULT_COMPACT_BYTES = 4 * 1024 * 1024;
/** Writes no sync waits for are fsynced within this many ms. */
const IDLE_SYNC_MS = 1000;
/** Log recovery progress at most this often (ms). */
const PROGRESS_INTERVAL = 1000;

/** Bytes one set record of this key and value takes in the file. */
function recordSize(key: string, value: Buffer): number {
  return RECORD_HEADER + PAYLOAD_FIXED + Buffer.byteLength(key) + value.length;
}

function appendRecord(w: ByteWriter, op: number, key: string, value: Buffer | undefined): number {
  const keyBytes = Buffer.byteLength(key);
  const valueBytes = value?.length ?? 0;
  const payload = PAYLOAD_FIXED + keyBytes + valueBytes;
  w.ensure(RECORD_HEADER + payload);
  const start = w.length;
  const buf = w.buf;
  buf.writeUInt32LE(payload, start);
  buf[start + RECORD_HEADER] = op;
  buf.writeUInt32LE(keyBytes, start + RECORD_HEADER + 1);
  buf.write(key, start + RECORD_HEADER + PAYLOAD_FIXED, keyBytes, 'utf8');
  if (value !== undefined) buf.set(value, start + RECORD_HEADER + PAYLOAD_FIXED + keyBytes);
  const end = start + RECORD_HEADER + payload;
  buf.writeUInt32LE(crc32(buf.subarray(start + RECORD_HEADER, end)), start + 4);
  w.length = end;
  return end - start;
}

type Problem = 'truncated' | 'checksum' | 'malformed';

/** Size of the checked record at `pos`, or what is wrong with it. */
function checkAt(buf: Buffer, pos: number): number | Problem {
  if (pos + RECORD_HEADER > buf.length) return 'truncated';
  const len = buf.readUInt32LE(pos);
  const end = pos + RECORD_HEADER + len;
  if (end > buf.length) return 'truncated';
  if (len < PAYLOAD_FIXED) return 'malformed';
  if (crc32(buf.subarray(pos + RECORD_HEADER, end)) !== buf.readUInt32LE(pos + 4)) return 'checksum';
  const op = buf[pos + RECORD_HEADER]!;
  if (op < OP_SET || op > OP_END || PAYLOAD_FIXED + buf.readUInt32LE(pos + RECORD_HEADER + 1) > len) return 'malformed';
  return RECORD_HEADER + len;
}

/** An older generation waiting for the sync round that makes its successor durable. */
interface Retired {
  fd: number;
  file: string;
  target: number;
}

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The file-backed {@link StateLog}. */
export class FileStateLog implements StateLog {
  readonly dir: string;
  readonly name: string;
  readonly compactBytes: number;
  readonly #logger: Logger;
  readonly #map = new Map<string, Buffer>();
  /** Bytes the live keys would take in a snapshot. */
  #liveBytes = 0;
  #generation = 0;
  #fd = -1;
  /** Bytes in the current generation's file, including pending ones. */
  #fileBytes = 0;
  /** Bytes written to the current generation's file (writes name their position: data-fs.ts reports them). */
  #filePos = 0;
  #pending = new ByteWriter(16 * 1024);
  #flushScheduled = false;
  /** Count of changes; #synced is the count covered by a finished fdatasync round. */
  #changes = 0;
  #synced = 0;
  #written = 0;
  #syncing = false;
  #unsynced = new Set<number>();
  #waiters: Waiter[] = [];
  /** Older generations to close and delete once a round covering the compaction (change count) ends. */
  #retire: Retired[] = [];
  #idleSync: NodeJS.Timeout | undefined = undefined;
  #failed: Error | undefined = undefined;
  #closed = false;

  constructor(options: FileStateLogOptions) {
    this.dir = options.dir;
    this.name = options.name;
    this.compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES;
    this.#logger = options.logger ?? silentLogger;
    dataFs.mkdirSync(this.dir, { recursive: true, mode: PRIVATE_DIR });
    const { files, reuse } = this.#recover();
    if (reuse !== undefined) {
      // The newest generation read back whole and not worth compacting: keep appending to it.
      this.#fd = dataFs.openSync(reuse.file, 'a', PRIVATE_FILE);
      this.#fileBytes = reuse.bytes;
      this.#filePos = reuse.bytes;
    } else {
      // Start a new generation from what was read (synchronously synced), so appends never follow damaged bytes.
      this.#startGeneration(true);
    }
    const old = files.filter((f) => f !== reuse?.file);
    for (const f of old) dataFs.rmSync(f, { force: true });
    if (old.length > 0) syncDir(this.dir);
  }

  get size(): number {
    return this.#map.size;
  }

  get changes(): number {
    return this.#changes;
  }

  /** Bytes in the current generation's file (for tests and benchmarks). */
  get fileBytes(): number {
    return this.#fileBytes;
  }

  /** Current generation number (for tests). */
  get generation(): number {
    return this.#generation;
  }

  get(key: string): Buffer | undefined {
    return this.#map.get(key);
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  entries(): IterableIterator<[string, Buffer]> {
    return this.#map.entries();
  }

  set(key: string, value: Buffer): void {
    if (this.#closed) throw new Error('state log is closed');
    const prev = this.#map.get(key);
    if (prev !== undefined) this.#liveBytes -= recordSize(key, prev);
    this.#map.set(key, value);
    this.#liveBytes += recordSize(key, value);
    this.#fileBytes += appendRecord(this.#pending, OP_SET, key, value);
    this.#changed();
  }

  delete(key: string): boolean {
    if (this.#closed) throw new Error('state log is closed');
    const prev = this.#map.get(key);
    if (prev === undefined) return false;
    this.#map.delete(key);
    this.#liveBytes -= recordSize(key, prev);
    this.#fileBytes += appendRecord(this.#pending, OP_DELETE, key, undefined);
    this.#changed();
    return true;
  }

  sync(): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    const target = this.#changes;
    if (target <= this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ target, resolve, reject });
      this.#scheduleFlush();
    });
  }

  /** Write pending changes, sync them and the directory, and stop: nothing is written after this. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    if (this.#idleSync !== undefined) clearTimeout(this.#idleSync);
    for (const fd of this.#unsynced) {
      try {
        fs.fdatasyncSync(fd);
      } catch (err) {
        this.#logger.error({ err, log: this.name }, 'fdatasync failed at shutdown');
      }
    }
    this.#unsynced.clear();
    if (this.#waiters.length > 0 && dataFs.isDataDirObserved(this.dir)) {
      // Replicated: no barrier covers these changes yet (see FileMessageStore.close).
      this.#failed ??= new Error('state log closed before its replicas confirmed');
    }
    this.#synced = this.#changes;
    this.#resolveWaiters();
    if (!this.#syncing) this.#retireOld(Infinity);
    closeQuietly(this.#fd);
  }

  // ---- writing -----------------------------------------------------------------------------------------------

  #changed(): void {
    this.#changes++;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    setImmediate(this.#onFlush);
  }

  readonly #onFlush = (): void => {
    this.#flushScheduled = false;
    if (this.#closed) return;
    this.#flush();
    if (!this.#syncing && this.#fileBytes >= this.compactBytes && this.#fileBytes > 2 * this.#liveBytes) this.#compact();
    if (this.#waiters.length > 0 && !this.#syncing) this.#startSync();
    if (this.#unsynced.size > 0 && this.#idleSync === undefined && !this.#closed) {
      this.#idleSync = setTimeout(this.#onIdleSync, IDLE_SYNC_MS);
      this.#idleSync.unref();
    }
  };

  readonly #onIdleSync = (): void => {
    this.#idleSync = undefined;
    if (!this.#syncing && !this.#closed && this.#unsynced.size > 0) this.#startSync();
  };

  /** Write what is pending to the current generation. */
  #flush(): void {
    const w = this.#pending;
    if (w.length === 0) return;
    try {
      writeAll(this.#fd, w.buf, w.length, this.#filePos);
      this.#filePos += w.length;
      this.#unsynced.add(this.#fd);
    } catch (err) {
      this.#fail(err as Error);
    }
    this.#written = this.#changes;
    if (w.buf.length > 1024 * 1024) this.#pending = new ByteWriter(16 * 1024);
    else w.reset();
  }

  #startSync(): void {
    this.#syncing = true;
    const target = this.#written;
    const fds = [...this.#unsynced];
    this.#unsynced.clear();
    syncAll(fds, (error) => {
      this.#syncing = false;
      if (error !== undefined) this.#fail(error);
      else if (target > this.#synced) this.#synced = target;
      this.#retireOld(target);
      this.#resolveWaiters();
      if (this.#closed) return;
      if (this.#waiters.length > 0) this.#scheduleFlush();
    }, this.dir);
  }

  #resolveWaiters(): void {
    if (this.#failed !== undefined) {
      const all = this.#waiters;
      this.#waiters = [];
      for (const w of all) w.reject(this.#failed);
      return;
    }
    let i = 0;
    const w = this.#waiters;
    while (i < w.length && w[i]!.target <= this.#synced) w[i++]!.resolve();
    if (i > 0) this.#waiters = w.slice(i);
  }

  #fail(err: Error): void {
    if (this.#failed === undefined) this.#logger.error({ err, log: this.name }, 'state log write failed; waiting changes fail');
    this.#failed = err;
  }

  /**
   * Start the next generation with a snapshot of the live state. The old file is closed and deleted once a sync
   * round that covers the new one has ended (until then it is still the newest complete generation on disk).
   */
  #compact(): void {
    const started = Date.now();
    const before = this.#fileBytes;
    this.#retire.push({ fd: this.#fd, file: this.#file(this.#generation), target: this.#changes });
    this.#startGeneration(false);
    this.#logger.info({ log: this.name, keys: this.#map.size, bytesBefore: before, bytesAfter: this.#fileBytes, ms: Date.now() - started }, 'state log compacted');
  }

  #retireOld(target: number): void {
    if (this.#retire.length === 0) return;
    const keep: Retired[] = [];
    let removed = false;
    for (const r of this.#retire) {
      if (r.target > target) {
        keep.push(r);
        continue;
      }
      closeQuietly(r.fd);
      this.#unsynced.delete(r.fd);
      dataFs.rmSync(r.file, { force: true });
      removed = true;
    }
    this.#retire = keep;
    if (removed) syncDir(this.dir);
  }

  #file(generation: number): string {
    return path.join(this.dir, `${this.name}.${String(generation).padStart(10, '0')}.log`);
  }

  /** Create the next generation's file holding a snapshot of the map; `syncNow` syncs it before returning. */
  #startGeneration(syncNow: boolean): void {
    const gen = ++this.#generation;
    const file = this.#file(gen);
    const w = new ByteWriter(Math.max(64 * 1024, this.#liveBytes + 64));
    appendRecord(w, OP_BEGIN, '', undefined);
    for (const [k, v] of this.#map) appendRecord(w, OP_SET, k, v);
    appendRecord(w, OP_END, '', undefined);
    const fd = dataFs.openSync(file, 'wx', PRIVATE_FILE);
    writeAll(fd, w.buf, w.length, 0);
    this.#fd = fd;
    this.#filePos = w.length;
    this.#fileBytes = w.length;
    if (syncNow) {
      fs.fdatasyncSync(fd);
      syncDir(this.dir);
    } else {
      // The new directory entry must be durable before the old generation goes: synced with the next round's files.
      syncDir(this.dir);
      this.#unsynced.add(fd);
    }
  }

  // ---- recovery ----------------------------------------------------------------------------------------------

  /**
   * Load the newest complete generation. Returns every existing file, and the newest one when it can be appended to
   * (read to its end without damage, and not due for compaction).
   */
  #recover(): { files: string[]; reuse?: { file: string; bytes: number } } {
    const re = new RegExp(`^${escapeRegExp(this.name)}\\.(\\d{10})\\.log$`);
    const gens = fs
      .readdirSync(this.dir)
      .map((n) => re.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
    const files = gens.map((g) => this.#file(g));
    if (gens.length > 0) this.#generation = gens[0]!;
    for (const g of gens) {
      const loaded = this.#load(this.#file(g));
      if (loaded !== undefined) {
        const reusable = g === gens[0] && loaded.clean && (loaded.bytes < this.compactBytes || loaded.bytes <= 2 * this.#liveBytes);
        return reusable ? { files, reuse: { file: this.#file(g), bytes: loaded.bytes } } : { files };
      }
      this.#map.clear();
      this.#liveBytes = 0;
    }
    if (gens.length > 0) this.#logger.error({ log: this.name, files }, 'no complete state log generation found; starting empty');
    return { files };
  }

  /**
   * Replay one generation file into the map: its size and whether it read to the end without damage; undefined when
   * its snapshot is incomplete (then nothing is taken).
   */
  #load(file: string): { bytes: number; clean: boolean } | undefined {
    const started = Date.now();
    let lastProgress = started;
    const data = fs.readFileSync(file);
    let pos = 0;
    let snapshotDone = false;
    let clean = true;
    let records = 0;
    while (pos < data.length) {
      const size = checkAt(data, pos);
      if (typeof size !== 'number') {
        const zero = isZero(data, pos);
        const info = { log: this.name, file, offset: pos, droppedBytes: data.length - pos, problem: size };
        // A crash mid-append leaves a short or zero-filled tail; those changes were never acknowledged.
        if (size === 'truncated' || zero) this.#logger.warn(info, 'torn write at the end of a state log cut off');
        else this.#logger.error(info, 'corrupt state log record: the rest of the file is skipped');
        clean = false;
        break;
      }
      const p = pos + RECORD_HEADER;
      const op = data[p]!;
      const keyLen = data.readUInt32LE(p + 1);
      const key = data.toString('utf8', p + PAYLOAD_FIXED, p + PAYLOAD_FIXED + keyLen);
      const end = pos + size;
      pos = end;
      records++;
      if (op === OP_BEGIN) {
        this.#map.clear();
        this.#liveBytes = 0;
      } else if (op === OP_END) {
        snapshotDone = true;
      } else if (op === OP_SET) {
        // Copied: the file buffer (with its dead records) must not stay alive through one small value.
        const value = Buffer.from(data.subarray(p + PAYLOAD_FIXED + keyLen, end));
        const prev = this.#map.get(key);
        if (prev !== undefined) this.#liveBytes -= recordSize(key, prev);
        this.#map.set(key, value);
        this.#liveBytes += recordSize(key, value);
      } else {
        const prev = this.#map.get(key);
        if (prev !== undefined) {
          this.#map.delete(key);
          this.#liveBytes -= recordSize(key, prev);
        }
      }
      if ((records & 0xfff) === 0) {
        const now = Date.now();
        if (now - lastProgress >= PROGRESS_INTERVAL) {
          lastProgress = now;
          this.#logger.info({ log: this.name, file, keys: this.#map.size, read: pos, of: data.length }, 'recovering state log');
        }
      }
    }
    if (!snapshotDone) {
      this.#logger.warn({ log: this.name, file }, 'state log generation without a complete snapshot ignored');
      return undefined;
    }
    this.#logger.info({ log: this.name, keys: this.#map.size, bytes: data.length, ms: Date.now() - started }, 'recovered state log');
    return { bytes: data.length, clean };
  }
}

/** The in-memory {@link StateLog}: nothing survives a restart; {@link sync} resolves at once. */
export class MemoryStateLog implements StateLog {
  readonly #map = new Map<string, Buffer>();
  #changes = 0;

  get size(): number {
    return this.#map.size;
  }
  get changes(): number {
    return this.#changes;
  }
  get(key: string): Buffer | undefined {
    return this.#map.get(key);
  }
  keys(): IterableIterator<string> {
    return this.#map.keys();
  }
  entries(): IterableIterator<[string, Buffer]> {
    return this.#map.entries();
  }
  set(key: string, value: Buffer): void {
    this.#map.set(key, value);
    this.#changes++;
  }
  delete(key: string): boolean {
    if (!this.#map.delete(key)) return false;
    this.#changes++;
    return true;
  }
  sync(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    // Nothing to release.
  }
}

function isZero(buf: Buffer, pos: number): boolean {
  for (let i = pos; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function writeAll(fd: number, buf: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) done += dataFs.writeSync(fd, buf, done, length - done, position + done);
}

function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    dataFs.closeSync(fd);
  } catch {
    // already closed
  }
}
