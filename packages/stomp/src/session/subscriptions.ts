/**
 * SUBSCRIBE and UNSUBSCRIBE, the queues they use (RabbitMQ's destinations: /queue/ declares a durable queue once,
 * /topic/ and /exchange/ bind a subscription queue), temp-queue reply queues, and a subscription cancelled by the
 * server.
 */
import { createHash, randomUUID } from 'node:crypto';
import { isBrokerError } from '@warren/core';
import { encodeFrame } from '../codec/encoder.js';
import type { StompFrame } from '../codec/frame.js';
import { StompError, stompErrorOf } from '../errors.js';
import { streamOffsetArgument } from '../mapping.js';
import { ackModeOf, prefetchCountOf } from './delivery.js';
import { frameDestination, frameQueueArguments } from './frame-destination.js';
import { DEFAULT_MAX_SUBSCRIPTIONS } from './options.js';
import type { Receipts } from './receipts.js';
import type { SessionContext } from './session-context.js';

/** STOMP ack modes. */
export type AckMode = 'auto' | 'client' | 'client-individual';

/** One SUBSCRIBE (or the implicit subscription of a temp queue). */
export interface Subscription {
  readonly id: string;
  readonly consumerTag: string;
  readonly queue: string;
  readonly ackMode: AckMode;
  /** The queue was made for this subscription (topic/exchange): UNSUBSCRIBE with durable:true deletes it. */
  readonly ownQueue: boolean;
  /** `T_<id>@@<session>@@`: the message-id prefix. */
  readonly idPrefix: string;
  /** Delivery tags awaiting ACK/NACK, ascending. */
  readonly outstanding: Set<number>;
}

/** RabbitMQ's name for a topic/exchange subscription queue: `stomp-subscription-` + a hash of destination and id. */
export function subscriptionQueueName(destination: string, id: string): string {
  return 'stomp-subscription-' + createHash('md5').update(destination).update('\0').update(id).digest('base64url');
}

/** The subscriptions and queues of one connection. */
export class Subscriptions {
  readonly #ctx: SessionContext;
  readonly #receipts: Receipts;
  readonly #byId = new Map<string, Subscription>();
  readonly #byTag = new Map<string, Subscription>();
  /** temp-queue name → server-named queue. */
  readonly #tempQueues = new Map<string, string>();
  /** /queue/ names declared by this connection (declare once, as RabbitMQ caches them per connection). */
  readonly #declared = new Set<string>();

  constructor(ctx: SessionContext, receipts: Receipts) {
    this.#ctx = ctx;
    this.#receipts = receipts;
  }

  /** The subscription of a consumer tag (deliveries). */
  byTag(consumerTag: string): Subscription | undefined {
    return this.#byTag.get(consumerTag);
  }

  /** The subscription of a SUBSCRIBE id (ACK/NACK). */
  byId(id: string): Subscription | undefined {
    return this.#byId.get(id);
  }

  subscribe(frame: StompFrame): void {
    const ctx = this.#ctx;
    const h = frame.headers;
    const channel = ctx.requireChannel();
    const destHeader = h.get('destination');
    const dest = frameDestination(frame);
    const id = h.get('id') ?? destHeader ?? '';
    if (this.#byId.has(id)) {
      throw new StompError('Duplicated subscription identifier', `A subscription identified by 'T_${id}' already exists.`);
    }
    const max = ctx.options.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS;
    if (max > 0 && this.#byId.size >= max) {
      throw new StompError('Too many subscriptions', `This connection already has the maximum of ${max} subscriptions.\n`);
    }
    const ackMode = ackModeOf(h);
    const prefetch = prefetchCountOf(h);
    const durable = h.get('durable') === 'true' || h.get('persistent') === 'true';
    let queue: string;
    let ownQueue = false;
    switch (dest.kind) {
      case 'queue':
        this.ensureQueue(dest.name, h);
        queue = dest.name;
        break;
      case 'amq-queue':
      case 'reply-queue':
        queue = dest.name;
        break;
      case 'temp-queue':
        throw new StompError('Invalid destination', `'${destHeader ?? ''}' is not a valid destination for 'SUBSCRIBE'\n`);
      case 'topic':
      case 'exchange': {
        if (durable && !h.has('id')) {
          throw new StompError('Missing Header', `Header 'id' is required for durable subscriptions`);
        }
        const exchange = dest.kind === 'topic' ? 'amq.topic' : dest.exchange;
        if (dest.kind === 'topic') {
          // RabbitMQ's STOMP plugin checks a /topic/ subscription's read topic permission before it declares the
          // queue, with its own wording (errors.ts).
          try {
            channel.checkTopicAccess(exchange, 'read', dest.key);
          } catch (err) {
            throw (isBrokerError(err) ? stompErrorOf(err, 'topic-read') : undefined) ?? err;
          }
        }
        // A durable subscription's queue is named by its destination and id, so a later connection finds it again;
        // any other is private to this connection, named from a random id (as RabbitMQ does) so that two connections
        // using the same id (every @stomp/stompjs client's first is sub-0) do not clash over one exclusive queue.
        queue = h.get('x-queue-name') ?? subscriptionQueueName(destHeader ?? '', durable ? id : randomUUID());
        const args = frameQueueArguments(h);
        channel.declareQueue(queue, {
          durable,
          // A durable subscription outlives its consumers only with auto-delete:false (RabbitMQ's default is true,
          // so `durable:true` alone, or the legacy `persistent:true`, makes a durable queue deleted on UNSUBSCRIBE);
          // a plain one is private.
          autoDelete: durable ? h.get('auto-delete') !== 'false' : true,
          exclusive: !durable,
          ...(args !== undefined ? { arguments: args } : {}),
        });
        channel.bindQueue(queue, exchange, dest.key);
        ownQueue = true;
        break;
      }
    }
    const sub: Subscription = {
      id,
      consumerTag: 'T_' + id,
      queue,
      ackMode,
      ownQueue,
      idPrefix: `T_${id}@@${ctx.sessionId}@@`,
      outstanding: new Set(),
    };
    // Registered before consume: the core may deliver synchronously from inside it.
    this.#byId.set(id, sub);
    this.#byTag.set(sub.consumerTag, sub);
    try {
      channel.qos(prefetch, false);
      const priority = h.get('x-priority');
      const offset = streamOffsetArgument(h.get('x-stream-offset'));
      let consumerArgs: Record<string, number | string | Date> | undefined;
      if (priority !== undefined && /^-?\d+$/.test(priority)) (consumerArgs ??= {})['x-priority'] = Number(priority);
      if (offset !== undefined) (consumerArgs ??= {})['x-stream-offset'] = offset;
      channel.consume(queue, {
        consumerTag: sub.consumerTag,
        noAck: ackMode === 'auto',
        ...(consumerArgs !== undefined ? { arguments: consumerArgs } : {}),
      });
    } catch (err) {
      this.#byId.delete(id);
      this.#byTag.delete(sub.consumerTag);
      throw err;
    }
    const receipt = h.get('receipt');
    if (receipt !== undefined) this.#receipts.receipt(receipt);
  }

