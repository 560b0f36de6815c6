/**
 * Users and permissions: /api/users, /api/users/{user}, /api/users/without-permissions, /api/users/bulk-delete,
 * /api/users/{user}/permissions, /api/permissions, /api/permissions/{vhost}/{user}.
 */
import { hashPassword, passwordHashProblem, type Broker } from '@warren/core';
import type { Routes } from '../app.js';
import { objectBody } from '../app.js';
import { durably } from '../core-ops.js';
import { badRequest, notFound } from '../http-error.js';
import { answerList, answerOne } from '../list-query.js';
import { checkName } from './vhosts.js';

/** The only hashing algorithm Warren stores (RabbitMQ's default since 3.6). */
export const HASHING_ALGORITHM = 'rabbit_password_hashing_sha256';

/** Tags from a PUT body: a comma-separated string or an array of strings (RabbitMQ accepts both). */
export function parseTags(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw === 'string') return raw.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (Array.isArray(raw) && raw.every((t) => typeof t === 'string')) return raw.map((t: string) => t.trim()).filter((t) => t !== '');
  throw badRequest('tags must be a comma-separated string or an array of strings');
}

function formatUser(broker: Broker, name: string): Record<string, unknown> {
  const r = broker.users.get(name)!;
  return {
    name,
    password_hash: r.passwordHash,
    hashing_algorithm: r.hashingAlgorithm,
    tags: [...r.user.tags],
    limits: { ...broker.runtime.userLimits.get(name) },
  };
}

/** One permission row as RabbitMQ lists it. */
export function formatPermission(broker: Broker, user: string, vhost: string): Record<string, unknown> {
  const p = broker.permissionsOf(user, vhost)!;
  return { user, vhost, configure: p.spec.configure, write: p.spec.write, read: p.spec.read };
}

/** Every (user, vhost) pair with permissions, sorted by user then vhost. */
function permissionRows(broker: Broker): [string, string][] {
  const rows: [string, string][] = [];
  for (const u of broker.users.names().sort()) {
    for (const v of [...broker.users.get(u)!.permissions.keys()].sort()) rows.push([u, v]);
  }
  return rows;
}

function regexField(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string') throw badRequest(`${key} must be a string (a regular expression)`);
  try {
    new RegExp(v);
  } catch {
    throw badRequest(`invalid regular expression in ${key}: '${v}'`);
  }
  return v;
}

export function registerUserRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;
  const names = (): string[] => broker.users.names().sort();

  r.resource('/api/users', {
    GET: (req) => {
      req.principal.requireAdmin();
      return answerList(req.query, names(), (u) => formatUser(broker, u), (u) => u, (u, c) => (c === 'name' ? u : undefined));
    },
  });

  r.resource('/api/users/without-permissions', {
    GET: (req) => {
      req.principal.requireAdmin();
      const list = names().filter((u) => broker.users.get(u)!.permissions.size === 0);
      return answerList(req.query, list, (u) => formatUser(broker, u), (u) => u);
    },
  });

  r.resource('/api/users/bulk-delete', {
    POST: async (req) => {
      req.principal.requireAdmin();
      const users = objectBody(req)['users'];
      if (!Array.isArray(users) || !users.every((u) => typeof u === 'string')) throw badRequest('users must be an array of user names');
      await durably(ctx, () => {
        for (const u of users as string[]) broker.deleteUser(u);
      });
      return undefined;
    },
  });

  r.resource('/api/users/:user', {
    GET: (req) => {
      req.principal.requireAdmin();
      const name = req.params['user']!;
      if (broker.users.get(name) === undefined) throw notFound();
      return answerOne(req.query, formatUser(broker, name));
    },
    PUT: async (req) => {
      req.principal.requireAdmin();
      const name = req.params['user']!;
      checkName('user', name);
      const body = objectBody(req);
      const tags = parseTags(body['tags']);
      const password = body['password'];
      const passwordHash = body['password_hash'];
      const algorithm = body['hashing_algorithm'];
      if (password !== undefined && typeof password !== 'string') throw badRequest('password must be a string');
      if (passwordHash !== undefined && typeof passwordHash !== 'string') throw badRequest('password_hash must be a string');
      if (algorithm !== undefined && typeof algorithm !== 'string') throw badRequest('hashing_algorithm must be a string');
      const hashAlgorithm = algorithm ?? HASHING_ALGORITHM;
      const problem = typeof passwordHash === 'string' ? passwordHashProblem(passwordHash, hashAlgorithm) : passwordHashProblem('', hashAlgorithm);
      if (problem !== undefined) throw badRequest(problem);
      const existing = broker.users.get(name);
      await durably(ctx, () => {
        if (typeof password === 'string') broker.addUserWithHash(name, hashPassword(password), tags);
        else if (typeof passwordHash === 'string') broker.addUserWithHash(name, passwordHash, tags, hashAlgorithm);
        else if (existing !== undefined) broker.addUserWithHash(name, existing.passwordHash, tags, existing.hashingAlgorithm);
        // RabbitMQ 3.10: neither a password nor a hash makes a user without a password (it cannot log in with one).
        else broker.addUserWithHash(name, '', tags);
      });
      return { status: existing === undefined ? 201 : 204 };
    },
    DELETE: async (req) => {
      req.principal.requireAdmin();
      const name = req.params['user']!;
      if (broker.users.get(name) === undefined) throw notFound();
      await durably(ctx, () => broker.deleteUser(name));
      return undefined;
    },
  });

  r.resource('/api/users/:user/permissions', {
    GET: (req) => {
      req.principal.requireAdmin();
      const name = req.params['user']!;
      const record = broker.users.get(name);
      if (record === undefined) throw notFound();
      const rows = [...record.permissions.keys()].sort().map((v): [string, string] => [name, v]);
      return answerList(req.query, rows, ([u, v]) => formatPermission(broker, u, v), ([, v]) => v);
    },
  });

  r.resource('/api/permissions', {
    GET: (req) => {
      req.principal.requireAdmin();
      return answerList(req.query, permissionRows(broker), ([u, v]) => formatPermission(broker, u, v), ([u]) => u);
    },
  });

  r.resource('/api/permissions/:vhost/:user', {
    GET: (req) => {
      req.principal.requireAdmin();
      const { vhost, user } = req.params as { vhost: string; user: string };
      if (broker.permissionsOf(user, vhost) === undefined) throw notFound();
      return answerOne(req.query, formatPermission(broker, user, vhost));
    },
    PUT: async (req) => {
      req.principal.requireAdmin();
      const { vhost, user } = req.params as { vhost: string; user: string };
      if (broker.vhost(vhost) === undefined) throw badRequest(`vhost_not_found: ${vhost}`);
      if (broker.users.get(user) === undefined) throw badRequest(`user_not_found: ${user}`);
      const body = objectBody(req);
      const spec = { configure: regexField(body, 'configure'), write: regexField(body, 'write'), read: regexField(body, 'read') };
      const existed = broker.permissionsOf(user, vhost) !== undefined;
      await durably(ctx, () => broker.setPermissions(user, vhost, spec));
      return { status: existed ? 204 : 201 };
    },
    DELETE: async (req) => {
      req.principal.requireAdmin();
      const { vhost, user } = req.params as { vhost: string; user: string };
      if (broker.permissionsOf(user, vhost) === undefined) throw notFound();
      await durably(ctx, () => broker.clearPermissions(user, vhost));
      return undefined;
    },
  });
}
