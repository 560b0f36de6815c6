/**
 * Deterministic mutation of captured client traffic. Input `i` of a run with seed `s` is always the same bytes, so a
 * finding is reproduced with `--seed s --from i --iterations 1`.
 */

/** xorshift32: small, fast, and reproducible across Node versions (Math.random is not seedable). */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
}

/** The generator of input `index` of a run: independent of how many inputs came before. */
export function rngFor(seed: number, index: number): Rng {
  // Mix the two so neighbouring indexes start far apart.
  let h = (seed ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return new Rng(h ^ (h >>> 16));
}

/** Byte values that sit on boundaries parsers get wrong. */
const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xce, 0x0a, 0x0d, 0x3a, 0x5c];
/** Lengths and counts that sit on boundaries (written big- or little-endian, 2 or 4 bytes). */
const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** One mutation of `b`, never longer than `maxLen`. */
function mutateOnce(rng: Rng, b: Buffer, donors: readonly Buffer[], maxLen: number): Buffer {
  const len = b.length;
  switch (rng.below(10)) {
    case 0: {
      // Flip one bit.
      if (len === 0) return b;
      const out = Buffer.from(b);
      const i = rng.below(len);
      out[i] = (out[i] as number) ^ (1 << rng.below(8));
      return out;
    }
    case 1: {
      // One byte set to a boundary value.
      if (len === 0) return b;
      const out = Buffer.from(b);
      out[rng.below(len)] = INTERESTING_8[rng.below(INTERESTING_8.length)] as number;
      return out;
    }
    case 2: {
      // A 16- or 32-bit field set to a boundary value (lengths, counts, ids).
      if (len < 4) return b;
      const out = Buffer.from(b);
      const v = INTERESTING_32[rng.below(INTERESTING_32.length)] as number;
      const at = rng.below(len - 3);
      if (rng.below(2) === 0) out.writeUInt16BE(v & 0xffff, at);
      else if (rng.below(2) === 0) out.writeUInt32BE(v >>> 0, at);
      else out.writeUInt32LE(v >>> 0, at);
      return out;
    }
    case 3: {
      // Random bytes inserted.
      const n = 1 + rng.below(16);
      const ins = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) ins[i] = rng.below(256);
      const at = rng.below(len + 1);
      return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]).subarray(0, maxLen);
    }
    case 4: {
      // A range deleted.
      if (len === 0) return b;
      const at = rng.below(len);
      const n = 1 + rng.below(Math.min(64, len - at));
      return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
    }
    case 5: {
      // A range repeated (packets twice, headers many times).
      if (len === 0) return b;
      const at = rng.below(len);
      const n = 1 + rng.below(Math.min(256, len - at));
      const piece = b.subarray(at, at + n);
      const times = 1 + rng.below(8);
      return Buffer.concat([b.subarray(0, at + n), ...Array.from({ length: times }, () => piece), b.subarray(at + n)]).subarray(0, maxLen);
    }
    case 6: {
      // Cut short.
      return b.subarray(0, rng.below(len + 1));
    }
    case 7: {
      // A piece of another capture of the same protocol spliced in.
      const donor = donors[rng.below(donors.length)];
      if (donor === undefined || donor.length === 0) return b;
      const from = rng.below(donor.length);
      const piece = donor.subarray(from, from + 1 + rng.below(Math.min(512, donor.length - from)));
      const at = rng.below(len + 1);
      return Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]).subarray(0, maxLen);
    }
    case 8: {
      // Two ranges swapped (frames out of order).
      if (len < 4) return b;
      const a = rng.below(len >> 1);
      const c = (len >> 1) + rng.below(len - (len >> 1));
      const n = 1 + rng.below(Math.min(64, (len >> 1) - a, len - c));
      const out = Buffer.from(b);
      b.copy(out, c, a, a + n);
      b.copy(out, a, c, c + n);
      return out;
    }
    default: {
      // A run of one byte overwritten with another (a header value of 0xff..., a string of NULs).
      if (len === 0) return b;
      const out = Buffer.from(b);
      const at = rng.below(len);
      out.fill(INTERESTING_8[rng.below(INTERESTING_8.length)] as number, at, Math.min(len, at + 1 + rng.below(32)));
      return out;
    }
  }
}

/**
 * A mutated copy of `seed` (1 to 8 stacked mutations), split into reads at random points, so parsers also see
 * every way a frame can straddle two reads.
 */
export function mutate(rng: Rng, seed: Buffer, donors: readonly Buffer[], maxLen = 1 << 20): Buffer[] {
  let b = seed;
  const rounds = 1 + rng.below(8);
  for (let i = 0; i < rounds; i++) b = mutateOnce(rng, b, donors, maxLen);
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    const n = rng.below(4) === 0 ? 1 + rng.below(8) : 1 + rng.below(Math.max(1, b.length));
    chunks.push(b.subarray(at, at + n));
    at += n;
  }
  return chunks;
}
