/**
 * Durable definitions (DESIGN.md §5): vhosts, users with their password hashes, permissions, durable exchanges,
 * durable queues and the bindings between durable objects, kept in `<dataDir>/definitions.json`.
 *
 * The file uses RabbitMQ's definitions-export layout (rabbitmqctl export_definitions), so it can be read by people and
 * tools that know that format. Field-table values that JSON cannot carry losslessly (64-bit integers, byte arrays,
 * timestamps, decimals) are tagged objects: `{"$bigint": "…"}`, `{"$bytes": "<base64>"}`, `{"$date": <ms>}`,
 * `{"$decimal": {"scale": s, "value": v}}`.
 *
 * Writes replace the whole file atomically (write a temporary file, fsync it, rename it over the old one, fsync the
 * directory), so a crash leaves either the old or the new definitions, never a torn file. Changes are coalesced: at
 * most one write is in flight, and every change made meanwhile is covered by the single write that follows it, so a
 * burst of 10,000 declares costs a handful of rewrites, not 10,000.
 *
 * Like the rest of the core this file imports no protocol and no network module.
 */
import { fsync, fsyncSync, readdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FieldTable, FieldValue, Logger } from '../contract.js';
import { syncDir } from '../util/sync-dir.js';
import * as dataFs from './data-fs.js';

/** RabbitMQ's name of the password hash format Warren uses (see auth/password.ts). */
export const PASSWORD_HASHING_ALGORITHM = 'rabbit_password_hashing_sha256';

/** A user as stored. */
export interface UserDefinitionRecord {
  name: string;
  /** base64(salt ‖ sha256(salt ‖ password)), RabbitMQ's format. */
  password_hash: string;
  hashing_algorithm: string;
  tags: string[];
  /** User limits (`max-connections`, `max-channels`), where RabbitMQ's export puts them. */
  limits?: Record<string, number>;
}

/** A vhost and its metadata (RabbitMQ's description, tags and default queue type). */
export interface VhostDefinition {
  name: string;
  metadata?: { description: string; tags: string[]; default_queue_type?: string };
}

/** A policy, as RabbitMQ's definitions list it under `policies`. */
export interface PolicyDefinitionRecord {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': string;
  definition: Record<string, unknown>;
  priority: number;
}

/**
 * A vhost-scoped runtime parameter (`parameters`): operator policies (component `operator_policy`), vhost limits
 * (component `vhost-limits`, name `limits`) and the parameters of components Warren keeps without running them.
 */
export interface ParameterDefinition {
  value: unknown;
  vhost: string;
  component: string;
  name: string;
}

/** A global parameter (`global_parameters`), e.g. cluster_name. */
export interface GlobalParameterDefinition {
  name: string;
  value: unknown;
}

/** A topic permission (`topic_permissions`). */
export interface TopicPermissionDefinition {
  user: string;
  vhost: string;
  exchange: string;
  write: string;
  read: string;
}

