/**
 * A resumable scanner of MQTT fixed headers (MQTT 5 §2.1.1, 3.1.1 §2.2): it walks packet boundaries in the byte
 * stream without copying, so a packet's size is known — and refused — before mqtt-packet buffers it.
 *
 *   packet := header-byte remaining-length(1-4 bytes, 7 bits each, high bit = more) body(remaining-length bytes)
 */

/** The scanner's verdict on a chunk. */
export type ScanResult =
  | { ok: true }
  | { ok: false; reason: 'too-large'; size: number; packetType: number }
  | { ok: false; reason: 'malformed-length' };

const enum State {
  Header,
  Length,
  Body,
}

/** Tracks packet boundaries across chunks; feed it every chunk before the parser. */
export class PacketScanner {
  #state = State.Header;
  #type = 0;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #remaining = 0;
  /** Largest whole packet (fixed header included) accepted; changes after CONNECT. */
  maxPacketSize: number;

  constructor(maxPacketSize: number) {
    this.maxPacketSize = maxPacketSize;
  }

  /** True between packets (no packet partly read). */
  get atBoundary(): boolean {
    return this.#state === State.Header;
  }

  /** The type (high nibble) of the first byte of the packet being read. */
  get packetType(): number {
    return this.#type;
  }

  scan(chunk: Uint8Array): ScanResult {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.#state) {
        case State.Header:
          this.#type = (chunk[i] as number) >> 4;
          this.#length = 0;
          this.#multiplier = 1;
          this.#lengthBytes = 0;
          this.#state = State.Length;
          i++;
          break;
        case State.Length: {
          const b = chunk[i] as number;
          i++;
          this.#length += (b & 0x7f) * this.#multiplier;
          this.#multiplier *= 128;
          this.#lengthBytes++;
          if ((b & 0x80) !== 0) {
            // At most four length bytes (MQTT 5 §1.5.5).
            if (this.#lengthBytes >= 4) return { ok: false, reason: 'malformed-length' };
            break;
          }
          const size = 1 + this.#lengthBytes + this.#length;
          if (size > this.maxPacketSize) return { ok: false, reason: 'too-large', size, packetType: this.#type };
          this.#remaining = this.#length;
          this.#state = this.#remaining === 0 ? State.Header : State.Body;
          break;
        }
        case State.Body: {
          const take = Math.min(this.#remaining, n - i);
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.Header;
          break;
        }
      }
    }
    return { ok: true };
  }
}
