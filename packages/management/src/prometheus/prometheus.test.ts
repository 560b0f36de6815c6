import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CoreChannel } from '@warren/core';
import { FakeChannelHost, FakeConnectionHost, fakeConnectionInfo, makeMessage } from '@warren/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { managementHarness, type Harness } from '../testing/harness.js';
import { CHUNK_BYTES, renderExposition, type ExpositionView } from './exposition.js';
import { drainOrClose, viewOf } from './server.js';

const PROMTOOL = '/usr/bin/promtool';
const recorded = (name: string): string =>
  readFileSync(new URL(`../../../../tests/fixtures/rabbitmq-3.10/${name}`, import.meta.url), 'utf8');

let h: Harness;
let ch: CoreChannel;
beforeEach(async () => {
  h = await managementHarness();
  const user = h.broker.authenticate('guest', 'guest', '127.0.0.1', 'amqp');
  ch = h.broker.openConnection(fakeConnectionInfo(), user, '/', new FakeConnectionHost()).openChannel(new FakeChannelHost());
});
afterEach(() => h.close());

async function scrape(view: ExpositionView): Promise<string> {
  let text = '';
  for await (const chunk of renderExposition(h.ctx, view)) text += chunk;
  return text;
}

/** `name{labels}` → value of every sample line. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
/** Family names with their TYPE. */
function types(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}
/** Label names of a family's first sample. */
function labelNames(text: string, family: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`${family}{`) || l.startsWith(`${family} `));
  if (line === undefined) return [];
  return [...(line.match(/\{(.*)\}/)?.[1] ?? '').matchAll(/(\w+)="/g)].map((m) => m[1]!);
}

describe('the Prometheus exposition', () => {
  it('has the families, types and labels of rabbitmq_prometheus 3.10 that the Grafana overview dashboard queries', async () => {
    const text = await scrape({ kind: 'aggregated' });
    const ref = recorded('prometheus-metrics.txt');
    const ours = types(text);
    const theirs = types(ref);
    const dashboard = [
      'rabbitmq_identity_info', 'rabbitmq_build_info', 'rabbitmq_queues', 'rabbitmq_queue_messages', 'rabbitmq_queue_messages_ready',
      'rabbitmq_queue_messages_unacked', 'rabbitmq_connections', 'rabbitmq_channels', 'rabbitmq_consumers',
      'rabbitmq_global_messages_received_total', 'rabbitmq_global_messages_routed_total', 'rabbitmq_global_messages_confirmed_total',
      'rabbitmq_global_messages_delivered_total', 'rabbitmq_global_messages_acknowledged_total', 'rabbitmq_global_messages_redelivered_total',
      'rabbitmq_global_messages_unroutable_dropped_total', 'rabbitmq_global_messages_unroutable_returned_total',
      'rabbitmq_process_resident_memory_bytes', 'rabbitmq_process_open_fds', 'rabbitmq_process_max_fds',
      'rabbitmq_disk_space_available_bytes', 'rabbitmq_resident_memory_limit_bytes', 'rabbitmq_alarms_memory_used_watermark',
      'rabbitmq_alarms_free_disk_space_watermark', 'rabbitmq_alarms_file_descriptor_limit', 'rabbitmq_auth_attempts_succeeded_total',
      'rabbitmq_auth_attempts_failed_total', 'rabbitmq_connections_opened_total', 'rabbitmq_queues_declared_total',
    ];
    for (const f of dashboard) {
      expect(ours.get(f), f).toBe(theirs.get(f));
      expect(labelNames(text, f), f).toEqual(labelNames(ref, f));
    }
    // Every family Warren writes is one RabbitMQ writes, with the same type.
    for (const [f, t] of ours) expect(theirs.get(f), f).toBe(t);
  });

  it('values follow publishes, deliveries and acks', async () => {
    ch.declareQueue('q', {});
    for (let i = 0; i < 3; i++) ch.publish(makeMessage('', 'q', 'a'), {});
    ch.publish(makeMessage('', 'nowhere', 'a'), {});
    ch.get('q', false);
    let s = samples(await scrape({ kind: 'aggregated' }));
    expect(s.get('rabbitmq_queue_messages_ready')).toBe(2);
    expect(s.get('rabbitmq_queue_messages_unacked')).toBe(1);
    expect(s.get('rabbitmq_queue_messages')).toBe(3);
    expect(s.get('rabbitmq_queues')).toBe(1);
    expect(s.get('rabbitmq_global_messages_received_total{protocol="amqp091"}')).toBe(4);
    expect(s.get('rabbitmq_global_messages_routed_total{protocol="amqp091"}')).toBe(3);
    expect(s.get('rabbitmq_global_messages_unroutable_dropped_total{protocol="amqp091"}')).toBe(1);
    expect(s.get('rabbitmq_global_messages_delivered_get_manual_ack_total{protocol="amqp091",queue_type="rabbit_classic_queue"}')).toBe(1);
    expect(s.get('rabbitmq_auth_attempts_succeeded_total{protocol="amqp091"}')).toBe(1);
    ch.ack(1, false);
    s = samples(await scrape({ kind: 'aggregated' }));
    expect(s.get('rabbitmq_queue_messages_unacked')).toBe(0);
    expect(s.get('rabbitmq_global_messages_acknowledged_total{protocol="amqp091",queue_type="rabbit_classic_queue"}')).toBe(1);
  });

  it('per-object: one sample per queue, labelled {vhost,queue}; detailed: only the asked families and vhosts', async () => {
    ch.declareQueue('q1', {});
    ch.declareQueue('q"2', {});
    ch.publish(makeMessage('', 'q1', 'a'), {});
    const per = await scrape({ kind: 'per-object' });
    const s = samples(per);
    expect(s.get('rabbitmq_queue_messages_ready{vhost="/",queue="q1"}')).toBe(1);
    expect(s.get('rabbitmq_queue_messages_ready{vhost="/",queue="q\\"2"}')).toBe(0);
    expect(labelNames(per, 'rabbitmq_queue_messages_ready')).toEqual(labelNames(recorded('prometheus-per-object.txt'), 'rabbitmq_queue_messages_ready'));
    expect(s.get('rabbitmq_connection_channels{channel="' + [...h.broker.connections()][0]!.info.id + '"}')).toBe(1);

    h.broker.addVhost('other');
    const view = viewOf(new URL('http://x/metrics/detailed?family=queue_coarse_metrics&family=connection_churn_metrics&vhost=other'))!;
    const d = await scrape(view);
    const dt = types(d);
    const ref = types(recorded('prometheus-detailed-vhost.txt'));
    for (const f of dt.keys()) expect(ref.get(f), f).toBe(dt.get(f));
    expect(dt.has('rabbitmq_detailed_queue_messages_ready')).toBe(true);
    expect(dt.has('rabbitmq_detailed_queue_consumers')).toBe(false);
    expect(d).not.toContain('queue="q1"');
    expect(samples(d).get('rabbitmq_detailed_queues_created_total')).toBe(2);
  });

  it('is streamed in chunks with a turn of the event loop between them', async () => {
    for (let i = 0; i < 3000; i++) ch.declareQueue(`queue-with-a-long-name-${i}`, {});
    let chunks = 0;
    let turns = 0;
    const spin = (): void => {
      turns++;
      if (turns < 100_000) setImmediate(spin);
    };
    setImmediate(spin);
    const seen: number[] = [];
    for await (const chunk of renderExposition(h.ctx, { kind: 'per-object' })) {
      chunks++;
      seen.push(turns);
      expect(chunk.length).toBeLessThan(CHUNK_BYTES + 1024);
    }
    turns = 100_000;
    expect(chunks).toBeGreaterThan(5);
    // Other immediates ran between every two chunks.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
  });

  it.skipIf(!existsSync(PROMTOOL))('passes promtool check metrics (aggregated, per-object and detailed)', async () => {
    ch.declareQueue('q', {});
    ch.publish(makeMessage('', 'q', 'a'), {});
    const dir = mkdtempSync(join(tmpdir(), 'warren-prom-'));
    try {
      for (const view of [
        { kind: 'aggregated' },
        { kind: 'per-object' },
        viewOf(new URL('http://x/metrics/detailed?family=queue_coarse_metrics&family=queue_metrics&family=connection_churn_metrics&family=auth_attempt_metrics&family=queue_consumer_count'))!,
      ] as ExpositionView[]) {
        const file = join(dir, `${view.kind}.txt`);
        writeFileSync(file, await scrape(view));
        // Exit status 0 = parsed without errors and no lint problems.
        execFileSync('sh', ['-c', `${PROMTOOL} check metrics < ${file}`], { stdio: 'pipe' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('writing a scrape', () => {
  it('a wait for drain leaves no listeners behind, however many times it waits', async () => {
    const res = new EventEmitter();
    for (let i = 0; i < 50; i++) {
      const waiting = drainOrClose(res);
      res.emit('drain');
      await waiting;
    }
    const closed = drainOrClose(res);
    res.emit('close');
    await closed;
    expect([res.listenerCount('drain'), res.listenerCount('close'), res.listenerCount('error')]).toEqual([0, 0, 0]);
  });
});
