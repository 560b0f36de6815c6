/**
 * Keeps the load tool (bench/) from rotting: its wire encoder and frame reader on known bytes, its histogram and
 * workload generator, and a very short in-process run against its do-nothing server. No timing assertions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRatio, parseArgs } from '../../bench/src/cli.js';
import { Histogram } from '../../bench/src/histogram.js';
import { startNullServer, type NullServer } from '../../bench/src/null-server.js';
import { SCENARIOS, runScenario, topicWorkload } from '../../bench/src/runner.js';
import {
  ArgWriter,
  FrameError,
  FrameReader,
  M,
  deliverTemplate,
  methodFrame,
  publishTemplate,
  writeAck,
  writeU64,
} from '../../bench/src/wire.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('bench wire encoder', () => {
  it('encodes connection.tune-ok as AMQP 0-9-1 §4.2.3 frames it', () => {
    const f = methodFrame(0, M.connectionTuneOk, new ArgWriter().u16(2047).u32(131072).u16(0));
    expect(hex(f)).toBe('01' + '0000' + '0000000c' + '000a' + '001f' + '07ff' + '00020000' + '0000' + 'ce');
  });

  it('encodes basic.ack (delivery tag u64, multiple bit)', () => {
    const out = Buffer.alloc(21);
    expect(writeAck(out, 0, 3, 0x1_0000_0002, true)).toBe(21);
    expect(hex(out)).toBe('01' + '0003' + '0000000d' + '003c' + '0050' + '0000000100000002' + '01' + 'ce');
  });

  it('encodes field tables with the types the handshake uses', () => {
    const t = new ArgWriter().table({ a: 'x', b: true, c: { d: 7 } }).bytes();
    // longstr-prefixed: "a" S "x" | "b" t 1 | "c" F { "d" I 7 }
    expect(hex(t)).toBe(
      '0000001a' + '0161' + '53' + '00000001' + '78' + '0162' + '74' + '01' + '0163' + '46' + '00000007' + '0164' + '49' + '00000007',
    );
  });

  it('pre-encodes publish = method + header + body with the timestamp slot at the body start', () => {
    const t = publishTemplate(1, 'ex', 'rk', 100);
    const method = '01' + '0001' + '0000000d' + '003c' + '0028' + '0000' + '02' + '6578' + '02' + '726b' + '00' + 'ce';
    const header = '02' + '0001' + '0000000e' + '003c' + '0000' + '0000000000000064' + '0000' + 'ce';
    expect(hex(t.bytes.subarray(0, 21))).toBe(method);
    expect(hex(t.bytes.subarray(21, 43))).toBe(header);
    expect(hex(t.bytes.subarray(43, 50))).toBe('03' + '0001' + '00000064');
    expect(t.timestampOffset).toBe(50);
    expect(t.bytes.length).toBe(21 + 22 + 8 + 100);
    expect(t.bytes[t.bytes.length - 1]).toBe(0xce);
  });
});

describe('bench frame reader', () => {
  function delivery(tag: number, stamp: number): Buffer {
    const t = deliverTemplate(1, 'ctag', '', 'q', 100);
    const b = Buffer.from(t.bytes);
    writeU64(b, t.deliveryTagOffset, tag);
    b.writeDoubleLE(stamp, t.timestampOffset);
    return b;
  }

  function collect(chunks: Buffer[]): { delivers: Array<[number, number]>; acks: Array<[number, boolean]>; methods: string[] } {
    const delivers: Array<[number, number]> = [];
    const acks: Array<[number, boolean]> = [];
    const methods: string[] = [];
    const r = new FrameReader({
      deliver: (_ch, tag, ts) => delivers.push([tag, ts]),
      ack: (_ch, tag, multiple) => acks.push([tag, multiple]),
      method: (ch, cls, mth) => methods.push(`${ch}:${cls}.${mth}`),
    });
    for (const c of chunks) r.push(c);
    return { delivers, acks, methods };
  }

  const ack = Buffer.alloc(21);
  writeAck(ack, 0, 1, 42, true);
  const stream = Buffer.concat([
    delivery(1, 1234.5),
    methodFrame(1, M.basicQosOk),
    delivery(2, 99),
    ack,
    delivery(0x2_0000_0001, -1),
  ]);
  const expected = {
    delivers: [
      [1, 1234.5],
      [2, 99],
      [0x2_0000_0001, -1],
    ],
    acks: [[42, true]],
    methods: ['1:60.11'],
  };

  it('extracts delivery tags, body timestamps, acks and other methods from a whole buffer', () => {
    expect(collect([stream])).toEqual(expected);
  });

  it('gives the same result when fed byte by byte', () => {
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(collect(bytes)).toEqual(expected);
  });

  it('gives the same result at every two-way split', () => {
    for (let i = 1; i < stream.length; i++) {
      expect(collect([stream.subarray(0, i), stream.subarray(i)])).toEqual(expected);
    }
  });

  it('rejects a frame without the 0xCE frame-end octet', () => {
    const bad = Buffer.from(methodFrame(1, M.basicQosOk));
    bad[bad.length - 1] = 0;
    expect(() => collect([bad])).toThrow(FrameError);
  });
});

describe('bench histogram and workload', () => {
  it('reports quantiles within the 1% bucket precision and merges across workers', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let v = 1; v <= 10_000; v++) (v % 2 ? a : b).record(v);
    const h = Histogram.fromSparse(a.toSparse());
    h.merge(Histogram.fromSparse(b.toSparse()));
    expect(h.count).toBe(10_000);
    expect(h.quantile(0.5)).toBeGreaterThanOrEqual(5000);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(5000 * 1.01);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(9900);
    expect(h.quantile(0.99)).toBeLessThanOrEqual(9900 * 1.01);
    expect(new Histogram().quantile(0.5)).toBeNaN();
  });

  it('builds 10,000 distinct, deterministic topic bindings mixing * and #', () => {
    const w = topicWorkload(10);
    expect(new Set(w.bindings.map(([q, k]) => `${q}|${k}`)).size).toBe(10_000);
    expect(w.bindings.some(([, k]) => k.includes('#'))).toBe(true);
    expect(w.bindings.some(([, k]) => k.split('.').includes('*'))).toBe(true);
    expect(w.routingKeys).toHaveLength(1000);
    expect(topicWorkload(10)).toEqual(w);
  });
});

describe('bench comparison ratios', () => {
  it('keeps two significant digits for small ratios (latency) and two decimals otherwise', () => {
    expect(formatRatio(7.134)).toBe('7.13');
    expect(formatRatio(0.5)).toBe('0.50');
    expect(formatRatio(0.0018285)).toBe('0.0018');
    expect(formatRatio(Number.NaN)).toBe('-');
  });
});

describe('bench command line', () => {
  it('parses the documented options', () => {
    const o = parseArgs(['--port', '5682', '--scenarios', 'a,c', '--duration', '2', '--json', '--no-ceiling']);
    expect(o).toMatchObject({ port: 5682, groups: ['a', 'c'], durationS: 2, json: true, ceiling: 'no' });
    expect(parseArgs([]).ceiling).toBe('also');
    expect(parseArgs(['--scenarios', 'f', '--body-size', '16384'])).toMatchObject({ groups: ['f'], bodySize: 16384 });
    expect(parseArgs(['--ceiling']).ceiling).toBe('only');
    expect(() => parseArgs(['--scenarios', 'z'])).toThrow(/unknown scenario/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown option/);
  });
});

describe('bench smoke run against the do-nothing server (in-process workers)', () => {
  let server: NullServer;
  beforeAll(async () => {
    server = await startNullServer(0);
  });
  afterAll(async () => {
    await server.close();
  });

  for (const id of ['a-ack', 'b-fanout']) {
    it(`${id}: publishes are confirmed and deliveries are counted`, async () => {
      const spec = SCENARIOS.find((s) => s.id === id);
      if (!spec) throw new Error(`no scenario ${id}`);
      const r = await runScenario(spec, {
        target: { host: '127.0.0.1', port: server.port },
        durationS: 0.3,
        warmupS: 0,
        bodySize: 100,
        confirmWindow: 100,
        spawn: 'inline',
      });
      expect(r.error).toBeUndefined();
      expect(r.totalPublished).toBeGreaterThan(0);
      expect(r.confirmedPerS).toBeGreaterThan(0);
      expect(r.totalDelivered).toBeGreaterThan(0);
      expect(r.deliveredPerS).toBeGreaterThan(0);
      expect(r.p50Ms).not.toBeNaN();
    });
  }
});
