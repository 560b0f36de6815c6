/**
 * Method, content-header and field-table codecs: golden bytes produced independently by amqplib's codec, hand-written
 * hex fixtures, and fast-check round trips. The method list is read from the spec JSON here, not from the generated
 * file, so a generator bug cannot hide itself.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecimalValue, FieldTable, FieldValue, MessageProperties } from '@warren/core';
import {
  AmqpProtocolError,
  decodeProperties,
  decodeTable,
  encodeBasicDeliver,
  encodeMethod,
  encodeMethodWithContent,
  encodeProperties,
  encodeTable,
  FrameParser,
  METHOD_IDS,
  methodName,
  PROTOCOL_HEADER,
  type AmqpMethod,
  type Frame,
} from './index.js';

const require = createRequire(import.meta.url);
interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
}
// amqplib's generated codec (lib/defs.js): an independent implementation of the same spec JSON. Its package.json
// "exports" hides lib/, so resolve the entry point and load the file next to it.
const defs = require(join(dirname(require.resolve('amqplib')), 'lib', 'defs.js')) as AmqplibDefs;

// ---------------------------------------------------------------------------------------------------------------
// The spec, read independently of the generator.
interface SpecArg { name: string; type?: string; domain?: string }
interface Spec {
  domains: [string, string][];
  classes: { name: string; id: number; methods: { name: string; id: number; content?: boolean; arguments: SpecArg[] }[]; properties?: SpecArg[] }[];
}
const specPath = fileURLToPath(new URL('../../spec/amqp-rabbitmq-0.9.1.json', import.meta.url));
const spec = JSON.parse(readFileSync(specPath, 'utf8')) as Spec;
const domainType = new Map(spec.domains);
const typeOf = (a: SpecArg): string => domainType.get(a.type ?? a.domain ?? '') ?? a.type ?? '';
const camel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const specMethods = spec.classes.flatMap((c) =>
  c.methods.map((m) => ({
    name: `${c.name}.${m.name}` as AmqpMethod['name'],
    classId: c.id,
    methodId: m.id,
    hasContent: m.content === true,
    args: m.arguments.map((a) => ({ key: camel(a.name), type: typeOf(a) })),
  })),
);

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries.
const shortstr = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 255);
const longstr = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
const decimal = fc.record({ scale: fc.integer({ min: 0, max: 255 }), value: fc.integer({ min: 0, max: 0xffffffff }) })
  .map((d): DecimalValue => ({ ...d, $decimal: true }));
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const { value: fieldValue, table: fieldTable } = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string(),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    int64,
    fc.constant(null),
    longstr,
    fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => new Date(s * 1000)),
    decimal,
    fc.array(tie('value'), { maxLength: 4 }),
    tie('table'),
  ),
  table: fc.dictionary(shortstr, tie('value'), { maxKeys: 5 }).map((t) => t as FieldTable),
}));

const ARB: Record<string, fc.Arbitrary<unknown>> = {
  bit: fc.boolean(),
  octet: fc.integer({ min: 0, max: 255 }),
  short: fc.integer({ min: 0, max: 0xffff }),
  long: fc.integer({ min: 0, max: 0xffffffff }),
  longlong: fc.maxSafeNat(),
  timestamp: fc.maxSafeNat(),
  shortstr,
  longstr,
  table: fieldTable,
};

function methodArb(m: (typeof specMethods)[number]): fc.Arbitrary<AmqpMethod> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const a of m.args) rec[a.key] = ARB[a.type]!;
  return fc.record(rec).map((f) => ({ name: m.name, ...f }) as AmqpMethod);
}

const propertiesArb: fc.Arbitrary<MessageProperties> = fc.record(
  {
    contentType: shortstr, contentEncoding: shortstr, headers: fieldTable,
    deliveryMode: fc.integer({ min: 0, max: 255 }), priority: fc.integer({ min: 0, max: 255 }),
    correlationId: shortstr, replyTo: shortstr, expiration: shortstr, messageId: shortstr,
    timestamp: fc.maxSafeNat(), type: shortstr, userId: shortstr, appId: shortstr, clusterId: shortstr,
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

/** What decoding gives back for a value, per API.md: unsafe integer numbers come back as bigint, safe bigints as numbers. */
function normalize(v: FieldValue | undefined): FieldValue {
  if (v === undefined) return null;
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) return BigInt(v);
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v) || v instanceof Date || '$decimal' in v) return v;
  return normalizeTable(v);
}
function normalizeTable(t: FieldTable): FieldTable {
  const out: FieldTable = {};
  // defineProperty: a key named __proto__ must stay data, as the decoder keeps it.
  for (const k of Object.keys(t)) Object.defineProperty(out, k, { value: normalize(t[k]), enumerable: true, writable: true, configurable: true });
  return out;
}
function normalizeMethod(m: AmqpMethod): AmqpMethod {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = v !== null && typeof v === 'object' && !Buffer.isBuffer(v) ? normalizeTable(v as FieldTable) : v;
  return out as unknown as AmqpMethod;
}

