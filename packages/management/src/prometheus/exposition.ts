/**
 * The Prometheus text exposition of rabbitmq_prometheus 3.10: the same family names, types and labels, so the
 * RabbitMQ-Overview Grafana dashboard's queries work against Warren. Three views, as the plugin has:
 * `/metrics` (aggregated: one sample per family), `/metrics/per-object` (queue families per `{vhost,queue}`,
 * connection families per connection) and `/metrics/detailed?family=...&vhost=...` (the chosen family groups, with the
 * `rabbitmq_detailed_` prefix).
 *
 * Rendering is an async generator of text chunks of about {@link CHUNK_BYTES}; it yields to the event loop
 * (setImmediate) between chunks, so scraping 100,000 queues per object never stalls message flow.
 */
import { readdirSync } from 'node:fs';
import { QUEUE_TYPES, type Broker, type DeliveryCounters, type ProtocolCounters, type Queue } from '@warren/core';
import type { ManagementContext } from '../context.js';
import { RABBITMQ_API_VERSION } from '../routes/overview.js';

/** Text collected before a chunk is handed out (and the event loop gets a turn). */
export const CHUNK_BYTES = 64 * 1024;

/** What to render. */
export type ExpositionView =
  | { kind: 'aggregated' }
  | { kind: 'per-object' }
  | { kind: 'detailed'; families: readonly string[]; vhosts: readonly string[] | undefined };

/** rabbitmq_prometheus's protocol label: AMQP 0-9-1 is 'amqp091'; the others keep Warren's name. */
export function protocolLabel(protocol: string): string {
  return protocol === 'amqp' ? 'amqp091' : protocol;
}

/** The detailed family groups Warren answers (rabbitmq_prometheus's names). */
export const DETAILED_FAMILIES = [
  'connection_churn_metrics',
  'queue_coarse_metrics',
  'queue_consumer_count',
  'queue_metrics',
  'auth_attempt_metrics',
] as const;

type Labels = readonly (readonly [string, string])[];

