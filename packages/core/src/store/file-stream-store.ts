import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dataFs from './data-fs.js';
import type { Message } from '../contract.js';
import type { ChunkInfo, SegmentInfo, StreamStorage } from '../queue/stream-log.js';
import { syncDir } from '../util/sync-dir.js';
import type { FileMessageStore } from './file-message-store.js';
import { ByteWriter, checkRecord, FLAG_PERSISTENT, readRecord, recordHead, writeRecord } from './record-codec.js';
import { PRIVATE_DIR, PRIVATE_FILE } from './private-mode.js';

/** Record flag of a stream's message that starts a chunk. */
export const FLAG_CHUNK_START = 2;
/** Bytes read at a time while recovering. */
const SCAN_READ = 1024 * 1024;

function segName(id: number): string {
  return String(id).padStart(20, '0');
}

/**
 * The segment files of one stream queue, in `<dataDir>/messages/streams/<hash>/`: `<first offset, 20 digits>.seg`, as
 * osiris names its segments. A segment holds the same checksummed records as a queue's segments (record-codec.ts),
 * with `seq` = the message's offset and `expiresAt` = its chunk's timestamp; flag bit 1 marks the first record of a
 * chunk. Appends of one event-loop turn are written with one `write` (they are one chunk: the flush seals it) and a
 * publisher confirm waits for the store's group-committed `fdatasync`, like any durable append.
 */
export class FileStreamStorage implements StreamStorage {
  readonly #store: FileMessageStore;
  readonly #dir: string;
  readonly #vhost: string;
  readonly #queue: string;
  /** The segment being written: id, fd, bytes written so far. */
  #wid = -1;
  #wfd = -1;
  #written = 0;
  #pending = new ByteWriter(16 * 1024);
  /** One read fd kept open (the segment last read back). */
  #rid = -1;
  #rfd = -1;
  #closed = false;
  #dirMade = false;
  /** Set by the log's owner: sealed at each flush, told when everything is written. */
  onFlushed: (() => void) | undefined = undefined;

  constructor(store: FileMessageStore, dir: string, vhost: string, queue: string) {
    this.#store = store;
    this.#dir = dir;
    this.#vhost = vhost;
    this.#queue = queue;
  }

  #file(id: number): string {
    return path.join(this.#dir, `${segName(id)}.seg`);
  }

