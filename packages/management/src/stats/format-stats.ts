/**
 * RabbitMQ 3.10's statistics fields (rabbit_mgmt_format / rabbit_mgmt_stats): `message_stats` with each count and its
 * `<name>_details: {rate}`, the `*_details` of queue lengths and churn, and with `msg_rates_age/msg_rates_incr`,
 * `lengths_age/lengths_incr` the `samples`, `avg` and `avg_rate` fields. Counts come from the core's live counters;
 * only rates and samples come from the sampler's rings.
 */
import { MessageCounters, type Broker, type Exchange, type Queue, type SampleRing, type VHost } from '@warren/core';
import { param, type Query } from '../list-query.js';
import { CHURN_FIELDS, LENGTH_FIELDS, MESSAGE_FIELDS, QUEUE_FIELDS, vhostLengths } from './sampler.js';

/** A `*_age` / `*_incr` pair, in ms. */
export interface SampleRange {
  ageMs: number;
  incrMs: number;
}

/** The statistics options of one request. */
export interface StatsQuery {
  msgRates: SampleRange | undefined;
  lengths: SampleRange | undefined;
  /** `disable_stats=true`: drop every statistics field. */
  disableStats: boolean;
  /** `enable_queue_totals=true` (with disable_stats): keep the queue length totals. */
  enableQueueTotals: boolean;
}

/** Most samples one `*_details` lists, however large `age / incr` is. */
const MAX_SAMPLES = 1000;

function range(query: Query, prefix: string): SampleRange | undefined {
  const age = Number(param(query, `${prefix}_age`));
  const incr = Number(param(query, `${prefix}_incr`));
  if (!(age > 0) || !(incr > 0)) return undefined;
  return { ageMs: Math.min(age, incr * MAX_SAMPLES) * 1000, incrMs: incr * 1000 };
}

/** The statistics options of a request's query string. */
export function statsQuery(query: Query): StatsQuery {
  return {
    msgRates: range(query, 'msg_rates'),
    lengths: range(query, 'lengths'),
    disableStats: param(query, 'disable_stats') === 'true',
    enableQueueTotals: param(query, 'enable_queue_totals') === 'true',
  };
}

/** No statistics options: plain `{rate}` details. */
export const DEFAULT_STATS: StatsQuery = { msgRates: undefined, lengths: undefined, disableStats: false, enableQueueTotals: false };

/**
 * The `<name>_details` of the sum of `fields` of `ring`: `{rate}`, plus `samples`, `avg`, `avg_rate` when a sample
 * range was asked for.
 */
export function details(ring: SampleRing | undefined, fields: readonly number[], r: SampleRange | undefined): Record<string, unknown> {
  let rate = 0;
  if (ring !== undefined) for (const f of fields) rate += ring.rate(f);
  if (r === undefined) return { rate };
  const samples: { sample: number; timestamp: number }[] = [];
  if (ring !== undefined && fields.length > 0) {
    const series = fields.map((f) => ring.history(f, r.ageMs, r.incrMs));
    const first = series[0]!;
    for (let i = 0; i < first.length; i++) {
      let sum = 0;
      for (const s of series) sum += s[i]?.value ?? 0;
      samples.push({ sample: sum, timestamp: first[i]!.timestamp });
    }
  }
  let avg = 0;
  let avgRate = 0;
  if (samples.length > 0) {
    avg = samples.reduce((a, s) => a + s.sample, 0) / samples.length;
    const newest = samples[0]!;
    const oldest = samples[samples.length - 1]!;
    const dt = (newest.timestamp - oldest.timestamp) / 1000;
    avgRate = dt > 0 ? (newest.sample - oldest.sample) / dt : 0;
  }
  return { avg, avg_rate: avgRate, rate, samples };
}

/** Add `name` and `name_details` to `out`. */
function put(out: Record<string, unknown>, name: string, value: number, ring: SampleRing | undefined, fields: readonly number[], r: SampleRange | undefined): void {
  out[name] = value;
  out[`${name}_details`] = details(ring, fields, r);
}

const Q = (name: (typeof QUEUE_FIELDS)[number]): number => QUEUE_FIELDS.indexOf(name);

