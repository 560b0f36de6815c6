import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dataFs from './data-fs.js';
import type { Message } from '../contract.js';
import type { FileMessageStore } from './file-message-store.js';
import { ByteWriter, checkRecord, FLAG_PERSISTENT, readRecord, writeRecord } from './record-codec.js';
import { Segment } from './segment.js';
import { PRIVATE_DIR } from './private-mode.js';
import { syncDir } from '../util/sync-dir.js';

/** Locations pack segment id and offset into one number: id × 2^32 + offset (as queue locations do). */
const SEGMENT_FACTOR = 0x1_0000_0000;
/** Bytes read from a body segment at a time. */
const READ_WINDOW = 256 * 1024;

function segName(id: number): string {
  return String(id).padStart(10, '0');
}

/**
 * The shared body log of a {@link FileMessageStore}: `<dir>/bodies/<n>.seg`, segments of message records (the queue
 * segment record format) written once for a persistent message routed to several durable queues. Each of those
 * queues appends a small reference record (record-codec.ts `ref`) holding the body's location instead of the message,
 * in the same event-loop turn, so one fdatasync round covers the body and every reference before any confirm.
 *
 * Liveness is counted, not logged: a body lives while a queue holds an unsettled reference to it. The counts are
 * rebuilt at recovery from the references each durable queue recovers; until every durable queue of the earlier run
 * has been opened ({@link SharedBodyLog.complete}) a body of an earlier run may still be wanted by a queue not opened
 * yet, so earlier runs' segments are kept until then. A segment whose bodies are all dead is deleted, after the ack
 * marks that killed them were written (the store's flush), so a `kill -9` never leaves a live reference without its
 * body. Like RabbitMQ's shared message store (msg_store) for messages routed to several queues, minus its compaction:
 * one long-lived body keeps its whole segment.
 */
export class SharedBodyLog {
  readonly #store: FileMessageStore;
  readonly #dir: string;
  readonly #segments = new Map<number, Segment>();
  /** Reference counts of live bodies by location (bodies of earlier runs start at 0 and count recovered refs). */
  readonly #refs = new Map<number, number>();
  #wseg: Segment | undefined = undefined;
  #nextSegId = 1;
  #pending: ByteWriter | undefined = undefined;
  #dirMade = false;
  /** The message the router announced for several durable queues, and where its body went (-1 = not written yet). */
  shared: Message | undefined = undefined;
  #sharedLoc = -1;
  /** True once no queue of an earlier run can still claim a body of it. */
  #complete = true;
  /** Segments whose bodies are all dead, deleted at the end of the store's next flush. */
  #dead: Segment[] = [];
  /** Messages decoded in this turn (recovery opens every queue in one turn: their copies of a body share one). */
  readonly #decoded = new Map<number, Message>();
  /** The last bytes read from a segment (reading back goes through bodies in order). */
  #window: { seg: Segment; start: number; length: number; buf: Buffer } | undefined = undefined;

  constructor(store: FileMessageStore, dir: string) {
    this.#store = store;
    this.#dir = dir;
  }

  /** Bodies with a live reference (or of an earlier run not yet known to be dead). */
  get liveBodies(): number {
    return this.#refs.size;
  }

  /** Segment files held. */
  get segmentCount(): number {
    return this.#segments.size;
  }

  /** True when appended bodies wait for {@link flush}. */
  get pending(): boolean {
    return this.#pending !== undefined && this.#pending.length > 0;
  }

