import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DataDirChange } from '@warren/core';
import { encodeFrame, FrameDecoder, LinkProtocolError, type LinkFrame } from './codec.js';

const u64 = fc.maxSafeNat();
const path = fc.string({ maxLength: 40 });
const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
const change: fc.Arbitrary<DataDirChange> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), file: path, position: u64, data: bytes }),
  fc.record({ kind: fc.constant('truncate' as const), file: path, length: u64 }),
  fc.record({ kind: fc.constant('mkdir' as const), dir: path }),
  fc.record({ kind: fc.constant('rename' as const), from: path, to: path }),
  fc.record({ kind: fc.constant('remove' as const), path }),
);
const frame: fc.Arbitrary<LinkFrame> = fc.oneof(
  fc.record({ type: fc.constant('challenge' as const), nonce: bytes }),
  fc.record({
    type: fc.constant('hello' as const),
    cluster: path,
    node: path,
    proof: bytes,
    nonce: bytes,
    epoch: u64,
    manifest: fc.array(fc.record({ file: path, size: u64, crc32: fc.nat({ max: 0xffff_ffff }) }), { maxLength: 5 }),
    dirs: fc.array(path, { maxLength: 5 }),
  }),
  fc.record({ type: fc.constant('welcome' as const), epoch: u64, leader: path, proof: bytes }),
  fc.record({ type: fc.constant('refuse' as const), reason: path }),
  fc.record(
    { type: fc.constant('sync-data' as const), file: path, position: u64, data: bytes, truncateTo: u64 },
    { requiredKeys: ['type', 'file', 'position', 'data'] },
  ),
  fc.record({ type: fc.constant('sync-mkdir' as const), dir: path }),
  fc.record({ type: fc.constant('sync-remove' as const), path }),
  fc.record({ type: fc.constant('sync-done' as const), seq: u64 }),
  fc.record({ type: fc.constant('changes' as const), firstSeq: u64, changes: fc.array(change, { maxLength: 6 }) }),
  fc.record({ type: fc.constant('ack' as const), seq: u64 }),
);

/** Buffers as plain arrays, so deep equality does not depend on Buffer views vs copies. */
function plain(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x));
}

describe('replication link codec', () => {
  it('golden bytes: ACK and SYNC_DONE', () => {
    expect(encodeFrame({ type: 'ack', seq: 0x1_0000_0002 }).toString('hex')).toBe('000000090a0000000100000002');
    expect(encodeFrame({ type: 'sync-remove', path: 'ab' }).toString('hex')).toBe('0000000507' + '0002' + '6162');
  });

  it('round-trips every frame, fed at random splits', () => {
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 5 }), fc.array(fc.nat({ max: 50 }), { maxLength: 20 }), (frames, cuts) => {
        const wire = Buffer.concat(frames.map(encodeFrame));
        const decoder = new FrameDecoder(1 << 20);
        const out: LinkFrame[] = [];
        let off = 0;
        for (const cut of cuts) {
          const end = Math.min(wire.length, off + cut);
          out.push(...decoder.push(wire.subarray(off, end)));
          off = end;
        }
        out.push(...decoder.push(wire.subarray(off)));
        expect(plain(out)).toEqual(plain(frames));
        expect(decoder.buffered).toBe(0);
      }),
    );
  });

  it('decodes byte by byte', () => {
    const f: LinkFrame = { type: 'changes', firstSeq: 7, changes: [{ kind: 'write', file: 'a/b', position: 3, data: Buffer.from('xyz') }, { kind: 'remove', path: 'c' }] };
    const wire = encodeFrame(f);
    const decoder = new FrameDecoder(1024);
    const out: LinkFrame[] = [];
    for (const b of wire) out.push(...decoder.push(Buffer.from([b])));
    expect(plain(out)).toEqual(plain([f]));
  });

  it('refuses a frame above the size bound before buffering it', () => {
    const decoder = new FrameDecoder(100);
    expect(() => decoder.push(Buffer.from([0, 0, 1, 0, 10]))).toThrow(LinkProtocolError);
  });

  it('rejects bad frames with a protocol error', () => {
    const bad = [
      Buffer.from('00000001ff', 'hex'), // unknown type
      Buffer.from('000000020a00', 'hex'), // truncated ack
      Buffer.from('0000000a0a000000000000000100', 'hex'), // trailing byte
      Buffer.from('00000000', 'hex'), // empty frame
      Buffer.from('0000000d090000000000000001ffffffff', 'hex'), // count larger than the frame
    ];
    for (const b of bad) expect(() => new FrameDecoder(1024).push(b), b.toString('hex')).toThrow(LinkProtocolError);
  });

  it('random bytes yield frames or a protocol error, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
        try {
          new FrameDecoder(1024).push(Buffer.from(a));
        } catch (e) {
          expect(e).toBeInstanceOf(LinkProtocolError);
        }
      }),
    );
  });
});
