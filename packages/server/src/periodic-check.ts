/**
 * An async check run now and then (resource alarms, certificate files): calls that overlap share one run, and the
 * timer never keeps the process alive.
 */
export class PeriodicCheck {
  readonly #run: () => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(run: () => Promise<void>) {
    this.#run = run;
  }

  /** Run every `intervalMs` from now on (already started: nothing changes). */
  every(intervalMs: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.now(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Run now, or join the run in progress; resolves when it is done. */
  now(): Promise<void> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** The run in progress, if any (to wait for it before starting a fresh one). */
  get running(): Promise<void> | undefined {
    return this.#running;
  }
}
