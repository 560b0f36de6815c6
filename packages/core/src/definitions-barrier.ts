/**
 * The definitions barrier of one connection: a reply to a durable declare (AMQP declare-ok, STOMP RECEIPT, MQTT
 * SUBACK) is sent only once the definitions it changed are on disk ({@link BrokerApi.flushDefinitions}), and what
 * the client sent after it is handled only after that reply, so replies keep their order. Every adapter needs the
 * same bookkeeping; this class is it, protocol-neutral: the adapter tells it how to stop and restart reading, how to
 * write, and how to handle what it read meanwhile.
 *
 * While any wait is pending:
 * - reading is paused (`pause` hook, called when the first wait begins);
 * - output meant to follow the waited-for reply is held here ({@link DefinitionsBarrier.hold}, or a capture);
 * - the adapter keeps the frames it has already read in its own backlog (it checks {@link DefinitionsBarrier.waiting}).
 *
 * When the last wait ends: the held output is written in order (`write`), the adapter replays its backlog
 * (`replay`, which may start new waits), and, if no new wait began, reading resumes (`resume`). With a set of pause
 * reasons in the transport, `resume` lifts only the barrier's reason: a resource alarm that stopped a publisher
 * meanwhile keeps it stopped.
 *
 * Idle connections pay nothing until their first wait if the adapter creates its barrier lazily.
 */
import type { BrokerApi } from './contract.js';

/** What a {@link DefinitionsBarrier} asks of its connection. */
export interface DefinitionsBarrierHooks {
  /** The first wait began: stop reading (the adapter pauses for its "definitions" reason). */
  pause(): void;
  /** Every wait ended, the held output is written and the backlog replayed without a new wait: read again. */
  resume(): void;
  /** Write one held buffer; held buffers come in the order they were held. */
  write(buf: Buffer): void;
  /** Every wait ended and the held output is written: handle the frames read meanwhile (may start new waits). */
  replay(): void;
  /** A waited-for promise rejected (the definitions could not be written): the adapter fails the connection. */
  failed(err: unknown): void;
}

/** Holds replies, and the frames read after them, until the durable definitions are on disk. */
export class DefinitionsBarrier {
  readonly #hooks: DefinitionsBarrierHooks;
  #pending = 0;
  #held: Buffer[] | undefined;
  #capture: Buffer[] | undefined;
  #closed = false;
  readonly #leaveBound = (): void => this.leave();
  readonly #failedBound = (err: unknown): void => {
    if (!this.#closed) this.#hooks.failed(err);
  };

  constructor(hooks: DefinitionsBarrierHooks) {
    this.#hooks = hooks;
  }

  /** True while a wait is pending: frames read now must wait in the adapter's backlog. */
  get waiting(): boolean {
    return this.#pending > 0;
  }

  /** Number of waits pending. */
  get pending(): number {
    return this.#pending;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Hold `buf` until every current wait has ended (written at once when none is pending). */
  hold(buf: Buffer): void {
    if (this.#closed) return;
    if (this.#pending === 0) {
      this.#hooks.write(buf);
      return;
    }
    (this.#held ??= []).push(buf);
  }

  /**
   * One more wait, ended when `done` settles (a definitions flush; an external auth backend's answer). `replies`
   * are held behind everything held before and released when every wait has ended. A rejection calls `failed`.
   */
  holdUntil(done: PromiseLike<unknown>, replies?: Buffer | readonly Buffer[]): void {
    if (this.#closed) return;
    if (replies !== undefined) {
      const held = (this.#held ??= []);
      if (Buffer.isBuffer(replies)) held.push(replies);
      else for (const r of replies) held.push(r);
    }
    this.enter();
    done.then(this.#leaveBound, this.#failedBound);
  }

  /**
   * Wait for the definitions `broker` changed so far: {@link holdUntil} on its flush (at once when the broker keeps
   * nothing durable).
   */
  holdUntilDurable(broker: Pick<BrokerApi, 'flushDefinitions'>, replies?: Buffer | readonly Buffer[]): void {
    this.holdUntil(broker.flushDefinitions?.() ?? Promise.resolve(), replies);
  }

  /** One more wait that the adapter ends itself with {@link leave} (the slices of a huge SUBSCRIBE). */
  enter(): void {
    if (this.#closed) return;
    if (this.#pending++ === 0) this.#hooks.pause();
  }

  /** End one wait; after the last: write what is held, replay the backlog, and resume reading unless a wait began. */
  leave(): void {
    if (this.#closed || this.#pending === 0) return;
    if (--this.#pending > 0) return;
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) for (const b of held) this.#hooks.write(b);
    if (this.#closed) return;
    this.#hooks.replay();
    if (this.#pending === 0 && !this.#closed) this.#hooks.resume();
  }

  /**
   * Yield the rest of this event-loop turn: the connection stops reading, and what it already read waits in its
   * backlog until the next turn (after a slice's worth of expensive frames, so one client cannot hold the loop).
   */
  yieldTurn(): void {
    if (this.#closed) return;
    this.enter();
    setImmediate(this.#leaveBound);
  }

  /** True between {@link beginCapture} and {@link endCapture}. */
  get capturing(): boolean {
    return this.#capture !== undefined;
  }

  /**
   * Collect the output of the frame about to be handled (the adapter routes its writes to {@link capture} while
   * {@link capturing}), so that it can be held if the frame turns out to have changed durable definitions.
   */
  beginCapture(): void {
    this.#capture ??= [];
  }

  /** Add one buffer to the current capture. */
  capture(buf: Buffer): void {
    (this.#capture ??= []).push(buf);
  }

  /**
   * End the capture. With `done` (the frame changed durable definitions) the captured output is held until it
   * settles; without, it is held behind any current wait, or written now when none is pending.
   */
  endCapture(done?: PromiseLike<unknown>): void {
    const captured = this.#capture;
    this.#capture = undefined;
    if (this.#closed) return;
    if (done !== undefined) {
      this.holdUntil(done, captured);
      return;
    }
    if (captured === undefined) return;
    for (const b of captured) this.hold(b);
  }

  /** Drop the held output (a connection closing must not send replies after its close). Waits stay pending. */
  dropHeld(): void {
    this.#held = undefined;
  }

  /** The connection closed: drop everything; later waits and releases do nothing. */
  close(): void {
    this.#closed = true;
    this.#held = undefined;
    this.#capture = undefined;
  }
}
