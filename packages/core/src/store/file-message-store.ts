import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dataFs from './data-fs.js';
import type { Logger } from '../contract.js';
import { MemoryQueueStore } from './memory-store.js';
import {
  ByteWriter,
  checkRecord,
  FLAG_PERSISTENT,
  FLAG_REF,
  readRecord,
  recordHead,
  refLocation,
  writeRecord,
  writeRef,
  type RecordProblem,
} from './record-codec.js';
import type { Message } from '../contract.js';
import { SharedBodyLog } from './body-log.js';
import { Segment } from './segment.js';
import type { ConfirmSink, MessageStore, QueueEntry, QueueStore, QueueStoreOptions } from './store.js';
import { silentLogger } from '../util/logger.js';
import { StreamLog, type StreamSettings } from '../queue/stream-log.js';
import { FileStreamStorage } from './file-stream-store.js';
import { syncAll } from './sync-all.js';
import { syncDir } from '../util/sync-dir.js';
import { PRIVATE_DIR, PRIVATE_FILE } from './private-mode.js';

/**
 * The embedded durable message store (DESIGN.md §5): one directory per durable queue holding append-only segment
 * files of checksummed records, each with an ack file of 4-byte marks (delivered / settled). The design follows
 * LavinMQ's per-queue message store and RabbitMQ's classic queue store:
 *
 * - A persistent message (delivery mode 2) routed to a durable queue is appended to the queue's current segment.
 *   Writes are gathered per event-loop turn and written with one `write` per file.
 * - Publisher confirms wait for a group commit: one `fdatasync` round covers every write made before it started, so
 *   concurrency raises throughput instead of queueing on fsync latency. A publish that wrote nothing durable confirms
 *   at once unless an earlier confirm to the same sink is still waiting (confirms stay in order).
 * - Settling (ack, drop, dead-letter) appends a mark to the segment's ack file; a segment whose records are all
 *   settled is deleted with its ack file while the broker runs.
 * - Memory is bounded per queue: past {@link FileMessageStoreOptions.queueMemoryBytes} new entries stay on disk only
 *   (transient ones too) and are read back in order as consumers catch up.
 * - Recovery (at `openQueue` of a durable queue) checks every record's CRC-32; a torn tail of the last segment is cut
 *   off with a warning; corruption elsewhere is logged as an error and the rest of that segment skipped.
 */

/** Options of {@link FileMessageStore}. */
export interface FileMessageStoreOptions {
  /** Directory the store owns (created if missing), e.g. `<dataDir>/messages`. */
  dir: string;
  /** Roll to a new segment file past this many bytes. Default 16 MiB. */
  segmentSize?: number;
  /** Per-queue budget of message bytes kept in memory (bodies plus an estimated overhead). Default 8 MiB. */
  queueMemoryBytes?: number;
  /**
   * Segment and ack files kept open at once; past it the least recently used idle ones are closed and reopened when
   * needed, so thousands of non-empty durable queues do not exhaust the process's descriptors. Default 4096.
   */
  maxOpenFiles?: number;
  logger?: Logger;
}


/** Estimated memory of one in-memory entry beyond its body (entry, message, properties and Buffer objects). */
export const ENTRY_OVERHEAD = 400;
const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;
const DEFAULT_QUEUE_MEMORY = 8 * 1024 * 1024;
const DEFAULT_MAX_OPEN_FILES = 4096;
/** Locations pack segment id and offset into one number: id × 2^32 + offset (exact below 2^53). */
const SEGMENT_FACTOR = 0x1_0000_0000;
const ACK_DELIVERED = 0;
const ACK_SETTLED = 1;
/** Bytes read from a segment at a time when paging in. */
const PAGE_READ = 1024 * 1024;
/** Writes that no confirm waits for are fsynced within this many ms. */
const IDLE_SYNC_MS = 1000;
/** Log recovery progress at most this often (ms). */
const PROGRESS_INTERVAL = 1000;

function segName(id: number): string {
  return String(id).padStart(10, '0');
}

