/**
 * The state one STOMP connection shares between its frame families (connect, publish, subscriptions, delivery), and
 * its output path. Owned by {@link StompSession}; the family modules read and change it, never the transport.
 */
import { randomBytes } from 'node:crypto';
import type {
  BrokerApi,
  ChannelHost,
  ConnectionHost,
  ConnectionInfo,
  CoreChannel,
  CoreConnection,
  Logger,
  User,
} from '@warren/core';
import { encodeFrame } from '../codec/encoder.js';
import type { StompVersion } from '../codec/frame.js';
import { StompError } from '../errors.js';
import type { StompIo } from './io.js';
import type { StompSessionOptions } from './options.js';

/** The `version` header of an ERROR frame: every version this server speaks. */
export const ERROR_VERSION_HEADER = '1.0,1.1,1.2';

/** Where a connection is in its life. */
export type SessionState = 'connecting' | 'connected' | 'closing' | 'closed';

/** One connection's shared state and output. */
export class SessionContext {
  readonly io: StompIo;
  readonly info: ConnectionInfo;
  readonly broker: BrokerApi;
  readonly logger: Logger;
  readonly options: StompSessionOptions;
  /** What the core calls back (the session): deliveries, confirms, alarms. */
  readonly host: ChannelHost & ConnectionHost;
  /** The CONNECTED `session` header; also the middle of every message-id. */
  readonly sessionId = 'session-' + randomBytes(16).toString('base64url').slice(0, 22);
  /** Release the connection's resources (the session's teardown). */
  readonly #teardown: () => void;

  state: SessionState = 'connecting';
  version: StompVersion = '1.0';
  user: User | undefined;
  connection: CoreConnection | undefined;
  channel: CoreChannel | undefined;
  /** DISCONNECT was read: the connection ends once the receipts before it are out. */
  disconnecting = false;
  /** The client has published: a resource alarm stops reading from it. */
  published = false;
  /** A resource alarm is on. */
  blocked = false;
  /**
   * Waits that hold replies and reading: a frame's definitions fsync, an external authorization answer, a turn yield.
   * While above 0, receipts may not overtake the held replies.
   */
  defsPending = 0;
  /** Writes made while handling a frame that may change definitions; undefined when not capturing. */
  capture: Buffer[] | undefined;
  /** Deliveries made while a frame other than SEND is handled: written after its reply. */
  deferred: Buffer[] | undefined;
  lastRead = Date.now();
  lastWrite = Date.now();
  #slowTimer: NodeJS.Timeout | undefined;

  constructor(
    io: StompIo,
    info: ConnectionInfo,
    broker: BrokerApi,
    logger: Logger,
    options: StompSessionOptions,
    host: ChannelHost & ConnectionHost,
    teardown: () => void,
  ) {
    this.host = host;
    this.io = io;
    this.info = info;
    this.broker = broker;
    this.logger = logger;
    this.options = options;
    this.#teardown = teardown;
  }

  /** True while frames are still handled (not closing or closed). */
  get live(): boolean {
    return this.state === 'connecting' || this.state === 'connected';
  }

  /** The core channel, or the ERROR of a frame sent before CONNECT. */
  requireChannel(): CoreChannel {
    const ch = this.channel;
    if (ch === undefined) throw new StompError('Illegal command', 'You must log in using CONNECT first');
    return ch;
  }

  /** Write a frame: captured while a frame that may change definitions is handled, else to the transport. */
  write(buf: Buffer): void {
    if (this.capture !== undefined) {
      this.capture.push(buf);
      return;
    }
    this.lastWrite = Date.now();
    this.io.write(buf);
    if (this.#slowTimer === undefined && !this.io.writable) this.#watchSlowConsumer();
  }

  /** Write a delivery, after the reply of the frame being handled when there is one. */
  writeDelivery(frame: Buffer): void {
    if (this.deferred !== undefined) this.deferred.push(frame);
    else this.write(frame);
  }

  /** Write the deliveries held while a frame was handled. */
  flushDeferred(): void {
    const deferred = this.deferred;
    this.deferred = undefined;
    if (deferred !== undefined) for (const b of deferred) this.write(b);
  }

  /** A non-fatal ERROR: the connection stays open. */
  error(summary: string, detail: string): void {
    this.logger.warn({ connection: this.info.id, peer: this.info.remoteAddress, message: summary, detail }, 'STOMP error');
    const headers: Array<[string, string]> = [
      ['message', summary],
      ['content-type', 'text/plain'],
      ['version', ERROR_VERSION_HEADER],
    ];
    this.write(encodeFrame('ERROR', headers, Buffer.from(detail), this.version));
  }

  /** The writer drained: stop the slow-consumer clock. */
  drained(): void {
    if (this.#slowTimer !== undefined) {
      clearTimeout(this.#slowTimer);
      this.#slowTimer = undefined;
    }
  }

  /** Drop the connection now (no frame). */
  closeNow(): void {
    this.io.destroy();
    this.#teardown();
  }

  /** End after what is written (DISCONNECT). */
  endGracefully(): void {
    if (this.state === 'closed') return;
    this.io.end();
    this.#teardown();
  }

  /** Stop the timers this context owns (teardown). */
  stopTimers(): void {
    if (this.#slowTimer !== undefined) clearTimeout(this.#slowTimer);
  }

  /** The output is over the high-water mark: drop the client unless it drains in time (DESIGN.md §5). */
  #watchSlowConsumer(): void {
    const timeout = this.options.slowConsumerTimeoutMs ?? 60_000;
    if (timeout <= 0 || this.state === 'closed') return;
    this.#slowTimer = setTimeout(() => {
      this.#slowTimer = undefined;
      if (this.state === 'closed' || this.io.writable) return;
      this.logger.warn({ connection: this.info.id, timeoutMs: timeout }, 'slow consumer: closing the STOMP connection');
      this.closeNow();
    }, timeout);
    this.#slowTimer.unref?.();
  }
}