/** A queue's message_stats: the publish group once it had publishes, the delivery group once it had deliveries. */
export function queueMessageStats(q: Queue, sq: StatsQuery): Record<string, unknown> {
  const s = q.stats;
  const ring = s.samples;
  const r = sq.msgRates;
  const out: Record<string, unknown> = {};
  const delivered = s.deliver + s.deliverNoAck + s.get + s.getNoAck;
  const anyDelivery = delivered + s.getEmpty + s.ack + s.redeliver > 0;
  if (anyDelivery) {
    put(out, 'ack', s.ack, ring, [Q('ack')], r);
    put(out, 'deliver', s.deliver, ring, [Q('deliver')], r);
    put(out, 'deliver_get', delivered, ring, [Q('deliver'), Q('deliver_no_ack'), Q('get'), Q('get_no_ack')], r);
    put(out, 'deliver_no_ack', s.deliverNoAck, ring, [Q('deliver_no_ack')], r);
    put(out, 'get', s.get, ring, [Q('get')], r);
    put(out, 'get_empty', s.getEmpty, ring, [Q('get_empty')], r);
    put(out, 'get_no_ack', s.getNoAck, ring, [Q('get_no_ack')], r);
  }
  if (s.publish > 0) put(out, 'publish', s.publish, ring, [Q('publish')], r);
  if (anyDelivery) put(out, 'redeliver', s.redeliver, ring, [Q('redeliver')], r);
  return out;
}

/** The queue length fields of a queue (`messages`, `messages_ready`, `messages_unacknowledged` and their details). */
export function queueLengths(q: Queue, sq: StatsQuery, out: Record<string, unknown>): void {
  const ring = q.stats.samples;
  const ready = q.messageCount;
  put(out, 'messages', ready + q.unacked, ring, [Q('messages')], sq.lengths);
  put(out, 'messages_ready', ready, ring, [Q('messages_ready')], sq.lengths);
  put(out, 'messages_unacknowledged', q.unacked, ring, [Q('messages_unacknowledged')], sq.lengths);
}

/** An exchange's message_stats (publish_in, publish_out) once it had publishes. */
export function exchangeMessageStats(x: Exchange, sq: StatsQuery): Record<string, unknown> | undefined {
  if (x.publishIn === 0 && x.publishOut === 0) return undefined;
  const out: Record<string, unknown> = {};
  put(out, 'publish_in', x.publishIn, x.samples, [0], sq.msgRates);
  put(out, 'publish_out', x.publishOut, x.samples, [1], sq.msgRates);
  return out;
}

const M = (name: (typeof MESSAGE_FIELDS)[number]): number => MESSAGE_FIELDS.indexOf(name);

function anyTraffic(m: MessageCounters): boolean {
  return m.publish + m.deliver + m.deliverNoAck + m.get + m.getNoAck + m.getEmpty + m.ack + m.dropUnroutable + m.returnUnroutable > 0;
}