/** Permissions of one user on one vhost (regular expressions). */
export interface PermissionDefinition {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

/** A durable exchange. */
export interface ExchangeDefinition {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

/** A durable, non-exclusive queue. */
export interface QueueDefinition {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: FieldTable;
}

/** A binding whose source and destination are both durable. */
export interface BindingDefinition {
  source: string;
  vhost: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: FieldTable;
}

/** Everything that survives a restart apart from messages. */
export interface Definitions {
  vhosts: VhostDefinition[];
  users: UserDefinitionRecord[];
  permissions: PermissionDefinition[];
  exchanges: ExchangeDefinition[];
  queues: QueueDefinition[];
  bindings: BindingDefinition[];
  policies?: PolicyDefinitionRecord[];
  parameters?: ParameterDefinition[];
  global_parameters?: GlobalParameterDefinition[];
  topic_permissions?: TopicPermissionDefinition[];
}

/** The definitions file exists but cannot be used; the broker must not start (it would silently lose them). */
export class DefinitionsError extends Error {
  readonly path: string;
  constructor(path: string, reason: string) {
    super(
      `cannot load the definitions file ${path}: ${reason}. Refusing to start so that durable definitions are not ` +
        'lost; repair the file, restore it from a backup, or remove it to start with fresh definitions.',
    );
    this.name = 'DefinitionsError';
    this.path = path;
  }
}

/**
 * Where the broker keeps its definitions. {@link FileDefinitionsStore} is the embedded implementation; a replicated
 * backend can implement the same interface later.
 */
export interface DefinitionsStore {
  /**
   * Read the stored definitions, synchronously (the broker restores them before it accepts a connection).
   * Returns undefined when none are stored (a fresh data directory). Throws {@link DefinitionsError} when they exist
   * but cannot be read.
   */
  load(): Definitions | undefined;
  /**
   * The definitions changed: persist `snapshot()` soon. Calls made while a write is pending or in flight are
   * coalesced into one later write; `snapshot` is called when that write starts.
   */
  changed(snapshot: () => Definitions): void;
  /** Resolves once every change reported so far is on disk. */
  flush(): Promise<void>;
  /**
   * Write any pending change now (synchronously) and stop writing. Idempotent. The returned promise settles once no
   * write started earlier is still touching the data directory (after it, the directory may be removed).
   */
  close(): Promise<void>;
}

/** Options of {@link FileDefinitionsStore}. */
export interface FileDefinitionsStoreOptions {
  logger?: Logger;
}

/** The file name inside the data directory. */
export const DEFINITIONS_FILE = 'definitions.json';

/** Definitions in one JSON file, replaced atomically. */
export class FileDefinitionsStore implements DefinitionsStore {
  readonly path: string;
  readonly #logger: Logger | undefined;
  #snapshot: (() => Definitions) | undefined;
  #dirty = false;
  #scheduled = false;
  #writing: Promise<void> | undefined;
  #closed = false;
  #tmpCounter = 0;
  /** Changes reported so far, and how many of them are known to be on disk (per-change flush, no starvation). */
  #changeSeq = 0;
  #durableSeq = 0;
  /** flush() callers, each waiting for the change count it saw to be on disk (in increasing order of target). */
  #waiters: { target: number; resolve: () => void }[] = [];

  /**
   * @param dataDir The broker's data directory (must exist); the file is `<dataDir>/definitions.json`.
   */
  constructor(dataDir: string, options: FileDefinitionsStoreOptions = {}) {
    this.path = join(dataDir, DEFINITIONS_FILE);
    this.#logger = options.logger;
  }

  load(): Definitions | undefined {
    this.#removeStaleTemporaryFiles();
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new DefinitionsError(this.path, (err as Error).message);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new DefinitionsError(this.path, `invalid JSON (${(err as Error).message})`);
    }
    return parseDefinitions(raw, this.path);
  }

  /** Temporary files left by a crash mid-write were never renamed into place: they hold nothing needed. */
  #removeStaleTemporaryFiles(): void {
    const prefix = `${basename(this.path)}.`;
    let names: string[];
    try {
      names = readdirSync(dirname(this.path));
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
      try {
        dataFs.unlinkSync(join(dirname(this.path), name));
      } catch {
        // Another process's file, or already gone: leave it.
      }
    }
  }

