import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FieldTable } from '../contract.js';
import { makeMessage } from '../testing/fake-host.js';
import { TestBroker, type TestChannel } from '../testing/setup.js';

let tb: TestBroker;
let c: TestChannel;
beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-01-02T03:04:05.678Z'));
  tb = new TestBroker();
  c = tb.channel();
});
afterEach(() => {
  tb.close();
  vi.useRealTimers();
});

describe('dead-lettering (RabbitMQ 3.10 x-death)', () => {
  it('expired → rejected → expired again: x-death entries, counts, order and first-death headers', () => {
    // The classic retry loop: A (TTL) → B; B's consumer rejects → A.
    c.ch.declareQueue('A', { arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'B' } });
    c.ch.declareQueue('B', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'A' } });
    c.ch.bindQueue('A', 'amq.direct', 'rk1');
    c.ch.publish(makeMessage('amq.direct', 'rk1', 'x', { expiration: '40', headers: { h: 1 } }), {});
    vi.advanceTimersByTime(100);

    const first = c.ch.get('B', false)!;
    const m1 = first.delivery.message;
    expect(m1.exchange).toBe('');
    expect(m1.routingKey).toBe('B');
    expect(m1.rawProperties).toBeUndefined();
    expect(m1.properties.expiration).toBeUndefined();
    const time = new Date('2026-01-02T03:04:05.000Z');
    expect(m1.properties.headers).toEqual({
      h: 1,
      'x-death': [
        { count: 1n, reason: 'expired', queue: 'A', time, exchange: 'amq.direct', 'routing-keys': ['rk1'], 'original-expiration': '40' },
      ],
      'x-first-death-reason': 'expired',
      'x-first-death-queue': 'A',
      'x-first-death-exchange': 'amq.direct',
    });

    c.ch.reject(first.delivery.deliveryTag, false);
    vi.advanceTimersByTime(100);
    const m2 = c.ch.get('B', true)!.delivery.message;
    const deaths = m2.properties.headers!['x-death'] as FieldTable[];
    expect(deaths).toHaveLength(2);
    // The A/expired entry was updated in place (count 2, original fields kept, keys sorted) and moved to the front.
    expect(Object.keys(deaths[0]!)).toEqual(['count', 'exchange', 'original-expiration', 'queue', 'reason', 'routing-keys', 'time']);
    expect(deaths[0]).toMatchObject({ count: 2n, reason: 'expired', queue: 'A', exchange: 'amq.direct', 'routing-keys': ['rk1'] });
    expect(deaths[1]).toMatchObject({ count: 1n, reason: 'rejected', queue: 'B', exchange: '', 'routing-keys': ['B'] });
    expect(m2.properties.headers!['x-first-death-reason']).toBe('expired');
  });

  it('nack without requeue dead-letters with the original routing key when no DLX key is set', () => {
    c.ch.declareExchange('dlx', 'topic', {});
    c.ch.declareQueue('dead', {});
    c.ch.bindQueue('dead', 'dlx', 'orig.#');
    c.ch.declareQueue('work', { arguments: { 'x-dead-letter-exchange': 'dlx' } });
    c.ch.bindQueue('work', 'amq.topic', 'orig.*');
    c.ch.publish(makeMessage('amq.topic', 'orig.key', 'x'), {});
    c.ch.consume('work', {});
    c.ch.nack(1, false, false);
    const d = c.ch.get('dead', true)!.delivery.message;
    expect([d.exchange, d.routingKey]).toEqual(['dlx', 'orig.key']);
    expect((d.properties.headers!['x-death'] as FieldTable[])[0]).toMatchObject({ reason: 'rejected', queue: 'work' });
  });

  it('drops expired messages that would cycle back without a rejection, and with a missing DLX', () => {
    c.ch.declareQueue('self', { arguments: { 'x-message-ttl': 10, 'x-dead-letter-exchange': '' } });
    c.ch.publish(makeMessage('', 'self', 'x'), {});
    vi.advanceTimersByTime(50);
    expect(tb.broker.vhost('/')!.queues.get('self')!.messageCount).toBe(0);
    c.ch.declareQueue('lost', { arguments: { 'x-message-ttl': 10, 'x-dead-letter-exchange': 'missing' } });
    c.ch.publish(makeMessage('', 'lost', 'x'), {});
    vi.advanceTimersByTime(50);
    expect(tb.broker.vhost('/')!.queues.get('lost')!.messageCount).toBe(0);
  });
});