const NEEDS_ESCAPE = /[\\"\n]/;

function escapeLabel(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

/** Collects text and hands it out in chunks. */
class ChunkBuffer {
  text = '';
  #help = new Set<string>();

  family(name: string, type: 'counter' | 'gauge' | 'untyped', help: string): void {
    if (this.#help.has(name)) return;
    this.#help.add(name);
    this.text += `# TYPE ${name} ${type}\n# HELP ${name} ${help}\n`;
  }

  sample(name: string, labels: Labels, value: number): void {
    this.sampleText(name, labelText(labels), value);
  }

  /** A sample whose label text (`{k="v",...}`) is already written. */
  sampleText(name: string, labels: string, value: number): void {
    this.text += `${name}${labels} ${Number.isFinite(value) ? value : 0}\n`;
  }

  get full(): boolean {
    return this.text.length >= CHUNK_BYTES;
  }

  take(): string {
    const t = this.text;
    this.text = '';
    return t;
  }
}

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

interface QueueFamily {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  value: (q: Queue) => number;
}

/** The per-queue families, in rabbitmq_prometheus's order (queue_coarse_metrics, queue_consumer_count, queue_metrics). */
const QUEUE_FAMILIES: readonly (QueueFamily & { group: string })[] = [
  { group: 'queue_coarse_metrics', name: 'queue_messages_ready', type: 'gauge', help: 'Messages ready for consumers', value: (q) => q.messageCount },
  { group: 'queue_coarse_metrics', name: 'queue_messages_unacked', type: 'gauge', help: 'Messages delivered and not yet acknowledged', value: (q) => q.unacked },
  { group: 'queue_coarse_metrics', name: 'queue_messages', type: 'gauge', help: 'Ready plus unacknowledged messages', value: (q) => q.messageCount + q.unacked },
  { group: 'queue_coarse_metrics', name: 'queue_process_reductions_total', type: 'counter', help: 'Work done by the queue (Warren: always 0)', value: () => 0 },
  { group: 'queue_consumer_count', name: 'queue_consumers', type: 'gauge', help: 'Consumers of the queue', value: (q) => q.consumers.length },
  { group: 'queue_metrics', name: 'queue_messages_bytes', type: 'gauge', help: 'Bytes of ready messages', value: (q) => q.store.byteCount },
  { group: 'queue_metrics', name: 'queue_messages_ready_bytes', type: 'gauge', help: 'Bytes of ready messages', value: (q) => q.store.byteCount },
  { group: 'queue_metrics', name: 'queue_messages_persistent', type: 'gauge', help: 'Ready messages of a durable queue', value: (q) => (q.durable ? q.messageCount : 0) },
  { group: 'queue_metrics', name: 'queue_messages_published_total', type: 'counter', help: 'Messages enqueued', value: (q) => q.stats.publish },
];

/**
 * Render the exposition of `view` as text chunks, yielding to the event loop between them. The values are read live as
 * the walk goes (a queue deleted mid-scrape is skipped).
 */
export async function* renderExposition(ctx: ManagementContext, view: ExpositionView): AsyncGenerator<string> {
  const b = new ChunkBuffer();
  const broker = ctx.broker;
  const detailed = view.kind === 'detailed';
  const prefix = detailed ? 'rabbitmq_detailed_' : 'rabbitmq_';
  const want = (group: string): boolean => !detailed || view.families.includes(group);
  const vhostOk = (v: string): boolean => !detailed || view.vhosts === undefined || view.vhosts.includes(v);

  if (!detailed) nodeFamilies(ctx, b);
  if (want('connection_churn_metrics')) churnFamilies(broker, b, prefix);
  if (!detailed) {
    b.family('rabbitmq_auth_attempts_total', 'counter', 'Authentication attempts');
    for (const p of broker.stats.protocols()) {
      if (p.authSucceeded + p.authFailed > 0) b.sample('rabbitmq_auth_attempts_total', [['protocol', protocolLabel(p.protocol)]], p.authSucceeded + p.authFailed);
    }
  }
  if (want('auth_attempt_metrics')) authFamilies(broker, b, detailed ? prefix : 'rabbitmq_', detailed);

  // Queue families: aggregated sums in /metrics, one sample per queue otherwise.
  const groups = detailed ? view.families : ['queue_coarse_metrics', 'queue_consumer_count', 'queue_metrics'];
  if (view.kind === 'aggregated') {
    // One walk for every family's sum, yielding as the per-object walk does.
    const sums = new Float64Array(QUEUE_FAMILIES.length);
    let n = 0;
    for (const vn of broker.vhostNames()) {
      for (const q of broker.vhost(vn)?.queues.values() ?? []) {
        for (let i = 0; i < QUEUE_FAMILIES.length; i++) sums[i]! += QUEUE_FAMILIES[i]!.value(q);
        if (++n % 2000 === 0) await yieldTurn();
      }
    }
    QUEUE_FAMILIES.forEach((f, i) => {
      b.family(prefix + f.name, f.type, f.help);
      b.sample(prefix + f.name, [], sums[i]!);
    });
  }
  // Each queue's `{vhost,queue}` label text is written once per scrape, not once per family.
  const queueLabels = new Map<Queue, string>();
  const labelsOf = (vn: string, q: Queue): string => {
    let t = queueLabels.get(q);
    if (t === undefined) {
      t = labelText([['vhost', vn], ['queue', q.name]]);
      queueLabels.set(q, t);
    }
    return t;
  };
  for (const f of QUEUE_FAMILIES) {
    if (view.kind === 'aggregated' || !groups.includes(f.group)) continue;
    const name = prefix + f.name;
    b.family(name, f.type, f.help);
    for (const vn of broker.vhostNames()) {
      if (!vhostOk(vn)) continue;
      const v = broker.vhost(vn);
      if (v === undefined) continue;
      for (const q of v.queues.values()) {
        if (q.deleted) continue;
        b.sampleText(name, labelsOf(vn, q), f.value(q));
        if (b.full) {
          yield b.take();
          await yieldTurn();
        }
      }
    }
  }

  if (view.kind === 'per-object') {
    b.family('rabbitmq_connection_channels', 'gauge', 'Channels on a connection');
    for (const c of broker.connections()) {
      // rabbitmq_prometheus 3.10 labels connection families `channel` (with the connection's process id).
      b.sample('rabbitmq_connection_channels', [['channel', c.info.id]], c.channelCount);
      if (b.full) {
        yield b.take();
        await yieldTurn();
      }
    }
  }

  if (!detailed) {
    let connections = 0;
    let channels = 0;
    for (const c of broker.connections()) {
      connections++;
      channels += c.channelCount;
    }
    let queues = 0;
    let consumers = 0;
    for (const vn of broker.vhostNames()) {
      for (const q of broker.vhost(vn)?.queues.values() ?? []) {
        queues++;
        consumers += q.consumers.length;
      }
    }
    b.family('rabbitmq_connections', 'gauge', 'Connections open');
    b.sample('rabbitmq_connections', [], connections);
    b.family('rabbitmq_channels', 'gauge', 'Channels open');
    b.sample('rabbitmq_channels', [], channels);
    b.family('rabbitmq_consumers', 'gauge', 'Consumers');
    b.sample('rabbitmq_consumers', [], consumers);
    b.family('rabbitmq_queues', 'gauge', 'Queues');
    b.sample('rabbitmq_queues', [], queues);
  }
  b.family('rabbitmq_build_info', 'untyped', 'Versions of the broker and the exporter');
  b.sample(
    'rabbitmq_build_info',
    [
      ['rabbitmq_version', RABBITMQ_API_VERSION],
      ['prometheus_plugin_version', RABBITMQ_API_VERSION],
      ['prometheus_client_version', ctx.version],
      ['erlang_version', process.version],
    ],
    1,
  );
  b.family('rabbitmq_identity_info', 'untyped', 'Node and cluster names');
  b.sample(
    'rabbitmq_identity_info',
    [
      ['rabbitmq_node', ctx.nodeName],
      ['rabbitmq_cluster', ctx.clusterName],
      ['rabbitmq_cluster_permanent_id', ctx.clusterName],
    ],
    1,
  );
  if (!detailed) globalFamilies(broker, b);
  yield b.take();
}

function nodeFamilies(ctx: ManagementContext, b: ChunkBuffer): void {
  const alarms = ctx.broker.alarms;
  const res = ctx.resources?.();
  b.family('rabbitmq_alarms_file_descriptor_limit', 'untyped', 'Whether the file descriptor limit alarm is in effect');
  b.sample('rabbitmq_alarms_file_descriptor_limit', [], 0);
  b.family('rabbitmq_alarms_free_disk_space_watermark', 'untyped', 'Whether the free disk space alarm is in effect');
  b.sample('rabbitmq_alarms_free_disk_space_watermark', [], alarms.includes('disk') ? 1 : 0);
  b.family('rabbitmq_alarms_memory_used_watermark', 'untyped', 'Whether the memory alarm is in effect');
  b.sample('rabbitmq_alarms_memory_used_watermark', [], alarms.includes('memory') ? 1 : 0);
  b.family('rabbitmq_process_open_fds', 'gauge', 'Open file descriptors');
  b.sample('rabbitmq_process_open_fds', [], openFds());
  b.family('rabbitmq_process_resident_memory_bytes', 'gauge', 'Resident memory of the broker process');
  b.sample('rabbitmq_process_resident_memory_bytes', [], process.memoryUsage.rss());
  b.family('rabbitmq_disk_space_available_bytes', 'gauge', 'Free disk space of the data directory');
  b.sample('rabbitmq_disk_space_available_bytes', [], res?.diskFree ?? 0);
  b.family('rabbitmq_process_max_fds', 'gauge', 'File descriptor limit');
  b.sample('rabbitmq_process_max_fds', [], res?.fdTotal ?? 0);
  b.family('rabbitmq_resident_memory_limit_bytes', 'gauge', 'Memory high watermark');
  b.sample('rabbitmq_resident_memory_limit_bytes', [], res?.memLimit ?? 0);
  b.family('rabbitmq_disk_space_available_limit_bytes', 'gauge', 'Free disk space low watermark');
  b.sample('rabbitmq_disk_space_available_limit_bytes', [], res?.diskFreeLimit ?? 0);
  b.family('rabbitmq_erlang_uptime_seconds', 'gauge', 'Time since the broker started');
  b.sample('rabbitmq_erlang_uptime_seconds', [], Math.max(0, (Date.now() - ctx.startedAt) / 1000));
}

function churnFamilies(broker: Broker, b: ChunkBuffer, prefix: string): void {
  const s = broker.stats;
  const rows: [string, string, number][] = [
    ['connections_opened_total', 'Connections opened', s.connectionCreated],
    ['connections_closed_total', 'Connections closed', s.connectionClosed],
    ['channels_opened_total', 'Channels opened', s.channelCreated],
    ['channels_closed_total', 'Channels closed', s.channelClosed],
    ['queues_declared_total', 'Queues declared', s.queueDeclared],
    ['queues_created_total', 'Queues created', s.queueCreated],
    ['queues_deleted_total', 'Queues deleted', s.queueDeleted],
  ];
  for (const [name, help, value] of rows) {
    b.family(prefix + name, 'counter', help);
    b.sample(prefix + name, [], value);
  }
}

function authFamilies(broker: Broker, b: ChunkBuffer, prefix: string, withTotal: boolean): void {
  const protocols = broker.stats.protocols().filter((p) => p.authSucceeded + p.authFailed > 0);
  if (withTotal) {
    b.family(`${prefix}auth_attempts_total`, 'counter', 'Authentication attempts');
    for (const p of protocols) b.sample(`${prefix}auth_attempts_total`, [['protocol', protocolLabel(p.protocol)]], p.authSucceeded + p.authFailed);
  }
  b.family(`${prefix}auth_attempts_succeeded_total`, 'counter', 'Successful authentication attempts');
  for (const p of protocols) b.sample(`${prefix}auth_attempts_succeeded_total`, [['protocol', protocolLabel(p.protocol)]], p.authSucceeded);
  b.family(`${prefix}auth_attempts_failed_total`, 'counter', 'Failed authentication attempts');
  for (const p of protocols) b.sample(`${prefix}auth_attempts_failed_total`, [['protocol', protocolLabel(p.protocol)]], p.authFailed);
}

/** rabbitmq_global_*: per protocol (AMQP 0-9-1 always listed), delivery families also per queue type. */
function globalFamilies(broker: Broker, b: ChunkBuffer): void {
  const stats = broker.stats;
  stats.protocol('amqp');
  const protocols = stats.protocols().filter((p) => p.protocol !== 'http');
  const byType: [string, string, (d: DeliveryCounters) => number][] = [
    ['acknowledged', 'Messages acknowledged by consumers', (d) => d.acknowledged],
    ['delivered_consume_auto_ack', 'Messages delivered to basic.consume consumers with automatic acknowledgement', (d) => d.deliveredConsumeAutoAck],
    ['delivered_consume_manual_ack', 'Messages delivered to basic.consume consumers with manual acknowledgement', (d) => d.deliveredConsumeManualAck],
    ['delivered_get_auto_ack', 'Messages fetched by basic.get with automatic acknowledgement', (d) => d.deliveredGetAutoAck],
    ['delivered_get_manual_ack', 'Messages fetched by basic.get with manual acknowledgement', (d) => d.deliveredGetManualAck],
    ['delivered', 'Messages delivered to consumers or fetched', (d) => d.delivered],
    ['get_empty', 'basic.get calls that found the queue empty', (d) => d.getEmpty],
    ['redelivered', 'Messages delivered again', (d) => d.redelivered],
  ];
  const perProtocol: [string, string, (p: ProtocolCounters) => number][] = [
    ['confirmed', 'Publishes confirmed to the publisher', (p) => p.confirmed],
    ['received_confirm', 'Messages received from publishers that expect a confirm', (p) => p.receivedConfirm],
    ['received', 'Messages received from publishers', (p) => p.received],
    ['routed', 'Messages routed to at least one queue', (p) => p.routed],
    ['unroutable_dropped', 'Unroutable messages dropped', (p) => p.unroutableDropped],
    ['unroutable_returned', 'Unroutable mandatory messages returned to the publisher', (p) => p.unroutableReturned],
  ];
  // Families in name order, as rabbitmq_prometheus writes them.
  const all = [
    ...byType.map(([n, h, f]) => ({ n, h, write: (name: string) => {
      for (const p of protocols) {
        QUEUE_TYPES.forEach((t, i) => b.sample(name, [['protocol', protocolLabel(p.protocol)], ['queue_type', `rabbit_${t}_queue`]], f(p.byType[i as 0 | 1 | 2])));
      }
    } })),
    ...perProtocol.map(([n, h, f]) => ({ n, h, write: (name: string) => {
      for (const p of protocols) b.sample(name, [['protocol', protocolLabel(p.protocol)]], f(p));
    } })),
  ].sort((x, y) => (x.n < y.n ? -1 : x.n > y.n ? 1 : 0));
  for (const { n, h, write } of all) {
    const name = `rabbitmq_global_messages_${n}_total`;
    b.family(name, 'counter', h);
    write(name);
  }
}
