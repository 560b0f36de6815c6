import { isLoopbackAddress, Permissions, UserStore, type PermissionCheck, type PermissionSpec } from './auth/users.js';
import { ExternalPermissions, type AuthCache } from './auth/backend.js';
import type { BrokerApi, ConnectionHost, ConnectionInfo, CoreConnection, Logger, User } from './contract.js';
import { CoreConnectionImpl, type ConnectionOwner } from './connection.js';
import { BrokerError } from './errors.js';
import { MemoryMessageStore } from './store/memory-store.js';
import type { MessageStore } from './store/store.js';
import type { DefinitionsStore } from './store/definitions.js';
import { captureDefinitions, restoreDefinitions } from './definitions-snapshot.js';
import { VHost, type VhostLimits } from './vhost.js';
import { validatePolicy, type PolicyInput } from './policy/policy.js';
import { RuntimeParameters, type TopicPermission, type UserLimits } from './runtime-parameters.js';
import { planRuntimeImport } from './runtime-import.js';
import { BrokerStats } from './stats/counters.js';
import { silentLogger } from './util/logger.js';

/** A user to create at startup. */
export interface UserDefinition {
  name: string;
  password: string;
  tags?: string[];
}

/** Options of {@link Broker}. */
export interface BrokerOptions {
  logger?: Logger;
  /**
   * Bootstrap users, each given full permissions on every startup vhost (RabbitMQ's default_user and
   * default_permissions). Default: guest/guest tagged administrator. Add more with {@link Broker.addUser}.
   */
  users?: UserDefinition[];
  /** Users that may only connect from loopback addresses. Default ['guest'] (RabbitMQ's loopback_users). */
  loopbackUsers?: string[];
  /** Default ['/']. */
  vhosts?: string[];
  /** Message storage; default in-memory. */
  store?: MessageStore;
  /**
   * Durable definitions (vhosts, users, permissions, durable exchanges, queues and bindings). When it holds
   * definitions, the broker restores them instead of creating `users` and `vhosts` (RabbitMQ creates its default user
   * and vhost only on a fresh node). Default: none (nothing survives the process).
   */
  definitions?: DefinitionsStore;
  /**
   * Authentication backends in the order they are tried (RabbitMQ's auth_backends): 'internal' is the user database;
   * an {@link AuthCache} wraps an external backend. The first that accepts the credentials authenticates the user and
   * answers every later check for it (vhost, resources, topics). Default ['internal'].
   */
  authBackends?: readonly ('internal' | AuthCache)[];
}

/** The runtime settings of a definitions document, as RabbitMQ names them (see {@link Broker.importRuntimeDefinitions}). */
export interface RuntimeDefinitions {
  topic_permissions?: Record<string, unknown>[];
  parameters?: Record<string, unknown>[];
  global_parameters?: Record<string, unknown>[];
  policies?: Record<string, unknown>[];
  /** `{user, limits}` per user whose `limits` object is not empty. */
  user_limits?: Record<string, unknown>[];
}

/** The lists of {@link RuntimeDefinitions}, in the order they are applied. */
export const RUNTIME_DEFINITION_KEYS = ['user_limits', 'topic_permissions', 'parameters', 'global_parameters', 'policies'] as const;

/** A resource alarm (RabbitMQ's memory and disk alarms). */
export type AlarmResource = 'memory' | 'disk';

const FULL: PermissionSpec = { configure: '.*', write: '.*', read: '.*' };

export { silentLogger };

