/**
 * When each fan-in device publishes. Real devices are independent, so their publishes are spread over the period
 * rather than sent in lockstep: device `i` of `n` publishes at `startUs + i/n × period + k × period` (k = 0, 1, …),
 * on the monotonic clock every process on the host shares. A device process holds some of the devices (dealt
 * round-robin, so each process has devices all over the period) and asks, on each timer tick, which have come due.
 */

/** Each device publishes once per period, µs (10 times a second). */
export const DEVICE_PERIOD_US = 100_000;

/** The devices of process `k` of `nproc` when `devices` are dealt round-robin. */
export function devicesOfProcess(devices: number, nproc: number, k: number): number[] {
  const ids: number[] = [];
  for (let i = k; i < devices; i += nproc) ids.push(i);
  return ids;
}

/** The publish schedule of one process's devices. */
export class PhaseSchedule {
  /** Offset of each device's publishes within the period, µs, ascending (the order of `ids`). */
  readonly #phaseUs: number[];
  readonly #startUs: number;
  readonly #periodUs: number;
  #next = 0;
  #round = 0;

  /**
   * @param ids This process's device numbers, ascending. @param devices Devices in the whole fleet.
   * @param startUs Start of the first period on the shared clock.
   */
  constructor(ids: readonly number[], devices: number, startUs: number, periodUs: number = DEVICE_PERIOD_US) {
    this.#phaseUs = ids.map((i) => (i / devices) * periodUs);
    this.#startUs = startUs;
    this.#periodUs = periodUs;
  }

  /** Call `send(j)` for each device (index into `ids`) whose publish time is at or before `nowUs`, in time order. */
  due(nowUs: number, send: (j: number) => void): void {
    const n = this.#phaseUs.length;
    while (n > 0 && this.#startUs + this.#round * this.#periodUs + (this.#phaseUs[this.#next] as number) <= nowUs) {
      send(this.#next);
      if (++this.#next === n) {
        this.#next = 0;
        this.#round++;
      }
    }
  }
}
