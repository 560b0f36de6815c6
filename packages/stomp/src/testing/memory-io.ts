/** Test support: a {@link StompIo} that records what the session writes, and a frame reader for it. */
import { StompDecoder, type StompFrame, type StompVersion } from '../index.js';
import type { StompIo } from '../session/io.js';

/** Records writes; decodes them on demand. */
export class MemoryIo implements StompIo {
  readonly chunks: Buffer[] = [];
  writable = true;
  ended = false;
  destroyed = false;
  paused = false;
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
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
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
