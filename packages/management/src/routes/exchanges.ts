/**
 * Exchanges: /api/exchanges, /api/exchanges/{vhost}, /api/exchanges/{vhost}/{name} (GET, PUT, DELETE),
 * .../publish, .../bindings/source, .../bindings/destination. In paths the default exchange is `amq.default`.
 */
import type { Exchange, MessageProperties } from '@warren/core';
import type { ApiRequest, Routes } from '../app.js';
import { objectBody } from '../app.js';
import { withChannel } from '../core-ops.js';
import { boolField } from './queues.js';
import { defaultBinding, formatBinding, formatExchange, jsonToTable } from '../format.js';
import { statsQuery } from '../stats/format-stats.js';
import { badRequest, notFound } from '../http-error.js';
import { answerList, answerOne, flag } from '../list-query.js';
import { checkName } from './vhosts.js';

/** The default exchange's name in URLs. */
const DEFAULT_EXCHANGE_PATH = 'amq.default';

/** The exchange name a path segment means: `amq.default` is the default exchange ''. */
export function exchangeName(segment: string): string {
  return segment === DEFAULT_EXCHANGE_PATH ? '' : segment;
}

type Row = { vhost: string; exchange: Exchange };

const STRING_PROPS: Record<string, keyof MessageProperties> = {
  content_type: 'contentType',
  content_encoding: 'contentEncoding',
  correlation_id: 'correlationId',
  reply_to: 'replyTo',
  expiration: 'expiration',
  message_id: 'messageId',
  type: 'type',
  user_id: 'userId',
  app_id: 'appId',
  cluster_id: 'clusterId',
};

/** Message properties from the API's `properties` object (RabbitMQ's names); unknown keys are refused. */
export function parseProperties(raw: unknown): MessageProperties {
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('properties must be an object');
  const out: MessageProperties = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const field = STRING_PROPS[k];
    if (field !== undefined) {
      if (typeof v !== 'string') throw badRequest(`property ${k} must be a string`);
      (out as Record<string, unknown>)[field] = v;
    } else if (k === 'delivery_mode' || k === 'priority' || k === 'timestamp') {
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw badRequest(`property ${k} must be a non-negative integer`);
      if (k === 'delivery_mode') out.deliveryMode = n;
      else if (k === 'priority') out.priority = n;
      else out.timestamp = n;
    } else if (k === 'headers') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('headers must be an object');
      out.headers = jsonToTable(v as Record<string, unknown>);
    } else {
      throw badRequest(`unknown property '${k}'`);
    }
  }
  return out;
}

