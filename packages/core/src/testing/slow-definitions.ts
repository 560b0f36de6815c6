import type { Definitions, DefinitionsStore } from '../store/definitions.js';

/**
 * A definitions store that is "on disk" only when the test says so: every `flush()` waits for {@link release}.
 * Adapters' tests use it to prove that a reply to a change of durable definitions waits for the disk.
 */
export class SlowDefinitionsStore implements DefinitionsStore {
  /** How many flushes were asked for. */
  flushes = 0;
  #pending: (() => void)[] = [];

  load(): Definitions | undefined {
    return undefined;
  }

  changed(): void {}

  flush(): Promise<void> {
    this.flushes++;
    return new Promise((resolve) => this.#pending.push(resolve));
  }

  /** The fsync round finished: every waiting flush resolves, and the waiters' callbacks get to run. */
  async release(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    for (const resolve of pending) resolve();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
