/**
 * Hand-rolled codec for the two packets on the hot path of a connected client — PUBLISH and PUBACK — so a telemetry
 * message does not build an mqtt-packet Parser (an EventEmitter, a BufferList and a Packet per chunk, since the
 * connection drops its parser between packets) nor run mqtt-packet's generic generator. Anything unusual (a
 * malformed or MQTT 5 packet with properties, any other packet type) is left to mqtt-packet, which owns the error
 * texts. Pure: no I/O.
 *
 *   PUBLISH (MQTT 3.1.1 §3.3, MQTT 5 §3.3): 0x3 | DUP<<3 | QoS<<1 | RETAIN, remaining length,
 *                                           topic (u16 length + UTF-8), packet id (u16, QoS > 0 only),
 *                                           [MQTT 5: property length (varint) + properties], payload
 *   PUBACK  (§3.4):                          0x40, 2, packet id (u16)      — MQTT 5 reason 0x00 may be omitted
 */
import type { IPubackPacket, IPublishPacket, QoS } from 'mqtt-packet';

/** A packet the fast path decoded, or undefined when mqtt-packet must handle it. */
export type FastPacket = IPublishPacket | IPubackPacket;

/**
 * Packet objects one reader reuses for every PUBLISH and PUBACK it decodes, so the hot path allocates none: a packet
 * decoded into them is valid until the reader's next packet (whoever keeps one longer copies it), and the PUBLISH's
 * payload is already a copy the receiver may keep.
 */
export interface FastScratch {
  readonly publish: IPublishPacket;
  readonly puback: IPubackPacket;
  /**
   * The last PUBLISH's topic bytes and string: a device publishes to the same topic again and again, and the same
   * bytes give back the same string instead of a new one per PUBLISH (which also keeps the topic's routing key
   * memo a hit on an already hashed string).
   */
  topicBytes: Buffer;
  topicLength: number;
  topic: string;
}

/** New scratch packets for {@link decodeFast}. */
export function fastScratch(): FastScratch {
  return {
    publish: { cmd: 'publish', topic: '', payload: EMPTY, qos: 0, dup: false, retain: false, messageId: 0 },
    puback: { cmd: 'puback', messageId: 0 },
    topicBytes: EMPTY,
    topicLength: 0,
    topic: '',
  };
}

const EMPTY = Buffer.alloc(0);
/** Payloads up to this size are copied byte by byte (see {@link decodeFast}). */
const SMALL_COPY = 256;

/** Let go of the payload of a scratch PUBLISH (it would pin its memory while the connection idles). */
export function releaseScratch(scratch: FastScratch): void {
  scratch.publish.payload = EMPTY;
}

/**
 * Decode the whole packet at `buf[start..end)` (fixed header included; the caller knows its boundaries from the
 * {@link PacketReader}) if it is a well-formed PUBLISH or PUBACK the fast path handles. `version` is the
 * connection's protocol level. The payload is a view of `buf`: copy what you keep.
 */