  unsubscribe(frame: StompFrame): void {
    const h = frame.headers;
    const channel = this.#ctx.requireChannel();
    const id = h.get('id') ?? h.get('destination');
    if (id === undefined) {
      throw new StompError('Missing destination or id', `UNSUBSCRIBE must include a 'destination' or 'id' header`);
    }
    const sub = this.#byId.get(id);
    if (sub === undefined) {
      throw new StompError(
        'No subscription found',
        `UNSUBSCRIBE must refer to an existing subscription.\nSubscription to "id='${id}'" not found.\n`,
      );
    }
    this.#byId.delete(id);
    this.#byTag.delete(sub.consumerTag);
    channel.cancel(sub.consumerTag);
    // Outstanding messages of a cancelled subscription go back to the queue (RabbitMQ requeues them on cancel).
    for (const tag of sub.outstanding) channel.nack(tag, false, true);
    sub.outstanding.clear();
    if (sub.ownQueue && (h.get('durable') === 'true' || h.get('persistent') === 'true')) {
      channel.deleteQueue(sub.queue, {});
    }
    const receipt = h.get('receipt');
    if (receipt !== undefined) this.#receipts.receipt(receipt);
  }

  /** `/queue/q`: the durable queue q, declared on first use (with x-* arguments from the frame). */
  ensureQueue(name: string, h: ReadonlyMap<string, string>): void {
    if (this.#declared.has(name)) return;
    const args = frameQueueArguments(h);
    this.#ctx.requireChannel().declareQueue(name, {
      durable: true,
      autoDelete: h.get('auto-delete') === 'true',
      exclusive: h.get('exclusive') === 'true',
      ...(args !== undefined ? { arguments: args } : {}),
    });
    this.#declared.add(name);
  }

  /** The private reply queue of `/temp-queue/<name>`, created (and subscribed, auto ack) on first use. */
  tempQueue(name: string): string {
    const known = this.#tempQueues.get(name);
    if (known !== undefined) return known;
    const channel = this.#ctx.requireChannel();
    const { queue } = channel.declareQueue('', { exclusive: true, autoDelete: true });
    const id = '/temp-queue/' + name;
    const sub: Subscription = {
      id,
      consumerTag: 'T_' + id,
      queue,
      ackMode: 'auto',
      ownQueue: true,
      idPrefix: `T_${id}@@${this.#ctx.sessionId}@@`,
      outstanding: new Set(),
    };
    this.#byId.set(id, sub);
    this.#byTag.set(sub.consumerTag, sub);
    this.#tempQueues.set(name, queue);
    channel.consume(queue, { consumerTag: sub.consumerTag, noAck: true });
    return queue;
  }

  /** The core cancelled a consumer (its queue was deleted). */
  cancelled(consumerTag: string): void {
    const sub = this.#byTag.get(consumerTag);
    if (sub === undefined) return;
    this.#byTag.delete(consumerTag);
    this.#byId.delete(sub.id);
    // RabbitMQ sends an ERROR when a subscription's queue is deleted under it (and keeps the connection).
    const ctx = this.#ctx;
    if (ctx.state === 'connected') {
      ctx.write(
        encodeFrame(
          'ERROR',
          [
            ['message', 'Server cancelled subscription'],
            ['subscription', sub.id],
            ['content-type', 'text/plain'],
          ],
          Buffer.from(`The server has canceled a subscription.\nNo more messages will be delivered for ${sub.id}.\n`),
          ctx.version,
        ),
      );
    }
  }

  /** Forget every subscription (teardown). */
  clear(): void {
    this.#byId.clear();
    this.#byTag.clear();
  }
}
