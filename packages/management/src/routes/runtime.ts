/**
 * Limits, runtime parameters, global parameters, feature flags and topic permissions:
 * /api/vhost-limits[/{vhost}[/{name}]], /api/user-limits[/{user}[/{name}]], /api/parameters[/{component}[/{vhost}
 * [/{name}]]], /api/global-parameters[/{name}], /api/feature-flags, /api/topic-permissions[/{vhost}/{user}],
 * /api/users/{user}/topic-permissions, /api/vhosts/{vhost}/topic-permissions.
 */
import { PolicyValidationError, policyToJson, type Broker } from '@warren/core';
import type { ApiRequest, Routes } from '../app.js';
import { objectBody } from '../app.js';
import { durably } from '../core-ops.js';
import { badRequest, notFound } from '../http-error.js';
import { answerList, answerOne } from '../list-query.js';
import { validationFailed } from './policies.js';

/** One vhost-scoped parameter as RabbitMQ lists it. */
interface ParameterRow {
  value: unknown;
  vhost: string;
  component: string;
  name: string;
}

const VHOST_LIMITS = ['max-connections', 'max-queues'] as const;
const USER_LIMITS = ['max-connections', 'max-channels'] as const;

/** The feature flags RabbitMQ 3.10.8 lists (the recorded answer), all enabled: Warren has no older node to wait for. */
const FEATURE_FLAGS: readonly (readonly [string, string, string, string])[] = [
  ['classic_mirrored_queue_version', 'Support setting version for classic mirrored queues', '', 'rabbit'],
  ['drop_unroutable_metric', 'Count unroutable publishes to be dropped in stats', '', 'rabbitmq_management_agent'],
  ['empty_basic_get_metric', 'Count AMQP `basic.get` on empty queues in stats', '', 'rabbitmq_management_agent'],
  ['implicit_default_bindings', 'Default bindings are now implicit, instead of being stored in the database', '', 'rabbit'],
  ['maintenance_mode_status', 'Maintenance mode status', '', 'rabbit'],
  ['quorum_queue', 'Support queues of type `quorum`', 'https://www.rabbitmq.com/quorum-queues.html', 'rabbit'],
];

/** Every vhost-scoped parameter, RabbitMQ's way: operator policies and vhost limits among them, policies not. */
function parameterRows(broker: Broker): ParameterRow[] {
  const rows: ParameterRow[] = [];
  for (const vhost of broker.vhostNames().sort()) {
    const v = broker.vhost(vhost)!;
    if (Object.keys(v.limits).length > 0) rows.push({ value: { ...v.limits }, vhost, component: 'vhost-limits', name: 'limits' });
    for (const p of v.operatorPolicies.values()) {
      const { vhost: _v, name, ...value } = policyToJson(p);
      rows.push({ value, vhost, component: 'operator_policy', name: name as string });
    }
  }
  for (const p of broker.runtime.parameters.values()) rows.push({ ...p });
  return rows.sort((a, b) => cmp(a.component, b.component) || cmp(a.vhost, b.vhost) || cmp(a.name, b.name));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A limit's value from a PUT body: an integer, checked as rabbit_parameter_validation:integer words it. */
function limitValue(req: ApiRequest, name: string, allowed: readonly string[]): number {
  const value = objectBody(req)['value'];
  if (!allowed.includes(name)) {
    throw validationFailed(`Unrecognised terms [{<<"${name}">>,${String(value)}}] in limits`, false);
  }
  if (value === undefined) throw badRequest('value is required');
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw validationFailed(`${name} should be a number, actually was ${typeof value === 'string' ? `<<${JSON.stringify(value)}>>` : JSON.stringify(value)}`, false);
  }
  return value;
}

