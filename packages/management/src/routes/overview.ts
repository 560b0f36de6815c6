/**
 * The node as a whole: /api/overview, /api/nodes, /api/whoami, /api/auth, /api/extensions, /api/cluster-name.
 */
import { readdirSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { EXCHANGE_TYPES } from '@warren/core';
import type { Routes } from '../app.js';
import { objectBody } from '../app.js';
import type { ManagementContext } from '../context.js';
import { badRequest, notFound } from '../http-error.js';
import { answerList, answerOne } from '../list-query.js';
import { overviewStats, statsQuery } from '../stats/format-stats.js';

/** The RabbitMQ version whose management API Warren answers as (tools read it to pick features). */
export const RABBITMQ_API_VERSION = '3.10.8';

const EXCHANGE_DESCRIPTIONS: Record<string, string> = {
  direct: 'AMQP direct exchange, as per the AMQP specification',
  fanout: 'AMQP fanout exchange, as per the AMQP specification',
  headers: 'AMQP headers exchange, as per the AMQP specification',
  topic: 'AMQP topic exchange, as per the AMQP specification',
};

function exchangeTypes(): Record<string, unknown>[] {
  return [...EXCHANGE_TYPES].sort().map((name) => ({ name, description: EXCHANGE_DESCRIPTIONS[name] ?? '', enabled: true }));
}

function totals(ctx: ManagementContext, canSee: (vhost: string) => boolean) {
  const broker = ctx.broker;
  let queues = 0;
  let exchanges = 0;
  let consumers = 0;
  let ready = 0;
  let unacked = 0;
  for (const name of broker.vhostNames()) {
    if (!canSee(name)) continue;
    const v = broker.vhost(name)!;
    exchanges += v.exchanges.size + 1;
    for (const q of v.queues.values()) {
      queues++;
      consumers += q.consumers.length;
      ready += q.messageCount;
      unacked += q.unacked;
    }
  }
  let connections = 0;
  let channels = 0;
  for (const c of broker.connections()) {
    if (!canSee(c.vhost)) continue;
    connections++;
    channels += c.channelCount;
  }
  return { queues, exchanges, consumers, connections, channels, ready, unacked };
}

/** The listeners as RabbitMQ's overview and node objects list them. */
function listeners(ctx: ManagementContext): Record<string, unknown>[] {
  return ctx.listeners().map((l) => ({
    node: ctx.nodeName,
    protocol: l.protocol,
    ip_address: l.ipAddress,
    port: l.port,
    socket_opts: {},
  }));
}

function contexts(ctx: ManagementContext): Record<string, unknown>[] {
  return ctx
    .listeners()
    .filter((l) => l.protocol === 'http' || l.protocol === 'https' || l.protocol === 'http/prometheus')
    .map((l) => ({
      node: ctx.nodeName,
      description: l.protocol === 'http/prometheus' ? 'Prometheus exporter API over HTTP' : 'RabbitMQ Management',
      path: '/',
      port: String(l.port),
      ...(l.protocol === 'https' ? { ssl: 'true' } : {}),
    }));
}

function openFileCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** One node's details (/api/nodes/{name}). */
function nodeDetails(ctx: ManagementContext): Record<string, unknown> {
  const mem = process.memoryUsage();
  const resources = ctx.resources?.();
  const fds = openFileCount();
  return {
    applications: [],
    auth_mechanisms: [
      { name: 'PLAIN', description: 'SASL PLAIN authentication mechanism', enabled: true },
      { name: 'AMQPLAIN', description: 'QPid AMQPLAIN mechanism', enabled: true },
      { name: 'EXTERNAL', description: 'SASL EXTERNAL authentication mechanism', enabled: false },
    ],
    being_drained: false,
    cluster_links: [],
    config_files: [],
    contexts: contexts(ctx),
    db_dir: resources?.dataDir ?? '',
    disk_free: resources?.diskFree ?? 0,
    disk_free_alarm: ctx.broker.alarms.includes('disk'),
    disk_free_details: { rate: 0 },
    disk_free_limit: resources?.diskFreeLimit ?? 0,
    enabled_plugins: ['rabbitmq_management', 'rabbitmq_mqtt', 'rabbitmq_prometheus', 'rabbitmq_stomp', 'rabbitmq_web_mqtt', 'rabbitmq_web_stomp'],
    exchange_types: exchangeTypes(),
    fd_total: resources?.fdTotal ?? 0,
    fd_used: fds,
    fd_used_details: { rate: 0 },
    listeners: listeners(ctx),
    log_files: [],
    mem_alarm: ctx.broker.alarms.includes('memory'),
    mem_calculation_strategy: 'rss',
    mem_limit: resources?.memLimit ?? 0,
    mem_used: mem.rss,
    mem_used_details: { rate: 0 },
    name: ctx.nodeName,
    net_ticktime: 60,
    os_pid: String(process.pid),
    partitions: [],
    proc_total: 1048576,
    proc_used: 0,
    processors: cpus().length,
    rates_mode: 'basic',
    run_queue: 0,
    running: true,
    sockets_total: resources?.fdTotal ?? 0,
    sockets_used: ctx.broker.connections().length,
    type: 'disc',
    uptime: Date.now() - ctx.startedAt,
  };
}

export function registerOverviewRoutes(r: Routes): void {
  const { ctx } = r;

  r.resource('/api/overview', {
    GET: (req) => {
      const p = req.principal;
      const canSee = (v: string): boolean => p.canSeeVhost(v);
      const t = totals(ctx, canSee);
      const sq = statsQuery(req.query);
      const stats = overviewStats(ctx.broker, canSee, sq, t.ready, t.unacked);
      return answerOne(req.query, {
        management_version: RABBITMQ_API_VERSION,
        rates_mode: 'basic',
        sample_retention_policies: { global: [600, 3600, 28800, 86400], basic: [600, 3600], detailed: [600] },
        exchange_types: exchangeTypes(),
        product_version: ctx.version,
        product_name: 'Warren',
        rabbitmq_version: RABBITMQ_API_VERSION,
        release_series_support_status: 'supported',
        cluster_name: ctx.clusterName,
        erlang_version: process.version,
        erlang_full_version: `Node.js ${process.version}`,
        disable_stats: false,
        enable_queue_totals: false,
        ...stats,
        object_totals: {
          channels: t.channels,
          connections: t.connections,
          consumers: t.consumers,
          exchanges: t.exchanges,
          queues: t.queues,
        },
        statistics_db_event_queue: 0,
        node: ctx.nodeName,
        listeners: listeners(ctx),
        contexts: contexts(ctx),
      });
    },
  });

  r.resource('/api/nodes', {
    GET: (req) => {
      req.principal.requireMonitor();
      return answerList(req.query, [ctx.nodeName], () => nodeDetails(ctx), (n) => n);
    },
  });
  r.resource('/api/nodes/:node', {
    GET: (req) => {
      req.principal.requireMonitor();
      if (req.params['node'] !== ctx.nodeName) throw notFound();
      return answerOne(req.query, nodeDetails(ctx));
    },
  });

  // Warren's own: the replicated cluster (members, leader, in-sync replicas, replication lag). A single node answers
  // with itself as the only member, so tools need no special case.
  r.resource('/api/cluster', {
    GET: async (req) => {
      req.principal.requireMonitor();
      if (ctx.cluster !== undefined) return answerOne(req.query, { ...(await ctx.cluster()) });
      const single = { node: ctx.nodeName, host: hostname(), leader: true, inSync: true };
      return answerOne(req.query, {
        cluster: ctx.clusterName,
        node: ctx.nodeName,
        role: 'single',
        leader: { node: ctx.nodeName, host: hostname(), epoch: 0 },
        epoch: 0,
        isr: [ctx.nodeName],
        members: [single],
      });
    },
  });

  r.resource('/api/whoami', {
    GET: (req) => ({ name: req.principal.name, tags: [...req.principal.user.tags] }),
  });

  // Public, as in RabbitMQ: the login page reads it before anyone is logged in.
  r.resource(
    '/api/auth',
    { GET: () => ({ oauth_enabled: false, oauth_client_id: '', oauth_provider_url: '' }) },
    { public: true },
  );

  r.resource('/api/extensions', { GET: () => [] });

  r.resource('/api/cluster-name', {
    GET: () => ({ name: ctx.clusterName }),
    PUT: async (req) => {
      req.principal.requireAdmin();
      const name = objectBody(req)['name'];
      if (typeof name !== 'string' || name === '') throw badRequest('name is required');
      await ctx.setClusterName(name);
      return undefined;
    },
  });
}

/** The default cluster name, RabbitMQ's `rabbit@<host>` in Warren's words. */
export function defaultClusterName(): string {
  return `warren@${hostname()}`;
}