  /** Index what earlier runs left; returns true when there is something (so completion must be awaited). */
  recover(): boolean {
    let names: string[];
    try {
      names = fs.readdirSync(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    this.#dirMade = true;
    const ids = names
      .filter((n) => /^\d{10}\.seg$/.test(n))
      .map((n) => Number(n.slice(0, 10)))
      .sort((a, b) => a - b);
    const log = this.#store.logger;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const file = path.join(this.#dir, `${segName(id)}.seg`);
      const data = fs.readFileSync(file);
      let pos = 0;
      let count = 0;
      while (pos < data.length) {
        const size = checkRecord(data, pos);
        if (typeof size !== 'number') {
          const info = { file, offset: pos, droppedBytes: data.length - pos, problem: size };
          if (i === ids.length - 1 && size === 'truncated') {
            // A crash in the middle of an append: no reference to this body was ever confirmed.
            log.warn(info, 'torn write at the end of a body segment cut off');
            dataFs.truncateSync(file, pos);
          } else log.error(info, 'corrupt body segment: bodies from this offset on are lost');
          break;
        }
        this.#refs.set(id * SEGMENT_FACTOR + pos, 0);
        count++;
        pos += size;
      }
      this.#nextSegId = id + 1;
      if (count === 0) {
        dataFs.rmSync(file, { force: true });
        continue;
      }
      const seg = new Segment(id, file, -1, pos, true);
      seg.live = count;
      this.#segments.set(id, seg);
    }
    this.#complete = this.#segments.size === 0;
    return !this.#complete;
  }

  /** Every queue that could refer to an earlier run's body has been opened: unreferenced bodies are garbage now. */
  complete(): void {
    if (this.#complete) return;
    this.#complete = true;
    let dead = 0;
    for (const [loc, n] of this.#refs) {
      if (n > 0) continue;
      dead++;
      this.#kill(loc);
    }
    if (dead > 0) this.#store.logger.info({ bodies: dead }, 'unreferenced shared message bodies of an earlier run dropped');
    this.#store.scheduleFlush();
  }

  /** The router is about to enqueue `message` in several durable queues (this turn). */
  share(message: Message): void {
    this.shared = message;
    this.#sharedLoc = -1;
  }

  /** One more reference to the announced message; writes its body on the first. Returns the body's location. */
  refShared(): number {
    let loc = this.#sharedLoc;
    if (loc < 0) {
      const m = this.shared as Message;
      let seg = this.#wseg;
      if (seg === undefined || seg.size >= this.#store.segmentSize) seg = this.#roll();
      loc = seg.id * SEGMENT_FACTOR + seg.size;
      seg.size += writeRecord((this.#pending ??= new ByteWriter(64 * 1024)), FLAG_PERSISTENT, 0, 0, 0, m);
      seg.live++;
      this.#sharedLoc = loc;
      this.#refs.set(loc, 1);
      this.#store.scheduleFlush();
      return loc;
    }
    this.#refs.set(loc, this.#refs.get(loc)! + 1);
    return loc;
  }

  /** A queue recovered a reference; false when that body does not exist (its reference is dropped). */
  addRecovered(loc: number): boolean {
    const n = this.#refs.get(loc);
    if (n === undefined) return false;
    this.#refs.set(loc, n + 1);
    return true;
  }

  /** A reference was settled (or its queue deleted). */
  release(loc: number): void {
    const n = this.#refs.get(loc);
    if (n === undefined) return;
    if (n > 1 || (n === 1 && !this.#complete && this.#segments.get(Math.floor(loc / SEGMENT_FACTOR))?.old === true)) {
      this.#refs.set(loc, n - 1);
      return;
    }
    this.#kill(loc);
  }

  #kill(loc: number): void {
    this.#refs.delete(loc);
    if (loc === this.#sharedLoc) {
      // A later queue of the same publish writes the body again rather than refer to a dead one.
      this.shared = undefined;
      this.#sharedLoc = -1;
    }
    this.#decoded.delete(loc);
    const seg = this.#segments.get(Math.floor(loc / SEGMENT_FACTOR));
    if (seg !== undefined && --seg.live === 0 && seg !== this.#wseg) {
      this.#dead.push(seg);
      this.#store.scheduleFlush();
    }
  }

  /** The message whose body is at `loc` (it must be live). */
  read(loc: number): Message {
    const cached = this.#decoded.get(loc);
    if (cached !== undefined) return cached;
    const seg = this.#segments.get(Math.floor(loc / SEGMENT_FACTOR));
    if (seg === undefined) throw new Error(`shared message body ${loc} is gone`);
    const offset = loc % SEGMENT_FACTOR;
    if (offset >= seg.flushed) this.flush();
    let w = this.#window;
    if (w === undefined || w.seg !== seg || offset < w.start || !this.#holds(w, offset)) {
      w = this.#readWindow(seg, offset, READ_WINDOW);
      if (!this.#holds(w, offset)) w = this.#readWindow(seg, offset, w.buf.readUInt32LE(0) + 8);
    }
    const at = offset - w.start;
    const size = checkRecord(w.buf.subarray(0, w.length), at);
    if (typeof size !== 'number') throw new Error(`shared message body ${loc} is ${size}`);
    const m = readRecord(w.buf, at).message;
    // Only while one turn lasts: recovery opens every queue in one turn, then entries keep their own references.
    if (this.#decoded.size === 0) this.#store.scheduleFlush();
    this.#decoded.set(loc, m);
    return m;
  }

  #holds(w: { start: number; length: number; buf: Buffer }, offset: number): boolean {
    const at = offset - w.start;
    return at + 8 <= w.length && at + 8 + w.buf.readUInt32LE(at) <= w.length;
  }

  #readWindow(seg: Segment, offset: number, want: number): { seg: Segment; start: number; length: number; buf: Buffer } {
    const n = Math.min(want, seg.flushed - offset);
    const buf = this.#window !== undefined && this.#window.buf.length >= n ? this.#window.buf : Buffer.allocUnsafe(Math.max(n, READ_WINDOW));
    const got = fs.readSync(this.#store.segmentFd(seg), buf, 0, n, offset);
    this.#window = { seg, start: offset, length: got, buf };
    return this.#window;
  }

  #roll(): Segment {
    const old = this.#wseg;
    if (old !== undefined) {
      this.flush();
      this.#wseg = undefined;
      if (old.live === 0) this.#dead.push(old);
    }
    if (!this.#dirMade) {
      dataFs.mkdirSync(this.#dir, { recursive: true, mode: PRIVATE_DIR });
      syncDir(path.dirname(this.#dir));
      this.#dirMade = true;
    }
    const id = this.#nextSegId++;
    const seg = new Segment(id, path.join(this.#dir, `${segName(id)}.seg`), -1, 0, false);
    this.#store.createSegmentFile(seg);
    this.#segments.set(id, seg);
    this.#wseg = seg;
    syncDir(this.#dir);
    return seg;
  }

  /** Write appended bodies; the store calls it before any queue writes references to them. */
  flush(): void {
    const seg = this.#wseg;
    const w = this.#pending;
    if (seg === undefined || w === undefined || w.length === 0) return;
    try {
      const fd = this.#store.segmentFd(seg);
      let done = 0;
      while (done < w.length) done += dataFs.writeSync(fd, w.buf, done, w.length - done, seg.flushed + done);
      seg.flushed += w.length;
      this.#store.noteWritten(fd, w.length);
    } catch (err) {
      this.#store.writeFailed(err as Error);
    }
    w.reset();
  }

  /** End of the store's flush: delete dead segments (their killing ack marks are written now) and forget decodes. */
  collect(): void {
    this.#decoded.clear();
    this.shared = undefined;
    this.#sharedLoc = -1;
    if (this.#dead.length === 0) return;
    const dead = this.#dead;
    this.#dead = [];
    for (const seg of dead) {
      if (seg.live > 0 || !this.#segments.has(seg.id)) continue;
      this.#segments.delete(seg.id);
      if (this.#window?.seg === seg) this.#window = undefined;
      this.#store.releaseSegment(seg);
      try {
        dataFs.unlinkSync(seg.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#store.logger.warn({ err, file: seg.file }, 'could not delete a body segment');
      }
    }
  }

  /** Broker shutdown: release descriptors, keep files. */
  shutdown(): void {
    for (const seg of this.#segments.values()) this.#store.releaseSegment(seg);
  }
}
