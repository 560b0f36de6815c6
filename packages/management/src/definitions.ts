/**
 * Definitions export and import (GET and POST /api/definitions[/{vhost}]) in RabbitMQ 3.10's format.
 *
 * Export reads the core's own captured definitions (the records its definitions store writes), taken with the
 * transient objects too, since RabbitMQ's export lists every exchange and every queue no connection owns, and orders
 * the lists as RabbitMQ does, with the runtime settings (topic permissions, parameters, global parameters, policies,
 * user limits) in RabbitMQ's field names.
 *
 * Import accepts the HTTP export shape and `rabbitmqctl export_definitions`' shape (vhost `metadata` and `limits`,
 * queue `type`, tags as a list or a comma-separated string, clear-text `password`). Runtime settings go to the core's
 * Broker.importRuntimeDefinitions (cluster_name too: it is the core's global parameter). The whole document is checked
 * first: by shape here, then by applying it to a scratch copy of the broker through the same core operations; only
 * if that succeeds is it applied to the real broker, synchronously, so a refused import changes nothing.
 */
import {
  Broker,
  captureDefinitions,
  DEFAULT_HASHING_ALGORITHM,
  hashPassword,
  MemoryDefinitionsStore,
  passwordHashProblem,
  silentLogger,
  type Definitions,
  type FieldTable,
  type Logger,
  type RuntimeDefinitions,
  type User,
} from '@warren/core';
import type { ManagementContext } from './context.js';
import { HttpChannelHost, internalConnectionInfo, NO_ALARMS } from './core-ops.js';
import { jsonToTable, tableToJson } from './format.js';
import { badRequest } from './http-error.js';
import { checkName } from './routes/vhosts.js';

/** The keys of a full export, in RabbitMQ 3.10's order. */
export const EXPORT_KEYS = [
  'rabbit_version',
  'rabbitmq_version',
  'product_name',
  'product_version',
  'users',
  'vhosts',
  'permissions',
  'topic_permissions',
  'parameters',
  'global_parameters',
  'policies',
  'queues',
  'exchanges',
  'bindings',
] as const;

/** The lists of a single-vhost export, in RabbitMQ 3.10's order (after rabbit_version). */
export const VHOST_EXPORT_KEYS = ['parameters', 'policies', 'queues', 'exchanges', 'bindings'] as const;

/** Captured definitions, with whatever lists the core adds beyond the ones this file knows. */
type Captured = Definitions & Record<string, unknown>;

function listOf(captured: Captured, key: string): Record<string, unknown>[] {
  const v = captured[key];
  return Array.isArray(v) ? (v as Record<string, unknown>[]) : [];
}

/** The objects of one exported list, as RabbitMQ writes them. */
function exportList(ctx: ManagementContext, captured: Captured, key: string): Record<string, unknown>[] {
  switch (key) {
    case 'users':
      return captured.users.map((u) => ({
        name: u.name,
        password_hash: u.password_hash,
        hashing_algorithm: u.hashing_algorithm,
        tags: u.tags,
        limits: (u as { limits?: unknown }).limits ?? {},
      }));
    case 'vhosts':
      // RabbitMQ 3.10's HTTP export lists vhosts by name only (limits are among the parameters).
      return captured.vhosts.map((v) => ({ name: v.name }));
    case 'global_parameters': {
      const list = listOf(captured, key);
      if (list.some((p) => p['name'] === 'cluster_name')) return list;
      return [{ name: 'cluster_name', value: ctx.clusterName }, ...list];
    }
    case 'queues':
      return captured.queues.map((q) => ({ name: q.name, vhost: q.vhost, durable: q.durable, auto_delete: q.auto_delete, arguments: tableToJson(q.arguments) }));
    case 'exchanges':
      return captured.exchanges.map((x) => ({
        name: x.name,
        vhost: x.vhost,
        type: x.type,
        durable: x.durable,
        auto_delete: x.auto_delete,
        internal: x.internal,
        arguments: tableToJson(x.arguments),
      }));
    case 'bindings':
      return captured.bindings.map((b) => ({ ...b, arguments: tableToJson(b.arguments) }));
    default:
      return listOf(captured, key);
  }
}

