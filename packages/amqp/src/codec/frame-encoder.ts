/**
 * AMQP 0-9-1 frame encoders (spec §4.2.3). Each computes the exact size first and writes into one
 * Buffer.allocUnsafe, so a delivery (method + content header + body frames) is one buffer and one write.
 */
import type { MessageProperties } from '@warren/core';
import {
  basicPropertiesSize,
  decodeBasicProperties,
  METHOD_IDS,
  methodPayloadSize,
  writeBasicProperties,
  writeMethodPayload,
  type AmqpMethod,
} from './methods.gen.js';
import { shortstrSize, wrLonglong, wrShortstr } from './wire.js';

/** The protocol header, "AMQP" 0 0 9 1: sent by clients first, and by a server refusing another version. */
export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** A heartbeat frame (type 8, channel 0, empty payload). */
export const HEARTBEAT_FRAME: Buffer = Buffer.from([8, 0, 0, 0, 0, 0, 0, 0xce]);

const FRAME_END = 0xce;
/** Class id of basic, the only content class. */
const BASIC = 60;

function writeFrameHead(b: Buffer, o: number, type: number, channel: number, size: number): void {
  b[o] = type;
  b.writeUInt16BE(channel, o + 1);
  b.writeUInt32BE(size, o + 3);
}

/** Encode one method frame. Throws RangeError/TypeError for values that do not fit their AMQP types. */
export function encodeMethod(channel: number, method: AmqpMethod): Buffer {
  const size = methodPayloadSize(method);
  const b = Buffer.allocUnsafe(size + 8);
  writeFrameHead(b, 0, 1, channel, size);
  writeMethodPayload(b, 7, method);
  b[7 + size] = FRAME_END;
  return b;
}

/** Largest body payload per frame for a negotiated frameMax (0 = no limit, spec §4.2.3 / connection.tune). */
function bodyChunk(frameMax: number, bodyLength: number): number {
  if (frameMax === 0) return Math.max(bodyLength, 1);
  if (frameMax <= 8) throw new RangeError(`frameMax ${frameMax} leaves no room for a body`);
  return frameMax - 8;
}

/** Bytes of the content header frame and body frames for a body of `bodyLength`. */
function contentSize(propsSize: number, bodyLength: number, chunk: number): number {
  const bodyFrames = Math.ceil(bodyLength / chunk);
  return 20 + propsSize + bodyLength + 8 * bodyFrames;
}

/** Write content header frame + body frames at `o`; returns the next offset. */
function writeContent(
  b: Buffer,
  o: number,
  channel: number,
  properties: MessageProperties,
  rawProperties: Buffer | undefined,
  propsSize: number,
  body: Buffer,
  chunk: number,
): number {
  // content header: class-id weight body-size property-flags property-list (§4.2.6.1)
  writeFrameHead(b, o, 2, channel, 12 + propsSize);
  b.writeUInt32BE(BASIC * 65536, o + 7); // class 60, weight 0
  wrLonglong(b, o + 11, body.length);
  o += 19;
  if (rawProperties !== undefined) o += rawProperties.copy(b, o);
  else o = writeBasicProperties(b, o, properties);
  b[o++] = FRAME_END;
  for (let start = 0; start < body.length; start += chunk) {
    const end = Math.min(start + chunk, body.length);
    writeFrameHead(b, o, 3, channel, end - start);
    o += 7;
    o += body.copy(b, o, start, end);
    b[o++] = FRAME_END;
  }
  return o;
}

/**
 * Method frame + content header + body frames (bodies split to frameMax), in ONE buffer. `rawProperties`, when
 * given, is written verbatim (property flags + list) instead of encoding `properties`.
 */
export function encodeMethodWithContent(
  channel: number,
  method: AmqpMethod,
  properties: MessageProperties,
  rawProperties: Buffer | undefined,
  body: Buffer,
  frameMax: number,
): Buffer {
  if (!METHOD_IDS[method.name].hasContent) throw new TypeError(`${method.name} carries no content`);
  const chunk = bodyChunk(frameMax, body.length);
  const methodSize = methodPayloadSize(method);
  const propsSize = rawProperties !== undefined ? rawProperties.length : basicPropertiesSize(properties);
  const b = Buffer.allocUnsafe(methodSize + 8 + contentSize(propsSize, body.length, chunk));
  writeFrameHead(b, 0, 1, channel, methodSize);
  writeMethodPayload(b, 7, method);
  b[7 + methodSize] = FRAME_END;
  writeContent(b, 8 + methodSize, channel, properties, rawProperties, propsSize, body, chunk);
  return b;
}

/**
 * Hot path: basic.deliver + content header + body frames in one buffer, without building an AmqpMethod object.
 * Equivalent to encodeMethodWithContent with a `basic.deliver` method.
 */
export function encodeBasicDeliver(
  channel: number,
  consumerTag: string,
  deliveryTag: number,
  redelivered: boolean,
  exchange: string,
  routingKey: string,
  properties: MessageProperties,
  rawProperties: Buffer | undefined,
  body: Buffer,
  frameMax: number,
): Buffer {
  const chunk = bodyChunk(frameMax, body.length);
  // class+method ids (4), consumer-tag, delivery-tag (8), redelivered bit (1), exchange, routing-key
  const methodSize = 13 + shortstrSize(consumerTag) + shortstrSize(exchange) + shortstrSize(routingKey);
  const propsSize = rawProperties !== undefined ? rawProperties.length : basicPropertiesSize(properties);
  const b = Buffer.allocUnsafe(methodSize + 8 + contentSize(propsSize, body.length, chunk));
  writeFrameHead(b, 0, 1, channel, methodSize);
  b.writeUInt32BE(0x003c003c, 7); // basic.deliver = 60/60
  let o = wrShortstr(b, 11, consumerTag);
  o = wrLonglong(b, o, deliveryTag);
  b[o++] = redelivered ? 1 : 0;
  o = wrShortstr(b, o, exchange);
  o = wrShortstr(b, o, routingKey);
  b[o++] = FRAME_END;
  writeContent(b, o, channel, properties, rawProperties, propsSize, body, chunk);
  return b;
}

/** Encode content properties: 16-bit property flags + property list (the form of `rawProperties`). */
export function encodeProperties(properties: MessageProperties): Buffer {
  const b = Buffer.allocUnsafe(basicPropertiesSize(properties));
  writeBasicProperties(b, 0, properties);
  return b;
}

/** Decode content properties (flags + list). Throws AmqpProtocolError 502 when malformed. */
export function decodeProperties(buf: Buffer): MessageProperties {
  return decodeBasicProperties(buf, 0, buf.length);
}
