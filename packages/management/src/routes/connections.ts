/**
 * Connections, channels and consumers of every protocol: /api/connections (and per vhost, one, its channels, DELETE to
 * close it), /api/channels (and per vhost, one), /api/consumers (and per vhost), as RabbitMQ 3.10 writes them
 * (rabbit_mgmt_format, rabbit_mgmt_wm_connection*, _channel*, _consumers). What only the adapter knows (protocol
 * label, client properties, traffic, confirm mode) comes from its host's optional `connectionDetails` /
 * `channelDetails`, read when a request asks; the rest (user, vhost, consumers, prefetch, unacked) from the core.
 */
import type { Consumer, CoreChannelImpl, CoreConnectionImpl } from '@warren/core';
import type { Principal } from '../auth.js';
import type { Routes } from '../app.js';
import type { ManagementContext } from '../context.js';
import { tableToJson } from '../format.js';
import { notAuthorisedFor, notFound } from '../http-error.js';
import { answerList, answerOne, type Query } from '../list-query.js';

/** RabbitMQ's reason when an operator closes a connection without an X-Reason header. */
export const DEFAULT_CLOSE_REASON = 'Closed via management plugin';

const rate = (): { rate: number } => ({ rate: 0 });

/** An address as RabbitMQ writes it in names: IPv6 in brackets (rabbit_misc:ntoab). */
function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** RabbitMQ's connection name: "peer_host:peer_port -> host:port". */
export function connectionName(c: CoreConnectionImpl): string {
  const i = c.info;
  return `${hostPart(i.remoteAddress)}:${i.remotePort} -> ${hostPart(i.localAddress ?? '')}:${i.localPort}`;
}

/** The protocol's channel number (AMQP's channel id), which RabbitMQ's channel names end with: "<connection> (<n>)". */
function channelNumber(ch: CoreChannelImpl): number {
  return ch.host.channelDetails?.().number ?? ch.id;
}

/**
 * One connection as the API lists it. `single` picks the single-object form: RabbitMQ writes the TLS fields of a
 * plain AMQP connection as "" there and as null in lists.
 */
export function formatConnection(ctx: ManagementContext, c: CoreConnectionImpl, single = false): Record<string, unknown> {
  const d = c.host.connectionDetails?.();
  const i = c.info;
  const web = i.websocket === true;
  const network = (d?.type ?? 'network') === 'network';
  const t = d?.traffic;
  const out: Record<string, unknown> = {};
  if (network) out['auth_mechanism'] = d?.authMechanism ?? 'PLAIN';
  out['channel_max'] = d?.channelMax ?? 0;
  out['channels'] = c.channelCount;
  out['client_properties'] = tableToJson(d?.clientProperties);
  out['connected_at'] = c.connectedAt;
  out['frame_max'] = d?.frameMax ?? 0;
  out['host'] = i.localAddress ?? '';
  out['name'] = connectionName(c);
  out['node'] = ctx.nodeName;
  if (network) {
    const blank = single ? '' : null;
    out['peer_cert_issuer'] = blank;
    out['peer_cert_subject'] = blank;
    out['peer_cert_validity'] = blank;
  }
  out['peer_host'] = i.remoteAddress;
  out['peer_port'] = i.remotePort;
  out['port'] = i.localPort;
  out['protocol'] = d?.protocol ?? i.protocol;
  out['recv_cnt'] = t?.recvCnt ?? 0;
  out['recv_oct'] = t?.recvOct ?? 0;
  // Rates and Erlang process figures: RabbitMQ leaves them out for WebSocket connections.
  if (!web) {
    out['recv_oct_details'] = rate();
    out['reductions'] = 0;
    out['reductions_details'] = rate();
  }
  out['send_cnt'] = t?.sendCnt ?? 0;
  out['send_oct'] = t?.sendOct ?? 0;
  if (!web) out['send_oct_details'] = rate();
  out['send_pend'] = t?.sendPend ?? 0;
  out['ssl'] = i.tls;
  if (network) {
    const blank = single ? '' : null;
    out['ssl_cipher'] = blank;
    out['ssl_hash'] = blank;
    out['ssl_key_exchange'] = blank;
    out['ssl_protocol'] = blank;
  }
  out['state'] = 'running';
  if (d?.timeout !== undefined) out['timeout'] = d.timeout;
  out['type'] = d?.type ?? 'network';
  out['user'] = c.user.name;
  if (d?.userProvidedName !== undefined) out['user_provided_name'] = d.userProvidedName;
  out['user_who_performed_action'] = c.user.name;
  if (d?.variableMap !== undefined) out['variable_map'] = { ...d.variableMap };
  out['vhost'] = c.vhost;
  return out;
}

