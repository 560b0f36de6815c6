import { type CoreChannel } from '@warren/core';
import { FakeChannelHost, FakeConnectionHost, fakeConnectionInfo, makeMessage } from '@warren/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatQueue } from './format.js';
import { queueJson } from './format-queue-json.js';
import { JSON_CHUNK_BYTES, JsonStream } from './json-stream.js';
import { answerList, STREAM_MIN_ITEMS } from './list-query.js';
import { DEFAULT_STATS, statsQuery } from './stats/format-stats.js';
import { StatsSampler } from './stats/sampler.js';
import { managementHarness, type Harness } from './testing/harness.js';

let h: Harness;
let ch: CoreChannel;
let sampler: StatsSampler;
beforeEach(async () => {
  h = await managementHarness();
  const user = h.broker.authenticate('guest', 'guest', '127.0.0.1');
  ch = h.broker.openConnection(fakeConnectionInfo(), user, '/', new FakeConnectionHost()).openChannel(new FakeChannelHost());
  sampler = StatsSampler.acquire(h.broker);
});
afterEach(async () => {
  sampler.release();
  await h.close();
});

/** Queues in every state a list shows: arguments, policies, consumers of each kind, messages, rates, odd names. */
async function variedQueues(): Promise<void> {
  expect((await h.request('PUT', '/api/policies/%2F/pol', { pattern: '^pol', definition: { 'max-length': 100, 'message-ttl': 60000 } })).statusCode).toBe(201);
  expect((await h.request('PUT', '/api/operator-policies/%2F/op', { pattern: '^pol-op', definition: { 'max-length': 50 }, 'apply-to': 'queues' })).statusCode).toBe(201);
  ch.declareQueue('idle', {});
  ch.declareQueue('durable-args', { durable: true, arguments: { 'x-max-length': 10, 'x-dead-letter-exchange': 'dlx', 'x-overflow': 'reject-publish' } });
  ch.declareQueue('pol-a', {});
  ch.declareQueue('pol-op-b', { durable: true });
  ch.declareQueue('exclusive-consumer', {});
  ch.consume('exclusive-consumer', { exclusive: true, consumerTag: 'ex"tag' });
  ch.declareQueue('sac', { arguments: { 'x-single-active-consumer': true } });
  ch.consume('sac', { consumerTag: 'sac-1' });
  ch.consume('sac', { consumerTag: 'sac-2' });
  ch.declareQueue('own', { exclusive: true, autoDelete: true });
  ch.declareQueue('ünïcødé "quoted" \\ name', {});
  ch.declareQueue('busy', { durable: true });
  ch.consume('busy', { consumerTag: 'c1' });
  ch.declareQueue('published', {});
  sampler.sampleAllNow(1_000_000);
  for (let i = 0; i < 5; i++) {
    ch.publish(makeMessage('', 'busy', `m${i}`), {});
    ch.publish(makeMessage('', 'published', `payload ${i}`), {});
    ch.publish(makeMessage('', 'durable-args', 'x'), {});
  }
  ch.ack(2, true);
  ch.get('published', false);
  ch.get('idle', true);
  sampler.sampleAllNow(1_005_000);
  ch.publish(makeMessage('', 'busy', 'late'), {});
  sampler.sampleAllNow(1_010_000);
}

describe('queueJson', () => {
  it('writes the same text as JSON.stringify(formatQueue) for queues in every state', async () => {
    await variedQueues();
    const v = h.broker.vhost('/')!;
    expect(v.queues.size).toBe(10);
    for (const q of v.queues.values()) {
      expect(queueJson(h.ctx, '/', q, DEFAULT_STATS)).toBe(JSON.stringify(formatQueue(h.ctx, '/', q, DEFAULT_STATS)));
    }
    // The fixture-shaped object really has rates, stats and policies in it (the comparison above is not vacuous).
    const busy = formatQueue(h.ctx, '/', v.queues.get('busy')!, DEFAULT_STATS);
    expect((busy['messages_details'] as { rate: number }).rate).not.toBe(0);
    expect(busy['message_stats']).toBeDefined();
    expect(formatQueue(h.ctx, '/', v.queues.get('pol-op-b')!)['operator_policy']).toBe('op');
  });

  it('leaves sample ranges and disable_stats to formatQueue', async () => {
    ch.declareQueue('q', {});
    const q = h.broker.vhost('/')!.queues.get('q')!;
    expect(queueJson(h.ctx, '/', q, statsQuery({ msg_rates_age: '60', msg_rates_incr: '5' }))).toBeUndefined();
    expect(queueJson(h.ctx, '/', q, statsQuery({ lengths_age: '60', lengths_incr: '5' }))).toBeUndefined();
    expect(queueJson(h.ctx, '/', q, statsQuery({ disable_stats: 'true' }))).toBeUndefined();
  });
});