  changed(snapshot: () => Definitions): void {
    if (this.#closed) return;
    this.#snapshot = snapshot;
    this.#dirty = true;
    this.#changeSeq++;
    if (this.#scheduled || this.#writing !== undefined) return;
    this.#scheduled = true;
    // One write per tick at most: everything declared while handling one batch of input is in it.
    setImmediate(() => this.#startWrite());
  }

  /**
   * Resolves once the changes reported before this call are on disk: the first write whose snapshot was taken after
   * them, even while later changes keep the store busy (a waiter is never starved by other connections' declares).
   */
  flush(): Promise<void> {
    const target = this.#changeSeq;
    if (this.#durableSeq >= target || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ target, resolve }));
  }

  close(): Promise<void> {
    const inFlight = this.#writing ?? Promise.resolve();
    if (this.#closed) return inFlight;
    this.#closed = true;
    // A write in flight is abandoned before its rename (see #writeAsync), so its content is written here too.
    if ((this.#dirty || this.#writing !== undefined) && this.#snapshot !== undefined) {
      this.#writeNowSync(this.#snapshot());
    }
    this.#dirty = false;
    this.#durableSeq = this.#changeSeq;
    this.#wake();
    return inFlight;
  }

  #startWrite(): void {
    this.#scheduled = false;
    if (this.#closed || !this.#dirty || this.#snapshot === undefined) return;
    this.#dirty = false;
    const covers = this.#changeSeq;
    const text = serializeDefinitions(this.#snapshot());
    const snapshot = this.#snapshot;
    this.#writing = this.#writeAsync(text).then(
      (renamed) => {
        this.#writing = undefined;
        // close() wrote the final state synchronously while this write was in flight; if this rename may have landed
        // after it, write the final state once more so the newest definitions win.
        if (this.#closed) {
          if (renamed) this.#writeNowSync(snapshot());
          this.#wake();
          return;
        }
        this.#durableSeq = covers;
        this.#wake();
        this.#afterWrite();
      },
      (err: unknown) => {
        this.#writing = undefined;
        this.#logger?.error({ err, path: this.path }, 'writing the definitions file failed; will retry');
        // Keep the change pending: the next change (or this retry) writes it again.
        this.#dirty = true;
        if (!this.#closed) setTimeout(() => this.#afterWrite(), 1000).unref();
      },
    );
  }

  #afterWrite(): void {
    if (this.#dirty) this.#startWrite();
  }

  /** Resolve the waiters whose changes are on disk. */
  #wake(): void {
    const waiters = this.#waiters;
    const durable = this.#durableSeq;
    let n = 0;
    while (n < waiters.length && waiters[n]!.target <= durable) n++;
    if (n === 0) return;
    const done = waiters.splice(0, n);
    for (const w of done) w.resolve();
  }

  /**
   * Write a temporary file, fsync it, rename it over the definitions, fsync the directory, then wait for the data
   * directory's observer, if replicated (data-fs.ts). False if closed before the rename. The write and the rename are
   * synchronous (one file of a few kilobytes to megabytes), so they reach an observer in the order they happen among
   * the store's other changes; only the syncs and the barrier are waited for asynchronously.
   */
  async #writeAsync(text: string): Promise<boolean> {
    const tmp = `${this.path}.${process.pid}.${++this.#tmpCounter}.tmp`;
    const fd = dataFs.openSync(tmp, 'w', 0o600);
    try {
      writeAllSync(fd, Buffer.from(text, 'utf8'));
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    } finally {
      dataFs.closeSync(fd);
    }
    if (this.#closed) {
      try {
        dataFs.unlinkSync(tmp);
      } catch {
        // Already gone.
      }
      return false;
    }
    dataFs.renameSync(tmp, this.path);
    await syncDirectory(dirname(this.path));
    await dataFs.dataBarrierAsync(this.path);
    return true;
  }

  #writeNowSync(defs: Definitions): void {
    const tmp = `${this.path}.${process.pid}.${++this.#tmpCounter}.tmp`;
    try {
      const fd = dataFs.openSync(tmp, 'w', 0o600);
      try {
        writeAllSync(fd, Buffer.from(serializeDefinitions(defs), 'utf8'));
        fsyncSync(fd);
      } finally {
        dataFs.closeSync(fd);
      }
      dataFs.renameSync(tmp, this.path);
      syncDir(dirname(this.path));
    } catch (err) {
      this.#logger?.error({ err, path: this.path }, 'writing the definitions file failed');
      try {
        dataFs.unlinkSync(tmp);
      } catch {
        // Nothing to clean up.
      }
    }
  }
}

function writeAllSync(fd: number, data: Buffer): void {
  for (let done = 0; done < data.length; ) done += dataFs.writeSync(fd, data, done, data.length - done, done);
}

/** fsync a directory so a rename in it is durable (POSIX); ignored where directories cannot be opened for sync. */
async function syncDirectory(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // See #writeNowSync.
  } finally {
    await fh?.close();
  }
}

/** An in-memory {@link DefinitionsStore} (tests, embedding without a data directory). */
export class MemoryDefinitionsStore implements DefinitionsStore {
  /** The last persisted definitions, as a deep copy. */
  stored: Definitions | undefined;
  /** How many times definitions were written. */
  writes = 0;
  #snapshot: (() => Definitions) | undefined;
  #scheduled = false;

  constructor(initial?: Definitions) {
    this.stored = initial === undefined ? undefined : roundTrip(initial);
  }

  load(): Definitions | undefined {
    return this.stored === undefined ? undefined : roundTrip(this.stored);
  }

  changed(snapshot: () => Definitions): void {
    this.#snapshot = snapshot;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#write());
  }

  async flush(): Promise<void> {
    this.#write();
  }

  close(): Promise<void> {
    this.#write();
    return Promise.resolve();
  }

  #write(): void {
    if (!this.#scheduled || this.#snapshot === undefined) return;
    this.#scheduled = false;
    this.stored = roundTrip(this.#snapshot());
    this.writes++;
  }
}

function roundTrip(defs: Definitions): Definitions {
  return parseDefinitions(JSON.parse(serializeDefinitions(defs)), '(memory)');
}

// ---- JSON encoding -----------------------------------------------------------------------------------------------

/** The file's text: definitions with tagged field values, pretty-printed for people. */
export function serializeDefinitions(defs: Definitions): string {
  const out = {
    warren_definitions_version: 1,
    vhosts: defs.vhosts,
    users: defs.users,
    permissions: defs.permissions,
    exchanges: defs.exchanges.map((x) => ({ ...x, arguments: encodeTable(x.arguments) })),
    queues: defs.queues.map((q) => ({ ...q, arguments: encodeTable(q.arguments) })),
    bindings: defs.bindings.map((b) => ({ ...b, arguments: encodeTable(b.arguments) })),
    policies: defs.policies ?? [],
    parameters: defs.parameters ?? [],
    global_parameters: defs.global_parameters ?? [],
    topic_permissions: defs.topic_permissions ?? [],
  };
  return `${JSON.stringify(out, null, 1)}\n`;
}

function encodeTable(table: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(table)) out[k] = encodeValue(v);
  return out;
}

function encodeValue(v: FieldValue): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : { $double: String(v) };
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('base64') };
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) return v.map(encodeValue);
  if ('$decimal' in v && v.$decimal === true) return { $decimal: { scale: v.scale, value: v.value } };
  return { $table: encodeTable(v as FieldTable) };
}

