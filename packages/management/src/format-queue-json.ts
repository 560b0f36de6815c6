/**
 * One queue of `GET /api/queues` written straight as JSON text: the same bytes as `JSON.stringify(formatQueue(...))`
 * for the default statistics query, without building the ~46-key object (and its `*_details` objects) per queue.
 * Listing 10,000 queues once a second is 8.7 MB of JSON per second; building and stringifying the objects was most
 * of its CPU and garbage. Requests with sample ranges (`*_age`, `*_incr`) or `disable_stats` take formatQueue.
 * format-queue-json.test.ts checks the two agree on queues in every state.
 */
import type { Queue } from '@warren/core';
import type { ManagementContext } from './context.js';
import { queueType, tableToJson } from './format.js';
import { queueMessageStats, type StatsQuery } from './stats/format-stats.js';
import { QUEUE_FIELDS } from './stats/sampler.js';

const MESSAGES = QUEUE_FIELDS.indexOf('messages');
const MESSAGES_READY = QUEUE_FIELDS.indexOf('messages_ready');
const MESSAGES_UNACKED = QUEUE_FIELDS.indexOf('messages_unacknowledged');

/** A number as JSON.stringify writes it (non-finite numbers are null). */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** An object as JSON; most queues have no arguments and no policy, and `{}` needs no stringify. */
function objectJson(o: Record<string, unknown>): string {
  return Object.keys(o).length === 0 ? '{}' : JSON.stringify(o);
}

/** A string, or null, as JSON. */
function strOrNull(s: string | undefined | null): string {
  return s === undefined || s === null ? 'null' : JSON.stringify(s);
}

/**
 * The JSON text of one queue as `GET /api/queues` lists it, or undefined when `sq` asks for something only
 * formatQueue writes (sample ranges, disable_stats).
 */
export function queueJson(ctx: ManagementContext, vhost: string, q: Queue, sq: StatsQuery): string | undefined {
  if (sq.disableStats || sq.msgRates !== undefined || sq.lengths !== undefined) return undefined;
  const ready = q.messageCount;
  const unacked = q.unacked;
  const readyBytes = q.store.byteCount;
  const consumers = q.consumers;
  const durable = q.durable;
  const ring = q.stats.samples;
  const rate = (f: number): string => (ring === undefined ? '0' : num(0 + ring.rate(f)));
  // Idle queues (most of a long list) have no message_stats; the others are rare enough to build it as formatQueue does.
  const c = q.stats;
  let statsJson = '';
  if (c.publish + c.deliver + c.deliverNoAck + c.get + c.getNoAck + c.getEmpty + c.ack + c.redeliver > 0) {
    const stats = queueMessageStats(q, sq);
    if (Object.keys(stats).length > 0) statsJson = `"message_stats":${JSON.stringify(stats)},`;
  }
  const exclusiveTag = q.hasExclusiveConsumer ? consumers[0]!.tag : '';
  const sacTag = q.settings.singleActiveConsumer && consumers.length > 0 ? consumers[0]!.tag : null;
  const busy = consumers.length > 0 ? '1' : '0';
  return (
    `{"arguments":${objectJson(tableToJson(q.arguments))},"auto_delete":${q.autoDelete},"consumer_capacity":${busy},` +
    `"consumer_utilisation":${busy},"consumers":${consumers.length},"durable":${durable},` +
    `"effective_policy_definition":${objectJson(q.effectivePolicyDefinition)},` +
    `"exclusive":${q.exclusiveOwner !== undefined},"exclusive_consumer_tag":${strOrNull(exclusiveTag === '' ? null : exclusiveTag)},` +
    `"head_message_timestamp":null,"memory":0,"message_bytes":${num(readyBytes)},"message_bytes_paged_out":0,` +
    `"message_bytes_persistent":${durable ? num(readyBytes) : '0'},"message_bytes_ram":${num(readyBytes)},` +
    `"message_bytes_ready":${num(readyBytes)},"message_bytes_unacknowledged":0,` +
    statsJson +
    `"messages":${num(ready + unacked)},"messages_details":{"rate":${rate(MESSAGES)}},"messages_paged_out":0,` +
    `"messages_persistent":${durable ? num(ready) : '0'},"messages_ram":${num(ready)},` +
    `"messages_ready":${num(ready)},"messages_ready_details":{"rate":${rate(MESSAGES_READY)}},"messages_ready_ram":${num(ready)},` +
    `"messages_unacknowledged":${num(unacked)},"messages_unacknowledged_details":{"rate":${rate(MESSAGES_UNACKED)}},` +
    `"messages_unacknowledged_ram":${num(unacked)},"name":${JSON.stringify(q.name)},"node":${JSON.stringify(ctx.nodeName)},` +
    `"operator_policy":${strOrNull(q.operatorPolicy)},"policy":${strOrNull(q.policy)},"recoverable_slaves":null,` +
    `"single_active_consumer_tag":${strOrNull(sacTag)},"state":"running","type":${JSON.stringify(queueType(q))},` +
    `"vhost":${JSON.stringify(vhost)}}`
  );
}
