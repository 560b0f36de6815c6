/**
 * AMQP field tables and arrays, with RabbitMQ's type tags (https://www.rabbitmq.com/amqp-0-9-1-errata.html
 * "Field types"), which differ from the 0-9-1 spec text: 's' is a signed 16-bit integer, 'l' a signed 64-bit
 * integer, 'x' a byte array, and there is no short-string tag.
 *
 * Grammar (spec §4.2.5.5): table = long-uint *(field-name field-value); field-name = shortstr;
 * field-value = tag octet + value; array = long-uint *field-value.
 *
 * Decode: t→boolean; b B s u I i→number; l→number when safe, else bigint; f d→number; D→DecimalValue;
 * S→string (UTF-8); x→Buffer (a copy); A→array; T→Date; F→table; V→null.
 * Encode: string→S; boolean→t; integer number in int32 range→I; other integer in int64 range→l; any other
 * number (and -0)→d; bigint→l; null/undefined→V; Buffer→x; Date→T; array→A; DecimalValue→D; other object→F.
 */
import type { DecimalValue, FieldTable, FieldValue } from '@warren/core';
import { AmqpProtocolError, SYNTAX_ERROR } from './errors.js';
import { asciiOrUtf8, cur, shortstrSize, truncated, wrShortstr } from './wire.js';

/**
 * Nesting limit for decoded tables and arrays. Without it a hostile frame of nested 'F' headers could exhaust the
 * stack; no real client nests anywhere near this deep.
 */
export const MAX_TABLE_DEPTH = 64;

const TWO_32 = 4294967296;

/**
 * Read a table (length prefix included) at the shared cursor, bounded by `e`; `c`/`m` name the method for errors.
 * @internal used by the generated method decoders.
 */
export function rdTable(b: Buffer, e: number, c: number, m: number): FieldTable {
  const p = cur.pos;
  if (p + 4 > e) throw truncated(c, m);
  const end = p + 4 + b.readUInt32BE(p);
  if (end > e) throw truncated(c, m);
  cur.pos = p + 4;
  return readFields(b, end, 0, c, m);
}

function readFields(b: Buffer, end: number, depth: number, c: number, m: number): FieldTable {
  const table: FieldTable = {};
  while (cur.pos < end) {
    const p = cur.pos;
    const keyEnd = p + 1 + b[p]!;
    if (keyEnd > end) throw truncated(c, m);
    const key = asciiOrUtf8(b, p + 1, keyEnd);
    cur.pos = keyEnd;
    const value = readValue(b, end, depth, c, m);
    // A header literally named "__proto__" must stay data, not replace the prototype.
    if (key === '__proto__') Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
    else table[key] = value;
  }
  return table;
}

function need(n: number, end: number, c: number, m: number): number {
  const p = cur.pos;
  if (p + n > end) throw truncated(c, m);
  cur.pos = p + n;
  return p;
}

function readValue(b: Buffer, end: number, depth: number, c: number, m: number): FieldValue {
  const tag = b[need(1, end, c, m)]!;
  let p: number;
  switch (tag) {
    case 0x74: // 't' boolean
      return b[need(1, end, c, m)] !== 0;
    case 0x62: // 'b' int8
      return b.readInt8(need(1, end, c, m));
    case 0x42: // 'B' uint8
      return b[need(1, end, c, m)]!;
    case 0x73: // 's' int16 (RabbitMQ errata)
      return b.readInt16BE(need(2, end, c, m));
    case 0x75: // 'u' uint16
      return b.readUInt16BE(need(2, end, c, m));
    case 0x49: // 'I' int32
      return b.readInt32BE(need(4, end, c, m));
    case 0x69: // 'i' uint32
      return b.readUInt32BE(need(4, end, c, m));
    case 0x6c: {
      // 'l' int64: a number while it is exact, else a bigint
      p = need(8, end, c, m);
      const v = b.readInt32BE(p) * TWO_32 + b.readUInt32BE(p + 4);
      return Number.isSafeInteger(v) ? v : b.readBigInt64BE(p);
    }
    case 0x66: // 'f' float
      return b.readFloatBE(need(4, end, c, m));
    case 0x64: // 'd' double
      return b.readDoubleBE(need(8, end, c, m));
    case 0x44: {
      // 'D' decimal: scale octet + unsigned 32-bit value
      p = need(5, end, c, m);
      const d: DecimalValue = { scale: b[p]!, value: b.readUInt32BE(p + 1), $decimal: true };
      return d;
    }
    case 0x53: {
      // 'S' long string
      p = need(4, end, c, m);
      const len = b.readUInt32BE(p);
      need(len, end, c, m);
      return b.toString('utf8', p + 4, p + 4 + len);
    }
    case 0x78: {
      // 'x' byte array, copied: headers outlive the frame
      p = need(4, end, c, m);
      const len = b.readUInt32BE(p);
      need(len, end, c, m);
      return Buffer.from(b.subarray(p + 4, p + 4 + len));
    }
    case 0x54: {
      // 'T' timestamp, seconds since the epoch (uint64)
      p = need(8, end, c, m);
      return new Date((b.readUInt32BE(p) * TWO_32 + b.readUInt32BE(p + 4)) * 1000);
    }
    case 0x46: {
      // 'F' nested table
      if (depth >= MAX_TABLE_DEPTH) throw tooDeep(c, m);
      p = need(4, end, c, m);
      const inner = p + 4 + b.readUInt32BE(p);
      if (inner > end) throw truncated(c, m);
      const t = readFields(b, inner, depth + 1, c, m);
      return t;
    }
    case 0x41: {
      // 'A' array
      if (depth >= MAX_TABLE_DEPTH) throw tooDeep(c, m);
      p = need(4, end, c, m);
      const inner = p + 4 + b.readUInt32BE(p);
      if (inner > end) throw truncated(c, m);
      const arr: FieldValue[] = [];
      while (cur.pos < inner) arr.push(readValue(b, inner, depth + 1, c, m));
      return arr;
    }
    case 0x56: // 'V' void
      return null;
    default:
      throw new AmqpProtocolError(SYNTAX_ERROR, `unknown field-table value type 0x${tag.toString(16)}`, c, m);
  }
}