export function registerExchangeRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;

  const rows = (vhosts: string[]): Row[] => {
    const out: Row[] = [];
    for (const vhost of vhosts.sort()) {
      const v = broker.vhost(vhost);
      if (v === undefined) continue;
      const xs = [v.defaultExchange as Exchange, ...v.exchanges.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const exchange of xs) out.push({ vhost, exchange });
    }
    return out;
  };
  const list = (req: ApiRequest, vhosts: string[]) => {
    const sq = statsQuery(req.query);
    return answerList(
      req.query,
      rows(vhosts),
      (row) => formatExchange(row.vhost, row.exchange, sq),
      (row) => row.exchange.name,
      (row, col) => (col === 'name' ? row.exchange.name : col === 'vhost' ? row.vhost : undefined),
    );
  };
  const exchangeOf = (req: ApiRequest): { vhost: string; exchange: Exchange } => {
    const vhost = req.params['vhost']!;
    const x = broker.vhost(vhost)?.exchange(exchangeName(req.params['name']!));
    if (x === undefined || !req.principal.canSeeVhost(vhost)) throw notFound();
    return { vhost, exchange: x };
  };

  r.resource('/api/exchanges', {
    GET: (req) => list(req, broker.vhostNames().filter((v) => req.principal.canSeeVhost(v))),
  });

  r.resource('/api/exchanges/:vhost', {
    GET: (req) => {
      const vhost = req.params['vhost']!;
      req.principal.seeVhost(vhost);
      return list(req, [vhost]);
    },
  });

  r.resource('/api/exchanges/:vhost/:name', {
    GET: (req) => {
      const { vhost, exchange } = exchangeOf(req);
      const json = formatExchange(vhost, exchange, statsQuery(req.query));
      json['incoming'] = [];
      json['outgoing'] = [];
      return answerOne(req.query, json);
    },
    PUT: async (req) => {
      const vhost = req.params['vhost']!;
      const name = exchangeName(req.params['name']!);
      checkName('exchange', name);
      const body = objectBody(req);
      const type = body['type'];
      if (typeof type !== 'string') throw badRequest('type is required');
      const args = body['arguments'];
      if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) throw badRequest('arguments must be an object');
      const b = (k: string, fallback: boolean): boolean => boolField(body, k, fallback);
      const options = {
        durable: b('durable', false),
        autoDelete: b('auto_delete', false),
        internal: b('internal', false),
        arguments: jsonToTable((args ?? {}) as Record<string, unknown>),
      };
      const existed = broker.vhost(vhost)?.exchange(name) !== undefined;
      await withChannel(ctx, req.principal, vhost, (ch) => ch.declareExchange(name, type, options));
      return { status: existed ? 204 : 201 };
    },
    DELETE: async (req) => {
      const vhost = req.params['vhost']!;
      const name = exchangeName(req.params['name']!);
      if (broker.vhost(vhost)?.exchange(name) === undefined) throw notFound();
      await withChannel(ctx, req.principal, vhost, (ch) => ch.deleteExchange(name, { ifUnused: flag(req.query, 'if-unused') }));
      return undefined;
    },
  });

  r.resource('/api/exchanges/:vhost/:name/publish', {
    POST: async (req) => {
      const vhost = req.params['vhost']!;
      const name = exchangeName(req.params['name']!);
      if (broker.vhost(vhost)?.exchange(name) === undefined) throw notFound();
      const body = objectBody(req);
      const routingKey = body['routing_key'];
      const payload = body['payload'];
      const encoding = body['payload_encoding'] ?? 'string';
      if (typeof routingKey !== 'string') throw badRequest('routing_key is required');
      if (typeof payload !== 'string') throw badRequest('payload is required');
      if (encoding !== 'string' && encoding !== 'base64') throw badRequest("payload_encoding must be 'string' or 'base64'");
      const properties = parseProperties(body['properties']);
      const data = encoding === 'base64' ? Buffer.from(payload, 'base64') : Buffer.from(payload, 'utf8');
      return withChannel(ctx, req.principal, vhost, async (ch, host) => {
        const confirmed = host.confirmed(1);
        ch.publish({ exchange: name, routingKey, properties, rawProperties: undefined, body: data }, { mandatory: true, sequence: 1 });
        // Answered once the broker has taken responsibility (on disk for a persistent message in a durable queue).
        await confirmed;
        return { routed: host.returnedCount === 0 };
      });
    },
  });

  const bindingList = (req: ApiRequest, side: 'source' | 'destination') => {
    const { vhost, exchange } = exchangeOf(req);
    let items: Record<string, unknown>[];
    if (side === 'source') {
      items =
        exchange.name === ''
          ? [...broker.vhost(vhost)!.queues.values()].map((q) => defaultBinding(vhost, q))
          : [...exchange.bindings.values()].map((b) => formatBinding(vhost, b));
    } else {
      items = [...exchange.incoming].map((b) => formatBinding(vhost, b));
    }
    return answerList(req.query, items, (b) => b, (b) => String(b['destination']));
  };
  r.resource('/api/exchanges/:vhost/:name/bindings/source', { GET: (req) => bindingList(req, 'source') });
  r.resource('/api/exchanges/:vhost/:name/bindings/destination', { GET: (req) => bindingList(req, 'destination') });
}
