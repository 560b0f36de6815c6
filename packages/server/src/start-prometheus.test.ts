import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from './embedded.js';
import type { RunningBroker } from './start.js';

const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
let running: RunningBroker | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/** `name{labels}` → value. */
async function scrape(port: number, path = '/metrics'): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('the Prometheus listener', () => {
  it('serves /metrics on its own port, listed by /api/overview as http/prometheus; values follow AMQP traffic', async () => {
    running = await startEmbeddedBroker();
    const port = running.ports.prometheus!;
    expect(port).toBeGreaterThan(0);
    const overview = (await (await fetch(`http://127.0.0.1:${running.ports.management!}/api/overview`, { headers: auth })).json()) as {
      listeners: { protocol: string; port: number }[];
    };
    expect(overview.listeners.find((l) => l.protocol === 'http/prometheus')?.port).toBe(port);

    const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${running.ports.amqp!}`);
    const ch = await conn.createChannel();
    await ch.assertQueue('live');
    for (let i = 0; i < 5; i++) ch.sendToQueue('live', Buffer.from('x'));
    await ch.get('live', { noAck: false });
    let m = await scrape(port);
    // Publishes are pipelined before the get, so all five are counted by now.
    expect(m.get('rabbitmq_global_messages_received_total{protocol="amqp091"}')).toBe(5);
    expect(m.get('rabbitmq_queue_messages_ready')).toBe(4);
    expect(m.get('rabbitmq_queue_messages_unacked')).toBe(1);
    expect(m.get('rabbitmq_connections')).toBe(1);
    expect(m.get('rabbitmq_auth_attempts_succeeded_total{protocol="amqp091"}')).toBe(1);
    const per = await scrape(port, '/metrics/per-object');
    expect(per.get('rabbitmq_queue_messages_ready{vhost="/",queue="live"}')).toBe(4);
    await conn.close();
    m = await scrape(port);
    expect(m.get('rabbitmq_connections')).toBe(0);
    expect(m.get('rabbitmq_queue_messages_ready')).toBe(5);
    expect(m.get('rabbitmq_connections_closed_total')).toBe(1);

    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    await running.stop();
    running = undefined;
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });

  it('can be switched off', async () => {
    running = await startEmbeddedBroker({ prometheus: { port: null } });
    expect(running.ports.prometheus).toBeUndefined();
  });
});
