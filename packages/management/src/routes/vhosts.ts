/**
 * Virtual hosts: /api/vhosts, /api/vhosts/{vhost}, /api/vhosts/{vhost}/permissions.
 */
import type { Routes } from '../app.js';
import { objectBody } from '../app.js';
import { durably } from '../core-ops.js';
import { formatVhost } from '../format.js';
import { statsQuery } from '../stats/format-stats.js';
import { badRequest, notFound } from '../http-error.js';
import { answerList, answerOne } from '../list-query.js';
import { formatPermission } from './users.js';

/** Longest vhost, user, queue or exchange name accepted (AMQP short strings are at most 255 bytes). */
export const MAX_NAME_BYTES = 255;

/** 400 unless `name` is a usable object name: not too long, no NUL. */
export function checkName(kind: string, name: string): void {
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw badRequest(`${kind} name is too long (at most ${MAX_NAME_BYTES} bytes)`);
  if (name.includes('\u0000')) throw badRequest(`${kind} name must not contain NUL`);
}

export function registerVhostRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;

  r.resource('/api/vhosts', {
    GET: (req) =>
      answerList(
        req.query,
        broker.vhostNames().filter((v) => req.principal.canSeeVhost(v)).sort(),
        (v) => formatVhost(ctx, v, statsQuery(req.query)),
        (v) => v,
        (v, col) => (col === 'name' ? v : undefined),
      ),
  });

  r.resource('/api/vhosts/:vhost', {
    GET: (req) => {
      const name = req.params['vhost']!;
      req.principal.seeVhost(name);
      return answerOne(req.query, formatVhost(ctx, name, statsQuery(req.query)));
    },
    PUT: async (req) => {
      req.principal.requireAdmin();
      const name = req.params['vhost']!;
      checkName('vhost', name);
      const body = objectBody(req);
      const description = body['description'];
      const tags = body['tags'];
      const dqt = body['default_queue_type'];
      if (description !== undefined && typeof description !== 'string') throw badRequest('description must be a string');
      if (tags !== undefined && typeof tags !== 'string' && !(Array.isArray(tags) && tags.every((t) => typeof t === 'string'))) {
        throw badRequest('tags must be a comma-separated string or an array of strings');
      }
      if (dqt !== undefined && !['classic', 'quorum', 'stream', 'undefined'].includes(String(dqt))) {
        throw badRequest(`invalid default_queue_type '${String(dqt)}'`);
      }
      const existed = broker.vhost(name) !== undefined;
      await durably(ctx, () => {
        broker.addVhost(name);
        const v = broker.vhost(name)!;
        const changed =
          (description !== undefined && v.description !== description) ||
          tags !== undefined ||
          (dqt !== undefined && v.defaultQueueType !== dqt);
        if (description !== undefined) v.description = description;
        if (tags !== undefined) v.tags = (typeof tags === 'string' ? tags.split(',') : (tags as string[])).map((t) => t.trim()).filter((t) => t !== '');
        if (dqt !== undefined) v.defaultQueueType = dqt === 'undefined' ? undefined : String(dqt);
        if (changed) broker.vhostChanged();
        // RabbitMQ gives the creating user full permissions on a new vhost.
        if (!existed) broker.setPermissions(req.principal.name, name, { configure: '.*', write: '.*', read: '.*' });
      });
      return { status: existed ? 204 : 201 };
    },
    DELETE: async (req) => {
      req.principal.requireAdmin();
      const name = req.params['vhost']!;
      if (broker.vhost(name) === undefined) throw notFound();
      await durably(ctx, () => broker.deleteVhost(name));
      return undefined;
    },
  });

  r.resource('/api/vhosts/:vhost/permissions', {
    GET: (req) => {
      req.principal.requireAdmin();
      const vhost = req.params['vhost']!;
      if (broker.vhost(vhost) === undefined) throw notFound();
      const rows: [string, string][] = [];
      for (const u of broker.users.names().sort()) {
        if (broker.permissionsOf(u, vhost) !== undefined) rows.push([u, vhost]);
      }
      return answerList(req.query, rows, ([u, v]) => formatPermission(broker, u, v), ([u]) => u);
    },
  });
}
