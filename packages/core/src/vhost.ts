import type { ExchangeDeclareOptions, FieldTable, Logger, Message, QueueDeclareOptions } from './contract.js';
import { BrokerError } from './errors.js';
import { DefaultExchange } from './exchange/default.js';
import { bindingId, type Binding, type Destination, type Exchange } from './exchange/exchange.js';
import { createExchange } from './exchange/index.js';
import { deadLetterMessage, isDeadLetterCycle, type DeadLetterReason } from './message/dead-letter.js';
import { fieldEquals, fieldValueText, withProperties } from './message/message.js';
import { assertQueueArgsEquivalent, parseQueueArguments } from './queue/arguments.js';
import { Queue, streamSettings, type QueueOwner } from './queue/queue.js';
import { effectiveQueueSettings } from './policy/effective-settings.js';
import { matchPolicy, mergePolicyDefinitions, type Policy } from './policy/policy.js';
import { BrokerStats, MessageCounters } from './stats/counters.js';
import type { SampleRing } from './stats/sample-ring.js';
import type { MessageStore } from './store/store.js';
import { MemoryQueueStore } from './store/memory-store.js';

/**
 * Empty a reused scratch array. `a.length = 0` would drop its backing store (the next push allocates a new one);
 * popping keeps it, so routing allocates nothing per message.
 */
function truncate(a: unknown[]): void {
  while (a.length > 0) a.pop();
}

