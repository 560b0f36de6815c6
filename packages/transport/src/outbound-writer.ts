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
 */
export class OutboundWriter {
  readonly #stream: OutboundStream & StreamExtras;
  readonly #highWaterMark: number;
  readonly #lowWaterMark: number;
  readonly #maxBatchBytes: number;
  readonly #stallTimeoutMs: number;
  readonly #onStalled: (() => void) | undefined;

  /** Reused: emptied in place after each write to the stream. */
  readonly #batch: Buffer[] = [];
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
  readonly #drainCallbacks: Array<() => void> = [];
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
    stream.on('drain', this.#onStreamDrain);
    stream.on('close', this.#onStreamClose);
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
    return !this.#closed && this.pendingBytes < this.#highWaterMark;
  }

  /** Queue `buf` for writing. Never throws; dropped silently once the writer is ended or destroyed. */
  write(buf: Buffer): void {
    if (this.#closed || buf.length === 0) return;
    this.#batch.push(buf);
    this.#batchBytes += buf.length;
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
    this.#drainCallbacks.push(callback);
  }

  /** Write the current batch now (unless the stream asked us to wait for 'drain'). */
  flush(): void {
    this.#scheduled = false;
    if (this.#closed || this.#stalled || this.#batchBytes === 0) return;
    const data = this.#takeBatch();
    let ok: boolean;
    try {
      ok = this.#stream.write(data);
    } catch {
      // A stream that throws on write (already destroyed) is treated as closed.
      this.#markClosed();
      return;
    }
    if (!ok) this.#stalled = true;
    this.#checkDrain();
  }

  /**
   * Flush everything (plus `last`), then half-close the stream; destroy it after `graceMs` if the peer has not
   * closed by then. Later writes are dropped.
   */
  end(last?: Buffer, graceMs: number = DEFAULT_END_GRACE_MS): void {
    if (this.#closed) return;
    if (last !== undefined && last.length > 0) {
      this.#batch.push(last);
      this.#batchBytes += last.length;
    }
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
    const batch = this.#batch;
    const data = batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, this.#batchBytes);
    // pop() keeps the array's backing store (length = 0 would drop it, and the next write allocate another).
    while (batch.length > 0) batch.pop();
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
    if (this.#closed || !this.#overHighWater) return;
    // Drained under the high-water mark but not yet under the low one: the client reads, slowly. The next write
    // that reaches the mark starts another wait.
    if (this.pendingBytes < this.#highWaterMark) return;
    this.#stallReported = true;
    this.#onStalled?.();
  }

  #checkDrain(): void {
    if (!this.#overHighWater || this.#closed) return;
    if (this.pendingBytes >= this.#lowWaterMark) return;
    this.#overHighWater = false;
    this.#stallReported = false;
    this.#clearStallTimer();
    for (const callback of this.#drainCallbacks) callback();
  }

  #markClosed(): void {
    this.#closed = true;
    this.#clearStallTimer();
    this.#batch.length = 0;
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

  readonly #onStreamDrain = (): void => {
    this.#stalled = false;
    // flush() re-checks the drain condition; with nothing batched check it directly.
    if (this.#batchBytes > 0) this.flush();
    else this.#checkDrain();
  };

  readonly #onStreamClose = (): void => {
    this.#markClosed();
    if (this.#graceTimer !== undefined) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
  };
}
