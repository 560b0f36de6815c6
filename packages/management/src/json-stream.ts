/**
 * Long JSON answers written in pieces. `GET /api/queues` over 10,000 queues is 8.7 MB of JSON: built as one object
 * tree, stringified and then copied into a Buffer in one go, it held the event loop for hundreds of ms, which stalls
 * every AMQP connection of the broker for as long. A {@link JsonStream} instead produces its text piece by piece (one
 * list item at a time) and is sent as chunks of about {@link JSON_CHUNK_CHARS}, with a turn of the event loop
 * (setImmediate) between chunks, as the Prometheus exporter does. The text is the same as `JSON.stringify` of the
 * whole answer would be.
 */
import { Readable } from 'node:stream';

/** Characters collected before a chunk is handed to the response (and the event loop gets a turn). */
export const JSON_CHUNK_CHARS = 64 * 1024;

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

  /** A readable of chunks of about {@link JSON_CHUNK_CHARS}, yielding to the event loop between chunks. */
  readable(): Readable {
    return Readable.from(chunks(this.#pieces()), { highWaterMark: 1 });
  }
}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Chunks as UTF-8 Buffers: encoded once here, rather than measured by http and encoded again by the socket or zlib. */
async function* chunks(pieces: Iterable<string>): AsyncGenerator<Buffer> {
  let buf = '';
  for (const p of pieces) {
    buf += p;
    if (buf.length >= JSON_CHUNK_CHARS) {
      yield Buffer.from(buf, 'utf8');
      buf = '';
      await yieldTurn();
    }
  }
  if (buf !== '') yield Buffer.from(buf, 'utf8');
}
