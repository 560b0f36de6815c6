import type { User } from '../contract.js';
import { BrokerError } from '../errors.js';
import { checkPassword, DEFAULT_HASHING_ALGORITHM, hashPassword } from './password.js';

/** RabbitMQ's permission triple: regular expressions matched (unanchored) against resource names. */
export interface PermissionSpec {
  configure: string;
  write: string;
  read: string;
}

/**
 * What the channel asks of a user's permissions on its vhost: internal {@link Permissions}, or an external backend's
 * (which also needs the kind of resource, since RabbitMQ's resource_path names it).
 */
export interface PermissionCheck {
  configure(name: string, kind: 'queue' | 'exchange'): boolean;
  write(name: string, kind: 'queue' | 'exchange'): boolean;
  read(name: string, kind: 'queue' | 'exchange'): boolean;
  /** Only for external backends: the topic check replaces the internal topic permissions. */
  topic?(exchange: string, level: 'write' | 'read', routingKey: string): boolean;
}

/** Compiled permissions of one user on one vhost. */
export class Permissions implements PermissionCheck {
  readonly spec: PermissionSpec;
  readonly #configure: RegExp | undefined;
  readonly #write: RegExp | undefined;
  readonly #read: RegExp | undefined;

  constructor(spec: PermissionSpec) {
    this.spec = { ...spec };
    // RabbitMQ treats the empty string as "nothing" (rabbit_auth_backend_internal: <<"">> never matches).
    this.#configure = compile(spec.configure);
    this.#write = compile(spec.write);
    this.#read = compile(spec.read);
  }

  /** May this user configure (declare, delete) the named resource? */
  configure(name: string): boolean {
    return this.#configure !== undefined && this.#configure.test(name);
  }
  /** May this user write to (publish to, bind to as destination) the named resource? */
  write(name: string): boolean {
    return this.#write !== undefined && this.#write.test(name);
  }
  /** May this user read from (consume, get, purge, bind from) the named resource? */
  read(name: string): boolean {
    return this.#read !== undefined && this.#read.test(name);
  }
}

function compile(re: string): RegExp | undefined {
  if (re === '') return undefined;
  try {
    return new RegExp(re);
  } catch {
    throw new BrokerError('INVALID_ARGUMENT', `invalid permission regex '${re}'`);
  }
}

/** A stored user account. */
export interface UserRecord {
  readonly user: User;
  passwordHash: string;
  /** RabbitMQ's name of the algorithm of `passwordHash` (see password.ts). */
  hashingAlgorithm: string;
  /** Per-vhost permissions. */
  readonly permissions: Map<string, Permissions>;
}

/** The user database: accounts, password hashes and per-vhost permissions. */
export class UserStore {
  readonly #users = new Map<string, UserRecord>();
  /** Bumped on every permission change so channels can drop cached permission checks. */
  generation = 0;

  /** Create or replace a user (permissions of an existing user are kept, as `rabbitmqctl add_user` would not). */
  add(name: string, password: string, tags: readonly string[] = []): void {
    const existing = this.#users.get(name);
    this.#users.set(name, {
      user: Object.freeze({ name, tags: Object.freeze([...tags]) }),
      passwordHash: hashPassword(password),
      hashingAlgorithm: DEFAULT_HASHING_ALGORITHM,
      permissions: existing?.permissions ?? new Map(),
    });
    this.generation++;
  }

  /**
   * Create or replace a user from a stored hash (definitions import, `password_hash`); '' makes a passwordless user
   * that no password matches (RabbitMQ's passwordless users authenticate only by other means).
   */
  addHashed(name: string, passwordHash: string, tags: readonly string[] = [], hashingAlgorithm = DEFAULT_HASHING_ALGORITHM): void {
    const existing = this.#users.get(name);
    this.#users.set(name, {
      user: Object.freeze({ name, tags: Object.freeze([...tags]) }),
      passwordHash,
      hashingAlgorithm,
      permissions: existing?.permissions ?? new Map(),
    });
    this.generation++;
  }

  delete(name: string): boolean {
    this.generation++;
    return this.#users.delete(name);
  }

  get(name: string): UserRecord | undefined {
    return this.#users.get(name);
  }

  names(): string[] {
    return [...this.#users.keys()];
  }

  setPermissions(name: string, vhost: string, spec: PermissionSpec): void {
    const record = this.#users.get(name);
    if (record === undefined) throw new BrokerError('NOT_FOUND', `no user '${name}'`);
    record.permissions.set(vhost, new Permissions(spec));
    this.generation++;
  }

  clearPermissions(name: string, vhost: string): void {
    this.#users.get(name)?.permissions.delete(vhost);
    this.generation++;
  }

  /** Drop every user's permissions on a deleted vhost. */
  forgetVhost(vhost: string): void {
    for (const r of this.#users.values()) r.permissions.delete(vhost);
    this.generation++;
  }

  /** Check credentials; returns the user or undefined. */
  verify(name: string, password: string): User | undefined {
    const record = this.#users.get(name);
    if (record === undefined) return undefined;
    return checkPassword(password, record.passwordHash, record.hashingAlgorithm) ? record.user : undefined;
  }
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses (RabbitMQ's loopback_users check). */
export function isLoopbackAddress(address: string): boolean {
  let a = address;
  if (a.startsWith('::ffff:')) a = a.slice(7);
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}
