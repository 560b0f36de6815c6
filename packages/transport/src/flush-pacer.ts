/**
 * The output pacer: bounds how long a connection's batched output waits for the end of the event-loop turn when
 * one turn handles many reads (fan-in). {@link serveStream}'s `afterRead` hook is where an adapter calls it.
 */

/**
 * Bounds how long output waits for the end of the event-loop turn. The outbound writer sends each connection's
 * batch once per turn (setImmediate), which is right for throughput, but a turn that reads hundreds of sockets (fan-in:
 * many devices publishing at once) would hold the first delivery until every read of the turn is handled, ~35 µs
 * each. After each read, connections written to more than {@link FLUSH_AFTER_MS} ago in this turn are flushed.
 */
export const FLUSH_AFTER_MS = 0.1;

/** Something with a batch to flush (a connection's {@link ConnectionIo}). */
export interface Flushable {
  flush(): void;
  /** The pacer's mark: the batch this was last listed in (starts at 0). */
  pacerMark: number;
}

/** The {@link FLUSH_AFTER_MS} bookkeeping: what was written to since the oldest write still batched this turn. */
export class FlushPacer<T extends Flushable = Flushable> {
  /**
   * Written to since {@link #since}: [0, #n), each listed once (its mark is {@link #batch}). An array and a mark
   * rather than a Set, whose clear() every turn allocates a new table.
   */
  readonly #dirty: Array<T | undefined> = [];
  #n = 0;
  #batch = 0;
  readonly #now: () => number;
  readonly #afterMs: number;
  #since = 0;
  /** Reads handled since the oldest batched write. */
  #reads = 0;
  readonly #clear = (): void => {
    this.#dirty.fill(undefined, 0, this.#n);
    this.#n = 0;
  };

  /** @param now Clock in ms (tests pass their own). @param afterMs Flush once the oldest batched write is this old. */
  constructor(now: () => number = () => performance.now(), afterMs: number = FLUSH_AFTER_MS) {
    this.#now = now;
    this.#afterMs = afterMs;
  }

  /** `io` batched a write. */
  written(io: T): void {
    if (this.#n === 0) {
      this.#since = this.#now();
      this.#reads = 0;
      this.#batch++;
      // By the end of this turn every writer has flushed on its own.
      setImmediate(this.#clear);
    }
    if (io.pacerMark === this.#batch) return;
    io.pacerMark = this.#batch;
    this.#dirty[this.#n++] = io;
  }

  /**
   * A read was handled: flush everything batched if the oldest write has waited long enough while other reads were
   * handled. A turn with a single read (one busy publisher) keeps its one batch per turn, which throughput needs.
   */
  afterRead(): void {
    if (this.#n === 0 || ++this.#reads < 2 || this.#now() - this.#since < this.#afterMs) return;
    const dirty = this.#dirty;
    // A flush can run drain callbacks that write (and list more writers): those are flushed too.
    for (let i = 0; i < this.#n; i++) {
      const io = dirty[i] as T;
      dirty[i] = undefined;
      io.flush();
    }
    this.#n = 0;
  }
}
