/**
 * The Erlang term RabbitMQ 3.10 stores for a binding's arguments, and the hash of it that ends its properties_key.
 *
 * RabbitMQ keeps arguments as an AMQP field table: a list of `{Name :: binary(), Type :: atom(), Value}`, with
 * arrays as lists of `{Type, Value}` and nested tables in the same list form. rabbit_binding sorts the top level by
 * name (bytewise, `lists:keysort/1`) before storing; nested tables keep their order. The management plugin hashes
 * that list with `erlang:phash2(Args, 1 bsl 32)` and prints the 32 bits big-endian in unpadded base64url.
 *
 * Warren's core keeps arguments as JavaScript values, not wire types, so this maps each value to the term RabbitMQ
 * would hold had the same arguments been declared over HTTP (rabbit_misc:to_amqp_table of the decoded JSON):
 *
 * - string → `longstr`; boolean → `bool`; object → `table`, keys sorted bytewise (the order `maps:fold` visits a
 *   JSON object of up to 32 keys in); array → `array`.
 * - number → what RabbitMQ's JSON decoder makes of the number as JavaScript writes it (`JSON.stringify`): without
 *   `.` or `e`, an integer → `long`; otherwise a float → `double`. So 1.5 and 1e21 are doubles, 2^64 is the long
 *   18446744073709552000, exactly as when a JavaScript client sends them.
 * - bigint → `long`. The AMQP-only values, which JSON cannot express, get the type RabbitMQ's AMQP parser gives
 *   them: null → `void`, Buffer → `binary`, Date → `timestamp` (seconds), decimal → `decimal` `{Scale, Value}`.
 *
 * What cannot match, because the information is gone before the value reaches the core:
 * - JSON `1.0` or `2e3` (RabbitMQ: double) arrive as the integer 1 / 2000 (long); integers that a client writes
 *   digit for digit beyond 2^53 arrive rounded.
 * - Over AMQP, integers are `long` here whatever the client sent: RabbitMQ keeps `signedint` (most clients' choice
 *   for small integers), `byte`, `short`, `unsignedint`, ... and `float` apart; longstr and bool/table/array/binary/
 *   timestamp/decimal/void match. Nested tables sent over AMQP keep their wire order in RabbitMQ but are sorted
 *   here; a JSON object of more than 32 keys nested in the arguments is visited in Erlang's hash-map order.
 */
import type { FieldTable, FieldValue } from '@warren/core';
import { atom, binary, erlangPhash2, float, tuple, type ErlangTerm } from './erlang-hash.js';

/** Names sorted as Erlang sorts binaries: by their UTF-8 bytes. */
function sortedNames(table: FieldTable): string[] {
  return Object.keys(table).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** The `{Type, Value}` pair of one field value. */
function typed(v: FieldValue): [string, ErlangTerm] {
  if (typeof v === 'string') return ['longstr', binary(v)];
  if (typeof v === 'boolean') return ['bool', atom(String(v))];
  if (typeof v === 'bigint') return ['long', v];
  if (typeof v === 'number') {
    const text = String(v);
    return /[.e]/.test(text) || !Number.isFinite(v) ? ['double', float(v)] : ['long', BigInt(text)];
  }
  if (v === null) return ['void', atom('undefined')];
  if (Buffer.isBuffer(v)) return ['binary', new Uint8Array(v)];
  if (v instanceof Date) return ['timestamp', BigInt(Math.floor(v.getTime() / 1000))];
  if (Array.isArray(v)) return ['array', v.map((x) => tuple(...typedTerms(x)))];
  if ((v as { $decimal?: unknown }).$decimal === true) {
    const d = v as { scale: number; value: number };
    return ['decimal', tuple(BigInt(d.scale), BigInt(d.value))];
  }
  return ['table', tableTerm(v as FieldTable)];
}

function typedTerms(v: FieldValue): [ErlangTerm, ErlangTerm] {
  const [type, value] = typed(v);
  return [atom(type), value];
}

/** A field table as RabbitMQ's list of `{Name, Type, Value}`, names sorted bytewise. */
export function tableTerm(table: FieldTable): ErlangTerm[] {
  return sortedNames(table).map((name) => tuple(binary(name), ...typedTerms(table[name]!)));
}

/** The hash RabbitMQ's management plugin puts after the `~` of a properties_key for these arguments. */
export function argumentsHash(args: FieldTable): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(erlangPhash2(tableTerm(args)));
  return b.toString('base64url');
}
