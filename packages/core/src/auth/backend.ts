/**
 * External authentication and authorisation backends (RabbitMQ's rabbit_authn_backend / rabbit_authz_backend, as
 * rabbitmq_auth_backend_http implements them), and the cache in front of them (rabbitmq_auth_backend_cache).
 *
 * The core does no I/O: a backend is an object the composition root hands in (the server's HTTP backend makes the
 * outbound requests). Its answers arrive later than the frame that needs them, while every core operation is
 * synchronous; so the core answers from the {@link AuthCache} and, on a miss, starts the request and throws
 * {@link AuthorizationPending}. The adapter stops reading, waits for {@link AuthorizationPending.ready} and hands the
 * same frame in again, which the now-filled cache answers. Internal users never reach any of this.
 */
import { createHash } from 'node:crypto';
import type { Logger, User } from '../contract.js';

/** The kinds of resource RabbitMQ's resource_path names. */
export type ResourceKind = 'queue' | 'exchange' | 'topic';
/** RabbitMQ's access levels. */
export type AccessLevel = 'configure' | 'write' | 'read';

/** What a client presented when it logged in. */
export interface LoginRequest {
  username: string;
  password: string;
  /** Extra credentials the protocol knows (RabbitMQ MQTT sends client_id and vhost to user_path). */
  extra?: Readonly<Record<string, string>>;
}

/** An external backend. Each method resolves with the decision; a rejection (backend down) counts as a refusal. */
export interface AuthBackend {
  /** For logs: 'http'. */
  readonly name: string;
  /** user_path: the user's tags when allowed, undefined when refused. */
  authenticate(request: LoginRequest): Promise<string[] | undefined>;
  /** vhost_path. */
  vhostAccess(user: User, vhost: string, ip: string): Promise<boolean>;
  /** resource_path. */
  resourceAccess(user: User, vhost: string, kind: ResourceKind, name: string, level: AccessLevel): Promise<boolean>;
  /** topic_path: `exchange` is the topic exchange, `variables` RabbitMQ's variable_map (username, vhost, client_id). */
  topicAccess(
    user: User, vhost: string, exchange: string, level: 'write' | 'read', routingKey: string,
    variables: Readonly<Record<string, string>>,
  ): Promise<boolean>;
}

/**
 * Thrown by a core operation whose authorisation waits for an external backend. Not a BrokerError (adapters map
 * those to refusals): the adapter must wait for {@link ready} (it never rejects) and then repeat the operation.
 */
export class AuthorizationPending extends Error {
  readonly ready: Promise<void>;
  constructor(ready: Promise<void>) {
    super('authorisation is waiting for the authentication backend');
    this.name = 'AuthorizationPending';
    this.ready = ready;
  }
}

/** True for {@link AuthorizationPending}. */
export function isAuthorizationPending(err: unknown): err is AuthorizationPending {
  return err instanceof AuthorizationPending;
}

interface Entry<T> {
  value: T;
  expires: number;
}

/**
 * The shortest life of an answer, whatever the TTL: the operation that asked is repeated when the answer arrives
 * and must find it (a TTL of 0 would otherwise send it back to the backend forever).
 */
const MIN_LIFE_MS = 1000;

/** How long a failed request (backend down) is answered as a refusal before the backend is asked again. */
const ERROR_HOLD_MS = MIN_LIFE_MS;

/**
 * Decisions of an external backend, kept for `ttlMs` (rabbitmq_auth_backend_cache's cache_ttl) so that a busy
 * publisher does not cost a request per message; a refused login is kept only for the repeat of the login that asked (a corrected password works a second later).
 * Requests for the same question while one is in flight share it.
 */
export class AuthCache {
  readonly backend: AuthBackend;
  readonly ttlMs: number;
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry<unknown>>();
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #salt = createHash('sha256').update(String(Math.random()) + String(process.hrtime.bigint())).digest();
  /** Backend requests made (for tests and stats). */
  requests = 0;

  constructor(backend: AuthBackend, ttlMs: number, logger: Logger) {
    this.backend = backend;
    this.ttlMs = ttlMs;
    this.#logger = logger;
  }

