/**
 * Long JSON answers written in pieces. `GET /api/queues` over 10,000 queues is 8.7 MB of JSON: built as one object
 * tree, stringified and then copied into a Buffer in one go, it held the event loop for hundreds of ms, which stalls
 * every AMQP connection of the broker for as long. A {@link JsonStream} instead produces its text piece by piece (one
 * list item at a time) and is sent as chunks of about {@link JSON_CHUNK_BYTES}, with a turn of the event loop
 * (setImmediate) between chunks, as the Prometheus exporter does. The text is the same as `JSON.stringify` of the
 * whole answer would be.
 */
import { Readable } from 'node:stream';

/** Bytes collected before a chunk is handed to the response (and the event loop gets a turn). */
export const JSON_CHUNK_BYTES = 64 * 1024;
/** Room past JSON_CHUNK_BYTES, so the piece that crosses it (one list item) usually still fits. */
const CHUNK_SLACK = 16 * 1024;

/** A JSON answer as a lazy sequence of text pieces whose concatenation is the whole document. */
export class JsonStream {
  readonly #pieces: () => Iterable<string>;

  /** `pieces` is called once, when the answer is sent; items are formatted as the iteration reaches them. */
  constructor(pieces: () => Iterable<string>) {
    this.#pieces = pieces;
  }

  /** The pieces, in order. */
  pieces(): Iterable<string> {
    return this.#pieces();
  }

  /** The whole document as one string (tests, and answers too small to be worth streaming). */
  text(): string {
    let out = '';
    for (const p of this.#pieces()) out += p;
    return out;
  }

  /** A readable of chunks of about {@link JSON_CHUNK_BYTES}, yielding to the event loop between chunks. */
  readable(): Readable {
    return Readable.from(chunks(this.#pieces()), { highWaterMark: 1 });
  }
}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Chunks as UTF-8 Buffers, each piece encoded straight into the chunk's buffer: concatenating the pieces into one
 * string and encoding that costs twice as much (the rope must be flattened first), and a string chunk would be
 * measured by http and encoded again by the socket or zlib.
 */
async function* chunks(pieces: Iterable<string>): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(JSON_CHUNK_BYTES + CHUNK_SLACK);
  let used = 0;
  for (const p of pieces) {
    // At most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair is 4 bytes for 2 units).
    if (used + p.length * 3 > buf.length) {
      if (used > 0) {
        yield buf.subarray(0, used);
        buf = Buffer.allocUnsafe(JSON_CHUNK_BYTES + CHUNK_SLACK);
        used = 0;
        await yieldTurn();
      }
      if (p.length * 3 > buf.length) {
        yield Buffer.from(p, 'utf8');
        await yieldTurn();
        continue;
      }
    }
    used += buf.write(p, used, 'utf8');
    if (used >= JSON_CHUNK_BYTES) {
      yield buf.subarray(0, used);
      buf = Buffer.allocUnsafe(JSON_CHUNK_BYTES + CHUNK_SLACK);
      used = 0;
      await yieldTurn();
    }
  }
  if (used > 0) yield buf.subarray(0, used);
}
