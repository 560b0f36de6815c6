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
import type { UserStore } from './auth/users.js';
import { policyToJson, validatePolicy, type Policy } from './policy/policy.js';
import { RuntimeParameters, type UserLimits } from './runtime-parameters.js';
import type { Exchange } from './exchange/exchange.js';
import type { VHost } from './vhost.js';
import { isSupportedHashingAlgorithm } from './auth/password.js';
import type { Definitions, PolicyDefinitionRecord, VhostDefinition } from './store/definitions.js';

/** What the snapshot and restore need of the broker. */
export interface DefinitionsHost {
  readonly users: UserStore;
  readonly runtime: RuntimeParameters;
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
  const defs: Definitions = {
    vhosts: [],
    users: [],
    permissions: [],
    exchanges: [],
    queues: [],
    bindings: [],
    policies: [],
    parameters: [],
    global_parameters: [],
    topic_permissions: [],
  };
  const vhostNames = host.vhostNames();
  for (const name of vhostNames) {
    const v = host.vhost(name)!;
    const record: VhostDefinition = { name };
    if (v.description !== '' || v.tags.length > 0 || v.defaultQueueType !== undefined) {
      record.metadata = {
        description: v.description,
        tags: [...v.tags],
        ...(v.defaultQueueType !== undefined ? { default_queue_type: v.defaultQueueType } : {}),
      };
    }
    defs.vhosts.push(record);
    // RabbitMQ's export: policies under `policies`; operator policies and vhost limits as runtime parameters.
    for (const p of v.policies.values()) defs.policies!.push(policyToJson(p) as unknown as PolicyDefinitionRecord);
    for (const p of v.operatorPolicies.values()) {
      const { vhost: _v, name: pname, ...value } = policyToJson(p);
      defs.parameters!.push({ value, vhost: name, component: 'operator_policy', name: pname as string });
    }
    if (Object.keys(v.limits).length > 0) defs.parameters!.push({ value: { ...v.limits }, vhost: name, component: 'vhost-limits', name: 'limits' });
  }
  for (const p of host.runtime.parameters.values()) defs.parameters!.push({ value: p.value, vhost: p.vhost, component: p.component, name: p.name });
  for (const [name, value] of host.runtime.global) defs.global_parameters!.push({ name, value });
  for (const [user, perVhost] of host.runtime.topicPermissions) {
    for (const [vhost, perExchange] of perVhost) {
      for (const [exchange, tp] of perExchange) defs.topic_permissions!.push({ user, vhost, exchange, write: tp.write, read: tp.read });
    }
  }
  for (const name of host.users.names()) {
    const record = host.users.get(name)!;
    defs.users.push({
      name,
      password_hash: record.passwordHash,
      hashing_algorithm: record.hashingAlgorithm,
      tags: [...record.user.tags],
      limits: { ...host.runtime.userLimits.get(name) },
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
  for (const v of defs.vhosts) {
    host.addVhost(v.name);
    const vh = host.vhost(v.name)!;
    if (v.metadata !== undefined) {
      vh.description = v.metadata.description;
      vh.tags = [...v.metadata.tags];
      vh.defaultQueueType = v.metadata.default_queue_type;
    }
  }
  for (const u of defs.users) {
    if (!isSupportedHashingAlgorithm(u.hashing_algorithm)) {
      warn(`user '${u.name}' has a password hash in format '${u.hashing_algorithm}'; it cannot log in with a password`);
    }
    host.users.addHashed(u.name, u.password_hash, u.tags, u.hashing_algorithm);
    if (u.limits !== undefined && Object.keys(u.limits).length > 0) host.runtime.userLimits.set(u.name, { ...u.limits } as UserLimits);
  }
  for (const p of defs.permissions) {
    if (host.vhost(p.vhost) === undefined || host.users.get(p.user) === undefined) {
      warn(`permissions of user '${p.user}' on vhost '${p.vhost}' skipped: no such user or vhost`);
      continue;
    }
    host.users.setPermissions(p.user, p.vhost, { configure: p.configure, write: p.write, read: p.read });
  }
  for (const tp of defs.topic_permissions ?? []) {
    if (host.vhost(tp.vhost) === undefined || host.users.get(tp.user) === undefined) {
      warn(`topic permissions of user '${tp.user}' on vhost '${tp.vhost}' skipped: no such user or vhost`);
      continue;
    }
    let perVhost = host.runtime.topicPermissions.get(tp.user);
    if (perVhost === undefined) host.runtime.topicPermissions.set(tp.user, (perVhost = new Map()));
    let perExchange = perVhost.get(tp.vhost);
    if (perExchange === undefined) perVhost.set(tp.vhost, (perExchange = new Map()));
    perExchange.set(tp.exchange, { write: tp.write, read: tp.read });
  }
  for (const g of defs.global_parameters ?? []) host.runtime.global.set(g.name, g.value);
  // Policies before the queues and exchanges, so each is declared with its effective settings; vhost limits after
  // them, so a max-queues lower than the stored queue count does not refuse the restore.
  const limits: [string, Record<string, unknown>][] = [];
  const restorePolicy = (vhost: string, name: string, input: Record<string, unknown>, operator: boolean): void => {
    const v = host.vhost(vhost);
    if (v === undefined) return warn(`policy '${name}' skipped: no vhost '${vhost}'`);
    let p: Policy;
    try {
      p = validatePolicy(vhost, name, input, operator);
    } catch (err) {
      return warn(`policy '${name}' in vhost '${vhost}' skipped: ${(err as Error).message}`);
    }
    (operator ? v.operatorPolicies : v.policies).set(name, p);
  };
  for (const p of defs.policies ?? []) restorePolicy(p.vhost, p.name, p as unknown as Record<string, unknown>, false);
  for (const p of defs.parameters ?? []) {
    const value = typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value) ? (p.value as Record<string, unknown>) : {};
    if (p.component === 'operator_policy') restorePolicy(p.vhost, p.name, value, true);
    else if (p.component === 'policy') restorePolicy(p.vhost, p.name, value, false);
    else if (p.component === 'vhost-limits') limits.push([p.vhost, value]);
    else if (host.vhost(p.vhost) === undefined) warn(`parameter '${p.component}/${p.name}' skipped: no vhost '${p.vhost}'`);
    else host.runtime.parameters.set(RuntimeParameters.key(p.component, p.vhost, p.name), { ...p });
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
  for (const [vhost, value] of limits) {
    const v = host.vhost(vhost);
    if (v === undefined) continue;
    for (const key of ['max-connections', 'max-queues'] as const) {
      const n = value[key];
      if (typeof n === 'number') v.limits[key] = n;
    }
  }
}
