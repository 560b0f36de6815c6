/**
 * The AMQP 0-9-1 connection state machine: handshake (spec §4.2.2-§4.2.4 and RabbitMQ's capabilities), heartbeats
 * (§4.2.7), the channel table, and error scoping (§1.2 reply codes: 4xx close a channel, 5xx the connection).
 *
 *   header → start → start-ok → tune → tune-ok → open → open-ok → (channels…) → close ↔ close-ok
 *
 * It takes bytes (or frames) and writes through a {@link ProtocolIo}; it never touches a socket.
 */
import type {
  BrokerApi,
  ConnectionDetails,
  ConnectionHost,
  ConnectionInfo,
  CoreConnection,
  FieldTable,
  Logger,
  User,
} from '@warren/core';
import { BrokerError, DefinitionsBarrier, isAuthorizationPending, isBrokerError } from '@warren/core';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, PauseReason, type ProtocolIo } from '@warren/transport';
import {
  AmqpProtocolError,
  encodeMethod,
  FrameParser,
  HEARTBEAT_FRAME,
  METHOD_IDS,
  PROTOCOL_HEADER,
  type AmqpMethod,
  type Frame,
} from '../codec/index.js';
import { AmqpError, amqpReplyFor, isHardError, replyText } from '../errors.js';
import { AmqpChannel, type ChannelOwner } from './channel.js';
import { certificateUserName, parseSaslResponse, SASL_MECHANISMS, SASL_MECHANISMS_WITH_CERTIFICATE, type CertLoginFrom } from './sasl.js';

/** Settings of one connection (a subset of the listener's AmqpServerOptions). */
export interface AmqpConnectionOptions {
  frameMax: number;
  channelMax: number;
  heartbeat: number;
  maxMessageSize: number;
  handshakeTimeoutMs: number;
  /** The user name of a SASL EXTERNAL login (RabbitMQ's ssl_cert_login_from). Default 'distinguished_name'. */
  certLoginFrom?: CertLoginFrom;
  /** How long to wait for connection.close-ok after sending connection.close. Default 3000 ms. */
  closeTimeoutMs?: number;
  /**
   * Disconnect a client whose output stays above the writer's high-water mark (no drain) for this long, requeueing
   * its unacked messages (DESIGN.md §5 slow consumers; like nats-server's write deadline, and RabbitMQ's TCP
   * send_timeout). 0 disables. Default {@link DEFAULT_SLOW_CONSUMER_TIMEOUT_MS}. The transport's writer keeps the
   * clock (its stall timeout) and calls {@link AmqpConnection.onStalled}.
   */
  slowConsumerTimeoutMs?: number;
  /**
   * Consumers one channel may have (RabbitMQ's consumer_max_per_channel): one more is refused with 530 NOT_ALLOWED,
   * so a client cannot grow a channel's consumer table without bound. 0 = no cap. Default
   * {@link DEFAULT_CONSUMER_MAX_PER_CHANNEL}.
   */
  consumerMaxPerChannel?: number;
}

/** Default cap on consumers per channel: far above what applications use, low enough to bound a leak or a flood. */
export const DEFAULT_CONSUMER_MAX_PER_CHANNEL = 50_000;

/** Default slow-consumer timeout: one minute, generous enough for clients that read between long-running tasks. */
export { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS };

/** RabbitMQ's reply text when the node shuts down (rabbit_networking:close_connections at shutdown). */
export const SHUTDOWN_REPLY_TEXT = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'";

/** Everything a connection needs besides its transport. */
export interface AmqpConnectionContext {
  broker: BrokerApi;
  logger: Logger;
  options: AmqpConnectionOptions;
}

/** Warren's version, announced in connection.start. */
export const SERVER_VERSION = '0.1.0';

/** Spec minimum for frame-max (§4.2.3 "frame-min-size"). */
const FRAME_MIN_SIZE = 4096;
/** Before tune-ok, frames are limited to the spec minimum (small limits before authentication, DESIGN.md §6). */
const PRE_TUNE_FRAME_MAX = FRAME_MIN_SIZE;

