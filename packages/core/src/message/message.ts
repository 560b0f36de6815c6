import type { FieldTable, FieldValue, Message } from '../contract.js';
import { BrokerError } from '../errors.js';

/**
 * Parse the `expiration` property (a decimal string of milliseconds). Returns -1 when absent. Errors use RabbitMQ's
 * wording (rabbit_basic:parse_expiration).
 */
export function parseExpiration(expiration: string | undefined): number {
  if (expiration === undefined) return -1;
  if (!/^-?\d+$/.test(expiration)) {
    throw new BrokerError('PRECONDITION_FAILED', `invalid expiration '${expiration}': no_integer`);
  }
  const n = Number(expiration);
  if (n < 0) throw new BrokerError('PRECONDITION_FAILED', `invalid expiration '${expiration}': {value_negative,${n}}`);
  return n;
}

/** A copy of a message with new properties (raw properties dropped, as the contract requires). */
export function withProperties(message: Message, properties: Message['properties']): Message {
  return {
    exchange: message.exchange,
    routingKey: message.routingKey,
    properties,
    rawProperties: undefined,
    body: message.body,
  };
}

/** The AMQP field type name RabbitMQ prints for a value in inequivalence errors. */
export function fieldTypeName(v: FieldValue): string {
  if (v === null) return 'void';
  switch (typeof v) {
    case 'string':
      return 'longstr';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'long';
    case 'number':
      return Number.isInteger(v) ? (v >= -0x80000000 && v <= 0x7fffffff ? 'signedint' : 'long') : 'double';
    default:
      break;
  }
  if (Buffer.isBuffer(v)) return 'binary';
  if (v instanceof Date) return 'timestamp';
  if (Array.isArray(v)) return 'array';
  if ('$decimal' in v) return 'decimal';
  return 'table';
}

/** Print a value the way RabbitMQ's error texts do (plain text for scalars). */
export function fieldValueText(v: FieldValue): string {
  if (v === null) return 'undefined';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (v instanceof Date) return String(Math.floor(v.getTime() / 1000));
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

/** Deep equality of two field values (numbers compare by value regardless of width). */
export function fieldEquals(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a !== 'object' || typeof b !== 'object') {
    if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
      return BigInt(Math.trunc(Number(a))) === BigInt(Math.trunc(Number(b))) && Number(a) === Number(b);
    }
    return false;
  }
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => fieldEquals(x, b[i]));
  }
  const ta = a as FieldTable;
  const tb = b as FieldTable;
  const ka = Object.keys(ta);
  if (ka.length !== Object.keys(tb).length) return false;
  return ka.every((k) => fieldEquals(ta[k], tb[k]));
}

/** A stable text key for a field table (binding identity: same destination + key + arguments). */
export function tableKey(t: FieldTable | undefined): string {
  if (t === undefined) return '';
  const keys = Object.keys(t).sort();
  if (keys.length === 0) return '';
  return keys.map((k) => `${k}=${fieldTypeName(t[k]!)}:${fieldValueText(t[k]!)}`).join('\u0000');
}
