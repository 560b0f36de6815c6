/**
 * Differential test of the management API: the same HTTP script against Warren and a private RabbitMQ 3.10 node,
 * comparing what comes back — status codes, error bodies, headers that tools read, and the keys of every object.
 * Values that differ by nature (node names, ports, timestamps, rates, memory) are not compared; shapes and the values
 * a tool acts on (counts, names, routed, redelivered, payloads) are.
 *
 * Skipped when Debian's rabbitmq-server is not installed (.ci/run installs it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { rabbitmqInstalled, startPrivateRabbitMQ, type PrivateRabbitMQ } from '../support/rabbitmq.js';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

type Call = (method: string, path: string, body?: unknown, auth?: string | null, contentType?: string) => Promise<Answer>;

function client(port: number): Call {
  return async (method, path, body, auth = 'guest:guest', contentType = 'application/json') => {
    const headers: Record<string, string> = {};
    if (auth !== null) headers['authorization'] = `Basic ${Buffer.from(auth).toString('base64')}`;
    if (body !== undefined) headers['content-type'] = contentType;
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
}

/** The sorted top-level keys of an object (or of each object of a list, merged). */
function keys(v: unknown): string[] {
  const objs = Array.isArray(v) ? v : [v];
  const set = new Set<string>();
  for (const o of objs) if (o !== null && typeof o === 'object') for (const k of Object.keys(o)) set.add(k);
  return [...set].sort();
}

