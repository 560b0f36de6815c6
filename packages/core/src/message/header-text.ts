/**
 * The one text form of a typed header value, for every protocol whose headers are plain text: STOMP headers and
 * MQTT 5 user properties. Pure and protocol-neutral, so a typed AMQP header (x-death, a timestamp, a byte array)
 * reads the same whether it leaves the broker as a STOMP MESSAGE header or an MQTT 5 user property.
 */
import type { DecimalValue, FieldTable, FieldValue } from '../contract.js';

/**
 * The text form of a typed header value:
 *
 * | value | text |
 * |---|---|
 * | string | as it is |
 * | integer (number or bigint, any width) | decimal, e.g. `42`, `1099511627776` |
 * | non-integer number | JavaScript's shortest round-trip form (`0.5`, `1e+21`, `NaN`, `Infinity`) |
 * | boolean | `true` / `false` |
 * | null (void) | the empty string |
 * | Buffer (byte array) | base64 |
 * | Date (timestamp) | whole seconds since the epoch, e.g. `1700000000` |
 * | decimal | a decimal string with its scale, e.g. `3.14` |
 * | array, table (e.g. `x-death`) | JSON, with the same rules inside; integers beyond 2^53 and non-finite numbers as JSON strings |
 *
 * Why these: AMQP timestamps have a resolution of one second, and RabbitMQ renders them as epoch seconds both in
 * STOMP's `timestamp` header and in MQTT 5 user properties (whose intervals are all seconds), so the number parses
 * back to the same instant. A byte array is arbitrary bytes, while STOMP headers and MQTT 5 strings must be
 * well-formed UTF-8 without U+0000 ([MQTT-1.5.4-1], [MQTT-1.5.4-2]): decoding it as UTF-8 would corrupt it, base64
 * keeps every byte. RabbitMQ drops arrays and tables; JSON keeps them readable by any client.
 */
export function headerText(v: FieldValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === null) return '';
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return String(Math.floor(v.getTime() / 1000));
  if (Array.isArray(v)) return JSON.stringify(v.map(jsonForm));
  if (isDecimal(v)) return decimalText(v.value, v.scale);
  return JSON.stringify(jsonForm(v));
}

function isDecimal(v: object): v is DecimalValue {
  return (v as { $decimal?: unknown }).$decimal === true;
}

/** The JSON-able form of a value inside an array or table. */
function jsonForm(v: FieldValue): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (Array.isArray(v)) return v.map(jsonForm);
  if (isDecimal(v)) return decimalText(v.value, v.scale);
  const out: Record<string, unknown> = {};
  const table: FieldTable = v;
  for (const k in table) out[k] = jsonForm(table[k] as FieldValue);
  return out;
}

/** `value × 10^-scale` as a decimal string (`314`, scale 2 → `3.14`). */
function decimalText(value: number, scale: number): string {
  if (scale <= 0) return String(value);
  const neg = value < 0;
  const digits = String(Math.abs(value)).padStart(scale + 1, '0');
  return (neg ? '-' : '') + digits.slice(0, -scale) + '.' + digits.slice(-scale);
}
