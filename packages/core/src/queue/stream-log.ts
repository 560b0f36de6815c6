import type { FieldValue, Message } from '../contract.js';
import { BrokerError } from '../errors.js';
import { withProperties } from '../message/message.js';
import type { QueueEntry } from '../store/store.js';
import { parseDuration } from './arguments.js';

interface LogRecord {
  readonly message: Message;
  /** Append time, epoch ms. */
  readonly timestamp: number;
}

/**
 * The append-only log of a stream queue (RabbitMQ streams, single node, in memory). Reading does not remove
 * anything; retention (x-max-length-bytes, x-max-age) trims from the head. Offsets start at 0 and never repeat.
 */
export class StreamLog {
  #records: LogRecord[] = [];
  #head = 0;
  /** Offset of #records[#head]. */
  #first = 0;
  #bytes = 0;
  readonly #maxBytes: number | undefined;
  readonly #maxAge: number | undefined;

  constructor(maxBytes: number | undefined, maxAge: number | undefined) {
    this.#maxBytes = maxBytes;
    this.#maxAge = maxAge;
  }

  /** Offset of the oldest retained message. */
  get first(): number {
    return this.#first;
  }
  /** Offset the next message will get. */
  get end(): number {
    return this.#first + this.#records.length - this.#head;
  }

  append(message: Message, now: number): void {
    this.#records.push({ message, timestamp: now });
    this.#bytes += message.body.length;
    this.#trim(now);
  }

  #trim(now: number): void {
    const maxAge = this.#maxAge;
    const maxBytes = this.#maxBytes;
    // Keep at least the newest message, as a segment-based log would.
    while (this.end - this.#first > 1) {
      const r = this.#records[this.#head]!;
      const tooBig = maxBytes !== undefined && this.#bytes > maxBytes;
      const tooOld = maxAge !== undefined && r.timestamp < now - maxAge;
      if (!tooBig && !tooOld) break;
      this.#records[this.#head++] = undefined as unknown as LogRecord;
      this.#bytes -= r.message.body.length;
      this.#first++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The entry to deliver for `offset` (first ≤ offset < end): the message with its x-stream-offset header. */
  entryAt(offset: number): QueueEntry {
    const r = this.#records[this.#head + offset - this.#first]!;
    const props = r.message.properties;
    const message = withProperties(r.message, { ...props, headers: { ...props.headers, 'x-stream-offset': BigInt(offset) } });
    return { message, seq: offset, expiresAt: 0, priority: 0, redelivered: false, deliveryCount: 1 };
  }

  /**
   * Where a consumer starts, from its x-stream-offset argument: 'first', 'last', 'next' (the default), an offset,
   * a timestamp, or an interval such as '1h' (messages appended since then).
   */
  resolve(spec: FieldValue | undefined, now: number): number {
    if (spec === undefined || spec === 'next') return this.end;
    if (spec === 'first') return this.#first;
    if (spec === 'last') return Math.max(this.#first, this.end - 1);
    if (typeof spec === 'number' || typeof spec === 'bigint') {
      const n = Number(spec);
      return n < this.#first ? this.#first : n > this.end ? this.end : n;
    }
    let since: number | undefined;
    if (spec instanceof Date) since = spec.getTime();
    else if (typeof spec === 'string') {
      const ms = parseDuration(spec);
      if (ms !== undefined) since = now - ms;
    }
    if (since === undefined) throw new BrokerError('PRECONDITION_FAILED', `invalid x-stream-offset argument`);
    for (let i = this.#head; i < this.#records.length; i++) {
      if (this.#records[i]!.timestamp >= since) return this.#first + i - this.#head;
    }
    return this.end;
  }
}