  roll(id: number): void {
    this.flush();
    if (this.#wfd >= 0) this.#store.closeFd(this.#wfd);
    if (!this.#dirMade) {
      dataFs.mkdirSync(this.#dir, { recursive: true, mode: PRIVATE_DIR });
      const meta = JSON.stringify({ vhost: this.#vhost, queue: this.#queue }) + '\n';
      dataFs.writeFileSync(path.join(this.#dir, 'stream.json'), meta, { encoding: 'utf8', mode: PRIVATE_FILE });
      this.#dirMade = true;
    }
    this.#wid = id;
    this.#wfd = dataFs.openSync(this.#file(id), 'w+', PRIVATE_FILE);
    this.#written = 0;
    syncDir(this.#dir);
  }

  append(offset: number, timestamp: number, chunkStart: boolean, message: Message): number {
    const n = writeRecord(this.#pending, FLAG_PERSISTENT | (chunkStart ? FLAG_CHUNK_START : 0), offset, timestamp, 0, message);
    this.#store.noteDurableAppend();
    this.#store.markDirty(this);
    return n;
  }

  /** Write what was appended (once per event-loop turn, from the store's flush). */
  flush(): void {
    if (this.#closed) return;
    const w = this.#pending;
    if (w.length > 0 && this.#wfd >= 0) {
      try {
        let done = 0;
        while (done < w.length) done += dataFs.writeSync(this.#wfd, w.buf, done, w.length - done, this.#written + done);
        this.#written += w.length;
        this.#store.noteWritten(this.#wfd);
      } catch (err) {
        this.#store.writeFailed(err as Error);
      }
      w.reset();
    }
    this.onFlushed?.();
  }

  read(id: number, chunk: ChunkInfo): Message[] {
    if (id === this.#wid && this.#pending.length > 0) this.flush();
    if (this.#rid !== id) {
      if (this.#rfd >= 0) this.#store.closeFd(this.#rfd);
      this.#rfd = fs.openSync(this.#file(id), 'r');
      this.#rid = id;
    }
    const buf = Buffer.allocUnsafe(chunk.bytes);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(this.#rfd, buf, got, buf.length - got, chunk.pos + got);
      if (n === 0) break;
      got += n;
    }
    const out: Message[] = [];
    let pos = 0;
    while (pos < got && out.length < chunk.count) {
      const size = checkRecord(buf, pos);
      if (typeof size !== 'number') {
        // Verified at recovery or written by this run: a failing record now means the disk changed under us.
        this.#store.logger.error({ vhost: this.#vhost, queue: this.#queue, segment: id, offset: chunk.pos + pos, problem: size }, 'corrupt stream record while reading back');
        break;
      }
      out.push(readRecord(buf, pos).message);
      pos += size;
    }
    // Keep offsets aligned even if records went missing: the reader skips what could not be read.
    while (out.length < chunk.count) out.push(out[out.length - 1] ?? emptyMessage());
    return out;
  }

  drop(id: number): void {
    if (id === this.#rid) {
      this.#store.closeFd(this.#rfd);
      this.#rfd = this.#rid = -1;
    }
    const file = this.#file(id);
    dataFs.unlink(file, (err) => {
      if (err && err.code !== 'ENOENT') this.#store.logger.warn({ err, file }, 'could not delete a stream segment');
    });
  }

  destroy(): void {
    this.#release();
    this.#store.forgetStream(this);
    this.#store.discardDir(this.#dir);
  }

  /** Broker shutdown: the store flushed; release fds, keep files. */
  shutdown(): void {
    this.flush();
    this.#release();
  }

  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#wfd >= 0) this.#store.closeFd(this.#wfd);
    if (this.#rfd >= 0) this.#store.closeFd(this.#rfd);
    this.#wfd = this.#rfd = -1;
  }

  /**
   * Read what a previous run left: every segment's chunks, checking each record's CRC-32. A bad record at the end of
   * the last segment is a torn append (never confirmed): cut off with a warning. Elsewhere it is an error and the rest
   * of that segment is skipped.
   */
  recover(): SegmentInfo[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    this.#dirMade = true;
    const ids = names.filter((n) => /^\d{20}\.seg$/.test(n)).map((n) => Number(n.slice(0, 20))).sort((a, b) => a - b);
    const out: SegmentInfo[] = [];
    const log = this.#store.logger;
    let messages = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const file = this.#file(id);
      const fd = dataFs.openSync(file, 'r+');
      const size = fs.fstatSync(fd).size;
      const chunks: ChunkInfo[] = [];
      let buf = Buffer.allocUnsafe(SCAN_READ);
      let base = 0; // file position of buf[0]
      let len = 0;
      let pos = 0; // file position of the next record
      let bad: string | undefined;
      /** Make buf hold the file's bytes [at, at + need); false when the file ends before. */
      const fill = (at: number, need: number): boolean => {
        if (at >= base && at + need <= base + len) return true;
        if (need > buf.length) buf = Buffer.allocUnsafe(need);
        base = at;
        len = fs.readSync(fd, buf, 0, buf.length, at);
        return len >= need;
      };
      while (pos < size) {
        if (!fill(pos, 8) || 8 + buf.readUInt32LE(pos - base) > size - pos || !fill(pos, 8 + buf.readUInt32LE(pos - base))) {
          bad = 'truncated';
          break;
        }
        const at = pos - base;
        const n = checkRecord(buf.subarray(0, len), at);
        if (typeof n !== 'number') {
          bad = n;
          break;
        }
        const head = recordHead(buf, at);
        const last = chunks[chunks.length - 1];
        if ((head.flags & FLAG_CHUNK_START) !== 0 || last === undefined) {
          chunks.push({ first: head.seq, count: 1, timestamp: head.expiresAt, pos, bytes: n });
        } else {
          last.count++;
          last.bytes += n;
        }
        messages++;
        pos += n;
      }
      if (bad !== undefined) {
        const info = { vhost: this.#vhost, queue: this.#queue, file, offset: pos, droppedBytes: size - pos, problem: bad };
        if (i === ids.length - 1) {
          log.warn(info, 'torn write at the end of a stream segment cut off');
          dataFs.ftruncateSync(fd, pos);
        } else log.error(info, 'corrupt stream segment: records from this offset on are skipped');
      }
      dataFs.closeSync(fd);
      if (chunks.length === 0) {
        dataFs.rmSync(file, { force: true });
        continue;
      }
      out.push({ id, chunks, bytes: pos });
    }
    if (ids.length > 0) log.info({ vhost: this.#vhost, queue: this.#queue, messages, segments: out.length }, 'recovered stream');
    return out;
  }
}

function emptyMessage(): Message {
  return { exchange: '', routingKey: '', properties: {}, rawProperties: undefined, body: Buffer.alloc(0) };
}
