/**
 * Codec tests: mqtt-packet round-trips for every packet Warren sends or reads, fed whole, byte by byte and at random
 * splits; the packet reader's framing and size checks; random bytes yield packets or an error, never a crash or a hang.
 */
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PacketReader, ReadResult, type PacketSink } from './packet-reader.js';

const FIXTURES: Array<[number, Packet]> = [
  [4, { cmd: 'connect', protocolVersion: 4, protocolId: 'MQTT', clientId: 'c1', clean: true, keepalive: 30, username: 'u', password: Buffer.from('p') }],
  [5, { cmd: 'connect', protocolVersion: 5, protocolId: 'MQTT', clientId: 'c5', clean: false, keepalive: 10, properties: { sessionExpiryInterval: 60, receiveMaximum: 10 }, will: { topic: 'w', payload: Buffer.from('bye'), qos: 1, retain: true, properties: { willDelayInterval: 5 } } }],
  [4, { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 1, messageId: 42, retain: false, dup: false }],
  [5, { cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(300, 1), qos: 2, messageId: 7, retain: true, dup: true, properties: { userProperties: { k: 'v' }, contentType: 'text/plain', topicAlias: 2, correlationData: Buffer.from('id') } }],
  [4, { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'x/+', qos: 1 }, { topic: '#', qos: 0 }] }],
  [5, { cmd: 'subscribe', messageId: 3, properties: { subscriptionIdentifier: 9 }, subscriptions: [{ topic: 'x/+', qos: 2, nl: true, rap: true, rh: 1 }] }],
  [4, { cmd: 'pubrel', messageId: 5 }],
  [5, { cmd: 'disconnect', reasonCode: 0x8e }],
  [4, { cmd: 'pingreq' }],
];

function parseAll(version: number, chunks: Buffer[]): { packets: Packet[]; errors: Error[] } {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (e: Error) => errors.push(e));
  for (const c of chunks) parser.parse(c);
  return { packets, errors };
}

describe('mqtt-packet round trips', () => {
  it.each(FIXTURES.map(([v, p]) => [p.cmd, v, p] as const))('%s (v%i) whole, byte by byte and at random splits', (_cmd, version, packet) => {
    const bytes = mqttPacket.generate(packet, { protocolVersion: version });
    const whole = parseAll(version, [bytes]);
    expect(whole.errors).toEqual([]);
    expect(whole.packets).toHaveLength(1);
    expect(whole.packets[0]?.cmd).toBe(packet.cmd);
    const bytewise = parseAll(version, [...bytes].map((b) => Buffer.from([b])));
    expect(bytewise.packets).toEqual(whole.packets);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 5 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let last = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(last, p));
          last = p;
        }
        chunks.push(bytes.subarray(last));
        expect(parseAll(version, chunks).packets).toEqual(whole.packets);
      }),
      { numRuns: 30 },
    );
  });
});

/** Reads `chunks` with a PacketReader; framing verdicts and parse errors are collected. */
function readAll(chunks: Uint8Array[], max: number, fast = false): { packets: Packet[]; errors: Error[]; results: ReadResult[]; reader: PacketReader } {
  const packets: Packet[] = [];
  const errors: Error[] = [];
  const results: ReadResult[] = [];
  const sink: PacketSink = {
    onPacket: (p) => packets.push({ ...p }) > 0, // copied: fast-path packets are reused objects
    onParseError: (e) => void errors.push(e),
  };
  const reader = new PacketReader(max, sink);
  reader.fast = fast;
  for (const c of chunks) {
    const r = reader.read(Buffer.from(c.buffer, c.byteOffset, c.length));
    results.push(r);
    if (r !== ReadResult.Ok || errors.length > 0) break;
  }
  return { packets, errors, results, reader };
}