/** One channel as the API lists it. */
export function formatChannel(ctx: ManagementContext, c: CoreConnectionImpl, ch: CoreChannelImpl): Record<string, unknown> {
  const d = ch.host.channelDetails?.();
  const connName = connectionName(c);
  const number = d?.number ?? ch.id;
  let consumers = 0;
  for (const _ of ch.consumers()) consumers++;
  return {
    acks_uncommitted: d?.acksUncommitted ?? 0,
    confirm: d?.confirm ?? false,
    connection_details: { name: connName, peer_host: c.info.remoteAddress, peer_port: c.info.remotePort },
    consumer_count: consumers,
    global_prefetch_count: ch.globalPrefetch,
    messages_unacknowledged: ch.unackedCount,
    messages_uncommitted: d?.messagesUncommitted ?? 0,
    messages_unconfirmed: d?.messagesUnconfirmed ?? 0,
    name: `${connName} (${number})`,
    node: ctx.nodeName,
    number,
    pending_raft_commands: 0,
    prefetch_count: ch.prefetch,
    reductions: 0,
    reductions_details: rate(),
    state: 'running',
    transactional: d?.transactional ?? false,
    user: c.user.name,
    user_who_performed_action: c.user.name,
    vhost: c.vhost,
  };
}

/** One consumer as /api/consumers lists it. */
export function formatConsumer(ctx: ManagementContext, c: CoreConnectionImpl, ch: CoreChannelImpl, k: Consumer): Record<string, unknown> {
  const connName = connectionName(c);
  const number = channelNumber(ch);
  return {
    arguments: tableToJson(k.arguments),
    ack_required: !k.noAck,
    active: true,
    activity_status: 'up',
    channel_details: {
      connection_name: connName,
      name: `${connName} (${number})`,
      node: ctx.nodeName,
      number,
      peer_host: c.info.remoteAddress,
      peer_port: c.info.remotePort,
      user: c.user.name,
    },
    consumer_tag: k.tag,
    exclusive: k.exclusive,
    prefetch_count: k.prefetch,
    queue: { name: k.queue.name, vhost: c.vhost },
  };
}

/**
 * RabbitMQ's rule: administrators and monitors see every connection and channel; other users only their own. With
 * `vhost`, only that vhost's.
 */
function visible(p: Principal, c: CoreConnectionImpl, vhost?: string): boolean {
  return (p.isMonitor || c.user.name === p.name) && (vhost === undefined || c.vhost === vhost);
}

type ChannelRow = { connection: CoreConnectionImpl; channel: CoreChannelImpl };

