import type { FieldTable, FieldValue, Message, MessageProperties } from '../contract.js';

/** Why a message was dead-lettered (the `reason` of an x-death entry). */
export type DeadLetterReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

/**
 * Build the dead-lettered copy of a message the way RabbitMQ 3.10 does (rabbit_dead_letter:make_msg):
 * - an `x-death` array of tables {count (a long), reason, queue, time, exchange, routing-keys[, original-expiration]}; the
 *   entry for the same queue and reason has its count incremented and moves to the front, otherwise a new entry is
 *   put at the front;
 * - `x-first-death-reason`, `x-first-death-queue`, `x-first-death-exchange` set once, on the first death;
 * - `expiration` removed (kept as `original-expiration` in the new entry);
 * - exchange set to the dead-letter exchange, routing key to `routingKey` (x-dead-letter-routing-key or the original).
 */
export function deadLetterMessage(
  message: Message,
  reason: DeadLetterReason,
  queue: string,
  deadLetterExchange: string,
  routingKey: string,
  now: number,
): Message {
  const oldHeaders = message.properties.headers;
  const headers: FieldTable = oldHeaders === undefined ? {} : { ...oldHeaders };
  const old = headers['x-death'];
  const deaths: FieldValue[] = Array.isArray(old) ? [...old] : [];
  const idx = deaths.findIndex((d) => isTable(d) && d['queue'] === queue && d['reason'] === reason);
  if (idx >= 0) {
    const d = deaths[idx] as FieldTable;
    const old = d['count'];
    const count = typeof old === 'bigint' ? old : typeof old === 'number' ? BigInt(Math.trunc(old)) : 0n;
    deaths.splice(idx, 1);
    // RabbitMQ rewrites the updated table with its keys sorted (rabbit_misc:set_table_value sorts).
    const updated: FieldTable = {};
    const merged: FieldTable = { ...d, count: count + 1n };
    for (const k of Object.keys(merged).sort()) updated[k] = merged[k]!;
    deaths.unshift(updated);
  } else {
    const entry: FieldTable = {
      // A long ('l') on the wire, as RabbitMQ writes it: bigint is the contract's 64-bit integer.
      count: 1n,
      reason,
      queue,
      time: new Date(Math.floor(now / 1000) * 1000),
      exchange: message.exchange,
      // The routing key plus the CC keys (BCC is gone by now), as rabbit_dead_letter records them.
      'routing-keys': routingKeys(message),
    };
    if (message.properties.expiration !== undefined) entry['original-expiration'] = message.properties.expiration;
    deaths.unshift(entry);
  }
  if (!('x-first-death-reason' in headers)) {
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-exchange'] = message.exchange;
  }
  headers['x-death'] = deaths;
  // With an explicit dead-letter routing key the CC keys must not route the copy again (rabbit_dead_letter).
  if (routingKey !== message.routingKey) delete headers['CC'];
  const properties: MessageProperties = { ...message.properties, headers };
  delete properties.expiration;
  return { exchange: deadLetterExchange, routingKey, properties, rawProperties: undefined, body: message.body };
}

/**
 * RabbitMQ's cycle check (rabbit_dead_letter:is_cycle): dead-lettering into `queue` is a cycle when `queue` already
 * appears in x-death and no death on the way was a rejection (a client rejecting breaks the cycle).
 */
export function isDeadLetterCycle(message: Message, queue: string): boolean {
  const deaths = message.properties.headers?.['x-death'];
  if (!Array.isArray(deaths)) return false;
  let seen = false;
  for (const d of deaths) {
    if (!isTable(d)) continue;
    if (d['reason'] === 'rejected') return false;
    if (d['queue'] === queue) seen = true;
  }
  return seen;
}

function isTable(v: FieldValue | undefined): v is FieldTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date) && !('$decimal' in v);
}

function routingKeys(message: Message): string[] {
  const keys = [message.routingKey];
  const cc = message.properties.headers?.['CC'];
  if (Array.isArray(cc)) for (const k of cc) if (typeof k === 'string') keys.push(k);
  return keys;
}
