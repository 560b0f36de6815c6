import { afterEach, describe, expect, it } from 'vitest';
import { makeMessage } from './testing/fake-host.js';
import { TestBroker } from './testing/setup.js';

let tb: TestBroker;
afterEach(() => tb.close());

describe('CoreConnection', () => {
  it('numbers channels from 1 and closes them all, requeueing and dropping its queues', () => {
    tb = new TestBroker();
    const { conn } = tb.connect();
    const a = tb.channel(conn);
    const b = tb.channel(conn);
    expect([a.ch.id, b.ch.id]).toEqual([1, 2]);
    a.ch.declareQueue('shared', {});
    a.ch.declareQueue('mine', { exclusive: true });
    a.ch.declareQueue('ad', { autoDelete: true });
    b.ch.consume('ad', {});
    a.ch.publish(makeMessage('', 'shared', 'x'), {});
    b.ch.consume('shared', {});
    expect(b.host.deliveries).toHaveLength(1);

    const observer = tb.channel();
    conn.close();
    conn.close(); // idempotent
    expect(observer.ch.declareQueue('shared', { passive: true })).toMatchObject({ messageCount: 1, consumerCount: 0 });
    expect(() => observer.ch.declareQueue('mine', { passive: true })).toThrow(/no queue 'mine'/);
    expect(() => observer.ch.declareQueue('ad', { passive: true })).toThrow(/no queue 'ad'/);
    expect(() => a.ch.publish(makeMessage('', 'shared', 'x'), {})).toThrow();
  });

  it('broker.close closes every connection', () => {
    tb = new TestBroker();
    const { conn } = tb.connect();
    const ch = tb.channel(conn);
    ch.ch.declareQueue('q', { exclusive: true });
    tb.broker.close();
    expect(tb.broker.vhost('/')!.queues.has('q')).toBe(false);
  });
});