/** GET /api/definitions: everything, as RabbitMQ 3.10 exports it. */
export function exportAll(ctx: ManagementContext): Record<string, unknown> {
  const captured = captureDefinitions(ctx.broker, { transient: true }) as Captured;
  const out: Record<string, unknown> = {};
  for (const key of EXPORT_KEYS) {
    if (key === 'product_name') out[key] = 'Warren';
    else if (key === 'rabbit_version' || key === 'rabbitmq_version' || key === 'product_version') out[key] = ctx.version;
    else out[key] = exportList(ctx, captured, key);
  }
  return out;
}

/** GET /api/definitions/{vhost}: one vhost's lists; queues, exchanges and bindings without their vhost field. */
export function exportVhost(ctx: ManagementContext, vhost: string): Record<string, unknown> {
  const captured = captureDefinitions(ctx.broker, { transient: true }) as Captured;
  const out: Record<string, unknown> = { rabbit_version: ctx.version };
  for (const key of VHOST_EXPORT_KEYS) {
    const list = exportList(ctx, captured, key).filter((o) => o['vhost'] === vhost);
    // RabbitMQ drops the vhost field of entities only; parameters and policies keep it.
    out[key] = key === 'parameters' || key === 'policies' ? list : list.map(({ vhost: _v, ...rest }) => rest);
  }
  return out;
}

// ---- import: shape --------------------------------------------------------------------------------------------

interface ImportUser {
  name: string;
  passwordHash: string;
  algorithm: string;
  tags: string[];
}
interface ImportVhost {
  name: string;
  description?: string;
  tags?: string[];
  defaultQueueType?: string;
}
interface ImportQueue {
  name: string;
  vhost: string;
  durable: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}
interface ImportExchange {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}
interface ImportBinding {
  source: string;
  vhost: string;
  destination: string;
  destinationType: 'queue' | 'exchange';
  routingKey: string;
  arguments: FieldTable;
}

/** A definitions document, checked and normalised. */
export interface ImportDocument {
  users: ImportUser[];
  vhosts: ImportVhost[];
  permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
  queues: ImportQueue[];
  exchanges: ImportExchange[];
  bindings: ImportBinding[];
  runtime: Required<RuntimeDefinitions>;
  /** What RabbitMQ itself would skip, by name; logged when the import is applied. */
  skipped: string[];
}

const FULL_KEYS = new Set<string>([...EXPORT_KEYS, 'explicit_id']);
const VERSION_KEYS = new Set(['rabbit_version', 'rabbitmq_version', 'product_name', 'product_version']);
const QUEUE_TYPES = new Set(['classic', 'quorum', 'stream']);

