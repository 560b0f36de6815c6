import type { FieldTable, Message } from '../contract.js';
import type { Binding } from '../exchange/exchange.js';
import type { DeadLetterReason } from '../message/dead-letter.js';
import { withProperties } from '../message/message.js';
import { QueueCounters, queueTypeIndex } from '../stats/counters.js';
import type { QueueEntry, QueueStore } from '../store/store.js';
import type { QueueSettings } from './arguments.js';
import type { Consumer } from './consumers.js';
import { DEFAULT_STREAM_SEGMENT_BYTES, StreamLog, type StreamSettings } from './stream-log.js';

/** The longest wait setTimeout honours (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 0x7fffffff;

/** Deliveries per dispatch run before yielding to the event loop (STYLE.md habit 9). */
export const DISPATCH_BUDGET = 256;

/** What a queue needs of its vhost. */
export interface QueueOwner {
  readonly name: string;
  /** Route a dead-lettered message through the queue's DLX. */
  deadLetter(queue: Queue, message: Message, reason: DeadLetterReason): void;
  /** Delete the queue (auto-delete after its last consumer, x-expires). */
  removeQueue(queue: Queue): void;
  /** The queue began removing messages from its head to stay within x-max-length(-bytes) (once per episode). */
  lengthLimitReached?(queue: Queue): void;
}

/** Declared properties of a queue. */
export interface QueueProperties {
  durable: boolean;
  autoDelete: boolean;
  /** Owning connection id for an exclusive queue. */
  exclusiveOwner: string | undefined;
  arguments: FieldTable;
  settings: QueueSettings;
}


/**
 * A classic queue: ready messages in a {@link QueueStore}, consumers served round-robin by priority, TTL at the head,
 * length limits, dead-lettering, auto-delete and x-expires.
 */
export class Queue {
  readonly kind = 'queue' as const;
  readonly name: string;
  readonly owner: QueueOwner;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusiveOwner: string | undefined;
  readonly arguments: FieldTable;
  /** The settings its arguments give, before any policy. */
  readonly declaredSettings: QueueSettings;
  readonly store: QueueStore;
  /** Names of the policy and operator policy applied now (management lists them), and their merged definition. */
  policy: string | undefined = undefined;
  operatorPolicy: string | undefined = undefined;
  effectivePolicyDefinition: Record<string, unknown> = {};
  #settings: QueueSettings;
  /** Bindings with this queue as destination, so deleting the queue removes them. */
  readonly incoming = new Set<Binding>();
  /** Consumers in registration order. */
  readonly consumers: Consumer[] = [];
  /** Routing epoch stamp (see Exchange.routeMark). */
  routeMark = 0;
  /** Id of the channel whose settle list holds this queue (0 = none); see CoreChannelImpl#touch. */
  touchMark = 0;
  deleted = false;
  /** The log of a stream queue; undefined for classic and quorum queues. */
  readonly stream: StreamLog | undefined;
  /**
   * Messages removed from the head (dropped, or dead-lettered with reason maxlen) to stay within x-max-length or
   * x-max-length-bytes, since the queue was created or recovered.
   */
  lengthOverflow = 0;
  /** Message counters (management's message_stats, Prometheus); bumped by the queue and the channels. */
  readonly stats = new QueueCounters();
  /** Messages handed out (to consumers or basic.get) and not yet settled: exact, whoever holds them. */
  unacked = 0;
  /** {@link queueTypeIndex} of the queue's type, so per-type counters are picked without comparing strings. */
  readonly typeIndex: number;
  /** Removing for length since the last enqueue that fitted: {@link QueueOwner.lengthLimitReached} was told. */
  #overflowing = false;

