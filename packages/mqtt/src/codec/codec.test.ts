/**
 * Codec tests: mqtt-packet round-trips for every packet Warren sends or reads, fed whole, byte by byte and at random
 * splits; the packet scanner's size checks; random bytes yield packets or an error, never a crash or a hang.
 */
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PacketScanner } from './packet-scanner.js';

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

describe('PacketScanner', () => {
  it('finds every boundary of a stream fed byte by byte and refuses an oversized packet before its body', () => {
    const small = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(10), qos: 0, retain: false, dup: false });
    const big = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(200), qos: 0, retain: false, dup: false });
    const scanner = new PacketScanner(100);
    for (const b of Buffer.concat([small, small])) expect(scanner.scan(Buffer.from([b]))).toEqual({ ok: true });
    // Only the fixed header of the big packet is needed to refuse it.
    const verdict = scanner.scan(big.subarray(0, 3));
    expect(verdict).toEqual({ ok: false, reason: 'too-large', size: big.length, packetType: 3 });
  });

  it('a remaining length of more than four bytes is malformed', () => {
    expect(new PacketScanner(1e9).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual({ ok: false, reason: 'malformed-length' });
  });

  it('random bytes: the parser yields packets or errors, never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const scanner = new PacketScanner(1000);
        scanner.scan(bytes);
        expect(() => parseAll(5, [Buffer.from(bytes)])).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});
