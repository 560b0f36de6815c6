/**
 * Bindings: /api/bindings, /api/bindings/{vhost}, /api/bindings/{vhost}/e/{source}/q|e/{destination} (GET, POST),
 * /api/bindings/{vhost}/e/{source}/q|e/{destination}/{props} (GET, DELETE). A binding is named by its
 * properties_key; POST answers 201 with the new binding's key in `Location`, as RabbitMQ does.
 */
import type { Binding, Exchange, VHost } from '@warren/core';
import type { ApiRequest, Routes } from '../app.js';
import { objectBody } from '../app.js';
import { withChannel } from '../core-ops.js';
import { defaultBinding, formatBinding, jsonToTable, matchesPropertiesKey, propertiesKey } from '../format.js';
import { badRequest, notFound } from '../http-error.js';
import { answerList, answerOne } from '../list-query.js';
import { exchangeName } from './exchanges.js';

/** Every binding of a vhost as RabbitMQ lists it: the default exchange's implicit ones first, then by source. */
function vhostBindings(vhost: string, v: VHost): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const queues = v.queuesByName();
  for (const q of queues) out.push(defaultBinding(vhost, q));
  const xs = [...v.exchanges.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const x of xs) for (const b of x.bindings.values()) out.push(formatBinding(vhost, b));
  return out;
}

export function registerBindingRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;

  r.resource('/api/bindings', {
    GET: (req) => {
      const items: Record<string, unknown>[] = [];
      for (const vhost of broker.vhostNames().sort()) {
        if (req.principal.canSeeVhost(vhost)) items.push(...vhostBindings(vhost, broker.vhost(vhost)!));
      }
      return answerList(req.query, items, (b) => b, (b) => String(b['source']));
    },
  });
  r.resource('/api/bindings/:vhost', {
    GET: (req) => {
      const vhost = req.params['vhost']!;
      const v = broker.vhost(vhost);
      if (v === undefined || !req.principal.canSeeVhost(vhost)) throw notFound();
      return answerList(req.query, vhostBindings(vhost, v), (b) => b, (b) => String(b['source']));
    },
  });

  /** The two ends named in the path; 404 when either is missing. */
  const ends = (req: ApiRequest, destKind: 'q' | 'e') => {
    const vhost = req.params['vhost']!;
    const v = broker.vhost(vhost);
    if (v === undefined || !req.principal.canSeeVhost(vhost)) throw notFound();
    const source = v.exchange(exchangeName(req.params['source']!));
    const destName = req.params['destination']!;
    const destination = destKind === 'q' ? v.queues.get(destName) : v.exchange(exchangeName(destName));
    if (source === undefined || destination === undefined) throw notFound();
    return { vhost, v, source, destination };
  };
  const between = (source: Exchange, destKind: 'q' | 'e', destName: string): Binding[] =>
    [...source.bindings.values()].filter((b) => b.destination.kind === (destKind === 'q' ? 'queue' : 'exchange') && b.destination.name === destName);

  for (const destKind of ['q', 'e'] as const) {
    const base = `/api/bindings/:vhost/e/:source/${destKind}/:destination`;
    r.resource(base, {
      GET: (req) => {
        const { vhost, source, destination } = ends(req, destKind);
        const items =
          source.name === '' && destKind === 'q'
            ? [defaultBinding(vhost, destination as never)]
            : between(source, destKind, destination.name).map((b) => formatBinding(vhost, b));
        return answerList(req.query, items, (b) => b, (b) => String(b['routing_key']));
      },
      POST: async (req) => {
        const { vhost, source, destination } = ends(req, destKind);
        const body = objectBody(req);
        const routingKey = body['routing_key'] ?? '';
        const args = body['arguments'];
        if (typeof routingKey !== 'string') throw badRequest('routing_key must be a string');
        if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) throw badRequest('arguments must be an object');
        const table = args === undefined ? undefined : jsonToTable(args as Record<string, unknown>);
        await withChannel(ctx, req.principal, vhost, (ch) => {
          if (destKind === 'q') ch.bindQueue(destination.name, source.name, routingKey, table);
          else ch.bindExchange(destination.name, source.name, routingKey, table);
        });
        // RabbitMQ's Location is relative: the destination, then the properties_key percent-encoded once more.
        const key = propertiesKey(routingKey, table);
        return { status: 201, headers: { location: `${encodeURIComponent(destination.name)}/${encodeURIComponent(key)}` } };
      },
    });
    r.resource(`${base}/:props`, {
      GET: (req) => {
        const { vhost, source, destination } = ends(req, destKind);
        const props = req.params['props']!;
        const b = between(source, destKind, destination.name).find((x) => matchesPropertiesKey(props, x.routingKey, x.arguments));
        if (b === undefined) throw notFound();
        return answerOne(req.query, formatBinding(vhost, b));
      },
      DELETE: async (req) => {
        const { vhost, source, destination } = ends(req, destKind);
        const props = req.params['props']!;
        const b = between(source, destKind, destination.name).find((x) => matchesPropertiesKey(props, x.routingKey, x.arguments));
        if (b === undefined) throw notFound();
        await withChannel(ctx, req.principal, vhost, (ch) => {
          if (destKind === 'q') ch.unbindQueue(destination.name, source.name, b.routingKey, b.arguments);
          else ch.unbindExchange(destination.name, source.name, b.routingKey, b.arguments);
        });
        return undefined;
      },
    });
  }
}
