/**
 * Queues: /api/queues, /api/queues/{vhost}, /api/queues/{vhost}/{name} (GET, PUT, DELETE), .../contents (purge),
 * .../get, .../bindings, .../actions. Declares, deletes, purges and gets run as core channel operations of the
 * request's user, so they are checked as an AMQP client's would be.
 */
import type { Delivery, MessageProperties, Queue } from '@warren/core';
import type { Routes } from '../app.js';
import { objectBody } from '../app.js';
import { withChannel } from '../core-ops.js';
import { defaultBinding, formatBinding, formatQueue, jsonToTable, tableToJson } from '../format.js';
import { queueJson } from '../format-queue-json.js';
import { badRequest, notFound } from '../http-error.js';
import { answerList, answerOne, flag, streamList } from '../list-query.js';
import { statsQuery } from '../stats/format-stats.js';
import { checkName } from './vhosts.js';

/** A message's properties as the API writes them (only the ones set). */
export function formatProperties(p: MessageProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p.appId !== undefined) out['app_id'] = p.appId;
  if (p.clusterId !== undefined) out['cluster_id'] = p.clusterId;
  if (p.contentEncoding !== undefined) out['content_encoding'] = p.contentEncoding;
  if (p.contentType !== undefined) out['content_type'] = p.contentType;
  if (p.correlationId !== undefined) out['correlation_id'] = p.correlationId;
  if (p.deliveryMode !== undefined) out['delivery_mode'] = p.deliveryMode;
  if (p.expiration !== undefined) out['expiration'] = p.expiration;
  if (p.headers !== undefined) out['headers'] = tableToJson(p.headers);
  if (p.messageId !== undefined) out['message_id'] = p.messageId;
  if (p.priority !== undefined) out['priority'] = p.priority;
  if (p.replyTo !== undefined) out['reply_to'] = p.replyTo;
  if (p.timestamp !== undefined) out['timestamp'] = p.timestamp;
  if (p.type !== undefined) out['type'] = p.type;
  if (p.userId !== undefined) out['user_id'] = p.userId;
  return out;
}

const ACKMODES = ['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false'] as const;

function payloadOf(body: Buffer, encoding: string, truncate: number | undefined): { payload: string; payload_encoding: string } {
  const bytes = truncate !== undefined && body.length > truncate ? body.subarray(0, truncate) : body;
  if (encoding === 'auto') {
    const text = bytes.toString('utf8');
    // Valid UTF-8 round-trips; anything else goes as base64, as RabbitMQ's "auto" does.
    if (Buffer.from(text, 'utf8').equals(bytes)) return { payload: text, payload_encoding: 'string' };
  }
  return { payload: bytes.toString('base64'), payload_encoding: 'base64' };
}

/** An integer field; RabbitMQ (rabbit_mgmt_util:parse_int) also takes decimal strings, which rabbitmqadmin sends. */
function intField(v: unknown): unknown {
  return typeof v === 'string' && /^-?\d{1,15}$/.test(v) ? Number(v) : v;
}

/** A boolean field; RabbitMQ (rabbit_mgmt_util:parse_bool) also takes "true"/"false", which rabbitmqadmin sends. */
export function boolField(body: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw badRequest(`${key} must be a boolean`);
}

