/**
 * Differential test of binding properties_keys: the same bindings, with many argument sets, made over HTTP on Warren
 * and on a private RabbitMQ 3.10 node; the Location of each POST and the listed properties_keys must be the same,
 * and each key must name its binding on both. Then bindings made over AMQP (amqplib) with the argument types Warren
 * keeps apart, listed over HTTP.
 *
 * Skipped when Debian's rabbitmq-server is not installed (.ci/run installs it).
 */
import { readFileSync } from 'node:fs';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { rabbitmqInstalled, startPrivateRabbitMQ, type PrivateRabbitMQ } from '../support/rabbitmq.js';

interface HttpCase {
  routing_key: string;
  arguments: Record<string, unknown>;
}
const cases = (JSON.parse(readFileSync(new URL('../fixtures/erlang-phash2/cases.json', import.meta.url), 'utf8')) as { http: HttpCase[] }).http;

/** More argument sets than the fixture's, written here so the broker (not erl offline) is the only oracle. */
const extra: HttpCase[] = [
  { routing_key: 'x', arguments: { 'x-match': 'any', format: 'pdf', type: 'report' } },
  { routing_key: 'x', arguments: { n: -123456789, m: 987654321012, f: -0.001 } },
  { routing_key: 'x', arguments: { deep: { a: { b: { c: [1, [2, [3, { d: 'e' }]]] } } } } },
  { routing_key: 'ключ', arguments: { 'ключ': 'значение', '😀': ['😀'] } },
];

async function call(port: number, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe.skipIf(!rabbitmqInstalled())('binding properties_key: Warren against RabbitMQ 3.10', () => {
  let rmq: PrivateRabbitMQ;
  let warren: RunningBroker;
  let ports: [number, number];

  beforeAll(async () => {
    [rmq, warren] = await Promise.all([startPrivateRabbitMQ(), startEmbeddedBroker()]);
    ports = [rmq.managementPort, warren.ports.management!];
  }, 180_000);
  afterAll(async () => {
    await Promise.all([rmq?.stop(), warren?.stop()]);
  }, 60_000);

  it('binding with the same arguments gives the same Location and the same listed properties_keys', async () => {
    for (const port of ports) {
      expect((await call(port, 'PUT', '/api/queues/%2F/pk-q', {})).status).toBe(201);
      expect((await call(port, 'PUT', '/api/exchanges/%2F/pk-x', { type: 'topic' })).status).toBe(201);
      expect((await call(port, 'PUT', '/api/exchanges/%2F/pk-e', { type: 'fanout' })).status).toBe(201);
    }
    const all = [...cases, ...extra];
    for (const [i, c] of all.entries()) {
      // Half to a queue, half to an exchange (exchange-to-exchange bindings have the same keys).
      const path = i % 2 === 0 ? '/api/bindings/%2F/e/pk-x/q/pk-q' : '/api/bindings/%2F/e/pk-x/e/pk-e';
      const body = { routing_key: c.routing_key, arguments: c.arguments };
      const [r, w] = await Promise.all(ports.map((p) => call(p, 'POST', path, body)));
      const what = `${JSON.stringify(body)} → ${path}`;
      expect(r!.status, what).toBe(201);
      expect(w!.status, what).toBe(201);
      expect(w!.headers.get('location'), what).toBe(r!.headers.get('location'));
    }
    for (const path of ['/api/bindings/%2F/e/pk-x/q/pk-q', '/api/bindings/%2F/e/pk-x/e/pk-e']) {
      const [r, w] = await Promise.all(ports.map(async (p) => ((await (await call(p, 'GET', path)).json()) as { properties_key: string }[]).map((b) => b.properties_key).sort()));
      expect(r!.length).toBeGreaterThan(30);
      expect(w, path).toEqual(r);
      // Each key names its binding on both brokers.
      for (const key of r!) {
        for (const port of ports) expect((await call(port, 'GET', `${path}/${encodeURIComponent(key)}`)).status, `${port} ${key}`).toBe(200);
      }
    }
    for (const port of ports) {
      await call(port, 'DELETE', '/api/queues/%2F/pk-q');
      await call(port, 'DELETE', '/api/exchanges/%2F/pk-x');
      await call(port, 'DELETE', '/api/exchanges/%2F/pk-e');
    }
  }, 120_000);

  it('binding over AMQP with the types Warren keeps apart gives the same properties_keys', async () => {
    // Integers are sent as AMQP longs ('l'), nested tables with their names in byte order: Warren cannot tell
    // amqplib's byte/short/signedint from long, nor keep a nested table's wire order (binding-args.ts).
    const sets: Record<string, unknown>[] = [
      { s: 'text', e: '', u: 'ключ 😀' },
      { t: true, f: false },
      { d: 0.25, n: -1.5e-7 },
      { l: { '!': 'long', value: 42 }, m: { '!': 'long', value: -7 }, big: { '!': 'long', value: 2 ** 40 } },
      { nested: { a: 'x', b: { c: true } } },
      { list: ['a', 'b', ['c'], { k: 'v' }] },
      { when: { '!': 'timestamp', value: 1_700_000_000 } },
      { none: null },
      { bytes: Buffer.from([0, 1, 254, 255]) },
      { 'x-match': 'all', 'ü': 'é', z: { '!': 'long', value: 1 } },
    ];
    const lists: string[][] = [];
    for (const [port, httpPort] of [[rmq.amqpPort, rmq.managementPort], [warren.ports.amqp!, warren.ports.management!]] as const) {
      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
      try {
        const ch = await conn.createChannel();
        await ch.assertQueue('pk-amqp', { durable: false });
        await ch.assertExchange('pk-amqp-x', 'topic', { durable: false });
        for (const [i, args] of sets.entries()) await ch.bindQueue('pk-amqp', 'pk-amqp-x', `k${i}`, args);
        const listed = (await (await call(httpPort, 'GET', '/api/bindings/%2F/e/pk-amqp-x/q/pk-amqp')).json()) as { properties_key: string }[];
        lists.push(listed.map((b) => b.properties_key).sort());
        await ch.deleteQueue('pk-amqp');
        await ch.deleteExchange('pk-amqp-x');
      } finally {
        await conn.close();
      }
    }
    expect(lists[0]).toHaveLength(sets.length);
    expect(lists[1]).toEqual(lists[0]);
  }, 60_000);
});
