/**
 * AMQP 0-9-1 primitive types (spec §4.2.5): the building blocks the generated method codecs call in straight-line
 * code. Integers are big-endian; shortstr is an octet length + up to 255 bytes; longstr is a 32-bit length + bytes.
 *
 * Readers share one cursor ({@link cur}) instead of returning `{ value, offset }` pairs, so decoding a method
 * allocates nothing but its result. Decoding is synchronous and never re-entrant, so one module-level cursor is safe.
 * Every reader checks the bytes it needs against `e` (the end of the method payload) and throws a 502 SYNTAX_ERROR
 * naming the method (`c`/`m` = class/method id, used only for the error) when they are missing.
 */
import { isUtf8 } from 'node:buffer';
import { AmqpProtocolError, FRAME_ERROR, SYNTAX_ERROR } from './errors.js';

/** The shared read cursor: the offset of the next byte to read. */
export const cur = { pos: 0 };

const TWO_32 = 4294967296;

/** @internal Build the 502 thrown for a method whose arguments end early. */
export function truncated(c: number, m: number): AmqpProtocolError {
  return new AmqpProtocolError(SYNTAX_ERROR, `truncated arguments for method ${c}/${m}`, c, m);
}

/** Read an octet at the cursor. */
export function rdOctet(b: Buffer, e: number, c: number, m: number): number {
  const p = cur.pos;
  if (p + 1 > e) throw truncated(c, m);
  cur.pos = p + 1;
  return b[p]!;
}

/** Read an unsigned 16-bit short at the cursor. */
export function rdShort(b: Buffer, e: number, c: number, m: number): number {
  const p = cur.pos;
  if (p + 2 > e) throw truncated(c, m);
  cur.pos = p + 2;
  return (b[p]! << 8) | b[p + 1]!;
}

/** Read an unsigned 32-bit long at the cursor. */
export function rdLong(b: Buffer, e: number, c: number, m: number): number {
  const p = cur.pos;
  if (p + 4 > e) throw truncated(c, m);
  cur.pos = p + 4;
  return b.readUInt32BE(p);
}

/**
 * Read an unsigned 64-bit longlong (or timestamp) at the cursor as a number. Values above 2^53 lose precision, which
 * is acceptable for delivery tags and timestamps (the API types them as number).
 */
export function rdLonglong(b: Buffer, e: number, c: number, m: number): number {
  const p = cur.pos;
  if (p + 8 > e) throw truncated(c, m);
  cur.pos = p + 8;
  return b.readUInt32BE(p) * TWO_32 + b.readUInt32BE(p + 4);
}

/**
 * Read a short string (octet length + UTF-8 bytes) at the cursor. Malformed UTF-8 is a 501 FRAME_ERROR, as RabbitMQ
 * answers it: decoding it with replacement characters would let two different byte strings name the same queue,
 * exchange, binding key or consumer tag.
 */
export function rdShortstr(b: Buffer, e: number, c: number, m: number): string {
  const p = cur.pos;
  if (p + 1 > e) throw truncated(c, m);
  const end = p + 1 + b[p]!;
  if (end > e) throw truncated(c, m);
  cur.pos = end;
  const s = asciiOrUtf8(b, p + 1, end);
  // A decode replaces malformed bytes with U+FFFD; only then (or for a genuine U+FFFD) are the bytes checked.
  if (s.includes('\ufffd') && !isUtf8(b.subarray(p + 1, end))) {
    throw new AmqpProtocolError(FRAME_ERROR, 'Malformed UTF-8 in shortstr', c, m);
  }
  return s;
}

/**
 * Read a short string without checking its UTF-8 (malformed bytes become U+FFFD): basic.publish's exchange and routing
 * key and the content properties, which RabbitMQ 3.10 passes through unchecked (it answers a malformed exchange name
 * with 404, not a frame error), so the publish path pays nothing for the check.
 */
export function rdShortstrLossy(b: Buffer, e: number, c: number, m: number): string {
  const p = cur.pos;
  if (p + 1 > e) throw truncated(c, m);
  const end = p + 1 + b[p]!;
  if (end > e) throw truncated(c, m);
  cur.pos = end;
  return asciiOrUtf8(b, p + 1, end);
}

/** Read a long string (32-bit length + bytes) at the cursor, as a copy: it outlives the frame. */
export function rdLongstr(b: Buffer, e: number, c: number, m: number): Buffer {
  const p = cur.pos;
  if (p + 4 > e) throw truncated(c, m);
  const end = p + 4 + b.readUInt32BE(p);
  if (end > e) throw truncated(c, m);
  cur.pos = end;
  return Buffer.from(b.subarray(p + 4, end));
}

/** Decode bytes [start, end) as UTF-8, with a fast path for short ASCII (names, tags, routing keys). */
export function asciiOrUtf8(b: Buffer, start: number, end: number): string {
  if (end - start > 32) return b.toString('utf8', start, end);
  let s = '';
  for (let i = start; i < end; i++) {
    const ch = b[i]!;
    if (ch > 0x7f) return b.toString('utf8', start, end);
    s += String.fromCharCode(ch);
  }
  return s;
}

/** Encoded size of a short string including its length octet. Throws RangeError above 255 bytes. */
export function shortstrSize(s: string): number {
  const len = s.length;
  // Fast path: ASCII strings have as many bytes as UTF-16 units.
  let n = len;
  if (len > 85 || !isAscii(s)) n = Buffer.byteLength(s, 'utf8');
  if (n > 255) throw new RangeError(`short string longer than 255 bytes (${n}): ${s.slice(0, 40)}…`);
  return 1 + n;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Write a short string at `o`; returns the next offset. The caller sized the buffer with {@link shortstrSize}. */
export function wrShortstr(b: Buffer, o: number, s: string): number {
  const len = s.length;
  if (len < 48) {
    let i = 0;
    for (; i < len; i++) {
      const ch = s.charCodeAt(i);
      if (ch > 0x7f) break;
      b[o + 1 + i] = ch;
    }
    if (i === len) {
      b[o] = len;
      return o + 1 + len;
    }
  }
  const n = b.write(s, o + 1, 'utf8');
  b[o] = n;
  return o + 1 + n;
}

/** Write a long string at `o`; returns the next offset. */
export function wrLongstr(b: Buffer, o: number, v: Buffer): number {
  b.writeUInt32BE(v.length, o);
  v.copy(b, o + 4);
  return o + 4 + v.length;
}

/** Write an unsigned 64-bit integer given as a number; returns the next offset. */
export function wrLonglong(b: Buffer, o: number, v: number): number {
  b.writeUInt32BE(Math.floor(v / TWO_32), o);
  b.writeUInt32BE(v >>> 0, o + 4);
  return o + 8;
}
