/**
 * FrameParser: resumability (byte by byte, random splits), hostile input (random bytes must give frames or an
 * AmqpProtocolError, never another exception), and the reply codes of API.md.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AmqpProtocolError,
  encodeBasicDeliver,
  encodeMethod,
  encodeMethodWithContent,
  FrameParser,
  HEARTBEAT_FRAME,
  METHOD_IDS,
  PROTOCOL_HEADER,
  type AmqpMethod,
  type Frame,
} from './index.js';

/** A stream exercising every frame type, content split over several body frames, and several channels. */
const FIXTURE = Buffer.concat([
  PROTOCOL_HEADER,
  encodeMethod(0, {
    name: 'connection.start-ok', clientProperties: { product: 'test', capabilities: { publisher_confirms: true } },
    mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US',
  }),
  encodeMethod(0, { name: 'connection.tune-ok', channelMax: 2047, frameMax: 4096, heartbeat: 60 }),
  encodeMethod(1, { name: 'channel.open', outOfBand: '' }),
  encodeMethodWithContent(
    1, { name: 'basic.publish', ticket: 0, exchange: 'amq.topic', routingKey: 'a.b.c', mandatory: true, immediate: false },
    { contentType: 'application/json', headers: { 'x-n': 1, list: ['a', 2] }, deliveryMode: 2 }, undefined,
    Buffer.alloc(9000, 0x61), 4096,
  ),
  HEARTBEAT_FRAME,
  encodeBasicDeliver(2, 'ctag-1', 42, false, '', 'q', {}, undefined, Buffer.from('hi'), 4096),
  encodeMethod(1, { name: 'basic.ack', deliveryTag: 42, multiple: true }),
  encodeMethod(0, { name: 'connection.close', replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 }),
]);

/** Feed `chunks` to a fresh parser; returns frames (payloads copied, as a state machine would) or the error. */
function run(chunks: Buffer[], frameMax = 131072): { frames: Frame[]; error?: unknown } {
  const parser = new FrameParser({ frameMax });
  const frames: Frame[] = [];
  try {
    for (const c of chunks) parser.push(c, (f) => frames.push(f.type === 'body' ? { ...f, payload: Buffer.from(f.payload) } : f));
  } catch (error) {
    return { frames, error };
  }
  return { frames };
}

function splitAt(buf: Buffer, points: number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const c of cuts) {
    out.push(buf.subarray(last, c));
    last = c;
  }
  out.push(buf.subarray(last));
  return out;
}

function expectProtocolError(chunks: Buffer[], replyCode: number, frameMax?: number): AmqpProtocolError {
  const { error } = run(chunks, frameMax);
  expect(error).toBeInstanceOf(AmqpProtocolError);
  expect((error as AmqpProtocolError).replyCode).toBe(replyCode);
  return error as AmqpProtocolError;
}

const frame = (type: number, channel: number, payload: Buffer, end = 0xce): Buffer => {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, 7);
  b[7 + payload.length] = end;
  return b;
};

