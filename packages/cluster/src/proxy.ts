/**
 * The follower's client listeners in replicated mode: a follower runs no broker, so every client connection it
 * accepts is relayed byte for byte to the same listener on the leader. TLS and WebSocket pass through untouched (the
 * leader terminates them), so one proxy per listener port covers every protocol.
 */
import * as net from 'node:net';
import type { CoordinatorLogger } from './coordinator.js';

/** Where a proxied connection goes. */
export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

/**
 * A TCP relay to a target chosen when each connection is accepted. Data flows both ways with backpressure (`pipe`
 * pauses a side whose destination is full); when either side errors or closes, both are destroyed.
 */
export class TcpProxy {
  readonly #target: () => ProxyTarget | undefined;
  readonly #logger: CoordinatorLogger | undefined;
  readonly #server: net.Server;
  /** Every live pair, client socket → upstream socket. */
  readonly #pairs = new Map<net.Socket, net.Socket>();
  #closed = false;

  /**
   * @param target evaluated for every accepted connection: the leader's listener, or undefined while there is no
   *   leader (the connection is then closed at once, and the client retries as it would against a down broker).
   */
  constructor(target: () => ProxyTarget | undefined, logger?: CoordinatorLogger) {
    this.#target = target;
    this.#logger = logger;
    // Half-open on both sides: a client that shuts down its sending side still gets the broker's last words (the
    // end is relayed by `pipe`), as it would when connected directly. Each pair closes once both directions ended.
    this.#server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => this.#accept(client));
    // After listen() succeeds, an accept failure (EMFILE) must not crash the process.
    this.#server.on('error', (err) => this.#logger?.error({ err }, 'proxy listener error'));
  }

  /** Start listening; resolves with the bound port (useful with port 0). `host` defaults to every interface. */
  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.prependOnceListener('error', onError);
      const onListening = (): void => {
        this.#server.off('error', onError);
        const address = this.#server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      };
      if (host === undefined) this.#server.listen(port, onListening);
      else this.#server.listen(port, host, onListening);
    });
  }

  /** The number of live proxied connections. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Destroy every proxied connection, e.g. when the leader changes: clients reconnect and reach the new one. */
  closeConnections(): void {
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** Stop accepting, destroy every proxied connection, and resolve once the listener is closed. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.closeConnections();
    if (!this.#server.listening) return Promise.resolve();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    const target = this.#closed ? undefined : this.#target();
    if (target === undefined) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
    this.#pairs.set(client, upstream);
    // One closure per connection serves all four events; `delete` makes it run its body once.
    // ('close' passes a hadError boolean, 'error' the error.)
    const teardown = (err?: Error | boolean): void => {
      if (!this.#pairs.delete(client)) return;
      if (err instanceof Error) {
        this.#logger?.debug({ err, target: `${target.host}:${target.port}` }, 'proxied connection failed');
      }
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
