/**
 * The fast PUBLISH/PUBACK codec against mqtt-packet: the same bytes out, the same packets in, and a hand-off
 * (undefined) for everything it leaves to mqtt-packet.
 */
import fc from 'fast-check';
import mqttPacket, { type IPublishPacket, type Packet, type QoS } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { decodeFast, encodePuback, encodePublish, fastScratch } from './fast-path.js';

function parseOne(version: number, bytes: Buffer): Packet {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (e: Error) => {
    throw e;
  });
  parser.parse(bytes);
  expect(packets).toHaveLength(1);
  return packets[0] as Packet;
}

/** Decode `bytes` (one whole packet) with the fast path. */
function fast(bytes: Buffer, version: number): ReturnType<typeof decodeFast> {
  let j = 1;
  while (((bytes[j] as number) & 0x80) !== 0) j++;
  return decodeFast(bytes, 0, bytes.length, j + 1, version);
}

const publishArb = fc.record({
  version: fc.constantFrom(3, 4, 5),
  topic: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  payload: fc.uint8Array({ maxLength: 300 }),
  qos: fc.constantFrom<QoS>(0, 1, 2),
  retain: fc.boolean(),
  dup: fc.boolean(),
  messageId: fc.integer({ min: 1, max: 65535 }),
});

describe('fast PUBLISH codec', () => {
  it('encodes byte for byte as mqtt-packet does', () => {
    fc.assert(
      fc.property(publishArb, ({ version, topic, payload, qos, retain, dup, messageId }) => {
        const body = Buffer.from(payload);
        const packet = { cmd: 'publish' as const, topic, payload: body, qos, retain, dup: qos > 0 && dup, ...(qos > 0 ? { messageId } : {}) };
        const expected = mqttPacket.generate(packet, { protocolVersion: version });
        expect(encodePublish(version, topic, body, qos, retain, qos > 0 && dup, qos > 0 ? messageId : undefined)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('encodes a payload that needs a multi-byte remaining length', () => {
    const body = Buffer.alloc(20000, 7);
    const expected = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: body, qos: 1, messageId: 9, retain: false, dup: false }, { protocolVersion: 4 });
    expect(encodePublish(4, 't', body, 1, false, false, 9)).toEqual(expected);
  });

  it('decodes what mqtt-packet decodes', () => {
    fc.assert(
      fc.property(publishArb, ({ version, topic, payload, qos, retain, dup, messageId }) => {
        const bytes = mqttPacket.generate(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup, ...(qos > 0 ? { messageId } : {}) },
          { protocolVersion: version },
        );
        const ref = parseOne(version, bytes) as IPublishPacket & { payload: Buffer };
        const got = fast(bytes, version);
        expect(got).toEqual({
          cmd: 'publish',
          topic: ref.topic,
          payload: ref.payload,
          qos: ref.qos,
          dup: ref.dup,
          retain: ref.retain,
          ...(qos > 0 ? { messageId: ref.messageId } : {}),
        });
      }),
      { numRuns: 300 },
    );
  });

  it('leaves MQTT 5 properties, QoS 3 and truncated packets to mqtt-packet', () => {
    const withProps = mqttPacket.generate(
      { cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false, properties: { contentType: 'text/plain' } },
      { protocolVersion: 5 },
    );
    expect(fast(withProps, 5)).toBeUndefined();
    expect(fast(Buffer.from([0x36, 5, 0, 1, 0x61, 0, 1]), 4)).toBeUndefined(); // QoS bits 11
    expect(fast(Buffer.from([0x32, 3, 0, 9, 0x61]), 4)).toBeUndefined(); // topic longer than the packet
    expect(fast(Buffer.from([0x32, 4, 0, 1, 0x61, 0]), 4)).toBeUndefined(); // packet id cut short
    expect(fast(Buffer.from([0x30, 1, 0]), 4)).toBeUndefined();
  });
});

describe('fast PUBACK codec', () => {
  it('encodes as mqtt-packet does for 3.1.1 and for MQTT 5 reason 0', () => {
    for (const id of [1, 258, 65535]) {
      expect(encodePuback(id)).toEqual(mqttPacket.generate({ cmd: 'puback', messageId: id }, { protocolVersion: 4 }));
      expect(encodePuback(id)).toEqual(mqttPacket.generate({ cmd: 'puback', messageId: id, reasonCode: 0 }, { protocolVersion: 5 }));
    }
  });

  it('decodes a short PUBACK and leaves one with a reason code or bad flags to mqtt-packet', () => {
    expect(fast(Buffer.from([0x40, 2, 1, 2]), 4)).toEqual({ cmd: 'puback', messageId: 258 });
    expect(fast(Buffer.from([0x40, 3, 1, 2, 0x10]), 5)).toBeUndefined();
    expect(fast(Buffer.from([0x42, 2, 1, 2]), 4)).toBeUndefined();
    expect(fast(Buffer.from([0xc0, 0]), 4)).toBeUndefined(); // PINGREQ
  });
});

describe('fast PUBLISH decoding into scratch packets', () => {
  const decodeWith = (scratch: ReturnType<typeof fastScratch>, bytes: Buffer): IPublishPacket => {
    let j = 1;
    while (((bytes[j] as number) & 0x80) !== 0) j++;
    return decodeFast(bytes, 0, bytes.length, j + 1, 4, scratch) as IPublishPacket;
  };
  const publish = (topic: string, payload: Buffer): Buffer =>
    mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: 7, retain: false, dup: false });

  it('decodes each topic right when one connection repeats and changes topics (same length too)', () => {
    const scratch = fastScratch();
    const long = `${'x/'.repeat(100)}y`;
    for (const topic of ['dev/1/t', 'dev/1/t', 'dev/2/t', 'dev/2/t', 'dev/1/t', 'other', 'dev/1/t', 'é/ü', 'é/ü', long, long, 'dev/1/t', long]) {
      expect(decodeWith(scratch, publish(topic, Buffer.from('x'))).topic).toBe(topic);
    }
  });

  it('copies small and large payloads out of the read buffer', () => {
    const scratch = fastScratch();
    for (const size of [0, 1, 64, 256, 257, 5000]) {
      const payload = Buffer.alloc(size, 0x61);
      const bytes = publish('t', payload);
      const p = decodeWith(scratch, bytes);
      bytes.fill(0);
      expect(Buffer.compare(p.payload as Buffer, payload)).toBe(0);
    }
  });
});
