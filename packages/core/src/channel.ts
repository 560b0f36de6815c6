import { randomBytes } from 'node:crypto';
import type { PermissionCheck } from './auth/users.js';
import type {
  ChannelHost,
  ConsumeOptions,
  CoreChannel,
  ExchangeDeclareOptions,
  FieldTable,
  GetResult,
  Message,
  PublishOptions,
  QueueDeclareOptions,
  QueueDeclareResult,
  User,
} from './contract.js';
import { BrokerError } from './errors.js';
import type { Exchange } from './exchange/exchange.js';
import { EXCHANGE_TYPES, invalidExchangeType } from './exchange/index.js';
import { fieldTypeName, parseExpiration, withProperties } from './message/message.js';
import { KeyedQueue } from './util/keyed-queue.js';
import { Consumer, type ConsumerChannel } from './queue/consumers.js';
import type { Queue } from './queue/queue.js';
import type { ProtocolCounters } from './stats/counters.js';
import type { MessageStore, QueueEntry } from './store/store.js';
import { PUBLISH_REJECTED, PUBLISH_ROUTED, type VHost } from './vhost.js';
import { topicAllowed, type TopicPermission } from './runtime-parameters.js';

/** The pseudo-queue of RabbitMQ's direct reply-to. */
export const REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to';
const REPLY_TO_PREFIX = 'amq.rabbitmq.reply-to.';

/** 22 url-safe base64 characters, as RabbitMQ's rabbit_guid:binary/2 produces. */
export function randomName(prefix: string): string {
  return prefix + randomBytes(16).toString('base64url').slice(0, 22);
}

/** What a channel needs of the broker and its connection. */
export interface ChannelContext {
  readonly vhost: VHost;
  readonly user: User;
  readonly connectionId: string;
  readonly store: MessageStore;
  /** Broker-wide counters of the connection's protocol. */
  readonly counters: ProtocolCounters;
  /** Current permissions of the user on the vhost (undefined = none). */
  permissions(): PermissionCheck | undefined;
  /** Set when an external backend authenticated the user (its checks may throw AuthorizationPending). */
  readonly external?: PermissionCheck | undefined;
  /** Changes whenever any permission changes, so cached checks can be dropped. */
  permissionGeneration(): number;
  /** The channel closed: forget it. */
  channelClosed(channel: CoreChannelImpl): void;
  /** The user's topic permission on an exchange of this vhost (undefined = every routing key allowed). */
  topicPermission?(exchange: string): TopicPermission | undefined;
  /** The connection's MQTT client id (ConnectionInfo.clientId): topic permission patterns' `{client_id}`. */
  readonly clientId?: string | undefined;
}

/** Shared empty placeholders of {@link CoreChannelImpl}'s lazily allocated collections; never written to. */
const EMPTY_MAP: ReadonlyMap<unknown, unknown> = new Map();
/** Source of {@link CoreChannelImpl}'s touch marks. */
let touchIds = 0;
const EMPTY_SET: ReadonlySet<unknown> = new Set();

/** A delivery awaiting ack. */
class Unacked {
  constructor(
    readonly entry: QueueEntry,
    readonly queue: Queue,
    /** undefined for basic.get. */
    readonly consumer: Consumer | undefined,
  ) {}
}

const enum Settle {
  Ack,
  Requeue,
  Discard,
}

