import type { DecimalValue, FieldTable, FieldValue, Message, MessageProperties } from '../contract.js';
import { crc32 } from './crc32.js';
import type { StateLog } from './store.js';

/**
 * The on-disk encoding of one queue entry in a segment file (a pure codec: no I/O).
 *
 * ```
 * record  = length:u32 crc:u32 payload          ; crc32 of payload; length = payload bytes
 * payload = flags:u8 seq:f64 expiresAt:f64 priority:u8 bodySize:u32 exchange:str routingKey:str properties
 *           body:octet[bodySize]                    ; the body is last, so recovery reads sizes without decoding
 * str     = n:u32 utf8[n]        bytes = n:u32 octet[n]
 * properties = present:u16 field*   ; one bit per MessageProperties field, in PROPERTY_ORDER
 * ref     = flags:u8 seq:f64 expiresAt:f64 priority:u8 bodySize:u32 bodyLocation:f64
 *                                   ; flags has FLAG_REF: the message itself is a record of the shared body log
 * ```
 * Header values keep their type (string, integer/double, bigint, boolean, null, bytes, timestamp, decimal, array,
 * table) so a recovered message is the message that was published. Numbers are little-endian.
 */

/** Bytes before the payload: length and checksum. */
export const RECORD_HEADER = 8;
/** flags bit: the message was persistent (delivery mode 2) when written. */
export const FLAG_PERSISTENT = 1;
/**
 * flags bit (2 marks a stream's chunk start): a reference record, whose payload ends with the location of the message
 * in the shared body log.
 */
export const FLAG_REF = 4;
/** Payload bytes of a reference record. */
const REF_PAYLOAD = 1 + 8 + 8 + 1 + 4 + 8;

const PROPERTY_ORDER = [
  'contentType',
  'contentEncoding',
  'headers',
  'deliveryMode',
  'priority',
  'correlationId',
  'replyTo',
  'expiration',
  'messageId',
  'timestamp',
  'type',
  'userId',
  'appId',
  'clusterId',
] as const;

/** An append buffer that grows by doubling; `length` bytes are valid. */
export class ByteWriter {
  buf: Buffer;
  length = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64LE(v, this.length);
    this.length += 8;
  }
  str(s: string): void {
    const max = s.length * 3;
    this.ensure(4 + max);
    const n = this.buf.write(s, this.length + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.length);
    this.length += 4 + n;
  }
  bytes(b: Uint8Array): void {
    this.ensure(4 + b.length);
    this.buf.writeUInt32LE(b.length, this.length);
    this.buf.set(b, this.length + 4);
    this.length += 4 + b.length;
  }
  /** Forget the contents, keeping the buffer (shrunk back when it grew very large). */
  reset(): void {
    this.length = 0;
    if (this.buf.length > 8 * 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024);
  }
}

/** The entry fields a record carries. */
export interface EntryRecord {
  flags: number;
  seq: number;
  expiresAt: number;
  priority: number;
  message: Message;
}

/** Append one record to `w`; returns its total size (header included). */
export function writeRecord(w: ByteWriter, flags: number, seq: number, expiresAt: number, priority: number, m: Message): number {
  const start = w.length;
  w.ensure(RECORD_HEADER + 26);
  w.length += RECORD_HEADER;
  w.u8(flags);
  w.f64(seq);
  w.f64(expiresAt);
  w.u8(priority);
  w.u32(m.body.length);
  w.str(m.exchange);
  w.str(m.routingKey);
  writeProperties(w, m.properties);
  w.ensure(m.body.length);
  w.buf.set(m.body, w.length);
  w.length += m.body.length;
  const payload = w.length - start - RECORD_HEADER;
  w.buf.writeUInt32LE(payload, start);
  w.buf.writeUInt32LE(crc32(w.buf.subarray(start + RECORD_HEADER, w.length)), start + 4);
  return w.length - start;
}

/**
 * Append one reference record to `w`: a queue entry whose message lives at `bodyLocation` in the shared body log
 * (written once for every durable queue a persistent message was routed to). Returns its total size.
 */
