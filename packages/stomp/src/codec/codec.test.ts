import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StompDecoder, type DecoderLimits } from './decoder.js';
import { encodeFrame, escapeHeader } from './encoder.js';
import { StompProtocolError, type StompFrame } from './frame.js';

const BIG: DecoderLimits = { maxFrameSize: 1 << 20, maxHeaders: 1000, maxHeaderLength: 65536 };

function decodeAll(chunks: Buffer[], version: '1.0' | '1.1' | '1.2' = '1.2', limits = BIG): StompFrame[] {
  const d = new StompDecoder(limits);
  d.version = version;
  const out: StompFrame[] = [];
  for (const c of chunks) d.push(c, (f) => void out.push(f));
  return out;
}
const simple = (f: StompFrame): unknown => ({ command: f.command, headers: [...f.headers], body: f.body.toString('latin1') });

const GOLDEN = Buffer.from(
  'SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello\0' +
    '\n\r\n\n' + // heart-beats between frames
    'SEND\r\ndestination:/topic/x\r\ncontent-length:3\r\n\r\na\0b\0' +
    'DISCONNECT\nreceipt:77\n\n\0\n',
  'latin1',
);
const EXPECTED = [
  { command: 'SEND', headers: [['destination', '/queue/a'], ['content-type', 'text/plain']], body: 'hello' },
  { command: 'SEND', headers: [['destination', '/topic/x'], ['content-length', '3']], body: 'a\0b' },
  { command: 'DISCONNECT', headers: [['receipt', '77']], body: '' },
];

describe('StompDecoder', () => {
  it('decodes golden frames: LF and CRLF, heart-beat EOLs, content-length bodies with NULs', () => {
    expect(decodeAll([GOLDEN]).map(simple)).toEqual(EXPECTED);
  });

  it('gives the same frames when fed byte by byte', () => {
    const bytes = [...GOLDEN].map((b) => Buffer.from([b]));
    expect(decodeAll(bytes).map(simple)).toEqual(EXPECTED);
  });

  it('gives the same frames at every random split', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: GOLDEN.length }), { maxLength: 8 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), GOLDEN.length];
        const chunks = points.slice(1).map((p, i) => GOLDEN.subarray(points[i], p));
        expect(decodeAll(chunks).map(simple)).toEqual(EXPECTED);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the first of repeated headers (STOMP 1.2 "Repeated Header Entries")', () => {
    const [f] = decodeAll([Buffer.from('MESSAGE\nfoo:World\nfoo:Hello\n\n\0')]);
    expect(f?.headers.get('foo')).toBe('World');
  });

  it('unescapes \\n \\c \\\\ \\r in 1.2, not in 1.0, and never in CONNECT', () => {
    const text = 'SEND\na\\cb:1\\n2\\\\3\\r\n\n\0';
    expect(decodeAll([Buffer.from(text)], '1.2')[0]?.headers.get('a:b')).toBe('1\n2\\3\r');
    expect(decodeAll([Buffer.from(text)], '1.0')[0]?.headers.get('a\\cb')).toBe('1\\n2\\\\3\\r');
    expect(decodeAll([Buffer.from('CONNECT\npasscode:a\\b\n\n\0')], '1.2')[0]?.headers.get('passcode')).toBe('a\\b');
  });

  it('refuses an undefined escape sequence', () => {
    expect(() => decodeAll([Buffer.from('SEND\na:\\t\n\n\0')], '1.2')).toThrow(/Undefined escape/);
  });

  it('checks sizes before buffering: a frame without NUL, a huge content-length, too many headers', () => {
    const small: DecoderLimits = { maxFrameSize: 100, maxHeaders: 3, maxHeaderLength: 50 };
    expect(() => decodeAll([Buffer.from('SEND\n\n' + 'x'.repeat(200))], '1.2', small)).toThrow(StompProtocolError);
    expect(() => decodeAll([Buffer.from('SEND\ncontent-length:1000000\n\n')], '1.2', small)).toThrow(/exceeds the maximum/);
    expect(() => decodeAll([Buffer.from('SEND\na:1\nb:1\nc:1\nd:1\n\n\0')], '1.2', small)).toThrow(/headers/);
    expect(() => decodeAll([Buffer.from('SEND\na:' + 'x'.repeat(60) + '\n\n\0')], '1.2', small)).toThrow(/longer/);
    // Endless header bytes without a blank line are cut off too.
    expect(() => decodeAll([Buffer.from('SEND\n' + 'a:b\n'.repeat(40))], '1.2', small)).toThrow(StompProtocolError);
  });

  it('refuses a bad content-length and a body not followed by NUL', () => {
    expect(() => decodeAll([Buffer.from('SEND\ncontent-length:abc\n\nx\0')])).toThrow(/content-length/);
    expect(() => decodeAll([Buffer.from('SEND\ncontent-length:1\n\nxy\0')])).toThrow(/NUL/);
  });

  it('random bytes give frames or a protocol error, never another exception or a hang', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeAll([Buffer.from(bytes)], '1.2', { maxFrameSize: 200, maxHeaders: 10, maxHeaderLength: 100 });
        } catch (err) {
          expect(err).toBeInstanceOf(StompProtocolError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('encodeFrame', () => {
  it('writes golden bytes with content-length', () => {
    const buf = encodeFrame('MESSAGE', [['destination', '/queue/a'], ['k', 'a:b\nc']], Buffer.from('hi'), '1.2');
    expect(buf.toString('latin1')).toBe('MESSAGE\ndestination:/queue/a\nk:a\\cb\\nc\ncontent-length:2\n\nhi\0');
  });

  it('escapes per version', () => {
    expect(escapeHeader('a\rb:\\', '1.2')).toBe('a\\rb\\c\\\\');
    expect(escapeHeader('a\rb:', '1.1')).toBe('a\rb\\c');
    expect(escapeHeader('a:b', '1.0')).toBe('a:b');
  });

  it('round-trips any headers and binary body through the decoder (1.2)', () => {
    const name = fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !s.includes('\0') && s !== 'content-length');
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0'))), {
          selector: (t) => t[0],
          maxLength: 5,
        }),
        fc.uint8Array({ maxLength: 50 }),
        (headers, body) => {
          const buf = encodeFrame('SEND', headers, Buffer.from(body), '1.2');
          const [f] = decodeAll([buf], '1.2');
          expect(f?.command).toBe('SEND');
          expect([...(f?.headers ?? [])].filter(([k]) => k !== 'content-length')).toEqual(headers);
          expect(f?.body.equals(Buffer.from(body))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