/** Predeclared exchanges of every vhost (AMQP 0-9-1 §3.1.3, plus RabbitMQ's amq.match). */
const STANDARD_EXCHANGES: readonly (readonly [string, string])[] = [
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

/** Deepest nesting of dead-letter routing (cycle detection stops real loops long before). */
const MAX_ROUTE_DEPTH = 16;

/** Bits returned by {@link VHost.publish}. */
export const PUBLISH_ROUTED = 1;
/** Some queue refused the message (x-overflow reject-publish). */
export const PUBLISH_REJECTED = 2;

/** RabbitMQ's vhost limits (`max-connections`, `max-queues`); an absent or negative value means no limit. */
export interface VhostLimits {
  'max-connections'?: number;
  'max-queues'?: number;
}

/** Something a deleted queue's consumers are cancelled through (the channel). */
interface CancelTarget {
  cancelledByServer(consumer: import('./queue/consumers.js').Consumer): void;
}

/**
 * A virtual host: its exchanges, queues and bindings, and the routing walk. Permission checks and per-channel state
 * live in the channel; this class enforces the AMQP/RabbitMQ rules about the entities themselves.
 */
export class VHost implements QueueOwner {
  readonly name: string;
  /** Operator metadata (RabbitMQ's vhost description, tags and default queue type); kept with the definitions. */
  description = '';
  tags: string[] = [];
  defaultQueueType: string | undefined = undefined;
  /** Policies and operator policies by name (see {@link VHost.applyPolicies}). */
  readonly policies = new Map<string, Policy>();
  readonly operatorPolicies = new Map<string, Policy>();
  /** Vhost limits (RabbitMQ's `vhost-limits` runtime parameter). */
  limits: VhostLimits = {};
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** {@link queues} in name order, until a queue is added or removed (see {@link queuesByName}). */
  #byName: readonly Queue[] | undefined = undefined;
  readonly defaultExchange: DefaultExchange;
  /** Direct reply-to: token → the channel whose reply consumer answers `amq.rabbitmq.reply-to.<token>`. */
  readonly replyTo = new Map<string, { deliverReply(message: Message): boolean }>();
  /** The vhost's message counters (management's vhost message_stats), bumped by its channels. */
  readonly stats = new MessageCounters();
  /** Rates of {@link stats} and of the vhost's queue totals; allocated by the sampler. */
  samples: SampleRing | undefined = undefined;
  /** Broker-wide churn counters (queues declared, created, deleted). */
  readonly brokerStats: BrokerStats;
  readonly #store: MessageStore;
  readonly #logger: Logger;
  /** Called when a durable definition (exchange, queue, binding between durable ends) appears or goes. */
  readonly #onDurableChange: () => void;
  #epoch = 0;
  #depth = 0;
  /** Scratch arrays per routing depth (dead-lettering routes again from inside an enqueue). */
  readonly #dests: Destination[][] = [];
  readonly #stacks: Exchange[][] = [];
  readonly #targets: Queue[][] = [];

  constructor(
    name: string,
    store: MessageStore,
    logger: Logger,
    onDurableChange: () => void = () => {},
    brokerStats: BrokerStats = new BrokerStats(),
  ) {
    this.name = name;
    this.brokerStats = brokerStats;
    this.#store = store;
    this.#logger = logger;
    this.#onDurableChange = onDurableChange;
    this.defaultExchange = new DefaultExchange(this.queues);
    for (const [n, t] of STANDARD_EXCHANGES) {
      this.exchanges.set(n, createExchange(n, t, { durable: true, autoDelete: false, internal: false, arguments: {} }));
    }
  }

  /** Look up an exchange; '' is the default exchange. */
  /**
   * The queues in name order (code-unit order, as RabbitMQ's lists). Kept until a queue is added or removed: the
   * management API lists them every second or so, and sorting 100,000 names each time held the event loop ~20 ms.
   */
  queuesByName(): readonly Queue[] {
    return (this.#byName ??= [...this.queues.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
  }

  exchange(name: string): Exchange | undefined {
    return name === '' ? this.defaultExchange : this.exchanges.get(name);
  }

  /** The exchange or NOT_FOUND "no exchange 'x' in vhost '/'". */
  exchangeOrThrow(name: string): Exchange {
    const x = this.exchange(name);
    if (x === undefined) throw new BrokerError('NOT_FOUND', `no exchange '${name}' in vhost '${this.name}'`);
    return x;
  }

  /** The queue or NOT_FOUND "no queue 'q' in vhost '/'". */
  queueOrThrow(name: string): Queue {
    const q = this.queues.get(name);
    if (q === undefined) throw new BrokerError('NOT_FOUND', `no queue '${name}' in vhost '${this.name}'`);
    return q;
  }

  /** RESOURCE_LOCKED when an exclusive queue belongs to another connection. */
  checkExclusive(q: Queue, connectionId: string): void {
    if (q.exclusiveOwner !== undefined && q.exclusiveOwner !== connectionId) throw this.#locked(q.name);
  }

  #locked(name: string): BrokerError {
    return new BrokerError(
      'RESOURCE_LOCKED',
      `cannot obtain exclusive access to locked queue '${name}' in vhost '${this.name}'. It could be originally ` +
        'declared on another connection or the exclusive property value does not match that of the original declaration.',
    );
  }

  #inequivalent(kind: string, name: string, arg: string, received: string, current: string): BrokerError {
    return new BrokerError(
      'PRECONDITION_FAILED',
      `inequivalent arg '${arg}' for ${kind} '${name}' in vhost '${this.name}': received '${received}' but current is '${current}'`,
    );
  }

  /** exchange.declare semantics (name checks and permissions are the channel's). */
  declareExchange(name: string, type: string, o: ExchangeDeclareOptions): Exchange {
    const existing = this.exchanges.get(name);
    if (o.passive === true) {
      if (existing === undefined) throw new BrokerError('NOT_FOUND', `no exchange '${name}' in vhost '${this.name}'`);
      return existing;
    }
    const durable = o.durable === true;
    const autoDelete = o.autoDelete === true;
    const internal = o.internal === true;
    const args = o.arguments ?? {};
    if (existing !== undefined) {
      if (existing.type !== type) {
        // Checked before equivalence as RabbitMQ does: an unknown type is a connection error even on redeclare.
        createExchange(name, type, { durable, autoDelete, internal, arguments: args });
        throw this.#inequivalent('exchange', name, 'type', type, existing.type);
      }
      if (existing.durable !== durable) throw this.#inequivalent('exchange', name, 'durable', String(durable), String(existing.durable));
      if (existing.autoDelete !== autoDelete) {
        throw this.#inequivalent('exchange', name, 'auto_delete', String(autoDelete), String(existing.autoDelete));
      }
      if (existing.internal !== internal) throw this.#inequivalent('exchange', name, 'internal', String(internal), String(existing.internal));
      const a = args['alternate-exchange'];
      const b = existing.arguments['alternate-exchange'];
      if (!(a === undefined && b === undefined) && !fieldEquals(a, b)) {
        throw new BrokerError(
          'PRECONDITION_FAILED',
          `inequivalent arg 'alternate-exchange' for exchange '${name}' in vhost '${this.name}': received ` +
            `${a === undefined ? 'none' : `'${fieldValueText(a)}'`} but current is ${b === undefined ? 'none' : `'${fieldValueText(b)}'`}`,
        );
      }
      return existing;
    }
    const ae = args['alternate-exchange'];
    if (ae !== undefined && typeof ae !== 'string') {
      throw new BrokerError(
        'PRECONDITION_FAILED',
        `invalid type '${typeof ae === 'number' ? 'signedint' : typeof ae}' for arg 'alternate-exchange' in exchange '${name}' in vhost '${this.name}'`,
      );
    }
    const x = createExchange(name, type, { durable, autoDelete, internal, arguments: args });
    this.#applyToExchange(x);
    this.exchanges.set(name, x);
    if (durable) this.#onDurableChange();
    return x;
  }

  /** exchange.delete; false when it did not exist (RabbitMQ 3.10 answers delete-ok either way). */
  deleteExchange(name: string, ifUnused: boolean): boolean {
    const x = this.exchanges.get(name);
    if (x === undefined) return false;
    if (ifUnused && (x.bindings.size > 0 || x.incoming.size > 0)) {
      throw new BrokerError('PRECONDITION_FAILED', `exchange '${name}' in vhost '${this.name}' in use`);
    }
    this.#removeExchange(x);
    return true;
  }

  #removeExchange(x: Exchange): void {
    this.exchanges.delete(x.name);
    for (const b of [...x.bindings.values()]) this.#unlink(b, false);
    for (const b of [...x.incoming]) this.#unlink(b, true);
    if (x.durable) this.#onDurableChange();
  }

  /** queue.declare semantics. `name` is already resolved (server-named queues get their name from the channel). */
  declareQueue(name: string, o: QueueDeclareOptions, connectionId: string): { queue: Queue; created: boolean } {
    const existing = this.queues.get(name);
    const exclusive = o.exclusive === true;
    // RabbitMQ: an exclusive queue is never durable (rabbit_channel: Durable = DurableDeclare andalso not Exclusive).
    const durable = o.durable === true && !exclusive;
    if (existing !== undefined) {
      if (o.passive === true) {
        this.checkExclusive(existing, connectionId);
        existing.touch();
        this.brokerStats.queueDeclared++;
        return { queue: existing, created: false };
      }
      // rabbit_amqqueue:assert_equivalence: strict owner check first, then durable, auto_delete, arguments.
      if (existing.exclusiveOwner !== (exclusive ? connectionId : undefined)) throw this.#locked(name);
      const autoDelete = o.autoDelete === true;
      if (existing.durable !== durable) throw this.#inequivalent('queue', name, 'durable', String(durable), String(existing.durable));
      if (existing.autoDelete !== autoDelete) {
        throw this.#inequivalent('queue', name, 'auto_delete', String(autoDelete), String(existing.autoDelete));
      }
      assertQueueArgsEquivalent(existing.arguments, o.arguments ?? {}, name, this.name);
      existing.touch();
      this.brokerStats.queueDeclared++;
      return { queue: existing, created: false };
    }
    if (o.passive === true) throw new BrokerError('NOT_FOUND', `no queue '${name}' in vhost '${this.name}'`);
    const maxQueues = this.limits['max-queues'];
    if (maxQueues !== undefined && maxQueues >= 0 && this.queues.size >= maxQueues) {
      // rabbit_channel:check_vhost_queue_limit.
      throw new BrokerError('PRECONDITION_FAILED', `cannot declare queue '${name}': queue limit in vhost '${this.name}' (${maxQueues}) is reached`, { limit: true });
    }
    const args = o.arguments ?? {};
    const settings = parseQueueArguments(args, name, this.name);
    if (settings.type !== 'classic') {
      // Quorum queues and streams are always durable, never exclusive or auto-delete (rabbit_quorum_queue:declare,
      // rabbit_stream_queue:declare).
      const bad = exclusive ? 'exclusive-owner' : !durable ? 'non-durable' : o.autoDelete === true ? 'auto-delete' : undefined;
      if (bad !== undefined) {
        throw new BrokerError('PRECONDITION_FAILED', `invalid property '${bad}' for queue '${name}' in vhost '${this.name}'`);
      }
    }
    // A stream's messages live in its log; its (always empty) queue store is never written.
    const isStream = settings.type === 'stream';
    const store = isStream ? new MemoryQueueStore(0) : this.#store.openQueue(this.name, name, { durable, maxPriority: settings.maxPriority });
    const queue = new Queue(
      name,
      this,
      { durable, autoDelete: o.autoDelete === true, exclusiveOwner: exclusive ? connectionId : undefined, arguments: args, settings },
      store,
      isStream ? this.#store.openStream?.(this.name, name, streamSettings(settings)) : undefined,
    );
    this.#applyToQueue(queue);
    this.queues.set(name, queue);
    this.#byName = undefined;
    if (durable) this.#onDurableChange();
    this.brokerStats.queueDeclared++;
    this.brokerStats.queueCreated++;
    return { queue, created: true };
  }

  /**
   * Re-apply the policies and operator policies to every queue and exchange (a policy was set or cleared): each
   * object takes the highest-priority match of each kind, and its effective settings follow at once.
   */
  applyPolicies(): void {
    for (const q of this.queues.values()) this.#applyToQueue(q);
    for (const x of this.exchanges.values()) this.#applyToExchange(x);
  }

  #applyToQueue(q: Queue): void {
    if (this.policies.size === 0 && this.operatorPolicies.size === 0 && q.policy === undefined && q.operatorPolicy === undefined) return;
    const policy = matchPolicy(this.policies.values(), 'queue', q.name);
    const op = matchPolicy(this.operatorPolicies.values(), 'queue', q.name);
    const definition = mergePolicyDefinitions(policy, op);
    q.policy = policy?.name;
    q.operatorPolicy = op?.name;
    q.effectivePolicyDefinition = definition;
    q.applySettings(effectiveQueueSettings(q.declaredSettings, q.arguments, definition));
  }

  #applyToExchange(x: Exchange): void {
    if (this.policies.size === 0 && this.operatorPolicies.size === 0 && x.policy === undefined && x.operatorPolicy === undefined) return;
    const policy = matchPolicy(this.policies.values(), 'exchange', x.name);
    const op = matchPolicy(this.operatorPolicies.values(), 'exchange', x.name);
    x.policy = policy?.name;
    x.operatorPolicy = op?.name;
    const arg = x.arguments['alternate-exchange'];
    const fromPolicy = mergePolicyDefinitions(policy, op)['alternate-exchange'];
    x.alternateExchange = typeof arg === 'string' ? arg : typeof fromPolicy === 'string' ? fromPolicy : undefined;
  }

  lengthLimitReached(queue: Queue): void {
    const { maxLength, maxLengthBytes } = queue.settings;
    this.#logger.warn(
      { vhost: this.name, queue: queue.name, maxLength, maxLengthBytes, removedSoFar: queue.lengthOverflow },
      'queue reached its length limit: the oldest messages are dropped (or dead-lettered) as new ones arrive',
    );
  }

  /** Delete a queue now: cancel its consumers, remove its bindings. Returns the number of ready messages dropped. */
  removeQueue(queue: Queue): number {
    if (queue.deleted || this.queues.get(queue.name) !== queue) return 0;
    this.queues.delete(queue.name);
    this.#byName = undefined;
    this.brokerStats.queueDeleted++;
    const count = queue.messageCount;
    for (const b of [...queue.incoming]) this.#unlink(b, true);
    for (const c of queue.destroy()) (c.channel as CancelTarget).cancelledByServer(c);
    if (queue.durable) this.#onDurableChange();
    return count;
  }

  /** Bind (idempotent); the channel checked names and permissions. */
  bind(source: Exchange, destination: Destination, routingKey: string, args: FieldTable | undefined): void {
    source.validateBinding(routingKey, args);
    const b: Binding = { source, destination, routingKey, arguments: args, id: bindingId(destination, routingKey, args) };
    if (source.addBinding(b)) {
      destination.incoming.add(b);
      if (source.durable && destination.durable) this.#onDurableChange();
    }
  }

  /** Unbind; a missing binding is not an error (RabbitMQ 3.10 answers unbind-ok). */
  unbind(source: Exchange, destination: Destination, routingKey: string, args: FieldTable | undefined): void {
    const b = source.bindings.get(bindingId(destination, routingKey, args));
    if (b !== undefined) this.#unlink(b, true);
  }

  /** Remove a binding from both ends; an auto-delete source goes with its last binding. */
  #unlink(b: Binding, autoDeleteSource: boolean): void {
    b.source.removeBinding(b.id);
    b.destination.incoming.delete(b);
    if (b.source.durable && b.destination.durable) this.#onDurableChange();
    const src = b.source;
    if (autoDeleteSource && src.autoDelete && src.bindings.size === 0 && this.exchanges.get(src.name) === src) {
      this.#removeExchange(src);
    }
  }

  /**
   * Route and enqueue. Returns PUBLISH_ROUTED | PUBLISH_REJECTED bits. Synchronous; allocates nothing per message
   * beyond the queue entries (scratch arrays are reused) unless the message carries CC/BCC headers.
   */
  publish(exchange: Exchange, message: Message, messageTtl: number, now: number): number {
    return this.#enqueueRouted(exchange, message, messageTtl, now, false);
  }

  /**
   * Route `message` from `exchange` and enqueue it in every target queue (scratch arrays per routing depth, so a
   * dead-lettering enqueue may route again). A dead-lettered message skips queues that would close a cycle.
   */
  #enqueueRouted(exchange: Exchange, message: Message, messageTtl: number, now: number, deadLettered: boolean): number {
    if (this.#depth >= MAX_ROUTE_DEPTH) return 0;
    const depth = this.#depth++;
    try {
      const targets = (this.#targets[depth] ??= []);
      truncate(targets);
      const msg = this.#routeAll(exchange, message, targets, depth);
      let result = targets.length > 0 ? PUBLISH_ROUTED : 0;
      if (targets.length > 1 && msg.properties.deliveryMode === 2) this.#shareBody(msg, targets);
      for (let i = 0; i < targets.length; i++) {
        const q = targets[i]!;
        if (deadLettered && isDeadLetterCycle(msg, q.name)) {
          this.#logger.warn({ queue: q.name, vhost: this.name }, 'dead-letter cycle detected; message dropped');
          continue;
        }
        if (!q.enqueue(msg, messageTtl, now)) result |= PUBLISH_REJECTED;
      }
      truncate(targets);
      return result;
    } finally {
      this.#depth--;
    }
  }

  /** A persistent message going to several durable queues: the store may write its body once for all of them. */
  #shareBody(msg: Message, targets: readonly Queue[]): void {
    const share = this.#store.shareBody;
    if (share === undefined) return;
    let durable = 0;
    for (let i = 0; i < targets.length; i++) {
      const q = targets[i]!;
      if (q.durable && q.stream === undefined && ++durable === 2) {
        share.call(this.#store, msg);
        return;
      }
    }
  }

  /**
   * Route by the routing key and, for RabbitMQ's sender-selected distribution, by every key in the CC and BCC
   * headers (arrays of strings); a queue matched by several keys gets one copy. Returns the message to enqueue:
   * BCC is stripped from it, as RabbitMQ does.
   */
  #routeAll(exchange: Exchange, message: Message, out: Queue[], depth: number): Message {
    const queueEpoch = ++this.#epoch;
    this.#route(exchange, message, out, depth, queueEpoch);
    const headers = message.properties.headers;
    if (headers === undefined) return message;
    const cc = headers['CC'];
    const bcc = headers['BCC'];
    if (cc === undefined && bcc === undefined) return message;
    for (const list of [cc, bcc]) {
      if (!Array.isArray(list)) continue;
      for (const key of list) {
        if (typeof key !== 'string') continue;
        this.#route(exchange, { ...message, routingKey: key }, out, depth, queueEpoch);
      }
    }
    if (bcc === undefined) return message;
    const stripped = { ...headers };
    delete stripped['BCC'];
    return withProperties(message, { ...message.properties, headers: stripped });
  }

  /**
   * Walk the exchange graph from `start`, collecting queues not yet stamped with `queueEpoch`. Exchanges are
   * visited once per walk (so exchange-to-exchange cycles end and diamonds do not duplicate); an exchange whose own
   * bindings match nothing hands the message to its alternate-exchange (rabbit_exchange:route1).
   */
  #route(start: Exchange, message: Message, out: Queue[], depth: number, queueEpoch: number): void {
    const epoch = ++this.#epoch;
    const stack = (this.#stacks[depth] ??= []);
    const dests = (this.#dests[depth] ??= []);
    truncate(stack);
    stack.push(start);
    start.routeMark = epoch;
    while (stack.length > 0) {
      const x = stack.pop()!;
      truncate(dests);
      x.route(message, dests);
      if (dests.length === 0) {
        if (x.alternateExchange !== undefined) {
          const ae = this.exchanges.get(x.alternateExchange);
          if (ae !== undefined && ae.routeMark !== epoch) {
            ae.routeMark = epoch;
            stack.push(ae);
          }
        }
        continue;
      }
      for (let i = 0; i < dests.length; i++) {
        const d = dests[i]!;
        if (d.kind === 'queue') {
          if (d.routeMark === queueEpoch) continue;
          d.routeMark = queueEpoch;
          out.push(d);
        } else if (d.routeMark !== epoch) {
          d.routeMark = epoch;
          stack.push(d);
        }
      }
    }
    truncate(dests);
  }

  /** Dead-letter a message from `queue` through its DLX (RabbitMQ's rabbit_dead_letter). A missing DLX drops it. */
  deadLetter(queue: Queue, message: Message, reason: DeadLetterReason): void {
    const dlxName = queue.settings.deadLetterExchange;
    if (dlxName === undefined) return;
    const dlx = this.exchange(dlxName);
    if (dlx === undefined) return;
    if (this.#depth >= MAX_ROUTE_DEPTH) return;
    const now = Date.now();
    const routingKey = queue.settings.deadLetterRoutingKey ?? message.routingKey;
    const dead = deadLetterMessage(message, reason, queue.name, dlx.name, routingKey, now);
    this.#enqueueRouted(dlx, dead, -1, now, true);
  }

  /** Delete every exclusive queue of a connection (it closed). */
  dropExclusive(connectionId: string): void {
    for (const q of [...this.queues.values()]) if (q.exclusiveOwner === connectionId) this.removeQueue(q);
  }

  /**
   * The vhost is being deleted (Broker.deleteVhost, after its connections closed): every queue goes, with its stored
   * messages, files and open file handles (QueueStore.close), then every exchange.
   */
  destroy(): void {
    for (const q of [...this.queues.values()]) this.removeQueue(q);
    this.exchanges.clear();
    this.replyTo.clear();
  }

  /** Stop every timer (broker shutdown). */
  close(): void {
    for (const q of this.queues.values()) q.stopTimers();
  }
}