const enum State {
  /** Waiting for the protocol header. */
  Header,
  /** connection.start sent, waiting for start-ok. */
  Starting,
  /** connection.tune sent, waiting for tune-ok. */
  Tuning,
  /** Tuned, waiting for connection.open. */
  Opening,
  Open,
  /** connection.close sent, waiting for close-ok; every other frame is discarded (§4.2.2). */
  Closing,
  Closed,
}

/** Channel states kept in the table. */
const enum ChannelState {
  Open,
  /** channel.close sent after an error; everything but close/close-ok is ignored (spec §1.5.2.5). */
  Closing,
}

interface ChannelEntry {
  channel: AmqpChannel;
  state: ChannelState;
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
  readonly #info: ConnectionInfo;
  readonly #broker: BrokerApi;
  readonly #options: AmqpConnectionOptions;
  readonly #log: Logger;
  readonly #parser = new FrameParser({ frameMax: PRE_TUNE_FRAME_MAX });

  #state: State = State.Header;
  #headerBytes = 0;
  #user: User | undefined;
  #vhost = '';
  /** open-ok was sent (for the one "closed" log line). */
  #opened = false;
  #core: CoreConnection | undefined;
  #capabilities: FieldTable = {};
  #frameMax = PRE_TUNE_FRAME_MAX;
  #channelMax = 0;
  #heartbeat = 0;
  readonly #channels = new Map<number, ChannelEntry>();

