/**
 * A log-bucketed latency histogram (≈1% relative precision) that can be shipped over IPC and merged, so consumer
 * processes report distributions, not samples.
 */

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Bucket 0 holds values below 1 µs; bucket i ≥ 1 holds [GROWTH^(i-1), GROWTH^i) µs. */
const BUCKETS = 2200; // up to ~1.01^2200 µs ≈ 3·10^9 µs (50 min), far beyond any run

/** Latency histogram in microseconds. */
export class Histogram {
  readonly counts: Uint32Array;
  count = 0;
  max = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Uint32Array(BUCKETS);
    if (counts) {
      for (let i = 0; i < Math.min(BUCKETS, counts.length); i++) {
        const c = counts[i] ?? 0;
        this.counts[i] = c;
        this.count += c;
        if (c > 0) this.max = upper(i);
      }
    }
  }

  /** Record one value (µs). Negative values (clock skew) count as 0. */
  record(us: number): void {
    let i = 0;
    if (us >= 1) i = Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(us) / LOG_GROWTH));
    const c = this.counts;
    c[i] = (c[i] ?? 0) + 1;
    this.count++;
    if (us > this.max) this.max = us;
  }

  /** Add another histogram's counts. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.count += other.count;
    if (other.max > this.max) this.max = other.max;
  }

  /** The value at quantile q (0..1), as the upper edge of its bucket; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(upper(i), this.max);
    }
    return this.max;
  }

  /** A compact, JSON-safe form: [index, count] pairs of non-empty buckets. */
  toSparse(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i] ?? 0;
      if (c > 0) out.push([i, c]);
    }
    return out;
  }

  /** Rebuild from {@link toSparse}. */
  static fromSparse(pairs: ReadonlyArray<readonly [number, number]>): Histogram {
    const h = new Histogram();
    for (const [i, c] of pairs) {
      if (i >= 0 && i < BUCKETS) {
        h.counts[i] = (h.counts[i] ?? 0) + c;
        h.count += c;
        h.max = Math.max(h.max, upper(i));
      }
    }
    return h;
  }
}

function upper(i: number): number {
  return i === 0 ? 1 : GROWTH ** i;
}