function decodeValue(v: unknown, where: () => string): FieldValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map((e) => decodeValue(e, where));
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const tag = keys[0]!;
      const x = o[tag];
      if (tag === '$bigint' && typeof x === 'string' && /^-?\d+$/.test(x)) return BigInt(x);
      if (tag === '$bytes' && typeof x === 'string') return Buffer.from(x, 'base64');
      if (tag === '$date' && typeof x === 'number') return new Date(x);
      if (tag === '$double' && typeof x === 'string') return Number(x);
      if (tag === '$table' && typeof x === 'object' && x !== null && !Array.isArray(x)) {
        return decodeTable(x, where);
      }
      if (tag === '$decimal' && typeof x === 'object' && x !== null) {
        const d = x as Record<string, unknown>;
        if (typeof d['scale'] === 'number' && typeof d['value'] === 'number') {
          return { $decimal: true, scale: d['scale'], value: d['value'] };
        }
      }
    }
    // An untagged object (e.g. a table from a RabbitMQ export): a nested table.
    return decodeTable(o, where);
  }
  throw new Error(`${where()}: unsupported value ${JSON.stringify(v)}`);
}

function decodeTable(v: unknown, where: () => string): FieldTable {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where()}: arguments must be an object`);
  const out: FieldTable = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = decodeValue(x, where);
  return out;
}

/** Validate and decode the parsed JSON of a definitions file (RabbitMQ exports are accepted too). */
export function parseDefinitions(raw: unknown, path: string): Definitions {
  try {
    return parseOrThrow(raw);
  } catch (err) {
    throw err instanceof DefinitionsError ? err : new DefinitionsError(path, (err as Error).message);
  }
}

function parseOrThrow(raw: unknown): Definitions {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('expected a JSON object');
  const r = raw as Record<string, unknown>;
  const list = (key: string): Record<string, unknown>[] => {
    const v = r[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e))) {
      throw new Error(`'${key}' must be a list of objects`);
    }
    return v as Record<string, unknown>[];
  };
  const str = (o: Record<string, unknown>, key: string, what: string): string => {
    const v = o[key];
    if (typeof v !== 'string') throw new Error(`${what}: '${key}' must be a string`);
    return v;
  };
  const bool = (o: Record<string, unknown>, key: string, what: string, dflt: boolean): boolean => {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw new Error(`${what}: '${key}' must be true or false`);
    return v;
  };
  const defs: Definitions = { vhosts: [], users: [], permissions: [], exchanges: [], queues: [], bindings: [] };
  list('vhosts').forEach((v, i) => {
    const what = `vhosts[${i}]`;
    const record: VhostDefinition = { name: str(v, 'name', what) };
    const m = v['metadata'];
    if (typeof m === 'object' && m !== null && !Array.isArray(m)) {
      const meta = m as Record<string, unknown>;
      const tags = meta['tags'];
      const dqt = meta['default_queue_type'] ?? v['default_queue_type'];
      record.metadata = {
        description: typeof meta['description'] === 'string' ? meta['description'] : '',
        tags: Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [],
        ...(typeof dqt === 'string' && dqt !== 'undefined' ? { default_queue_type: dqt } : {}),
      };
    }
    defs.vhosts.push(record);
  });
  list('users').forEach((u, i) => {
    const what = `users[${i}]`;
    const tags = u['tags'];
    defs.users.push({
      name: str(u, 'name', what),
      password_hash: str(u, 'password_hash', what),
      hashing_algorithm: typeof u['hashing_algorithm'] === 'string' ? u['hashing_algorithm'] : PASSWORD_HASHING_ALGORITHM,
      // RabbitMQ 3.10 exports tags as one comma-separated string; later versions as a list.
      tags: Array.isArray(tags)
        ? tags.filter((t): t is string => typeof t === 'string')
        : typeof tags === 'string'
          ? tags.split(',').map((t) => t.trim()).filter((t) => t !== '')
          : [],
      ...(limitsOf(u['limits']) !== undefined ? { limits: limitsOf(u['limits'])! } : {}),
    });
  });
  list('permissions').forEach((p, i) => {
    const what = `permissions[${i}]`;
    defs.permissions.push({
      user: str(p, 'user', what),
      vhost: str(p, 'vhost', what),
      configure: str(p, 'configure', what),
      write: str(p, 'write', what),
      read: str(p, 'read', what),
    });
  });
  list('exchanges').forEach((x, i) => {
    const what = `exchanges[${i}]`;
    defs.exchanges.push({
      name: str(x, 'name', what),
      vhost: str(x, 'vhost', what),
      type: str(x, 'type', what),
      durable: bool(x, 'durable', what, true),
      auto_delete: bool(x, 'auto_delete', what, false),
      internal: bool(x, 'internal', what, false),
      arguments: decodeTable(x['arguments'], () => what),
    });
  });
  list('queues').forEach((q, i) => {
    const what = `queues[${i}]`;
    defs.queues.push({
      name: str(q, 'name', what),
      vhost: str(q, 'vhost', what),
      durable: bool(q, 'durable', what, true),
      auto_delete: bool(q, 'auto_delete', what, false),
      arguments: decodeTable(q['arguments'], () => what),
    });
  });
  list('bindings').forEach((b, i) => {
    const what = `bindings[${i}]`;
    const type = str(b, 'destination_type', what);
    if (type !== 'queue' && type !== 'exchange') throw new Error(`${what}: 'destination_type' must be queue or exchange`);
    defs.bindings.push({
      source: str(b, 'source', what),
      vhost: str(b, 'vhost', what),
      destination: str(b, 'destination', what),
      destination_type: type,
      routing_key: str(b, 'routing_key', what),
      arguments: decodeTable(b['arguments'], () => what),
    });
  });
  defs.policies = list('policies').map((p, i) => {
    const what = `policies[${i}]`;
    const def = p['definition'];
    if (typeof def !== 'object' || def === null || Array.isArray(def)) throw new Error(`${what}: 'definition' must be an object`);
    return {
      vhost: str(p, 'vhost', what),
      name: str(p, 'name', what),
      pattern: str(p, 'pattern', what),
      'apply-to': typeof p['apply-to'] === 'string' ? p['apply-to'] : 'all',
      definition: def as Record<string, unknown>,
      priority: typeof p['priority'] === 'number' ? p['priority'] : 0,
    };
  });
  defs.parameters = list('parameters').map((p, i) => {
    const what = `parameters[${i}]`;
    return { value: p['value'], vhost: str(p, 'vhost', what), component: str(p, 'component', what), name: str(p, 'name', what) };
  });
  defs.global_parameters = list('global_parameters').map((p, i) => ({ name: str(p, 'name', `global_parameters[${i}]`), value: p['value'] }));
  defs.topic_permissions = list('topic_permissions').map((p, i) => {
    const what = `topic_permissions[${i}]`;
    return {
      user: str(p, 'user', what),
      vhost: str(p, 'vhost', what),
      exchange: str(p, 'exchange', what),
      write: str(p, 'write', what),
      read: str(p, 'read', what),
    };
  });
  return defs;
}

/** Numeric limits from a definitions entry (other values are dropped), or undefined when there are none. */
function limitsOf(v: unknown): Record<string, number> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'number') out[k] = x;
  return Object.keys(out).length === 0 ? undefined : out;
}
