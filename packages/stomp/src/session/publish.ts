/**
 * SEND (a publish through RabbitMQ's destinations) and transactions (BEGIN, COMMIT, ABORT): SENDs and ACK/NACKs
 * with a `transaction` header wait for COMMIT and are dropped on ABORT.
 */
import type { CoreChannel, Message, MessageProperties } from '@warren/core';
import { PauseReason } from '@warren/transport';
import type { StompFrame } from '../codec/frame.js';
import { StompError } from '../errors.js';
import { HeaderValueError, propertiesFromHeaders } from '../mapping.js';
import { frameDestination, unknownDestination } from './frame-destination.js';
import type { Receipts } from './receipts.js';
import type { SessionContext } from './session-context.js';
import type { Subscriptions } from './subscriptions.js';

/** The held actions of one open transaction, in frame order. */
export type Transaction = Array<() => void>;

/** SEND and transactions of one connection. */
export class Publisher {
  readonly #ctx: SessionContext;
  readonly #subs: Subscriptions;
  readonly #receipts: Receipts;
  readonly #transactions = new Map<string, Transaction>();

  constructor(ctx: SessionContext, subs: Subscriptions, receipts: Receipts) {
    this.#ctx = ctx;
    this.#subs = subs;
    this.#receipts = receipts;
  }

  send(frame: StompFrame): void {
    const h = frame.headers;
    const channel = this.#ctx.requireChannel();
    const dest = frameDestination(frame);
    let exchange = '';
    let routingKey: string;
    switch (dest.kind) {
      case 'queue':
        this.#subs.ensureQueue(dest.name, h);
        routingKey = dest.name;
        break;
      case 'amq-queue':
      case 'reply-queue':
        routingKey = dest.name;
        break;
      case 'topic':
        exchange = 'amq.topic';
        routingKey = dest.key;
        break;
      case 'exchange':
        exchange = dest.exchange;
        routingKey = dest.key;
        break;
      case 'temp-queue':
        routingKey = this.#subs.tempQueue(dest.name);
        break;
    }
    const replyToHeader = h.get('reply-to');
    let replyTo: string | undefined;
    if (replyToHeader !== undefined && replyToHeader.startsWith('/temp-queue/')) {
      const name = replyToHeader.slice('/temp-queue/'.length);
      if (name === '' || name.includes('/')) throw unknownDestination(replyToHeader);
      // Stored as the bare queue name, so an AMQP server can answer through the default exchange; STOMP readers
      // see it as /reply-queue/<name> (mapping.ts).
      replyTo = this.#subs.tempQueue(name);
    }
    let properties: MessageProperties;
    try {
      properties = propertiesFromHeaders(h, replyTo);
    } catch (err) {
      if (err instanceof HeaderValueError) throw new StompError('Invalid header', err.message + '\n');
      throw err;
    }
    const message: Message = { exchange, routingKey, properties, rawProperties: undefined, body: frame.body };
    const tx = this.transaction(h);
    const receipt = h.get('receipt');
    if (tx !== undefined) {
      // RabbitMQ answers a SEND in a transaction at COMMIT, after the COMMIT's own RECEIPT and the messages; an
      // ABORTed SEND gets no RECEIPT at all.
      tx.push(() => this.#publish(channel, message, receipt, true));
      return;
    }
    this.#publish(channel, message, receipt, false);
  }

  #publish(channel: CoreChannel, message: Message, receipt: string | undefined, tracked: boolean): void {
    const ctx = this.#ctx;
    // An external auth backend's answers before anything is recorded: the SEND may be handled again once they came.
    channel.authorizePublish?.(message.exchange, message.routingKey);
    ctx.published = true;
    if (receipt === undefined && !tracked) {
      channel.publish(message, {});
    } else {
      channel.publish(message, { sequence: this.#receipts.track(receipt) });
    }
    if (ctx.blocked) ctx.io.pause(PauseReason.Alarm);
  }

  /** The open transaction a frame names (its `transaction` header), or undefined without one. */
  transaction(h: ReadonlyMap<string, string>): Transaction | undefined {
    const name = h.get('transaction');
    if (name === undefined) return undefined;
    const tx = this.#transactions.get(name);
    if (tx === undefined) throw new StompError('Bad transaction', `Invalid transaction identifier: "${name}"\n`);
    return tx;
  }

  begin(frame: StompFrame): void {
    const name = txName(frame);
    if (this.#transactions.has(name)) throw new StompError('Bad transaction', `Transaction "${name}" has already begun\n`);
    this.#transactions.set(name, []);
    const receipt = frame.headers.get('receipt');
    if (receipt !== undefined) this.#receipts.receipt(receipt);
  }

  commit(frame: StompFrame): void {
    const name = txName(frame);
    const tx = this.#transactions.get(name);
    if (tx === undefined) throw new StompError('Bad transaction', `Invalid transaction identifier: "${name}"\n`);
    this.#transactions.delete(name);
    const receipt = frame.headers.get('receipt');
    if (receipt !== undefined) this.#receipts.receipt(receipt);
    this.#receipts.hold = true;
    try {
      for (const action of tx) action();
    } finally {
      this.#receipts.hold = false;
    }
    this.#ctx.flushDeferred();
    this.#receipts.flush();
  }

  abort(frame: StompFrame): void {
    const name = txName(frame);
    if (!this.#transactions.delete(name)) throw new StompError('Bad transaction', `Invalid transaction identifier: "${name}"\n`);
    const receipt = frame.headers.get('receipt');
    if (receipt !== undefined) this.#receipts.receipt(receipt);
  }

  /** Open transactions and the actions they hold (management's channel details). */
  uncommitted(): { transactions: number; actions: number } {
    let actions = 0;
    for (const ops of this.#transactions.values()) actions += ops.length;
    return { transactions: this.#transactions.size, actions };
  }

  /** Drop every open transaction (teardown). */
  clear(): void {
    this.#transactions.clear();
  }
}

function txName(frame: StompFrame): string {
  const name = frame.headers.get('transaction');
  if (name === undefined) throw new StompError('Missing transaction', `"${frame.command}" must include a 'transaction' header\n`);
  return name;
}