export function writeRef(w: ByteWriter, flags: number, seq: number, expiresAt: number, priority: number, bodySize: number, bodyLocation: number): number {
  const start = w.length;
  w.ensure(RECORD_HEADER + REF_PAYLOAD);
  const b = w.buf;
  let p = start + RECORD_HEADER;
  b[p] = flags | FLAG_REF;
  b.writeDoubleLE(seq, p + 1);
  b.writeDoubleLE(expiresAt, p + 9);
  b[p + 17] = priority;
  b.writeUInt32LE(bodySize, p + 18);
  b.writeDoubleLE(bodyLocation, p + 22);
  p += REF_PAYLOAD;
  b.writeUInt32LE(REF_PAYLOAD, start);
  b.writeUInt32LE(crc32(b.subarray(start + RECORD_HEADER, p)), start + 4);
  w.length = p;
  return p - start;
}

/** The body location of a checked reference record (flags has {@link FLAG_REF}). */
export function refLocation(buf: Buffer, offset: number): number {
  return buf.readDoubleLE(offset + RECORD_HEADER + 22);
}

function writeProperties(w: ByteWriter, p: MessageProperties): void {
  let present = 0;
  for (let i = 0; i < PROPERTY_ORDER.length; i++) if (p[PROPERTY_ORDER[i]!] !== undefined) present |= 1 << i;
  w.u16(present);
  if (present === 0) return;
  for (let i = 0; i < PROPERTY_ORDER.length; i++) {
    const name = PROPERTY_ORDER[i]!;
    const v = p[name];
    if (v === undefined) continue;
    if (name === 'headers') writeTable(w, v as FieldTable);
    else if (name === 'deliveryMode' || name === 'priority' || name === 'timestamp') w.f64(v as number);
    else w.str(v as string);
  }
}

function writeTable(w: ByteWriter, t: FieldTable): void {
  const keys = Object.keys(t);
  w.u32(keys.length);
  for (const k of keys) {
    w.str(k);
    writeValue(w, t[k]!);
  }
}

function writeValue(w: ByteWriter, v: FieldValue): void {
  if (v === null) return w.u8(0x56 /* V */);
  switch (typeof v) {
    case 'string':
      w.u8(0x53 /* S */);
      return w.str(v);
    case 'number':
      w.u8(0x64 /* d */);
      return w.f64(v);
    case 'bigint':
      w.u8(0x6c /* l */);
      return w.i64(BigInt.asIntN(64, v));
    case 'boolean':
      w.u8(0x74 /* t */);
      return w.u8(v ? 1 : 0);
    default:
      break;
  }
  if (Buffer.isBuffer(v)) {
    w.u8(0x78 /* x */);
    return w.bytes(v);
  }
  if (v instanceof Date) {
    w.u8(0x54 /* T */);
    return w.f64(v.getTime());
  }
  if (Array.isArray(v)) {
    w.u8(0x41 /* A */);
    w.u32(v.length);
    for (const x of v) writeValue(w, x);
    return;
  }
  if ('$decimal' in v) {
    const d = v as DecimalValue;
    w.u8(0x44 /* D */);
    w.u8(d.scale);
    return w.f64(d.value);
  }
  w.u8(0x46 /* F */);
  writeTable(w, v as FieldTable);
}

/** flags, seq, expiresAt, priority, bodySize, two empty strings, no properties. */
const MIN_PAYLOAD = 1 + 8 + 8 + 1 + 4 + 4 + 4 + 2;

/** Why a record could not be read. */
export type RecordProblem = 'truncated' | 'checksum' | 'malformed';

/** The outcome of checking the record at an offset: its total size, or what is wrong with it. */
export function checkRecord(buf: Buffer, offset: number): number | RecordProblem {
  if (offset + RECORD_HEADER > buf.length) return 'truncated';
  const len = buf.readUInt32LE(offset);
  const end = offset + RECORD_HEADER + len;
  if (end > buf.length) return 'truncated';
  if (len < REF_PAYLOAD) return 'malformed';
  if (crc32(buf.subarray(offset + RECORD_HEADER, end)) !== buf.readUInt32LE(offset + 4)) return 'checksum';
  const ref = (buf[offset + RECORD_HEADER]! & FLAG_REF) !== 0;
  if (ref ? len !== REF_PAYLOAD : len < MIN_PAYLOAD) return 'malformed';
  return RECORD_HEADER + len;
}

