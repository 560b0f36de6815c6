/**
 * The outbound writer: one per connection. Protocol state machines append encoded frames here, never to the socket
 * (DESIGN.md §1). Frames appended during one event-loop turn go to the socket as one write; the writer counts what is
 * still pending (its own batch plus the socket's buffer) so the adapter can stop delivering to a slow client.
 */

/** The writable side the writer feeds: a net/tls socket, or any Writable in tests. */
export type OutboundStream = NodeJS.WritableStream & { writableLength: number };

/** Tuning of an {@link OutboundWriter}; every field has a default. */
export interface OutboundWriterOptions {
  /** `writable` becomes false once pending bytes reach this. Default 1 MiB. */
  highWaterMark?: number;
  /** After going over the high-water mark, drain callbacks fire once pending bytes fall below this. Default 256 KiB. */
  lowWaterMark?: number;
  /** A batch this large is written at once instead of waiting for the end of the tick. Default 64 KiB. */
  maxBatchBytes?: number;
  /**
   * A client whose output stays at or over the high-water mark this long without draining below the low-water mark
   * is not reading (a slow consumer): {@link onStalled} is called. 0 or absent: never.
   */
  stallTimeoutMs?: number;
  /**
   * Called once when the stall timeout passes; called again only after the writer drained and stalled anew. The
   * owner typically closes the connection, which requeues its unacknowledged messages (DESIGN.md §5).
   */
  onStalled?: () => void;
}

/** Default {@link OutboundWriterOptions.highWaterMark}: 1 MiB. */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** Default {@link OutboundWriterOptions.lowWaterMark}: 256 KiB. */
export const DEFAULT_LOW_WATER_MARK = 256 * 1024;
/** Default {@link OutboundWriterOptions.maxBatchBytes}: 64 KiB. */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024;
/** Default grace period of {@link OutboundWriter.end} before the stream is destroyed. */
export const DEFAULT_END_GRACE_MS = 1000;
/**
 * The slow-consumer timeout every adapter uses by default ({@link OutboundWriterOptions.stallTimeoutMs}): a minute,
 * as RabbitMQ's TCP send timeout gives up on a client that does not read.
 */
export const DEFAULT_SLOW_CONSUMER_TIMEOUT_MS = 60_000;

/**
 * What the writer tells its owner about (a protocol session, set with {@link OutboundWriter.setHost}): an object with
 * methods rather than closures, so that a writer costs no closure per connection.
 */
export interface WriterHost {
  /** The writer drained below its low-water mark after going over the high-water mark. */
  onWritable(): void;
  /** The output stayed over the high-water mark for the stall timeout (see {@link OutboundWriterOptions.onStalled}). */
  onStalled?(): void;
}

/**
 * What writers have made since the process started: how many writers, and how many of them needed a 'drain'
 * listener or a batch array (see {@link OutboundWriter.counters}).
 */
export interface OutboundWriterCounters {
  created: number;
  drainListeners: number;
  batchArrays: number;
}

const counters: OutboundWriterCounters = { created: 0, drainListeners: 0, batchArrays: 0 };

/** The writer of a stream, for the shared 'drain' listener. */
const WRITER = Symbol('warren.transport.writer');

/** The optional parts of a Node stream the writer uses when present (sockets and Writables have them). */
interface StreamExtras {
  destroyed?: boolean;
  writableEnded?: boolean;
  destroy?: (err?: Error) => void;
}

