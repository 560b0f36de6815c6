import type { Message } from '../contract.js';
import type { StreamLog, StreamSettings } from '../queue/stream-log.js';

/**
 * The storage interface the core owns (DESIGN.md §5, §8). Each queue keeps its ready messages in a
 * {@link QueueStore}; the in-memory implementation is {@link MemoryMessageStore}, and a durable on-disk store (or a
 * replicated one later) plugs in behind the same interface.
 */

/**
 * One message in one queue. The core mutates the delivery fields while the entry is out for delivery; the store
 * owns `seq` ordering.
 */
export interface QueueEntry {
  readonly message: Message;
  /** Position in the queue: increasing in publish order; a requeued entry goes back to its position. */
  readonly seq: number;
  /** Epoch milliseconds after which it expires; 0 = never. */
  readonly expiresAt: number;
  /** 0..maxPriority (already clamped). */
  readonly priority: number;
  redelivered: boolean;
  /** How many times it was handed out (for x-delivery-limit). */
  deliveryCount: number;
  /** Private to the store: where a durable store wrote the entry (undefined = only in memory). */
  location?: number | undefined;
}

/** Where confirms go once a store made the messages safe. */
export interface ConfirmSink {
  confirm(sequence: number, ack: boolean): void;
}

/** Ready messages of one queue, in delivery order (highest priority first, then by `seq`). */
export interface QueueStore {
  readonly messageCount: number;
  /** Sum of body sizes of the ready messages (x-max-length-bytes). */
  readonly byteCount: number;
  /** Append at the tail of its priority level. */
  push(entry: QueueEntry): void;
  /** Put back at its original position (by `seq`). */
  requeue(entry: QueueEntry): void;
  peek(): QueueEntry | undefined;
  shift(): QueueEntry | undefined;
  /** An entry taken out with `shift` is settled for good (acked, dropped, dead-lettered): a durable store forgets it. */
  settled(entry: QueueEntry): void;
  /** Remove every ready message; returns how many. */
  purge(): number;
  /** Release resources; the queue is gone. */
  close(): void;
  /**
   * Optional: the highest `seq` a durable store recovered for this queue, so the queue numbers new entries after it.
   */
  readonly lastSeq?: number;
  /**
   * Optional: an entry is handed straight to a consumer without passing through `push` (the queue was empty). A
   * durable store writes a persistent one (marked delivered) so it survives a crash until it is settled.
   */
  persistDelivered?(entry: QueueEntry): void;
}

/** Options a store needs to open a queue. */
export interface QueueStoreOptions {
  durable: boolean;
  /** 0 for a plain queue, else x-max-priority. */
  maxPriority: number;
}

/** The message store of one broker. */
export interface MessageStore {
  openQueue(vhost: string, queue: string, options: QueueStoreOptions): QueueStore;
  /**
   * The log of a stream queue (x-queue-type stream), with what an earlier run left when the store is durable.
   * Optional: without it a stream lives in memory only.
   */
  openStream?(vhost: string, queue: string, settings: StreamSettings): StreamLog;
  /**
   * Report a publisher confirm once every message accepted so far is safe (on disk where that applies). The
   * in-memory store confirms at once; a durable store waits for its group commit. Confirms to one sink stay in order.
   */
  confirm(sink: ConfirmSink, sequence: number, ack: boolean): void;
  /**
   * Optional: the router is about to enqueue `message` (persistent, the same object) in several durable queues in
   * this turn, so a durable store may write its body once and have each queue refer to it.
   */
  shareBody?(message: Message): void;
  /**
   * Optional: every durable queue an earlier run left has been opened (the broker restored its definitions), so what
   * no opened queue refers to is garbage.
   */
  recoveryComplete?(): void;
  close(): void;
}

/**
 * Durable keyed state an adapter keeps besides queues (MQTT retained messages and sessions): opaque values under
 * string keys; the core gives them no meaning. Changes apply in memory at once and reach the disk in the background;
 * {@link StateLog.sync} tells when they are safe, so an adapter sends its acknowledgement only then.
 */
export interface StateLog {
  readonly size: number;
  /** Count of changes made so far: compare it before and after an operation to tell whether it wrote anything. */
  readonly changes: number;
  get(key: string): Buffer | undefined;
  keys(): IterableIterator<string>;
  /** Live entries in first-set order. */
  entries(): IterableIterator<[string, Buffer]>;
  /** Set a value (the log keeps the Buffer: do not change it afterwards). */
  set(key: string, value: Buffer): void;
  delete(key: string): boolean;
  /** Resolves once every change made before the call is durable (at once for an in-memory log); rejects on I/O failure. */
  sync(): Promise<void>;
  /** Write and sync what is pending; nothing is written after this. */
  close(): void;
}
