/**
 * Core objects as RabbitMQ 3.10's management API writes them (rabbit_mgmt_format): the same keys, the same nesting.
 * Counts come from live state, so a response after a publish, purge or declare is already right.
 */
import type { Binding, Exchange, FieldTable, FieldValue, Queue } from '@warren/core';
import { argumentsHash } from './binding-args.js';
import type { ManagementContext } from './context.js';
import { DEFAULT_STATS, exchangeMessageStats, queueLengths, queueMessageStats, vhostStats, type StatsQuery } from './stats/format-stats.js';

/** A header or argument value as JSON (RabbitMQ writes tables as objects and byte arrays as strings). */
export function fieldToJson(v: FieldValue): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (Array.isArray(v)) return v.map(fieldToJson);
  if ('$decimal' in v && (v as { $decimal?: unknown }).$decimal === true) {
    const d = v as unknown as { scale: number; value: number };
    return d.value / 10 ** d.scale;
  }
  return tableToJson(v as FieldTable);
}

/** A field table as a JSON object. */
export function tableToJson(t: FieldTable | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (t === undefined) return out;
  for (const k of Object.keys(t)) out[k] = fieldToJson(t[k]!);
  return out;
}

/** A JSON value as a field value (strings, numbers, booleans, null, arrays and objects, as RabbitMQ converts them). */
export function jsonToField(v: unknown): FieldValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map(jsonToField);
  if (typeof v === 'object') return jsonToTable(v as Record<string, unknown>);
  return String(v);
}

/** A JSON object as a field table. */
export function jsonToTable(o: Record<string, unknown>): FieldTable {
  const out: FieldTable = {};
  for (const [k, v] of Object.entries(o)) out[k] = jsonToField(v);
  return out;
}

/** RabbitMQ's `type` of a queue: 'classic', 'quorum' or 'stream'. */
export function queueType(q: Queue): string {
  return q.settings.type;
}

/**
 * One queue as `GET /api/queues` lists it. With `disable_stats=true` only its identity and state (plus the three length
 * totals with `enable_queue_totals=true`), as RabbitMQ answers.
 */
export function formatQueue(ctx: ManagementContext, vhost: string, q: Queue, sq: StatsQuery = DEFAULT_STATS): Record<string, unknown> {
  const ready = q.messageCount;
  // Exact: every delivery not yet settled, basic.get ones included (consumers' own counts miss those).
  const unacked = q.unacked;
  if (sq.disableStats) {
    const basic: Record<string, unknown> = {
      arguments: tableToJson(q.arguments),
      auto_delete: q.autoDelete,
      durable: q.durable,
      exclusive: q.exclusiveOwner !== undefined,
    };
    if (sq.enableQueueTotals) {
      basic['messages'] = ready + unacked;
      basic['messages_ready'] = ready;
      basic['messages_unacknowledged'] = unacked;
    }
    basic['name'] = q.name;
    basic['node'] = ctx.nodeName;
    basic['state'] = 'running';
    basic['type'] = queueType(q);
    basic['vhost'] = vhost;
    return basic;
  }
  const readyBytes = q.store.byteCount;
  const exclusiveConsumer = q.hasExclusiveConsumer ? q.consumers[0]!.tag : '';
  const out: Record<string, unknown> = {
    arguments: tableToJson(q.arguments),
    auto_delete: q.autoDelete,
    consumer_capacity: q.consumers.length > 0 ? 1 : 0,
    consumer_utilisation: q.consumers.length > 0 ? 1 : 0,
    consumers: q.consumers.length,
    durable: q.durable,
    effective_policy_definition: q.effectivePolicyDefinition,
    exclusive: q.exclusiveOwner !== undefined,
    exclusive_consumer_tag: exclusiveConsumer === '' ? null : exclusiveConsumer,
    head_message_timestamp: null,
    memory: 0,
    message_bytes: readyBytes,
    message_bytes_paged_out: 0,
    message_bytes_persistent: q.durable ? readyBytes : 0,
    message_bytes_ram: readyBytes,
    message_bytes_ready: readyBytes,
    message_bytes_unacknowledged: 0,
    message_stats: queueMessageStats(q, sq),
    messages: 0,
    messages_details: undefined,
    messages_paged_out: 0,
    messages_persistent: q.durable ? ready : 0,
    messages_ram: ready,
    messages_ready: 0,
    messages_ready_details: undefined,
    messages_ready_ram: ready,
    messages_unacknowledged: 0,
    messages_unacknowledged_details: undefined,
    messages_unacknowledged_ram: unacked,
    name: q.name,
    node: ctx.nodeName,
    operator_policy: q.operatorPolicy ?? null,
    policy: q.policy ?? null,
    recoverable_slaves: null,
    single_active_consumer_tag: q.settings.singleActiveConsumer && q.consumers.length > 0 ? q.consumers[0]!.tag : null,
    state: 'running',
    type: queueType(q),
    vhost,
  };
  // Filled in place so the keys keep RabbitMQ's order.
  queueLengths(q, sq, out);
  if (Object.keys(out['message_stats'] as object).length === 0) delete out['message_stats'];
  return out;
}

