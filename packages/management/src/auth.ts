/**
 * HTTP Basic authentication against the core's users, and RabbitMQ's management tags (rabbit_mgmt_util):
 * - `administrator`: everything;
 * - `monitoring`: sees every vhost, connection and channel, and node details (read-only beyond `management`);
 * - `policymaker`: `management` plus policies and parameters on its vhosts;
 * - `management`: the objects of the vhosts it has permissions on, and its own connections;
 * - anything else (no tag, `impersonator` alone): no access to the API (401).
 */
import { isAuthorizationPending, type Broker, type User } from '@warren/core';
import { loginFailed, loginRequired, notAuthorisedFor, notFound } from './http-error.js';

/** The authenticated user of one request and what its tags allow. */
export class Principal {
  readonly user: User;
  readonly isAdmin: boolean;
  readonly isMonitor: boolean;
  readonly isPolicymaker: boolean;
  readonly #broker: Broker;

  constructor(user: User, broker: Broker) {
    this.user = user;
    this.#broker = broker;
    const tags = user.tags;
    this.isAdmin = tags.includes('administrator');
    this.isMonitor = this.isAdmin || tags.includes('monitoring');
    this.isPolicymaker = this.isAdmin || tags.includes('policymaker');
  }

  get name(): string {
    return this.user.name;
  }

  /** May this user see objects of `vhost`? Monitors see all; others the vhosts they have permissions on. */
  canSeeVhost(vhost: string): boolean {
    return this.isMonitor || this.#broker.permissionsOf(this.user.name, vhost) !== undefined;
  }

  /** May this user act on `vhost` (declare, delete, publish through the API)? Needs permissions on it. */
  canUseVhost(vhost: string): boolean {
    return this.#broker.permissionsOf(this.user.name, vhost) !== undefined;
  }

  /**
   * The vhost must exist (else 404 Object Not Found) and be visible to this user (else 401 "User not authorised to
   * access virtual host", RabbitMQ's answer to a management user reading another vhost).
   */
  seeVhost(vhost: string): void {
    if (this.#broker.vhost(vhost) === undefined) throw notFound();
    if (!this.canSeeVhost(vhost)) throw notAuthorisedFor('User not authorised to access virtual host');
  }

  /** 401 unless administrator (RabbitMQ: "Not administrator user"). */
  requireAdmin(): void {
    if (!this.isAdmin) throw notAuthorisedFor('Not administrator user');
  }

  /** 401 unless monitoring or administrator ("Not monitor user"). */
  requireMonitor(): void {
    if (!this.isMonitor) throw notAuthorisedFor('Not monitor user');
  }

  /** 401 unless policymaker or administrator, with permissions on `vhost` ("Not policymaker user"). */
  requirePolicymaker(vhost: string): void {
    if (!this.isPolicymaker) throw notAuthorisedFor('Not policymaker user');
    this.requireVhostAccess(vhost);
  }

  /** 401 unless the user may use `vhost` ("User not authorised to access virtual host"). */
  requireVhostAccess(vhost: string): void {
    if (!this.isAdmin && !this.canUseVhost(vhost)) throw notAuthorisedFor('User not authorised to access virtual host');
  }
}

const MANAGEMENT_TAGS = ['administrator', 'monitoring', 'policymaker', 'management'];

/**
 * Authenticate a request from its Authorization header and peer address (the loopback-only rule for guest applies, as
 * on every protocol). Throws 401 with a Basic challenge when the login fails, and 401 when the user has no
 * management tag.
 */
export function authenticate(broker: Broker, authorization: string | undefined, remoteAddress: string): Principal {
  if (authorization === undefined || !/^basic /i.test(authorization)) throw loginRequired();
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw loginFailed();
  let user: User;
  try {
    user = broker.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1), remoteAddress, 'http');
  } catch (err) {
    if (isAuthorizationPending(err)) throw err;
    throw loginFailed();
  }
  if (!user.tags.some((t) => MANAGEMENT_TAGS.includes(t))) throw notAuthorisedFor('Not management user');
  return new Principal(user, broker);
}

/** {@link authenticate}, waiting for an external auth backend when the broker has one (its answer is then cached). */
export async function authenticateRequest(broker: Broker, authorization: string | undefined, remoteAddress: string): Promise<Principal> {
  for (;;) {
    try {
      return authenticate(broker, authorization, remoteAddress);
    } catch (err) {
      if (!isAuthorizationPending(err)) throw err;
      await err.ready;
    }
  }
}
