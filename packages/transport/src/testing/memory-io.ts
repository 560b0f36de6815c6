/**
 * Test support: a {@link ProtocolIo} over nothing, standing in for {@link ConnectionIo} and its writer in protocol
 * session tests. It records what the session writes and which pause reasons hold; a test sets `writable` (and
 * `overloaded`) to play a client that stops reading. Like the writer, it runs the stall timeout (`stallTimeoutMs`,
 * calling `onStalled`) from a write made while not writable, and setting `writable` back to true is a drain.
 */
import type { ProtocolIo } from '../connection-io.js';
import type { TrafficCounts } from '../peer-info.js';

export class MemoryIo implements ProtocolIo {
  readonly chunks: Buffer[] = [];
  ended = false;
  destroyed = false;
  pauseCalls = 0;
  resumeCalls = 0;
  /** The writer's stall timeout (0 = never) and what it calls. */
  stallTimeoutMs = 0;
  onStalled: (() => void) | undefined;
  #writable = true;
  #overloaded: boolean | undefined;
  #pauseReasons = 0;
  #stallTimer: NodeJS.Timeout | undefined;
  #stallReported = false;

  get writable(): boolean {
    return this.#writable;
  }
  set writable(value: boolean) {
    this.#writable = value;
    if (value) {
      // Drained: the stall clock stops and may run again.
      this.#clearStall();
      this.#stallReported = false;
    }
  }
  /** Unless a test sets it: overloaded as soon as not writable. */
  get overloaded(): boolean {
    return this.#overloaded ?? !this.#writable;
  }
  set overloaded(value: boolean) {
    this.#overloaded = value;
  }
  /** True while any pause reason holds. */
  get paused(): boolean {
    return this.#pauseReasons !== 0;
  }
  get pauseReasons(): number {
    return this.#pauseReasons;
  }

  write(buf: Buffer): void {
    if (this.ended || this.destroyed) return;
    this.chunks.push(buf);
    if (!this.#writable && this.stallTimeoutMs > 0 && this.#stallTimer === undefined && !this.#stallReported) {
      this.#stallTimer = setTimeout(() => {
        this.#stallTimer = undefined;
        if (this.#writable || this.ended || this.destroyed) return;
        this.#stallReported = true;
        this.onStalled?.();
      }, this.stallTimeoutMs);
    }
  }
  end(last?: Buffer): void {
    if (this.ended || this.destroyed) return;
    if (last !== undefined) this.chunks.push(last);
    this.ended = true;
    this.#clearStall();
  }
  destroy(): void {
    this.destroyed = true;
    this.#clearStall();
  }
  authenticated(): void {}
  flush(): void {}
  traffic(): TrafficCounts {
    return { recvOct: 0, recvCnt: 0, sendOct: 0, sendCnt: 0, sendPend: 0 };
  }
  pause(reason: number): void {
    this.#pauseReasons |= reason;
    this.pauseCalls++;
  }
  resume(reason: number): void {
    this.#pauseReasons &= ~reason;
    this.resumeCalls++;
  }
  /** Everything written so far, as one buffer. */
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  #clearStall(): void {
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }
}