/** Field readers that name the object and field in their 400s. */
class Reader {
  readonly #o: Record<string, unknown>;
  readonly #what: string;
  constructor(o: Record<string, unknown>, what: string, allowed: readonly string[]) {
    this.#o = o;
    this.#what = what;
    for (const k of Object.keys(o)) if (!allowed.includes(k)) throw badRequest(`${what}: unknown field '${k}'`);
  }
  has(key: string): boolean {
    return this.#o[key] !== undefined;
  }
  raw(key: string): unknown {
    return this.#o[key];
  }
  str(key: string, dflt?: string): string {
    const v = this.#o[key];
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'string') throw badRequest(`${this.#what}: '${key}' must be a string`);
    return v;
  }
  name(key: string, kind: string): string {
    const v = this.str(key);
    try {
      checkName(kind, v);
    } catch (err) {
      throw badRequest(`${this.#what}: ${(err as Error).message}`);
    }
    return v;
  }
  bool(key: string, dflt: boolean): boolean {
    const v = this.#o[key];
    if (v === undefined) return dflt;
    // RabbitMQ's own exports always write booleans; old hand-written files sometimes say "true".
    if (v === 'true' || v === 'false') return v === 'true';
    if (typeof v !== 'boolean') throw badRequest(`${this.#what}: '${key}' must be true or false`);
    return v;
  }
  object(key: string): Record<string, unknown> {
    const v = this.#o[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${this.#what}: '${key}' must be an object`);
    return v as Record<string, unknown>;
  }
  tags(key: string): string[] | undefined {
    const v = this.#o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v.split(',').map((t) => t.trim()).filter((t) => t !== '');
    if (Array.isArray(v) && v.every((t) => typeof t === 'string')) return v.map((t: string) => t.trim()).filter((t) => t !== '');
    throw badRequest(`${this.#what}: '${key}' must be a list of strings or a comma-separated string`);
  }
  regex(key: string): string {
    const v = this.str(key);
    try {
      new RegExp(v);
    } catch {
      throw badRequest(`${this.#what}: invalid regular expression in '${key}': '${v}'`);
    }
    return v;
  }
}

