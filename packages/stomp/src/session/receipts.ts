/**
 * RECEIPT frames in frame order. A RECEIPT for a SEND waits for the publish confirm (for a persistent message, the
 * disk), and a later frame's RECEIPT may not overtake it; receipts of frames with nothing to wait for go out at once
 * when nothing waits before them.
 */
import { encodeFrame } from '../codec/encoder.js';
import type { SessionContext } from './session-context.js';

/** A receipt waiting for earlier publishes to be confirmed. */
interface PendingReceipt {
  /** Publish sequence it waits for; 0 when it waits only for the entries before it. */
  readonly seq: number;
  readonly receipt: string | undefined;
  done: boolean;
}

/** The receipts of one connection. */
export class Receipts {
  readonly #ctx: SessionContext;
  readonly #pending: PendingReceipt[] = [];
  #seq = 0;
  /** While a COMMIT runs its actions, the receipts of its SENDs wait until its messages are written. */
  hold = false;

  constructor(ctx: SessionContext) {
    this.#ctx = ctx;
  }

  /** Receipts (or tracked publishes) not sent yet. */
  get waiting(): number {
    return this.#pending.length;
  }

  /** Send a RECEIPT once every earlier tracked publish is confirmed. */
  receipt(receipt: string): void {
    if (this.#pending.length === 0) {
      this.#ctx.write(encodeFrame('RECEIPT', [['receipt-id', receipt]], undefined, this.#ctx.version));
      return;
    }
    this.#pending.push({ seq: 0, receipt, done: true });
  }

  /** Track a publish (with its RECEIPT, if any): returns the sequence its confirm will carry. */
  track(receipt: string | undefined): number {
    const seq = ++this.#seq;
    this.#pending.push({ seq, receipt, done: false });
    return seq;
  }

  /** The publish `sequence` is confirmed. */
  confirmed(sequence: number): void {
    for (const p of this.#pending) {
      if (p.seq === sequence) {
        p.done = true;
        break;
      }
    }
  }

  /** Send the receipts whose waits are over, in order; end a DISCONNECTing connection once none is left. */
  flush(): void {
    const ctx = this.#ctx;
    // While a frame's replies wait for the definitions fsync, no receipt may overtake them (a RECEIPT for a SEND to a
    // just-declared durable queue means the queue is on disk too).
    if (ctx.barrier.waiting || this.hold) return;
    const pending = this.#pending;
    let n = 0;
    while (n < pending.length && pending[n]!.done) {
      const r = pending[n]!.receipt;
      if (r !== undefined) ctx.write(encodeFrame('RECEIPT', [['receipt-id', r]], undefined, ctx.version));
      n++;
    }
    if (n > 0) pending.splice(0, n);
    if (pending.length === 0 && ctx.disconnecting) ctx.endGracefully();
  }

  /** Forget everything (teardown). */
  clear(): void {
    this.#pending.length = 0;
  }
}
