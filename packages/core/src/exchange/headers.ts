import type { FieldTable, FieldValue, Message } from '../contract.js';
import { BrokerError } from '../errors.js';
import { fieldEquals, fieldTypeName, fieldValueText } from '../message/message.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

type MatchMode = 'all' | 'any' | 'all-with-x' | 'any-with-x';

/** A compiled headers binding. */
interface HeadersRule {
  readonly destination: Destination;
  readonly any: boolean;
  /** Header pairs to test; a null value means "present with any value" (RabbitMQ's void match). */
  readonly pairs: readonly (readonly [string, FieldValue])[];
  /** Routing stamp so a rule reached through several index entries is tested once per message. */
  mark: number;
}

/** Hash key of one (header, value) pair. */
function pairKey(name: string, value: FieldValue): string {
  return `${name}\u0000${fieldTypeName(value)}\u0000${fieldValueText(value)}`;
}

function matchMode(args: FieldTable | undefined): MatchMode {
  const m = args?.['x-match'];
  if (m === undefined) return 'all';
  if (m === 'all' || m === 'any' || m === 'all-with-x' || m === 'any-with-x') return m;
  throw new BrokerError(
    'PRECONDITION_FAILED',
    `Invalid x-match field value ${typeof m === 'string' ? `<<"${m}">>` : fieldValueText(m)}; expected all, any, all-with-x, or any-with-x`,
  );
}

/**
 * Headers exchange (AMQP 0-9-1 §3.1.3.4 and RabbitMQ's x-match all / any / all-with-x / any-with-x). Plain all/any
 * ignore binding arguments starting with 'x-'; x-match itself is never matched.
 *
 * Routing is by hash lookup: every rule is indexed under one of its pairs (x-match all: any one pair must be present,
 * so the first one suffices; any: every pair) — or under "present" for void-valued pairs — and a message only tests the
 * rules indexed under its own headers. Rules that match every message (all with no pairs) are kept aside.
 */
export class HeadersExchange extends Exchange {
  readonly type = 'headers';
  readonly #rules = new Map<Binding, HeadersRule>();
  /** pairKey → rules; `name\u0000*` → rules whose indexed pair is void-valued (presence only). */
  readonly #index = new Map<string, HeadersRule[]>();
  readonly #matchAll: HeadersRule[] = [];
  #epoch = 0;

  override validateBinding(_routingKey: string, args: FieldTable | undefined): void {
    matchMode(args);
  }

  route(message: Message, out: Destination[]): void {
    for (const r of this.#matchAll) out.push(r.destination);
    const headers = message.properties.headers;
    if (headers === undefined || this.#index.size === 0) return;
    const epoch = ++this.#epoch;
    for (const name in headers) {
      const value = headers[name]!;
      this.#test(this.#index.get(pairKey(name, value)), headers, epoch, out);
      this.#test(this.#index.get(`${name}\u0000*`), headers, epoch, out);
    }
  }

  #test(rules: HeadersRule[] | undefined, headers: FieldTable, epoch: number, out: Destination[]): void {
    if (rules === undefined) return;
    for (const r of rules) {
      if (r.mark === epoch) continue;
      r.mark = epoch;
      if (matches(r, headers)) out.push(r.destination);
    }
  }

  protected index(b: Binding): void {
    const mode = matchMode(b.arguments);
    const withX = mode === 'all-with-x' || mode === 'any-with-x';
    const pairs: [string, FieldValue][] = [];
    for (const [k, v] of Object.entries(b.arguments ?? {})) {
      if (k === 'x-match' || (!withX && k.startsWith('x-'))) continue;
      pairs.push([k, v]);
    }
    const rule: HeadersRule = { destination: b.destination, any: mode === 'any' || mode === 'any-with-x', pairs, mark: 0 };
    this.#rules.set(b, rule);
    if (pairs.length === 0) {
      // all with no pairs matches everything; any with no pairs matches nothing (RabbitMQ headers_match).
      if (!rule.any) this.#matchAll.push(rule);
      return;
    }
    for (const key of this.#keysOf(rule)) {
      const list = this.#index.get(key);
      if (list === undefined) this.#index.set(key, [rule]);
      else list.push(rule);
    }
  }

  protected unindex(b: Binding): void {
    const rule = this.#rules.get(b);
    if (rule === undefined) return;
    this.#rules.delete(b);
    const i = this.#matchAll.indexOf(rule);
    if (i >= 0) this.#matchAll.splice(i, 1);
    for (const key of this.#keysOf(rule)) {
      const list = this.#index.get(key);
      if (list === undefined) continue;
      const j = list.indexOf(rule);
      if (j >= 0) list.splice(j, 1);
      if (list.length === 0) this.#index.delete(key);
    }
  }

  #keysOf(rule: HeadersRule): string[] {
    const pairs = rule.any ? rule.pairs : rule.pairs.slice(0, 1);
    return pairs.map(([k, v]) => (v === null ? `${k}\u0000*` : pairKey(k, v)));
  }
}

function matches(rule: HeadersRule, headers: FieldTable): boolean {
  for (const [k, v] of rule.pairs) {
    const has = Object.prototype.hasOwnProperty.call(headers, k);
    const ok = has && (v === null || fieldEquals(v, headers[k]));
    if (rule.any && ok) return true;
    if (!rule.any && !ok) return false;
  }
  return !rule.any;
}
