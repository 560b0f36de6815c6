/**
 * The list_* commands: each reads one management API collection and prints the info keys rabbitmqctl prints, with
 * its default columns and its wording. Keys the API does not carry under rabbitmqctl's name (pids, `protocol` as an
 * Erlang tuple, `leader`) are derived here.
 */
import { seg } from './client.js';
import type { Command, CommandContext } from './context.js';
import { CtlError, EX_DATAERR, EX_UNAVAILABLE, UsageError } from './errors.js';
import { emitRows, info } from './output.js';

type Row = Record<string, unknown>;

const ALL = Number.POSITIVE_INFINITY;
const OPT = ' [--timeout <timeout>]';

/** Pids rabbitmqctl prints are Erlang process ids; Warren has none, so it derives stable ones from the peer port. */
export function connectionPid(node: string, c: Row): string {
  return `<${node}.1.${String(c['peer_port'] ?? 0)}.0>`;
}
function channelPid(node: string, details: Row | undefined, number: unknown): string {
  return `<${node}.2.${String(details?.['peer_port'] ?? 0)}.${String(number ?? 0)}>`;
}

/** The API's protocol label as rabbitmqctl prints it ({0,9,1} for AMQP 0-9-1). */
function protocolTerm(p: unknown): string {
  if (p === 'AMQP 0-9-1') return '{0,9,1}';
  if (p === 'AMQP 0-9-1 (incl. extensions)') return '{0,9,1}';
  return String(p ?? '');
}

/** Rows from a GET that answers 404 for an unknown vhost: rabbitmqctl lists nothing then, and exits 0. */
async function rowsOrNone(ctx: CommandContext, path: string): Promise<Row[]> {
  const a = await ctx.client.request('GET', path);
  if (a.status === 404) return [];
  if (a.status >= 300) throw new CtlError(EX_UNAVAILABLE, `Error:\n${String((a.body as Row | undefined)?.['reason'] ?? a.text)}`);
  return Array.isArray(a.body) ? (a.body as Row[]) : [];
}