/** The channel-side message_stats of a vhost or the overview, in RabbitMQ's key order. */
function messageStats(m: MessageCounters, ring: SampleRing | undefined, sq: StatsQuery, overview: boolean): Record<string, unknown> {
  const r = sq.msgRates;
  const out: Record<string, unknown> = {};
  const delivered = m.deliver + m.deliverNoAck + m.get + m.getNoAck;
  const deliverGet = [M('deliver'), M('deliver_no_ack'), M('get'), M('get_no_ack')];
  if (overview) {
    put(out, 'ack', m.ack, ring, [M('ack')], r);
    put(out, 'confirm', m.confirm, ring, [M('confirm')], r);
    put(out, 'deliver', m.deliver, ring, [M('deliver')], r);
    put(out, 'deliver_get', delivered, ring, deliverGet, r);
    put(out, 'deliver_no_ack', m.deliverNoAck, ring, [M('deliver_no_ack')], r);
    put(out, 'disk_reads', 0, undefined, [], r);
    put(out, 'disk_writes', 0, undefined, [], r);
    put(out, 'drop_unroutable', m.dropUnroutable, ring, [M('drop_unroutable')], r);
    put(out, 'get', m.get, ring, [M('get')], r);
    put(out, 'get_empty', m.getEmpty, ring, [M('get_empty')], r);
    put(out, 'get_no_ack', m.getNoAck, ring, [M('get_no_ack')], r);
    put(out, 'publish', m.publish, ring, [M('publish')], r);
    put(out, 'redeliver', m.redeliver, ring, [M('redeliver')], r);
    put(out, 'return_unroutable', m.returnUnroutable, ring, [M('return_unroutable')], r);
    return out;
  }
  put(out, 'publish', m.publish, ring, [M('publish')], r);
  put(out, 'confirm', m.confirm, ring, [M('confirm')], r);
  put(out, 'return_unroutable', m.returnUnroutable, ring, [M('return_unroutable')], r);
  put(out, 'drop_unroutable', m.dropUnroutable, ring, [M('drop_unroutable')], r);
  put(out, 'get', m.get, ring, [M('get')], r);
  put(out, 'get_no_ack', m.getNoAck, ring, [M('get_no_ack')], r);
  put(out, 'deliver', m.deliver, ring, [M('deliver')], r);
  put(out, 'deliver_no_ack', m.deliverNoAck, ring, [M('deliver_no_ack')], r);
  put(out, 'redeliver', m.redeliver, ring, [M('redeliver')], r);
  put(out, 'ack', m.ack, ring, [M('ack')], r);
  put(out, 'deliver_get', delivered, ring, deliverGet, r);
  put(out, 'get_empty', m.getEmpty, ring, [M('get_empty')], r);
  return out;
}

const L0 = MESSAGE_FIELDS.length;

/** A vhost's statistics fields: queue lengths with details, and message_stats once it had traffic. */
export function vhostStats(v: VHost, sq: StatsQuery, out: Record<string, unknown>): void {
  const { ready, unacked } = vhostLengths(v);
  const ring = v.samples;
  put(out, 'messages', ready + unacked, ring, [L0], sq.lengths);
  put(out, 'messages_ready', ready, ring, [L0 + 1], sq.lengths);
  put(out, 'messages_unacknowledged', unacked, ring, [L0 + 2], sq.lengths);
  if (anyTraffic(v.stats)) out['message_stats'] = messageStats(v.stats, ring, sq, false);
}

/**
 * The overview's message_stats, churn_rates and queue_totals over the vhosts `canSee` admits (the rates are the
 * whole node's: RabbitMQ samples them per node, not per user).
 */
export function overviewStats(broker: Broker, canSee: (vhost: string) => boolean, sq: StatsQuery, ready: number, unacked: number): Record<string, unknown> {
  const ring = broker.stats.samples;
  const sum = new MessageCounters();
  sum.add(broker.stats.retired);
  for (const name of broker.vhostNames()) if (canSee(name)) sum.add(broker.vhost(name)!.stats);
  const s = broker.stats;
  const C0 = L0 + LENGTH_FIELDS.length;
  const churn: Record<string, unknown> = {};
  const C = (name: (typeof CHURN_FIELDS)[number]): number => C0 + CHURN_FIELDS.indexOf(name);
  put(churn, 'channel_closed', s.channelClosed, ring, [C('channel_closed')], sq.msgRates);
  put(churn, 'channel_created', s.channelCreated, ring, [C('channel_created')], sq.msgRates);
  put(churn, 'connection_closed', s.connectionClosed, ring, [C('connection_closed')], sq.msgRates);
  put(churn, 'connection_created', s.connectionCreated, ring, [C('connection_created')], sq.msgRates);
  put(churn, 'queue_created', s.queueCreated, ring, [C('queue_created')], sq.msgRates);
  put(churn, 'queue_declared', s.queueDeclared, ring, [C('queue_declared')], sq.msgRates);
  put(churn, 'queue_deleted', s.queueDeleted, ring, [C('queue_deleted')], sq.msgRates);
  const totals: Record<string, unknown> = {};
  put(totals, 'messages', ready + unacked, ring, [L0], sq.lengths);
  put(totals, 'messages_ready', ready, ring, [L0 + 1], sq.lengths);
  put(totals, 'messages_unacknowledged', unacked, ring, [L0 + 2], sq.lengths);
  return {
    message_stats: anyTraffic(sum) ? messageStats(sum, ring, sq, true) : {},
    churn_rates: churn,
    queue_totals: totals,
  };
}
