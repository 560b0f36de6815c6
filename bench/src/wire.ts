/**
 * A deliberately tiny AMQP 0-9-1 wire layer for the load tool: encoders for the handful of methods the bench needs,
 * pre-encoded publish templates, and an incremental frame reader that extracts only what a load client (or the
 * do-nothing server) needs. Pure: no sockets, no clocks. Independent of @warren/amqp on purpose, so the load tool
 * keeps working while the broker's codec changes.
 *
 * Frame grammar (AMQP 0-9-1 §4.2.3): type:u8 channel:u16 size:u32 payload[size] frame-end:0xCE.
 * Method payload: class-id:u16 method-id:u16 arguments. Content header (type 2): class-id:u16 weight:u16
 * body-size:u64 property-flags:u16 properties. Body (type 3): raw bytes.
 */

/** The 8-byte protocol header a client sends first (AMQP 0-9-1 §4.2.2). */
export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** Frame types (AMQP 0-9-1 §4.2.3; RabbitMQ sends heartbeats as type 8). */
export const FrameType = { METHOD: 1, HEADER: 2, BODY: 3, HEARTBEAT: 8 } as const;

/** The frame-end octet. */
export const FRAME_END = 0xce;

/** Class and method ids used by the bench ([class, method]). */
export const M = {
  connectionStart: [10, 10],
  connectionStartOk: [10, 11],
  connectionTune: [10, 30],
  connectionTuneOk: [10, 31],
  connectionOpen: [10, 40],
  connectionOpenOk: [10, 41],
  connectionClose: [10, 50],
  connectionCloseOk: [10, 51],
  channelOpen: [20, 10],
  channelOpenOk: [20, 11],
  channelClose: [20, 40],
  channelCloseOk: [20, 41],
  exchangeDeclare: [40, 10],
  exchangeDeclareOk: [40, 11],
  exchangeDelete: [40, 20],
  exchangeDeleteOk: [40, 21],
  queueDeclare: [50, 10],
  queueDeclareOk: [50, 11],
  queueBind: [50, 20],
  queueBindOk: [50, 21],
  queueDelete: [50, 40],
  queueDeleteOk: [50, 41],
  basicQos: [60, 10],
  basicQosOk: [60, 11],
  basicConsume: [60, 20],
  basicConsumeOk: [60, 21],
  basicCancel: [60, 30],
  basicPublish: [60, 40],
  basicReturn: [60, 50],
  basicDeliver: [60, 60],
  basicAck: [60, 80],
  basicNack: [60, 120],
  confirmSelect: [85, 10],
  confirmSelectOk: [85, 11],
} as const satisfies Record<string, readonly [number, number]>;

/** A [class-id, method-id] pair. */
export type MethodId = readonly [number, number];

/** A value the bench's field-table encoder accepts (a small subset of AMQP field values). */
export type BenchFieldValue = string | boolean | number | { [k: string]: BenchFieldValue };

/** A growable byte writer for method arguments. */
export class ArgWriter {
  #buf: Buffer;
  #len = 0;

  constructor(capacity = 256) {
    this.#buf = Buffer.allocUnsafe(capacity);
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.#room(2);
    this.#len = this.#buf.writeUInt16BE(v, this.#len);
    return this;
  }

  u32(v: number): this {
    this.#room(4);
    this.#len = this.#buf.writeUInt32BE(v, this.#len);
    return this;
  }

  u64(v: number): this {
    this.#room(8);
    this.#len = this.#buf.writeBigUInt64BE(BigInt(v), this.#len);
    return this;
  }

  /** Packed bits, first flag in the lowest bit (AMQP 0-9-1 §4.2.5.2). */
  bits(...flags: boolean[]): this {
    let v = 0;
    flags.forEach((f, i) => {
      if (f) v |= 1 << i;
    });
    return this.u8(v);
  }

  shortstr(s: string): this {
    const n = Buffer.byteLength(s);
    if (n > 255) throw new RangeError(`shortstr too long (${n} bytes)`);
    this.#room(1 + n);
    this.#buf[this.#len++] = n;
    this.#len += this.#buf.write(s, this.#len);
    return this;
  }

  longstr(s: string | Buffer): this {
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    this.u32(b.length);
    this.#room(b.length);
    this.#len += b.copy(this.#buf, this.#len);
    return this;
  }

  /** A field table with string ('S'), boolean ('t'), signed 32-bit ('I') and nested table ('F') values. */
  table(t: Record<string, BenchFieldValue> = {}): this {
    const inner = new ArgWriter(64);
    for (const [k, v] of Object.entries(t)) {
      inner.shortstr(k);
      if (typeof v === 'string') inner.u8(0x53).longstr(v);
      else if (typeof v === 'boolean') inner.u8(0x74).u8(v ? 1 : 0);
      else if (typeof v === 'number') inner.u8(0x49).u32(v >>> 0);
      else inner.u8(0x46).table(v);
    }
    return this.longstr(inner.bytes());
  }

