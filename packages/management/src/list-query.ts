/**
 * The query conventions of every list endpoint (rabbit_mgmt_util): `sort` and `sort_reverse`, the paged envelope
 * (`page`, `page_size`, `name`, `use_regex`, `pagination`), and `columns` (a dotted projection). Filtering and
 * paging happen before the page's items are projected, so a page of 500 out of 100,000 queues formats 500.
 */
import { badRequest, HttpError } from './http-error.js';

/** A list request's query string, as fastify parses it. */
export type Query = Record<string, string | string[] | undefined>;

/** The largest page_size RabbitMQ accepts. */
export const MAX_PAGE_SIZE = 500;

/** The first value of a query parameter. */
export function param(query: Query, name: string): string | undefined {
  const v = query[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A boolean query flag: 'true' (RabbitMQ compares with <<"true">>). */
export function flag(query: Query, name: string): boolean {
  return param(query, name) === 'true';
}

/** A paging number; anything but digits is RabbitMQ's "Pagination parameters are invalid". */
function pagingInt(query: Query, name: string, fallback: number): number {
  const raw = param(query, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw badRequest('Pagination parameters are invalid');
  return Number(raw);
}

/** Read a dotted path ('message_stats.publish') of an object. */
function pick(obj: unknown, path: readonly string[]): unknown {
  let v: unknown = obj;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/** Project an item onto `columns` (dotted paths), keeping the nesting: `message_stats.publish` → {message_stats:{publish}}. */
export function project(item: Record<string, unknown>, columns: readonly (readonly string[])[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of columns) {
    const v = pick(item, path);
    if (v === undefined) continue;
    let target = out;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i]!;
      const next = target[k];
      if (next === null || typeof next !== 'object') target[k] = {};
      target = target[k] as Record<string, unknown>;
    }
    target[path[path.length - 1]!] = v;
  }
  return out;
}

/** `columns=a,b.c` as paths, or undefined when absent. */
export function columnsOf(query: Query): string[][] | undefined {
  const raw = param(query, 'columns');
  if (raw === undefined || raw === '') return undefined;
  return raw.split(',').map((c) => c.trim().split('.')).filter((p) => p.length > 0 && p[0] !== '');
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = typeof a === 'string' ? a : JSON.stringify(a);
  const y = typeof b === 'string' ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The paged envelope of RabbitMQ's list endpoints. */
export type Page<T> = {
  filtered_count: number;
  item_count: number;
  items: T[];
  page: number;
  page_count: number;
  page_size: number;
  total_count: number;
};

/**
 * Answer a list request. `items` are the raw objects (cheap to hold), `sortKey` reads a sort column of a raw object
 * without formatting it where it can (name, vhost), and `format` turns one raw object into its JSON. Sorting by a
 * column that only the JSON has formats every item first; sorting by name or vhost formats only the page.
 */
export function answerList<T>(
  query: Query,
  items: readonly T[],
  format: (item: T) => Record<string, unknown>,
  nameOf: (item: T) => string,
  cheapSort: (item: T, column: string) => unknown = () => undefined,
): Record<string, unknown>[] | Page<Record<string, unknown>> {
  const paged = param(query, 'page') !== undefined || flag(query, 'pagination');
  let page = 1;
  let pageSize = 100;
  let list: readonly T[] = items;
  if (paged) {
    page = pagingInt(query, 'page', 1);
    pageSize = pagingInt(query, 'page_size', 100);
    if (page < 1 || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new HttpError(400, 'invalid_pagination_parameters', `Invalid pagination parameters: page number ${page}, page size ${pageSize}`);
    }
    const name = param(query, 'name');
    if (name !== undefined && name !== '') {
      let test: (s: string) => boolean;
      if (flag(query, 'use_regex')) {
        let re: RegExp;
        try {
          re = new RegExp(name, 'i');
        } catch {
          throw badRequest(`invalid regular expression '${name}'`);
        }
        test = (s) => re.test(s);
      } else {
        const needle = name.toLowerCase();
        test = (s) => s.toLowerCase().includes(needle);
      }
      list = list.filter((i) => test(nameOf(i)));
    }
  }
  const sortCols = (param(query, 'sort') ?? '').split(',').filter((c) => c !== '');
  const reverse = flag(query, 'sort_reverse');
  let formatted: Map<T, Record<string, unknown>> | undefined;
  const view = (item: T): Record<string, unknown> => {
    formatted ??= new Map();
    let f = formatted.get(item);
    if (f === undefined) {
      f = format(item);
      formatted.set(item, f);
    }
    return f;
  };
  if (sortCols.length > 0) {
    const paths = sortCols.map((c) => c.split('.'));
    const key = (item: T, i: number): unknown => {
      const cheap = cheapSort(item, sortCols[i]!);
      return cheap !== undefined ? cheap : pick(view(item), paths[i]!);
    };
    list = [...list].sort((a, b) => {
      for (let i = 0; i < paths.length; i++) {
        const c = compare(key(a, i), key(b, i));
        if (c !== 0) return reverse ? -c : c;
      }
      return 0;
    });
  } else if (reverse) {
    list = [...list].reverse();
  }
  const columns = columnsOf(query);
  const out = (item: T): Record<string, unknown> => (columns === undefined ? view(item) : project(view(item), columns));
  if (!paged) return list.map(out);
  const filtered = list.length;
  const pageCount = Math.ceil(filtered / pageSize);
  if (page > Math.max(1, pageCount)) {
    throw new HttpError(400, 'page_out_of_range', `Page out of range, page: ${page} page size: ${pageSize}, len: ${filtered}`);
  }
  const slice = list.slice((page - 1) * pageSize, page * pageSize).map(out);
  return {
    filtered_count: filtered,
    item_count: slice.length,
    items: slice,
    page,
    page_count: pageCount,
    page_size: pageSize,
    total_count: items.length,
  };
}

/** Project a single object by `columns` when given. */
export function answerOne(query: Query, item: Record<string, unknown>): Record<string, unknown> {
  const columns = columnsOf(query);
  return columns === undefined ? item : project(item, columns);
}
