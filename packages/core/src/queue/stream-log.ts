import type { FieldValue, Message } from '../contract.js';
import { BrokerError } from '../errors.js';
import { withProperties } from '../message/message.js';
import type { QueueEntry } from '../store/store.js';
import { parseDuration } from './arguments.js';

/** RabbitMQ's default x-stream-max-segment-size-bytes (500 MB). */
export const DEFAULT_STREAM_SEGMENT_BYTES = 500_000_000;
/** A chunk is sealed early past this many bytes, so reading one back from disk stays a bounded read. */
const MAX_CHUNK_BYTES = 1024 * 1024;
/** Bytes a message is counted for in a segment when nothing is written (the in-memory store): body plus a header. */
const MEMORY_RECORD_OVERHEAD = 64;

/** Retention and segment size of one stream. */
export interface StreamSettings {
  /** x-max-length-bytes: total size of the segments kept. */
  maxBytes: number | undefined;
  /** x-max-age in ms: a segment whose newest chunk is older goes. */
  maxAge: number | undefined;
  /** x-stream-max-segment-size-bytes: a new segment starts at the next chunk past this size. */
  maxSegmentBytes: number;
}

/** A chunk's place in the log (what recovery hands back, and what the log indexes). */
export interface ChunkInfo {
  /** Offset of its first message. */
  first: number;
  count: number;
  /** Epoch ms when the chunk was started (its messages' timestamp for x-stream-offset). */
  timestamp: number;
  /** Byte position in its segment, and size. */
  pos: number;
  bytes: number;
}

/** A segment recovered from disk: id is the offset of its first message (the file is named after it). */
export interface SegmentInfo {
  id: number;
  chunks: ChunkInfo[];
  bytes: number;
}

/**
 * Where a stream's messages live besides memory (the file store implements it). The log decides offsets, chunks,
 * segments and retention; the storage writes, reads back and deletes.
 */
export interface StreamStorage {
  /** Start a segment (a file named after `id`, the offset of its first message). */
  roll(id: number): void;
  /** Append one message to the current segment (written at the next flush); returns the bytes it takes. */
  append(offset: number, timestamp: number, chunkStart: boolean, message: Message): number;
  /** Read back the messages of a chunk of segment `id` (written already). */
  read(id: number, chunk: ChunkInfo): Message[];
  /** Delete a segment (retention). */
  drop(id: number): void;
  /** The queue was deleted: remove every file. */
  destroy(): void;
}

interface Chunk extends ChunkInfo {
  segment: number;
  /** Decoded messages, when resident. Undefined = on disk only. */
  messages: Message[] | undefined;
}

interface Seg {
  id: number;
  bytes: number;
  /** Timestamp of its newest chunk. */
  newest: number;
}

/**
 * The append-only log of a stream queue (RabbitMQ streams on a single node). Offsets start at 0 and never repeat.
 *
 * A **chunk** is what Warren appends in one event-loop turn (at most 1 MiB): the batch the file store writes with one
 * `write` and one group commit, as osiris' chunks are the batches a stream writer commits. `x-stream-offset: last`
 * starts at the first message of the last chunk, and a timestamp selects the first chunk started at or after it.
 * A **segment** is a run of whole chunks (a file in the durable store); a new one starts at the next chunk once the
 * current one reaches `x-stream-max-segment-size-bytes`. Retention (x-max-length-bytes, x-max-age) is evaluated when
 * a segment is started and when the stream is opened, and removes whole segments from the head, never the current
 * one, as RabbitMQ does.
 *
 * Without storage every chunk stays in memory. With storage, decoded chunks are cached up to `memoryBytes` (least
 * recently used go first) and read back from disk as consumers reach them; the chunk being written is always resident.
 */
