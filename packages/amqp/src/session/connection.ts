/**
 * The AMQP 0-9-1 connection state machine: handshake (spec §4.2.2-§4.2.4 and RabbitMQ's capabilities), heartbeats
 * (§4.2.7), the channel table, and error scoping (§1.2 reply codes: 4xx close a channel, 5xx the connection).
 *
 *   header → start → start-ok → tune → tune-ok → open → open-ok → (channels…) → close ↔ close-ok
 *
 * It takes bytes (or frames) and writes through a {@link ProtocolIo}; it never touches a socket. This class holds
 * the per-frame path (bytes → parser → channel, writes, confirms); the rest lives by family in
 * handshake.ts, heartbeat.ts, dispatch.ts and closing.ts, which share the state through one {@link ConnectionState}.
 */
import type { BrokerApi, ConnectionHost, ConnectionInfo, Logger } from '@warren/core';
import { isAuthorizationPending } from '@warren/core';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, PauseReason, type ProtocolIo } from '@warren/transport';
import { encodeMethod, type Frame } from '../codec/index.js';
import { AmqpError } from '../errors.js';
import type { AmqpChannel, ChannelOwner } from './channel.js';
import { DEFAULT_CONSUMER_MAX_PER_CHANNEL, type AmqpConnectionOptions } from './options.js';
import { brokerShutdown, closingFrame, forceClose, frameError, internalError, parserError, stalled, transportClosed } from './closing.js';
import { ChannelState, ConnectionState, State } from './connection-state.js';
import { blockPublisher, connectionDetails, connectionMethod, onBlocked, onUnblocked, replayBacklog, unopenedChannelFrame, waitForAuth } from './dispatch.js';
import { handshakeFrame, sendStart, startHandshakeTimer } from './handshake.js';

export { SHUTDOWN_REPLY_TEXT } from './closing.js';
export { SERVER_VERSION } from './handshake.js';
export { DEFAULT_CONSUMER_MAX_PER_CHANNEL, type AmqpConnectionOptions } from './options.js';
/** Default slow-consumer timeout: one minute, generous enough for clients that read between long-running tasks. */
export { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS };
/** Everything a connection needs besides its transport. */
export interface AmqpConnectionContext {
  broker: BrokerApi;
  logger: Logger;
  options: AmqpConnectionOptions;
}

/** Methods that may change durable definitions; handled (replies held) even while an earlier one waits for fsync. */
const DEFINITION_METHODS: ReadonlySet<string> = new Set([
  'exchange.declare',
  'exchange.delete',
  'exchange.bind',
  'exchange.unbind',
  'queue.declare',
  'queue.bind',
  'queue.unbind',
  'queue.delete',
]);

/** One AMQP client connection. */
export class AmqpConnection implements ChannelOwner {
  /**
   * The state this connection shares with its handshake, heartbeat, dispatch and closing modules (see
   * connection-state.ts): allocated once, read by the per-frame path through this one field.
   */
  readonly #s: ConnectionState;

  /** The frame sink handed to the parser, bound once (no per-frame closures). */
  readonly #sink = (frame: Frame): void => this.#onFrame(frame);
  readonly #flushBound = (): void => this.#s.flushConfirms();