export function registerRuntimeRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;

  // ---- vhost limits ----
  const vhostLimitRows = (vhosts: string[]) =>
    vhosts
      .sort()
      .map((vhost) => ({ vhost, value: { ...broker.vhost(vhost)!.limits } }))
      .filter((row) => Object.keys(row.value).length > 0);

  r.resource('/api/vhost-limits', {
    GET: (req) => vhostLimitRows(broker.vhostNames().filter((v) => req.principal.canSeeVhost(v))),
  });
  r.resource('/api/vhost-limits/:vhost', {
    GET: (req) => {
      const vhost = req.params['vhost']!;
      req.principal.seeVhost(vhost);
      return vhostLimitRows([vhost]);
    },
  });
  r.resource('/api/vhost-limits/:vhost/:name', {
    PUT: async (req) => {
      req.principal.requireAdmin();
      const { vhost, name } = req.params as { vhost: string; name: string };
      const v = broker.vhost(vhost);
      if (v === undefined) throw notFound();
      const value = limitValue(req, name, VHOST_LIMITS);
      await durably(ctx, () => broker.setVhostLimits(vhost, { ...v.limits, [name]: value }));
      return undefined;
    },
    DELETE: async (req) => {
      req.principal.requireAdmin();
      const { vhost, name } = req.params as { vhost: string; name: string };
      const v = broker.vhost(vhost);
      if (v === undefined) throw notFound();
      // RabbitMQ answers 204 for a limit that is not set (the recorded max-channels delete).
      const next: Record<string, number> = { ...v.limits };
      delete next[name];
      await durably(ctx, () => broker.setVhostLimits(vhost, next));
      return undefined;
    },
  });

  // ---- user limits ----
  const userLimitRows = (users: string[]) =>
    users
      .sort()
      .map((user) => ({ user, value: { ...broker.runtime.userLimits.get(user) } }))
      .filter((row) => Object.keys(row.value).length > 0);

  r.resource('/api/user-limits', {
    GET: (req) => {
      req.principal.requireAdmin();
      return userLimitRows(broker.users.names());
    },
  });
  r.resource('/api/user-limits/:user', {
    GET: (req) => {
      req.principal.requireAdmin();
      const user = req.params['user']!;
      if (broker.users.get(user) === undefined) throw notFound();
      return userLimitRows([user]);
    },
  });
  r.resource('/api/user-limits/:user/:name', {
    PUT: async (req) => {
      req.principal.requireAdmin();
      const { user, name } = req.params as { user: string; name: string };
      if (broker.users.get(user) === undefined) throw notFound();
      const value = limitValue(req, name, USER_LIMITS);
      await durably(ctx, () => broker.setUserLimits(user, { ...broker.runtime.userLimits.get(user), [name]: value }));
      return undefined;
    },
    DELETE: async (req) => {
      req.principal.requireAdmin();
      const { user, name } = req.params as { user: string; name: string };
      if (broker.users.get(user) === undefined) throw notFound();
      const next: Record<string, number> = { ...broker.runtime.userLimits.get(user) };
      delete next[name];
      await durably(ctx, () => broker.setUserLimits(user, next));
      return undefined;
    },
  });

  // ---- runtime parameters ----
  const visibleRows = (req: ApiRequest, filter: (row: ParameterRow) => boolean) => {
    if (!req.principal.isPolicymaker) req.principal.requirePolicymaker('/');
    return parameterRows(broker).filter((row) => filter(row) && (req.principal.isAdmin || req.principal.canUseVhost(row.vhost)));
  };
  r.resource('/api/parameters', {
    GET: (req) => answerList(req.query, visibleRows(req, () => true), (row) => ({ ...row }), (row) => row.name),
  });
  r.resource('/api/parameters/:component', {
    GET: (req) => {
      const component = req.params['component']!;
      return answerList(req.query, visibleRows(req, (row) => row.component === component), (row) => ({ ...row }), (row) => row.name);
    },
  });
  r.resource('/api/parameters/:component/:vhost', {
    GET: (req) => {
      const { component, vhost } = req.params as { component: string; vhost: string };
      if (broker.vhost(vhost) === undefined) throw notFound();
      req.principal.requirePolicymaker(vhost);
      const rows = visibleRows(req, (row) => row.component === component && row.vhost === vhost);
      return answerList(req.query, rows, (row) => ({ ...row }), (row) => row.name);
    },
  });
  r.resource('/api/parameters/:component/:vhost/:name', {
    GET: (req) => {
      const { component, vhost, name } = req.params as { component: string; vhost: string; name: string };
      req.principal.requirePolicymaker(vhost);
      const row = parameterRows(broker).find((p) => p.component === component && p.vhost === vhost && p.name === name);
      if (row === undefined) throw notFound();
      return answerOne(req.query, { ...row });
    },
    PUT: async (req) => {
      const { component, vhost, name } = req.params as { component: string; vhost: string; name: string };
      if (broker.vhost(vhost) === undefined) throw notFound();
      req.principal.requirePolicymaker(vhost);
      const body = objectBody(req);
      if (!('value' in body)) throw badRequest('value is required');
      const value = body['value'];
      const created = await durably(ctx, () => {
        if (component === 'policy' || component === 'operator_policy') {
          if (component === 'operator_policy') req.principal.requireAdmin();
          try {
            return broker.setPolicy(vhost, name, (value ?? {}) as Record<string, unknown>, component === 'operator_policy');
          } catch (err) {
            if (err instanceof PolicyValidationError) throw validationFailed(err.message, true);
            throw err;
          }
        }
        if (component === 'vhost-limits') {
          req.principal.requireAdmin();
          const limits: Record<string, number> = {};
          for (const [k, x] of Object.entries((value ?? {}) as Record<string, unknown>)) {
            if (!(VHOST_LIMITS as readonly string[]).includes(k)) throw validationFailed(`Unrecognised terms [{<<"${k}">>,${String(x)}}] in limits`, false);
            if (typeof x !== 'number' || !Number.isInteger(x)) throw validationFailed(`${k} should be a number, actually was ${JSON.stringify(x)}`, false);
            limits[k] = x;
          }
          const existed = Object.keys(broker.vhost(vhost)!.limits).length > 0;
          broker.setVhostLimits(vhost, limits);
          return !existed;
        }
        ctx.logger.info(
          { component, vhost, name },
          'runtime parameter stored: Warren does not implement this component (it is kept, listed and exported, and does nothing)',
        );
        return broker.setParameter(component, vhost, name, value);
      });
      return { status: created ? 201 : 204 };
    },
    DELETE: async (req) => {
      const { component, vhost, name } = req.params as { component: string; vhost: string; name: string };
      req.principal.requirePolicymaker(vhost);
      const deleted = await durably(ctx, () => {
        if (component === 'policy' || component === 'operator_policy') return broker.clearPolicy(vhost, name, component === 'operator_policy');
        if (component === 'vhost-limits') {
          const v = broker.vhost(vhost);
          if (v === undefined || Object.keys(v.limits).length === 0) return false;
          broker.setVhostLimits(vhost, {});
          return true;
        }
        return broker.clearParameter(component, vhost, name);
      });
      if (!deleted) throw notFound();
      return undefined;
    },
  });

  // ---- global parameters ----
  r.resource('/api/global-parameters', {
    GET: (req) => {
      req.principal.requireAdmin();
      const rows = [...broker.runtime.global.entries()].sort(([a], [b]) => cmp(a, b)).map(([name, value]) => ({ name, value }));
      return answerList(req.query, rows, (row) => ({ ...row }), (row) => row.name);
    },
  });
  r.resource('/api/global-parameters/:name', {
    GET: (req) => {
      req.principal.requireAdmin();
      const name = req.params['name']!;
      if (!broker.runtime.global.has(name)) throw notFound();
      return answerOne(req.query, { name, value: broker.runtime.global.get(name) });
    },
    PUT: async (req) => {
      req.principal.requireAdmin();
      const name = req.params['name']!;
      const body = objectBody(req);
      if (!('value' in body)) throw badRequest('value is required');
      const created = await durably(ctx, () => broker.setGlobalParameter(name, body['value']));
      return { status: created ? 201 : 204 };
    },
    DELETE: async (req) => {
      req.principal.requireAdmin();
      const name = req.params['name']!;
      if (!(await durably(ctx, () => broker.clearGlobalParameter(name)))) throw notFound();
      return undefined;
    },
  });

  // ---- feature flags ----
  r.resource('/api/feature-flags', {
    GET: (req) => {
      req.principal.requireAdmin();
      return FEATURE_FLAGS.map(([name, desc, docUrl, providedBy]) => ({
        name,
        desc,
        doc_url: docUrl,
        state: 'enabled',
        stability: 'stable',
        provided_by: providedBy,
      }));
    },
  });

  // ---- topic permissions ----
  const topicRows = (filter: (user: string, vhost: string) => boolean) => {
    const rows: Record<string, unknown>[] = [];
    for (const user of [...broker.runtime.topicPermissions.keys()].sort()) {
      const perVhost = broker.runtime.topicPermissions.get(user)!;
      for (const vhost of [...perVhost.keys()].sort()) {
        if (!filter(user, vhost)) continue;
        const perExchange = perVhost.get(vhost)!;
        for (const exchange of [...perExchange.keys()].sort()) {
          const tp = perExchange.get(exchange)!;
          rows.push({ user, vhost, exchange, write: tp.write, read: tp.read });
        }
      }
    }
    return rows;
  };
  const topicList = (req: ApiRequest, rows: Record<string, unknown>[]) => answerList(req.query, rows, (row) => row, (row) => String(row['user']));

  r.resource('/api/topic-permissions', {
    GET: (req) => {
      req.principal.requireAdmin();
      return topicList(req, topicRows(() => true));
    },
  });
  r.resource('/api/topic-permissions/:vhost/:user', {
    GET: (req) => {
      req.principal.requireAdmin();
      const { vhost, user } = req.params as { vhost: string; user: string };
      const rows = topicRows((u, v) => u === user && v === vhost);
      if (rows.length === 0) throw notFound();
      return topicList(req, rows);
    },
    PUT: async (req) => {
      req.principal.requireAdmin();
      const { vhost, user } = req.params as { vhost: string; user: string };
      if (broker.vhost(vhost) === undefined) throw badRequest(`vhost_not_found: ${vhost}`);
      if (broker.users.get(user) === undefined) throw badRequest(`user_not_found: ${user}`);
      const body = objectBody(req);
      const exchange = body['exchange'];
      const write = body['write'];
      const read = body['read'];
      if (typeof exchange !== 'string' || exchange === '') throw badRequest('exchange is required');
      for (const [key, v] of [['write', write], ['read', read]] as const) {
        if (typeof v !== 'string') throw badRequest(`${key} must be a string (a regular expression)`);
        try {
          new RegExp(v);
        } catch {
          throw badRequest(`invalid regular expression in ${key}: '${v}'`);
        }
      }
      const created = await durably(ctx, () => broker.setTopicPermission(user, vhost, exchange, { write: write as string, read: read as string }));
      return { status: created ? 201 : 204 };
    },
    DELETE: async (req) => {
      req.principal.requireAdmin();
      const { vhost, user } = req.params as { vhost: string; user: string };
      const exchange = req.query['exchange'];
      const ex = Array.isArray(exchange) ? exchange[0] : exchange;
      const deleted = await durably(ctx, () => broker.clearTopicPermissions(user, vhost, ex));
      if (!deleted) throw notFound();
      return undefined;
    },
  });
  r.resource('/api/users/:user/topic-permissions', {
    GET: (req) => {
      req.principal.requireAdmin();
      const user = req.params['user']!;
      if (broker.users.get(user) === undefined) throw notFound();
      return topicList(req, topicRows((u) => u === user));
    },
  });
  r.resource('/api/vhosts/:vhost/topic-permissions', {
    GET: (req) => {
      req.principal.requireAdmin();
      const vhost = req.params['vhost']!;
      if (broker.vhost(vhost) === undefined) throw notFound();
      return topicList(req, topicRows((_u, v) => v === vhost));
    },
  });
}
