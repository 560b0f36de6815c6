/**
 * Durability across a broker restart (DESIGN.md §5), seen by amqplib: durable definitions and confirmed persistent
 * messages come back, transient ones do not. Embedded Warren only (an external broker cannot be restarted from here).
 */
import { describe, expect, it } from 'vitest';
import { bodies, interopSuite, isExternal, take } from './harness.js';

const env = interopSuite();

describe.skipIf(isExternal)('durability across a restart', () => {
  it('keeps durable exchanges, queues, bindings and confirmed persistent messages; drops the rest', async () => {
    const s = env.scope;
    const x = s.exchange('durable-x');
    const durableQ = s.queue('durable-q');
    const transientQ = s.queue('transient-q');
    {
      const c = await s.connect();
      const { ch } = await c.confirmChannel();
      await ch.assertExchange(x, 'topic', { durable: true });
      await ch.assertQueue(durableQ, { durable: true, arguments: { 'x-max-length': 100 } });
      await ch.assertQueue(transientQ, { durable: false });
      await ch.bindQueue(durableQ, x, 'orders.#');
      ch.publish(x, 'orders.eu', Buffer.from('persistent'), { persistent: true, messageId: 'p1' });
      ch.publish(x, 'orders.eu', Buffer.from('transient'), { persistent: false });
      ch.sendToQueue(transientQ, Buffer.from('gone'), { persistent: true });
      await ch.waitForConfirms();
      await c.conn.close();
    }

    await env.broker.restart!();

    const c = await s.connect();
    const { ch } = await c.confirmChannel();
    // The queue comes back with its arguments: an equivalent redeclare is accepted.
    expect(await ch.assertQueue(durableQ, { durable: true, arguments: { 'x-max-length': 100 } })).toEqual({
      queue: durableQ,
      messageCount: 1,
      consumerCount: 0,
    });
    const [m] = await take(ch, durableQ, 1);
    expect(m?.content.toString()).toBe('persistent');
    expect(m?.properties).toMatchObject({ messageId: 'p1', deliveryMode: 2 });
    // The binding survived too: route through the durable exchange again.
    ch.publish(x, 'orders.us', Buffer.from('after restart'));
    await ch.waitForConfirms();
    expect(bodies(await take(ch, durableQ, 1))).toEqual(['after restart']);

    const probe = await c.channel();
    await expect(probe.ch.checkQueue(transientQ)).rejects.toThrow();
    expect((await probe.closed)?.code).toBe(404);
  });
});
