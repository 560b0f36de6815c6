/**
 * Deliveries to subscriptions (MESSAGE frames), their settlement (ACK, NACK; ack modes auto, client and
 * client-individual) and the SUBSCRIBE headers that shape them (`ack`, `prefetch-count`).
 */
import type { CoreChannel, Delivery } from '@warren/core';
import { encodeFrame, type HeaderList } from '../codec/encoder.js';
import type { StompFrame } from '../codec/frame.js';
import { destinationOf } from '../destination.js';
import { StompError } from '../errors.js';
import { appendMessageHeaders } from '../mapping.js';
import type { Publisher } from './publish.js';
import type { Receipts } from './receipts.js';
import type { SessionContext } from './session-context.js';
import type { AckMode, Subscription, Subscriptions } from './subscriptions.js';

/** A SUBSCRIBE's ack mode (default auto). */
export function ackModeOf(h: ReadonlyMap<string, string>): AckMode {
  const ackHeader = h.get('ack') ?? 'auto';
  if (ackHeader !== 'auto' && ackHeader !== 'client' && ackHeader !== 'client-individual') {
    throw new StompError('Invalid ack header', `Invalid ack mode "${ackHeader}": expected auto, client or client-individual\n`);
  }
  return ackHeader;
}

/** A SUBSCRIBE's prefetch (RabbitMQ's `prefetch-count` header; 0 = unlimited). */
export function prefetchCountOf(h: ReadonlyMap<string, string>): number {
  const prefetchHeader = h.get('prefetch-count');
  if (prefetchHeader === undefined) return 0;
  if (!/^\d{1,9}$/.test(prefetchHeader.trim())) {
    throw new StompError('Invalid header', `Invalid value for header "prefetch-count": "${prefetchHeader}"\n`);
  }
  return Number(prefetchHeader.trim());
}

/** Settle deliveries of one subscription up to `tag` (client mode, cumulative) or exactly `tag`. */
function settle(channel: CoreChannel, sub: Subscription, tag: number, ack: boolean, requeue: boolean): void {
  if (sub.ackMode === 'client') {
    // Cumulative within this subscription only (STOMP 1.2 §"SUBSCRIBE ack Header").
    for (const t of sub.outstanding) {
      if (t > tag) break;
      sub.outstanding.delete(t);
      if (ack) channel.ack(t, false);
      else channel.nack(t, false, requeue);
    }
  } else if (sub.outstanding.delete(tag)) {
    if (ack) channel.ack(tag, false);
    else channel.nack(tag, false, requeue);
  }
}

/** MESSAGE frames out, ACK/NACK in. */
export class Deliveries {
  readonly #ctx: SessionContext;
  readonly #subs: Subscriptions;
  readonly #receipts: Receipts;
  readonly #publisher: Publisher;

  constructor(ctx: SessionContext, subs: Subscriptions, receipts: Receipts, publisher: Publisher) {
    this.#ctx = ctx;
    this.#subs = subs;
    this.#receipts = receipts;
    this.#publisher = publisher;
  }

  /** The core delivers a message to one of this connection's subscriptions. */
  deliver(delivery: Delivery): void {
    const ctx = this.#ctx;
    const sub = this.#subs.byTag(delivery.consumerTag);
    if (sub === undefined || ctx.state !== 'connected') return;
    const msg = delivery.message;
    const messageId = sub.idPrefix + delivery.deliveryTag;
    const headers: Array<[string, string]> = [
      ['subscription', sub.id],
      ['destination', destinationOf(msg.exchange, msg.routingKey)],
      ['message-id', messageId],
      ['redelivered', delivery.redelivered ? 'true' : 'false'],
    ];
    if (sub.ackMode !== 'auto') {
      sub.outstanding.add(delivery.deliveryTag);
      if (ctx.version === '1.2') headers.push(['ack', messageId]);
    }
    appendMessageHeaders(headers, msg.properties);
    ctx.writeDelivery(encodeFrame('MESSAGE', headers as HeaderList, msg.body, ctx.version));
  }

  /** ACK (`ack` true) or NACK. */
  settle(frame: StompFrame, ack: boolean): void {
    const ctx = this.#ctx;
    const h = frame.headers;
    const channel = ctx.requireChannel();
    const command = ack ? 'ACK' : 'NACK';
    // STOMP 1.2 identifies the message by the MESSAGE's `ack` header (sent back as `id`); 1.0/1.1 by message-id.
    const idName = ctx.version === '1.2' ? 'id' : 'message-id';
    const id = ctx.version === '1.2' ? (h.get('id') ?? h.get('message-id')) : (h.get('message-id') ?? h.get('id'));
    const bad = (): StompError => new StompError('Invalid header', `"${command}" must include a valid "${idName}" header\n`);
    if (id === undefined || !id.startsWith('T_')) throw bad();
    const marker = `@@${ctx.sessionId}@@`;
    const at = id.lastIndexOf(marker);
    if (at < 0) {
      // Another session's id (or a made-up one of the same form) names no subscription of this one.
      if (/^T_.*@@.*@@\d+$/.test(id)) throw new StompError('Subscription not found', `Message with id "${id}" has no subscription`);
      throw bad();
    }
    const sub = this.#subs.byId(id.slice(2, at));
    const tagText = id.slice(at + marker.length);
    if (sub === undefined) throw new StompError('Subscription not found', `Message with id "${id}" has no subscription`);
    if (!/^\d{1,15}$/.test(tagText)) throw bad();
    const tag = Number(tagText);
    if (!sub.outstanding.has(tag)) {
      throw new StompError('precondition_failed', `PRECONDITION_FAILED - unknown delivery tag ${tag}`, true);
    }
    const requeue = h.get('requeue') !== 'false';
    const tx = this.#publisher.transaction(h);
    if (tx !== undefined) tx.push(() => settle(channel, sub, tag, ack, requeue));
    else settle(channel, sub, tag, ack, requeue);
    const receipt = h.get('receipt');
    if (receipt !== undefined) this.#receipts.receipt(receipt);
  }
}
