/**
 * `status`: rabbitmqctl's node report (text sections, or one JSON object with `--formatter json`), built from
 * /api/overview and /api/nodes/<node>. Erlang-only facts (processes, run queue, crypto library) are what Warren's API
 * reports for them.
 */
import { seg } from './client.js';
import type { Command, CommandContext } from './context.js';

type Row = Record<string, unknown>;

const bold = (s: string): string => `\u001b[1m${s}\u001b[0m`;
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : []);
const gb = (bytes: number): string => `${Math.round((bytes / 1e9) * 10_000) / 10_000} gb`;

/** The facts the report needs, gathered from the API. */
async function gather(ctx: CommandContext): Promise<{ overview: Row; node: Row }> {
  const overview = (await ctx.client.get('/api/overview')) as Row;
  const node = (await ctx.client.get(`/api/nodes/${seg(str(overview['node']))}`)) as Row;
  return { overview, node };
}

function statusJson(overview: Row, node: Row): Row {
  const totals = (overview['object_totals'] as Row | undefined) ?? {};
  const name = str(overview['node']);
  const listeners = ((overview['listeners'] as Row[] | undefined) ?? []).map((l) => ({
    interface: l['ip_address'],
    node: name,
    port: l['port'],
    protocol: l['protocol'],
    purpose: purpose(str(l['protocol'])),
  }));
  const alarms: string[] = [];
  if (node['mem_alarm'] === true) alarms.push('memory');
  if (node['disk_free_alarm'] === true) alarms.push('disk');
  return {
    active_plugins: list(node['enabled_plugins']),
    alarms,
    config_files: list(node['config_files']),
    crypto_lib_version: '',
    data_directory: str(node['db_dir']),
    disk_free: num(node['disk_free']),
    disk_free_limit: num(node['disk_free_limit']),
    enabled_plugin_file: str(node['enabled_plugin_file']),
    erlang_version: str(overview['erlang_full_version'] ?? overview['erlang_version']),
    file_descriptors: {
      sockets_limit: num(node['sockets_total']),
      sockets_used: num(node['sockets_used']),
      total_limit: num(node['fd_total']),
      total_used: num(node['fd_used']),
    },
    is_under_maintenance: false,
    listeners,
    log_files: list(node['log_files']),
    memory: { strategy: 'rss', total: { rss: num(node['mem_used']) } },
    net_ticktime: num(node['net_ticktime']),
    os: 'Linux',
    pid: num(node['os_pid'] === undefined ? process.pid : Number(node['os_pid'])),
    processes: { limit: num(node['proc_total']), used: num(node['proc_used']) },
    product_name: str(overview['product_name']),
    product_version: str(overview['product_version']),
    rabbitmq_version: str(overview['rabbitmq_version']),
    raft_data_directory: '',
    release_series_support_status: 'supported',
    run_queue: num(node['run_queue']),
    totals: {
      virtual_host_count: num(totals['vhosts'] ?? 0),
      connection_count: num(totals['connections']),
      queue_count: num(totals['queues']),
    },
    uptime: Math.floor(num(node['uptime']) / 1000),
    vm_memory_calculation_strategy: 'rss',
    vm_memory_high_watermark_limit: num(node['mem_limit']),
    vm_memory_high_watermark_setting: { relative: num(node['vm_memory_high_watermark'] ?? 0.4) },
  };
}

/** rabbitmqctl's "purpose" column for a listener protocol. */
function purpose(protocol: string): string {
  switch (protocol) {
    case 'amqp': return 'AMQP 0-9-1 and AMQP 1.0';
    case 'amqp/ssl': return 'AMQP 0-9-1 and AMQP 1.0 over TLS';
    case 'http': return 'HTTP API';
    case 'https': return 'HTTP API over TLS (HTTPS)';
    case 'mqtt': return 'MQTT';
    case 'mqtt/ssl': return 'MQTT over TLS';
    case 'stomp': return 'STOMP';
    case 'stomp/ssl': return 'STOMP over TLS';
    case 'http/web-stomp': return 'STOMP over WebSockets';
    case 'http/web-mqtt': return 'MQTT over WebSockets';
    case 'http/prometheus': return 'Prometheus exporter API over HTTP';
    default: return protocol;
  }
}

