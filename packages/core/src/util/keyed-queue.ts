/**
 * Values keyed by number, kept in insertion order: append at the end, look up and remove anywhere. Made for what is
 * in flight on a connection (unacknowledged deliveries by delivery tag, MQTT packets by packet id), where entries are
 * mostly removed in the order they were added.
 *
 * Why not a Map: V8's Map appends entries to its table and leaves a hole on delete, so steady add/delete churn
 * rehashes into a new table every few operations (50–150 bytes each), and a long-lived Map's tables are allocated
 * straight in the old generation, so each rehash feeds the full collector. This queue allocates nothing in steady
 * state: two arrays reused in place, compacted when full.
 *
 * Lookup checks the oldest entry first (the common in-order acknowledgement), then binary-searches when keys were
 * appended in ascending order (`sorted`), else scans.
 */
export class KeyedQueue<V> {
  readonly #sorted: boolean;
  readonly #keys: number[] = [];
  /** undefined = removed (a tombstone until the next compaction). */
  readonly #values: Array<V | undefined> = [];
  /** First slot that may be live; every slot before it is a tombstone. */
  #head = 0;
  /** One past the last slot used. */
  #tail = 0;
  #size = 0;

  /** @param sorted Keys are appended in ascending order (delivery tags), which allows binary search. */
  constructor(sorted: boolean) {
    this.#sorted = sorted;
  }

  get size(): number {
    return this.#size;
  }

  /** Append `value` (never undefined) under `key`, which must not be present (and, if sorted, must exceed all keys). */
  push(key: number, value: V): void {
    if (this.#tail === this.#keys.length && this.#size <= this.#tail >> 1) this.#compact();
    const i = this.#tail++;
    this.#keys[i] = key;
    this.#values[i] = value;
    this.#size++;
  }

  get(key: number): V | undefined {
    const i = this.#find(key);
    return i < 0 ? undefined : this.#values[i];
  }

  has(key: number): boolean {
    return this.#find(key) >= 0;
  }

  /** Remove `key`'s entry; returns its value, or undefined when absent. */
  delete(key: number): V | undefined {
    const i = this.#find(key);
    if (i < 0) return undefined;
    const value = this.#values[i];
    this.#values[i] = undefined;
    this.#removed(i);
    return value;
  }

  /** The oldest entry's key (undefined when empty). */
  get firstKey(): number | undefined {
    return this.#size === 0 ? undefined : this.#keys[this.#head];
  }

  /** The oldest entry's value (undefined when empty). */
  get first(): V | undefined {
    return this.#size === 0 ? undefined : this.#values[this.#head];
  }

  /**
   * Remove the oldest entry while `until(key)` is true, calling `fn` with each (in order). For `multiple`
   * acknowledgements: `shiftWhile((tag) => tag <= upTo, settle)`.
   */
  shiftWhile(until: (key: number) => boolean, fn: (value: V, key: number) => void): void {
    while (this.#size > 0) {
      const i = this.#head;
      const key = this.#keys[i] as number;
      if (!until(key)) return;
      const value = this.#values[i] as V;
      this.#values[i] = undefined;
      this.#removed(i);
      fn(value, key);
    }
  }

  /** Every entry, oldest first. `fn` must not add or remove entries. */
  forEach(fn: (value: V, key: number) => void): void {
    for (let i = this.#head; i < this.#tail; i++) {
      const v = this.#values[i];
      if (v !== undefined) fn(v, this.#keys[i] as number);
    }
  }

  /** The values, oldest first (a copy). */
  values(): V[] {
    const out: V[] = [];
    this.forEach((v) => out.push(v));
    return out;
  }

  clear(): void {
    this.#values.fill(undefined, this.#head, this.#tail);
    this.#head = this.#tail = this.#size = 0;
  }

  #find(key: number): number {
    if (this.#size === 0) return -1;
    const keys = this.#keys;
    const values = this.#values;
    if (keys[this.#head] === key) return this.#head;
    if (this.#sorted) {
      let lo = this.#head + 1;
      let hi = this.#tail - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const k = keys[mid] as number;
        if (k < key) lo = mid + 1;
        else if (k > key) hi = mid - 1;
        else return values[mid] === undefined ? -1 : mid;
      }
      return -1;
    }
    for (let i = this.#head + 1; i < this.#tail; i++) if (keys[i] === key && values[i] !== undefined) return i;
    return -1;
  }

  /** Slot `i` just became a tombstone. */
  #removed(i: number): void {
    this.#size--;
    if (this.#size === 0) {
      this.#head = this.#tail = 0;
      return;
    }
    if (i === this.#head) {
      const values = this.#values;
      let h = i + 1;
      while (values[h] === undefined) h++;
      this.#head = h;
    }
  }

  /** Move the live entries to the front (in order), dropping tombstones; the arrays keep their length. */
  #compact(): void {
    const keys = this.#keys;
    const values = this.#values;
    let w = 0;
    for (let r = this.#head; r < this.#tail; r++) {
      const v = values[r];
      if (v === undefined) continue;
      keys[w] = keys[r] as number;
      values[w++] = v;
    }
    values.fill(undefined, w, this.#tail);
    this.#head = 0;
    this.#tail = w;
  }
}