/** Read the fixed fields of a checked record without decoding the message. */
export function recordHead(buf: Buffer, offset: number): { flags: number; seq: number; expiresAt: number; priority: number; bodyBytes: number } {
  const p = offset + RECORD_HEADER;
  return {
    flags: buf[p]!,
    seq: buf.readDoubleLE(p + 1),
    expiresAt: buf.readDoubleLE(p + 9),
    priority: buf[p + 17]!,
    bodyBytes: buf.readUInt32LE(p + 18),
  };
}

/**
 * Decode a checked record (the body is copied so the read buffer can go, unless `copyBody` is false). Throws on
 * malformed content.
 */
export function readRecord(buf: Buffer, offset: number, copyBody = true): EntryRecord {
  const p = offset + RECORD_HEADER;
  const end = p + buf.readUInt32LE(offset);
  const bodySize = buf.readUInt32LE(p + 18);
  const r = new Reader(buf, p + 22, end - bodySize);
  const exchange = r.str();
  const routingKey = r.str();
  const properties = r.properties();
  if (r.pos !== end - bodySize) throw new RangeError('record content does not match its length');
  const body = copyBody ? Buffer.from(buf.subarray(end - bodySize, end)) : buf.subarray(end - bodySize, end);
  return {
    flags: buf[p]!,
    seq: buf.readDoubleLE(p + 1),
    expiresAt: buf.readDoubleLE(p + 9),
    priority: buf[p + 17]!,
    message: { exchange, routingKey, properties, rawProperties: undefined, body },
  };
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  #need(n: number): void {
    if (this.pos + n > this.end) throw new RangeError('record content overruns its length');
  }
  u8(): number {
    this.#need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.#need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = this.u32();
    this.#need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes(): Buffer {
    const n = this.u32();
    this.#need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  properties(): MessageProperties {
    this.#need(2);
    const present = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    const p: Record<string, unknown> = {};
    if (present === 0) return p as MessageProperties;
    for (let i = 0; i < PROPERTY_ORDER.length; i++) {
      if ((present & (1 << i)) === 0) continue;
      const name = PROPERTY_ORDER[i]!;
      if (name === 'headers') p[name] = this.table();
      else if (name === 'deliveryMode' || name === 'priority' || name === 'timestamp') p[name] = this.f64();
      else p[name] = this.str();
    }
    return p as MessageProperties;
  }
  table(): FieldTable {
    const n = this.u32();
    const t: FieldTable = {};
    for (let i = 0; i < n; i++) {
      const k = this.str();
      t[k] = this.value();
    }
    return t;
  }
  value(): FieldValue {
    const tag = this.u8();
    switch (tag) {
      case 0x56:
        return null;
      case 0x53:
        return this.str();
      case 0x64:
        return this.f64();
      case 0x6c: {
        this.#need(8);
        const v = this.buf.readBigInt64LE(this.pos);
        this.pos += 8;
        return v;
      }
      case 0x74:
        return this.u8() === 1;
      case 0x78:
        return Buffer.from(this.bytes());
      case 0x54:
        return new Date(this.f64());
      case 0x41: {
        const n = this.u32();
        const a: FieldValue[] = [];
        for (let i = 0; i < n; i++) a.push(this.value());
        return a;
      }
      case 0x44: {
        const scale = this.u8();
        return { $decimal: true, scale, value: this.f64() };
      }
      case 0x46:
        return this.table();
      default:
        throw new RangeError(`unknown header value tag 0x${tag.toString(16)}`);
    }
  }
}

/**
 * A message as one checksummed record (the segment record format with zero entry fields), for adapters that keep
 * messages in a {@link StateLog}-like store of opaque values.
 */
export function encodeMessage(m: Message, prefix?: Buffer): Buffer {
  const w = new ByteWriter(RECORD_HEADER + 64 + m.body.length + (prefix?.length ?? 0));
  if (prefix !== undefined) {
    w.buf.set(prefix, 0);
    w.length = prefix.length;
  }
  writeRecord(w, 0, 0, 0, 0, m);
  return w.length === w.buf.length ? w.buf : w.buf.subarray(0, w.length);
}

/**
 * Decode a message written by {@link encodeMessage} at `offset`. The body is a view of `buf` (no copy), so keeping the
 * message keeps `buf`. Throws when the record is damaged.
 */
export function decodeMessage(buf: Buffer, offset = 0): Message {
  const size = checkRecord(buf, offset);
  if (typeof size !== 'number') throw new RangeError(`stored message is ${size}`);
  return readRecord(buf, offset, false).message;
}
