/**
 * Resumable AMQP 0-9-1 frame parser (spec §4.2.3, §2.3.5).
 *
 *   stream   = protocol-header *frame
 *   protocol-header = "AMQP" %d0 %d0 %d9 %d1
 *   frame    = type:octet channel:short size:long payload:size*octet frame-end:%xCE
 *   type     = 1 method | 2 content header | 3 content body | 8 heartbeat
 *
 * Frames wholly inside a pushed chunk are parsed from views of that chunk, without copying. A frame split across
 * chunks is gathered in a carry-over buffer, allocated only once its 7-byte header is known and its size has been
 * checked against frameMax (RabbitMQ counts the 8 bytes of header and frame-end in frame_max, like us).
 */
import type { MessageProperties } from '@warren/core';
import { AmqpProtocolError, FRAME_ERROR, NOT_IMPLEMENTED, SYNTAX_ERROR } from './errors.js';
import { decodeBasicProperties, decodeMethodArgs, type AmqpMethod } from './methods.gen.js';

/** One decoded frame. */
export type Frame =
  | { type: 'method'; channel: number; method: AmqpMethod }
  | {
      type: 'header';
      channel: number;
      classId: number;
      bodySize: number;
      /** Decoded for class 60 (basic); `{}` for any other class, which the state machine rejects (505). */
      properties: MessageProperties;
      /** The header payload from byte 12 on (property flags + property list), as a copy. */
      rawProperties: Buffer;
    }
  /** `payload` is a VIEW of the input: copy what you keep. */
  | { type: 'body'; channel: number; payload: Buffer }
  | { type: 'heartbeat'; channel: number };

/** Options of {@link FrameParser}. */
export interface FrameParserOptions {
  /** Largest accepted frame in bytes, including the 7-byte header and the frame-end octet. Default 131072. */
  frameMax?: number;
}

/** The 8 bytes a client sends first: "AMQP" 0 0 9 1. */
const HEADER = [0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1] as const;
const FRAME_END = 0xce;
const TWO_32 = 4294967296;

/** Turns any split of an AMQP byte stream into frames. */
export class FrameParser {
  /** Largest accepted frame (bytes, header and frame-end included). Settable, e.g. after connection.tune-ok. */
  frameMax: number;

  /** How many bytes of the protocol header have been matched (8 = done). */
  #headerSeen = 0;
  /** Set once the parser has thrown; every later push rethrows it. */
  #dead: unknown = undefined;
  /** A frame header split across chunks: its first #headLen bytes. */
  readonly #head = Buffer.alloc(7);
  #headLen = 0;
  /** A frame split across chunks, allocated at its full size once the header is known; #frameLen bytes are in. */
  #frame: Buffer | undefined = undefined;
  #frameLen = 0;

  constructor(options: FrameParserOptions = {}) {
    this.frameMax = options.frameMax ?? 131072;
  }

