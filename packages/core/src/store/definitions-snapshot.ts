/**
 * Taking the durable definitions out of a running broker, and putting them back at start (DESIGN.md §5).
 *
 * What survives a restart follows RabbitMQ: vhosts, users (with their password hashes), permissions, durable
 * exchanges (auto-delete ones too), durable queues that are not exclusive (auto-delete ones too: RabbitMQ recovers
 * them, and they go away once a consumer came and went), and bindings whose source and destination are both durable
 * (rabbit_binding keeps only those in its durable route table). Transient and exclusive queues, transient exchanges
 * and every binding touching them are gone after a restart. The predeclared `amq.*` exchanges are re-created by every
 * vhost and are not stored; bindings from or to them are.
 */
import type { UserStore } from '../auth/users.js';
import type { Exchange } from '../exchange/exchange.js';
import type { VHost } from '../vhost.js';
import { isSupportedHashingAlgorithm } from '../auth/password.js';
import type { Definitions } from './definitions.js';

/** What the snapshot and restore need of the broker. */
export interface DefinitionsHost {
  readonly users: UserStore;
  vhostNames(): string[];
  vhost(name: string): VHost | undefined;
  addVhost(name: string): void;
}

/** True for the exchanges every vhost predeclares (they are not stored). */
function isPredeclared(x: Exchange): boolean {
  return x.name.startsWith('amq.');
}

/** Options of {@link captureDefinitions}. */
export interface CaptureOptions {
  /**
   * Also take the transient exchanges and the transient (not exclusive) queues, and the bindings between them, as
   * RabbitMQ's definitions export does (GET /api/definitions lists every queue no connection owns); the definitions
   * store never asks for them, since they do not survive a restart.
   */
  transient?: boolean;
}

/** The durable definitions of a broker now (with `transient`, what RabbitMQ's definitions export lists). */
export function captureDefinitions(host: DefinitionsHost, options: CaptureOptions = {}): Definitions {
  const transient = options.transient === true;
  const defs: Definitions = { vhosts: [], users: [], permissions: [], exchanges: [], queues: [], bindings: [] };
  const vhostNames = host.vhostNames();
  for (const name of vhostNames) defs.vhosts.push({ name });
  for (const name of host.users.names()) {
    const record = host.users.get(name)!;
    defs.users.push({
      name,
      password_hash: record.passwordHash,
      hashing_algorithm: record.hashingAlgorithm,
      tags: [...record.user.tags],
    });
    for (const [vhost, p] of record.permissions) {
      defs.permissions.push({ user: name, vhost, ...p.spec });
    }
  }
  for (const vname of vhostNames) {
    const v = host.vhost(vname)!;
    for (const x of v.exchanges.values()) {
      if (!x.durable && !transient) continue;
      if (!isPredeclared(x)) {
        defs.exchanges.push({
          name: x.name,
          vhost: vname,
          type: x.type,
          durable: x.durable,
          auto_delete: x.autoDelete,
          internal: x.internal,
          arguments: x.arguments,
        });
      }
      for (const b of x.bindings.values()) {
        const d = b.destination;
        if ((!d.durable && !transient) || (d.kind === 'queue' && d.exclusiveOwner !== undefined)) continue;
        defs.bindings.push({
          source: x.name,
          vhost: vname,
          destination: d.name,
          destination_type: d.kind,
          routing_key: b.routingKey,
          arguments: b.arguments ?? {},
        });
      }
    }
    for (const q of v.queues.values()) {
      if ((!q.durable && !transient) || q.exclusiveOwner !== undefined) continue;
      defs.queues.push({ name: q.name, vhost: vname, durable: q.durable, auto_delete: q.autoDelete, arguments: q.arguments });
    }
  }
  return defs;
}

/**
 * Re-create stored definitions in a broker that has no entities yet: vhosts, users, permissions, then exchanges,
 * queues (each queue opens its durable message store, which hands back its recovered messages) and bindings.
 * An entity that no longer makes sense (a binding to a missing queue) is skipped and reported through `warn`.
 */
export function restoreDefinitions(host: DefinitionsHost, defs: Definitions, warn: (msg: string) => void): void {
  for (const v of defs.vhosts) host.addVhost(v.name);
  for (const u of defs.users) {
    if (!isSupportedHashingAlgorithm(u.hashing_algorithm)) {
      warn(`user '${u.name}' has a password hash in format '${u.hashing_algorithm}'; it cannot log in with a password`);
    }
    host.users.addHashed(u.name, u.password_hash, u.tags, u.hashing_algorithm);
  }
  for (const p of defs.permissions) {
    if (host.vhost(p.vhost) === undefined || host.users.get(p.user) === undefined) {
      warn(`permissions of user '${p.user}' on vhost '${p.vhost}' skipped: no such user or vhost`);
      continue;
    }
    host.users.setPermissions(p.user, p.vhost, { configure: p.configure, write: p.write, read: p.read });
  }
  for (const x of defs.exchanges) {
    const v = host.vhost(x.vhost);
    if (v === undefined) {
      warn(`exchange '${x.name}' skipped: no vhost '${x.vhost}'`);
      continue;
    }
    v.declareExchange(x.name, x.type, {
      durable: x.durable,
      autoDelete: x.auto_delete,
      internal: x.internal,
      arguments: x.arguments,
    });
  }
  for (const q of defs.queues) {
    const v = host.vhost(q.vhost);
    if (v === undefined) {
      warn(`queue '${q.name}' skipped: no vhost '${q.vhost}'`);
      continue;
    }
    v.declareQueue(q.name, { durable: q.durable, autoDelete: q.auto_delete, arguments: q.arguments }, '');
  }
  for (const b of defs.bindings) {
    const v = host.vhost(b.vhost);
    const source = v?.exchange(b.source);
    const destination = b.destination_type === 'queue' ? v?.queues.get(b.destination) : v?.exchanges.get(b.destination);
    if (v === undefined || source === undefined || destination === undefined) {
      warn(`binding '${b.source}' → ${b.destination_type} '${b.destination}' in vhost '${b.vhost}' skipped: an end is missing`);
      continue;
    }
    const args = Object.keys(b.arguments).length === 0 ? undefined : b.arguments;
    v.bind(source, destination, b.routing_key, args);
  }
}