/** The durable {@link MessageStore}: files under one directory, group-committed fsync, paging, recovery. */
export class FileMessageStore implements MessageStore {
  readonly dir: string;
  readonly segmentSize: number;
  readonly queueMemoryBytes: number;
  readonly maxOpenFiles: number;
  readonly logger: Logger;
  readonly #queues = new Set<FileQueueStore>();
  /** Segments with an open file (segment or ack), for the file cache's clock; #openFiles counts the fds. */
  readonly #openSegments: Segment[] = [];
  #openFiles = 0;
  #clockHand = 0;
  readonly #dirty = new Set<{ flush(): void }>();
  readonly #streams = new Set<FileStreamStorage>();
  #flushScheduled = false;
  /** Fds written since the last fdatasync round started. */
  readonly #unsynced = new Set<number>();
  /** Fds to close once the running fdatasync round ends (closing under it could hand the number to another file). */
  #closeLater: number[] = [];
  #syncing = false;
  /** Count of durable appends; #synced is the count covered by a finished fdatasync round. */
  #appended = 0;
  #synced = 0;
  #durableSinceConfirm = false;
  /** Confirms waiting for a group commit, in call order (targets never decrease). */
  #waiters: { sink: ConfirmSink; sequence: number; ack: boolean; target: number }[] = [];
  #waitHead = 0;
  readonly #waitingPerSink = new Map<ConfirmSink, number>();
  #transientCounter = 0;
  #closed = false;
  /** Syncs writes no confirm waits for, so they are safe from power loss within about a second too. */
  #idleSync: NodeJS.Timeout | undefined = undefined;
  readonly #onIdleSync = (): void => {
    this.#idleSync = undefined;
    if (!this.#syncing && !this.#closed && this.#unsynced.size > 0) this.#startSync();
  };
  #failed: Error | undefined = undefined;
  #bytesWritten = 0;
  /**
   * Bodies written once for messages routed to several durable queues (body-log.ts). Queue directories that may hold
   * references to bodies of an earlier run and have not been opened yet: once none is left, or the broker says every
   * durable queue is open, unreferenced old bodies are garbage.
   */
  readonly bodies: SharedBodyLog;
  readonly #unopened = new Set<string>();