  /**
   * @param io The transport: writer, read switch with its pause reasons, counters.
   * @param info Who is connected.
   * @param ctx Broker, logger and options.
   */
  constructor(io: ProtocolIo, info: ConnectionInfo, ctx: AmqpConnectionContext) {
    const host: ConnectionHost = {
      blocked: (reason: string) => onBlocked(this.#s, reason),
      unblocked: () => onUnblocked(this.#s),
      connectionDetails: () => connectionDetails(this.#s),
      close: (reason: string) => this.forceClose(reason),
    };
    this.#s = new ConnectionState({
      io,
      info,
      broker: ctx.broker,
      options: ctx.options,
      log: ctx.logger.child({ conn: info.id, protocol: 'amqp', peer: `${info.remoteAddress}:${info.remotePort}` }),
      host,
      owner: this,
      onFrame: this.#sink,
      replay: replayBacklog,
      failed: internalError,
    });
    startHandshakeTimer(this.#s);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // ChannelOwner

  /** @inheritdoc */
  write(buf: Buffer): void {
    this.#s.write(buf);
  }

  /** @inheritdoc */
  get writable(): boolean {
    return this.#s.io.writable;
  }

  /** @inheritdoc */
  get frameMax(): number {
    return this.#s.frameMax;
  }

  /** @inheritdoc */
  get maxMessageSize(): number {
    return this.#s.options.maxMessageSize;
  }

  /** @inheritdoc */
  get consumerMaxPerChannel(): number {
    return this.#s.options.consumerMaxPerChannel ?? DEFAULT_CONSUMER_MAX_PER_CHANNEL;
  }

  /** @inheritdoc */
  get consumerCancelNotify(): boolean {
    return this.#s.capabilities['consumer_cancel_notify'] === true;
  }

  /** @inheritdoc */
  confirmsPending(channel: AmqpChannel): void {
    const s = this.#s;
    s.dirty.push(channel);
    // Inside receive() the flush happens at the end of the chunk; otherwise (asynchronous confirms, e.g. after a
    // disk write) once per tick.
    if (!s.inReceive && !s.flushScheduled) {
      s.flushScheduled = true;
      queueMicrotask(this.#flushBound);
    }
  }

  /** @inheritdoc */
  hostFailed(err: unknown): void {
    internalError(this.#s, err);
  }

  /** @inheritdoc */
  get definitionsVersion(): number {
    return this.#s.broker.definitionsVersion ?? 0;
  }

  /** @inheritdoc */
  holdUntilDefinitionsDurable(reply: Buffer | undefined): void {
    // Each call asks for its own change; the store coalesces, so one fsync round answers many of them (and every
    // other connection's changes made meanwhile).
    this.#s.barrier.holdUntilDurable(this.#s.broker, reply);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Transport events

  /** The negotiated heartbeat interval in seconds (0 = off). */
  get heartbeat(): number {
    return this.#s.heartbeat;
  }

  /** Feed bytes read from the client (any split). */
  receive(chunk: Buffer): void {
    const s = this.#s;
    if (s.state === State.Closed) return;
    s.readSinceTick = true;
    s.inReceive = true;
    try {
      if (s.headerBytes < 8) {
        const need = 8 - s.headerBytes;
        if (chunk.length < need) {
          s.parser.push(chunk, this.#sink);
          s.headerBytes += chunk.length;
          return;
        }
        s.parser.push(chunk.subarray(0, need), this.#sink);
        s.headerBytes = 8;
        sendStart(s);
        chunk = chunk.subarray(need);
        if (chunk.length === 0) return;
      }
      s.parser.push(chunk, this.#sink);
    } catch (err) {
      parserError(s, err);
    } finally {
      s.inReceive = false;
      s.flushConfirms();
      // Stop reading only when the output is far beyond its high-water mark: deliveries already stopped at the mark,
      // and replies to what the client sends (acks, confirms, declare-ok) are small, so a client that reads keeps
      // flowing; one that does not read is stopped before its replies pile up.
      if ((s.state as State) !== State.Closed && !s.io.writable && s.io.overloaded) {
        s.io.pause(PauseReason.Backpressure);
      }
    }
  }

  /** The outbound writer drained below its low-water mark: resume deliveries and reading. */
  onWritable(): void {
    const s = this.#s;
    if (s.state === State.Closed) return;
    for (const entry of s.channels.values()) {
      if (entry.state === ChannelState.Open) entry.channel.resume();
    }
    s.io.resume(PauseReason.Backpressure);
  }

  /**
   * The output stayed over the writer's high-water mark for the slow-consumer timeout (the writer's stall timeout):
   * the client is not reading (DESIGN.md §5). Deliveries already stopped, so nothing more can be done for it:
   * disconnect, which requeues its unacked messages for other consumers.
   */
  onStalled(): void {
    stalled(this.#s);
  }

  /** The transport closed (peer gone, ECONNRESET, destroyed): release everything quietly. */
  transportClosed(err?: Error): void {
    transportClosed(this.#s, err);
  }

  /** True once the connection is closed (and its core resources released). */
  get closed(): boolean {
    return this.#s.state === State.Closed;
  }

  /**
   * Close from the server side, as RabbitMQ does when the node stops: connection.close 320 CONNECTION_FORCED
   * "broker forced connection closure with reason 'shutdown'", then wait for close-ok (at most the close timeout)
   * and end the socket. A connection still in its handshake is just closed. Resolves once closed.
   */
  shutdown(): Promise<void> {
    return brokerShutdown(this.#s);
  }

  /**
   * An operator closed this connection (management API): connection.close 320 CONNECTION_FORCED with `reason` as
   * RabbitMQ sends it ("CONNECTION_FORCED - Closed via management plugin" by default), then close-ok and the end.
   */
  forceClose(reason: string): void {
    forceClose(this.#s, reason);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Frames (the per-frame path)

  #onFrame(frame: Frame): void {
    const s = this.#s;
    if (s.authWait) {
      s.backlog.push(frame);
      return;
    }
    if (s.barrier.waiting) {
      // While replies wait for the definitions fsync, more declares/binds (as pipelined over many channels) are
      // still handled, their replies held behind the earlier ones, so that one fsync round answers them all. Any
      // other frame, and everything after it, waits in order (the socket is paused; these were already read).
      if (s.backlog.length === 0 && s.state === State.Open && frame.channel !== 0 && frame.type === 'method' &&
          DEFINITION_METHODS.has(frame.method.name)) {
        s.holdWrites = true;
        try {
          this.#dispatchGuarded(frame);
        } finally {
          s.holdWrites = false;
        }
        return;
      }
      s.backlog.push(frame);
      return;
    }
    this.#dispatchGuarded(frame);
  }

  #dispatchGuarded(frame: Frame): void {
    // Errors are handled here, not thrown back through the parser (which would then be dead).
    try {
      this.#dispatch(frame);
    } catch (err) {
      if (isAuthorizationPending(err)) waitForAuth(this.#s, frame, err.ready);
      else frameError(this.#s, err, frame);
    }
  }

  #dispatch(frame: Frame): void {
    const state = this.#s.state;
    if (state === State.Open) {
      if (frame.channel !== 0) {
        this.#channelFrame(frame);
        return;
      }
      if (frame.type === 'heartbeat') return;
      if (frame.type !== 'method') throw new AmqpError(505, 'expected method frame, got non method frame instead');
      connectionMethod(this.#s, frame.method);
      return;
    }
    if (state === State.Closing) {
      closingFrame(this.#s, frame);
      return;
    }
    if (state === State.Closed) return;
    handshakeFrame(this.#s, frame);
  }

  #channelFrame(frame: Frame): void {
    const s = this.#s;
    if (s.alarmReason !== undefined && (s.io.pauseReasons & PauseReason.Alarm) === 0 && frame.type === 'method' &&
        frame.method.name === 'basic.publish') {
      blockPublisher(this.#s);
    }
    const id = frame.channel;
    const entry = s.channels.get(id);
    if (entry === undefined) {
      unopenedChannelFrame(this.#s, frame);
      return;
    }
    if (frame.type === 'method') {
      const name = frame.method.name;
      if (name === 'channel.close') {
        // Client-initiated close, or both sides closing at once (§1.5.2.5): answer close-ok and forget the channel.
        entry.channel.closeCore();
        s.channels.delete(id);
        s.write(encodeMethod(id, { name: 'channel.close-ok' }));
        return;
      }
      if (name === 'channel.close-ok') {
        if (entry.state === ChannelState.Closing) s.channels.delete(id);
        return;
      }
      if (entry.state === ChannelState.Closing) return;
      if (name === 'channel.open') throw new AmqpError(504, "second 'channel.open' seen", 20, 10);
    } else if (entry.state === ChannelState.Closing) {
      return;
    }
    entry.channel.handleFrame(frame);
  }
}