export function registerConnectionRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;

  const byName = <T>(items: T[], name: (t: T) => string): T[] =>
    items.map((t) => ({ t, n: name(t) })).sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : 0)).map((x) => x.t);

  const connections = (p: Principal, vhost?: string): CoreConnectionImpl[] =>
    byName(broker.connections().filter((c) => visible(p, c, vhost)), connectionName);

  const channelRows = (conns: CoreConnectionImpl[]): ChannelRow[] => {
    const out: ChannelRow[] = [];
    for (const connection of conns) {
      const chans = [...connection.channels].sort((a, b) => channelNumber(a) - channelNumber(b));
      for (const channel of chans) out.push({ connection, channel });
    }
    return out;
  };
  const listChannels = (query: Query, rows: ChannelRow[]) =>
    answerList(query, rows, (row) => formatChannel(ctx, row.connection, row.channel), (row) => `${connectionName(row.connection)} (${channelNumber(row.channel)})`);

  const vhostOr404 = (p: Principal, vhost: string): void => {
    p.seeVhost(vhost);
  };

  /** The connection named `name`: 404 when there is none, 401 when it is someone else's and the user is no monitor. */
  const connectionOf = (p: Principal, name: string): CoreConnectionImpl => {
    const c = broker.connections().find((x) => connectionName(x) === name);
    if (c === undefined) throw notFound();
    if (!visible(p, c)) throw notAuthorisedFor('User not authorised to access object');
    return c;
  };

  const listConnections = (query: Query, conns: CoreConnectionImpl[]) =>
    answerList(query, conns, (c) => formatConnection(ctx, c), connectionName, (c, col) => (col === 'name' ? connectionName(c) : col === 'vhost' ? c.vhost : col === 'user' ? c.user.name : undefined));

  r.resource('/api/connections', { GET: (req) => listConnections(req.query, connections(req.principal)) });

  r.resource('/api/vhosts/:vhost/connections', {
    GET: (req) => {
      const vhost = req.params['vhost']!;
      vhostOr404(req.principal, vhost);
      return listConnections(req.query, connections(req.principal, vhost));
    },
  });

  r.resource('/api/connections/:name', {
    GET: (req) => answerOne(req.query, formatConnection(ctx, connectionOf(req.principal, req.params['name']!), true)),
    DELETE: (req) => {
      const c = connectionOf(req.principal, req.params['name']!);
      // RabbitMQ: an administrator closes any connection, any other user only its own.
      if (!req.principal.isAdmin && c.user.name !== req.principal.name) throw notAuthorisedFor('User not authorised to access object');
      const header = req.headers['x-reason'];
      const reason = (Array.isArray(header) ? header[0] : header) ?? DEFAULT_CLOSE_REASON;
      broker.closeConnection(c, reason === '' ? DEFAULT_CLOSE_REASON : reason, req.principal.name);
      return undefined;
    },
  });

  r.resource('/api/connections/:name/channels', {
    GET: (req) => listChannels(req.query, channelRows([connectionOf(req.principal, req.params['name']!)])),
  });

  r.resource('/api/channels', { GET: (req) => listChannels(req.query, channelRows(connections(req.principal))) });

  r.resource('/api/vhosts/:vhost/channels', {
    GET: (req) => {
      const vhost = req.params['vhost']!;
      vhostOr404(req.principal, vhost);
      return listChannels(req.query, channelRows(connections(req.principal, vhost)));
    },
  });

  r.resource('/api/channels/:name', {
    GET: (req) => {
      const name = req.params['name']!;
      for (const row of channelRows(broker.connections())) {
        if (`${connectionName(row.connection)} (${channelNumber(row.channel)})` !== name) continue;
        if (!visible(req.principal, row.connection)) throw notAuthorisedFor('User not authorised to access object');
        const json = formatChannel(ctx, row.connection, row.channel);
        json['consumer_details'] = [...row.channel.consumers()].map((k) => formatConsumer(ctx, row.connection, row.channel, k));
        json['deliveries'] = [];
        json['publishes'] = [];
        return answerOne(req.query, json);
      }
      throw notFound();
    },
  });

  const consumers = (vhosts: (v: string) => boolean): Record<string, unknown>[] => {
    const out: Record<string, unknown>[] = [];
    for (const { connection, channel } of channelRows(broker.connections())) {
      if (!vhosts(connection.vhost)) continue;
      for (const k of channel.consumers()) out.push(formatConsumer(ctx, connection, channel, k));
    }
    return out;
  };
  // RabbitMQ lists the consumers of every vhost the user may see (not only its own connections').
  r.resource('/api/consumers', {
    GET: (req) => answerList(req.query, consumers((v) => req.principal.canSeeVhost(v)), (k) => k, (k) => String(k['consumer_tag'])),
  });
  r.resource('/api/consumers/:vhost', {
    GET: (req) => {
      const vhost = req.params['vhost']!;
      vhostOr404(req.principal, vhost);
      return answerList(req.query, consumers((v) => v === vhost), (k) => k, (k) => String(k['consumer_tag']));
    },
  });
}
