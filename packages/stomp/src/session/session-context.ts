/**
 * The state one STOMP connection shares between its frame families (connect, publish, subscriptions, delivery), and
 * its output path. Owned by {@link StompSession}; the family modules read and change it, never the transport.
 */
import { randomBytes } from 'node:crypto';
import {
  DefinitionsBarrier,
  isBrokerError,
  type BrokerApi,
  type ChannelHost,
  type ConnectionHost,
  type ConnectionInfo,
  type CoreChannel,
  type CoreConnection,
  type Logger,
  type User,
} from '@warren/core';
import { PauseReason, type ProtocolIo } from '@warren/transport';
import { encodeFrame } from '../codec/encoder.js';
import { StompProtocolError, type StompVersion } from '../codec/frame.js';
import { errorFrame, INTERNAL_ERROR, StompError, stompErrorOf } from '../errors.js';
import { DEFAULT_STOMP_OPTIONS, type StompSessionOptions } from './options.js';

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
  readonly io: ProtocolIo;
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
    io: ProtocolIo,
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
    this.write(errorFrame(summary, detail, this.version));
  }

  /**
   * Answer an error with an ERROR frame, then close this connection. `receipt` becomes the ERROR's receipt-id (a
   * failed CONNECT); `after` is a RECEIPT written after the ERROR (a failed SUBSCRIBE, as RabbitMQ orders them).
   */
  fail(err: unknown, receipt: string | undefined, after?: string): void {
    const ctx = this;
    let error: StompError | StompProtocolError;
    if (err instanceof StompError || err instanceof StompProtocolError) {
      error = err;
    } else if (isBrokerError(err)) {
      error = stompErrorOf(err, 'operation') ?? INTERNAL_ERROR;
    } else {
      ctx.logger.error({ err, connection: ctx.info.id }, 'STOMP connection failed with an internal error');
      error = INTERNAL_ERROR;
    }
    if (!ctx.live) return;
    const summary = error.summary;
    const detail = error.message;
    // Every ERROR the client gets is also a log line (a bad frame, wrong credentials, a refused operation).
    ctx.logger.warn({ connection: ctx.info.id, peer: ctx.info.remoteAddress, message: summary, detail }, 'STOMP error: closing the connection');
    ctx.state = 'closing';
    let frame = errorFrame(summary, detail, ctx.version, receipt);
    if (after !== undefined) frame = Buffer.concat([frame, encodeFrame('RECEIPT', [['receipt-id', after]], undefined, ctx.version)]);
    const delay = ctx.options.errorCloseDelayMs ?? DEFAULT_STOMP_OPTIONS.errorCloseDelayMs;
    if (delay <= 0) {
      ctx.io.end(frame);
    } else {
      ctx.io.write(frame);
      const io = ctx.io;
      setTimeout(() => io.end(), delay).unref?.();
    }
    this.#flow.teardown();
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
