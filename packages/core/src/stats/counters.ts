/**
 * Message and churn counters: plain integer fields on long-lived objects, bumped in place on the hot paths (no map
 * lookup, closure or allocation per message; STYLE.md habit 8). Management reads them live, so a count is right in the
 * very next response; rates come from the {@link SampleRing}s that a sampler fills from these counters.
 */
import type { SampleRing } from './sample-ring.js';

/** Queue types in the order of {@link ProtocolCounters.byType} (RabbitMQ's rabbit_classic_queue, _quorum_, _stream_). */
export const QUEUE_TYPES = ['classic', 'quorum', 'stream'] as const;

/** The index of a queue type in {@link QUEUE_TYPES}. */
export function queueTypeIndex(type: string): number {
  return type === 'quorum' ? 1 : type === 'stream' ? 2 : 0;
}

/**
 * One queue's message counters (RabbitMQ's queue message_stats) since it was created or recovered. The exact count of
 * messages handed out and not yet settled is {@link Queue.unacked}.
 */
export class QueueCounters {
  /** Messages enqueued (routed here and accepted). */
  publish = 0;
  /** Deliveries to consumers that must ack. */
  deliver = 0;
  /** Deliveries to no-ack consumers. */
  deliverNoAck = 0;
  /** basic.get answered with a message that must be acked. */
  get = 0;
  /** basic.get answered with a message, no-ack. */
  getNoAck = 0;
  /** basic.get on an empty queue. */
  getEmpty = 0;
  /** Acknowledged deliveries. */
  ack = 0;
  /** Deliveries (and gets) of messages that had been delivered before. */
  redeliver = 0;
  /** Rates; allocated by the sampler once the queue has had traffic. */
  samples: SampleRing | undefined = undefined;
}

/**
 * A vhost's channel-side counters (RabbitMQ's vhost and overview message_stats). The overview's are the sums over
 * vhosts plus those of vhosts since deleted ({@link BrokerStats.retired}).
 */
export class MessageCounters {
  /** Messages published by clients into any exchange of the vhost. */
  publish = 0;
  /** Publisher confirms (acks) sent. */
  confirm = 0;
  /** Unroutable mandatory messages returned. */
  returnUnroutable = 0;
  /** Unroutable messages dropped. */
  dropUnroutable = 0;
  deliver = 0;
  deliverNoAck = 0;
  get = 0;
  getNoAck = 0;
  getEmpty = 0;
  redeliver = 0;
  ack = 0;

  /** Add `o`'s counts to this (a vhost being deleted keeps counting in the overview). */
  add(o: MessageCounters): void {
    this.publish += o.publish;
    this.confirm += o.confirm;
    this.returnUnroutable += o.returnUnroutable;
    this.dropUnroutable += o.dropUnroutable;
    this.deliver += o.deliver;
    this.deliverNoAck += o.deliverNoAck;
    this.get += o.get;
    this.getNoAck += o.getNoAck;
    this.getEmpty += o.getEmpty;
    this.redeliver += o.redeliver;
    this.ack += o.ack;
  }
}

/** Delivery-side counters of one protocol and one queue type (rabbitmq_global_messages_* with a queue_type label). */
export class DeliveryCounters {
  deliveredConsumeAutoAck = 0;
  deliveredConsumeManualAck = 0;
  deliveredGetAutoAck = 0;
  deliveredGetManualAck = 0;
  getEmpty = 0;
  redelivered = 0;
  acknowledged = 0;

  /** Every delivery and get (rabbitmq_global_messages_delivered_total). */
  get delivered(): number {
    return this.deliveredConsumeAutoAck + this.deliveredConsumeManualAck + this.deliveredGetAutoAck + this.deliveredGetManualAck;
  }
}

/**
 * Broker-wide counters of one protocol (the core's ConnectionInfo.protocol: 'amqp', 'mqtt', 'stomp', ...): what
 * rabbitmq_prometheus reports as rabbitmq_global_messages_* and rabbitmq_auth_attempts_* with a `protocol` label.
 */
export class ProtocolCounters {
  readonly protocol: string;
  received = 0;
  receivedConfirm = 0;
  routed = 0;
  unroutableDropped = 0;
  unroutableReturned = 0;
  confirmed = 0;
  authSucceeded = 0;
  authFailed = 0;
  /** Indexed by {@link queueTypeIndex}. */
  readonly byType: readonly [DeliveryCounters, DeliveryCounters, DeliveryCounters] = [
    new DeliveryCounters(),
    new DeliveryCounters(),
    new DeliveryCounters(),
  ];

  constructor(protocol: string) {
    this.protocol = protocol;
  }
}

/** Broker-wide churn and per-protocol counters (RabbitMQ's overview churn_rates and rabbitmq_*_total families). */
export class BrokerStats {
  connectionCreated = 0;
  connectionClosed = 0;
  channelCreated = 0;
  channelClosed = 0;
  /** queue.declare calls that succeeded, passive or not, new queue or not. */
  queueDeclared = 0;
  queueCreated = 0;
  queueDeleted = 0;
  /** Message counters of vhosts that were deleted, so the overview's totals never go backwards. */
  readonly retired = new MessageCounters();
  /** Overview rates; allocated by the sampler. */
  samples: SampleRing | undefined = undefined;
  readonly #protocols = new Map<string, ProtocolCounters>();

  /** The counters of `protocol`, created on first use (once per connection, never per message). */
  protocol(protocol: string): ProtocolCounters {
    let p = this.#protocols.get(protocol);
    if (p === undefined) {
      p = new ProtocolCounters(protocol);
      this.#protocols.set(protocol, p);
    }
    return p;
  }

  /** Every protocol seen so far. */
  protocols(): ProtocolCounters[] {
    return [...this.#protocols.values()];
  }
}
