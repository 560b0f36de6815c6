/**
 * The query conventions of every list endpoint (rabbit_mgmt_util): `sort` and `sort_reverse`, the paged envelope
 * (`page`, `page_size`, `name`, `use_regex`, `pagination`), and `columns` (a dotted projection). Filtering and
 * paging happen before the page's items are projected, so a page of 500 out of 100,000 queues formats 500.
 */
import { badRequest, HttpError } from './http-error.js';
import { JsonStream } from './json-stream.js';

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

/** What a list request selects: the items of the answer, in order, and the envelope figures when paged. */
interface Selection<T> {
  paged: boolean;
  page: number;
  pageSize: number;
  pageCount: number;
  /** Items after the name filter. */
  filtered: number;
  /** The answer's items (the page when paged). */
  items: readonly T[];
  /** One item as its JSON object (formatted once, projected onto `columns` when given). */
  out: (item: T) => Record<string, unknown>;
  /** Whether `out` is the plain formatted object (no `columns`). */
  whole: boolean;
}

function select<T>(
  query: Query,
  items: readonly T[],
  format: (item: T) => Record<string, unknown>,
  nameOf: (item: T) => string,
  cheapSort: (item: T, column: string) => unknown,
): Selection<T> {
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
  // Formatted objects are kept only when a sort needed them; otherwise each item is formatted once, when written.
  let formatted: Map<T, Record<string, unknown>> | undefined;
  const view = (item: T): Record<string, unknown> => formatted?.get(item) ?? format(item);
  if (sortCols.length > 0) {
    const paths = sortCols.map((c) => c.split('.'));
    const key = (item: T, i: number): unknown => {
      const cheap = cheapSort(item, sortCols[i]!);
      if (cheap !== undefined) return cheap;
      formatted ??= new Map();
      let f = formatted.get(item);
      if (f === undefined) {
        f = format(item);
        formatted.set(item, f);
      }
      return pick(f, paths[i]!);
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
  const filtered = list.length;
  const pageCount = Math.ceil(filtered / pageSize);
  if (paged) {
    if (page > Math.max(1, pageCount)) {
      throw new HttpError(400, 'page_out_of_range', `Page out of range, page: ${page} page size: ${pageSize}, len: ${filtered}`);
    }
    list = list.slice((page - 1) * pageSize, page * pageSize);
  }
  return { paged, page, pageSize, pageCount, filtered, items: list, out, whole: columns === undefined };
}

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
  return whole(select(query, items, format, nameOf, cheapSort), items.length);
}

/** A selection answered as one JSON body: the formatted items, in the paged envelope when paging was asked for. */
function whole<T>(s: Selection<T>, total: number): Record<string, unknown>[] | Page<Record<string, unknown>> {
  const slice = s.items.map(s.out);
  if (!s.paged) return slice;
  return {
    filtered_count: s.filtered,
    item_count: slice.length,
    items: slice,
    page: s.page,
    page_count: s.pageCount,
    page_size: s.pageSize,
    total_count: total,
  };
}

/** Lists with fewer items than this are answered as one JSON body; longer ones are streamed. */
export const STREAM_MIN_ITEMS = 200;

/**
 * {@link answerList} for long lists: the same answer, streamed as a {@link JsonStream} that formats one item at a
 * time as it is sent, so a list of 100,000 queues never holds the event loop for more than a chunk. `toJson`, when
 * given, writes an item's JSON text directly (without building its object); it returns undefined for the requests
 * it does not cover, which then take `JSON.stringify(format(item))`. Short lists are answered as answerList does.
 */
export function streamList<T>(
  query: Query,
  items: readonly T[],
  format: (item: T) => Record<string, unknown>,
  nameOf: (item: T) => string,
  cheapSort: (item: T, column: string) => unknown = () => undefined,
  toJson?: (item: T) => string | undefined,
): JsonStream | Record<string, unknown>[] | Page<Record<string, unknown>> {
  const s = select(query, items, format, nameOf, cheapSort);
  if (s.items.length < STREAM_MIN_ITEMS) return whole(s, items.length);
  const text = (item: T): string => (s.whole ? toJson?.(item) : undefined) ?? JSON.stringify(s.out(item));
  return new JsonStream(function* () {
    // The envelope's keys in JSON.stringify's (and RabbitMQ's) order around the items.
    yield s.paged ? `{"filtered_count":${s.filtered},"item_count":${s.items.length},"items":[` : '[';
    let first = true;
    for (const item of s.items) {
      yield first ? text(item) : `,${text(item)}`;
      first = false;
    }
    yield s.paged ? `],"page":${s.page},"page_count":${s.pageCount},"page_size":${s.pageSize},"total_count":${items.length}}` : ']';
  });
}

/** Project a single object by `columns` when given. */
export function answerOne(query: Query, item: Record<string, unknown>): Record<string, unknown> {
  const columns = columnsOf(query);
  return columns === undefined ? item : project(item, columns);
}