/** The core channel: permission checks, consumers, delivery tags, acks, prefetch, confirms, direct reply-to. */
export class CoreChannelImpl implements CoreChannel, ConsumerChannel {
  readonly id: number;
  readonly #ctx: ChannelContext;
  readonly #vhost: VHost;
  readonly #host: ChannelHost;
  readonly #counters: ProtocolCounters;
  // The maps and sets below start as shared empty instances and are replaced on first write (the ...W() methods):
  // an idle connection's channel (most MQTT and STOMP connections) then costs no hash tables. Reads, delete() and
  // clear() are safe on the shared instances because they are always empty.
  #consumers: Map<string, Consumer> = EMPTY_MAP as Map<string, Consumer>;
  /** Delivery tag → unacked delivery, in tag order; created at the first delivery that needs an ack. */
  #unacked: KeyedQueue<Unacked> | undefined;
  /**
   * Queues whose consumers may use credit freed by settling: [#touchedHead, #touchedN) are still to dispatch. An
   * array and a mark on the queue rather than a Set, whose clear() after every acknowledgement allocates a table.
   */
  #touched: Queue[] | undefined;
  #touchedHead = 0;
  #touchedN = 0;
  /** This channel's mark on the queues in {@link #touched}. */
  readonly #touchId = ++touchIds;
  #deliveryTag = 0;
  #prefetch = 0;
  #globalPrefetch = 0;
  #flowActive = true;
  #closed = false;
  /** Name of the most recently declared queue, for the '' shortcut (rabbit_channel:expand_queue_name_shortcut). */
  #lastQueue = '';
  #replyToken: string | undefined = undefined;
  #replyTag = '';
  #permGeneration = -1;
  #writeOk: Set<string> = EMPTY_SET as Set<string>;
  #topicMemoKey = '';
  #topicMemo = false;

  constructor(id: number, ctx: ChannelContext, host: ChannelHost) {
    this.id = id;
    this.#ctx = ctx;
    this.#vhost = ctx.vhost;
    this.#host = host;
    this.#counters = ctx.counters;
  }

  #consumersW(): Map<string, Consumer> {
    if ((this.#consumers as unknown) === EMPTY_MAP) this.#consumers = new Map();
    return this.#consumers;
  }
  #unackedW(): KeyedQueue<Unacked> {
    return (this.#unacked ??= new KeyedQueue(true));
  }
  #touch(q: Queue): void {
    if (q.touchMark === this.#touchId) return;
    q.touchMark = this.#touchId;
    (this.#touched ??= [])[this.#touchedN++] = q;
  }

  // ---- ConsumerChannel -------------------------------------------------------------------------------------

  get deliverable(): boolean {
    return !this.#closed && this.#flowActive && this.#host.writable;
  }
  get unackedCount(): number {
    return this.#unacked?.size ?? 0;
  }
  get globalPrefetch(): number {
    return this.#globalPrefetch;
  }

  // ---- management ------------------------------------------------------------------------------------------

  /** The adapter's host of this channel (management reads its optional details). */
  get host(): ChannelHost {
    return this.#host;
  }
  /** The per-consumer prefetch set by qos(n, false): what new consumers get. */
  get prefetch(): number {
    return this.#prefetch;
  }
  get consumerCount(): number {
    return this.#consumers.size;
  }
  /** This channel's consumers (management; do not keep). */
  consumers(): IterableIterator<Consumer> {
    return this.#consumers.values();
  }

  deliverEntry(consumer: Consumer, entry: QueueEntry, queue: Queue): void {
    const deliveryTag = ++this.#deliveryTag;
    const qs = queue.stats;
    const vs = this.#vhost.stats;
    const ps = this.#counters.byType[queue.typeIndex]!;
    if (consumer.noAck) {
      queue.settle(entry);
      qs.deliverNoAck++;
      vs.deliverNoAck++;
      ps.deliveredConsumeAutoAck++;
    } else {
      this.#unackedW().push(deliveryTag, new Unacked(entry, queue, consumer));
      consumer.unacked++;
      queue.unacked++;
      qs.deliver++;
      vs.deliver++;
      ps.deliveredConsumeManualAck++;
    }
    if (entry.redelivered) {
      qs.redeliver++;
      vs.redeliver++;
      ps.redelivered++;
    }
    this.#host.deliver({
      consumerTag: consumer.tag,
      deliveryTag,
      redelivered: entry.redelivered,
      message: queue.deliveryMessage(entry),
      queue: queue.name,
      expiresAt: entry.expiresAt,
    });
  }

  cancelledByServer(consumer: Consumer): void {
    if (this.#consumers.get(consumer.tag) !== consumer) return;
    this.#consumers.delete(consumer.tag);
    this.#host.consumerCancelled(consumer.tag);
  }

  // ---- checks ------------------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new BrokerError('NOT_ALLOWED', 'channel is closed');
  }

