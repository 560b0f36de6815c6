/**
 * Hostile and malformed input on the whole API: each gets a clear 4xx with RabbitMQ's body, a log line, and changes
 * nothing.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, FileMessageStore } from '@warren/core';
import { managementHarness, type Harness } from './testing/harness.js';

let h: Harness;
let refusals: { url: string; status: number; reason: string }[];
beforeEach(async () => {
  h = await managementHarness();
  refusals = [];
  const logger = h.broker.logger as unknown as { warn: (o: Record<string, unknown>, m: string) => void };
  logger.warn = (o, m) => {
    if (m === 'management request refused') refusals.push({ url: String(o['url']), status: Number(o['status']), reason: String(o['reason']) });
  };
});
afterEach(async () => {
  await h.close();
});

describe('bad input', () => {
  it('a path that is not valid percent-encoded UTF-8 is 400 bad_request, logged', async () => {
    for (const url of ['/api/queues/%2F/%FF%FE', '/api/queues/%FF/q', '/api/vhosts/%C0%AF', '/api/exchanges/%2F/%E2%82', '/api/definitions/%FF']) {
      for (const method of ['GET', 'PUT'] as const) {
        const res = await h.request(method, url, method === 'PUT' ? {} : undefined);
        expect(res.statusCode, `${method} ${url}`).toBe(400);
        expect(res.json()).toMatchObject({ error: 'bad_request' });
      }
    }
    expect(refusals.map((r) => r.url)).toContain('/api/queues/%2F/%FF%FE');
    expect(h.broker.vhostNames()).toEqual(['/']);
    expect(h.broker.vhost('/')!.queues.size).toBe(0);
  });

  it('names that look like path traversal are plain names, and the file store never puts them in a path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warren-traversal-'));
    const inner = join(dir, 'data');
    const broker = new Broker({ store: new FileMessageStore({ dir: inner }) });
    const t = await managementHarness({ broker });
    try {
      expect((await t.request('PUT', '/api/queues/%2F/..%2F..%2Fescape', { durable: true })).statusCode).toBe(201);
      expect((await t.request('PUT', '/api/vhosts/..%2F..%2Fvh')).statusCode).toBe(201);
      expect(broker.vhost('/')!.queues.has('../../escape')).toBe(true);
      expect((await t.request('GET', '/api/queues/%2F/..%2F..%2Fescape')).json()).toMatchObject({ name: '../../escape', vhost: '/' });
      // Nothing was created beside the store's own directory.
      expect(await readdir(dir)).toEqual(['data']);
      // A '..' segment that is not encoded is resolved by the URL, not by the router into another resource.
      expect((await t.request('GET', '/api/queues/%2F/../../overview')).statusCode).not.toBe(500);
    } finally {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names too long, with NUL, or empty are 400 naming the problem; nothing is declared', async () => {
    const long = encodeURIComponent('é'.repeat(128)); // 256 bytes in UTF-8
    const cases: [string, string][] = [
      [`/api/queues/%2F/${long}`, 'too long'],
      [`/api/exchanges/%2F/${long}`, 'too long'],
      [`/api/vhosts/${long}`, 'too long'],
      [`/api/users/${long}`, 'too long'],
      ['/api/queues/%2F/a%00b', 'NUL'],
    ];
    for (const [url, reason] of cases) {
      const res = await h.request('PUT', url, url.includes('exchanges') ? { type: 'direct' } : { password: 'x' });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().reason, url).toContain(reason);
    }
    expect(h.broker.vhost('/')!.queues.size).toBe(0);
    expect(h.broker.vhostNames()).toEqual(['/']);
    expect(refusals.length).toBeGreaterThanOrEqual(cases.length);
  });

  it('malformed JSON and wrong types are 400 on every writing route', async () => {
    await h.request('PUT', '/api/queues/%2F/q0', {});
    const routes: [string, string][] = [
      ['PUT', '/api/queues/%2F/q'],
      ['PUT', '/api/exchanges/%2F/x'],
      ['PUT', '/api/vhosts/v'],
      ['PUT', '/api/users/u'],
      ['PUT', '/api/permissions/%2F/guest'],
      ['POST', '/api/bindings/%2F/e/amq.direct/q/q0'],
      ['POST', '/api/exchanges/%2F/amq.direct/publish'],
      ['POST', '/api/queues/%2F/q0/get'],
      ['POST', '/api/definitions'],
      ['POST', '/api/users/bulk-delete'],
    ];
    for (const [method, url] of routes) {
      for (const body of ['{"a": ', '[1,2]', '"text"', '{"durable": "yes", "type": 7, "tags": 5, "configure": 1, "routing_key": [], "count": "x", "users": "all", "payload": 3}']) {
        const res = await h.request(method as 'PUT' | 'POST', url, body);
        expect(res.statusCode, `${method} ${url} ${body}`).toBe(400);
        expect(res.json(), `${method} ${url} ${body}`).toMatchObject({ error: 'bad_request' });
      }
    }
    expect([...h.broker.vhost('/')!.queues.keys()]).toEqual(['q0']);
    expect(h.broker.vhostNames()).toEqual(['/']);
    expect(h.broker.users.names()).toEqual(['guest']);
  });

  it('rabbitmqadmin-style strings for booleans and integers are taken, as RabbitMQ takes them', async () => {
    expect((await h.request('PUT', '/api/exchanges/%2F/sx', { type: 'topic', durable: 'true', auto_delete: 'false', internal: 'false' })).statusCode).toBe(201);
    expect(h.broker.vhost('/')!.exchanges.get('sx')!.durable).toBe(true);
    await h.request('PUT', '/api/queues/%2F/sq', { durable: 'true' });
    const res = await h.request('POST', '/api/queues/%2F/sq/get', { count: '1', ackmode: 'ack_requeue_true', encoding: 'auto', truncate: '50000' });
    expect(res.statusCode).toBe(200);
    expect((await h.request('POST', '/api/queues/%2F/sq/get', { count: '1e3', ackmode: 'ack_requeue_true' })).statusCode).toBe(400);
  });

  it('a body over management.maxBodySize is 413, logged, and a definitions import that large applies nothing', async () => {
    const small = await managementHarness({ app: { bodyLimit: 2048 } });
    try {
      const doc = { vhosts: [{ name: 'big' }], queues: Array.from({ length: 100 }, (_, i) => ({ name: `q${i}`, vhost: 'big', durable: true })) };
      const res = await small.request('POST', '/api/definitions', doc);
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ error: 'bad_request' });
      expect(small.broker.vhost('big')).toBeUndefined();
    } finally {
      await small.close();
    }
  });
});