describe('streamed queue lists', () => {
  /** The answer the unstreamed path gives (every item through formatQueue, then JSON.stringify). */
  const unstreamed = (query: Record<string, string>): string => {
    const v = h.broker.vhost('/')!;
    const sq = statsQuery(query);
    const rows = [...v.queues.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return JSON.stringify(
      answerList(
        query,
        rows,
        (q) => formatQueue(h.ctx, '/', q, sq),
        (q) => q.name,
        (q, col) => (col === 'name' ? q.name : col === 'vhost' ? '/' : col === 'messages_ready' ? q.messageCount : undefined),
      ),
    );
  };

  it('a long list is streamed with the same bytes as the unstreamed answer, for every query shape', async () => {
    await variedQueues();
    for (let i = 0; i < STREAM_MIN_ITEMS + 300; i++) ch.declareQueue(`bulk-${String(i).padStart(4, '0')}`, {});
    const queries: Record<string, string>[] = [
      {},
      { page: '1', page_size: '500' },
      { page: '2', page_size: '250', name: 'bulk', sort: 'name', sort_reverse: 'true' },
      { sort: 'messages', columns: 'name,messages,message_stats.publish' },
      { msg_rates_age: '60', msg_rates_incr: '5', lengths_age: '60', lengths_incr: '5' },
      { disable_stats: 'true', enable_queue_totals: 'true' },
    ];
    for (const query of queries) {
      const qs = new URLSearchParams(query).toString();
      for (const path of ['/api/queues', '/api/queues/%2F']) {
        const res = await h.request('GET', `${path}${qs === '' ? '' : `?${qs}`}`);
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(res.body).toBe(unstreamed(query));
      }
    }
    // Gzip, as browsers and Prometheus ask, decodes to the same text.
    const gz = await h.request('GET', '/api/queues', undefined, undefined, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const { gunzipSync } = await import('node:zlib');
    expect(gunzipSync(gz.rawPayload).toString('utf8')).toBe(unstreamed({}));
  });

  it('a short list keeps its one-piece answer (with a content-length)', async () => {
    ch.declareQueue('a', {});
    const res = await h.request('GET', '/api/queues');
    expect(res.headers['content-length']).toBe(String(res.rawPayload.length));
    expect(res.body).toBe(unstreamed({}));
  });
});

describe('JsonStream', () => {
  const drain = async (s: JsonStream): Promise<Buffer[]> => {
    const chunks: Buffer[] = [];
    for await (const c of s.readable()) chunks.push(c as Buffer);
    return chunks;
  };

  it('hands out chunks of about JSON_CHUNK_BYTES and lets the event loop turn between them', async () => {
    const piece = 'x'.repeat(1000);
    const s = new JsonStream(function* () {
      for (let i = 0; i < 500; i++) yield piece;
    });
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      if (!counting) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const chunks = await drain(s);
    counting = false;
    expect(Buffer.concat(chunks).toString('utf8')).toBe(s.text());
    expect(chunks.length).toBe(Math.ceil(500 / Math.ceil(JSON_CHUNK_BYTES / piece.length)));
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeLessThan(JSON_CHUNK_BYTES + piece.length);
    // Other work ran while the document was produced, not only after it.
    expect(turns).toBeGreaterThanOrEqual(chunks.length - 1);
  });

  it('encodes multi-byte text and pieces larger than a chunk intact', async () => {
    const pieces = [
      '{"a":"',
      ...Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'é'.repeat(7_000) : '😀'.repeat(3_000))),
      'é'.repeat(30_000),
      '😀'.repeat(50_000),
      '","b":"',
      'x'.repeat(JSON_CHUNK_BYTES - 3),
      'ü',
      '"}',
    ];
    const s = new JsonStream(() => pieces);
    expect(Buffer.concat(await drain(s)).toString('utf8')).toBe(pieces.join(''));
  });
});