  #refused(kind: 'queue' | 'exchange', name: string): BrokerError {
    return new BrokerError(
      'ACCESS_REFUSED',
      `access to ${kind} '${name}' in vhost '${this.#vhost.name}' refused for user '${this.#ctx.user.name}'`,
    );
  }

  /** RabbitMQ checks the default exchange under the name 'amq.default'. */
  #check(perm: 'configure' | 'write' | 'read', kind: 'queue' | 'exchange', name: string): void {
    const resource = kind === 'exchange' && name === '' ? 'amq.default' : name;
    const p = this.#ctx.permissions();
    if (p === undefined || !p[perm](resource, kind)) throw this.#refused(kind, resource);
  }

  #checkWriteCached(exchange: string): void {
    const gen = this.#ctx.permissionGeneration();
    if (gen !== this.#permGeneration) {
      this.#writeOk.clear();
      this.#permGeneration = gen;
    }
    if (this.#writeOk.has(exchange)) return;
    this.#check('write', 'exchange', exchange);
    if ((this.#writeOk as unknown) === EMPTY_SET) this.#writeOk = new Set();
    if (this.#writeOk.size < 1024) this.#writeOk.add(exchange);
  }

  /**
   * RabbitMQ's topic authorisation (rabbit_channel:check_topic_authorisation): on a topic exchange for which the user
   * has a topic permission, the routing key must match its write (publish) or read (bind) pattern.
   */
  #checkTopic(exchange: Exchange, perm: 'write' | 'read', routingKey: string): void {
    if (exchange.type !== 'topic') return;
    const external = this.#ctx.external;
    if (external !== undefined) {
      if (this.#checkExternalTopic(external, exchange.name, perm, routingKey)) return;
    } else {
      const tp = this.#ctx.topicPermission?.(exchange.name);
      if (tp === undefined) return;
      // rabbit_channel:build_topic_variable_map: the connection's variables, then username and vhost over them.
      const clientId = this.#ctx.clientId;
      const vars: Record<string, string> = { username: this.#ctx.user.name, vhost: this.#vhost.name };
      if (clientId !== undefined) vars.client_id = clientId;
      if (topicAllowed(tp[perm], routingKey, vars)) return;
    }
    throw this.#topicRefused(exchange.name, routingKey);
  }

  #topicRefused(exchange: string, routingKey: string): BrokerError {
    return new BrokerError(
      'ACCESS_REFUSED',
      // rabbit_access_control:check_topic_access's words in 3.10.
      `access to topic '${routingKey}' in exchange '${exchange}' in vhost '${this.#vhost.name}' refused for user '${this.#ctx.user.name}'`,
    );
  }

  /**
   * An external backend's topic decision. {@link authorizePublish} keeps its answer for the one publish that follows
   * (its content arrives a few frames later, and the cached answer must not expire in between).
   */
  #checkExternalTopic(external: PermissionCheck, exchange: string, perm: 'write' | 'read', routingKey: string, keep = false): boolean {
    const key = `${perm}\0${exchange}\0${routingKey}`;
    if (this.#topicMemoKey === key) {
      this.#topicMemoKey = '';
      return this.#topicMemo;
    }
    const allowed = external.topic === undefined || external.topic(exchange, perm, routingKey);
    if (keep) {
      this.#topicMemoKey = key;
      this.#topicMemo = allowed;
    }
    return allowed;
  }

  /**
   * Ask, before a publish's content arrives, every question its authorisation will ask (write on the exchange, the
   * topic check), so that an external backend's answers are cached when the publish is made. Throws
   * AuthorizationPending (repeat the call once it is ready) or the publish's ACCESS_REFUSED. Nothing for internal
   * users.
   */
  get externalAuth(): boolean {
    return this.#ctx.external !== undefined;
  }

  authorizePublish(exchangeName: string, routingKey: string): void {
    if (this.#ctx.external === undefined) return;
    this.#assertOpen();
    this.#checkWriteCached(exchangeName);
    const exchange = this.#vhost.exchange(exchangeName);
    if (exchange === undefined || exchange.type !== 'topic') return;
    if (!this.#checkExternalTopic(this.#ctx.external, exchange.name, 'write', routingKey, true)) {
      this.#topicMemoKey = '';
      throw this.#topicRefused(exchange.name, routingKey);
    }
  }

  checkTopicAccess(exchange: string, permission: 'read' | 'write', routingKey: string): void {
    const x = this.#vhost.exchange(exchange);
    if (x !== undefined) this.#checkTopic(x, permission, routingKey);
  }

  #notDefault(name: string): void {
    if (name === '') throw new BrokerError('ACCESS_REFUSED', 'operation not permitted on the default exchange');
  }

  #reservedName(kind: 'queue' | 'exchange', name: string): void {
    if (name.startsWith('amq.')) {
      throw new BrokerError('ACCESS_REFUSED', `${kind} name '${name}' contains reserved prefix 'amq.*'`);
    }
  }

  /** '' means the channel's most recently declared queue. */
  #queueName(name: string): string {
    if (name !== '') return name;
    if (this.#lastQueue === '') throw new BrokerError('NOT_FOUND', 'no previously declared queue');
    return this.#lastQueue;
  }

  #queue(name: string): Queue {
    const q = this.#vhost.queueOrThrow(name);
    this.#vhost.checkExclusive(q, this.#ctx.connectionId);
    return q;
  }

  // ---- exchanges ---------------------------------------------------------------------------------------------

  declareExchange(name: string, type: string, options: ExchangeDeclareOptions): void {
    this.#assertOpen();
    if (options.passive === true) {
      this.#vhost.declareExchange(name, type, options);
      return;
    }
    // rabbit_channel exchange.declare order: type, default exchange, configure permission, reserved name (new only).
    if (!(EXCHANGE_TYPES as readonly string[]).includes(type)) {
      throw invalidExchangeType(type);
    }
    this.#notDefault(name);
    this.#check('configure', 'exchange', name);
    if (!this.#vhost.exchanges.has(name)) {
      this.#reservedName('exchange', name);
      const ae = options.arguments?.['alternate-exchange'];
      if (typeof ae === 'string') {
        this.#check('read', 'exchange', name);
        this.#check('write', 'exchange', ae);
      }
    }
    this.#vhost.declareExchange(name, type, options);
  }

  deleteExchange(name: string, options: { ifUnused?: boolean }): void {
    this.#assertOpen();
    this.#notDefault(name);
    if (name.startsWith('amq.') && this.#vhost.exchanges.has(name)) {
      throw new BrokerError('ACCESS_REFUSED', `deletion of system exchange '${name}' in vhost '${this.#vhost.name}' not allowed`);
    }
    this.#check('configure', 'exchange', name);
    this.#vhost.deleteExchange(name, options.ifUnused === true);
  }

  // ---- queues ------------------------------------------------------------------------------------------------

  declareQueue(name: string, options: QueueDeclareOptions): QueueDeclareResult {
    this.#assertOpen();
    const vhost = this.#vhost;
    let actual = name;
    if (options.passive === true) {
      actual = this.#queueName(name);
    } else if (name === '') {
      const type = options.arguments?.['x-queue-type'];
      if (type === 'quorum' || type === 'stream') {
        throw new BrokerError('PRECONDITION_FAILED', `Cannot declare a server-named queue for type rabbit_${type}_queue`);
      }
      actual = randomName('amq.gen-');
    } else this.#reservedName('queue', name);
    if (options.passive !== true) {
      this.#check('configure', 'queue', actual);
      const dlx = options.arguments?.['x-dead-letter-exchange'];
      if (typeof dlx === 'string' && !vhost.queues.has(actual)) {
        this.#check('read', 'queue', actual);
        this.#check('write', 'exchange', dlx);
      }
    }
    const { queue } = vhost.declareQueue(actual, options, this.#ctx.connectionId);
    this.#lastQueue = queue.name;
    return { queue: queue.name, messageCount: queue.messageCount, consumerCount: queue.consumerCount, lengthOverflow: queue.lengthOverflow };
  }

  deleteQueue(name: string, options: { ifUnused?: boolean; ifEmpty?: boolean }): number {
    this.#assertOpen();
    const qname = this.#queueName(name);
    this.#check('configure', 'queue', qname);
    const q = this.#vhost.queues.get(qname);
    if (q === undefined) return 0;
    this.#vhost.checkExclusive(q, this.#ctx.connectionId);
    if (options.ifEmpty === true && q.messageCount > 0) {
      throw new BrokerError('PRECONDITION_FAILED', `queue '${qname}' in vhost '${this.#vhost.name}' not empty`);
    }
    if (options.ifUnused === true && q.consumerCount > 0) {
      throw new BrokerError('PRECONDITION_FAILED', `queue '${qname}' in vhost '${this.#vhost.name}' in use`);
    }
    return this.#vhost.removeQueue(q);
  }

  purgeQueue(name: string): number {
    this.#assertOpen();
    const qname = this.#queueName(name);
    this.#check('read', 'queue', qname);
    const q = this.#queue(qname);
    this.#notStream(q, 'queue.purge');
    return q.purge();
  }

  /** rabbit_stream_queue: basic.get and queue.purge are 540 NOT_IMPLEMENTED on streams. */
  #notStream(q: Queue, method: string): void {
    if (q.stream !== undefined) {
      throw new BrokerError(
        'NOT_IMPLEMENTED',
        `${method} not supported by stream queues queue '${q.name}' in vhost '${this.#vhost.name}'`,
      );
    }
  }

  // ---- bindings ----------------------------------------------------------------------------------------------

  #binding(
    unbind: boolean,
    kind: 'queue' | 'exchange',
    destName: string,
    sourceName: string,
    routingKey: string,
    args: FieldTable | undefined,
  ): void {
    this.#assertOpen();
    // rabbit_channel:binding_action: write on the destination, neither end the default exchange, read on the source.
    this.#check('write', kind, destName);
    if (kind === 'exchange') this.#notDefault(destName);
    this.#notDefault(sourceName);
    this.#check('read', 'exchange', sourceName);
    const vhost = this.#vhost;
    const src = vhost.exchange(sourceName);
    if (src !== undefined) this.#checkTopic(src, 'read', routingKey);
    if (unbind) {
      // RabbitMQ 3.10 answers unbind-ok when either end is missing.
      const dst = kind === 'queue' ? vhost.queues.get(destName) : vhost.exchange(destName);
      if (src === undefined || dst === undefined) return;
    }
    const source = src ?? vhost.exchangeOrThrow(sourceName);
    let destination: Queue | Exchange;
    if (kind === 'queue') destination = this.#queue(destName);
    else destination = vhost.exchangeOrThrow(destName);
    if (unbind) vhost.unbind(source, destination, routingKey, args);
    else vhost.bind(source, destination, routingKey, args);
  }

  bindQueue(queue: string, exchange: string, routingKey: string, args?: FieldTable): void {
    const q = this.#queueName(queue);
    // rabbit_channel:expand_routing_key_shortcut: '' queue and '' key bind with the queue's name.
    const key = queue === '' && routingKey === '' ? q : routingKey;
    this.#binding(false, 'queue', q, exchange, key, args);
  }

  unbindQueue(queue: string, exchange: string, routingKey: string, args?: FieldTable): void {
    const q = this.#queueName(queue);
    const key = queue === '' && routingKey === '' ? q : routingKey;
    this.#binding(true, 'queue', q, exchange, key, args);
  }

  bindExchange(destination: string, source: string, routingKey: string, args?: FieldTable): void {
    this.#binding(false, 'exchange', destination, source, routingKey, args);
  }

  unbindExchange(destination: string, source: string, routingKey: string, args?: FieldTable): void {
    this.#binding(true, 'exchange', destination, source, routingKey, args);
  }

  // ---- publish -----------------------------------------------------------------------------------------------

  publish(message: Message, options: PublishOptions): void {
    this.#assertOpen();
    const vhost = this.#vhost;
    const exchangeName = message.exchange;
    // rabbit_channel basic.publish order: write permission, exchange lookup, internal, fast reply-to, user-id,
    // expiration.
    this.#checkWriteCached(exchangeName);
    const exchange = vhost.exchangeOrThrow(exchangeName);
    if (exchange.internal) {
      throw new BrokerError('ACCESS_REFUSED', `cannot publish to internal exchange '${exchangeName}' in vhost '${vhost.name}'`);
    }
    this.#checkTopic(exchange, 'write', message.routingKey);
    // Counted once the publish is accepted (permission, exchange, internal): a refused one closes the channel instead.
    const vs = vhost.stats;
    const ps = this.#counters;
    vs.publish++;
    ps.received++;
    exchange.publishIn++;
    const props = message.properties;
    let msg = message;
    if (props.replyTo === REPLY_TO_QUEUE) {
      if (this.#replyToken === undefined) throw new BrokerError('PRECONDITION_FAILED', 'fast reply consumer does not exist');
      msg = withProperties(message, { ...props, replyTo: REPLY_TO_PREFIX + this.#replyToken });
    }
    if (props.userId !== undefined && props.userId !== this.#ctx.user.name) {
      throw new BrokerError(
        'PRECONDITION_FAILED',
        `user_id property set to '${props.userId}' but authenticated user was '${this.#ctx.user.name}'`,
      );
    }
    const ttl = parseExpiration(props.expiration);
    let result: number;
    if (exchangeName === '' && msg.routingKey.startsWith(REPLY_TO_PREFIX)) {
      const target = vhost.replyTo.get(msg.routingKey.slice(REPLY_TO_PREFIX.length));
      result = target !== undefined && target.deliverReply(msg) ? PUBLISH_ROUTED : 0;
    } else {
      result = vhost.publish(exchange, msg, ttl, Date.now());
    }
    if ((result & PUBLISH_ROUTED) !== 0) {
      ps.routed++;
      exchange.publishOut++;
    } else if (options.mandatory === true) {
      vs.returnUnroutable++;
      ps.unroutableReturned++;
      this.#host.returned(msg, 312, 'NO_ROUTE');
    } else {
      vs.dropUnroutable++;
      ps.unroutableDropped++;
    }
    if (options.sequence !== undefined) {
      const ack = (result & PUBLISH_REJECTED) === 0;
      ps.receivedConfirm++;
      if (ack) {
        vs.confirm++;
        ps.confirmed++;
      }
      this.#ctx.store.confirm(this.#host, options.sequence, ack);
    }
  }

  /** Direct reply-to: hand a reply straight to this channel's reply consumer. */
  deliverReply(message: Message): boolean {
    if (this.#closed || this.#replyToken === undefined) return false;
    this.#host.deliver({
      consumerTag: this.#replyTag,
      deliveryTag: ++this.#deliveryTag,
      redelivered: false,
      message,
      queue: message.routingKey,
    });
    return true;
  }

  // ---- consumers ---------------------------------------------------------------------------------------------

  consume(queue: string, options: ConsumeOptions): string {
    this.#assertOpen();
    const requested = options.consumerTag ?? '';
    if (requested !== '' && (this.#consumers.has(requested) || requested === this.#replyTag)) {
      throw new BrokerError('NOT_ALLOWED', `attempt to reuse consumer tag '${requested}'`);
    }
    const tag = requested === '' ? randomName('amq.ctag-') : requested;
    if (queue === REPLY_TO_QUEUE) {
      if (options.noAck !== true) throw new BrokerError('PRECONDITION_FAILED', 'reply consumer cannot acknowledge');
      if (this.#replyToken !== undefined) throw new BrokerError('PRECONDITION_FAILED', 'reply consumer already set');
      this.#replyToken = randomBytes(18).toString('base64url');
      this.#replyTag = tag;
      this.#vhost.replyTo.set(this.#replyToken, this);
      return tag;
    }
    const qname = this.#queueName(queue);
    this.#check('read', 'queue', qname);
    const q = this.#queue(qname);
    const exclusive = options.exclusive === true;
    if (q.hasExclusiveConsumer || (exclusive && q.consumerCount > 0)) {
      throw new BrokerError('ACCESS_REFUSED', `queue '${qname}' in vhost '${this.#vhost.name}' in exclusive use`);
    }
    const args = options.arguments ?? {};
    const p = args['x-priority'];
    let priority = 0;
    if (p !== undefined) {
      if (typeof p === 'number' && Number.isInteger(p)) priority = p;
      else if (typeof p === 'bigint') priority = Number(p);
      else {
        throw new BrokerError(
          'PRECONDITION_FAILED',
          `invalid arg 'x-priority' for queue '${qname}' in vhost '${this.#vhost.name}': "expected integer, got ${fieldTypeName(p)}"`,
        );
      }
    }
    if (q.stream !== undefined && this.#prefetch === 0) {
      // RabbitMQ: stream consumers need a per-consumer prefetch (and hence manual acks).
      throw new BrokerError('PRECONDITION_FAILED', `consumer prefetch count is not set for 'queue '${qname}' in vhost '${this.#vhost.name}''`);
    }
    const c = new Consumer(tag, q, this, {
      noAck: options.noAck === true,
      exclusive,
      priority,
      prefetch: this.#prefetch,
      arguments: args,
    });
    if (q.stream !== undefined) c.streamOffset = q.stream.resolve(args['x-stream-offset'], Date.now());
    this.#consumersW().set(tag, c);
    q.addConsumer(c);
    return tag;
  }

  cancel(consumerTag: string): void {
    if (this.#closed) return;
    if (this.#replyToken !== undefined && consumerTag === this.#replyTag) {
      this.#dropReply();
      return;
    }
    const c = this.#consumers.get(consumerTag);
    if (c === undefined) return; // RabbitMQ answers cancel-ok for unknown tags.
    this.#consumers.delete(consumerTag);
    c.queue.removeConsumer(c);
  }

  #dropReply(): void {
    if (this.#replyToken !== undefined) this.#vhost.replyTo.delete(this.#replyToken);
    this.#replyToken = undefined;
    this.#replyTag = '';
  }

  qos(prefetchCount: number, global: boolean): void {
    this.#assertOpen();
    // Unchanged: nothing to resume. Adapters that set the prefetch with every subscription (STOMP) would otherwise
    // walk every consumer of the channel per SUBSCRIBE, quadratic in the subscriptions.
    if ((global ? this.#globalPrefetch : this.#prefetch) === prefetchCount) return;
    if (global) this.#globalPrefetch = prefetchCount;
    else this.#prefetch = prefetchCount;
    this.resume();
  }

  // ---- settlement --------------------------------------------------------------------------------------------

  ack(deliveryTag: number, multiple: boolean): void {
    this.#settle(deliveryTag, multiple, Settle.Ack);
  }

  nack(deliveryTag: number, multiple: boolean, requeue: boolean): void {
    this.#settle(deliveryTag, multiple, requeue ? Settle.Requeue : Settle.Discard);
  }

  reject(deliveryTag: number, requeue: boolean): void {
    this.#settle(deliveryTag, false, requeue ? Settle.Requeue : Settle.Discard);
  }

  /** rabbit_channel:collect_acks: tag 0 + multiple = everything; otherwise the tag must be outstanding. */
  #settle(deliveryTag: number, multiple: boolean, how: Settle): void {
    this.#assertOpen();
    const unacked = this.#unackedW();
    if (!multiple) {
      const u = unacked.delete(deliveryTag);
      if (u === undefined) throw new BrokerError('PRECONDITION_FAILED', `unknown delivery tag ${deliveryTag}`);
      if (this.#globalPrefetch === 0) {
        // The common single ack: only this queue can use the freed credit.
        this.#apply(u, how);
        u.queue.dispatch();
        return;
      }
      this.#settleOne(u, how);
    } else {
      const all = deliveryTag === 0;
      if (!all && !unacked.has(deliveryTag)) throw new BrokerError('PRECONDITION_FAILED', `unknown delivery tag ${deliveryTag}`);
      unacked.shiftWhile(
        (tag) => all || tag <= deliveryTag,
        (u) => this.#settleOne(u, how),
      );
    }
    this.#afterSettle();
  }

  #settleOne(u: Unacked, how: Settle): void {
    this.#apply(u, how);
    this.#touch(u.queue);
  }

  /** Settle one delivery in its queue and give its consumer the credit back (no dispatch). */
  #apply(u: Unacked, how: Settle): void {
    if (u.consumer !== undefined) u.consumer.unacked--;
    const q = u.queue;
    q.unacked--;
    if (how === Settle.Ack) {
      q.stats.ack++;
      this.#vhost.stats.ack++;
      this.#counters.byType[q.typeIndex]!.acknowledged++;
      q.settle(u.entry);
    } else if (how === Settle.Requeue) u.queue.requeue(u.entry);
    else u.queue.discard(u.entry);
  }

  /** Capacity was freed or messages requeued: let the affected queues deliver. */
  #afterSettle(): void {
    if (this.#globalPrefetch !== 0) for (const c of this.#consumers.values()) this.#touch(c.queue);
    const touched = this.#touched;
    if (touched === undefined) return;
    // A dispatch can deliver to an adapter that settles at once, re-entering here: it appends to the same list and
    // drains it from the shared head, so every touched queue is dispatched once per touch, in order.
    while (this.#touchedHead < this.#touchedN) {
      const q = touched[this.#touchedHead] as Queue;
      touched[this.#touchedHead++] = undefined as unknown as Queue;
      q.touchMark = 0;
      q.dispatch();
    }
    this.#touchedHead = this.#touchedN = 0;
  }

  get(queue: string, noAck: boolean): GetResult | undefined {
    this.#assertOpen();
    const qname = this.#queueName(queue);
    this.#check('read', 'queue', qname);
    const q = this.#queue(qname);
    this.#notStream(q, 'basic.get');
    const entry = q.get();
    const vs = this.#vhost.stats;
    const ps = this.#counters.byType[q.typeIndex]!;
    if (entry === undefined) {
      q.stats.getEmpty++;
      vs.getEmpty++;
      ps.getEmpty++;
      return undefined;
    }
    const deliveryTag = ++this.#deliveryTag;
    if (noAck) {
      q.settle(entry);
      q.stats.getNoAck++;
      vs.getNoAck++;
      ps.deliveredGetAutoAck++;
    } else {
      this.#unackedW().push(deliveryTag, new Unacked(entry, q, undefined));
      q.unacked++;
      q.stats.get++;
      vs.get++;
      ps.deliveredGetManualAck++;
    }
    if (entry.redelivered) {
      q.stats.redeliver++;
      vs.redeliver++;
      ps.redelivered++;
    }
    return {
      delivery: { consumerTag: '', deliveryTag, redelivered: entry.redelivered, message: q.deliveryMessage(entry), queue: q.name },
      messageCount: q.messageCount,
    };
  }

  recover(requeue: boolean): void {
    this.#assertOpen();
    // rabbit_channel: basic.recover_async with requeue=false is not implemented by RabbitMQ either.
    if (!requeue) throw new BrokerError('NOT_IMPLEMENTED', 'requeue=false');
    this.#requeueAll();
  }

  #requeueAll(): void {
    this.#unacked?.shiftWhile(
      () => true,
      (u) => this.#settleOne(u, Settle.Requeue),
    );
    this.#afterSettle();
  }

  // ---- flow --------------------------------------------------------------------------------------------------

  flow(active: boolean): void {
    this.#flowActive = active;
    if (active) this.resume();
  }

  resume(): void {
    if (!this.deliverable) return;
    for (const c of this.#consumers.values()) c.queue.dispatch();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dropReply();
    // Requeue first (our consumers are no longer deliverable), then cancel, which may auto-delete queues.
    this.#requeueAll();
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    for (const c of consumers) c.queue.removeConsumer(c);
    this.#ctx.channelClosed(this);
  }
}