/** The column arguments, validated against the command's info keys (usage error 64 as rabbitmqctl). */
export function pickColumns(ctx: CommandContext, cmd: Command, defaults: readonly string[]): string[] {
  const wanted = ctx.args.length === 0 ? [...defaults] : ctx.args.flatMap((a) => a.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const bad = wanted.filter((c) => !(cmd.columns ?? []).includes(c));
  if (bad.length > 0) throw new UsageError(`Info key(s) ${bad.join(',')} are not supported`);
  return wanted;
}

const QUEUE_KEYS = [
  'arguments', 'auto_delete', 'consumer_capacity', 'consumer_utilisation', 'consumers', 'disk_reads', 'disk_writes',
  'durable', 'exclusive', 'exclusive_consumer_pid', 'exclusive_consumer_tag', 'head_message_timestamp', 'leader',
  'members', 'memory', 'message_bytes', 'message_bytes_persistent', 'message_bytes_ram', 'message_bytes_ready',
  'message_bytes_unacknowledged', 'messages', 'messages_persistent', 'messages_ram', 'messages_ready',
  'messages_ready_ram', 'messages_unacknowledged', 'messages_unacknowledged_ram', 'name', 'online', 'owner_pid', 'pid',
  'policy', 'slave_pids', 'state', 'synchronised_slave_pids', 'type',
] as const;

function queueRow(node: string, q: Row): Row {
  const pid = `<${node}.3.${Math.abs(hash(`${String(q['vhost'])}/${String(q['name'])}`))}.0>`;
  const owner = q['owner_pid_details'] as Row | undefined;
  const ecd = q['exclusive_consumer_details'] as Row | undefined;
  return {
    ...q,
    consumer_capacity: q['consumer_capacity'] ?? q['consumer_utilisation'] ?? 0,
    consumer_utilisation: q['consumer_utilisation'] ?? '',
    disk_reads: q['disk_reads'] ?? 0,
    disk_writes: q['disk_writes'] ?? 0,
    exclusive_consumer_pid: ecd === undefined ? '' : channelPid(node, ecd, ecd['number']),
    exclusive_consumer_tag: q['exclusive_consumer_tag'] ?? '',
    head_message_timestamp: q['head_message_timestamp'] ?? '',
    leader: q['node'] ?? node,
    members: [q['node'] ?? node],
    online: [q['node'] ?? node],
    owner_pid: owner === undefined ? '' : connectionPid(node, owner),
    pid,
    policy: q['policy'] ?? '',
    slave_pids: '',
    synchronised_slave_pids: '',
    state: q['state'] ?? 'running',
    type: q['type'] ?? 'classic',
  };
}

/** A small string hash for derived queue pids (stable across calls). */
function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

function listCommand(spec: {
  name: string;
  usage: string;
  description: string;
  keys: readonly string[];
  defaults: readonly string[];
  heading: (ctx: CommandContext) => string[];
  rows: (ctx: CommandContext) => Promise<Row[]>;
  options?: readonly string[];
}): Command {
  const cmd: Command = {
    name: spec.name,
    usage: spec.usage,
    description: spec.description,
    group: 'Monitoring, observability and health checks',
    minArgs: 0,
    maxArgs: ALL,
    columns: spec.keys,
    help: `<column>\n\tmust be one of ${[...spec.keys].sort().join(', ')}\n`,
    ...(spec.options === undefined ? {} : { options: spec.options }),
    async run(ctx) {
      const columns = pickColumns(ctx, cmd, spec.defaults);
      for (const line of spec.heading(ctx)) info(ctx.out, line);
      emitRows(ctx.out, columns, await spec.rows(ctx));
      return 0;
    },
  };
  return cmd;
}

const timeoutLine = (ctx: CommandContext): string => `Timeout: ${ctx.timeoutSeconds.toFixed(1)} seconds ...`;

export const listQueues = listCommand({
  name: 'list_queues',
  usage: `list_queues [--vhost <vhost>] [--online] [--offline] [--local] [--no-table-headers] [<column>, ...]${OPT}`,
  description: 'Lists queues and their properties',
  keys: QUEUE_KEYS,
  defaults: ['name', 'messages'],
  options: ['online', 'offline', 'local'],
  heading: (ctx) => [timeoutLine(ctx), `Listing queues for vhost ${ctx.vhost} ...`],
  async rows(ctx) {
    if (ctx.options.has('offline')) return [];
    const node = await ctx.node();
    return (await rowsOrNone(ctx, `/api/queues/${seg(ctx.vhost)}`)).map((q) => queueRow(node, q));
  },
});

export const listExchanges = listCommand({
  name: 'list_exchanges',
  usage: `list_exchanges [--vhost <vhost>] [--no-table-headers] [<column>, ...]${OPT}`,
  description: 'Lists exchanges',
  keys: ['arguments', 'auto_delete', 'durable', 'internal', 'name', 'policy', 'type'],
  defaults: ['name', 'type'],
  heading: (ctx) => [`Listing exchanges for vhost ${ctx.vhost} ...`],
  async rows(ctx) {
    return (await rowsOrNone(ctx, `/api/exchanges/${seg(ctx.vhost)}`)).map((e) => ({ ...e, policy: e['policy'] ?? '' }));
  },
});

export const listBindings = listCommand({
  name: 'list_bindings',
  usage: `list_bindings [--vhost <vhost>] [--no-table-headers] [<column>, ...]${OPT}`,
  description: 'Lists all bindings on a vhost',
  keys: ['arguments', 'destination_kind', 'destination_name', 'routing_key', 'source_kind', 'source_name'],
  defaults: ['source_name', 'source_kind', 'destination_name', 'destination_kind', 'routing_key', 'arguments'],
  heading: (ctx) => [`Listing bindings for vhost ${ctx.vhost}...`],
  async rows(ctx) {
    return (await rowsOrNone(ctx, `/api/bindings/${seg(ctx.vhost)}`)).map((b) => ({
      ...b,
      source_name: b['source'],
      source_kind: 'exchange',
      destination_name: b['destination'],
      destination_kind: b['destination_type'],
    }));
  },
});

const CONNECTION_KEYS = [
  'auth_mechanism', 'channel_max', 'channels', 'client_properties', 'connected_at', 'frame_max', 'host', 'name',
  'peer_cert_issuer', 'peer_cert_subject', 'peer_cert_validity', 'peer_host', 'peer_port', 'pid', 'port', 'protocol',
  'recv_cnt', 'recv_oct', 'send_cnt', 'send_oct', 'send_pend', 'ssl', 'ssl_cipher', 'ssl_hash', 'ssl_key_exchange',
  'ssl_protocol', 'state', 'timeout', 'user', 'user_who_performed_action', 'vhost',
] as const;

/** Every connection the API lists, with rabbitmqctl's derived keys. */
export async function connectionRows(ctx: CommandContext): Promise<Row[]> {
  const node = await ctx.node();
  return (await rowsOrNone(ctx, '/api/connections')).map((c) => ({
    ...c,
    pid: connectionPid(node, c),
    protocol: protocolTerm(c['protocol']),
    user_who_performed_action: c['user'],
    ssl_cipher: c['ssl_cipher'] ?? '',
    ssl_hash: c['ssl_hash'] ?? '',
    ssl_key_exchange: c['ssl_key_exchange'] ?? '',
    ssl_protocol: c['ssl_protocol'] ?? '',
    peer_cert_issuer: c['peer_cert_issuer'] ?? '',
    peer_cert_subject: c['peer_cert_subject'] ?? '',
    peer_cert_validity: c['peer_cert_validity'] ?? '',
  }));
}

export const listConnections = listCommand({
  name: 'list_connections',
  usage: `list_connections [--no-table-headers] [<column>, ...]${OPT}`,
  description: 'Lists AMQP 0.9.1 connections for the node',
  keys: CONNECTION_KEYS,
  defaults: ['user', 'peer_host', 'peer_port', 'state'],
  heading: () => ['Listing connections ...'],
  rows: connectionRows,
});

export const listChannels = listCommand({
  name: 'list_channels',
  usage: `list_channels [--no-table-headers] [<column>, ...]${OPT}`,
  description: 'Lists all channels in the node',
  keys: [
    'acks_uncommitted', 'confirm', 'connection', 'consumer_count', 'global_prefetch_count', 'messages_unacknowledged',
    'messages_uncommitted', 'messages_unconfirmed', 'name', 'number', 'pid', 'prefetch_count', 'transactional', 'user',
    'vhost',
  ],
  defaults: ['pid', 'user', 'consumer_count', 'messages_unacknowledged'],
  heading: () => ['Listing channels ...'],
  async rows(ctx) {
    const node = await ctx.node();
    return (await rowsOrNone(ctx, '/api/channels')).map((ch) => {
      const cd = ch['connection_details'] as Row | undefined;
      return {
        ...ch,
        pid: channelPid(node, cd, ch['number']),
        connection: cd === undefined ? '' : connectionPid(node, cd),
      };
    });
  },
});

export const listConsumers = listCommand({
  name: 'list_consumers',
  usage: `list_consumers [--vhost <vhost>] [--no-table-headers] [<column>, ...]${OPT}`,
  description: 'Lists all consumers for a vhost',
  keys: ['ack_required', 'active', 'activity_status', 'arguments', 'channel_pid', 'consumer_tag', 'prefetch_count', 'queue_name'],
  defaults: ['queue_name', 'channel_pid', 'consumer_tag', 'ack_required', 'prefetch_count', 'active', 'arguments'],
  heading: (ctx) => [`Listing consumers in vhost ${ctx.vhost} ...`],
  async rows(ctx) {
    const node = await ctx.node();
    return (await rowsOrNone(ctx, `/api/consumers/${seg(ctx.vhost)}`)).map((c) => {
      const cd = c['channel_details'] as Row | undefined;
      return {
        ...c,
        queue_name: (c['queue'] as Row | undefined)?.['name'],
        channel_pid: channelPid(node, cd, cd?.['number']),
        activity_status: c['activity_status'] ?? 'up',
      };
    });
  },
});

export const listUsers = listCommand({
  name: 'list_users',
  usage: 'list_users [--no-table-headers]',
  description: 'List user names and tags',
  keys: ['tags', 'user'],
  defaults: ['user', 'tags'],
  heading: () => ['Listing users ...'],
  async rows(ctx) {
    return ((await ctx.client.get('/api/users')) as Row[]).map((u) => ({ user: u['name'], tags: u['tags'] }));
  },
});

export const listVhosts = listCommand({
  name: 'list_vhosts',
  usage: 'list_vhosts [--no-table-headers] [<column>, ...]',
  description: 'Lists virtual hosts',
  keys: ['cluster_state', 'default_queue_type', 'description', 'metadata', 'name', 'tags', 'tracing'],
  defaults: ['name'],
  heading: () => ['Listing vhosts ...'],
  async rows(ctx) {
    const node = await ctx.node();
    return ((await ctx.client.get('/api/vhosts')) as Row[]).map((v) => ({
      ...v,
      description: v['description'] ?? '',
      default_queue_type: v['default_queue_type'] ?? 'undefined',
      cluster_state: [`{${node},running}`],
    }));
  },
});
// rabbitmqctl lists cluster_state as [{node,running}]: tableValue writes the one-element list as "[{node,running}]".

/** `Virtual host 'x' does not exist` on stderr, exit 65: rabbitmqctl's answer for several vhost-scoped commands. */
export function noVhost65(vhost: string): CtlError {
  return new CtlError(EX_DATAERR, `Virtual host '${vhost}' does not exist`);
}

export const LIST_COMMANDS: readonly Command[] = [
  listQueues, listExchanges, listBindings, listConnections, listChannels, listConsumers, listUsers, listVhosts,
];

export { emitRows };