/** The routing core of one broker process: vhosts, users and permissions, connections, alarms. */
export class Broker implements BrokerApi, ConnectionOwner {
  readonly logger: Logger;
  readonly store: MessageStore;
  readonly users = new UserStore();
  /** Runtime parameters, global parameters, user limits, topic permissions (policies live on each vhost). */
  readonly runtime = new RuntimeParameters();
  /** Churn, per-protocol and retired-vhost counters (management and Prometheus read them). */
  readonly stats = new BrokerStats();
  readonly #vhosts = new Map<string, VHost>();
  readonly #loopbackUsers: Set<string>;
  readonly #connections = new Set<CoreConnectionImpl>();
  readonly #alarms = new Set<AlarmResource>();
  readonly #definitions: DefinitionsStore | undefined;
  /** False while definitions are being restored (nothing to write back). */
  #recording = false;
  #definitionsVersion = 0;
  readonly #authBackends: readonly ('internal' | AuthCache)[];
  /** Users an external backend authenticated, and that backend. */
  readonly #externalUsers = new WeakMap<User, AuthCache>();
  readonly #snapshotBound = () => captureDefinitions(this);
  readonly #definitionsChangedBound = (): void => this.#definitionsChanged();

  constructor(options: BrokerOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.store = options.store ?? new MemoryMessageStore();
    this.#loopbackUsers = new Set(options.loopbackUsers ?? ['guest']);
    this.#definitions = options.definitions;
    this.#authBackends = options.authBackends ?? ['internal'];
    // Throws DefinitionsError for an unreadable file: refusing to start beats silently losing definitions.
    const stored = this.#definitions?.load();
    if (stored !== undefined) {
      restoreDefinitions(this, stored, (msg) => this.logger.warn({}, `definitions: ${msg}`));
      this.logger.info(
        { vhosts: stored.vhosts.length, users: stored.users.length, exchanges: stored.exchanges.length,
          queues: stored.queues.length, bindings: stored.bindings.length },
        'definitions restored',
      );
    } else {
      for (const v of options.vhosts ?? ['/']) this.addVhost(v);
      const users = options.users ?? [{ name: 'guest', password: 'guest', tags: ['administrator'] }];
      for (const u of users) {
        this.users.add(u.name, u.password, u.tags ?? []);
        // Bootstrap users are RabbitMQ's default_user: full permissions (default_permissions) on the startup vhosts.
        for (const v of this.#vhosts.keys()) this.users.setPermissions(u.name, v, FULL);
      }
    }
    // Every durable queue of the earlier run is open now: what none of them refers to is garbage.
    if (this.#definitions !== undefined) this.store.recoveryComplete?.();
    this.#recording = true;
    // A fresh node writes its bootstrap definitions at once, so a later start restores rather than re-bootstraps.
    if (stored === undefined) this.#definitionsChanged();
  }

  /** Resolves once every definition change so far is on disk (immediately without a definitions store). */
  flushDefinitions(): Promise<void> {
    return this.#definitions?.flush() ?? Promise.resolve();
  }

  /** Durable definitions changed: have the definitions store write them (coalesced). */
  #definitionsChanged(): void {
    if (this.#recording && this.#definitions !== undefined) {
      this.#definitionsVersion++;
      this.#definitions.changed(this.#snapshotBound);
    }
  }

  /**
   * Counts durable definition changes that the definitions store must write (stays 0 without a store). Adapters
   * compare it around a declare to know whether its -ok must wait for {@link Broker.flushDefinitions}.
   */
  get definitionsVersion(): number {
    return this.#definitionsVersion;
  }

  /** True while a resource alarm blocks publishers. */
  get blocked(): boolean {
    return this.#alarms.size > 0;
  }

  // ---- administration ----------------------------------------------------------------------------------------

  /** Create a vhost (idempotent) with its predeclared exchanges. */
  addVhost(name: string): void {
    if (this.#vhosts.has(name)) return;
    this.#vhosts.set(name, new VHost(name, this.store, this.logger, this.#definitionsChangedBound, this.stats));
    this.#definitionsChanged();
  }

  /** A vhost's metadata (description, tags, default queue type) changed: write the definitions. */
  vhostChanged(): void {
    this.#definitionsChanged();
  }

  /** Delete a vhost: closes its connections and drops its entities. */
  deleteVhost(name: string): boolean {
    const v = this.#vhosts.get(name);
    if (v === undefined) return false;
    for (const c of [...this.#connections]) if (c.vhost === name) c.close();
    // Its queues are deleted for good: their stores close and remove their files (not just stop timers).
    v.destroy();
    this.stats.retired.add(v.stats);
    this.#vhosts.delete(name);
    this.users.forgetVhost(name);
    this.runtime.forgetVhost(name);
    this.#definitionsChanged();
    return true;
  }

  /** A vhost by name (for management and tests). */
  vhost(name: string): VHost | undefined {
    return this.#vhosts.get(name);
  }

  /** Names of all vhosts. */
  vhostNames(): string[] {
    return [...this.#vhosts.keys()];
  }

  /** Create or replace a user. */
  addUser(name: string, password: string, tags: string[] = []): void {
    this.users.add(name, password, tags);
    this.#definitionsChanged();
  }

  /**
   * Create or replace a user from a password hash ('' = no password matches) in one of RabbitMQ's salted formats
   * (default `rabbit_password_hashing_sha256`; see auth/password.ts).
   */
  addUserWithHash(name: string, passwordHash: string, tags: string[] = [], hashingAlgorithm?: string): void {
    this.users.addHashed(name, passwordHash, tags, hashingAlgorithm);
    this.#definitionsChanged();
  }

  deleteUser(name: string): boolean {
    const deleted = this.users.delete(name);
    if (deleted) this.runtime.forgetUser(name);
    if (deleted) this.#definitionsChanged();
    return deleted;
  }

  /** Set a user's permissions on a vhost (regular expressions, RabbitMQ's model; '.*' allows all, '' nothing). */
  setPermissions(user: string, vhost: string, permissions: PermissionSpec): void {
    if (!this.#vhosts.has(vhost)) throw new BrokerError('NOT_FOUND', `no vhost '${vhost}'`);
    this.users.setPermissions(user, vhost, permissions);
    this.#definitionsChanged();
  }

  clearPermissions(user: string, vhost: string): void {
    this.users.clearPermissions(user, vhost);
    this.#definitionsChanged();
  }

  // ---- policies, limits, parameters (RabbitMQ's runtime parameters) -------------------------------------------

  #vhostOrThrow(vhost: string): VHost {
    const v = this.#vhosts.get(vhost);
    if (v === undefined) throw new BrokerError('NOT_FOUND', `no vhost '${vhost}'`);
    return v;
  }

  /**
   * Create or replace a policy (or, with `operator`, an operator policy) and re-apply policies to every queue and
   * exchange of the vhost. Throws PolicyValidationError with RabbitMQ's text. Returns true when it was created.
   */
  setPolicy(vhost: string, name: string, input: PolicyInput, operator = false): boolean {
    const v = this.#vhostOrThrow(vhost);
    const policy = validatePolicy(vhost, name, input, operator);
    const map = operator ? v.operatorPolicies : v.policies;
    const created = !map.has(name);
    map.set(name, policy);
    v.applyPolicies();
    this.#definitionsChanged();
    return created;
  }

  /** Delete a policy (or operator policy); its objects fall back to the next match. False when there was none. */
  clearPolicy(vhost: string, name: string, operator = false): boolean {
    const v = this.#vhosts.get(vhost);
    const map = operator ? v?.operatorPolicies : v?.policies;
    if (v === undefined || map === undefined || !map.delete(name)) return false;
    v.applyPolicies();
    this.#definitionsChanged();
    return true;
  }

  /** Replace a vhost's limits (RabbitMQ's `vhost-limits` parameter; an empty object clears them). */
  setVhostLimits(vhost: string, limits: VhostLimits): void {
    this.#vhostOrThrow(vhost).limits = { ...limits };
    this.#definitionsChanged();
  }

  /** Replace a user's limits (an empty object clears them). */
  setUserLimits(user: string, limits: UserLimits): void {
    if (this.users.get(user) === undefined) throw new BrokerError('NOT_FOUND', `no user '${user}'`);
    if (Object.keys(limits).length === 0) this.runtime.userLimits.delete(user);
    else this.runtime.userLimits.set(user, { ...limits });
    this.#definitionsChanged();
  }

  /** Set a vhost-scoped runtime parameter; true when it was created. */
  setParameter(component: string, vhost: string, name: string, value: unknown): boolean {
    this.#vhostOrThrow(vhost);
    const key = RuntimeParameters.key(component, vhost, name);
    const created = !this.runtime.parameters.has(key);
    this.runtime.parameters.set(key, { component, vhost, name, value });
    this.#definitionsChanged();
    return created;
  }

  clearParameter(component: string, vhost: string, name: string): boolean {
    const deleted = this.runtime.parameters.delete(RuntimeParameters.key(component, vhost, name));
    if (deleted) this.#definitionsChanged();
    return deleted;
  }

  /** Set a global parameter (cluster_name is one); true when it was created. */
  setGlobalParameter(name: string, value: unknown): boolean {
    const created = !this.runtime.global.has(name);
    this.runtime.global.set(name, value);
    this.#definitionsChanged();
    return created;
  }

  clearGlobalParameter(name: string): boolean {
    const deleted = this.runtime.global.delete(name);
    if (deleted) this.#definitionsChanged();
    return deleted;
  }

  /** Set a user's topic permission on one exchange of a vhost; true when it was created. */
  setTopicPermission(user: string, vhost: string, exchange: string, permission: TopicPermission): boolean {
    this.#vhostOrThrow(vhost);
    if (this.users.get(user) === undefined) throw new BrokerError('NOT_FOUND', `no user '${user}'`);
    let perVhost = this.runtime.topicPermissions.get(user);
    if (perVhost === undefined) this.runtime.topicPermissions.set(user, (perVhost = new Map()));
    let perExchange = perVhost.get(vhost);
    if (perExchange === undefined) perVhost.set(vhost, (perExchange = new Map()));
    const created = !perExchange.has(exchange);
    perExchange.set(exchange, { write: permission.write, read: permission.read });
    this.#definitionsChanged();
    return created;
  }

  /** Clear a user's topic permissions on a vhost (one exchange, or all of them); false when there were none. */
  clearTopicPermissions(user: string, vhost: string, exchange?: string): boolean {
    const perVhost = this.runtime.topicPermissions.get(user);
    const perExchange = perVhost?.get(vhost);
    if (perVhost === undefined || perExchange === undefined) return false;
    const deleted = exchange === undefined ? perExchange.size > 0 : perExchange.delete(exchange);
    if (exchange === undefined || perExchange.size === 0) perVhost.delete(vhost);
    if (perVhost.size === 0) this.runtime.topicPermissions.delete(user);
    if (deleted) this.#definitionsChanged();
    return deleted;
  }

  /** The client connections now open (the broker's own internal pseudo-connections are not among them). */
  connections(): CoreConnectionImpl[] {
    const out: CoreConnectionImpl[] = [];
    for (const c of this.#connections) if (c.info.internal !== true) out.push(c);
    return out;
  }

  /**
   * Close a client connection on an operator's request (management DELETE /api/connections/{name}): the adapter
   * tells the client `reason` in its protocol and closes. False when its adapter cannot close connections this way.
   */
  closeConnection(connection: CoreConnectionImpl, reason: string, by: string): boolean {
    const close = connection.host.close;
    if (close === undefined || !this.#connections.has(connection)) return false;
    this.logger.info(
      { connection: connection.info.id, user: connection.user.name, vhost: connection.vhost, by, reason },
      'closing connection on operator request',
    );
    close.call(connection.host, reason);
    return true;
  }

  /** The resource alarms in force now. */
  get alarms(): readonly AlarmResource[] {
    return [...this.#alarms];
  }

  /** Raise or clear a resource alarm; connections are told on the first alarm and when the last one clears. */
  setAlarm(resource: AlarmResource, on: boolean): void {
    const was = this.blocked;
    if (on) this.#alarms.add(resource);
    else this.#alarms.delete(resource);
    if (!was && this.blocked) {
      const reason = this.#blockedReason();
      for (const c of this.#connections) c.host.blocked(reason);
    } else if (was && !this.blocked) {
      for (const c of this.#connections) c.host.unblocked();
    }
  }

  /** Close every connection and stop every timer. */
  /**
   * Close every connection and write the final state. The work is done synchronously; the promise settles once no
   * write started earlier still touches the data directory (so a test may remove it then).
   */
  close(): Promise<void> {
    for (const c of [...this.#connections]) c.close();
    for (const v of this.#vhosts.values()) v.close();
    // Connections are gone (exclusive queues deleted): write the final definitions synchronously.
    const definitions = this.#definitions?.close();
    this.store.close();
    return definitions ?? Promise.resolve();
  }

  /** RabbitMQ's connection.blocked reason: "low on memory", "low on disk" or "low on memory & disk". */
  #blockedReason(): string {
    return `low on ${[...this.#alarms].sort((a, b) => (a === 'memory' ? -1 : b === 'memory' ? 1 : 0)).join(' & ')}`;
  }

  // ---- BrokerApi ---------------------------------------------------------------------------------------------

  authenticate(
    username: string, password: string, remoteAddress: string, protocol?: string, extra?: Readonly<Record<string, string>>,
  ): User {
    const counters = protocol === undefined ? undefined : this.stats.protocol(protocol);
    let user: User | undefined;
    for (const backend of this.#authBackends) {
      if (backend === 'internal') {
        user = this.users.verify(username, password);
      } else {
        // May throw AuthorizationPending: the caller repeats the call once the backend answered.
        const tags = backend.login(extra === undefined ? { username, password } : { username, password, extra });
        if (tags !== undefined) {
          user = Object.freeze({ name: username, tags: Object.freeze(tags) });
          this.#externalUsers.set(user, backend);
        }
      }
      if (user !== undefined) break;
    }
    if (user === undefined || (this.#loopbackUsers.has(username) && !isLoopbackAddress(remoteAddress))) {
      if (counters !== undefined) counters.authFailed++;
      throw new BrokerError(
        'ACCESS_REFUSED',
        user === undefined ? `authentication failed for user '${username}'` : `user '${username}' can only connect via localhost`,
      );
    }
    if (counters !== undefined) counters.authSucceeded++;
    return user;
  }

  authenticateExternal(username: string, remoteAddress: string, protocol?: string): User {
    const counters = protocol === undefined ? undefined : this.stats.protocol(protocol);
    const user = this.users.get(username)?.user;
    if (user === undefined || (this.#loopbackUsers.has(username) && !isLoopbackAddress(remoteAddress))) {
      if (counters !== undefined) counters.authFailed++;
      throw new BrokerError(
        'ACCESS_REFUSED',
        user === undefined ? `user '${username}' - unknown` : `user '${username}' can only connect via localhost`,
      );
    }
    if (counters !== undefined) counters.authSucceeded++;
    return user;
  }

  openConnection(info: ConnectionInfo, user: User, vhost: string, host: ConnectionHost): CoreConnection {
    const v = this.#vhosts.get(vhost);
    // RabbitMQ's two texts (rabbit_access_control:check_vhost_access).
    if (v === undefined) throw new BrokerError('NOT_ALLOWED', `vhost ${vhost} not found`);
    const external = this.#externalUsers.get(user);
    if (external !== undefined ? !external.vhost(user, vhost, info.remoteAddress) : this.permissionsOf(user.name, vhost) === undefined) {
      throw new BrokerError('NOT_ALLOWED', `access to vhost '${vhost}' refused for user '${user.name}'`);
    }
    if (info.internal !== true) this.#checkConnectionLimits(user.name, vhost, v);
    const c = new CoreConnectionImpl(info, user, v, host, this);
    this.#connections.add(c);
    if (info.internal !== true) this.stats.connectionCreated++;
    if (this.blocked) host.blocked(this.#blockedReason());
    return c;
  }

  /** The vhost's then the user's max-connections, in rabbit_reader's order and words. */
  #checkConnectionLimits(user: string, vhost: string, v: VHost): void {
    const vhostLimit = v.limits['max-connections'];
    if (vhostLimit !== undefined && vhostLimit >= 0) {
      let n = 0;
      for (const c of this.#connections) if (c.info.internal !== true && c.vhost === vhost) n++;
      if (n >= vhostLimit) {
        throw new BrokerError('NOT_ALLOWED', `access to vhost '${vhost}' refused for user '${user}': connection limit (${vhostLimit}) is reached`, { limit: true });
      }
    }
    const userLimit = this.runtime.userLimits.get(user)?.['max-connections'];
    if (userLimit !== undefined && userLimit >= 0) {
      let n = 0;
      for (const c of this.#connections) if (c.info.internal !== true && c.user.name === user) n++;
      if (n >= userLimit) {
        throw new BrokerError('NOT_ALLOWED', `connection refused for user '${user}': user connection limit (${userLimit}) is reached`, { limit: true });
      }
    }
  }

  /**
   * Open a connection that acts with full permissions on `vhost`, whatever `user`'s own: a definitions import by an
   * administrator (RabbitMQ applies it without per-vhost permission checks). Every other check of the channel
   * operations (names, types, arguments, equivalence, limits) applies as for a client.
   */
  openAdministrativeConnection(info: ConnectionInfo, user: User, vhost: string, host: ConnectionHost): CoreConnection {
    const v = this.#vhosts.get(vhost);
    if (v === undefined) throw new BrokerError('NOT_FOUND', `no vhost '${vhost}'`);
    const full = new Permissions(FULL);
    // Full permissions, no topic permissions and no channel limit: an import acts for the operator.
    const owner: ConnectionOwner = {
      store: this.store,
      stats: this.stats,
      permissionsOf: () => full,
      permissionGeneration: () => 0,
      connectionClosed: (c) => this.connectionClosed(c),
    };
    const c = new CoreConnectionImpl({ ...info, internal: true }, user, v, host, owner);
    this.#connections.add(c);
    return c;
  }

  /**
   * Apply the parts of a definitions import that are runtime settings rather than entities: user limits, topic
   * permissions, parameters (operator policies and vhost limits among them; other components are stored and listed
   * but do nothing), global parameters (cluster_name among them) and policies, with RabbitMQ's field names and in its
   * order. The vhosts and users they name must exist already. Every item is checked first; a BrokerError names the
   * first one that cannot be applied, and then nothing has changed.
   */
  importRuntimeDefinitions(defs: RuntimeDefinitions): void {
    for (const step of planRuntimeImport(this, defs)) step();
  }

  // ---- ConnectionOwner ---------------------------------------------------------------------------------------

  channelOpening(connection: CoreConnectionImpl): void {
    if (connection.info.internal === true) return;
    const user = connection.user.name;
    const limit = this.runtime.userLimits.get(user)?.['max-channels'];
    if (limit === undefined || limit < 0) return;
    let n = 0;
    for (const c of this.#connections) if (c.info.internal !== true && c.user.name === user) n += c.channelCount;
    if (n >= limit) {
      // rabbit_reader: a connection error (530), the whole connection closes.
      throw new BrokerError('NOT_ALLOWED', `number of channels opened for user '${user}' has reached the maximum allowed user limit of (${limit})`, { limit: true });
    }
  }

  topicPermission(user: string, vhost: string, exchange: string): TopicPermission | undefined {
    return this.runtime.topicPermission(user, vhost, exchange);
  }

  permissionsOf(user: string, vhost: string): Permissions | undefined {
    return this.users.get(user)?.permissions.get(vhost);
  }

  permissionGeneration(): number {
    return this.users.generation;
  }

  externalPermissions(user: User, vhost: string, info: ConnectionInfo): PermissionCheck | undefined {
    const cache = this.#externalUsers.get(user);
    if (cache === undefined) return undefined;
    const variables: Record<string, string> = { username: user.name, vhost };
    if (info.clientId !== undefined) variables.client_id = info.clientId;
    return new ExternalPermissions(cache, user, vhost, variables);
  }

  connectionClosed(connection: CoreConnectionImpl): void {
    if (this.#connections.delete(connection) && connection.info.internal !== true) this.stats.connectionClosed++;
  }
}