export function decodeFast(
  buf: Buffer,
  start: number,
  end: number,
  bodyStart: number,
  version: number,
  scratch?: FastScratch,
): FastPacket | undefined {
  const first = buf[start] as number;
  const type = first >> 4;
  const length = end - bodyStart;
  if (type === 4) {
    // MQTT 5 PUBACK with a reason code (length > 2) goes to mqtt-packet, which validates the code.
    if (first !== 0x40 || length !== 2) return undefined;
    if (scratch !== undefined) {
      scratch.puback.messageId = buf.readUInt16BE(bodyStart);
      return scratch.puback;
    }
    return { cmd: 'puback', messageId: buf.readUInt16BE(bodyStart) };
  }
  if (type !== 3) return undefined;
  const qos = (first >> 1) & 3;
  if (qos === 3 || length < 2) return undefined;
  const topicLength = buf.readUInt16BE(bodyStart);
  let pos = bodyStart + 2 + topicLength;
  if (pos > end) return undefined;
  const topic = scratch !== undefined ? topicOf(scratch, buf, bodyStart + 2, pos) : buf.toString('utf8', bodyStart + 2, pos);
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > end) return undefined;
    messageId = buf.readUInt16BE(pos);
    pos += 2;
  }
  if (version === 5) {
    // Only an empty property list (one zero byte); properties are mqtt-packet's job.
    if (pos >= end || buf[pos] !== 0) return undefined;
    pos++;
  }
  if (scratch !== undefined) {
    const p = scratch.publish;
    p.topic = topic;
    // A copy made here, so the receiver need not copy the view again.
    const size = end - pos;
    const payload = Buffer.allocUnsafe(size);
    // Buffer#copy of a range makes a view of the source first (an object per PUBLISH); a telemetry payload is
    // small enough that a plain loop costs less than that allocation.
    if (size <= SMALL_COPY) for (let k = 0; k < size; k++) payload[k] = buf[pos + k] as number;
    else buf.copy(payload, 0, pos, end);
    p.payload = payload;
    p.qos = qos as QoS;
    p.dup = (first & 0x08) !== 0;
    p.retain = (first & 0x01) !== 0;
    // Absent for QoS 0 (mqtt-packet leaves it out); kept as a field so the object keeps its shape.
    (p as { messageId: number | undefined }).messageId = messageId;
    return p;
  }
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic,
    payload: buf.subarray(pos, end),
    qos: qos as QoS,
    dup: (first & 0x08) !== 0,
    retain: (first & 0x01) !== 0,
  };
  if (messageId !== undefined) packet.messageId = messageId;
  return packet;
}

/** The topic at `buf[start..end)`: the scratch's last one when the bytes are the same. */
function topicOf(scratch: FastScratch, buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === scratch.topicLength && n > 0) {
    const last = scratch.topicBytes;
    let k = 0;
    while (k < n && last[k] === buf[start + k]) k++;
    if (k === n) return scratch.topic;
  }
  const topic = buf.toString('utf8', start, end);
  if (n <= MAX_REMEMBERED_TOPIC) {
    // One buffer per connection, reused when the topic changes (a device alternating two topics allocates nothing).
    if (scratch.topicBytes.length === 0) scratch.topicBytes = Buffer.allocUnsafe(MAX_REMEMBERED_TOPIC);
    const last = scratch.topicBytes;
    for (let k = 0; k < n; k++) last[k] = buf[start + k] as number;
    scratch.topicLength = n;
    scratch.topic = topic;
  } else scratch.topicLength = 0;
  return topic;
}

/** Longer topics are not remembered by {@link topicOf}: the byte comparison would cost more than it saves. */
const MAX_REMEMBERED_TOPIC = 128;

/** The size of the remaining-length varint for `n` (MQTT 5 §1.5.5). */
function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/**
 * Encode a PUBLISH without properties (MQTT 3.1 / 3.1.1, or MQTT 5 with an empty property list when `version` is
 * 5). `messageId` is required for QoS > 0 and ignored for QoS 0. Byte-identical to mqtt-packet's generate.
 */
export function encodePublish(
  version: number,
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  messageId: number | undefined,
): Buffer {
  const topicBytes = Buffer.byteLength(topic, 'utf8');
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + payload.length;
  const out = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  out[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
  let pos = 1;
  let n = remaining;
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out[pos++] = b;
  } while (n > 0);
  out.writeUInt16BE(topicBytes, pos);
  pos += 2;
  pos += out.write(topic, pos, 'utf8');
  if (qos > 0) {
    out.writeUInt16BE(messageId ?? 0, pos);
    pos += 2;
  }
  if (version === 5) out[pos++] = 0;
  payload.copy(out, pos);
  return out;
}

/** Encode a PUBACK with reason 0x00 (which MQTT 5 §3.4.2.1 lets us omit): 4 bytes for every version. */
export function encodePuback(messageId: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out[0] = 0x40;
  out[1] = 2;
  out.writeUInt16BE(messageId, 2);
  return out;
}