describe.skipIf(!rabbitmqInstalled())('management API: Warren against RabbitMQ 3.10, the same script', () => {
  let rmq: PrivateRabbitMQ;
  let warren: RunningBroker;
  let both: { name: string; call: Call }[];

  beforeAll(async () => {
    [rmq, warren] = await Promise.all([startPrivateRabbitMQ(), startEmbeddedBroker()]);
    both = [
      { name: 'rabbitmq', call: client(rmq.managementPort) },
      { name: 'warren', call: client(warren.ports.management!) },
    ];
  }, 180_000);
  afterAll(async () => {
    await Promise.all([rmq?.stop(), warren?.stop()]);
  }, 60_000);

  /** Run one step on both brokers; returns [rabbitmq, warren]. */
  async function step(method: string, path: string, body?: unknown, auth?: string | null, contentType?: string): Promise<[Answer, Answer]> {
    const [a, b] = await Promise.all(both.map((x) => x.call(method, path, body, auth, contentType)));
    return [a!, b!];
  }

  it('declares, publishes, gets, binds and deletes with the same status codes and answers', async () => {
    const script: [string, string, unknown?][] = [
      ['PUT', '/api/vhosts/diff-vh', {}],
      ['PUT', '/api/vhosts/diff-vh', { description: 'x' }],
      ['PUT', '/api/queues/diff-vh/q1', { durable: true, arguments: { 'x-max-length': 5 } }],
      ['PUT', '/api/queues/diff-vh/q1', { durable: true, arguments: { 'x-max-length': 5 } }],
      ['PUT', '/api/queues/diff-vh/q1', { durable: false }],
      ['PUT', '/api/exchanges/diff-vh/ex1', { type: 'topic', durable: true }],
      ['PUT', '/api/exchanges/diff-vh/ex2', { type: 'no-such-type' }],
      ['POST', '/api/bindings/diff-vh/e/ex1/q/q1', { routing_key: 'a.*' }],
      ['POST', '/api/exchanges/diff-vh/ex1/publish', { routing_key: 'a.b', payload: 'one', properties: { delivery_mode: 2 }, payload_encoding: 'string' }],
      ['POST', '/api/exchanges/diff-vh/ex1/publish', { routing_key: 'zzz', payload: 'two', properties: {}, payload_encoding: 'string' }],
      ['POST', '/api/queues/diff-vh/q1/get', { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto' }],
      ['POST', '/api/queues/diff-vh/q1/get', { count: 5, ackmode: 'ack_requeue_false', encoding: 'auto' }],
      ['DELETE', '/api/bindings/diff-vh/e/ex1/q/q1/a.*'],
      ['DELETE', '/api/bindings/diff-vh/e/ex1/q/q1/a.*'],
      ['DELETE', '/api/queues/diff-vh/q1?if-empty=true'],
      ['DELETE', '/api/queues/diff-vh/missing'],
      ['DELETE', '/api/exchanges/diff-vh/ex1'],
      ['PUT', '/api/users/diff-user', { password: 'pw', tags: 'management' }],
      ['PUT', '/api/users/diff-user', { password: 'pw', tags: ['management', 'policymaker'] }],
      ['PUT', '/api/permissions/diff-vh/diff-user', { configure: '.*', write: '.*', read: '.*' }],
      ['DELETE', '/api/users/diff-user'],
      ['DELETE', '/api/vhosts/diff-vh'],
      ['DELETE', '/api/vhosts/diff-vh'],
    ];
    for (const [method, path, body] of script) {
      const [r, w] = await step(method, path, body);
      const what = `${method} ${path}`;
      expect(w.status, what).toBe(r.status);
      if (r.json !== undefined && !Array.isArray(r.json) && typeof r.json === 'object') {
        expect(keys(w.json), what).toEqual(keys(r.json));
        const rj = r.json as Record<string, unknown>;
        const wj = w.json as Record<string, unknown>;
        if ('routed' in rj) expect(wj['routed'], what).toBe(rj['routed']);
        if ('error' in rj) expect(wj['error'], what).toBe(rj['error']);
      }
      if (Array.isArray(r.json)) {
        // basic.get answers: the same messages, flags and properties.
        const strip = (l: unknown) => (l as Record<string, unknown>[]).map(({ payload, redelivered, message_count, routing_key, exchange, properties, payload_encoding }) => ({ payload, redelivered, message_count, routing_key, exchange, properties, payload_encoding }));
        expect(strip(w.json), what).toEqual(strip(r.json));
      }
      expect(w.headers.get('location') ?? null, what).toBe(r.headers.get('location') ?? null);
    }
  });

  it('errors: no credentials, a wrong password, a user without tags, an unknown object, a wrong method, bad JSON', async () => {
    await step('PUT', '/api/users/diff-notag', { password: 'pw', tags: '' });
    const cases: [string, string, unknown, string | null][] = [
      ['GET', '/api/overview', undefined, null],
      ['GET', '/api/overview', undefined, 'guest:wrong'],
      ['GET', '/api/overview', undefined, 'diff-notag:pw'],
      ['GET', '/api/queues/%2F/no-such-queue', undefined, 'guest:guest'],
      ['GET', '/api/vhosts/no-such-vhost', undefined, 'guest:guest'],
      ['POST', '/api/overview', {}, 'guest:guest'],
      ['PUT', '/api/queues/%2F/diff-bad', '{"durable": tru', 'guest:guest'],
    ];
    for (const [method, path, body, auth] of cases) {
      const [r, w] = await step(method, path, body, auth);
      const what = `${method} ${path} as ${auth}`;
      expect(w.status, what).toBe(r.status);
      expect(w.json, what).toEqual(r.json);
      expect(w.headers.get('www-authenticate'), what).toBe(r.headers.get('www-authenticate'));
    }
    await step('DELETE', '/api/users/diff-notag');
  });

  it('objects have RabbitMQ\'s keys: overview, vhost, user, permission, queue, exchange, binding, paged envelope', async () => {
    await step('PUT', '/api/queues/%2F/diff-shape', { durable: true });
    await step('PUT', '/api/exchanges/%2F/diff-shape-x', { type: 'fanout' });
    await step('POST', '/api/bindings/%2F/e/diff-shape-x/q/diff-shape', { routing_key: 'k' });
    await step('POST', '/api/exchanges/%2F/diff-shape-x/publish', { routing_key: 'k', payload: 'p', properties: {}, payload_encoding: 'string' });
    // RabbitMQ's stats collector lists a new queue's counts only after its next emission (up to 5 s): wait for it,
    // so the comparison is of shapes, not of RabbitMQ's lag (Warren's counts are there at once).
    await expect
      .poll(async () => keys((await both[0]!.call('GET', '/api/queues/%2F/diff-shape')).json).includes('messages'), { timeout: 20_000, interval: 500 })
      .toBe(true);
    const paths = [
      '/api/overview',
      '/api/vhosts/%2F',
      '/api/users/guest',
      '/api/permissions/%2F/guest',
      '/api/queues/%2F/diff-shape',
      '/api/exchanges/%2F/diff-shape-x',
      '/api/bindings/%2F/e/diff-shape-x/q/diff-shape',
      '/api/queues?page=1&page_size=1',
      '/api/whoami',
      '/api/aliveness-test/%2F',
      '/api/health/checks/alarms',
    ];
    // Keys RabbitMQ adds only once its stats collector has caught up (up to 5 s later); Warren has them at once.
    const lagging = /^(messages|messages_ready|messages_unacknowledged)(_details)?$|^message_stats$|^(send|recv)_oct(_details)?$/;
    // Keys only Erlang has (process and garbage-collector internals) or only a cluster has.
    const erlangOnly = new Set(['garbage_collection', 'reductions', 'reductions_details', 'backing_queue_status', 'idle_since', 'statistics_db_event_queue', 'erlang_full_version']);
    for (const path of paths) {
      const [r, w] = await step('GET', path);
      expect(w.status, path).toBe(r.status);
      const rk = keys(r.json).filter((k) => !erlangOnly.has(k));
      const wk = keys(w.json).filter((k) => !erlangOnly.has(k));
      expect(wk, path).toEqual(expect.arrayContaining(rk));
      expect(wk.filter((k) => !rk.includes(k) && !lagging.test(k)), `${path}: keys RabbitMQ does not have`).toEqual([]);
    }
    await step('DELETE', '/api/queues/%2F/diff-shape');
    await step('DELETE', '/api/exchanges/%2F/diff-shape-x');
  });
});