function objects(doc: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = doc[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest(`'${key}' must be a list`);
  v.forEach((e, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw badRequest(`${key}[${i}] must be an object`);
  });
  return v as Record<string, unknown>[];
}

/**
 * Check a definitions document's shape and normalise it. `vhost` set: a single-vhost import (entities land in it;
 * users, vhosts and permissions are skipped, as RabbitMQ skips them there). Throws a 400 naming the first problem.
 */
export function parseImport(raw: unknown, vhost?: string): ImportDocument {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest('definitions must be a JSON object');
  const doc = raw as Record<string, unknown>;
  for (const k of Object.keys(doc)) if (!FULL_KEYS.has(k)) throw badRequest(`unknown key '${k}' in the definitions`);
  for (const k of VERSION_KEYS) {
    if (doc[k] !== undefined && typeof doc[k] !== 'string') throw badRequest(`'${k}' must be a string`);
  }
  const out: ImportDocument = {
    users: [],
    vhosts: [],
    permissions: [],
    queues: [],
    exchanges: [],
    bindings: [],
    runtime: { topic_permissions: [], parameters: [], global_parameters: [], policies: [], user_limits: [] },
    skipped: [],
  };
  const inVhost = (r: Reader, what: string): string => {
    if (vhost !== undefined) return vhost;
    if (!r.has('vhost')) throw badRequest(`${what}: 'vhost' is required`);
    return r.name('vhost', 'vhost');
  };

  if (vhost !== undefined) {
    for (const k of ['users', 'vhosts', 'permissions', 'topic_permissions', 'global_parameters']) {
      const n = objects(doc, k).length;
      if (n > 0) out.skipped.push(`${n} ${k} (not part of a single-vhost import)`);
    }
  } else {
    objects(doc, 'users').forEach((u, i) => {
      const what = `users[${i}]`;
      const r = new Reader(u, what, ['name', 'password_hash', 'password', 'hashing_algorithm', 'tags', 'limits']);
      const name = r.name('name', 'user');
      const algorithm = r.str('hashing_algorithm', DEFAULT_HASHING_ALGORITHM);
      let passwordHash: string;
      if (r.has('password_hash')) {
        passwordHash = r.str('password_hash');
        const problem = passwordHashProblem(passwordHash, algorithm);
        if (problem !== undefined) throw badRequest(`${what} '${name}': ${problem}`);
      } else if (r.has('password')) {
        // rabbitmqctl import accepts a clear-text password; it is hashed here and never stored.
        passwordHash = hashPassword(r.str('password'));
        out.users.push({ name, passwordHash, algorithm: DEFAULT_HASHING_ALGORITHM, tags: r.tags('tags') ?? [] });
        pushLimits(out, name, r.object('limits'));
        return;
      } else {
        passwordHash = '';
      }
      out.users.push({ name, passwordHash, algorithm, tags: r.tags('tags') ?? [] });
      pushLimits(out, name, r.object('limits'));
    });
    objects(doc, 'vhosts').forEach((v, i) => {
      const what = `vhosts[${i}]`;
      const r = new Reader(v, what, ['name', 'description', 'tags', 'default_queue_type', 'metadata', 'limits', 'tracing', 'cluster_state']);
      const name = r.name('name', 'vhost');
      const meta = new Reader(r.object('metadata'), `${what}.metadata`, ['description', 'tags', 'default_queue_type']);
      const vh: ImportVhost = { name };
      const description = r.has('description') ? r.str('description') : meta.has('description') ? meta.str('description') : undefined;
      if (description !== undefined) vh.description = description;
      const tags = r.tags('tags') ?? meta.tags('tags');
      if (tags !== undefined) vh.tags = tags;
      const dqt = r.has('default_queue_type') ? r.str('default_queue_type') : meta.has('default_queue_type') ? meta.str('default_queue_type') : undefined;
      if (dqt !== undefined && dqt !== 'undefined') {
        if (!QUEUE_TYPES.has(dqt)) throw badRequest(`${what} '${name}': unknown default_queue_type '${dqt}'`);
        vh.defaultQueueType = dqt;
      }
      if (r.bool('tracing', false)) throw badRequest(`${what} '${name}': message tracing is not supported by Warren`);
      const limits = r.object('limits');
      // rabbitmqctl's shape carries vhost limits on the vhost; the HTTP shape as a vhost-limits parameter.
      if (Object.keys(limits).length > 0) out.runtime.parameters.push({ vhost: name, component: 'vhost-limits', name: 'limits', value: limits });
      out.vhosts.push(vh);
    });
    objects(doc, 'permissions').forEach((p, i) => {
      const what = `permissions[${i}]`;
      const r = new Reader(p, what, ['user', 'vhost', 'configure', 'write', 'read']);
      out.permissions.push({ user: r.name('user', 'user'), vhost: r.name('vhost', 'vhost'), configure: r.regex('configure'), write: r.regex('write'), read: r.regex('read') });
    });
    out.runtime.topic_permissions.push(...objects(doc, 'topic_permissions'));
    // cluster_name among them: the core keeps it as RabbitMQ does, and the management context reads it from there.
    out.runtime.global_parameters.push(...objects(doc, 'global_parameters'));
  }
  for (const p of objects(doc, 'parameters')) out.runtime.parameters.push(vhost === undefined ? p : { ...p, vhost });
  for (const p of objects(doc, 'policies')) out.runtime.policies.push(vhost === undefined ? p : { ...p, vhost });

  objects(doc, 'queues').forEach((q, i) => {
    const what = `queues[${i}]`;
    const r = new Reader(q, what, ['name', 'vhost', 'durable', 'auto_delete', 'arguments', 'type']);
    const name = r.name('name', 'queue');
    const args = jsonToTable(r.object('arguments'));
    if (r.has('type')) {
      const type = r.str('type');
      if (!QUEUE_TYPES.has(type)) throw badRequest(`${what} '${name}': unknown queue type '${type}'`);
      if (args['x-queue-type'] === undefined && type !== 'classic') args['x-queue-type'] = type;
    }
    const t = args['x-queue-type'];
    if (t !== undefined && !(typeof t === 'string' && QUEUE_TYPES.has(t))) throw badRequest(`${what} '${name}': unknown queue type '${String(t)}'`);
    out.queues.push({ name, vhost: inVhost(r, what), durable: r.bool('durable', true), autoDelete: r.bool('auto_delete', false), arguments: args });
  });
  objects(doc, 'exchanges').forEach((x, i) => {
    const what = `exchanges[${i}]`;
    const r = new Reader(x, what, ['name', 'vhost', 'type', 'durable', 'auto_delete', 'internal', 'arguments']);
    out.exchanges.push({
      name: r.name('name', 'exchange'),
      vhost: inVhost(r, what),
      type: r.str('type'),
      durable: r.bool('durable', true),
      autoDelete: r.bool('auto_delete', false),
      internal: r.bool('internal', false),
      arguments: jsonToTable(r.object('arguments')),
    });
  });
  objects(doc, 'bindings').forEach((b, i) => {
    const what = `bindings[${i}]`;
    const r = new Reader(b, what, ['source', 'vhost', 'destination', 'destination_type', 'routing_key', 'arguments']);
    const destinationType = r.str('destination_type');
    if (destinationType !== 'queue' && destinationType !== 'exchange') throw badRequest(`${what}: 'destination_type' must be queue or exchange`);
    out.bindings.push({
      source: r.name('source', 'exchange'),
      vhost: inVhost(r, what),
      destination: r.name('destination', destinationType),
      destinationType,
      routingKey: r.str('routing_key', ''),
      arguments: jsonToTable(r.object('arguments')),
    });
  });
  return out;
}

function pushLimits(out: ImportDocument, user: string, limits: Record<string, unknown>): void {
  if (Object.keys(limits).length > 0) out.runtime.user_limits.push({ user, limits });
}

// ---- import: apply --------------------------------------------------------------------------------------------


function sameTable(a: FieldTable, b: FieldTable): boolean {
  return JSON.stringify(tableToJson(a)) === JSON.stringify(tableToJson(b));
}

/**
 * Apply a checked document to `broker`, synchronously, through its administration methods and channel operations
 * opened as `user`. Throws (a BrokerError or 400) at the first thing the core refuses. `log` receives what is kept or
 * skipped by name.
 */
function applyTo(broker: Broker, doc: ImportDocument, user: User, log: (msg: string) => void): void {
  for (const v of doc.vhosts) {
    broker.addVhost(v.name);
    const vh = broker.vhost(v.name)!;
    let changed = false;
    if (v.description !== undefined && vh.description !== v.description) (vh.description = v.description), (changed = true);
    if (v.tags !== undefined) (vh.tags = v.tags), (changed = true);
    if (v.defaultQueueType !== undefined && vh.defaultQueueType !== v.defaultQueueType) (vh.defaultQueueType = v.defaultQueueType), (changed = true);
    if (changed) broker.vhostChanged();
  }
  for (const u of doc.users) broker.addUserWithHash(u.name, u.passwordHash, u.tags, u.algorithm);
  for (const p of doc.permissions) {
    if (broker.users.get(p.user) === undefined) throw badRequest(`permissions of user '${p.user}' on vhost '${p.vhost}': no such user`);
    if (broker.vhost(p.vhost) === undefined) throw badRequest(`permissions of user '${p.user}' on vhost '${p.vhost}': no such vhost`);
    broker.setPermissions(p.user, p.vhost, { configure: p.configure, write: p.write, read: p.read });
  }
  // RabbitMQ's order: runtime settings before the entities, so that queues and exchanges are declared under their
  // policies. Vhost limits wait until after the entities: an import's own queues never count against its own
  // max-queues (RabbitMQ checks queue limits on client declarations, not on imports).
  const isVhostLimits = (p: Record<string, unknown>): boolean => p['component'] === 'vhost-limits';
  const runtime = (defs: RuntimeDefinitions): void => {
    try {
      broker.importRuntimeDefinitions(defs);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
  };
  runtime({ ...doc.runtime, parameters: doc.runtime.parameters.filter((p) => !isVhostLimits(p)) });

  // One administrative channel per vhost, closed at the end.
  const connections = new Map<string, ReturnType<Broker['openAdministrativeConnection']>>();
  const channel = (vhost: string) => {
    let c = connections.get(vhost);
    if (c === undefined) {
      if (broker.vhost(vhost) === undefined) throw badRequest(`vhost '${vhost}' does not exist and is not in the definitions`);
      c = broker.openAdministrativeConnection(internalConnectionInfo('management-import'), user, vhost, NO_ALARMS);
      connections.set(vhost, c);
    }
    return c.openChannel(new HttpChannelHost());
  };
  try {
    for (const q of doc.queues) {
      const where = `queue '${q.name}' in vhost '${q.vhost}'`;
      if (q.name.startsWith('amq.')) {
        log(`${where} skipped: names starting with 'amq.' are reserved (RabbitMQ skips them too)`);
        continue;
      }
      const existing = broker.vhost(q.vhost)?.queues.get(q.name);
      if (existing !== undefined) {
        if (existing.durable !== q.durable || existing.autoDelete !== q.autoDelete || !sameTable(existing.arguments, q.arguments)) {
          log(`${where} already exists with other properties; the existing queue is kept (as RabbitMQ does)`);
        }
        continue;
      }
      try {
        channel(q.vhost).declareQueue(q.name, { durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments });
      } catch (err) {
        throw badRequest(`${where}: ${(err as Error).message}`);
      }
    }
    for (const x of doc.exchanges) {
      const where = `exchange '${x.name}' in vhost '${x.vhost}'`;
      if (x.name === '' || x.name.startsWith('amq.')) {
        log(`${where} skipped: the default exchange and names starting with 'amq.' are reserved (RabbitMQ skips them too)`);
        continue;
      }
      const existing = broker.vhost(x.vhost)?.exchanges.get(x.name);
      if (existing !== undefined) {
        if (existing.type !== x.type || existing.durable !== x.durable || existing.autoDelete !== x.autoDelete || existing.internal !== x.internal || !sameTable(existing.arguments, x.arguments)) {
          log(`${where} already exists with other properties; the existing exchange is kept (as RabbitMQ does)`);
        }
        continue;
      }
      try {
        channel(x.vhost).declareExchange(x.name, x.type, { durable: x.durable, autoDelete: x.autoDelete, internal: x.internal, arguments: x.arguments });
      } catch (err) {
        throw badRequest(`${where}: ${(err as Error).message}`);
      }
    }
    for (const b of doc.bindings) {
      const args = Object.keys(b.arguments).length === 0 ? undefined : b.arguments;
      try {
        const ch = channel(b.vhost);
        if (b.destinationType === 'queue') ch.bindQueue(b.destination, b.source, b.routingKey, args);
        else ch.bindExchange(b.destination, b.source, b.routingKey, args);
      } catch (err) {
        throw badRequest(`binding of ${b.destinationType} '${b.destination}' to exchange '${b.source}' in vhost '${b.vhost}': ${(err as Error).message}`);
      }
    }
  } finally {
    for (const c of connections.values()) c.close();
  }
  runtime({ parameters: doc.runtime.parameters.filter(isVhostLimits) });
}

/**
 * Import a checked document: first into a scratch broker holding a copy of the current definitions (anything the
 * core refuses is a 400 there, and the real broker is untouched), then into the real broker in the same turn, and
 * wait until the definitions are on disk.
 */
export async function importDefinitions(ctx: ManagementContext, doc: ImportDocument, user: User): Promise<void> {
  const broker = ctx.broker;
  const scratch = new Broker({
    logger: silentLogger,
    definitions: new MemoryDefinitionsStore(captureDefinitions(broker, { transient: true })),
  });
  try {
    applyTo(scratch, doc, user, () => {});
  } finally {
    await scratch.close();
  }
  const logger: Logger = ctx.logger;
  for (const s of doc.skipped) logger.warn({ skipped: s }, `definitions import: skipped ${s}`);
  const before = broker.definitionsVersion;
  applyTo(broker, doc, user, (msg) => logger.warn({}, `definitions import: ${msg}`));
  logger.info(
    { user: user.name, users: doc.users.length, vhosts: doc.vhosts.length, queues: doc.queues.length, exchanges: doc.exchanges.length, bindings: doc.bindings.length },
    'definitions imported',
  );
  if (broker.definitionsVersion !== before) await broker.flushDefinitions();
}
