/**
 * The STOMP connection state machine: one per client connection, one core channel per connection (RabbitMQ's
 * rabbit_stomp_processor). It takes frames from the codec, calls the core, and writes frames through a
 * {@link ProtocolIo}; it never touches a socket, so it runs over any Duplex (TCP, TLS, WebSocket) or an in-memory pair.
 *
 * This class dispatches frames to their family (connect.ts, publish.ts, subscriptions.ts, delivery.ts) and owns the
 * connection's flow: which frames wait for a definitions fsync, when reading pauses, and how the connection ends.
 *
 * Every error answers with an ERROR frame (a `message` header, a text body, and the `receipt-id` of the frame that
 * caused it) and closes this connection only (STOMP 1.2 §"ERROR": the server MUST close after sending it).
 */
import {
  isAuthorizationPending,
  type BrokerApi,
  type ChannelDetails,
  type ChannelHost,
  type ConnectionDetails,
  type ConnectionHost,
  type ConnectionInfo,
  type Delivery,
  type Logger,
} from '@warren/core';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, PauseReason, type ProtocolIo } from '@warren/transport';
import { StompDecoder, PRE_CONNECT_LIMITS } from '../codec/decoder.js';
import type { StompFrame, StompVersion } from '../codec/frame.js';
import { MESSAGE_REJECTED, operatorCloseFrame, StompError } from '../errors.js';
import { connect } from './connect.js';
import { Deliveries } from './delivery.js';
import { HeartBeats } from './heart-beat.js';
import { DEFAULT_STOMP_OPTIONS, type StompSessionOptions } from './options.js';
import { Publisher } from './publish.js';
import { Receipts } from './receipts.js';
import { SessionContext } from './session-context.js';
import { Subscriptions } from './subscriptions.js';

export { SERVER_NAME } from './connect.js';
export { DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_STOMP_OPTIONS, type StompSessionOptions } from './options.js';
export { subscriptionQueueName } from './subscriptions.js';
export { forcedCloseReason } from '../errors.js';

/**
 * SUBSCRIBE/UNSUBSCRIBE frames one connection handles per event-loop turn before it lets the others run. 50 rather
 * than 200: bystanders' p99 during 40,000 SUBSCRIBEs went from 53–74 ms to 25–33 ms (bench/src/security/flood-bench.ts).
 */
const SUBSCRIBES_PER_TURN = 50;

/** A STOMP connection. Feed it bytes with {@link receive}; tell it when the transport closes. */
export class StompSession implements ChannelHost, ConnectionHost {
  readonly #ctx: SessionContext;
  readonly #decoder = new StompDecoder(PRE_CONNECT_LIMITS);
  readonly #receipts: Receipts;
  readonly #subs: Subscriptions;
  readonly #publisher: Publisher;
  readonly #deliveries: Deliveries;
  readonly #heartBeats = new HeartBeats();
  /** Frames read while the barrier waits, handled in order once the wait is over. */
  #backlog: StompFrame[] = [];
  /** SUBSCRIBE/UNSUBSCRIBE frames handled since this connection last yielded the event loop (see #onFrame). */
  #turnSubscribes = 0;
  #connectTimer: NodeJS.Timeout | undefined;