function tooDeep(c: number, m: number): AmqpProtocolError {
  return new AmqpProtocolError(SYNTAX_ERROR, `field table nested deeper than ${MAX_TABLE_DEPTH}`, c, m);
}

function isDecimal(v: object): v is DecimalValue {
  return (v as Partial<DecimalValue>).$decimal === true;
}

/** Encoded size of a table including its 4-byte length prefix. Throws TypeError/RangeError for unencodable values. */
export function tableSize(t: FieldTable): number {
  let n = 4;
  for (const k of Object.keys(t)) n += shortstrSize(k) + valueSize(t[k]);
  return n;
}

function valueSize(v: FieldValue | undefined): number {
  switch (typeof v) {
    case 'string':
      return 5 + Buffer.byteLength(v, 'utf8');
    case 'number':
      return numberTag(v) === 0x49 ? 5 : 9;
    case 'bigint':
    case 'undefined':
      return v === undefined ? 1 : 9;
    case 'boolean':
      return 2;
    case 'object': {
      if (v === null) return 1;
      if (Buffer.isBuffer(v)) return 5 + v.length;
      if (Array.isArray(v)) {
        let n = 5;
        for (let i = 0; i < v.length; i++) n += valueSize(v[i]);
        return n;
      }
      if (v instanceof Date) return 9;
      if (isDecimal(v)) return 6;
      return 1 + tableSize(v);
    }
    default:
      throw new TypeError(`cannot encode a ${typeof v} in an AMQP field table`);
  }
}

/** Write a table (with its length prefix) at `o`, sized with {@link tableSize}; returns the next offset. */
export function writeTable(b: Buffer, o: number, t: FieldTable): number {
  const start = o;
  o += 4;
  for (const k of Object.keys(t)) {
    o = wrShortstr(b, o, k);
    o = writeValue(b, o, t[k]);
  }
  b.writeUInt32BE(o - start - 4, start);
  return o;
}

const INT64_LIMIT = 9223372036854775808; // 2^63

/** 'I' for an int32, 'l' for another integer that fits int64, else 'd'. -0 is a double so its sign survives. */
function numberTag(v: number): number {
  if ((v | 0) === v && !Object.is(v, -0)) return 0x49;
  if (Number.isInteger(v) && v >= -INT64_LIMIT && v < INT64_LIMIT && !Object.is(v, -0)) return 0x6c;
  return 0x64;
}

function writeValue(b: Buffer, o: number, v: FieldValue | undefined): number {
  switch (typeof v) {
    case 'string': {
      b[o] = 0x53;
      const n = b.write(v, o + 5, 'utf8');
      b.writeUInt32BE(n, o + 1);
      return o + 5 + n;
    }
    case 'number': {
      const tag = numberTag(v);
      b[o] = tag;
      if (tag === 0x49) {
        b.writeInt32BE(v, o + 1);
        return o + 5;
      }
      if (tag === 0x6c) b.writeBigInt64BE(BigInt(v), o + 1);
      else b.writeDoubleBE(v, o + 1);
      return o + 9;
    }
    case 'bigint':
      b[o] = 0x6c;
      b.writeBigInt64BE(v, o + 1);
      return o + 9;
    case 'undefined':
      b[o] = 0x56;
      return o + 1;
    case 'boolean':
      b[o] = 0x74;
      b[o + 1] = v ? 1 : 0;
      return o + 2;
    case 'object': {
      if (v === null) {
        b[o] = 0x56;
        return o + 1;
      }
      if (Buffer.isBuffer(v)) {
        b[o] = 0x78;
        b.writeUInt32BE(v.length, o + 1);
        v.copy(b, o + 5);
        return o + 5 + v.length;
      }
      if (Array.isArray(v)) {
        b[o] = 0x41;
        const start = o + 1;
        o += 5;
        for (let i = 0; i < v.length; i++) o = writeValue(b, o, v[i]);
        b.writeUInt32BE(o - start - 4, start);
        return o;
      }
      if (v instanceof Date) {
        const secs = Math.floor(v.getTime() / 1000);
        b[o] = 0x54;
        b.writeUInt32BE(Math.floor(secs / TWO_32), o + 1);
        b.writeUInt32BE(secs >>> 0, o + 5);
        return o + 9;
      }
      if (isDecimal(v)) {
        b[o] = 0x44;
        b[o + 1] = v.scale;
        b.writeUInt32BE(v.value, o + 2);
        return o + 6;
      }
      b[o] = 0x46;
      return writeTable(b, o + 1, v);
    }
    default:
      throw new TypeError(`cannot encode a ${typeof v} in an AMQP field table`);
  }
}

/** Encode a field table with its 4-byte length prefix. */
export function encodeTable(table: FieldTable): Buffer {
  const b = Buffer.allocUnsafe(tableSize(table));
  writeTable(b, 0, table);
  return b;
}

/**
 * Decode a field table whose 4-byte length prefix is at `offset`; `end` is the offset just after it.
 * Throws {@link AmqpProtocolError} (502) when it is malformed or runs past the end of `buf`.
 */
export function decodeTable(buf: Buffer, offset: number): { table: FieldTable; end: number } {
  cur.pos = offset;
  const table = rdTable(buf, buf.length, 0, 0);
  return { table, end: cur.pos };
}
