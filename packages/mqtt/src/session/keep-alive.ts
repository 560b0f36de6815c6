/**
 * One timer for every connection's keep-alive (MQTT 3.1.1 §3.1.2.10, MQTT 5 §3.1.2.10): a timing wheel of coarse
 * slots instead of a `setTimeout` per connection, so an idle connection costs a set entry rather than a Timeout
 * object and a closure (about 200 bytes each at 100,000 connections), and activity costs nothing but a timestamp:
 * the target checks its own last activity when its slot comes and reschedules itself if it was not idle.
 */

/** Something the wheel calls back once its deadline has passed. */
export interface KeepAliveTarget {
  /** Called once, at most one slot after the deadline given to {@link KeepAliveWheel.schedule}. */
  keepAliveDue(): void;
}

/** Targets handled per event-loop turn; more due at once continue in the next turn (STYLE.md habit 9). */
export const KEEP_ALIVE_BUDGET = 1000;

/** Default slot width, ms: keep-alive is enforced at 1.5 × the client's interval (≥ 1.5 s), so 250 ms is precise enough. */
export const KEEP_ALIVE_SLOT_MS = 250;

/** A timing wheel: targets grouped by the slot their deadline falls in; one interval timer runs while any is due. */
export class KeepAliveWheel {
  readonly #slotMs: number;
  readonly #slots = new Map<number, Set<KeepAliveTarget>>();
  #timer: NodeJS.Timeout | undefined;
  /** A tick that ran out of budget continues here. */
  #continuation: NodeJS.Immediate | undefined;
  #size = 0;

  /** @param slotMs Slot width (the timer's period), ms. */
  constructor(slotMs: number = KEEP_ALIVE_SLOT_MS) {
    this.#slotMs = slotMs;
  }

  /** Targets waiting. */
  get size(): number {
    return this.#size;
  }

  /**
   * Call `target.keepAliveDue()` once `Date.now()` has reached `deadlineMs` (rounded up to the slot). Returns the slot,
   * which {@link cancel} needs.
   */
  schedule(target: KeepAliveTarget, deadlineMs: number): number {
    const slot = Math.ceil(deadlineMs / this.#slotMs);
    let targets = this.#slots.get(slot);
    if (targets === undefined) this.#slots.set(slot, (targets = new Set()));
    if (!targets.has(target)) {
      targets.add(target);
      this.#size++;
    }
    if (this.#timer === undefined) {
      this.#timer = setInterval(this.#tick, this.#slotMs);
      // The wheel alone must not keep a process alive.
      this.#timer.unref();
    }
    return slot;
  }

  /** Forget `target` in `slot` (from {@link schedule}); no-op if it already ran. */
  cancel(target: KeepAliveTarget, slot: number): void {
    const targets = this.#slots.get(slot);
    if (targets?.delete(target) !== true) return;
    this.#size--;
    if (targets.size === 0) this.#slots.delete(slot);
  }

  readonly #tick = (): void => {
    this.#continuation = undefined;
    const now = Math.floor(Date.now() / this.#slotMs);
    let budget = KEEP_ALIVE_BUDGET;
    // A target rescheduling itself from keepAliveDue() lands in a later slot (its deadline is in the future), which
    // this loop skips.
    for (const [slot, targets] of this.#slots) {
      if (slot > now) continue;
      for (const t of targets) {
        if (budget-- === 0) {
          // Thousands due at once (a network outage dropping a fleet): the rest in the next turn, so the event
          // loop keeps serving everyone else meanwhile.
          this.#continuation = setImmediate(this.#tick);
          return;
        }
        targets.delete(t);
        this.#size--;
        t.keepAliveDue();
      }
      this.#slots.delete(slot);
    }
    if (this.#slots.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  };
}

/** The process-wide wheel every MQTT connection uses. */
export const keepAliveWheel = new KeepAliveWheel();