  /** Login: the tags when allowed, undefined when refused; throws {@link AuthorizationPending} on a miss. */
  login(request: LoginRequest): string[] | undefined {
    // The password is never kept: the key holds a salted hash of the whole request.
    const h = createHash('sha256').update(this.#salt);
    h.update(request.username).update('\0').update(request.password);
    for (const [k, v] of Object.entries(request.extra ?? {})) h.update('\0').update(k).update('=').update(v);
    const key = `u\0${h.digest('base64')}`;
    return this.#answer(key, () => this.backend.authenticate(request), (t) => t !== undefined, `user_path for '${request.username}'`);
  }

  /** vhost_path, cached. */
  vhost(user: User, vhost: string, ip: string): boolean {
    return this.#answer(`v\0${user.name}\0${vhost}\0${ip}`, () => this.backend.vhostAccess(user, vhost, ip), Boolean, `vhost_path for '${user.name}'`);
  }

  /** resource_path, cached. */
  resource(user: User, vhost: string, kind: ResourceKind, name: string, level: AccessLevel): boolean {
    return this.#answer(
      `r\0${user.name}\0${vhost}\0${kind}\0${name}\0${level}`,
      () => this.backend.resourceAccess(user, vhost, kind, name, level), Boolean, `resource_path for '${user.name}'`,
    );
  }

  /** topic_path, cached. */
  topic(user: User, vhost: string, exchange: string, level: 'write' | 'read', routingKey: string, variables: Readonly<Record<string, string>>): boolean {
    const vars = Object.entries(variables).map(([k, v]) => `${k}=${v}`).join('\0');
    return this.#answer(
      `t\0${user.name}\0${vhost}\0${exchange}\0${level}\0${routingKey}\0${vars}`,
      () => this.backend.topicAccess(user, vhost, exchange, level, routingKey, variables), Boolean, `topic_path for '${user.name}'`,
    );
  }

  /** Forget every decision (an operator's request, tests). */
  clear(): void {
    this.#entries.clear();
  }

  #answer<T>(key: string, ask: () => Promise<T>, allowed: (v: T) => boolean, what: string): T {
    const now = Date.now();
    const hit = this.#entries.get(key) as Entry<T> | undefined;
    if (hit !== undefined) {
      if (hit.expires > now) return hit.value;
      this.#entries.delete(key);
    }
    let ready = this.#inflight.get(key);
    if (ready === undefined) {
      this.requests++;
      ready = ask().then(
        (value) => {
          // A refused login is not cached beyond its retry: the user may fix the password at once.
          const ttl = allowed(value) || key.charCodeAt(0) !== 117 /* u */ ? Math.max(this.ttlMs, MIN_LIFE_MS) : MIN_LIFE_MS;
          this.#entries.set(key, { value, expires: Date.now() + ttl });
        },
        (err: unknown) => {
          this.#logger.warn({ backend: this.backend.name, err: err instanceof Error ? err.message : String(err) },
            `auth backend request failed (${what}): refused`);
          // false and undefined both refuse; held briefly so a down backend is not asked per frame.
          this.#entries.set(key, { value: (key.charCodeAt(0) === 117 ? undefined : false) as T, expires: Date.now() + ERROR_HOLD_MS });
        },
      ).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, ready);
    }
    throw new AuthorizationPending(ready);
  }
}

/**
 * The permissions of a user an external backend authenticated, on one vhost: the same questions the channel asks of
 * internal {@link Permissions}, answered by the backend through the cache (each may throw {@link AuthorizationPending}).
 */
export class ExternalPermissions {
  readonly #cache: AuthCache;
  readonly #user: User;
  readonly #vhost: string;
  readonly #variables: Readonly<Record<string, string>>;

  constructor(cache: AuthCache, user: User, vhost: string, variables: Readonly<Record<string, string>>) {
    this.#cache = cache;
    this.#user = user;
    this.#vhost = vhost;
    this.#variables = variables;
  }

  configure(name: string, kind: ResourceKind = 'queue'): boolean {
    return this.#cache.resource(this.#user, this.#vhost, kind, name, 'configure');
  }
  write(name: string, kind: ResourceKind = 'exchange'): boolean {
    return this.#cache.resource(this.#user, this.#vhost, kind, name, 'write');
  }
  read(name: string, kind: ResourceKind = 'queue'): boolean {
    return this.#cache.resource(this.#user, this.#vhost, kind, name, 'read');
  }
  /** topic_path: may `routingKey` be published (write) or bound (read) on the topic exchange? */
  topic(exchange: string, level: 'write' | 'read', routingKey: string): boolean {
    return this.#cache.topic(this.#user, this.#vhost, exchange, level, routingKey, this.#variables);
  }
}