/** Our field values in amqplib's typed notation, following API.md's encoding rules (independently of our encoder). */
function toAmqplib(v: FieldValue): unknown {
  switch (typeof v) {
    case 'number':
      if (Number.isInteger(v) && !Object.is(v, -0) && v >= -(2 ** 31) && v < 2 ** 31) return { '!': 'int', value: v };
      if (Number.isInteger(v) && !Object.is(v, -0) && v >= -(2 ** 63) && v < 2 ** 63) return { '!': 'long', value: BigInt(v) };
      return { '!': 'double', value: v };
    case 'bigint':
      return { '!': 'long', value: v };
    case 'object':
      if (v === null || Buffer.isBuffer(v)) return v;
      if (v instanceof Date) return { '!': 'timestamp', value: Math.floor(v.getTime() / 1000) };
      if (Array.isArray(v)) return v.map(toAmqplib);
      if ('$decimal' in v) return { '!': 'decimal', value: { places: (v as DecimalValue).scale, digits: (v as DecimalValue).value } };
      // Tagged: amqplib reads an object with a '!' key as a type tag, so a nested table with such a key would be
      // misread (fast-check found one).
      return { '!': 'object', value: tableToAmqplib(v) };
    default:
      return v;
  }
}
function tableToAmqplib(t: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(t)) Object.defineProperty(out, k, { value: toAmqplib(t[k]!), enumerable: true, writable: true, configurable: true });
  return out;
}
function fieldsToAmqplib(m: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'name') continue;
    out[k] = v !== null && typeof v === 'object' && !Buffer.isBuffer(v) ? tableToAmqplib(v as FieldTable) : v;
  }
  return out;
}

/** Parse a complete stream (protocol header prepended). */
function parseAll(bytes: Buffer, frameMax = 131072): Frame[] {
  const frames: Frame[] = [];
  new FrameParser({ frameMax }).push(Buffer.concat([PROTOCOL_HEADER, bytes]), (f) => frames.push(f));
  return frames;
}

// ---------------------------------------------------------------------------------------------------------------

describe('method table', () => {
  it('has every method of the spec with its ids and content flag, and nothing else', () => {
    expect(Object.keys(METHOD_IDS).sort()).toEqual(specMethods.map((m) => m.name).sort());
    for (const m of specMethods) {
      expect(METHOD_IDS[m.name]).toEqual({ classId: m.classId, methodId: m.methodId, hasContent: m.hasContent });
      expect(methodName(m.classId, m.methodId)).toBe(m.name);
    }
    expect(methodName(60, 99)).toBeUndefined();
    expect(methodName(0, 0)).toBeUndefined();
  });

  it("follows RabbitMQ's quirk: exchange.unbind-ok is method 51", () => {
    expect(METHOD_IDS['exchange.unbind-ok']).toEqual({ classId: 40, methodId: 51, hasContent: false });
  });
});