/** One exchange as `GET /api/exchanges` lists it ('' is the default exchange). */
export function formatExchange(vhost: string, x: Exchange, sq: StatsQuery = DEFAULT_STATS): Record<string, unknown> {
  // RabbitMQ lists `policy` only for an exchange that has one.
  const out: Record<string, unknown> = {
    ...(x.policy !== undefined ? { policy: x.policy } : {}),
    arguments: tableToJson(x.arguments),
    auto_delete: x.autoDelete,
    durable: x.durable,
    internal: x.internal,
  };
  const stats = sq.disableStats ? undefined : exchangeMessageStats(x, sq);
  if (stats !== undefined) out['message_stats'] = stats;
  out['name'] = x.name;
  out['type'] = x.type;
  out['user_who_performed_action'] = 'rmq-internal';
  out['vhost'] = vhost;
  return out;
}

/**
 * A routing key as RabbitMQ writes it in a properties_key: percent-encoded with only letters, digits, `-`, `_` and
 * `.` left as they are, and space as `+` (`a b/c%d~e` → `a+b%2Fc%25d%7Ee`, recorded from RabbitMQ 3.10).
 */
export function quotePlus(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * RabbitMQ's properties_key of a binding (rabbit_mgmt_format:pack_binding_props): the quoted routing key, `~` alone
 * for an empty key without arguments, and with arguments `~` and the base64url of Erlang's phash2 of the stored
 * argument list (see binding-args.ts for what matches RabbitMQ and what cannot).
 */
export function propertiesKey(routingKey: string, args: FieldTable | undefined): string {
  if (args === undefined || Object.keys(args).length === 0) return routingKey === '' ? '~' : quotePlus(routingKey);
  return `${quotePlus(routingKey)}~${argumentsHash(args)}`;
}

/** True when a properties_key from a path names this binding (clients send it encoded once more, or not). */
export function matchesPropertiesKey(given: string, routingKey: string, args: FieldTable | undefined): boolean {
  const key = propertiesKey(routingKey, args);
  if (given === key) return true;
  try {
    return given === decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return false;
  }
}

/** One binding as `GET /api/bindings` lists it. */
export function formatBinding(vhost: string, b: Binding): Record<string, unknown> {
  return {
    source: b.source.name,
    vhost,
    destination: b.destination.name,
    destination_type: b.destination.kind,
    routing_key: b.routingKey,
    arguments: tableToJson(b.arguments),
    properties_key: propertiesKey(b.routingKey, b.arguments),
  };
}

/**
 * The default exchange's implicit bindings: every queue is bound to '' with its own name (RabbitMQ lists them).
 */
export function defaultBinding(vhost: string, q: Queue): Record<string, unknown> {
  return {
    source: '',
    vhost,
    destination: q.name,
    destination_type: 'queue',
    routing_key: q.name,
    arguments: {},
    properties_key: propertiesKey(q.name, undefined),
  };
}

/** One vhost as `GET /api/vhosts` lists it. */
export function formatVhost(ctx: ManagementContext, name: string, sq: StatsQuery = DEFAULT_STATS): Record<string, unknown> {
  const v = ctx.broker.vhost(name);
  const out: Record<string, unknown> = {
    cluster_state: { [ctx.nodeName]: 'running' },
    default_queue_type: v?.defaultQueueType ?? 'undefined',
    description: v?.description ?? '',
  };
  if (v !== undefined && !sq.disableStats) vhostStats(v, sq, out);
  out['metadata'] = { description: v?.description ?? '', tags: [...(v?.tags ?? [])] };
  out['name'] = name;
  out['tags'] = [...(v?.tags ?? [])];
  out['tracing'] = false;
  return out;
}