export function registerQueueRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;

  /**
   * The queues of `vhosts`, by vhost then name. A queue's vhost is its owner, so no row objects are built: with one
   * vhost this is the vhost's cached name-ordered array itself (100,000 queues listed without copying).
   */
  const rows = (vhosts: string[]): readonly Queue[] => {
    const lists = vhosts
      .sort()
      .map((vhost) => broker.vhost(vhost)?.queuesByName())
      .filter((l) => l !== undefined);
    if (lists.length === 1) return lists[0]!;
    const out: Queue[] = [];
    for (const l of lists) for (const q of l) out.push(q);
    return out;
  };
  const list = (query: Parameters<typeof answerList>[0], vhosts: string[]) => {
    const sq = statsQuery(query);
    return streamList(
      query,
      rows(vhosts),
      (q) => formatQueue(ctx, q.owner.name, q, sq),
      (q) => q.name,
      (q, col) => (col === 'name' ? q.name : col === 'vhost' ? q.owner.name : col === 'messages_ready' ? q.messageCount : undefined),
      (q) => queueJson(ctx, q.owner.name, q, sq),
    );
  };

  const queueOf = (vhost: string, name: string, canSee: boolean): Queue => {
    const q = broker.vhost(vhost)?.queues.get(name);
    if (q === undefined || !canSee) throw notFound();
    return q;
  };

  r.resource('/api/queues', {
    GET: (req) => list(req.query, broker.vhostNames().filter((v) => req.principal.canSeeVhost(v))),
  });

  r.resource('/api/queues/:vhost', {
    GET: (req) => {
      const vhost = req.params['vhost']!;
      req.principal.seeVhost(vhost);
      return list(req.query, [vhost]);
    },
  });

  r.resource('/api/queues/:vhost/:name', {
    GET: (req) => {
      const { vhost, name } = req.params as { vhost: string; name: string };
      const q = queueOf(vhost, name, req.principal.canSeeVhost(vhost));
      const json = formatQueue(ctx, vhost, q, statsQuery(req.query));
      json['consumer_details'] = q.consumers.map((c) => ({
        arguments: tableToJson(c.arguments),
        ack_required: !c.noAck,
        active: true,
        activity_status: 'up',
        consumer_tag: c.tag,
        exclusive: c.exclusive,
        prefetch_count: c.prefetch,
        queue: { name: q.name, vhost },
      }));
      json['incoming'] = [];
      json['deliveries'] = [];
      return answerOne(req.query, json);
    },
    PUT: async (req) => {
      const { vhost, name } = req.params as { vhost: string; name: string };
      checkName('queue', name);
      if (name === '') throw badRequest('queue name must not be empty');
      const body = objectBody(req);
      const args = body['arguments'];
      if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) throw badRequest('arguments must be an object');
      const durable = boolField(body, 'durable', false);
      const autoDelete = boolField(body, 'auto_delete', false);
      const arguments_ = jsonToTable((args ?? {}) as Record<string, unknown>);
      const existed = broker.vhost(vhost)?.queues.has(name) === true;
      await withChannel(ctx, req.principal, vhost, (ch) => ch.declareQueue(name, { durable, autoDelete, arguments: arguments_ }));
      return { status: existed ? 204 : 201 };
    },
    DELETE: async (req) => {
      const { vhost, name } = req.params as { vhost: string; name: string };
      if (broker.vhost(vhost)?.queues.get(name) === undefined) throw notFound();
      await withChannel(ctx, req.principal, vhost, (ch) =>
        ch.deleteQueue(name, { ifEmpty: flag(req.query, 'if-empty'), ifUnused: flag(req.query, 'if-unused') }),
      );
      return undefined;
    },
  });

  r.resource('/api/queues/:vhost/:name/contents', {
    DELETE: async (req) => {
      const { vhost, name } = req.params as { vhost: string; name: string };
      if (broker.vhost(vhost)?.queues.get(name) === undefined) throw notFound();
      await withChannel(ctx, req.principal, vhost, (ch) => ch.purgeQueue(name));
      return undefined;
    },
  });

  r.resource('/api/queues/:vhost/:name/actions', {
    POST: (req) => {
      const { vhost, name } = req.params as { vhost: string; name: string };
      queueOf(vhost, name, req.principal.canSeeVhost(vhost));
      const action = objectBody(req)['action'];
      // Mirroring actions of classic mirrored queues: a single node has nothing to synchronise.
      if (action !== 'sync' && action !== 'cancel_sync') throw badRequest(`unknown action '${String(action)}'`);
      return undefined;
    },
  });

  r.resource('/api/queues/:vhost/:name/get', {
    POST: async (req) => {
      const { vhost, name } = req.params as { vhost: string; name: string };
      if (broker.vhost(vhost)?.queues.get(name) === undefined) throw notFound();
      const body = objectBody(req);
      const count = intField(body['count'] ?? 1);
      const ackmode = body['ackmode'];
      const encoding = body['encoding'] ?? 'auto';
      const truncate = intField(body['truncate']);
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) throw badRequest('count must be a positive integer');
      if (typeof ackmode !== 'string' || !(ACKMODES as readonly string[]).includes(ackmode)) {
        throw badRequest(`ackmode must be one of ${ACKMODES.join(', ')}`);
      }
      if (encoding !== 'auto' && encoding !== 'base64') throw badRequest("encoding must be 'auto' or 'base64'");
      if (truncate !== undefined && (typeof truncate !== 'number' || !Number.isInteger(truncate) || truncate < 0)) {
        throw badRequest('truncate must be a non-negative integer');
      }
      return withChannel(ctx, req.principal, vhost, (ch) => {
        const got: { delivery: Delivery; left: number }[] = [];
        for (let i = 0; i < count; i++) {
          const r = ch.get(name, ackmode === 'ack_requeue_false');
          if (r === undefined) break;
          got.push({ delivery: r.delivery, left: r.messageCount });
        }
        // The messages are held until all are taken, so a requeued one is not fetched twice.
        for (const { delivery } of got) {
          if (ackmode === 'ack_requeue_true' || ackmode === 'reject_requeue_true') ch.reject(delivery.deliveryTag, true);
          else if (ackmode === 'reject_requeue_false') ch.reject(delivery.deliveryTag, false);
        }
        return got.map(({ delivery, left }) => {
          const m = delivery.message;
          return {
            payload_bytes: m.body.length,
            redelivered: delivery.redelivered,
            exchange: m.exchange,
            routing_key: m.routingKey,
            message_count: left,
            properties: formatProperties(m.properties),
            ...payloadOf(m.body, encoding as string, truncate as number | undefined),
          };
        });
      });
    },
  });

  r.resource('/api/queues/:vhost/:name/bindings', {
    GET: (req) => {
      const { vhost, name } = req.params as { vhost: string; name: string };
      const q = queueOf(vhost, name, req.principal.canSeeVhost(vhost));
      const bindings = [defaultBinding(vhost, q), ...[...q.incoming].map((b) => formatBinding(vhost, b))];
      return answerList(req.query, bindings, (b) => b, (b) => String(b['source']));
    },
  });

}