  constructor(io: ProtocolIo, info: ConnectionInfo, broker: BrokerApi, logger: Logger, options: StompSessionOptions) {
    const ctx = new SessionContext(io, info, broker, logger, options, this, {
      replay: () => this.#replay(),
      failed: (err) => ctx.fail(err, undefined),
      teardown: () => this.#teardown(),
    });
    this.#ctx = ctx;
    this.#receipts = new Receipts(ctx);
    this.#subs = new Subscriptions(ctx, this.#receipts);
    this.#publisher = new Publisher(ctx, this.#subs, this.#receipts);
    this.#deliveries = new Deliveries(ctx, this.#subs, this.#receipts, this.#publisher);
    const timeout = options.connectTimeoutMs ?? DEFAULT_STOMP_OPTIONS.connectTimeoutMs;
    if (timeout > 0) {
      this.#connectTimer = setTimeout(() => {
        if (ctx.state === 'connecting') ctx.closeNow();
      }, timeout);
      this.#connectTimer.unref?.();
    }
  }

  /** The negotiated version ('1.0' until CONNECT). */
  get version(): StompVersion {
    return this.#ctx.version;
  }

  /** True once the connection is closed or closing. */
  get closed(): boolean {
    return !this.#ctx.live;
  }

  // ---- input ---------------------------------------------------------------------------------------------------

  /** Bytes from the transport. Never throws. */
  receive(chunk: Buffer): void {
    if (!this.#ctx.live) return;
    this.#ctx.lastRead = Date.now();
    try {
      this.#decoder.push(chunk, this.#onFrame);
    } catch (err) {
      this.#ctx.fail(err, undefined);
    }
  }

  /** The transport closed (or failed): release everything. Idempotent. */
  transportClosed(err?: Error): void {
    const ctx = this.#ctx;
    if (ctx.state === 'closed') return;
    if (err !== undefined && ctx.logger.isLevelEnabled?.('debug') === true) {
      ctx.logger.debug({ err, connection: ctx.info.id }, 'STOMP transport error');
    }
    this.#teardown();
  }

  /** The writer drained below its low-water mark: let the core deliver again. */
  onWritable(): void {
    this.#ctx.channel?.resume();
  }

  /**
   * The output stayed over the writer's high-water mark for the slow-consumer timeout: drop the client, so that its
   * unacked messages are requeued for other consumers (DESIGN.md §5).
   */
  onStalled(): void {
    const ctx = this.#ctx;
    if (ctx.state === 'closed') return;
    ctx.logger.warn(
      { connection: ctx.info.id, timeoutMs: ctx.options.slowConsumerTimeoutMs ?? DEFAULT_SLOW_CONSUMER_TIMEOUT_MS },
      'slow consumer: closing the STOMP connection',
    );
    ctx.closeNow();
  }

  /** The broker is stopping: close this connection now (STOMP has no server-side close frame for it). */
  shutdown(): Promise<void> {
    this.#teardown();
    this.#ctx.io.destroy();
    return Promise.resolve();
  }

  readonly #onFrame = (frame: StompFrame): boolean => {
    const ctx = this.#ctx;
    if (!ctx.live) return false;
    if (ctx.barrier.waiting) {
      this.#backlog.push(frame);
      return true;
    }
    const receipt = frame.headers.get('receipt');
    const command = frame.command;
    // Only these can declare or delete durable queues; their writes are captured so they can be held until the
    // definitions are on disk.
    const before =
      command === 'SEND' || command === 'SUBSCRIBE' || command === 'UNSUBSCRIBE' || command === 'COMMIT'
        ? ctx.broker.definitionsVersion
        : undefined;
    if (before !== undefined) ctx.barrier.beginCapture();
    // RabbitMQ answers a frame (its RECEIPT) before the deliveries it causes (a redelivery after NACK, the backlog of
    // a new subscription, the messages of a COMMIT): those come from queue processes, after the reply. SEND is the
    // exception: its RECEIPT waits for the publish confirm, which follows the delivery.
    const defer = command !== 'SEND' && command !== 'CONNECT' && command !== 'STOMP';
    if (defer) ctx.deferred = [];
    try {
      this.#handle(frame);
      if (defer) ctx.flushDeferred();
    } catch (err) {
      if (defer) ctx.flushDeferred();
      if (isAuthorizationPending(err)) {
        // An external auth backend answers later: this frame (first) and every later one wait, then run again.
        ctx.barrier.endCapture();
        this.#backlog.unshift(frame);
        ctx.waitReason = PauseReason.Auth;
        ctx.barrier.holdUntil(err.ready);
        return true;
      }
      if (err instanceof StompError && !err.fatal && ctx.state === 'connected') {
        // Not fatal: the ERROR goes out, the frame is dropped, the connection reads on (RabbitMQ's behaviour).
        ctx.error(err.summary, err.message);
        if (before !== undefined) this.#endCapture(before);
        return true;
      }
      ctx.barrier.endCapture();
      // A failed SUBSCRIBE still has its RECEIPT sent after the ERROR (RabbitMQ's order), then the connection closes.
      this.#ctx.fail(err, ctx.state === 'connecting' ? receipt : undefined, command === 'SUBSCRIBE' ? receipt : undefined);
      return false;
    }
    if (before !== undefined) this.#endCapture(before);
    if ((command === 'SUBSCRIBE' || command === 'UNSUBSCRIBE') && ++this.#turnSubscribes >= SUBSCRIBES_PER_TURN) {
      // Each (un)subscription declares, binds and consumes: thousands of them read at once would hold the event loop
      // for every other client. The rest of what was read waits for the next turn, in order, as while definitions
      // are flushed.
      this.#turnSubscribes = 0;
      ctx.waitReason = PauseReason.Turn;
      ctx.barrier.yieldTurn();
    }
    return ctx.live;
  };

  /**
   * End capturing the output of a frame that may have changed durable definitions (`before` is the definitions
   * version it started with): if it did, its replies, and every later frame, wait until they are on disk.
   */
  #endCapture(before: number): void {
    const ctx = this.#ctx;
    if (ctx.broker.definitionsVersion === before) {
      ctx.barrier.endCapture();
      return;
    }
    ctx.waitReason = PauseReason.Definitions;
    ctx.barrier.endCapture(ctx.broker.flushDefinitions?.() ?? Promise.resolve());
  }

  /** Every wait is over and the held replies are out: send due receipts, then handle the frames that waited. */
  #replay(): void {
    this.#receipts.flush();
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const frame of backlog) {
      // A frame may start another wait (#onFrame then backlogs the rest, in order) or close the connection.
      if (!this.#onFrame(frame)) break;
    }
  }

  #handle(frame: StompFrame): void {
    const ctx = this.#ctx;
    const command = frame.command;
    if (ctx.state === 'connecting') {
      if (command === 'CONNECT' || command === 'STOMP') {
        connect(ctx, frame, this.#decoder, this.#heartBeats);
        if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
        if (ctx.broker.blocked) this.blocked('resource alarm');
        return;
      }
      throw new StompError('Illegal command', 'You must log in using CONNECT first');
    }
    if (ctx.disconnecting) return;
    switch (command) {
      case 'SEND':
        return this.#publisher.send(frame);
      case 'SUBSCRIBE':
        return this.#subs.subscribe(frame);
      case 'UNSUBSCRIBE':
        return this.#subs.unsubscribe(frame);
      case 'ACK':
        return this.#deliveries.settle(frame, true);
      case 'NACK':
        return this.#deliveries.settle(frame, false);
      case 'BEGIN':
        return this.#publisher.begin(frame);
      case 'COMMIT':
        return this.#publisher.commit(frame);
      case 'ABORT':
        return this.#publisher.abort(frame);
      case 'DISCONNECT':
        return this.#disconnect(frame);
      case 'CONNECT':
      case 'STOMP':
        // RabbitMQ closes the connection without a frame.
        ctx.logger.info({ connection: ctx.info.id }, `STOMP ${command} on a connected session: closing the connection`);
        ctx.closeNow();
        return;
      default:
        throw new StompError('Bad command', `Could not interpret command "${command}"\n`);
    }
  }

  #disconnect(frame: StompFrame): void {
    const receipt = frame.headers.get('receipt');
    this.#ctx.disconnecting = true;
    if (receipt !== undefined) this.#receipts.receipt(receipt);
    if (this.#receipts.waiting === 0) this.#ctx.endGracefully();
  }

  #teardown(): void {
    const ctx = this.#ctx;
    if (ctx.state === 'closed') return;
    ctx.state = 'closed';
    if (ctx.user !== undefined) {
      ctx.logger.info({ connection: ctx.info.id, protocol: 'stomp', user: ctx.user.name }, 'STOMP connection closed');
    }
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#heartBeats.stop();
    ctx.barrier.close();
    try {
      ctx.channel?.close();
      ctx.connection?.close();
    } catch (err) {
      ctx.logger.error({ err, connection: ctx.info.id }, 'closing the STOMP core connection failed');
    }
    this.#subs.clear();
    this.#publisher.clear();
    this.#receipts.clear();
    this.#backlog = [];
  }

  // ---- ChannelHost / ConnectionHost ----------------------------------------------------------------------------

  get writable(): boolean {
    return this.#ctx.io.writable;
  }

  deliver(delivery: Delivery): void {
    this.#deliveries.deliver(delivery);
  }

  confirm(sequence: number, ack: boolean): void {
    if (this.#ctx.state !== 'connected') return;
    this.#receipts.confirmed(sequence);
    if (!ack) {
      this.#ctx.fail(MESSAGE_REJECTED, undefined);
      return;
    }
    this.#receipts.flush();
  }

  returned(): void {
    // SEND is never mandatory: nothing to return.
  }

  consumerCancelled(consumerTag: string): void {
    this.#subs.cancelled(consumerTag);
  }

  connectionDetails(): ConnectionDetails {
    const ctx = this.#ctx;
    const traffic = ctx.io.traffic?.();
    const web = ctx.info.websocket === true;
    return {
      protocol: `${web ? 'Web ' : ''}STOMP ${ctx.version}`,
      // RabbitMQ's STOMP plugin works over direct (in-node) AMQP connections.
      type: 'direct',
      clientProperties: { product: 'STOMP client' },
      frameMax: 0,
      channelMax: 1,
      // RabbitMQ lists a `timeout` (0) for STOMP over TCP, none for Web STOMP.
      ...(web ? {} : { timeout: 0 }),
      ...(traffic !== undefined ? { traffic } : {}),
    };
  }

  channelDetails(): ChannelDetails {
    const { transactions, actions } = this.#publisher.uncommitted();
    return {
      number: 1,
      confirm: false,
      transactional: transactions > 0,
      messagesUncommitted: actions,
      acksUncommitted: 0,
      messagesUnconfirmed: 0,
    };
  }

  /**
   * An operator closed this connection (management API). Over TCP the client gets RabbitMQ's ERROR frame ("AMQP
   * channel died", the reason in Erlang's words in the body), then the end; over WebSocket RabbitMQ sends no frame and
   * just closes.
   */
  close(reason: string): void {
    const ctx = this.#ctx;
    if (!ctx.live) return;
    ctx.logger.info({ connection: ctx.info.id, user: ctx.user?.name, reason }, 'STOMP closing connection: closed by an operator');
    ctx.state = 'closing';
    if (ctx.info.websocket === true) {
      ctx.io.end();
    } else {
      ctx.io.end(operatorCloseFrame(reason, ctx.version));
    }
    this.#teardown();
  }

  blocked(_reason: string): void {
    const ctx = this.#ctx;
    ctx.blocked = true;
    // Stop reading from publishers only: a pure consumer keeps acking while the alarm lasts.
    if (ctx.published) ctx.io.pause(PauseReason.Alarm);
  }

  unblocked(): void {
    const ctx = this.#ctx;
    ctx.blocked = false;
    // Only the alarm's reason: replies still waiting for the disk keep reading paused.
    ctx.io.resume(PauseReason.Alarm);
  }
}
