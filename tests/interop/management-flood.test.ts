/**
 * A flood of management requests over real HTTP: 2,000 at once (good, unauthenticated, malformed and oversized mixed)
 * all get an answer, none a 5xx, and the broker keeps serving AMQP and HTTP afterwards. Bounded in count; no timing
 * assertion.
 */
import { request } from 'node:http';
import type { Broker } from '@warren/core';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startEmbeddedBroker({ management: { maxBodySize: 64 * 1024 } });
});
afterAll(async () => {
  await broker?.stop();
});

const AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

function send(method: string, path: string, body?: string, auth: string | null = AUTH): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close' };
    if (auth !== null) headers['authorization'] = auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = request({ host: '127.0.0.1', port: broker.ports.management, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

it('2,000 concurrent requests are all answered without a 5xx, and the broker keeps serving', async () => {
  const big = JSON.stringify({ arguments: { pad: 'x'.repeat(100 * 1024) } });
  const jobs: Promise<{ status: number; body: string }>[] = [];
  for (let i = 0; i < 2000; i++) {
    switch (i % 5) {
      case 0: jobs.push(send('GET', '/api/overview')); break;
      case 1: jobs.push(send('PUT', `/api/queues/%2F/flood-${i}`, '{"durable": true}')); break;
      case 2: jobs.push(send('GET', '/api/queues', undefined, null)); break;
      case 3: jobs.push(send('PUT', `/api/queues/%2F/bad-${i}`, '{"durable": tr')); break;
      default: jobs.push(send('PUT', `/api/queues/%2F/huge-${i}`, big)); break;
    }
  }
  const results = await Promise.allSettled(jobs);
  const statuses = new Map<number, number>();
  for (const r of results) {
    // A client may see its connection reset after an oversized body is refused mid-upload: an answer, not a crash.
    const s = r.status === 'fulfilled' ? r.value.status : -1;
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
  }
  expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
  expect(statuses.get(200)).toBe(400);
  expect(statuses.get(201)).toBe(400);
  expect(statuses.get(401)).toBe(400);
  expect((statuses.get(400) ?? 0)).toBe(400);
  expect((statuses.get(413) ?? 0) + (statuses.get(-1) ?? 0)).toBe(400);
  const core = broker.broker as Broker;
  expect([...core.vhost('/')!.queues.keys()].filter((q) => q.startsWith('flood-'))).toHaveLength(400);
  expect([...core.vhost('/')!.queues.keys()].filter((q) => !q.startsWith('flood-'))).toEqual([]);

  // Still serving: HTTP and AMQP.
  expect((await send('GET', '/api/overview')).status).toBe(200);
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.ports.amqp}`);
  const ch = await conn.createChannel();
  expect((await ch.checkQueue('flood-1')).queue).toBe('flood-1');
  await conn.close();
});
