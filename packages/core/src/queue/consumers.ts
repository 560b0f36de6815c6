import type { FieldTable } from '../contract.js';
import type { QueueEntry } from '../store/store.js';
import type { Queue } from './queue.js';

/** What a queue needs of the channel a consumer lives on. Implemented by the core channel. */
export interface ConsumerChannel {
  /** Open, flow active and the host writable. */
  readonly deliverable: boolean;
  /** Unacked deliveries on the whole channel (for basic.qos global=true). */
  readonly unackedCount: number;
  /** Channel-wide prefetch limit; 0 = unlimited. */
  readonly globalPrefetch: number;
  /** Hand an entry to a consumer of this channel: assigns the delivery tag and tracks it until settled. */
  deliverEntry(consumer: Consumer, entry: QueueEntry, queue: Queue): void;
  /** The queue cancelled this consumer (queue deleted): forget it and notify the client. */
  cancelledByServer(consumer: Consumer): void;
}

/** One consumer (basic.consume) on one queue. */
export class Consumer {
  readonly tag: string;
  readonly queue: Queue;
  readonly channel: ConsumerChannel;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  /** x-priority argument; default 0. Higher priorities get messages first while they can take them. */
  readonly priority: number;
  /** Per-consumer prefetch (basic.qos global=false at consume time); 0 = unlimited. */
  readonly prefetch: number;
  readonly arguments: FieldTable;
  /** Deliveries of this consumer not yet settled. */
  unacked = 0;
  /** Stream queues: the next offset to deliver. */
  streamOffset = 0;

  constructor(
    tag: string,
    queue: Queue,
    channel: ConsumerChannel,
    opts: { noAck: boolean; exclusive: boolean; priority: number; prefetch: number; arguments: FieldTable },
  ) {
    this.tag = tag;
    this.queue = queue;
    this.channel = channel;
    this.noAck = opts.noAck;
    this.exclusive = opts.exclusive;
    this.priority = opts.priority;
    this.prefetch = opts.prefetch;
    this.arguments = opts.arguments;
  }

  /** Can this consumer take one more message now? (credit, flow, writability, prefetch) */
  canAccept(): boolean {
    const ch = this.channel;
    if (!ch.deliverable) return false;
    if (this.noAck) return true;
    if (this.prefetch !== 0 && this.unacked >= this.prefetch) return false;
    return ch.globalPrefetch === 0 || ch.unackedCount < ch.globalPrefetch;
  }
}