  constructor(options: FileMessageStoreOptions) {
    this.dir = options.dir;
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.queueMemoryBytes = options.queueMemoryBytes ?? DEFAULT_QUEUE_MEMORY;
    this.maxOpenFiles = Math.max(2, options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES);
    this.logger = options.logger ?? silentLogger;
    if (this.segmentSize > 0x7fff_ffff) throw new RangeError('segmentSize must be below 2 GiB');
    dataFs.mkdirSync(path.join(this.dir, 'queues'), { recursive: true, mode: PRIVATE_DIR });
    // Paging files of transient queues and deleted queues' directories are worthless after a restart.
    for (const sub of ['transient', 'trash']) dataFs.rmSync(path.join(this.dir, sub), { recursive: true, force: true });
    dataFs.mkdirSync(path.join(this.dir, 'transient'), PRIVATE_DIR);
    dataFs.mkdirSync(path.join(this.dir, 'trash'), PRIVATE_DIR);
    this.bodies = new SharedBodyLog(this, path.join(this.dir, 'bodies'));
    if (this.bodies.recover()) {
      for (const name of fs.readdirSync(path.join(this.dir, 'queues'))) this.#unopened.add(name);
      if (this.#unopened.size === 0) this.bodies.complete();
    }
  }

  /** Bytes written to segment, ack and body files since the store opened (streams not counted). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /**
   * `message` (persistent) is about to be enqueued in several durable queues: write its body once, in the shared
   * body log, and a reference in each queue.
   */
  shareBody(message: Message): void {
    this.bodies.share(message);
  }

  /** Every durable queue of the earlier run is open (the broker restored its definitions). */
  recoveryComplete(): void {
    this.#unopened.clear();
    this.bodies.complete();
  }

  #opening(dir: string): void {
    if (this.#unopened.size === 0) return;
    this.#unopened.delete(path.basename(dir));
    if (this.#unopened.size === 0) this.bodies.complete();
  }

  /** Directory of a durable queue: a hash of vhost and name (names can be 255 bytes of any UTF-8). */
  queueDir(vhost: string, queue: string): string {
    const h = createHash('sha256').update(vhost).update('\0').update(queue).digest('hex').slice(0, 40);
    return path.join(this.dir, 'queues', h);
  }

  openQueue(vhost: string, queue: string, options: QueueStoreOptions): QueueStore {
    if (this.#closed) throw new Error('message store is closed');
    const dir = options.durable
      ? this.queueDir(vhost, queue)
      : path.join(this.dir, 'transient', String(++this.#transientCounter));
    const q = new FileQueueStore(this, dir, options, vhost, queue);
    this.#queues.add(q);
    if (options.durable) {
      q.recover();
      this.#opening(dir);
    }
    return q;
  }

  /**
   * A stream queue's log in `<dir>/streams/<hash>/` (file-stream-store.ts), recovered from what an earlier run wrote.
   * Every message of a stream is durable, whatever its delivery mode, as in RabbitMQ.
   */
  openStream(vhost: string, queue: string, settings: StreamSettings): StreamLog {
    if (this.#closed) throw new Error('message store is closed');
    const h = createHash('sha256').update(vhost).update('\0').update(queue).digest('hex').slice(0, 40);
    const storage = new FileStreamStorage(this, path.join(this.dir, 'streams', h), vhost, queue);
    const log = new StreamLog(settings, storage, this.queueMemoryBytes, storage.recover());
    storage.onFlushed = () => {
      log.sealChunk();
      log.markWritten();
    };
    this.#streams.add(storage);
    return log;
  }

  forgetStream(s: FileStreamStorage): void {
    this.#dirty.delete(s);
    this.#streams.delete(s);
  }

  confirm(sink: ConfirmSink, sequence: number, ack: boolean): void {
    const target = this.#durableSinceConfirm ? this.#appended : 0;
    this.#durableSinceConfirm = false;
    const waiting = this.#waitingPerSink.get(sink) ?? 0;
    if (target === 0 && waiting === 0) {
      sink.confirm(sequence, ack);
      return;
    }
    const last = this.#waiters.length > this.#waitHead ? this.#waiters[this.#waiters.length - 1]!.target : 0;
    this.#waiters.push({ sink, sequence, ack, target: Math.max(target, last) });
    this.#waitingPerSink.set(sink, waiting + 1);
    this.scheduleFlush();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleSync !== undefined) clearTimeout(this.#idleSync);
    this.flushNow();
    // A clean stop syncs everything, so nothing a client was told is lost even on power loss right after.
    for (const fd of this.#unsynced) {
      try {
        fs.fdatasyncSync(fd);
      } catch (err) {
        this.logger.error({ err }, 'fdatasync failed at shutdown');
      }
    }
    this.#unsynced.clear();
    if (this.#waiters.length > this.#waitHead && dataFs.isDataDirObserved(this.dir)) {
      // Replicated: no barrier covers these writes yet, so the replicas do not promise them; a positive confirm now
      // would claim more than is true (the broker may be stopping because this leader was fenced).
      this.#failed ??= new Error('message store closed before its replicas confirmed');
    }
    this.#synced = this.#appended;
    this.#release();
    for (const q of this.#queues) q.shutdown();
    this.#queues.clear();
    for (const s of this.#streams) s.shutdown();
    this.#streams.clear();
    this.bodies.shutdown();
    if (!this.#syncing) this.#closeDeferred();
  }

  // ---- for FileQueueStore ------------------------------------------------------------------------------------

  /** A durable record was appended: the next confirm waits for it to be synced. */
  noteDurableAppend(): void {
    this.#appended++;
    this.#durableSinceConfirm = true;
  }

  markDirty(q: { flush(): void }): void {
    this.#dirty.add(q);
    this.scheduleFlush();
  }

  noteWritten(fd: number, bytes = 0): void {
    this.#unsynced.add(fd);
    this.#bytesWritten += bytes;
  }

  /** Files open for segments now (segment and ack fds). */
  get openFiles(): number {
    return this.#openFiles;
  }

  /** Create `seg`'s file (it must not exist) and keep it open. */
  createSegmentFile(seg: Segment): void {
    this.#makeRoom();
    seg.fd = dataFs.openSync(seg.file, 'wx+', PRIVATE_FILE);
    this.#opened(seg);
  }

  /** `seg`'s file, opened again if the cache closed it. */
  segmentFd(seg: Segment): number {
    if (seg.fd < 0) {
      this.#makeRoom();
      seg.fd = dataFs.openSync(seg.file, 'r+');
      this.#opened(seg);
    }
    seg.used = true;
    return seg.fd;
  }

  /** `seg`'s ack file, opened for appending (again) if needed. */
  ackFd(seg: Segment): number {
    if (seg.ackFd === undefined) {
      this.#makeRoom();
      seg.ackFd = dataFs.openSync(seg.ackFile, 'a', PRIVATE_FILE);
      this.#opened(seg);
    }
    seg.used = true;
    return seg.ackFd;
  }

  /** Close `seg`'s files (its queue closed, or the segment is deleted). */
  releaseSegment(seg: Segment): void {
    this.#closeSegmentFiles(seg);
  }

  #opened(seg: Segment): void {
    this.#openFiles++;
    seg.used = true;
    if (seg.openIndex < 0) {
      seg.openIndex = this.#openSegments.length;
      this.#openSegments.push(seg);
    }
  }

  #closeSegmentFiles(seg: Segment): void {
    if (seg.fd >= 0) {
      this.closeFd(seg.fd);
      seg.fd = -1;
      this.#openFiles--;
    }
    if (seg.ackFd !== undefined) {
      this.closeFd(seg.ackFd);
      seg.ackFd = undefined;
      this.#openFiles--;
    }
    const i = seg.openIndex;
    if (i < 0) return;
    const list = this.#openSegments;
    const last = list.pop() as Segment;
    if (last !== seg) {
      list[i] = last;
      last.openIndex = i;
    }
    seg.openIndex = -1;
  }

  /**
   * Before opening a file: at {@link maxOpenFiles}, close the files of segments not used since the clock last passed
   * them until there is room. Files written since the last fdatasync round began are never closed here (their sync is
   * owed to a confirm); when only such files are left the cap is exceeded for now rather than the guarantee weakened.
   */
  #makeRoom(): void {
    const list = this.#openSegments;
    // Two sweeps at most: the first may only clear second-chance bits. After a burst over the cap (files with
    // unsynced writes stay open), this closes as many as it takes to get back under it.
    for (let n = 2 * list.length; n > 0 && this.#openFiles >= this.maxOpenFiles && list.length > 0; n--) {
      if (this.#clockHand >= list.length) this.#clockHand = 0;
      const seg = list[this.#clockHand] as Segment;
      if (seg.used) {
        seg.used = false;
        this.#clockHand++;
        continue;
      }
      if ((seg.fd >= 0 && this.#unsynced.has(seg.fd)) || (seg.ackFd !== undefined && this.#unsynced.has(seg.ackFd))) {
        this.#clockHand++;
        continue;
      }
      // Swap-removal moves the last segment into this slot: look at the slot again.
      this.#closeSegmentFiles(seg);
    }
  }

  forget(q: FileQueueStore): void {
    this.#dirty.delete(q);
    this.#queues.delete(q);
  }

  /** Close an fd now, or after the running fdatasync round. */
  closeFd(fd: number): void {
    this.#unsynced.delete(fd);
    if (this.#syncing) this.#closeLater.push(fd);
    else closeQuietly(fd);
  }

  /** Set aside a deleted queue's directory and remove it in the background. */
  discardDir(dir: string): void {
    this.#opening(dir);
    const trash = path.join(this.dir, 'trash', `${path.basename(dir)}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    try {
      dataFs.renameSync(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.logger.error({ err, dir }, 'could not remove a deleted queue directory');
      return;
    }
    dataFs.rm(trash, { recursive: true, force: true }, (err) => {
      if (err) this.logger.warn({ err, dir: trash }, 'could not remove a deleted queue directory');
    });
  }

  writeFailed(err: Error): void {
    this.logger.error({ err }, 'message store write failed; confirms will be negative');
    this.#failed = err;
  }

  scheduleFlush(): void {
    if (this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    setImmediate(this.#onFlush);
  }

  readonly #onFlush = (): void => {
    this.#flushScheduled = false;
    this.flushNow();
  };

  /** Write every pending record and mark; start a group commit when confirms wait for one. */
  flushNow(): void {
    // Bodies first: a kill -9 between the writes must never leave a reference to a body not written.
    this.bodies.flush();
    for (const q of this.#dirty) q.flush();
    this.#dirty.clear();
    this.bodies.collect();
    if (this.#waiters.length > this.#waitHead && !this.#syncing) {
      if (this.#waiters[this.#waitHead]!.target <= this.#synced) this.#release();
      else this.#startSync();
    }
    if (this.#unsynced.size > 0 && this.#idleSync === undefined && !this.#closed) {
      this.#idleSync = setTimeout(this.#onIdleSync, IDLE_SYNC_MS);
      this.#idleSync.unref();
    }
  }

  #startSync(): void {
    this.#syncing = true;
    const target = this.#appended;
    const fds = [...this.#unsynced];
    this.#unsynced.clear();
    syncAll(fds, (error) => {
      this.#syncing = false;
      this.#closeDeferred();
      if (error !== undefined) this.writeFailed(error);
      this.#synced = target;
      this.#release();
      if (this.#waiters.length > this.#waitHead && !this.#closed) this.flushNow();
    }, this.dir);
  }

  #closeDeferred(): void {
    const fds = this.#closeLater;
    this.#closeLater = [];
    for (const fd of fds) closeQuietly(fd);
  }

  /** Hand out every confirm whose writes are synced. */
  #release(): void {
    const w = this.#waiters;
    const ackOk = this.#failed === undefined;
    while (this.#waitHead < w.length && w[this.#waitHead]!.target <= this.#synced) {
      const x = w[this.#waitHead]!;
      w[this.#waitHead++] = undefined as never;
      const n = this.#waitingPerSink.get(x.sink)! - 1;
      if (n === 0) this.#waitingPerSink.delete(x.sink);
      else this.#waitingPerSink.set(x.sink, n);
      try {
        x.sink.confirm(x.sequence, x.ack && ackOk);
      } catch (err) {
        this.logger.error({ err }, 'confirm sink threw');
      }
    }
    if (this.#waitHead === w.length) {
      this.#waiters = [];
      this.#waitHead = 0;
    } else if (this.#waitHead > 4096) {
      this.#waiters = w.slice(this.#waitHead);
      this.#waitHead = 0;
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    dataFs.closeSync(fd);
  } catch {
    // already closed: nothing to release
  }
}

/**
 * Ready messages of one queue: an in-memory head (a {@link MemoryQueueStore}) and, past the memory budget, a tail
 * that lives only in the segment files from `#cursor` on.
 */
export class FileQueueStore implements QueueStore {
  readonly #store: FileMessageStore;
  readonly #dir: string;
  readonly #durable: boolean;
  readonly #pageable: boolean;
  readonly #mem: MemoryQueueStore;
  readonly #segments = new Map<number, Segment>();
  readonly #vhost: string;
  readonly #queue: string;
  #wseg: Segment | undefined = undefined;
  #nextSegId = 1;
  /** Records appended to the current segment and not yet written (allocated on first use). */
  #pending: ByteWriter | undefined = undefined;
  #dirCreated = false;
  /** Entries only on disk, from #cursor (a location) on. */
  #paged = 0;
  #pagedBytes = 0;
  #cursor = 0;
  #lastSeq = 0;
  #closed = false;
  /** Body locations of this queue's references held in memory (ready or out for delivery), by entry location. */
  #refs: Map<number, number> | undefined = undefined;

  constructor(store: FileMessageStore, dir: string, options: QueueStoreOptions, vhost: string, queue: string) {
    this.#store = store;
    this.#dir = dir;
    this.#durable = options.durable;
    // Priority levels interleave in delivery order, so only plain queues page (priority queues stay in memory).
    this.#pageable = options.maxPriority === 0;
    this.#mem = new MemoryQueueStore(options.maxPriority);
    this.#vhost = vhost;
    this.#queue = queue;
  }

  get messageCount(): number {
    return this.#mem.messageCount + this.#paged;
  }
  get byteCount(): number {
    return this.#mem.byteCount + this.#pagedBytes;
  }
  get lastSeq(): number {
    return this.#lastSeq;
  }
  /** Entries held in memory (for tests and metrics); the rest are paged out. */
  get residentCount(): number {
    return this.#mem.messageCount;
  }

  #memCost(): number {
    return this.#mem.byteCount + this.#mem.messageCount * ENTRY_OVERHEAD;
  }

  push(entry: QueueEntry): void {
    const persistent = this.#durable && entry.message.properties.deliveryMode === 2;
    if (this.#pageable && (this.#paged > 0 || this.#memCost() + entry.message.body.length + ENTRY_OVERHEAD > this.#store.queueMemoryBytes)) {
      // Page out: the entry lives on disk only (transient ones too, flagged so recovery drops them).
      const loc = this.#append(entry, persistent, false);
      if (this.#paged === 0) this.#cursor = loc;
      this.#paged++;
      this.#pagedBytes += entry.message.body.length;
      return;
    }
    if (persistent) entry.location = this.#append(entry, true, true);
    this.#mem.push(entry);
  }

  persistDelivered(entry: QueueEntry): void {
    if (!this.#durable || entry.message.properties.deliveryMode !== 2) return;
    const loc = this.#append(entry, true, true);
    entry.location = loc;
    this.#mark(loc, ACK_DELIVERED);
  }

  requeue(entry: QueueEntry): void {
    this.#mem.requeue(entry);
  }

  peek(): QueueEntry | undefined {
    if (this.#mem.messageCount === 0 && this.#paged > 0) this.#pageIn();
    return this.#mem.peek();
  }

  shift(): QueueEntry | undefined {
    if (this.#mem.messageCount === 0 && this.#paged > 0) this.#pageIn();
    const e = this.#mem.shift();
    // First hand-out of a stored entry: remember it was delivered, so a restart marks it redelivered.
    if (e !== undefined && e.location !== undefined && !e.redelivered) this.#mark(e.location, ACK_DELIVERED);
    return e;
  }

  settled(entry: QueueEntry): void {
    const loc = entry.location;
    if (loc === undefined || this.#closed) return;
    entry.location = undefined;
    const seg = this.#mark(loc, ACK_SETTLED);
    if (seg !== undefined && --seg.live === 0 && seg !== this.#wseg) this.#dropSegment(seg);
    const refs = this.#refs;
    if (refs !== undefined && refs.size > 0) {
      const body = refs.get(loc);
      if (body !== undefined) {
        refs.delete(loc);
        this.#store.bodies.release(body);
      }
    }
  }

  purge(): number {
    const n = this.messageCount;
    for (let e = this.shift(); e !== undefined; e = this.shift()) this.settled(e);
    return n;
  }

  /** The queue was deleted: its files go. */
  close(): void {
    if (this.#closed) return;
    this.#releaseRefs();
    this.#closed = true;
    this.#mem.purge();
    this.#paged = 0;
    this.#pagedBytes = 0;
    this.#pending = undefined;
    this.#closeFds();
    this.#store.forget(this);
    if (this.#dirCreated || this.#durable) this.#store.discardDir(this.#dir);
  }

  /** Broker shutdown: pending writes were flushed by the store; release fds, keep files. */
  shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeFds();
    if (!this.#durable && this.#dirCreated) dataFs.rmSync(this.#dir, { recursive: true, force: true });
  }

  /** The queue is deleted: its references, in memory or paged out, no longer hold their bodies. */
  #releaseRefs(): void {
    const bodies = this.#store.bodies;
    if (this.#refs !== undefined) {
      for (const body of this.#refs.values()) bodies.release(body);
      this.#refs = undefined;
    }
    if (this.#paged === 0 || !this.#durable) return;
    this.flush();
    let segId = Math.floor(this.#cursor / SEGMENT_FACTOR);
    let offset = this.#cursor % SEGMENT_FACTOR;
    for (;;) {
      const seg = this.#segments.get(segId);
      if (seg !== undefined) {
        let data: Buffer;
        try {
          data = fs.readFileSync(seg.file);
        } catch (err) {
          this.#store.logger.error({ err, file: seg.file }, 'could not read a deleted queue segment to release its references');
          data = Buffer.alloc(0);
        }
        for (let pos = offset; pos < Math.min(data.length, seg.flushed); ) {
          const size = checkRecord(data, pos);
          if (typeof size !== 'number') break;
          const head = recordHead(data, pos);
          if ((head.flags & FLAG_REF) !== 0 && seg.acked?.has(pos) !== true && seg.missing?.has(pos) !== true) {
            bodies.release(refLocation(data, pos));
          }
          pos += size;
        }
      }
      const next = this.#nextSegmentAfter(segId);
      if (next === undefined) break;
      segId = next;
      offset = 0;
    }
  }

  #closeFds(): void {
    for (const seg of this.#segments.values()) this.#store.releaseSegment(seg);
    this.#segments.clear();
    this.#wseg = undefined;
  }

  // ---- writing -----------------------------------------------------------------------------------------------

  /**
   * Append a record to the current segment (rolling when full); returns its location. A persistent message the router
   * announced for several durable queues becomes a reference to its body in the shared body log; `resident` keeps
   * that reference in memory (an entry paged out finds it on disk).
   */
  #append(entry: QueueEntry, persistent: boolean, resident: boolean): number {
    let seg = this.#wseg;
    if (seg === undefined || seg.size >= this.#store.segmentSize) seg = this.#roll();
    const offset = seg.size;
    const w = (this.#pending ??= new ByteWriter(16 * 1024));
    let n: number;
    const bodies = this.#store.bodies;
    if (persistent && entry.message === bodies.shared) {
      const body = bodies.refShared();
      n = writeRef(w, FLAG_PERSISTENT, entry.seq, entry.expiresAt, entry.priority, entry.message.body.length, body);
      if (resident) (this.#refs ??= new Map()).set(seg.id * SEGMENT_FACTOR + offset, body);
    } else {
      n = writeRecord(w, persistent ? FLAG_PERSISTENT : 0, entry.seq, entry.expiresAt, entry.priority, entry.message);
    }
    seg.size += n;
    seg.live++;
    if (entry.seq > this.#lastSeq) this.#lastSeq = entry.seq;
    if (persistent) this.#store.noteDurableAppend();
    this.#store.markDirty(this);
    return seg.id * SEGMENT_FACTOR + offset;
  }

  #roll(): Segment {
    const old = this.#wseg;
    if (old !== undefined) {
      this.flush();
      this.#wseg = undefined;
      if (old.live === 0) this.#dropSegment(old);
    }
    if (!this.#dirCreated) {
      dataFs.mkdirSync(this.#dir, { recursive: true, mode: PRIVATE_DIR });
      if (this.#durable) {
        const meta = JSON.stringify({ vhost: this.#vhost, queue: this.#queue }) + '\n';
        dataFs.writeFileSync(path.join(this.#dir, 'queue.json'), meta, { encoding: 'utf8', mode: PRIVATE_FILE });
      }
      this.#dirCreated = true;
    }
    const id = this.#nextSegId++;
    const file = path.join(this.#dir, `${segName(id)}.seg`);
    const seg = new Segment(id, file, -1, 0, false);
    this.#store.createSegmentFile(seg);
    this.#segments.set(id, seg);
    this.#wseg = seg;
    if (this.#durable) syncDir(this.#dir);
    return seg;
  }

  #mark(loc: number, kind: number): Segment | undefined {
    const seg = this.#segments.get(Math.floor(loc / SEGMENT_FACTOR));
    if (seg === undefined) return undefined;
    if (this.#durable) {
      seg.ackPending.push((loc % SEGMENT_FACTOR) * 2 + kind);
      this.#store.markDirty(this);
    }
    return seg;
  }

  /** Write pending records and marks (called by the store once per event-loop turn, and before reading back). */
  flush(): void {
    if (this.#closed) return;
    const seg = this.#wseg;
    const w = this.#pending;
    try {
      if (seg !== undefined && w !== undefined && w.length > 0) {
        // References must never reach the file before their bodies.
        if (this.#store.bodies.pending) this.#store.bodies.flush();
        const fd = this.#store.segmentFd(seg);
        writeAll(fd, w.buf, w.length, seg.flushed);
        seg.flushed += w.length;
        this.#store.noteWritten(fd, w.length);
        w.reset();
      }
      for (const s of this.#segments.values()) {
        const marks = s.ackPending;
        if (marks.length === 0) continue;
        const buf = Buffer.allocUnsafe(marks.length * 4);
        for (let i = 0; i < marks.length; i++) buf.writeUInt32LE(marks[i]!, i * 4);
        s.ackPending = [];
        const ackFd = this.#store.ackFd(s);
        writeAll(ackFd, buf, buf.length, null);
        this.#store.noteWritten(ackFd, buf.length);
      }
    } catch (err) {
      w?.reset();
      this.#store.writeFailed(err as Error);
    }
  }

  #dropSegment(seg: Segment): void {
    this.#segments.delete(seg.id);
    this.#store.releaseSegment(seg);
    seg.ackPending = [];
    // Synchronously: the segment's ack marks are dropped with it, so until its files are gone a kill -9 would bring
    // every settled message of it back. An asynchronous unlink left that window open (the restart test caught it
    // under load, when the threadpool had not run the unlink yet). Once per segment, not per message.
    for (const f of [seg.file, seg.ackFile]) {
      try {
        dataFs.unlinkSync(f);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#store.logger.warn({ err, file: f }, 'could not delete a settled segment');
      }
    }
  }

  // ---- reading back ------------------------------------------------------------------------------------------

  /** Read paged-out entries from `#cursor` into memory, up to half the memory budget. */
  #pageIn(): void {
    if (this.#wseg !== undefined && this.#pending !== undefined && this.#pending.length > 0) this.flush();
    const budget = this.#store.queueMemoryBytes / 2;
    let segId = Math.floor(this.#cursor / SEGMENT_FACTOR);
    let offset = this.#cursor % SEGMENT_FACTOR;
    let buf = Buffer.allocUnsafe(PAGE_READ);
    while (this.#paged > 0 && (this.#mem.messageCount === 0 || this.#memCost() < budget)) {
      const seg = this.#segments.get(segId);
      if (seg === undefined || offset >= seg.flushed) {
        const next = this.#nextSegmentAfter(segId);
        if (next === undefined) {
          this.#store.logger.error({ vhost: this.#vhost, queue: this.#queue, missing: this.#paged }, 'paged-out messages not found on disk');
          this.#paged = 0;
          this.#pagedBytes = 0;
          break;
        }
        segId = next;
        offset = 0;
        continue;
      }
      const want = Math.min(Math.max(buf.length, PAGE_READ), seg.flushed - offset);
      if (want > buf.length) buf = Buffer.allocUnsafe(want);
      const got = fs.readSync(this.#store.segmentFd(seg), buf, 0, want, offset);
      const view = buf.subarray(0, got);
      let pos = 0;
      while (pos < view.length && this.#paged > 0 && (this.#mem.messageCount === 0 || this.#memCost() < budget)) {
        const size = checkRecord(view, pos);
        if (typeof size !== 'number') {
          if (size === 'truncated' && pos > 0) break; // the record continues past this read
          if (size === 'truncated') {
            buf = Buffer.allocUnsafe(view.readUInt32LE(0) + 8);
            break;
          }
          this.#store.logger.error({ vhost: this.#vhost, queue: this.#queue, file: seg.file, offset: offset + pos, problem: size }, 'corrupt record while reading back; rest of segment skipped');
          pos = seg.flushed - offset;
          break;
        }
        const at = offset + pos;
        pos += size;
        const head = recordHead(view, at - offset);
        if (seg.acked?.has(at) === true || (seg.old && (head.flags & FLAG_PERSISTENT) === 0)) continue;
        if (seg.missing?.has(at) === true) continue;
        const location = seg.id * SEGMENT_FACTOR + at;
        let message: Message;
        if ((head.flags & FLAG_REF) !== 0) {
          const body = refLocation(view, at - offset);
          message = this.#store.bodies.read(body);
          (this.#refs ??= new Map()).set(location, body);
        } else message = readRecord(view, at - offset).message;
        const entry: QueueEntry = {
          message,
          seq: head.seq,
          expiresAt: head.expiresAt,
          priority: head.priority,
          redelivered: seg.delivered?.has(at) === true,
          deliveryCount: 0,
          location,
        };
        this.#paged--;
        this.#pagedBytes -= head.bodyBytes;
        this.#mem.push(entry);
      }
      offset += pos;
    }
    this.#cursor = segId * SEGMENT_FACTOR + offset;
  }

  #nextSegmentAfter(id: number): number | undefined {
    let best: number | undefined;
    for (const k of this.#segments.keys()) if (k > id && (best === undefined || k < best)) best = k;
    return best;
  }

  // ---- recovery ----------------------------------------------------------------------------------------------

  /** Load what a previous run left: ready entries in order, delivered ones marked redelivered. */
  recover(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.#dirCreated = true;
    const log = this.#store.logger;
    const started = Date.now();
    let lastProgress = started;
    const ids = names
      .filter((n) => /^\d{10}\.seg$/.test(n))
      .map((n) => Number(n.slice(0, 10)))
      .sort((a, b) => a - b);
    const budget = this.#store.queueMemoryBytes;
    let recovered = 0;
    let dropped = 0;
    let missing = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const last = i === ids.length - 1;
      const file = path.join(this.#dir, `${segName(id)}.seg`);
      const { acked, delivered } = this.#readAcks(file.slice(0, -4) + '.ack');
      const data = fs.readFileSync(file);
      let pos = 0;
      let live = 0;
      const seg = new Segment(id, file, -1, 0, true);
      while (pos < data.length) {
        const size = checkRecord(data, pos);
        if (typeof size !== 'number') {
          this.#reportBadTail(file, data.length, pos, size, last);
          break;
        }
        const head = recordHead(data, pos);
        if (head.seq > this.#lastSeq) this.#lastSeq = head.seq;
        const at = pos;
        pos += size;
        if ((head.flags & FLAG_PERSISTENT) === 0) {
          dropped++;
          continue;
        }
        if (acked.has(at)) continue;
        const body = (head.flags & FLAG_REF) !== 0 ? refLocation(data, at) : -1;
        if (body >= 0 && !this.#store.bodies.addRecovered(body)) {
          // Its body is gone: it was settled and the settle mark lost with power, or the body log was damaged.
          missing++;
          (seg.missing ??= new Set()).add(at);
          continue;
        }
        live++;
        recovered++;
        if (this.#pageable && (this.#paged > 0 || this.#memCost() + head.bodyBytes + ENTRY_OVERHEAD > budget)) {
          if (this.#paged === 0) this.#cursor = id * SEGMENT_FACTOR + at;
          this.#paged++;
          this.#pagedBytes += head.bodyBytes;
          continue;
        }
        const location = id * SEGMENT_FACTOR + at;
        let message: Message;
        if (body >= 0) {
          message = this.#store.bodies.read(body);
          (this.#refs ??= new Map()).set(location, body);
        } else message = readRecord(data, at).message;
        this.#mem.push({
          message,
          seq: head.seq,
          expiresAt: head.expiresAt,
          priority: head.priority,
          redelivered: delivered.has(at),
          deliveryCount: 0,
          location,
        });
      }
      this.#nextSegId = id + 1;
      if (live === 0) {
        for (const f of [file, seg.ackFile]) dataFs.rmSync(f, { force: true });
        continue;
      }
      // Opened when first read back (the store's file cache), not now: recovering thousands of queues must not
      // hold a descriptor for each.
      seg.flushed = seg.size = pos;
      seg.live = live;
      if (this.#paged > 0) {
        // Reading back needs to skip what the previous run settled and tell what it delivered.
        seg.acked = acked;
        seg.delivered = delivered;
      } else seg.missing = undefined;
      this.#segments.set(id, seg);
      const now = Date.now();
      if (now - lastProgress >= PROGRESS_INTERVAL) {
        lastProgress = now;
        log.info({ vhost: this.#vhost, queue: this.#queue, recovered, segment: `${i + 1}/${ids.length}` }, 'recovering messages');
      }
    }
    if (missing > 0) {
      log.error({ vhost: this.#vhost, queue: this.#queue, messages: missing }, 'references to missing shared message bodies dropped');
    }
    if (ids.length > 0) {
      log.info(
        { vhost: this.#vhost, queue: this.#queue, messages: recovered, transientDropped: dropped, segments: this.#segments.size, ms: Date.now() - started },
        'recovered queue messages',
      );
    }
  }

  #readAcks(file: string): { acked: Set<number>; delivered: Set<number> } {
    const acked = new Set<number>();
    const delivered = new Set<number>();
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { acked, delivered };
      throw err;
    }
    const whole = data.length - (data.length % 4);
    if (whole !== data.length) {
      // A mark torn by a crash: the settle it stood for is lost, so that message comes back (at-least-once).
      this.#store.logger.warn({ file, droppedBytes: data.length - whole }, 'torn ack mark cut off');
      dataFs.truncateSync(file, whole);
    }
    for (let i = 0; i < whole; i += 4) {
      const v = data.readUInt32LE(i);
      const off = Math.floor(v / 2);
      if (v % 2 === ACK_SETTLED) acked.add(off);
      else delivered.add(off);
    }
    return { acked, delivered };
  }

  #reportBadTail(file: string, length: number, pos: number, problem: RecordProblem, last: boolean): void {
    const log = this.#store.logger;
    const info = { vhost: this.#vhost, queue: this.#queue, file, offset: pos, droppedBytes: length - pos, problem };
    if (last && (problem === 'truncated' || isZeroTail(file, pos))) {
      // A crash in the middle of an append (DESIGN.md §5): the tail was never confirmed, so it is cut off.
      log.warn(info, 'torn write at the end of a segment cut off');
      dataFs.truncateSync(file, pos);
      return;
    }
    log.error(info, 'corrupt segment file: records from this offset on are skipped');
  }
}

/** True when a file holds only zero bytes from `pos` (a filesystem that extended the file but lost the data). */
function isZeroTail(file: string, pos: number): boolean {
  const data = fs.readFileSync(file);
  for (let i = pos; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

function writeAll(fd: number, buf: Buffer, length: number, position: number | null): void {
  let done = 0;
  while (done < length) {
    const n = dataFs.writeSync(fd, buf, done, length - done, position === null ? null : position + done);
    done += n;
  }
}
