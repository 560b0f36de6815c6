/**
 * Bad input as a property: after CONNECT, any sequence of well-formed, ill-formed and out-of-place packets and raw
 * garbage is answered or closes that connection with a reason, never an internal error (the state machine's catch-all
 * logs at error level), and a well-behaved client on the same broker keeps being served.
 */
import { Broker, silentLogger, type Logger } from '@warren/core';
import fc from 'fast-check';
import type { Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { createMqttService } from '../index.js';
import { RawClient } from '../testing/mqtt-test-server.js';

const topic = fc.constantFrom('a', 'a/b', 'a/+', '#', '', '$SYS/x', 'a\u0000b', 'é/ü', 'x'.repeat(300));
const filter = fc.constantFrom('a', 'a/#', '+/b', '#', '', 'a/#/b', 'a+', '$share/g/a/+', '$share//a', '$share/g', '$SYS/#');
const id = fc.integer({ min: 1, max: 4 });
const qos = fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>;

const packet: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({
    cmd: fc.constant('publish' as const),
    topic,
    payload: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    qos,
    messageId: id,
    retain: fc.boolean(),
    dup: fc.boolean(),
    properties: fc.option(fc.record({ topicAlias: fc.integer({ min: 0, max: 70 }), payloadFormatIndicator: fc.boolean() }), { nil: undefined }),
  }),
  fc.record({
    cmd: fc.constant('subscribe' as const),
    messageId: id,
    subscriptions: fc.array(fc.record({ topic: filter, qos, nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2) }), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
  fc.record({ cmd: fc.constant('unsubscribe' as const), messageId: id, unsubscriptions: fc.array(filter, { minLength: 1, maxLength: 2 }) }),
  fc.record({ cmd: fc.constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const), messageId: id }),
  fc.constant({ cmd: 'pingreq' as const }),
  fc.constant({ cmd: 'connect' as const, clientId: 'again', protocolVersion: 4 as const, clean: true, keepalive: 0 }),
) as fc.Arbitrary<Packet>;

type Step = { packet: Packet } | { bytes: Uint8Array };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: packet.map((p) => ({ packet: p })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }).map((bytes) => ({ bytes })) },
);

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('hostile input after CONNECT (property)', () => {
  it('any mix of packets and garbage is answered or closes with a reason; no internal error; a bystander is still served', async () => {
    const errors: unknown[] = [];
    const logger: Logger = { ...silentLogger, error: (o: unknown) => void errors.push(o), child: () => logger };
    const broker = new Broker({ logger: silentLogger });
    const service = createMqttService({ broker, logger, dataDir: '', options: { maxFrameSize: 4096 } });
    try {
      const bystander = new RawClient(service, 4);
      await bystander.connect({ clientId: 'bystander' });
      bystander.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 1 }] });
      await bystander.next('suback');
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(3, 4, 5) as fc.Arbitrary<3 | 4 | 5>, fc.array(step, { maxLength: 12 }), async (version, steps) => {
          errors.length = 0;
          const c = new RawClient(service, version);
          const ack = await c.connect({ clientId: `fuzz-${n++}`, protocolVersion: version });
          expect(version === 5 ? ack.reasonCode : ack.returnCode).toBe(0);
          for (const s of steps) {
            if (c.closed) break;
            if ('bytes' in s) c.sendBytes(Buffer.from(s.bytes));
            else {
              try {
                c.send(s.packet);
              } catch {
                continue; // mqtt-packet refuses to encode it; the raw bytes arm covers what it cannot
              }
            }
            await turn();
          }
          await turn();
          c.close();
          await turn();
          expect(errors).toEqual([]);
        }),
        { numRuns: 200 },
      );
      bystander.send({ cmd: 'pingreq' });
      await bystander.next('pingresp');
      expect(bystander.closed).toBe(false);
    } finally {
      await service.close();
      broker.close();
    }
  }, 60_000);
});

describe('packets the fuzzer found', () => {
  it('SUBSCRIBE or UNSUBSCRIBE with no topic filter, or a property or packet id mqtt-packet could not read, is a protocol error, not an internal one', async () => {
    const errors: unknown[] = [];
    const logger: Logger = { ...silentLogger, error: (o: unknown) => void errors.push(o), child: () => logger };
    const broker = new Broker({ logger: silentLogger });
    const service = createMqttService({ broker, logger, dataDir: '', options: { maxFrameSize: 4096 } });
    try {
      for (const version of [3, 4, 5] as const) {
        // SUBSCRIBE (0x82) and UNSUBSCRIBE (0xa2), packet id 1, nothing after (an empty property block for MQTT 5).
        for (const first of [0x82, 0xa2]) {
          const c = new RawClient(service, version);
          await c.connect({ clientId: `empty-${version}-${first}`, protocolVersion: version });
          c.sendBytes(version === 5 ? [first, 3, 0, 1, 0] : [first, 2, 0, 1]);
          await c.waitClosed();
          expect(c.packets.filter((p) => p.cmd === 'suback' || p.cmd === 'unsuback')).toEqual([]);
          if (version === 5) expect(c.packets.find((p) => p.cmd === 'disconnect')).toMatchObject({ reasonCode: 0x82 });
        }
      }
      // A PUBLISH whose Content Type says 5 bytes where the packet has none left: mqtt-packet hands it over as null.
      const c = new RawClient(service, 5);
      await c.connect({ clientId: 'null-property', protocolVersion: 5 });
      c.sendBytes([0x30, 7, 0, 1, 0x74, 3, 0x03, 0x00, 0x05]);
      await c.waitClosed();
      expect(c.packets.find((p) => p.cmd === 'disconnect')).toMatchObject({ reasonCode: 0x81 });
      // A PUBLISH with its Content Type twice (0x03 'a', 0x03 'b'): mqtt-packet makes it an array.
      const twice = new RawClient(service, 5);
      await twice.connect({ clientId: 'twice', protocolVersion: 5 });
      twice.sendBytes([0x31, 13, 0, 1, 0x74, 8, 0x03, 0, 1, 0x61, 0x03, 0, 1, 0x62, 0x78]);
      await twice.waitClosed();
      expect(twice.packets.find((p) => p.cmd === 'disconnect')).toMatchObject({ reasonCode: 0x81 });
      // A PUBREL with one byte where its packet identifier needs two: mqtt-packet reads the identifier as -1.
      for (const version of [4, 5] as const) {
        const d = new RawClient(service, version);
        await d.connect({ clientId: `short-pubrel-${version}`, protocolVersion: version });
        d.sendBytes([0x62, 1, 7]);
        await d.waitClosed();
        expect(d.packets.filter((p) => p.cmd === 'pubcomp')).toEqual([]);
      }
      expect(errors).toEqual([]);
    } finally {
      await service.close();
      broker.close();
    }
  });
});
