/**
 * Codec micro-benchmarks: encode and parse 100-byte deliveries.
 *   npx vitest bench --run packages/amqp/bench/codec.bench.ts
 * Parse figures are per batch of 1000 messages (method + header + body frames each), fed in 64 KiB chunks as a
 * socket would deliver them: msgs/s = hz × 1000.
 */
import { bench, describe } from 'vitest';
import {
  encodeBasicDeliver,
  encodeMethodWithContent,
  encodeProperties,
  FrameParser,
  PROTOCOL_HEADER,
  type Frame,
} from '../src/codec/index.js';

const body = Buffer.alloc(100, 0x78);
const props = { contentType: 'application/json', deliveryMode: 2, headers: { 'x-trace': 'abc' } };
const raw = encodeProperties(props);
let tag = 0;

describe('encode basic.deliver (100-byte body)', () => {
  bench('properties re-encoded', () => {
    encodeBasicDeliver(1, 'amq.ctag-7Xk2pQ9wLm4vR1sT', ++tag, false, 'amq.topic', 'sensors.kitchen.temp', props, undefined, body, 131072);
  });
  bench('rawProperties copied', () => {
    encodeBasicDeliver(1, 'amq.ctag-7Xk2pQ9wLm4vR1sT', ++tag, false, 'amq.topic', 'sensors.kitchen.temp', props, raw, body, 131072);
  });
});

const BATCH = 1000;
const publish = encodeMethodWithContent(
  1,
  { name: 'basic.publish', ticket: 0, exchange: 'amq.topic', routingKey: 'sensors.kitchen.temp', mandatory: false, immediate: false },
  props, undefined, body, 131072,
);
const stream = Buffer.concat(Array.from({ length: BATCH }, () => publish));
const chunks: Buffer[] = [];
for (let i = 0; i < stream.length; i += 65536) chunks.push(stream.subarray(i, i + 65536));
let frames = 0;
const sink = (_f: Frame): void => {
  frames++;
};

describe(`parse ${BATCH} basic.publish + header + 100-byte body`, () => {
  bench('FrameParser.push, 64 KiB chunks', () => {
    const p = new FrameParser();
    p.push(PROTOCOL_HEADER, sink);
    for (const c of chunks) p.push(c, sink);
    if (frames % (3 * BATCH) !== 0) throw new Error('lost frames');
  });
});
