/**
 * The AMQP 0-9-1 connection state machine: handshake (spec §4.2.2-§4.2.4 and RabbitMQ's capabilities), heartbeats
 * (§4.2.7), the channel table, and error scoping (§1.2 reply codes: 4xx close a channel, 5xx the connection).
 *
 *   header → start → start-ok → tune → tune-ok → open → open-ok → (channels…) → close ↔ close-ok
 *
 * It takes bytes (or frames) and writes through a {@link ProtocolIo}; it never touches a socket. This class holds
 * the state and the per-frame path (bytes → parser → channel, writes, confirms); the rest lives by family in
 * handshake.ts, heartbeat.ts, dispatch.ts and closing.ts, which see the state through {@link ConnectionShared}.
 */
import type { BrokerApi, ConnectionHost, ConnectionInfo, Logger } from '@warren/core';
import { DefinitionsBarrier, isAuthorizationPending } from '@warren/core';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, PauseReason, type ProtocolIo } from '@warren/transport';
import { encodeMethod, FrameParser, type Frame } from '../codec/index.js';
import { AmqpError } from '../errors.js';
import type { AmqpChannel, ChannelOwner } from './channel.js';
import { DEFAULT_CONSUMER_MAX_PER_CHANNEL, type AmqpConnectionOptions } from './options.js';
import { brokerShutdown, closingFrame, forceClose, frameError, internalError, parserError, stalled, transportClosed } from './closing.js';
import { ChannelState, PRE_TUNE_FRAME_MAX, State, type ChannelEntry, type ConnectionShared } from './connection-state.js';
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
  readonly #io: ProtocolIo;
  readonly #broker: BrokerApi;
  readonly #options: AmqpConnectionOptions;
  readonly #parser = new FrameParser({ frameMax: PRE_TUNE_FRAME_MAX });
  /** The state the handshake, heartbeat, dispatch and closing modules share (see connection-state.ts). */
  readonly #s: ConnectionShared;

  // The fields the per-frame path reads stay here; #s reaches them through accessors.
  #state: State = State.Header;
  #headerBytes = 0;
  #frameMax = PRE_TUNE_FRAME_MAX;
  readonly #channels = new Map<number, ChannelEntry>();
  /** Set while a resource alarm is on: the next publish blocks this connection (RabbitMQ's "blocking" state). */
  #alarmReason: string | undefined;
  #readSinceTick = false;
  #wroteSinceTick = false;

  #inReceive = false;
  #flushScheduled = false;
  readonly #dirty: AmqpChannel[] = [];

  /**
   * Replies held until the durable definitions are on disk; while it waits, frames wait in #backlog and reading is
   * paused for PauseReason.Definitions.
   */
  readonly #barrier = new DefinitionsBarrier({
    pause: () => this.#io.pause(PauseReason.Definitions),
    resume: () => {
      if (this.#state !== State.Closed) this.#io.resume(PauseReason.Definitions);
    },
    write: (buf) => this.write(buf),
    replay: () => replayBacklog(this.#s),
    failed: (err) => internalError(this.#s, err),
  });
  /** Frames that arrived (in the chunk being parsed, or before the pause took effect) while waiting. */
  #backlog: Frame[] = [];
  /** True while a frame waits for an external auth backend: it and every later frame wait in #backlog. */
  #authWait = false;
  /** True while a definitions method is handled during a wait: everything it writes is held by the barrier. */
  #holdWrites = false;

  /** The frame sink handed to the parser, bound once (no per-frame closures). */
  readonly #sink = (frame: Frame): void => this.#onFrame(frame);
  readonly #flushBound = (): void => this.#flushConfirmsNow();
  readonly #host: ConnectionHost = {
    blocked: (reason: string) => onBlocked(this.#s, reason),
    unblocked: () => onUnblocked(this.#s),
    connectionDetails: () => connectionDetails(this.#s),
    close: (reason: string) => this.forceClose(reason),
  };

  /**
   * @param io The transport: writer, read switch with its pause reasons, counters.
   * @param info Who is connected.
   * @param ctx Broker, logger and options.
   */
  constructor(io: ProtocolIo, info: ConnectionInfo, ctx: AmqpConnectionContext) {
    this.#io = io;
    this.#broker = ctx.broker;
    this.#options = ctx.options;
    this.#s = this.#shared(info, ctx.logger.child({ conn: info.id, protocol: 'amqp', peer: `${info.remoteAddress}:${info.remotePort}` }));
    startHandshakeTimer(this.#s);
  }

  /** The shared view of this connection: its own fields through accessors, the cold state as plain properties. */
  #shared(info: ConnectionInfo, log: Logger): ConnectionShared {
    // The accessors below reach this connection's #fields.
    const self = this;
    return {
      io: this.#io,
      info,
      broker: this.#broker,
      options: this.#options,
      log,
      parser: this.#parser,
      channels: this.#channels,
      dirty: this.#dirty,
      barrier: this.#barrier,
      host: this.#host,
      owner: this,
      get state() { return self.#state; },
      set state(v) { self.#state = v; },
      get frameMax() { return self.#frameMax; },
      set frameMax(v) { self.#frameMax = v; },
      get readSinceTick() { return self.#readSinceTick; },
      set readSinceTick(v) { self.#readSinceTick = v; },
      get wroteSinceTick() { return self.#wroteSinceTick; },
      set wroteSinceTick(v) { self.#wroteSinceTick = v; },
      get alarmReason() { return self.#alarmReason; },
      set alarmReason(v) { self.#alarmReason = v; },
      get backlog() { return self.#backlog; },
      set backlog(v) { self.#backlog = v; },
      get authWait() { return self.#authWait; },
      set authWait(v) { self.#authWait = v; },
      get inReceive() { return self.#inReceive; },
      set inReceive(v) { self.#inReceive = v; },
      get holdWrites() { return self.#holdWrites; },
      user: undefined,
      vhost: '',
      opened: false,
      core: undefined,
      capabilities: {},
      channelMax: 0,
      heartbeat: 0,
      clientProperties: {},
      authMechanism: '',
      handshakeTimer: undefined,
      heartbeatTimer: undefined,
      closeTimer: undefined,
      closedWaiters: [],
      missedTicks: 0,
      write: (buf) => this.write(buf),
      onFrame: this.#sink,
      flushConfirms: this.#flushBound,
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // ChannelOwner

  /** @inheritdoc */
  write(buf: Buffer): void {
    if (this.#holdWrites) {
      this.#barrier.hold(buf);
      return;
    }
    this.#wroteSinceTick = true;
    this.#io.write(buf);
  }

  /** @inheritdoc */
  get writable(): boolean {
    return this.#io.writable;
  }

  /** @inheritdoc */
  get frameMax(): number {
    return this.#frameMax;
  }

  /** @inheritdoc */
  get maxMessageSize(): number {
    return this.#options.maxMessageSize;
  }

  /** @inheritdoc */
  get consumerMaxPerChannel(): number {
    return this.#options.consumerMaxPerChannel ?? DEFAULT_CONSUMER_MAX_PER_CHANNEL;
  }

  /** @inheritdoc */
  get consumerCancelNotify(): boolean {
    return this.#s.capabilities['consumer_cancel_notify'] === true;
  }

  /** @inheritdoc */
  confirmsPending(channel: AmqpChannel): void {
    this.#dirty.push(channel);
    // Inside receive() the flush happens at the end of the chunk; otherwise (asynchronous confirms, e.g. after a
    // disk write) once per tick.
    if (!this.#inReceive && !this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushBound);
    }
  }

  /** @inheritdoc */
  hostFailed(err: unknown): void {
    internalError(this.#s, err);
  }

  /** @inheritdoc */
  get definitionsVersion(): number {
    return this.#broker.definitionsVersion ?? 0;
  }

  /** @inheritdoc */
  holdUntilDefinitionsDurable(reply: Buffer | undefined): void {
    // Each call asks for its own change; the store coalesces, so one fsync round answers many of them (and every
    // other connection's changes made meanwhile).
    this.#barrier.holdUntilDurable(this.#broker, reply);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Transport events

  /** The negotiated heartbeat interval in seconds (0 = off). */
  get heartbeat(): number {
    return this.#s.heartbeat;
  }

  /** Feed bytes read from the client (any split). */
  receive(chunk: Buffer): void {
    if (this.#state === State.Closed) return;
    this.#readSinceTick = true;
    this.#inReceive = true;
    try {
      if (this.#headerBytes < 8) {
        const need = 8 - this.#headerBytes;
        if (chunk.length < need) {
          this.#parser.push(chunk, this.#sink);
          this.#headerBytes += chunk.length;
          return;
        }
        this.#parser.push(chunk.subarray(0, need), this.#sink);
        this.#headerBytes = 8;
        sendStart(this.#s);
        chunk = chunk.subarray(need);
        if (chunk.length === 0) return;
      }
      this.#parser.push(chunk, this.#sink);
    } catch (err) {
      parserError(this.#s, err);
    } finally {
      this.#inReceive = false;
      this.#flushConfirmsNow();
      // Stop reading only when the output is far beyond its high-water mark: deliveries already stopped at the mark,
      // and replies to what the client sends (acks, confirms, declare-ok) are small, so a client that reads keeps
      // flowing; one that does not read is stopped before its replies pile up.
      if ((this.#state as State) !== State.Closed && !this.#io.writable && this.#io.overloaded) {
        this.#io.pause(PauseReason.Backpressure);
      }
    }
  }

  /** The outbound writer drained below its low-water mark: resume deliveries and reading. */
  onWritable(): void {
    if (this.#state === State.Closed) return;
    for (const entry of this.#channels.values()) {
      if (entry.state === ChannelState.Open) entry.channel.resume();
    }
    this.#io.resume(PauseReason.Backpressure);
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
    return this.#state === State.Closed;
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
    if (this.#authWait) {
      this.#backlog.push(frame);
      return;
    }
    if (this.#barrier.waiting) {
      // While replies wait for the definitions fsync, more declares/binds (as pipelined over many channels) are
      // still handled, their replies held behind the earlier ones, so that one fsync round answers them all. Any
      // other frame, and everything after it, waits in order (the socket is paused; these were already read).
      if (this.#backlog.length === 0 && this.#state === State.Open && frame.channel !== 0 && frame.type === 'method' &&
          DEFINITION_METHODS.has(frame.method.name)) {
        this.#holdWrites = true;
        try {
          this.#dispatchGuarded(frame);
        } finally {
          this.#holdWrites = false;
        }
        return;
      }
      this.#backlog.push(frame);
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
    const state = this.#state;
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
    if (this.#alarmReason !== undefined && (this.#io.pauseReasons & PauseReason.Alarm) === 0 && frame.type === 'method' &&
        frame.method.name === 'basic.publish') {
      blockPublisher(this.#s);
    }
    const id = frame.channel;
    const entry = this.#channels.get(id);
    if (entry === undefined) {
      unopenedChannelFrame(this.#s, frame);
      return;
    }
    if (frame.type === 'method') {
      const name = frame.method.name;
      if (name === 'channel.close') {
        // Client-initiated close, or both sides closing at once (§1.5.2.5): answer close-ok and forget the channel.
        entry.channel.closeCore();
        this.#channels.delete(id);
        this.write(encodeMethod(id, { name: 'channel.close-ok' }));
        return;
      }
      if (name === 'channel.close-ok') {
        if (entry.state === ChannelState.Closing) this.#channels.delete(id);
        return;
      }
      if (entry.state === ChannelState.Closing) return;
      if (name === 'channel.open') throw new AmqpError(504, "second 'channel.open' seen", 20, 10);
    } else if (entry.state === ChannelState.Closing) {
      return;
    }
    entry.channel.handleFrame(frame);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Confirms

  #flushConfirmsNow(): void {
    this.#flushScheduled = false;
    const dirty = this.#dirty;
    if (dirty.length === 0) return;
    for (let i = 0; i < dirty.length; i++) dirty[i]!.flushConfirms();
    dirty.length = 0;
  }
}
