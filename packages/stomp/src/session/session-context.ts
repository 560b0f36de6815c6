/**
 * The state one STOMP connection shares between its frame families (connect, publish, subscriptions, delivery), and
 * its output path. Owned by {@link StompSession}; the family modules read and change it, never the transport.
 */
import { randomBytes } from 'node:crypto';
import { DefinitionsBarrier } from '@warren/core';
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
import { PauseReason } from '@warren/transport';
import { encodeFrame } from '../codec/encoder.js';
import type { StompVersion } from '../codec/frame.js';
import { StompError } from '../errors.js';
import type { StompIo } from './io.js';
import type { StompSessionOptions } from './options.js';

/** The `version` header of an ERROR frame: every version this server speaks. */
export const ERROR_VERSION_HEADER = '1.0,1.1,1.2';

/** The reasons a wait of the definitions barrier pauses reading for; they end together with its last wait. */
const BARRIER_REASONS = PauseReason.Definitions | PauseReason.Auth | PauseReason.Turn;

/** What the session does for the barrier once a wait ends or fails. */
export interface SessionFlow {
  /** Every wait ended and the held replies are out: send due receipts and handle the frames read meanwhile. */
  replay(): void;
  /** A definitions write failed: fail the connection. */
  failed(err: unknown): void;
  /** Release the connection's resources. */
  teardown(): void;
}

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
  /**
   * Replies held until the durable definitions are on disk, and the waits that keep reading paused meanwhile (a
   * definitions fsync, an external authorization answer, a turn yield); frames read meanwhile wait in the session's
   * backlog.
   */
  readonly barrier: DefinitionsBarrier;
  /** The reason the next barrier wait pauses reading for. */
  waitReason: number = PauseReason.Definitions;
  readonly #flow: SessionFlow;

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
  /** Deliveries made while a frame other than SEND is handled: written after its reply. */
  deferred: Buffer[] | undefined;
  lastRead = Date.now();
  lastWrite = Date.now();

  constructor(
    io: StompIo,
    info: ConnectionInfo,
    broker: BrokerApi,
    logger: Logger,
    options: StompSessionOptions,
    host: ChannelHost & ConnectionHost,
    flow: SessionFlow,
  ) {
    this.host = host;
    this.io = io;
    this.info = info;
    this.broker = broker;
    this.logger = logger;
    this.options = options;
    this.#flow = flow;
    this.barrier = new DefinitionsBarrier({
      pause: () => io.pause(this.waitReason),
      resume: () => {
        if (this.state === 'connected') io.resume(BARRIER_REASONS);
      },
      write: (buf) => this.write(buf),
      replay: () => flow.replay(),
      failed: (err) => flow.failed(err),
    });
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
    if (this.barrier.capturing) {
      this.barrier.capture(buf);
      return;
    }
    this.lastWrite = Date.now();
    this.io.write(buf);
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

  /** Drop the connection now (no frame). */
  closeNow(): void {
    this.io.destroy();
    this.#flow.teardown();
  }

  /** End after what is written (DISCONNECT). */
  endGracefully(): void {
    if (this.state === 'closed') return;
    this.io.end();
    this.#flow.teardown();
  }
}