describe('FrameParser: any split of the input gives the same frames', () => {
  const whole = run([FIXTURE], 4096);

  it('parses the fixture whole', () => {
    expect(whole.error).toBeUndefined();
    expect(whole.frames.map((f) => f.type)).toEqual([
      'method', 'method', 'method', 'method', 'header', 'body', 'body', 'body', 'heartbeat', 'method', 'header', 'body',
      'method', 'method',
    ]);
    expect(whole.frames[4]).toMatchObject({ type: 'header', channel: 1, classId: 60, bodySize: 9000 });
  });

  it('byte by byte', () => {
    const bytes = [...FIXTURE].map((b) => Buffer.from([b]));
    expect(run(bytes, 4096)).toEqual(whole);
  });

  it('at random split points', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (points) => {
        expect(run(splitAt(FIXTURE, points), 4096)).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('hands out body payloads as views of the input when the frame is whole in the chunk', () => {
    const input = Buffer.concat([PROTOCOL_HEADER, frame(3, 1, Buffer.from('abc'))]);
    let payload: Buffer | undefined;
    new FrameParser().push(input, (f) => {
      if (f.type === 'body') payload = f.payload;
    });
    expect(payload?.buffer).toBe(input.buffer);
    expect(payload?.toString()).toBe('abc');
  });

  it('respects a frameMax changed between pushes (after tune-ok)', () => {
    const p = new FrameParser({ frameMax: 131072 });
    p.push(PROTOCOL_HEADER, () => {});
    p.frameMax = 4096;
    expect(() => p.push(frame(3, 1, Buffer.alloc(4089)), () => {})).toThrow(expect.objectContaining({ replyCode: 501 }));
  });
});

describe('FrameParser: hostile input', () => {
  const check = (chunks: Buffer[]): void => {
    const { error } = run(chunks, 4096);
    if (error !== undefined && !(error instanceof AmqpProtocolError)) throw error;
  };

  it('random bytes after a valid protocol header: frames or AmqpProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, points) => {
        check(splitAt(Buffer.concat([PROTOCOL_HEADER, Buffer.from(bytes)]), points));
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes without a protocol header: AmqpProtocolError with badProtocolHeader, or waiting for more', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const { error, frames } = run([Buffer.from(bytes)]);
        expect(frames).toEqual([]);
        if (error !== undefined) expect(error).toMatchObject({ badProtocolHeader: true });
      }),
      { numRuns: 1000 },
    );
  });

  it('well-framed method frames with random arguments for known methods: frames or AmqpProtocolError', () => {
    const ids = Object.values(METHOD_IDS);
    fc.assert(
      fc.property(fc.constantFrom(...ids), fc.uint8Array({ maxLength: 300 }), fc.nat(0xffff), ({ classId, methodId }, args, channel) => {
        const payload = Buffer.concat([Buffer.from([classId >> 8, classId & 0xff, methodId >> 8, methodId & 0xff]), Buffer.from(args)]);
        check([PROTOCOL_HEADER, frame(1, channel, payload)]);
      }),
      { numRuns: 3000 },
    );
  });

  it('well-framed content headers with random properties: frames or AmqpProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (props) => {
        const payload = Buffer.concat([Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]), Buffer.from(props)]);
        check([PROTOCOL_HEADER, frame(2, 1, payload)]);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid streams: frames or AmqpProtocolError', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (edits, points) => {
        const b = Buffer.from(FIXTURE);
        for (const [at, v] of edits) b[8 + (at % (b.length - 8))] = v;
        check(splitAt(b, points));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('FrameParser: errors (API.md rules)', () => {
  it('accepts "AMQP" 0 0 9 1 and rejects any other protocol header (badProtocolHeader)', () => {
    for (const header of ['AMQP\x00\x00\x09\x00', 'AMQP\x01\x01\x00\x09', 'AMQP\x00\x01\x00\x00', 'GET / HTTP/1.1\r\n']) {
      const err = run([Buffer.from(header, 'latin1')]).error;
      expect(err).toBeInstanceOf(AmqpProtocolError);
      expect(err).toMatchObject({ badProtocolHeader: true });
    }
    // A correct prefix just waits for more.
    expect(run([Buffer.from('AMQP\x00')])).toEqual({ frames: [] });
    expect(run([PROTOCOL_HEADER])).toEqual({ frames: [] });
  });

  it('oversize frame → 501, detected from the frame header before the payload arrives', () => {
    const err = expectProtocolError([PROTOCOL_HEADER, Buffer.from([3, 0, 1, 0, 0, 0x10, 0x01])], 501, 4096);
    expect(err.badProtocolHeader).toBe(false);
    // exactly frameMax is fine
    expect(run([PROTOCOL_HEADER, frame(3, 1, Buffer.alloc(4096 - 8))], 4096).frames).toHaveLength(1);
    expectProtocolError([PROTOCOL_HEADER, frame(3, 1, Buffer.alloc(4096 - 7))], 501, 4096);
  });

  it('bad frame end → 501', () => {
    expectProtocolError([PROTOCOL_HEADER, frame(8, 0, Buffer.alloc(0), 0x00)], 501);
    const m = encodeMethod(1, { name: 'basic.qos-ok' });
    m[m.length - 1] = 0xcd;
    expectProtocolError([PROTOCOL_HEADER, m], 501);
  });

  it('unknown frame type → 501; heartbeat with a payload → 501', () => {
    expectProtocolError([PROTOCOL_HEADER, frame(9, 1, Buffer.alloc(0))], 501);
    expectProtocolError([PROTOCOL_HEADER, frame(4, 1, Buffer.alloc(0))], 501);
    expectProtocolError([PROTOCOL_HEADER, frame(8, 0, Buffer.from('ab'))], 501);
  });

  it('truncated method → 502 naming the method; trailing bytes → 502; no method id → 502', () => {
    const full = encodeMethod(1, { name: 'basic.consume', ticket: 0, queue: 'q', consumerTag: '', noLocal: false, noAck: true, exclusive: false, nowait: false, arguments: {} });
    const payload = full.subarray(7, full.length - 1);
    for (let cut = 4; cut < payload.length; cut++) {
      const err = expectProtocolError([PROTOCOL_HEADER, frame(1, 1, payload.subarray(0, cut))], 502);
      expect([err.classId, err.methodId]).toEqual([60, 20]);
    }
    expectProtocolError([PROTOCOL_HEADER, frame(1, 1, Buffer.concat([payload, Buffer.from([0])]))], 502);
    expectProtocolError([PROTOCOL_HEADER, frame(1, 1, Buffer.from([0, 20, 0]))], 502);
  });

  it('unknown class or method → 540 with the ids', () => {
    const err = expectProtocolError([PROTOCOL_HEADER, frame(1, 1, Buffer.from([0, 60, 0, 99]))], 540);
    expect([err.classId, err.methodId]).toEqual([60, 99]);
    const err2 = expectProtocolError([PROTOCOL_HEADER, frame(1, 1, Buffer.from([0, 99, 0, 10]))], 540);
    expect([err2.classId, err2.methodId]).toEqual([99, 10]);
  });

  it('content header: truncated → 502; reserved property-flag bits → 502; other classes pass with raw properties', () => {
    expectProtocolError([PROTOCOL_HEADER, frame(2, 1, Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x80]))], 502);
    expectProtocolError([PROTOCOL_HEADER, frame(2, 1, Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x80, 0x00]))], 502);
    expectProtocolError([PROTOCOL_HEADER, frame(2, 1, Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x00, 0x01]))], 502);
    const { frames } = run([PROTOCOL_HEADER, frame(2, 1, Buffer.from([0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x12, 0x34, 9]))]);
    expect(frames).toEqual([
      { type: 'header', channel: 1, classId: 50, bodySize: 5, properties: {}, rawProperties: Buffer.from([0x12, 0x34, 9]) },
    ]);
  });

  it('is dead after an error: later pushes rethrow it', () => {
    const p = new FrameParser();
    const sink = (): void => {};
    expect(() => p.push(Buffer.from('HTTP/1.1'), sink)).toThrow(AmqpProtocolError);
    expect(() => p.push(PROTOCOL_HEADER, sink)).toThrow(/bad protocol header/);
  });

  it('delivers frames that precede an error in the same chunk', () => {
    const method: AmqpMethod = { name: 'channel.open', outOfBand: '' };
    const { frames, error } = run([Buffer.concat([PROTOCOL_HEADER, encodeMethod(1, method), frame(9, 1, Buffer.alloc(0))])]);
    expect(frames).toEqual([{ type: 'method', channel: 1, method }]);
    expect(error).toMatchObject({ replyCode: 501 });
  });
});