  #handshakeTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  /** Set while a resource alarm is on: the next publish blocks this connection (RabbitMQ's "blocking" state). */
  #alarmReason: string | undefined;
  #closedWaiters: (() => void)[] = [];
  #readSinceTick = false;
  #wroteSinceTick = false;
  #missedTicks = 0;

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
    replay: () => this.#replayBacklog(),
    failed: (err) => this.#internalError(err),
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
  #clientProperties: FieldTable = {};
  #authMechanism = '';
  readonly #host: ConnectionHost = {
    blocked: (reason: string) => this.#onBlocked(reason),
    unblocked: () => this.#onUnblocked(),
    connectionDetails: () => this.#details(),
    close: (reason: string) => this.forceClose(reason),
  };

  /**
   * @param io The transport: writer, read switch with its pause reasons, counters.
   * @param info Who is connected.
   * @param ctx Broker, logger and options.
   */
  constructor(io: ProtocolIo, info: ConnectionInfo, ctx: AmqpConnectionContext) {
    this.#io = io;
    this.#info = info;
    this.#broker = ctx.broker;
    this.#options = ctx.options;
    this.#log = ctx.logger.child({ conn: info.id, protocol: 'amqp', peer: `${info.remoteAddress}:${info.remotePort}` });
    if (ctx.options.handshakeTimeoutMs > 0) {
      this.#handshakeTimer = setTimeout(() => this.#onHandshakeTimeout(), ctx.options.handshakeTimeoutMs);
      this.#handshakeTimer.unref?.();
    }
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
    return this.#capabilities['consumer_cancel_notify'] === true;
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
    this.#internalError(err);
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

  /**
   * The definitions are on disk and the held replies written: handle the frames that waited (the barrier then
   * reads again unless one of them started another wait).
   */
  #replayBacklog(): void {
    // The backlog waits for the auth backend now; #authReady handles it.
    if (this.#authWait || this.#state === State.Closed) return;
    const backlog = this.#backlog;
    this.#backlog = [];
    this.#inReceive = true;
    try {
      // A frame of the backlog may start another wait: #onFrame then puts the rest back into #backlog, in order.
      for (const frame of backlog) this.#onFrame(frame);
    } finally {
      this.#inReceive = false;
      this.#flushConfirmsNow();
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Transport events

  /** The negotiated heartbeat interval in seconds (0 = off). */
  get heartbeat(): number {
    return this.#heartbeat;
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
        this.#sendStart();
        chunk = chunk.subarray(need);
        if (chunk.length === 0) return;
      }
      this.#parser.push(chunk, this.#sink);
    } catch (err) {
      this.#parserError(err);
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
    if (this.#state === State.Closed || this.#io.writable) return;
    this.#log.warn(
      { user: this.#user?.name, vhost: this.#vhost, timeoutMs: this.#options.slowConsumerTimeoutMs ?? DEFAULT_SLOW_CONSUMER_TIMEOUT_MS },
      'AMQP client did not drain its output in time (slow consumer); closing connection, unacked messages requeued',
    );
    this.#abort();
  }

  /** The transport closed (peer gone, ECONNRESET, destroyed): release everything quietly. */
  transportClosed(err?: Error): void {
    if (this.#state === State.Closed) return;
    if (err !== undefined && this.#state !== State.Closing) {
      this.#log.info({ err: err.message }, 'AMQP connection socket error');
    }
    this.#shutdown('socket closed');
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
    if (this.#state === State.Closed) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#closedWaiters.push(resolve));
    if (this.#state === State.Open) {
      this.#log.info({ user: this.#user?.name, vhost: this.#vhost }, 'AMQP closing connection: broker shutdown');
      this.#sendConnectionClose(320, SHUTDOWN_REPLY_TEXT, 0, 0);
    } else if (this.#state !== State.Closing) {
      this.#abort();
    }
    return done;
  }

  /**
   * An operator closed this connection (management API): connection.close 320 CONNECTION_FORCED with `reason` as
   * RabbitMQ sends it ("CONNECTION_FORCED - Closed via management plugin" by default), then close-ok and the end.
   */
  forceClose(reason: string): void {
    if (this.#state !== State.Open) {
      if (this.#state !== State.Closing && this.#state !== State.Closed) this.#abort();
      return;
    }
    this.#log.info({ user: this.#user?.name, vhost: this.#vhost, reason }, 'AMQP closing connection: closed by an operator');
    this.#sendConnectionClose(320, replyText(320, reason), 0, 0);
  }

  #details(): ConnectionDetails {
    const name = this.#clientProperties['connection_name'];
    const traffic = this.#io.traffic();
    return {
      protocol: 'AMQP 0-9-1',
      type: 'network',
      clientProperties: this.#clientProperties,
      frameMax: this.#frameMax,
      channelMax: this.#channelMax,
      timeout: this.#heartbeat,
      authMechanism: this.#authMechanism,
      ...(typeof name === 'string' ? { userProvidedName: name } : Buffer.isBuffer(name) ? { userProvidedName: name.toString('utf8') } : {}),
      ...(traffic !== undefined ? { traffic } : {}),
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Frames

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
      if (isAuthorizationPending(err)) this.#waitForAuth(frame, err.ready);
      else this.#frameError(err, frame);
    }
  }

  /**
   * The frame's authentication or authorisation waits for an external backend: stop reading, keep it (first) and
   * every later frame in order, and handle them again once the backend answered (the cache then has the answer).
   */
  #waitForAuth(frame: Frame, ready: Promise<void>): void {
    this.#authWait = true;
    this.#backlog.unshift(frame);
    this.#io.pause(PauseReason.Auth);
    void ready.then(() => this.#authReady());
  }

  #authReady(): void {
    this.#authWait = false;
    if (this.#state === State.Closed) return;
    // While replies wait for a definitions fsync, the barrier's release handles the backlog.
    if (!this.#barrier.waiting) {
      const backlog = this.#backlog;
      this.#backlog = [];
      this.#inReceive = true;
      try {
        for (const f of backlog) this.#onFrame(f);
      } finally {
        this.#inReceive = false;
        this.#flushConfirmsNow();
      }
    }
    if (!this.#authWait && (this.#state as State) !== State.Closed) this.#io.resume(PauseReason.Auth);
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
      this.#connectionMethod(frame.method);
      return;
    }
    if (state === State.Closing) {
      // §4.2.2: after sending close, discard everything until close-ok (or the peer's own close).
      if (frame.type !== 'method' || frame.channel !== 0) return;
      if (frame.method.name === 'connection.close-ok') {
        this.#finish();
      } else if (frame.method.name === 'connection.close') {
        this.write(encodeMethod(0, { name: 'connection.close-ok' }));
        this.#finish();
      }
      return;
    }
    if (state === State.Closed) return;
    // Handshake.
    if (frame.type === 'heartbeat') return;
    if (frame.type !== 'method' || frame.channel !== 0) {
      throw new AmqpError(505, 'expected method frame on channel 0 during the handshake');
    }
    this.#handshakeMethod(frame.method);
  }

  #channelFrame(frame: Frame): void {
    if (this.#alarmReason !== undefined && (this.#io.pauseReasons & PauseReason.Alarm) === 0 && frame.type === 'method' &&
        frame.method.name === 'basic.publish') {
      this.#blockPublisher();
    }
    const id = frame.channel;
    const entry = this.#channels.get(id);
    if (entry === undefined) {
      if (frame.type === 'method' && frame.method.name === 'channel.open') {
        this.#openChannel(id);
        return;
      }
      if (frame.type === 'method' && frame.method.name === 'channel.close') {
        // Closing a channel that is not open: answer close-ok so the client is not left waiting.
        this.write(encodeMethod(id, { name: 'channel.close-ok' }));
        return;
      }
      if (frame.type === 'method' && frame.method.name === 'channel.close-ok') return;
      const ids = frame.type === 'method' ? METHOD_IDS[frame.method.name] : undefined;
      throw new AmqpError(504, "expected 'channel.open'", ids?.classId ?? 0, ids?.methodId ?? 0);
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

  #openChannel(id: number): void {
    const max = this.#channelMax;
    if (max !== 0 && this.#channels.size >= max) {
      // rabbit_reader:create_channel/2.
      throw new AmqpError(
        530,
        `number of channels opened (${this.#channels.size}) has reached the negotiated channel_max (${max})`,
        20,
        10,
      );
    }
    const channel = new AmqpChannel(this, id);
    channel.attach(this.#core!.openChannel(channel));
    this.#channels.set(id, { channel, state: ChannelState.Open });
    this.write(encodeMethod(id, { name: 'channel.open-ok', channelId: Buffer.alloc(0) }));
  }

  #connectionMethod(method: AmqpMethod): void {
    switch (method.name) {
      case 'connection.close':
        this.write(encodeMethod(0, { name: 'connection.close-ok' }));
        this.#finish();
        return;
      case 'connection.close-ok':
        return;
      case 'connection.update-secret':
        // RabbitMQ re-checks the new secret (OAuth 2 tokens); with password users there is nothing to refresh.
        this.write(encodeMethod(0, { name: 'connection.update-secret-ok' }));
        return;
      default: {
        const ids = METHOD_IDS[method.name];
        // rabbit_reader: a non-connection method on channel 0, or a handshake method after open.
        throw new AmqpError(504, 'unexpected method in connection state running', ids.classId, ids.methodId);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Handshake

  #sendStart(): void {
    this.#state = State.Starting;
    this.write(
      encodeMethod(0, {
        name: 'connection.start',
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: {
          product: 'Warren',
          version: SERVER_VERSION,
          platform: 'Node.js',
          copyright: 'Copyright (c) the Warren authors',
          information: 'Licensed under the MIT license',
          cluster_name: 'warren',
          capabilities: {
            publisher_confirms: true,
            exchange_exchange_bindings: true,
            'basic.nack': true,
            consumer_cancel_notify: true,
            'connection.blocked': true,
            consumer_priorities: true,
            authentication_failure_close: true,
            per_consumer_qos: true,
            direct_reply_to: true,
          },
        },
        mechanisms: Buffer.from(
          this.#info.peerCertificate !== undefined ? SASL_MECHANISMS_WITH_CERTIFICATE : SASL_MECHANISMS,
        ),
        locales: Buffer.from('en_US'),
      }),
    );
  }

  #handshakeMethod(method: AmqpMethod): void {
    const state = this.#state;
    if (state === State.Starting && method.name === 'connection.start-ok') {
      this.#startOk(method.clientProperties, method.mechanism, method.response);
      return;
    }
    if (state === State.Tuning && method.name === 'connection.tune-ok') {
      this.#tuneOk(method.channelMax, method.frameMax, method.heartbeat);
      return;
    }
    if (state === State.Opening && method.name === 'connection.open') {
      this.#open(method.virtualHost);
      return;
    }
    if (method.name === 'connection.close') {
      this.write(encodeMethod(0, { name: 'connection.close-ok' }));
      this.#finish();
      return;
    }
    throw new AmqpError(504, `unexpected method '${method.name}' during the handshake`);
  }

  #startOk(clientProperties: FieldTable, mechanism: string, response: Buffer): void {
    this.#clientProperties = clientProperties;
    this.#authMechanism = mechanism;
    const caps = clientProperties['capabilities'];
    if (caps !== null && typeof caps === 'object' && !Array.isArray(caps) && !Buffer.isBuffer(caps) && !(caps instanceof Date) && !('$decimal' in caps)) {
      this.#capabilities = caps as FieldTable;
    }
    if (mechanism === 'EXTERNAL') {
      this.#external();
      return;
    }
    const credentials = parseSaslResponse(mechanism, response);
    if (credentials === undefined && mechanism !== 'PLAIN' && mechanism !== 'AMQPLAIN') {
      // rabbit_reader: unknown mechanism is a handshake failure; the socket is closed.
      this.#log.warn({ mechanism }, 'AMQP handshake failed: unknown authentication mechanism');
      this.#abort();
      return;
    }
    let user: User | undefined;
    let reason = 'malformed SASL response';
    if (credentials !== undefined) {
      try {
        user = this.#broker.authenticate(credentials.username, credentials.password, this.#info.remoteAddress, this.#info.protocol);
      } catch (err) {
        if (!isBrokerError(err)) throw err;
        reason = err.message;
      }
    }
    this.#loginResult(user, credentials?.username, mechanism, reason);
  }

  /**
   * SASL EXTERNAL (rabbitmq_auth_mechanism_ssl): the user is the verified client certificate's subject DN or CN; no
   * password. The response is ignored, as RabbitMQ ignores it. Without a verified certificate, or with one naming no
   * such user, the login is refused like a wrong password.
   */
  #external(): void {
    const cert = this.#info.peerCertificate;
    const username = cert === undefined ? undefined : certificateUserName(cert, this.#options.certLoginFrom);
    let user: User | undefined;
    let reason = 'no verified client certificate';
    if (cert !== undefined && username === undefined) reason = 'the client certificate has no common name';
    if (username !== undefined) {
      try {
        if (this.#broker.authenticateExternal === undefined) throw new BrokerError('ACCESS_REFUSED', 'certificate login is not supported');
        user = this.#broker.authenticateExternal(username, this.#info.remoteAddress, this.#info.protocol);
      } catch (err) {
        if (!isBrokerError(err)) throw err;
        reason = err.message;
      }
    }
    this.#loginResult(user, username, 'EXTERNAL', reason);
  }

  /** Continue the handshake as `user`, or refuse the login (undefined) as RabbitMQ does. */
  #loginResult(user: User | undefined, username: string | undefined, mechanism: string, reason: string): void {
    if (user === undefined) {
      this.#log.warn({ user: username, mechanism, reason }, 'AMQP login refused');
      if (this.#capabilities['authentication_failure_close'] === true) {
        // RabbitMQ's authentication_failure_close: connection.close 403, then the socket is closed.
        this.#state = State.Closed;
        this.#clearTimers();
        this.#io.end(
          encodeMethod(0, {
            name: 'connection.close',
            replyCode: 403,
            replyText: replyText(
              403,
              `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
            ),
            classId: 0,
            methodId: 0,
          }),
        );
      } else {
        this.#abort();
      }
      return;
    }
    this.#user = user;
    this.#state = State.Tuning;
    this.write(
      encodeMethod(0, {
        name: 'connection.tune',
        channelMax: this.#options.channelMax,
        frameMax: this.#options.frameMax,
        heartbeat: this.#options.heartbeat,
      }),
    );
  }

  #tuneOk(channelMax: number, frameMax: number, heartbeat: number): void {
    const serverFrameMax = this.#options.frameMax;
    const serverChannelMax = this.#options.channelMax;
    // A client value of 0 means "no limit of its own": take the server's.
    const fm = frameMax === 0 ? serverFrameMax : frameMax;
    const cm = channelMax === 0 ? serverChannelMax : channelMax;
    // rabbit_reader:validate_negotiated_integer_value/3: RabbitMQ closes the socket on these.
    let problem: string | undefined;
    if (fm < FRAME_MIN_SIZE) {
      problem = `negotiated frame_max = ${fm} is lower than the minimum allowed value (${FRAME_MIN_SIZE})`;
    } else if (serverFrameMax !== 0 && fm > serverFrameMax) {
      problem = `negotiated frame_max = ${fm} is higher than the maximum allowed value (${serverFrameMax})`;
    } else if (serverChannelMax !== 0 && cm > serverChannelMax) {
      problem = `negotiated channel_max = ${cm} is higher than the maximum allowed value (${serverChannelMax})`;
    }
    if (problem !== undefined) {
      this.#log.warn({ reason: problem }, 'AMQP handshake failed');
      this.#abort();
      return;
    }
    this.#frameMax = fm;
    this.#parser.frameMax = fm;
    this.#channelMax = cm;
    // The client's tune-ok heartbeat is the negotiated value (spec §1.4.2.6.1).
    this.#heartbeat = heartbeat;
    this.#state = State.Opening;
    this.#startHeartbeat();
  }

  #open(vhost: string): void {
    const user = this.#user!;
    let core: CoreConnection;
    try {
      core = this.#broker.openConnection(this.#info, user, vhost, this.#host);
    } catch (err) {
      if (isBrokerError(err)) {
        const reply = amqpReplyFor(err.code);
        this.#log.warn({ user: user.name, vhost, reason: err.message }, 'AMQP connection.open refused');
        // RabbitMQ answers a refused vhost with connection.close 530 (hard error, whatever the code's usual scope).
        const code = reply.scope === 'connection' ? reply.replyCode : 530;
        this.#sendConnectionClose(code, replyText(code, err.message), 10, 40);
        return;
      }
      throw err;
    }
    this.#core = core;
    this.#vhost = vhost;
    this.#state = State.Open;
    this.#opened = true;
    if (this.#handshakeTimer !== undefined) {
      clearTimeout(this.#handshakeTimer);
      this.#handshakeTimer = undefined;
    }
    this.write(encodeMethod(0, { name: 'connection.open-ok', knownHosts: '' }));
    this.#io.authenticated?.();
    this.#log.info({ user: user.name, vhost }, 'AMQP connection opened');
    // An alarm already on was reported by openConnection (host.blocked): the first publish blocks. A BrokerApi that
    // only exposes the flag still gets the same behaviour.
    if (this.#broker.blocked && this.#alarmReason === undefined) this.#alarmReason = 'resource alarm';
  }

  #onHandshakeTimeout(): void {
    this.#handshakeTimer = undefined;
    if (this.#state === State.Open || this.#state === State.Closed) return;
    this.#log.warn({ timeoutMs: this.#options.handshakeTimeoutMs }, 'AMQP handshake timeout');
    this.#abort();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Heartbeats (§4.2.7): one interval per connection at half the negotiated period; it sends a heartbeat when
  // nothing was written since the last tick and gives up after two full periods without input.

  #startHeartbeat(): void {
    const seconds = this.#heartbeat;
    if (seconds <= 0) return;
    const tickMs = (seconds * 1000) / 2;
    this.#heartbeatTimer = setInterval(() => this.#heartbeatTick(), tickMs);
    this.#heartbeatTimer.unref?.();
  }

  #heartbeatTick(): void {
    if (this.#state === State.Closed) return;
    if (!this.#wroteSinceTick) this.#io.write(HEARTBEAT_FRAME);
    this.#wroteSinceTick = false;
    if (this.#readSinceTick || this.#io.pauseReasons !== 0) {
      // While we do not read (blocked, backpressure) the client's heartbeats cannot be seen: do not count.
      this.#missedTicks = 0;
    } else if (++this.#missedTicks >= 4) {
      this.#log.warn(
        { user: this.#user?.name, vhost: this.#vhost, timeoutS: this.#heartbeat },
        'AMQP missed heartbeats from client, closing connection',
      );
      this.#abort();
      return;
    }
    this.#readSinceTick = false;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Flow: blocked / backpressure

  // RabbitMQ (rabbit_reader control_throttle) blocks only connections that publish: an alarm puts every connection
  // in a "blocking" state, and the first publish seen afterwards blocks it: connection.blocked (with the
  // capability) and no more reading. A connection that only consumes keeps being read, so consumers drain queues.

  #onBlocked(reason: string): void {
    this.#alarmReason = reason;
  }

  /** A basic.publish arrived while an alarm is on: block now. */
  #blockPublisher(): void {
    if (this.#capabilities['connection.blocked'] === true) {
      this.write(encodeMethod(0, { name: 'connection.blocked', reason: this.#alarmReason ?? 'resource alarm' }));
    }
    this.#io.pause(PauseReason.Alarm);
  }

  #onUnblocked(): void {
    this.#alarmReason = undefined;
    if (this.#state !== State.Open) return;
    if ((this.#io.pauseReasons & PauseReason.Alarm) === 0) return;
    if (this.#capabilities['connection.blocked'] === true) {
      this.write(encodeMethod(0, { name: 'connection.unblocked' }));
    }
    this.#io.resume(PauseReason.Alarm);
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

  // ---------------------------------------------------------------------------------------------------------------
  // Errors and closing

  /** An error thrown while handling one frame. */
  #frameError(err: unknown, frame: Frame): void {
    if (this.#state !== State.Open) {
      // Before open-ok there is no one to tell: RabbitMQ closes the socket (rabbit_reader handshake errors).
      if (err instanceof AmqpError || isBrokerError(err) || err instanceof AmqpProtocolError) {
        this.#log.warn({ reason: err.message }, 'AMQP handshake failed');
        this.#abort();
        return;
      }
      this.#internalError(err);
      return;
    }
    let code: number;
    let text: string;
    let classId = 0;
    let methodId = 0;
    if (frame.type === 'method') {
      const ids = METHOD_IDS[frame.method.name];
      classId = ids.classId;
      methodId = ids.methodId;
    } else if (frame.type === 'header' || frame.type === 'body') {
      // Content completes a basic.publish.
      classId = 60;
      methodId = 40;
    }
    if (err instanceof AmqpError) {
      code = err.replyCode;
      text = err.replyText;
      if (err.classId !== 0 || err.methodId !== 0 || code === 505) {
        classId = err.classId;
        methodId = err.methodId;
      }
    } else if (isBrokerError(err)) {
      const reply = amqpReplyFor(err.code);
      code = reply.replyCode;
      text = `${reply.name} - ${err.message}`;
    } else if (err instanceof AmqpProtocolError) {
      code = err.replyCode;
      text = replyText(code, err.message);
    } else {
      this.#internalError(err);
      return;
    }
    if (isHardError(code) || frame.channel === 0) {
      this.#log.warn({ user: this.#user?.name, vhost: this.#vhost, code, text }, 'AMQP connection error');
      this.#sendConnectionClose(code, text, classId, methodId);
    } else {
      this.#channelError(frame.channel, code, text, classId, methodId);
    }
  }

  #channelError(id: number, code: number, text: string, classId: number, methodId: number): void {
    const entry = this.#channels.get(id);
    if (entry === undefined || entry.state === ChannelState.Closing) return;
    this.#log.info({ channel: id, code, text }, 'AMQP channel error');
    entry.state = ChannelState.Closing;
    // Send pending confirms first, then release the core channel (requeues unacked, cancels consumers).
    entry.channel.flushConfirms();
    entry.channel.closeCore();
    this.write(encodeMethod(id, { name: 'channel.close', replyCode: code, replyText: clampText(text), classId, methodId }));
  }

  /** Input the codec refused. */
  #parserError(err: unknown): void {
    if (this.#state === State.Closed) return;
    if (err instanceof AmqpProtocolError) {
      if (err.badProtocolHeader) {
        // §4.2.2: reply with the protocol header we support, then close.
        this.#log.info({}, 'AMQP bad protocol header');
        this.#state = State.Closed;
        this.#clearTimers();
        this.#io.end(PROTOCOL_HEADER);
        return;
      }
      if (this.#state !== State.Open) {
        this.#log.warn({ reason: err.message }, 'AMQP handshake failed');
        this.#abort();
        return;
      }
      this.#log.warn({ code: err.replyCode, reason: err.message }, 'AMQP frame error');
      // The parser is dead now: send close and end without waiting for close-ok (nothing more can be read).
      this.#sendConnectionClose(err.replyCode, replyText(err.replyCode, err.message), err.classId, err.methodId);
      this.#finish();
      return;
    }
    this.#internalError(err);
  }

  /** A bug: log with the stack and close this connection only with 541. */
  #internalError(err: unknown): void {
    if (this.#state === State.Closed) return;
    this.#log.error({ err, user: this.#user?.name, vhost: this.#vhost }, 'AMQP internal error');
    if (this.#state === State.Open) {
      this.#sendConnectionClose(541, replyText(541, 'internal error'), 0, 0);
    } else {
      this.#abort();
    }
  }

  #sendConnectionClose(code: number, text: string, classId: number, methodId: number): void {
    if (this.#state === State.Closing || this.#state === State.Closed) return;
    this.#state = State.Closing;
    // Replies still waiting for the definitions fsync would follow connection.close (§4.2.2 allows only close-ok):
    // they are dropped. One written while held stays in order before this close.
    if (!this.#holdWrites) this.#barrier.dropHeld();
    this.#releaseCore();
    this.#flushConfirmsNow();
    this.write(encodeMethod(0, { name: 'connection.close', replyCode: code, replyText: clampText(text), classId, methodId }));
    this.#closeTimer = setTimeout(() => this.#finish(), this.#options.closeTimeoutMs ?? 3000);
    this.#closeTimer.unref?.();
  }

  /** Orderly end: flush what is written and half-close. */
  #finish(): void {
    if (this.#state === State.Closed) return;
    this.#shutdown('closed');
    this.#io.end();
  }

  /** Close the transport at once (handshake failures, heartbeat timeout). */
  #abort(): void {
    if (this.#state === State.Closed) return;
    this.#shutdown('aborted');
    this.#io.destroy();
  }

  #shutdown(why: string): void {
    this.#state = State.Closed;
    this.#backlog = [];
    this.#barrier.close();
    this.#clearTimers();
    this.#releaseCore();
    if (this.#opened) {
      this.#log.info({ user: this.#user?.name, vhost: this.#vhost, why }, 'AMQP connection closed');
    }
    const waiters = this.#closedWaiters;
    this.#closedWaiters = [];
    for (const w of waiters) w();
  }

  #releaseCore(): void {
    for (const entry of this.#channels.values()) entry.channel.closeCore();
    this.#channels.clear();
    this.#dirty.length = 0;
    const core = this.#core;
    this.#core = undefined;
    if (core !== undefined) {
      try {
        core.close();
      } catch (err) {
        this.#log.error({ err }, 'AMQP core connection close failed');
      }
    }
  }

  #clearTimers(): void {
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer);
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#handshakeTimer = undefined;
    this.#heartbeatTimer = undefined;
    this.#closeTimer = undefined;
  }
}

/** reply-text is a shortstr: at most 255 bytes (spec §4.2.5.3). */
function clampText(text: string): string {
  if (Buffer.byteLength(text, 'utf8') <= 255) return text;
  let s = text.slice(0, 255);
  while (Buffer.byteLength(s, 'utf8') > 255) s = s.slice(0, -1);
  return s;
}