describe('golden bytes against amqplib', () => {
  for (const m of specMethods) {
    it(`${m.name} encodes like amqplib and decodes amqplib's bytes`, () => {
      fc.assert(
        fc.property(methodArb(m), fc.integer({ min: 0, max: 0xffff }), (method, channel) => {
          const theirs = defs.encodeMethod(m.classId * 65536 + m.methodId, channel, fieldsToAmqplib(method));
          expect(encodeMethod(channel, method).toString('hex')).toBe(theirs.toString('hex'));
          expect(parseAll(theirs)).toEqual([{ type: 'method', channel, method: normalizeMethod(method) }]);
        }),
        { numRuns: 15 },
      );
    });
  }

  it('content header: properties encode like amqplib (flags bit 15 = content-type) and decode back', () => {
    fc.assert(
      fc.property(propertiesArb, fc.maxSafeNat(), (props, bodySize) => {
        const amq: Record<string, unknown> = { ...props };
        if (props.headers !== undefined) amq['headers'] = tableToAmqplib(props.headers);
        const theirs = defs.encodeProperties(60, 3, bodySize, amq);
        expect(encodeProperties(props).toString('hex')).toBe(theirs.subarray(19, theirs.length - 1).toString('hex'));
        const expected = { ...props };
        if (props.headers !== undefined) expected.headers = normalizeTable(props.headers);
        expect(parseAll(theirs)).toEqual([
          { type: 'header', channel: 3, classId: 60, bodySize, properties: expected, rawProperties: theirs.subarray(19, theirs.length - 1) },
        ]);
      }),
      { numRuns: 200 },
    );
  });

  it('basic.deliver with content equals amqplib method + header + body frames', () => {
    fc.assert(
      fc.property(
        shortstr, fc.maxSafeNat(), fc.boolean(), shortstr, shortstr, propertiesArb, fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 9, max: 200 }),
        (consumerTag, deliveryTag, redelivered, exchange, routingKey, props, bodyBytes, frameMax) => {
          const body = Buffer.from(bodyBytes);
          const fields = { consumerTag, deliveryTag, redelivered, exchange, routingKey };
          const amq: Record<string, unknown> = { ...props };
          if (props.headers !== undefined) amq['headers'] = tableToAmqplib(props.headers);
          const chunks = [defs.encodeMethod(0x003c003c, 7, fields), defs.encodeProperties(60, 7, body.length, amq)];
          for (let i = 0; i < body.length; i += frameMax - 8) {
            const part = body.subarray(i, i + frameMax - 8);
            const head = Buffer.from([3, 0, 7, 0, 0, 0, 0]);
            head.writeUInt32BE(part.length, 3);
            chunks.push(head, part, Buffer.from([0xce]));
          }
          const expected = Buffer.concat(chunks).toString('hex');
          expect(encodeBasicDeliver(7, consumerTag, deliveryTag, redelivered, exchange, routingKey, props, undefined, body, frameMax).toString('hex')).toBe(expected);
          expect(encodeMethodWithContent(7, { name: 'basic.deliver', ...fields }, props, undefined, body, frameMax).toString('hex')).toBe(expected);
          // rawProperties are written verbatim instead of the properties
          const raw = encodeProperties(props);
          expect(encodeBasicDeliver(7, consumerTag, deliveryTag, redelivered, exchange, routingKey, {}, raw, body, frameMax).toString('hex')).toBe(expected);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('hand-written fixtures (AMQP 0-9-1 §4.2)', () => {
  const fixtures: { hex: string; channel: number; method: AmqpMethod }[] = [
    {
      hex: '01 0000 0000000c 000a001e 07ff 00020000 003c ce',
      channel: 0,
      method: { name: 'connection.tune', channelMax: 2047, frameMax: 131072, heartbeat: 60 },
    },
    {
      hex: '01 0001 0000000e 003c0028 0000 00 05 68656c6c6f 01 ce',
      channel: 1,
      method: { name: 'basic.publish', ticket: 0, exchange: '', routingKey: 'hello', mandatory: true, immediate: false },
    },
    {
      // durable (bit 1) and auto-delete (bit 3) packed in one octet; arguments {x-max-priority: I 10}
      hex: '01 0002 00000021 0032000a 0000 01 71 0a 00000014 0e 782d6d61782d7072696f72697479 49 0000000a ce',
      channel: 2,
      method: {
        name: 'queue.declare', ticket: 0, queue: 'q', passive: false, durable: true, exclusive: false, autoDelete: true,
        nowait: false, arguments: { 'x-max-priority': 10 },
      },
    },
    { hex: '01 0001 00000004 00280033 ce', channel: 1, method: { name: 'exchange.unbind-ok' } },
    {
      hex: '01 0000 0000001c 000a0032 0140 11 434f4e4e454354494f4e5f464f52434544 0000 0000 ce',
      channel: 0,
      method: { name: 'connection.close', replyCode: 320, replyText: 'CONNECTION_FORCED', classId: 0, methodId: 0 },
    },
  ];
  for (const f of fixtures) {
    it(`${f.method.name}`, () => {
      const bytes = Buffer.from(f.hex.replace(/ /g, ''), 'hex');
      expect(encodeMethod(f.channel, f.method)).toEqual(bytes);
      expect(parseAll(bytes)).toEqual([{ type: 'method', channel: f.channel, method: f.method }]);
    });
  }

  it('basic.deliver + content header (content-type, delivery-mode: flags 0x9000) + body', () => {
    const hex =
      '01 0001 00000015 003c003c 04 63746167 0000000000000001 01 00 01 71 ce' +
      '02 0001 0000001a 003c 0000 0000000000000005 9000 0a 746578742f706c61696e 02 ce' +
      '03 0001 00000005 68656c6c6f ce';
    const bytes = Buffer.from(hex.replace(/ /g, ''), 'hex');
    const props = { contentType: 'text/plain', deliveryMode: 2 };
    const body = Buffer.from('hello');
    expect(encodeBasicDeliver(1, 'ctag', 1, true, '', 'q', props, undefined, body, 131072)).toEqual(bytes);
    expect(parseAll(bytes)).toEqual([
      { type: 'method', channel: 1, method: { name: 'basic.deliver', consumerTag: 'ctag', deliveryTag: 1, redelivered: true, exchange: '', routingKey: 'q' } },
      { type: 'header', channel: 1, classId: 60, bodySize: 5, properties: props, rawProperties: Buffer.from('9000 0a 746578742f706c61696e 02'.replace(/ /g, ''), 'hex') },
      { type: 'body', channel: 1, payload: body },
    ]);
  });

  it('splits a body to frameMax and writes no body frame for an empty body', () => {
    const body = Buffer.alloc(10000, 7);
    const method: AmqpMethod = { name: 'basic.publish', ticket: 0, exchange: 'x', routingKey: 'k', mandatory: false, immediate: false };
    const frames = parseAll(encodeMethodWithContent(5, method, {}, undefined, body, 4096), 4096);
    expect(frames.map((f) => (f.type === 'body' ? f.payload.length : f.type))).toEqual(['method', 'header', 4088, 4088, 1824]);
    expect(Buffer.concat(frames.flatMap((f) => (f.type === 'body' ? [f.payload] : [])))).toEqual(body);
    expect(parseAll(encodeMethodWithContent(5, method, {}, undefined, Buffer.alloc(0), 4096)).map((f) => f.type)).toEqual(['method', 'header']);
  });

  it('refuses content for a method without content, and short strings over 255 bytes', () => {
    expect(() => encodeMethodWithContent(1, { name: 'basic.qos-ok' }, {}, undefined, Buffer.alloc(1), 4096)).toThrow(TypeError);
    expect(() => encodeMethod(1, { name: 'basic.consume-ok', consumerTag: 'é'.repeat(128) })).toThrow(RangeError);
    expect(encodeMethod(1, { name: 'basic.consume-ok', consumerTag: 'é'.repeat(127) + 'a' }).length).toBe(7 + 4 + 1 + 255 + 1);
  });
});

describe('round trips (fast-check)', () => {
  it('every method: decode(encode(m)) = m', () => {
    const all = fc.oneof(...specMethods.map(methodArb));
    fc.assert(
      fc.property(all, fc.integer({ min: 0, max: 0xffff }), (method, channel) => {
        expect(parseAll(encodeMethod(channel, method))).toEqual([{ type: 'method', channel, method: normalizeMethod(method) }]);
      }),
      { numRuns: 1000 },
    );
  });

  it('properties: decodeProperties(encodeProperties(p)) = p', () => {
    fc.assert(
      fc.property(propertiesArb, (props) => {
        const expected = { ...props };
        if (props.headers !== undefined) expected.headers = normalizeTable(props.headers);
        expect(decodeProperties(encodeProperties(props))).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('field tables: decodeTable(encodeTable(t)) = t, ending where the table ends', () => {
    fc.assert(
      fc.property(fieldTable, fc.uint8Array({ maxLength: 4 }), (table, pad) => {
        const bytes = Buffer.concat([Buffer.from(pad), encodeTable(table)]);
        expect(decodeTable(bytes, pad.length)).toEqual({ table: normalizeTable(table), end: bytes.length });
      }),
      { numRuns: 500 },
    );
  });
});

describe('field tables (RabbitMQ field types)', () => {
  const decode = (hex: string): FieldTable => decodeTable(Buffer.from(hex.replace(/ /g, ''), 'hex'), 0).table;

  it('decodes every RabbitMQ value type', () => {
    const body =
      '01 61 74 01' + // a: t true
      '01 62 62 ff' + // b: b -1
      '01 63 42 ff' + // c: B 255
      '01 64 73 ff fe' + // d: s -2 (signed 16-bit, RabbitMQ errata)
      '01 65 75 ff fe' + // e: u 65534
      '01 66 49 ff ff ff fd' + // f: I -3
      '01 67 69 ff ff ff fd' + // g: i 4294967293
      '01 68 6c ff ff ff ff ff ff ff fc' + // h: l -4
      '01 69 6c 7f ff ff ff ff ff ff ff' + // i: l 2^63-1 (unsafe → bigint)
      '01 6a 66 3f c0 00 00' + // j: f 1.5
      '01 6b 64 40 04 00 00 00 00 00 00' + // k: d 2.5
      '01 6c 44 02 00 00 30 39' + // l: D 123.45
      '01 6d 53 00 00 00 02 c3 a9' + // m: S "é"
      '01 6e 78 00 00 00 02 01 02' + // n: x <01 02>
      '01 6f 41 00 00 00 05 74 00 56 42 05' + // o: A [false, null, 5]
      '01 70 54 00 00 00 00 5f 5e 10 00' + // p: T 1600000000
      '01 71 46 00 00 00 03 01 7a 56' + // q: F {z: null}
      '01 72 56'; // r: V
    const bytes = body.replace(/ /g, '');
    const len = (bytes.length / 2).toString(16).padStart(8, '0');
    expect(decode(len + bytes)).toEqual({
      a: true, b: -1, c: 255, d: -2, e: 65534, f: -3, g: 4294967293, h: -4, i: 2n ** 63n - 1n, j: 1.5, k: 2.5,
      l: { scale: 2, value: 12345, $decimal: true }, m: 'é', n: Buffer.from([1, 2]), o: [false, null, 5],
      p: new Date(1600000000 * 1000), q: { z: null }, r: null,
    });
  });

  it('encodes per API.md: S, t, I, l, d, V, x, T, A, D, F', () => {
    const enc = (v: FieldValue): string => encodeTable({ k: v }).subarray(6).toString('hex');
    expect(enc('hi')).toBe('530000000268' + '69');
    expect(enc(true)).toBe('7401');
    expect(enc(-5)).toBe('49fffffffb');
    expect(enc(2 ** 40)).toBe('6c0000010000000000');
    expect(enc(5n)).toBe('6c0000000000000005');
    expect(enc(0.5)).toBe('643fe0000000000000');
    expect(enc(-0)).toBe('648000000000000000');
    expect(enc(null)).toBe('56');
    expect(enc(Buffer.from([9]))).toBe('780000000109');
    expect(enc(new Date(1600000000 * 1000 + 999))).toBe('54000000005f5e1000');
    expect(enc([1])).toBe('41000000054900000001');
    expect(enc({ scale: 2, value: 12345, $decimal: true })).toBe('440200003039');
    expect(enc({ a: false })).toBe('460000000401617400');
  });

  it('rejects unknown types, truncation and absurd nesting with 502, never a stack overflow', () => {
    expect(() => decode('00000003 01 61 5a')).toThrow(expect.objectContaining({ replyCode: 502 }));
    expect(() => decode('00000005 01 61 49 00')).toThrow(expect.objectContaining({ replyCode: 502 }));
    expect(() => decode('00000010 01 61')).toThrow(expect.objectContaining({ replyCode: 502 }));
    // {a: [[[[...]]]]}: 20000 nested arrays, each 'A' + the length of what it contains.
    const depth = 20000;
    const t = Buffer.alloc(4 + 2 + depth * 5);
    t.writeUInt32BE(t.length - 4, 0);
    t[4] = 1;
    t[5] = 0x61;
    for (let k = 0; k < depth; k++) {
      t[6 + k * 5] = 0x41;
      t.writeUInt32BE(5 * (depth - 1 - k), 7 + k * 5);
    }
    expect(() => decodeTable(t, 0)).toThrow(expect.objectContaining({ replyCode: 502 }));
  });

  it('keeps a header named __proto__ as data', () => {
    const t = decode('0000000c 09 5f5f70726f746f5f5f 74 01');
    expect(Object.getPrototypeOf(t)).toBe(Object.prototype);
    expect(Object.keys(t)).toEqual(['__proto__']);
  });
});