  /**
   * Feed any split of the input. The first 8 bytes must be the protocol header. Calls `sink` once per frame, in
   * order. Throws {@link AmqpProtocolError} on bad input; after that (or after `sink` throws) the parser is dead and
   * rethrows the same error.
   */
  push(chunk: Buffer, sink: (frame: Frame) => void): void {
    if (this.#dead !== undefined) throw this.#dead;
    try {
      this.#push(chunk, sink);
    } catch (err) {
      this.#dead = err;
      throw err;
    }
  }

  #push(chunk: Buffer, sink: (frame: Frame) => void): void {
    const n = chunk.length;
    let p = 0;
    if (this.#headerSeen < 8) {
      // Reject at the first byte that differs, so a client sending e.g. "GET /" or AMQP 1.0 is answered at once.
      while (p < n && this.#headerSeen < 8) {
        if (chunk[p] !== HEADER[this.#headerSeen]) throw badProtocolHeader();
        this.#headerSeen++;
        p++;
      }
      if (this.#headerSeen < 8) return;
    }

    if (this.#headLen > 0) {
      // Finish the split frame first.
      if (this.#headLen < 7) {
        const take = Math.min(7 - this.#headLen, n - p);
        chunk.copy(this.#head, this.#headLen, p, p + take);
        this.#headLen += take;
        p += take;
        if (this.#headLen < 7) return;
        const size = this.#checkHeader(this.#head, 0);
        const frame = Buffer.allocUnsafe(size + 8);
        this.#head.copy(frame, 0, 0, 7);
        this.#frame = frame;
        this.#frameLen = 7;
      }
      const frame = this.#frame!;
      const take = Math.min(frame.length - this.#frameLen, n - p);
      chunk.copy(frame, this.#frameLen, p, p + take);
      this.#frameLen += take;
      p += take;
      if (this.#frameLen < frame.length) return;
      this.#frame = undefined;
      this.#headLen = 0;
      this.#frameLen = 0;
      this.#dispatch(frame, 0, frame.length - 1, sink);
    }

    // Whole frames: parsed in place.
    while (n - p >= 7) {
      const size = this.#checkHeader(chunk, p);
      const end = p + 7 + size;
      if (end >= n) break;
      this.#dispatch(chunk, p, end, sink);
      p = end + 1;
    }

    // Carry over the rest.
    const rest = n - p;
    if (rest === 0) return;
    if (rest < 7) {
      chunk.copy(this.#head, 0, p, n);
      this.#headLen = rest;
      return;
    }
    const size = chunk.readUInt32BE(p + 3); // already checked by #checkHeader in the loop
    const frame = Buffer.allocUnsafe(size + 8);
    chunk.copy(frame, 0, p, n);
    this.#frame = frame;
    this.#headLen = 7;
    this.#frameLen = rest;
  }

  /** Check a frame header at b[p]: known type, size within frameMax. Returns the payload size. */
  #checkHeader(b: Buffer, p: number): number {
    const type = b[p]!;
    const size = b.readUInt32BE(p + 3);
    if (type !== 1 && type !== 2 && type !== 3 && type !== 8) {
      throw new AmqpProtocolError(FRAME_ERROR, `unknown frame type ${type}`);
    }
    const limit = this.frameMax - 8;
    if (size > limit) {
      throw new AmqpProtocolError(FRAME_ERROR, `frame too large: type ${type}, payload ${size} > ${limit}`);
    }
    return size;
  }

  /** Decode the frame at b[p .. end] (end = offset of the frame-end octet) and hand it to the sink. */
  #dispatch(b: Buffer, p: number, end: number, sink: (frame: Frame) => void): void {
    const type = b[p]!;
    const channel = (b[p + 1]! << 8) | b[p + 2]!;
    if (b[end] !== FRAME_END) {
      throw new AmqpProtocolError(FRAME_ERROR, `invalid frame end marker 0x${b[end]!.toString(16)} (type ${type})`);
    }
    const start = p + 7;
    const size = end - start;
    switch (type) {
      case 1: {
        if (size < 4) throw new AmqpProtocolError(SYNTAX_ERROR, `method frame of ${size} bytes has no method id`);
        const classId = (b[start]! << 8) | b[start + 1]!;
        const methodId = (b[start + 2]! << 8) | b[start + 3]!;
        const method = decodeMethodArgs(classId, methodId, b, start + 4, end);
        if (method === undefined) {
          throw new AmqpProtocolError(NOT_IMPLEMENTED, `unknown method ${classId}/${methodId}`, classId, methodId);
        }
        sink({ type: 'method', channel, method });
        return;
      }
      case 2: {
        // class-id:short weight:short body-size:longlong property-flags:short property-list (§4.2.6.1)
        if (size < 14) throw new AmqpProtocolError(SYNTAX_ERROR, `content header of ${size} bytes is truncated`);
        const classId = (b[start]! << 8) | b[start + 1]!;
        const hi = b.readUInt32BE(start + 4);
        if (hi > 0x1fffff) throw new AmqpProtocolError(SYNTAX_ERROR, 'content body size above 2^53');
        const bodySize = hi * TWO_32 + b.readUInt32BE(start + 8);
        const properties = classId === 60 ? decodeBasicProperties(b, start + 12, end) : {};
        const rawProperties = Buffer.from(b.subarray(start + 12, end));
        sink({ type: 'header', channel, classId, bodySize, properties, rawProperties });
        return;
      }
      case 3:
        sink({ type: 'body', channel, payload: b.subarray(start, end) });
        return;
      default:
        // 8, the only other type #checkHeader lets through. RabbitMQ rejects a heartbeat with a payload (501).
        if (size !== 0) throw new AmqpProtocolError(FRAME_ERROR, `heartbeat frame with a ${size}-byte payload`);
        sink({ type: 'heartbeat', channel });
    }
  }
}

function badProtocolHeader(): AmqpProtocolError {
  return new AmqpProtocolError(FRAME_ERROR, 'bad protocol header: expected AMQP 0-9-1', 0, 0, true);
}