  #seq = 0;
  #rr = 0;
  /** True while every consumer has the same priority: the first able consumer from the round-robin point wins. */
  #uniformPriority = true;
  #hadConsumer = false;
  #dispatching = false;
  #dispatchAgain = false;
  #immediate: NodeJS.Immediate | undefined = undefined;
  #expiryTimer: NodeJS.Timeout | undefined = undefined;
  #expiryAt = 0;
  #idleTimer: NodeJS.Timeout | undefined = undefined;
  readonly #runDispatch = (): void => {
    this.#immediate = undefined;
    this.dispatch();
  };
  readonly #onExpiryTimer = (): void => {
    this.#expiryTimer = undefined;
    this.#expiryAt = 0;
    this.dispatch();
    this.#armExpiry(Date.now());
  };
  readonly #onIdle = (): void => {
    this.#idleTimer = undefined;
    if (this.deleted || this.consumers.length !== 0) return;
    // A timer waits at most MAX_TIMER_MS: an x-expires beyond it is reached in several waits.
    const left = this.#idleDeadline - Date.now();
    if (left > 0) this.#idleTimer = setTimeout(this.#onIdle, Math.min(left, MAX_TIMER_MS));
    else this.owner.removeQueue(this);
  };
  /** When an unused queue with x-expires is deleted (ms since the epoch). */
  #idleDeadline = 0;

  /** `stream` is the log of a stream queue (from the message store); a stream without one lives in memory. */
  constructor(name: string, owner: QueueOwner, props: QueueProperties, store: QueueStore, stream?: StreamLog) {
    this.name = name;
    this.owner = owner;
    this.durable = props.durable;
    this.autoDelete = props.autoDelete;
    this.exclusiveOwner = props.exclusiveOwner;
    this.arguments = props.arguments;
    this.declaredSettings = props.settings;
    this.#settings = props.settings;
    this.store = store;
    this.typeIndex = queueTypeIndex(props.settings.type);
    this.stream = props.settings.type === 'stream' ? (stream ?? new StreamLog(streamSettings(props.settings))) : undefined;
    // A durable store may hand back entries recovered from disk: number new ones after them, and let TTL run on.
    this.#seq = store.lastSeq ?? 0;
    this.touch();
    if (store.messageCount > 0) this.#armExpiry(Date.now());
  }

  /** The effective settings: arguments combined with the policies in force (see {@link Queue.applySettings}). */
  get settings(): QueueSettings {
    return this.#settings;
  }

  /**
   * A policy changed the effective settings: act on them now, as RabbitMQ's queue process does on policy_changed. A
   * lower length limit trims the head at once (dropped or dead-lettered, as with drop-head), x-expires re-arms from
   * now, and expired heads go. A new message TTL applies to messages enqueued from now on: like RabbitMQ's classic
   * queues, a message's expiry is fixed when it is enqueued.
   */
  applySettings(next: QueueSettings): void {
    const prev = this.#settings;
    this.#settings = next;
    if (this.deleted) return;
    if (this.stream === undefined && (next.maxLength !== prev.maxLength || next.maxLengthBytes !== prev.maxLengthBytes)) {
      const store = this.store;
      let removed = 0;
      while (store.messageCount > 0 && this.#overLimit(store.messageCount, store.byteCount)) {
        this.#deadLetterOrDrop(store.shift()!, 'maxlen');
        removed++;
      }
      if (removed > 0) {
        this.lengthOverflow += removed;
        this.owner.lengthLimitReached?.(this);
      }
    }
    this.stream?.setSettings(streamSettings(next));
    if (next.expires !== prev.expires) {
      this.#clearIdle();
      this.touch();
    }
    this.dispatch();
  }

  /** Ready messages (0 for a stream, as RabbitMQ reports). */
  get messageCount(): number {
    return this.store.messageCount;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  /** True when an exclusive consumer holds the queue. */
  get hasExclusiveConsumer(): boolean {
    return this.consumers.length > 0 && this.consumers[0]!.exclusive;
  }

  /**
   * Accept a routed message. `messageTtl` is the per-message expiration (-1 = none), `now` the publish time.
   * A message arriving at an empty queue with an able consumer is delivered without touching the store.
   * Returns false when x-overflow reject-publish(-dlx) refused it (the publisher gets a nack).
   */
  enqueue(message: Message, messageTtl: number, now: number): boolean {
    if (this.deleted) return true;
    if (this.stream !== undefined) {
      this.stream.append(message, now);
      this.stats.publish++;
      if (this.consumers.length > 0) this.dispatch();
      return true;
    }
    const s = this.settings;
    const bytes = message.body.length;
    const store = this.store;
    if (s.overflow !== 'drop-head' && this.#overLimit(store.messageCount + 1, store.byteCount + bytes)) {
      if (s.overflow === 'reject-publish-dlx') this.owner.deadLetter(this, message, 'maxlen');
      return false;
    }
    this.stats.publish++;
    let ttl = s.messageTtl ?? -1;
    if (messageTtl >= 0 && (ttl < 0 || messageTtl < ttl)) ttl = messageTtl;
    const priority = s.maxPriority === 0 ? 0 : clampPriority(message.properties.priority, s.maxPriority);
    const entry: QueueEntry = {
      message,
      seq: ++this.#seq,
      expiresAt: ttl >= 0 ? now + ttl : 0,
      priority,
      redelivered: false,
      deliveryCount: 0,
    };
    if (store.messageCount === 0 && this.consumers.length > 0 && !this.#dispatching) {
      const c = this.#pickConsumer();
      if (c !== undefined) {
        // A no-ack consumer settles it at once: nothing to keep on disk (nor a confirm to hold for an fsync).
        if (!c.noAck) store.persistDelivered?.(entry);
        this.#deliver(c, entry);
        return true;
      }
    }
    if (ttl === 0) {
      // RabbitMQ: a message with TTL 0 that cannot be delivered at once expires immediately.
      this.#deadLetterOrDrop(entry, 'expired');
      return true;
    }
    store.push(entry);
    if (s.maxLength !== undefined || s.maxLengthBytes !== undefined) {
      let removed = 0;
      while (store.messageCount > 0 && this.#overLimit(store.messageCount, store.byteCount)) {
        this.#deadLetterOrDrop(store.shift()!, 'maxlen');
        removed++;
      }
      if (removed > 0) {
        this.lengthOverflow += removed;
        if (!this.#overflowing) {
          this.#overflowing = true;
          this.owner.lengthLimitReached?.(this);
        }
      } else this.#overflowing = false;
    }
    if (entry.expiresAt !== 0) this.#armExpiry(now);
    if (this.consumers.length > 0) this.dispatch();
    return true;
  }

  #overLimit(count: number, bytes: number): boolean {
    const s = this.settings;
    return (s.maxLength !== undefined && count > s.maxLength) || (s.maxLengthBytes !== undefined && bytes > s.maxLengthBytes);
  }

  /** Deliver ready messages to able consumers, at most {@link DISPATCH_BUDGET} now; the rest on a later turn. */
  dispatch(): void {
    if (this.deleted) return;
    if (this.#dispatching) {
      this.#dispatchAgain = true;
      return;
    }
    this.#dispatching = true;
    try {
      if (this.stream !== undefined) {
        this.#dispatchStream(this.stream);
        return;
      }
      let budget = DISPATCH_BUDGET;
      const store = this.store;
      const now = Date.now();
      do {
        this.#dispatchAgain = false;
        while (store.messageCount > 0) {
          const head = store.peek()!;
          if (head.expiresAt !== 0 && head.expiresAt <= now) {
            store.shift();
            this.#deadLetterOrDrop(head, 'expired');
            continue;
          }
          if (this.consumers.length === 0 || budget === 0) break;
          const c = this.#pickConsumer();
          if (c === undefined) break;
          store.shift();
          budget--;
          this.#deliver(c, head);
        }
      } while (this.#dispatchAgain && budget > 0);
      if (budget === 0 && store.messageCount > 0 && this.#immediate === undefined) {
        this.#immediate = setImmediate(this.#runDispatch);
      }
      this.#armExpiry(now);
    } finally {
      this.#dispatching = false;
    }
  }

  /** Streams: every consumer reads the log from its own offset; nothing is removed. */
  #dispatchStream(log: StreamLog): void {
    let budget = DISPATCH_BUDGET;
    do {
      this.#dispatchAgain = false;
      for (const c of this.consumers) {
        if (c.streamOffset < log.first) c.streamOffset = log.first; // trimmed by retention
        while (budget > 0 && c.streamOffset < log.end && c.canAccept()) {
          budget--;
          c.channel.deliverEntry(c, log.entryAt(c.streamOffset++), this);
        }
      }
    } while (this.#dispatchAgain && budget > 0);
    if (budget === 0 && this.#immediate === undefined && this.consumers.some((c) => c.streamOffset < log.end)) {
      this.#immediate = setImmediate(this.#runDispatch);
    }
  }

  #deliver(c: Consumer, entry: QueueEntry): void {
    entry.deliveryCount++;
    c.channel.deliverEntry(c, entry, this);
  }

  /** The able consumer that should get the next message: highest priority, round-robin within it. */
  #pickConsumer(): Consumer | undefined {
    const consumers = this.consumers;
    const n = consumers.length;
    if (n === 0) return undefined;
    if (this.settings.singleActiveConsumer) {
      const active = consumers[0]!;
      return active.canAccept() ? active : undefined;
    }
    let best: Consumer | undefined;
    let bestIdx = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.#rr + k) % n;
      const c = consumers[i]!;
      if (best !== undefined && c.priority <= best.priority) continue;
      if (c.canAccept()) {
        best = c;
        bestIdx = i;
        if (this.#uniformPriority) break;
      }
    }
    if (best !== undefined) this.#rr = (bestIdx + 1) % n;
    return best;
  }

  /** basic.get: take the head (expired heads are dead-lettered first). */
  get(): QueueEntry | undefined {
    this.touch();
    const store = this.store;
    const now = Date.now();
    for (;;) {
      const head = store.shift();
      if (head === undefined) return undefined;
      if (head.expiresAt !== 0 && head.expiresAt <= now) {
        this.#deadLetterOrDrop(head, 'expired');
        continue;
      }
      head.deliveryCount++;
      this.#armExpiry(now);
      return head;
    }
  }

  /** An entry handed out was acked (or delivered with no-ack). */
  settle(entry: QueueEntry): void {
    this.store.settled(entry);
  }

  /**
   * The message as a consumer or basic.get receives it. A quorum queue's first delivery carries x-delivery-count 0
   * (RabbitMQ sends it; redeliveries carry the count set by {@link requeue}); other queues hand the message as stored.
   */
  deliveryMessage(entry: QueueEntry): Message {
    const message = entry.message;
    if (this.settings.type !== 'quorum' || message.properties.headers?.['x-delivery-count'] !== undefined) return message;
    return withProperties(message, { ...message.properties, headers: { ...message.properties.headers, 'x-delivery-count': 0 } });
  }

  /** Put an entry handed out back at its position, marked redelivered. Does not dispatch (the caller batches). */
  requeue(entry: QueueEntry): void {
    if (this.deleted || this.stream !== undefined) return; // a stream keeps every message anyway
    const limit = this.settings.deliveryLimit;
    if (limit !== undefined && entry.deliveryCount > limit) {
      this.#deadLetterOrDrop(entry, 'delivery_limit');
      return;
    }
    entry.redelivered = true;
    if (this.settings.type === 'quorum') {
      // Quorum queues tell consumers how often a message came back (rabbit_fifo's x-delivery-count header).
      const message = entry.message;
      const headers = { ...message.properties.headers, 'x-delivery-count': entry.deliveryCount };
      const copy: QueueEntry = { ...entry, message: withProperties(message, { ...message.properties, headers }) };
      this.store.requeue(copy);
      return;
    }
    this.store.requeue(entry);
  }

  /** An entry was rejected without requeue: dead-letter it (reason rejected) or drop it. */
  discard(entry: QueueEntry): void {
    if (this.stream !== undefined) return;
    this.#deadLetterOrDrop(entry, 'rejected');
  }

  #deadLetterOrDrop(entry: QueueEntry, reason: DeadLetterReason): void {
    this.store.settled(entry);
    if (this.settings.deadLetterExchange !== undefined) this.owner.deadLetter(this, entry.message, reason);
  }

  /** Register a consumer (the caller checked exclusivity). */
  addConsumer(c: Consumer): void {
    if (this.consumers.length > 0 && c.priority !== this.consumers[0]!.priority) this.#uniformPriority = false;
    this.consumers.push(c);
    this.#hadConsumer = true;
    this.#clearIdle();
    this.dispatch();
  }

  /** Unregister a consumer; an auto-delete queue goes when its last consumer does. */
  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    if (this.#rr > i) this.#rr--;
    if (this.#rr >= this.consumers.length) this.#rr = 0;
    this.#uniformPriority = this.consumers.every((x) => x.priority === this.consumers[0]!.priority);
    if (this.consumers.length === 0) {
      if (this.autoDelete && this.#hadConsumer) {
        this.owner.removeQueue(this);
        return;
      }
      this.touch();
    } else if (i === 0 && this.settings.singleActiveConsumer) {
      this.dispatch(); // the next consumer becomes active
    }
  }

  /** Remove every ready message. */
  purge(): number {
    return this.store.purge();
  }

  /**
   * Note a use (declare, basic.get, consumer change) for x-expires: the queue is deleted after `x-expires` ms
   * without consumers and without such uses.
   */
  touch(): void {
    const expires = this.settings.expires;
    if (expires === undefined || this.deleted) return;
    this.#clearIdle();
    if (this.consumers.length === 0) {
      this.#idleDeadline = Date.now() + expires;
      this.#idleTimer = setTimeout(this.#onIdle, Math.min(expires, MAX_TIMER_MS));
    }
  }

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
  }

  /** Keep one timer for the head's expiry so expired messages go even when nothing else happens. */
  #armExpiry(now: number): void {
    const head = this.store.peek();
    if (head === undefined || head.expiresAt === 0) return;
    if (this.#expiryTimer !== undefined) {
      if (this.#expiryAt <= head.expiresAt) return;
      clearTimeout(this.#expiryTimer);
    }
    this.#expiryAt = head.expiresAt;
    // Past MAX_TIMER_MS Node would fire at once (and this would spin); the timer re-arms when it fires early.
    this.#expiryTimer = setTimeout(this.#onExpiryTimer, Math.min(Math.max(0, head.expiresAt - now), MAX_TIMER_MS));
  }

  /** Mark deleted, stop timers, and return the consumers to cancel. The vhost removes bindings and notifies. */
  destroy(): Consumer[] {
    this.deleted = true;
    this.stopTimers();
    const consumers = this.consumers.splice(0);
    this.store.close();
    this.stream?.destroy();
    return consumers;
  }

  /** Clear every timer (broker shutdown). */
  stopTimers(): void {
    this.#clearIdle();
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }
}

/** A stream's retention and segment size from its effective settings. */
export function streamSettings(s: QueueSettings): StreamSettings {
  return { maxBytes: s.maxLengthBytes, maxAge: s.maxAge, maxSegmentBytes: s.streamMaxSegmentBytes ?? DEFAULT_STREAM_SEGMENT_BYTES };
}

function clampPriority(p: number | undefined, max: number): number {
  if (p === undefined || p <= 0) return 0;
  return p > max ? max : Math.floor(p);
}
