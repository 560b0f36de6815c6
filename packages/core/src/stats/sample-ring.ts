/**
 * A fixed-size ring of timestamped samples of a few counters (or lengths) of one object: the memory is allocated
 * once, up front, so however long the broker runs an object costs `capacity × (fields + 1)` doubles at most.
 */
export class SampleRing {
  readonly fields: number;
  readonly capacity: number;
  readonly #times: Float64Array;
  readonly #values: Float64Array;
  /** Slot the next sample goes to. */
  #next = 0;
  #count = 0;

  constructor(fields: number, capacity: number) {
    if (fields < 1 || capacity < 2) throw new RangeError('a sample ring needs at least one field and two slots');
    this.fields = fields;
    this.capacity = capacity;
    this.#times = new Float64Array(capacity);
    this.#values = new Float64Array(capacity * fields);
  }

  /** Samples held (at most {@link capacity}). */
  get size(): number {
    return this.#count;
  }

  /** True once the oldest samples are being overwritten. */
  get wrapped(): boolean {
    return this.#count === this.capacity;
  }

  /**
   * Record one sample of every field (`values[0..fields)`), taken at `timestamp` (ms). A sample at the same timestamp as
   * the newest replaces it; an older one is ignored (clocks can step back).
   */
  record(timestamp: number, values: ArrayLike<number>): void {
    let slot: number;
    if (this.#count > 0) {
      const newest = this.#times[this.#slot(0)]!;
      if (timestamp < newest) return;
      if (timestamp === newest) slot = this.#slot(0);
      else slot = this.#advance();
    } else slot = this.#advance();
    this.#times[slot] = timestamp;
    const base = slot * this.fields;
    for (let f = 0; f < this.fields; f++) this.#values[base + f] = values[f] ?? 0;
  }

  #advance(): number {
    const slot = this.#next;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#count < this.capacity) this.#count++;
    return slot;
  }

  /** The slot of the i-th newest sample (0 = newest). */
  #slot(i: number): number {
    return (this.#next - 1 - i + 2 * this.capacity) % this.capacity;
  }

  /** Timestamp of the i-th newest sample (0 = newest); undefined past the oldest. */
  timeAt(i: number): number | undefined {
    return i >= 0 && i < this.#count ? this.#times[this.#slot(i)] : undefined;
  }

  /** Value of `field` in the i-th newest sample (0 = newest); undefined past the oldest. */
  valueAt(i: number, field: number): number | undefined {
    return i >= 0 && i < this.#count ? this.#values[this.#slot(i) * this.fields + field] : undefined;
  }

  /** Change of `field` per second between the two newest samples (0 with fewer than two). */
  rate(field: number): number {
    if (this.#count < 2) return 0;
    const dt = (this.#times[this.#slot(0)]! - this.#times[this.#slot(1)]!) / 1000;
    if (dt <= 0) return 0;
    return (this.valueAt(0, field)! - this.valueAt(1, field)!) / dt;
  }

  /**
   * The value of `field` as it was at `timestamp`: that of the newest sample taken at or before it. Before the first
   * sample: 0 while the ring never wrapped (the object had no traffic then), undefined once history was overwritten.
   */
  valueAtTime(field: number, timestamp: number): number | undefined {
    for (let i = 0; i < this.#count; i++) {
      if (this.#times[this.#slot(i)]! <= timestamp) return this.#values[this.#slot(i) * this.fields + field];
    }
    return this.wrapped ? undefined : 0;
  }

  /**
   * Samples of `field` every `incrMs` back from the newest sample over `ageMs` (RabbitMQ's `*_age`/`*_incr` query),
   * newest first; stops where the ring's history ends.
   */
  history(field: number, ageMs: number, incrMs: number): { timestamp: number; value: number }[] {
    const out: { timestamp: number; value: number }[] = [];
    const newest = this.timeAt(0);
    if (newest === undefined || incrMs <= 0) return out;
    for (let t = newest; t >= newest - ageMs; t -= incrMs) {
      const v = this.valueAtTime(field, t);
      if (v === undefined) break;
      out.push({ timestamp: t, value: v });
    }
    return out;
  }
}