describe('PacketReader', () => {
  it('finds every boundary of a stream fed byte by byte and refuses an oversized packet before its body', () => {
    const small = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(10), qos: 0, retain: false, dup: false });
    const big = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(200), qos: 0, retain: false, dup: false });
    const bytewise = readAll([...Buffer.concat([small, small])].map((b) => Buffer.from([b])), 100);
    expect(bytewise.results.every((r) => r === ReadResult.Ok)).toBe(true);
    expect(bytewise.packets).toHaveLength(2);
    expect(bytewise.reader.atBoundary).toBe(true);
    // Only the fixed header of the big packet is needed to refuse it.
    const { results, reader } = readAll([big.subarray(0, 3)], 100);
    expect(results).toEqual([ReadResult.TooLarge]);
    expect(reader.tooLargeSize).toBe(big.length);
  });

  it('a remaining length of more than four bytes is malformed', () => {
    expect(readAll([Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])], 1e9).results).toEqual([ReadResult.MalformedLength]);
  });

  it.each(FIXTURES.map(([v, p]) => [p.cmd, v, p] as const))('%s (v%i): the same packets as mqtt-packet, whole, byte by byte and at random splits', (_cmd, version, packet) => {
    const bytes = mqttPacket.generate(packet, { protocolVersion: version });
    // The reader learns the level from a CONNECT, as mqtt-packet does; other packets are read at `version`.
    const stream = packet.cmd === 'connect' ? bytes : Buffer.concat([bytes, bytes]);
    // The fast path does not report mqtt-packet's `length` (the remaining length) of a PUBLISH or PUBACK.
    const plain = (packets: Packet[]): object[] => packets.map((p) => ({ ...p, length: undefined }));
    const expected = plain(parseAll(version, [stream]).packets);
    const at = (chunks: Buffer[]): object[] => {
      const packets: Packet[] = [];
      const reader = new PacketReader(1 << 20, { onPacket: (p) => packets.push({ ...p }) > 0, onParseError: (e) => expect.fail(e.message) });
      reader.version = version;
      reader.fast = true;
      for (const c of chunks) expect(reader.read(c)).toBe(ReadResult.Ok);
      expect(reader.atBoundary).toBe(true);
      return plain(packets);
    };
    expect(at([stream])).toEqual(expected);
    expect(at([...stream].map((b) => Buffer.from([b])))).toEqual(expected);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 5 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let last = 0;
        for (const p of points) {
          chunks.push(stream.subarray(last, p));
          last = p;
        }
        chunks.push(stream.subarray(last));
        expect(at(chunks)).toEqual(expected);
      }),
      { numRuns: 30 },
    );
  });

  it('random bytes: the reader yields packets, a framing verdict or a parse error, never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, fast) => {
        expect(() => readAll([bytes], 1000, fast)).not.toThrow();
        expect(() => parseAll(5, [Buffer.from(bytes)])).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('PacketReader fast path', () => {
  it('reuses one PUBLISH object whose payload is a copy (not a view of the read buffer), released after each packet', () => {
    const bytes = mqttPacket.generate({ cmd: 'publish', topic: 't/1', payload: Buffer.from('abc'), qos: 1, messageId: 3, retain: false, dup: false });
    const seen: Packet[] = [];
    const payloads: Buffer[] = [];
    const reader = new PacketReader(1000, {
      onPacket: (p) => {
        seen.push(p);
        if (p.cmd === 'publish') payloads.push(p.payload as Buffer);
        return true;
      },
      onParseError: (e) => expect.fail(e.message),
    });
    reader.fast = true;
    const chunk = Buffer.concat([bytes, bytes]);
    reader.read(chunk);
    expect(seen[0]).toBe(seen[1]);
    expect(reader.isScratch(seen[0] as Packet)).toBe(true);
    expect(reader.retainable(seen[0] as Packet)).not.toBe(seen[0]);
    expect((seen[0] as { payload: Buffer }).payload.length).toBe(0);
    chunk.fill(0);
    expect(payloads.map((b) => b.toString())).toEqual(['abc', 'abc']);
  });
});
