/** Test support: a {@link ProtocolIo} that records what the session writes, and a frame reader for it. */
import { PauseReason, type ProtocolIo, type TrafficCounts } from '@warren/transport';
import { StompDecoder, type StompFrame, type StompVersion } from '../index.js';

/** Records writes and pause reasons; decodes the writes on demand. */
export class MemoryIo implements ProtocolIo {
  readonly chunks: Buffer[] = [];
  writable = true;
  overloaded = false;
  ended = false;
  destroyed = false;
  pauseReasons = 0;
  write(buf: Buffer): void {
    if (!this.ended && !this.destroyed) this.chunks.push(buf);
  }
  end(last?: Buffer): void {
    if (this.ended || this.destroyed) return;
    if (last !== undefined) this.chunks.push(last);
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  authenticated(): void {}
  flush(): void {}
  traffic(): TrafficCounts {
    return { recvOct: 0, recvCnt: 0, sendOct: 0, sendCnt: 0, sendPend: 0 };
  }
  /** Stop reading for `reason` (a PauseReason flag). */
  pause(reason: number = PauseReason.Unspecified): void {
    this.pauseReasons |= reason;
  }
  resume(reason: number = PauseReason.Unspecified): void {
    this.pauseReasons &= ~reason;
  }
  /** True while any pause reason holds. */
  get paused(): boolean {
    return this.pauseReasons !== 0;
  }
  /** Every frame written so far (heart-beat EOLs skipped); frames read once are not returned again. */
  readonly #decoder = new StompDecoder({ maxFrameSize: 1 << 30, maxHeaders: 1 << 20, maxHeaderLength: 1 << 30 });
  #read = 0;
  /** Decode what follows with this version's header unescaping. */
  set version(v: StompVersion) {
    this.#decoder.version = v;
  }
  frames(): StompFrame[] {
    const out: StompFrame[] = [];
    while (this.#read < this.chunks.length) this.#decoder.push(this.chunks[this.#read++]!, (f) => void out.push(f));
    return out;
  }
}

/** Build raw frame bytes from text (use `\0` for the NUL). */
export const raw = (text: string): Buffer => Buffer.from(text, 'utf8');