export class StreamLog {
  #settings: StreamSettings;
  readonly #storage: StreamStorage | undefined;
  readonly #memoryBytes: number;
  /** Chunks in offset order; #head is the first retained. */
  #chunks: Chunk[] = [];
  #head = 0;
  #segments: Seg[] = [];
  #end = 0;
  #bytes = 0;
  /** The chunk appends go to, until it is sealed. */
  #open: Chunk | undefined = undefined;
  /** Offsets below this are written (safe to evict from memory). */
  #writtenEnd = 0;
  /** Resident sealed chunks, least recently used first, and their body bytes. */
  readonly #resident = new Set<Chunk>();
  #residentBytes = 0;
  #sealScheduled = false;
  /** Recovered segments are never appended to: the first append of a run starts a new one (as the queue store does). */
  #mustRoll: boolean;
  readonly #seal = (): void => {
    this.#sealScheduled = false;
    this.sealChunk();
  };

  constructor(settings: StreamSettings, storage?: StreamStorage, memoryBytes = Infinity, recovered: SegmentInfo[] = []) {
    this.#settings = settings;
    this.#storage = storage;
    this.#memoryBytes = memoryBytes;
    this.#mustRoll = storage !== undefined;
    for (const s of recovered) {
      if (s.chunks.length === 0) continue;
      this.#segments.push({ id: s.id, bytes: s.bytes, newest: s.chunks[s.chunks.length - 1]!.timestamp });
      this.#bytes += s.bytes;
      for (const c of s.chunks) this.#chunks.push({ ...c, segment: s.id, messages: undefined });
    }
    const last = this.#chunks[this.#chunks.length - 1];
    this.#end = this.#writtenEnd = last === undefined ? 0 : last.first + last.count;
    this.#applyRetention(Date.now());
  }

  /** Offset of the oldest retained message. */
  get first(): number {
    return this.#head < this.#chunks.length ? this.#chunks[this.#head]!.first : this.#end;
  }
  /** Offset the next message will get. */
  get end(): number {
    return this.#end;
  }
  /** Bytes of the retained segments. */
  get byteCount(): number {
    return this.#bytes;
  }
  /** Segments retained (for tests and metrics). */
  get segmentCount(): number {
    return this.#segments.length;
  }
  /** Body bytes of decoded chunks held in memory besides the chunk being written. */
  get residentBytes(): number {
    return this.#residentBytes;
  }

  /** New retention settings (a policy changed): applied at the next segment start. */
  setSettings(settings: StreamSettings): void {
    this.#settings = settings;
  }

  append(message: Message, now: number): void {
    let chunk = this.#open;
    if (chunk !== undefined && chunk.bytes >= MAX_CHUNK_BYTES) {
      this.sealChunk();
      chunk = undefined;
    }
    const offset = this.#end;
    if (chunk === undefined) {
      let seg = this.#segments[this.#segments.length - 1];
      if (seg === undefined || this.#mustRoll || seg.bytes >= this.#settings.maxSegmentBytes) {
        this.#mustRoll = false;
        seg = { id: offset, bytes: 0, newest: now };
        this.#segments.push(seg);
        this.#storage?.roll(offset);
        this.#applyRetention(now);
      }
      const pos = seg.bytes;
      chunk = { first: offset, count: 0, timestamp: now, pos, bytes: 0, segment: seg.id, messages: [] };
      seg.newest = now;
      this.#chunks.push(chunk);
      this.#open = chunk;
      if (this.#storage === undefined && !this.#sealScheduled) {
        // Without a store the chunk is what one event-loop turn appends, as the file store's flush makes it.
        this.#sealScheduled = true;
        setImmediate(this.#seal);
      }
    }
    const n = this.#storage !== undefined
      ? this.#storage.append(offset, chunk.timestamp, chunk.count === 0, message)
      : message.body.length + MEMORY_RECORD_OVERHEAD;
    chunk.messages!.push(message);
    chunk.count++;
    chunk.bytes += n;
    this.#segments[this.#segments.length - 1]!.bytes += n;
    this.#bytes += n;
    this.#end++;
  }

  /** Close the chunk being written; the next append starts a new one (the storage calls this when it flushes). */
  sealChunk(): void {
    const c = this.#open;
    if (c === undefined) return;
    this.#open = undefined;
    if (this.#storage !== undefined) this.#remember(c);
  }

  /** Everything appended so far is written (the storage flushed): chunks may be evicted from memory. */
  markWritten(): void {
    this.#writtenEnd = this.#end;
    this.#evict();
  }

  #remember(c: Chunk): void {
    if (this.#resident.delete(c)) {
      this.#resident.add(c);
      return;
    }
    this.#resident.add(c);
    for (const m of c.messages!) this.#residentBytes += m.body.length + MEMORY_RECORD_OVERHEAD;
    this.#evict();
  }

  #evict(): void {
    if (this.#residentBytes <= this.#memoryBytes) return;
    for (const c of this.#resident) {
      if (this.#residentBytes <= this.#memoryBytes) break;
      if (c.first + c.count > this.#writtenEnd) continue;
      this.#forget(c);
    }
  }

  #forget(c: Chunk): void {
    if (!this.#resident.delete(c)) return;
    for (const m of c.messages!) this.#residentBytes -= m.body.length + MEMORY_RECORD_OVERHEAD;
    c.messages = undefined;
  }

  /** Remove whole segments from the head while the stream is too big or their newest chunk too old. */
  #applyRetention(now: number): void {
    const { maxBytes, maxAge } = this.#settings;
    while (this.#segments.length > 1) {
      const s = this.#segments[0]!;
      const tooBig = maxBytes !== undefined && this.#bytes > maxBytes;
      const tooOld = maxAge !== undefined && s.newest < now - maxAge;
      if (!tooBig && !tooOld) break;
      this.#segments.shift();
      this.#bytes -= s.bytes;
      while (this.#head < this.#chunks.length && this.#chunks[this.#head]!.segment === s.id) {
        const c = this.#chunks[this.#head]!;
        this.#forget(c);
        this.#chunks[this.#head++] = undefined as never;
      }
      this.#storage?.drop(s.id);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Index in #chunks of the chunk holding `offset` (first ≤ offset < end). */
  #chunkIndex(offset: number): number {
    let lo = this.#head;
    let hi = this.#chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#chunks[mid]!.first <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The entry to deliver for `offset` (first ≤ offset < end): the message with its x-stream-offset header. */
  entryAt(offset: number): QueueEntry {
    const c = this.#chunks[this.#chunkIndex(offset)]!;
    let messages = c.messages;
    if (messages === undefined) {
      messages = c.messages = this.#storage!.read(c.segment, c);
      this.#remember(c);
    } else if (c !== this.#open && this.#storage !== undefined) this.#remember(c);
    const m = messages[offset - c.first]!;
    const props = m.properties;
    const message = withProperties(m, { ...props, headers: { ...props.headers, 'x-stream-offset': BigInt(offset) } });
    return { message, seq: offset, expiresAt: 0, priority: 0, redelivered: false, deliveryCount: 1 };
  }

  /**
   * Where a consumer starts, from its x-stream-offset argument: 'first', 'last' (the first message of the last
   * chunk), 'next' (the default), an offset, a timestamp, or an interval such as '1h' (chunks started since then).
   */
  resolve(spec: FieldValue | undefined, now: number): number {
    if (spec === undefined || spec === 'next') return this.#end;
    if (spec === 'first') return this.first;
    if (spec === 'last') return this.#head < this.#chunks.length ? this.#chunks[this.#chunks.length - 1]!.first : this.#end;
    if (typeof spec === 'number' || typeof spec === 'bigint') {
      const n = Number(spec);
      return n < this.first ? this.first : n > this.#end ? this.#end : n;
    }
    let since: number | undefined;
    if (spec instanceof Date) since = spec.getTime();
    else if (typeof spec === 'string') {
      const ms = parseDuration(spec);
      if (ms !== undefined) since = now - ms;
    }
    if (since === undefined) throw new BrokerError('PRECONDITION_FAILED', `invalid x-stream-offset argument`);
    // Chunk timestamps only grow: the first chunk started at or after `since`.
    let lo = this.#head;
    let hi = this.#chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#chunks[mid]!.timestamp < since) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.#chunks.length ? this.#chunks[lo]!.first : this.#end;
  }

  /** The queue was deleted: drop the storage's files. */
  destroy(): void {
    if (this.#sealScheduled) this.#sealScheduled = false;
    this.#storage?.destroy();
  }
}