  /** The bytes written so far (a view). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}

/** Encode a whole method frame. */
export function methodFrame(channel: number, method: MethodId, args?: ArgWriter): Buffer {
  const a = args?.bytes() ?? Buffer.alloc(0);
  const size = 4 + a.length;
  const f = Buffer.allocUnsafe(8 + size);
  f[0] = FrameType.METHOD;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(size, 3);
  f.writeUInt16BE(method[0], 7);
  f.writeUInt16BE(method[1], 9);
  a.copy(f, 11);
  f[8 + size - 1] = FRAME_END;
  return f;
}

/**
 * Content header frame for class basic with the given body size and no properties (flags 0), or, when `persistent`,
 * only delivery-mode 2 (flag bit 12, AMQP 0-9-1 §4.2.6.1 property order).
 */
export function headerFrame(channel: number, bodySize: number, persistent = false): Buffer {
  const payload = persistent ? 15 : 14;
  const f = Buffer.allocUnsafe(8 + payload);
  f[0] = FrameType.HEADER;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(payload, 3);
  f.writeUInt16BE(60, 7); // class basic
  f.writeUInt16BE(0, 9); // weight
  f.writeBigUInt64BE(BigInt(bodySize), 11);
  f.writeUInt16BE(persistent ? 0x1000 : 0, 19); // property flags
  if (persistent) f[21] = 2; // delivery-mode 2
  f[7 + payload] = FRAME_END;
  return f;
}

/** Body frame carrying `body`. */
export function bodyFrame(channel: number, body: Buffer): Buffer {
  const f = Buffer.allocUnsafe(8 + body.length);
  f[0] = FrameType.BODY;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(body.length, 3);
  body.copy(f, 7);
  f[7 + body.length] = FRAME_END;
  return f;
}

/** The heartbeat frame (AMQP 0-9-1 §4.2.7). */
export const HEARTBEAT_FRAME = Buffer.from([FrameType.HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);

/**
 * A pre-encoded message (basic.publish or basic.deliver + content header + body in one buffer) and the offset of the
 * body's first byte, where the sender stamps its 8-byte timestamp before each write.
 */
export interface MessageTemplate {
  readonly bytes: Buffer;
  readonly timestampOffset: number;
}

function joinTemplate(method: Buffer, channel: number, bodySize: number, persistent = false): MessageTemplate {
  if (bodySize < 8) throw new RangeError('body must hold the 8-byte timestamp');
  const body = Buffer.alloc(bodySize, 0x2e); // '.' filler
  const header = headerFrame(channel, bodySize, persistent);
  const bytes = Buffer.concat([method, header, bodyFrame(channel, body)]);
  return { bytes, timestampOffset: method.length + header.length + 7 };
}

/** basic.publish(exchange, routingKey) + header + body of `bodySize` bytes, as one buffer (persistent: mode 2). */
export function publishTemplate(
  channel: number,
  exchange: string,
  routingKey: string,
  bodySize: number,
  persistent = false,
): MessageTemplate {
  const args = new ArgWriter().u16(0).shortstr(exchange).shortstr(routingKey).bits(false, false);
  return joinTemplate(methodFrame(channel, M.basicPublish, args), channel, bodySize, persistent);
}

/**
 * basic.deliver + header + body, for the do-nothing server. The delivery tag sits at `deliveryTagOffset` in the
 * returned bytes so the sender can patch it per message.
 */
export function deliverTemplate(
  channel: number,
  consumerTag: string,
  exchange: string,
  routingKey: string,
  bodySize: number,
): MessageTemplate & { readonly deliveryTagOffset: number } {
  const args = new ArgWriter().shortstr(consumerTag).u64(0).bits(false).shortstr(exchange).shortstr(routingKey);
  const t = joinTemplate(methodFrame(channel, M.basicDeliver, args), channel, bodySize);
  return { ...t, deliveryTagOffset: 11 + 1 + Buffer.byteLength(consumerTag) };
}

/** basic.ack(deliveryTag, multiple), 21 bytes. Written into `out` at `offset` when given (returns the end offset). */
export function writeAck(out: Buffer, offset: number, channel: number, deliveryTag: number, multiple: boolean): number {
  out[offset] = FrameType.METHOD;
  out.writeUInt16BE(channel, offset + 1);
  out.writeUInt32BE(13, offset + 3);
  out.writeUInt16BE(60, offset + 7);
  out.writeUInt16BE(80, offset + 9);
  writeU64(out, offset + 11, deliveryTag);
  out[offset + 19] = multiple ? 1 : 0;
  out[offset + 20] = FRAME_END;
  return offset + 21;
}

/** Size of one basic.ack frame. */
export const ACK_FRAME_SIZE = 21;

/** Write a non-negative integer below 2^53 as a big-endian u64 without going through BigInt. */
export function writeU64(out: Buffer, offset: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  out.writeUInt32BE(hi, offset);
  out.writeUInt32BE(v - hi * 0x1_0000_0000, offset + 4);
}

/** Read a big-endian u64 as a number (exact below 2^53, which delivery tags never reach in a bench run). */
export function readU64(b: Buffer, offset: number): number {
  return b.readUInt32BE(offset) * 0x1_0000_0000 + b.readUInt32BE(offset + 4);
}

/** What a {@link FrameReader} reports. Every callback is optional; a missing one means "ignore". */
export interface FrameHandler {
  /**
   * Any method frame not taken by a fast path below. `payload` is a view of the read buffer valid only during the
   * call: `payload[0..4)` are class and method ids, the arguments start at 4.
   */
  method?(channel: number, classId: number, methodId: number, payload: Buffer): void;
  /** basic.deliver completed by its body: the delivery tag and the float64 timestamp in the body's first 8 bytes. */
  deliver?(channel: number, deliveryTag: number, timestamp: number): void;
  /** basic.ack from the peer (publisher confirms). */
  ack?(channel: number, deliveryTag: number, multiple: boolean): void;
  /** basic.nack from the peer. */
  nack?(channel: number, deliveryTag: number, multiple: boolean): void;
  /** A content body frame of a publish (server side) — counted, not read. */
  body?(channel: number, payload: Buffer): void;
  /** Called once after each pushed chunk has been fully processed (a natural place to flush batched writes). */
  batchEnd?(): void;
}

/** Raised on malformed input (bad frame end, oversize frame). */
export class FrameError extends Error {}

/**
 * Incremental AMQP frame reader: feed it any split of the byte stream with {@link push}. It parses frames in place
 * (views, no copies) and copies only a partial trailing frame, which is at most one frame long.
 *
 * Fast paths: basic.deliver (remembers the delivery tag until the body frame, then reads the timestamp),
 * basic.ack and basic.nack. Everything else goes to {@link FrameHandler.method}.
 */
export class FrameReader {
  #pending: Buffer | null = null;
  #handler: FrameHandler;
  #maxFrame: number;
  /**
   * Delivery tag per channel of a basic.deliver awaiting its (first) body frame; -1 when none. The bench's bodies
   * (≥ 8 bytes, far below frame-max) always arrive in one body frame, whose first 8 bytes are the timestamp.
   */
  #deliverTag = new Map<number, number>();

  constructor(handler: FrameHandler, maxFrame = 1 << 20) {
    this.#handler = handler;
    this.#maxFrame = maxFrame;
  }

  /** Feed bytes. Throws {@link FrameError} on malformed framing. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#pending !== null) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = null;
    }
    const h = this.#handler;
    let off = 0;
    const len = buf.length;
    while (len - off >= 7) {
      const size = buf.readUInt32BE(off + 3);
      if (size > this.#maxFrame) throw new FrameError(`frame of ${size} bytes exceeds ${this.#maxFrame}`);
      const end = off + 7 + size;
      if (end + 1 > len) break;
      if (buf[end] !== FRAME_END) throw new FrameError(`bad frame end 0x${(buf[end] ?? 0).toString(16)}`);
      const type = buf[off];
      const channel = buf.readUInt16BE(off + 1);
      const p = off + 7;
      if (type === FrameType.METHOD) {
        const classId = buf.readUInt16BE(p);
        const methodId = buf.readUInt16BE(p + 2);
        if (classId === 60 && methodId === 60 && h.deliver) {
          // basic.deliver: consumer-tag shortstr, delivery-tag u64, ...
          const tagLen = buf[p + 4] ?? 0;
          this.#deliverTag.set(channel, readU64(buf, p + 5 + tagLen));
        } else if (classId === 60 && methodId === 80 && h.ack) {
          h.ack(channel, readU64(buf, p + 4), ((buf[p + 12] ?? 0) & 1) === 1);
        } else if (classId === 60 && methodId === 120 && h.nack) {
          h.nack(channel, readU64(buf, p + 4), ((buf[p + 12] ?? 0) & 1) === 1);
        } else if (h.method) {
          h.method(channel, classId, methodId, buf.subarray(p, end));
        }
      } else if (type === FrameType.BODY) {
        const tag = this.#deliverTag.get(channel);
        if (tag !== undefined && tag >= 0 && h.deliver) {
          this.#deliverTag.set(channel, -1);
          h.deliver(channel, tag, size >= 8 ? buf.readDoubleLE(p) : Number.NaN);
        } else if (h.body) {
          h.body(channel, buf.subarray(p, end));
        }
      }
      // Header frames and heartbeats carry nothing the bench needs.
      off = end + 1;
    }
    if (off < len) this.#pending = Buffer.from(buf.subarray(off));
    h.batchEnd?.();
  }
}

/** Read a shortstr at `offset` of `b`; returns the string and the offset after it. */
export function readShortstr(b: Buffer, offset: number): [string, number] {
  const n = b[offset] ?? 0;
  return [b.toString('utf8', offset + 1, offset + 1 + n), offset + 1 + n];
}