/**
 * Batches writes to one stream, counts pending bytes and applies backpressure.
 *
 * - Every `write` appends to a batch; the batch goes out as a single `stream.write` at the end of the current
 *   event-loop turn (`setImmediate`, so frames produced by several socket reads in one poll phase coalesce), or at
 *   once when it reaches `maxBatchBytes`.
 * - When `stream.write` returns false the writer stops writing and keeps batching until the stream emits 'drain'
 *   (Node's backpressure contract), so the socket's own buffer stays bounded.
 * - `writable` is false while `pendingBytes` ≥ `highWaterMark`; once it falls below `lowWaterMark` again every
 *   `onDrain` callback runs. The two marks give hysteresis so a consumer is not flipped on and off per frame.
 * - It never throws: after `end()`, `destroy()` or the stream closing, writes are dropped silently.
 *
 * - With `stallTimeoutMs`, a writer that went over the high-water mark and has not drained below the low-water mark
 *   when the timeout passes (and is still at or over the high-water mark then) calls `onStalled` once.
 *
 * Leaving the over-high-water state is detected on the stream's 'drain' event, so the stream's own highWaterMark
 * must be below the writer's (true for sockets: 16 KiB against 1 MiB).
 *
 * An idle connection keeps its writer for its whole life, so the writer holds no closure and no array until it needs
 * one: the 'drain' listener (a function shared by all writers) is added at the first write the stream refuses, the
 * stream closing is noticed through `stream.destroyed` rather than a 'close' listener, a batch of one buffer needs
 * no array, and the owner is told about drains and stalls through its {@link WriterHost} methods.
 */
export class OutboundWriter {
  readonly #stream: OutboundStream & StreamExtras;
  readonly #highWaterMark: number;
  readonly #lowWaterMark: number;
  readonly #maxBatchBytes: number;
  #stallTimeoutMs: number;
  readonly #onStalled: (() => void) | undefined;
  #host: WriterHost | undefined;

  /** The batch's first buffer (a batch of one needs no array). */
  #first: Buffer | undefined;
  /** The whole batch once it has two buffers or more: made at the first such batch, then reused (emptied in place). */
  #rest: Buffer[] | undefined;
  #batchBytes = 0;
  /** Listed in {@link OutboundWriter.#due} for the end of this turn. */
  #scheduled = false;
  /** The stream's last write returned false and 'drain' has not come yet. */
  #stalled = false;
  /** Went over the high-water mark; drain callbacks are owed once below the low-water mark. */
  #overHighWater = false;
  /** end() or destroy() was called, or the stream closed: nothing more is written. */
  #closed = false;
  #graceTimer: NodeJS.Timeout | undefined;
  /** Runs while over the high-water mark (with a stall timeout set). */
  #stallTimer: NodeJS.Timeout | undefined;
  /** onStalled was called; not again until a drain. */
  #stallReported = false;
  /** Made by the first {@link onDrain}. */
  #drainCallbacks: Array<() => void> | undefined;
  /** The shared 'drain' listener is on the stream (added at the first refused write). */
  #drainListening = false;
  #sentBytes = 0;
  #sentBatches = 0;

  /**
   * @param stream The destination, typically the connection's socket.
   * @param options Water marks and batch size; see {@link OutboundWriterOptions}.
   */
  constructor(stream: OutboundStream, options: OutboundWriterOptions = {}) {
    this.#stream = stream;
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#lowWaterMark = Math.min(options.lowWaterMark ?? DEFAULT_LOW_WATER_MARK, this.#highWaterMark);
    this.#maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.#stallTimeoutMs = options.onStalled !== undefined ? (options.stallTimeoutMs ?? 0) : 0;
    this.#onStalled = options.onStalled;
    this.#stallOptionMs = options.stallTimeoutMs ?? 0;
    counters.created++;
  }

  /**
   * A copy of the process-wide {@link OutboundWriterCounters}, for tests and diagnostics: an idle connection's writer
   * should have made neither a 'drain' listener nor a batch array.
   */
  static counters(): OutboundWriterCounters {
    return { ...counters };
  }

  /** `stallTimeoutMs` as given (used once a host with `onStalled` is set). */
  readonly #stallOptionMs: number;

  /**
   * Tell `host` about drains (after the {@link onDrain} callbacks) and, with a `stallTimeoutMs` in the options, about
   * stalls (unless the options have their own `onStalled`).
   */
  setHost(host: WriterHost): void {
    this.#host = host;
    if (this.#onStalled === undefined && host.onStalled !== undefined) this.#stallTimeoutMs = this.#stallOptionMs;
  }

  /** The stream was closed under the writer (checked instead of listening for 'close'). */
  get #streamGone(): boolean {
    return this.#stream.destroyed === true;
  }

