/**
 * The live connections of one protocol service, so that a stopping broker can close each one the protocol's way
 * (AMQP's connection.close 320, MQTT 5's DISCONNECT 0x8B) before the sockets go.
 */

/** What a registered connection must offer: an orderly close from the server side. */
export interface ShutdownCapable {
  /** Close this connection the protocol's way; resolves once it is closed. */
  shutdown(): Promise<void>;
}

/** A set of live connections, with a bounded graceful close of them all. */
export class ConnectionRegistry<T extends ShutdownCapable> {
  readonly #connections = new Set<T>();

  /** Number of live connections. */
  get size(): number {
    return this.#connections.size;
  }

  add(connection: T): void {
    this.#connections.add(connection);
  }

  delete(connection: T): void {
    this.#connections.delete(connection);
  }

  /** The live connections (a snapshot is safe to iterate while they close). */
  values(): IterableIterator<T> {
    return this.#connections.values();
  }

  /**
   * Ask every live connection to shut down and wait for them, at most `timeoutMs`: connections that have not
   * closed by then are left to the caller, which destroys the sockets.
   */
  async closeAll(timeoutMs: number): Promise<void> {
    const all = [...this.#connections].map((c) => c.shutdown());
    if (all.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.all(all), timeout]);
    clearTimeout(timer);
  }
}
