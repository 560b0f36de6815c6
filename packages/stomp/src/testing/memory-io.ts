/** Test support: an in-memory I/O that records what the session writes, and a frame reader for it. */
import { MemoryIo as TransportMemoryIo } from '@warren/transport/testing';
import { StompDecoder, type StompFrame, type StompVersion } from '../index.js';

/** The transport's in-memory I/O, which also decodes what was written into STOMP frames. */
export class MemoryIo extends TransportMemoryIo {
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