  /** Bytes not yet handed to the kernel: the current batch plus the stream's own buffer. */
  get pendingBytes(): number {
    const streamBytes = this.#stream.writableLength;
    return this.#batchBytes + (typeof streamBytes === 'number' ? streamBytes : 0);
  }

  /** Pending bytes at which {@link writable} becomes false. */
  get highWaterMark(): number {
    return this.#highWaterMark;
  }

  /** Bytes handed to the stream so far. */
  get sentBytes(): number {
    return this.#sentBytes;
  }

  /** Writes made to the stream so far (one per batch). */
  get sentBatches(): number {
    return this.#sentBatches;
  }

  /** False while {@link pendingBytes} is at or above the high-water mark (or after the writer closed). */
  get writable(): boolean {
    return !this.#closed && !this.#streamGone && this.pendingBytes < this.#highWaterMark;
  }

  /** Queue `buf` for writing. Never throws; dropped silently once the writer is ended or destroyed. */
  write(buf: Buffer): void {
    if (this.#closed || buf.length === 0) return;
    if (this.#streamGone) {
      this.#markClosed();
      return;
    }
    this.#append(buf);
    if (!this.#overHighWater) {
      if (this.pendingBytes >= this.#highWaterMark) {
        this.#overHighWater = true;
        if (this.#stallTimeoutMs > 0) this.#armStallTimer();
      }
    } else if (this.#stallTimer === undefined && this.#stallTimeoutMs > 0 && !this.#stallReported &&
        this.pendingBytes >= this.#highWaterMark) {
      // The last timer found the output just under the mark; over it again, the wait starts anew.
      this.#armStallTimer();
    }
    if (this.#batchBytes >= this.#maxBatchBytes) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      OutboundWriter.#due.push(this);
      OutboundWriter.#dueImmediate ??= setImmediate(OutboundWriter.#flushDue);
    }
  }

  /**
   * Register a callback that runs each time the writer goes from not writable (at or above the high-water mark) to
   * below the low-water mark.
   */
  onDrain(callback: () => void): void {
    (this.#drainCallbacks ??= []).push(callback);
  }

  #append(buf: Buffer): void {
    if (this.#batchBytes === 0) {
      this.#first = buf;
    } else {
      let rest = this.#rest;
      if (rest === undefined) {
        rest = this.#rest = [];
        counters.batchArrays++;
      }
      if (rest.length === 0) rest.push(this.#first as Buffer);
      rest.push(buf);
    }
    this.#batchBytes += buf.length;
  }

  /** Write the current batch now (unless the stream asked us to wait for 'drain'). */
  flush(): void {
    this.#scheduled = false;
    if (this.#closed || this.#stalled || this.#batchBytes === 0) return;
    if (this.#streamGone) {
      this.#markClosed();
      return;
    }
    const data = this.#takeBatch();
    let ok: boolean;
    try {
      ok = this.#stream.write(data);
    } catch {
      // A stream that throws on write (already destroyed) is treated as closed.
      this.#markClosed();
      return;
    }
    if (!ok) {
      this.#stalled = true;
      if (!this.#drainListening) {
        this.#drainListening = true;
        counters.drainListeners++;
        (this.#stream as OutboundStream & { [WRITER]?: OutboundWriter })[WRITER] = this;
        this.#stream.on('drain', onStreamDrain);
      }
    }
    this.#checkDrain();
  }

  /**
   * Flush everything (plus `last`), then half-close the stream; destroy it after `graceMs` if the peer has not
   * closed by then. Later writes are dropped.
   */
  end(last?: Buffer, graceMs: number = DEFAULT_END_GRACE_MS): void {
    if (this.#closed) return;
    if (last !== undefined && last.length > 0) this.#append(last);
    this.#scheduled = false;
    const data = this.#batchBytes > 0 ? this.#takeBatch() : undefined;
    this.#closed = true;
    this.#clearStallTimer();
    const stream = this.#stream;
    try {
      // Even when stalled, the final bytes are handed to the stream: end() flushes its buffer before the FIN.
      if (data !== undefined) stream.end(data);
      else stream.end();
    } catch {
      this.destroy();
      return;
    }
    if (stream.destroyed === true) return;
    // Fires after the stream closed on its own too (the writer does not listen for 'close'): it then does nothing.
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      if (stream.destroyed !== true) stream.destroy?.();
    }, graceMs);
    // The grace timer alone must not keep a process alive.
    this.#graceTimer.unref();
  }

  /** Drop whatever is batched and destroy the stream at once. */
  destroy(): void {
    this.#markClosed();
    if (this.#stream.destroyed !== true) this.#stream.destroy?.();
  }

  #takeBatch(): Buffer {
    // Counted per batch, not per frame (management's send_oct / send_cnt).
    this.#sentBytes += this.#batchBytes;
    this.#sentBatches++;
    const first = this.#first as Buffer;
    const rest = this.#rest;
    let data = first;
    if (rest !== undefined && rest.length > 0) {
      data = Buffer.concat(rest, this.#batchBytes);
      // pop() keeps the array's backing store (length = 0 would drop it, and the next write allocate another).
      while (rest.length > 0) rest.pop();
    }
    this.#first = undefined;
    this.#batchBytes = 0;
    return data;
  }

  #armStallTimer(): void {
    // A closure per stall, not per writer: most writers never stall.
    this.#stallTimer = setTimeout(() => this.#stallTimeout(), this.#stallTimeoutMs);
    // A slow client alone must not keep a process alive.
    this.#stallTimer.unref();
  }

  #clearStallTimer(): void {
    if (this.#stallTimer === undefined) return;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  #stallTimeout(): void {
    this.#stallTimer = undefined;
    if (this.#closed || !this.#overHighWater || this.#streamGone) return;
    // Drained under the high-water mark but not yet under the low one: the client reads, slowly. The next write
    // that reaches the mark starts another wait.
    if (this.pendingBytes < this.#highWaterMark) return;
    this.#stallReported = true;
    if (this.#onStalled !== undefined) this.#onStalled();
    else this.#host?.onStalled?.();
  }

  #checkDrain(): void {
    if (!this.#overHighWater || this.#closed) return;
    if (this.pendingBytes >= this.#lowWaterMark) return;
    this.#overHighWater = false;
    this.#stallReported = false;
    this.#clearStallTimer();
    const callbacks = this.#drainCallbacks;
    if (callbacks !== undefined) for (const callback of callbacks) callback();
    this.#host?.onWritable();
  }

  #markClosed(): void {
    this.#closed = true;
    this.#clearStallTimer();
    this.#first = undefined;
    if (this.#rest !== undefined) this.#rest.length = 0;
    this.#batchBytes = 0;
    this.#scheduled = false;
  }

  /**
   * Writers with a batch for the end of this event-loop turn, and the one setImmediate that sends them all: one
   * Immediate per turn for the process instead of one per connection written to (a turn of fan-in writes a PUBACK
   * to every device that published).
   */
  static readonly #due: OutboundWriter[] = [];
  static #dueImmediate: NodeJS.Immediate | undefined;
  static readonly #flushDue = (): void => {
    OutboundWriter.#dueImmediate = undefined;
    const due = OutboundWriter.#due;
    // A flush can run drain callbacks that write to other writers, which join the list and are flushed here too. A
    // writer flushed or closed since it was listed has #scheduled false and is skipped.
    for (let i = 0; i < due.length; i++) {
      const w = due[i] as OutboundWriter;
      if (w.#scheduled) w.flush();
    }
    while (due.length > 0) due.pop();
  };

  /** The stream drained its own buffer (the shared listener calls this). */
  static streamDrained(writer: OutboundWriter): void {
    writer.#stalled = false;
    // flush() re-checks the drain condition; with nothing batched check it directly.
    if (writer.#batchBytes > 0) writer.flush();
    else writer.#checkDrain();
  }
}

/** The 'drain' listener of every writer's stream: one function, which finds the writer through {@link WRITER}. */
function onStreamDrain(this: OutboundStream & { [WRITER]?: OutboundWriter }): void {
  const writer = this[WRITER];
  if (writer !== undefined) OutboundWriter.streamDrained(writer);
}