function statusText(s: Row, nodeName: string, node: Row): string {
  const lines: string[] = [];
  const fds = s['file_descriptors'] as Row;
  const totals = s['totals'] as Row;
  const procs = s['processes'] as Row;
  const section = (title: string): void => {
    lines.push(bold(title), '');
  };
  section('Runtime');
  lines.push(
    `OS PID: ${str(s['pid'])}`,
    `OS: ${str(s['os'])}`,
    `Uptime (seconds): ${str(s['uptime'])}`,
    'Is under maintenance?: false',
    `RabbitMQ version: ${str(s['rabbitmq_version'])}`,
    'RabbitMQ release series support status: supported',
    `Node name: ${nodeName}`,
    `Erlang configuration: ${str(s['erlang_version'])}`,
    `Crypto library: ${str(s['crypto_lib_version'])}`,
    `Erlang processes: ${str(procs['used'])} used, ${str(procs['limit'])} limit`,
    `Scheduler run queue: ${str(s['run_queue'])}`,
    `Cluster heartbeat timeout (net_ticktime): ${str(s['net_ticktime'])}`,
    '',
  );
  section('Plugins');
  lines.push(`Enabled plugin file: ${str(s['enabled_plugin_file'])}`, 'Enabled plugins:', '');
  for (const p of list(s['active_plugins'])) lines.push(` * ${p}`);
  lines.push('');
  section('Data directory');
  lines.push(`Node data directory: ${str(s['data_directory'])}`, `Raft data directory: ${str(s['raft_data_directory'])}`, '');
  section('Config files');
  for (const f of list(s['config_files'])) lines.push(` * ${f}`);
  lines.push('');
  section('Log file(s)');
  for (const f of list(s['log_files'])) lines.push(` * ${f}`);
  lines.push('');
  section('Alarms');
  const alarms = list(s['alarms']);
  lines.push(...(alarms.length === 0 ? ['(none)'] : alarms.map((a) => `${a} alarm on node ${nodeName}`)), '');
  section('Memory');
  const limit = num(s['vm_memory_high_watermark_limit']);
  lines.push(
    `Total memory used: ${gb(num(node['mem_used']))}`,
    'Calculation strategy: rss',
    `Memory high watermark setting: ${str((s['vm_memory_high_watermark_setting'] as Row)['relative'])} of available memory, computed to: ${gb(limit)}`,
    '',
  );
  section('File Descriptors');
  lines.push(
    `Total: ${str(fds['total_used'])}, limit: ${str(fds['total_limit'])}`,
    `Sockets: ${str(fds['sockets_used'])}, limit: ${str(fds['sockets_limit'])}`,
    '',
  );
  section('Free Disk Space');
  lines.push(`Low free disk space watermark: ${gb(num(s['disk_free_limit']))}`, `Free disk space: ${gb(num(s['disk_free']))}`, '');
  section('Totals');
  lines.push(
    `Connection count: ${str(totals['connection_count'])}`,
    `Queue count: ${str(totals['queue_count'])}`,
    `Virtual host count: ${str(totals['virtual_host_count'])}`,
    '',
  );
  section('Listeners');
  for (const l of s['listeners'] as Row[]) {
    lines.push(`Interface: ${str(l['interface'])}, port: ${str(l['port'])}, protocol: ${str(l['protocol'])}, purpose: ${str(l['purpose'])}`);
  }
  return `${lines.join('\n')}\n`;
}

export const statusCommand: Command = {
  name: 'status',
  usage: 'status [--unit <unit>]',
  description: 'Displays status of a node',
  group: 'Monitoring, observability and health checks',
  minArgs: 0,
  maxArgs: 0,
  options: ['unit'],
  async run(ctx) {
    const { overview, node } = await gather(ctx);
    const s = statusJson(overview, node);
    if (ctx.out.formatter === 'json') {
      ctx.out.stdout(`${JSON.stringify(s)}\n`);
      return 0;
    }
    const name = str(overview['node']);
    if (!ctx.out.quiet && !ctx.out.silent) ctx.out.stdout(`Status of node ${name} ...\n`);
    ctx.out.stdout(statusText(s, name, node));
    return 0;
  },
};

/**
 * `cluster_status`: rabbitmqctl's sections (cluster name, disk and running nodes, alarms) from `/api/cluster`, plus
 * Warren's replication section: the leader and its epoch, the in-sync replicas, and each member's lag.
 */
export const clusterStatusCommand: Command = {
  name: 'cluster_status',
  usage: 'cluster_status',
  description: 'Displays all the nodes in the cluster grouped by node type, together with the currently running nodes',
  group: 'Cluster',
  minArgs: 0,
  maxArgs: 0,
  async run(ctx) {
    const view = (await ctx.client.get('/api/cluster')) as Row;
    const overview = (await ctx.client.get('/api/overview')) as Row;
    const members = ((view['members'] as Row[] | undefined) ?? []).map((m) => ({
      node: str(m['node']),
      leader: m['leader'] === true,
      inSync: m['inSync'] === true,
      lagChanges: m['lagChanges'],
      lagBytes: m['lagBytes'],
    }));
    const names = members.map((m) => m.node);
    const leader = view['leader'] as Row | undefined;
    const json = {
      cluster_name: str(overview['cluster_name']),
      disk_nodes: names,
      running_nodes: names,
      alarms: [],
      network_partitions: {},
      leader: leader === undefined ? null : str(leader['node']),
      epoch: view['epoch'] ?? null,
      in_sync_replicas: list(view['isr']),
      members,
    };
    if (ctx.out.formatter === 'json') {
      ctx.out.stdout(`${JSON.stringify(json)}\n`);
      return 0;
    }
    if (!ctx.out.quiet && !ctx.out.silent) ctx.out.stdout(`Cluster status of node ${str(view['node'])} ...\n`);
    const lines = [bold('Basics'), '', `Cluster name: ${json.cluster_name}`, '', bold('Disk Nodes'), '', ...names, '', bold('Running Nodes'), '', ...names, ''];
    lines.push(bold('Replication'), '', `Leader: ${json.leader ?? '(none)'}, epoch ${str(json.epoch)}`, `In-sync replicas: ${json.in_sync_replicas.join(', ')}`);
    for (const m of members) {
      const lag = m.lagChanges === undefined ? '' : `, lag ${str(m.lagChanges)} changes (${str(m.lagBytes)} bytes)`;
      lines.push(`${m.node}: ${m.leader ? 'leader' : 'follower'}, ${m.inSync ? 'in sync' : 'not in sync'}${lag}`);
    }
    lines.push('', bold('Alarms'), '', '(none)', '', bold('Network Partitions'), '', '(none)');
    ctx.out.stdout(`${lines.join('\n')}\n`);
    return 0;
  },
};
