import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DISPATCH_BUDGET } from './queue/queue.js';
import { makeMessage } from './testing/fake-host.js';
import { err, TestBroker, type TestChannel } from './testing/setup.js';

let tb: TestBroker;
let c: TestChannel;
beforeEach(() => {
  tb = new TestBroker();
  c = tb.channel();
});
afterEach(() => tb.close());

const pub = (q: string, ...bodies: string[]): void => {
  for (const b of bodies) c.ch.publish(makeMessage('', q, b), {});
};
const count = (q: string): number => c.ch.declareQueue(q, { passive: true }).messageCount;

describe('consumers and dispatch', () => {
  it('delivers with channel-scoped increasing tags; the consumer tag is generated when empty', () => {
    c.ch.declareQueue('q', {});
    pub('q', 'a');
    const tag = c.ch.consume('q', {});
    expect(tag).toMatch(/^amq\.ctag-[A-Za-z0-9_-]{22}$/);
    pub('q', 'b');
    expect(c.host.deliveries.map((d) => [d.consumerTag, d.deliveryTag, d.redelivered, d.queue])).toEqual([
      [tag, 1, false, 'q'],
      [tag, 2, false, 'q'],
    ]);
    expect(c.host.bodies()).toEqual(['a', 'b']);
  });

  it('a duplicate consumer tag is NOT_ALLOWED', () => {
    c.ch.declareQueue('q', {});
    c.ch.consume('q', { consumerTag: 't' });
    expect(err(() => c.ch.consume('q', { consumerTag: 't' }))).toBe("NOT_ALLOWED: attempt to reuse consumer tag 't'");
    expect(err(() => c.ch.consume('nq', {}))).toBe("NOT_FOUND: no queue 'nq' in vhost '/'");
    expect(err(() => c.ch.consume('q', { arguments: { 'x-priority': 'high' } }))).toBe(
      `PRECONDITION_FAILED: invalid arg 'x-priority' for queue 'q' in vhost '/': "expected integer, got longstr"`,
    );
  });

  it('round-robins between consumers', () => {
    c.ch.declareQueue('q', {});
    const other = tb.channel();
    c.ch.consume('q', { noAck: true });
    other.ch.consume('q', { noAck: true });
    pub('q', '1', '2', '3', '4');
    expect(c.host.bodies()).toEqual(['1', '3']);
    expect(other.host.bodies()).toEqual(['2', '4']);
  });

  it('consumer priorities: higher first while it can take messages', () => {
    c.ch.declareQueue('q', {});
    const low = tb.channel();
    low.ch.consume('q', { noAck: true });
    c.ch.qos(2, false);
    c.ch.consume('q', { arguments: { 'x-priority': 10 } });
    pub('q', '1', '2', '3');
    expect(c.host.bodies()).toEqual(['1', '2']);
    expect(low.host.bodies()).toEqual(['3']);
  });

  it('exclusive consumers', () => {
    c.ch.declareQueue('q', {});
    c.ch.consume('q', { exclusive: true });
    const other = tb.channel();
    expect(err(() => other.ch.consume('q', {}))).toBe("ACCESS_REFUSED: queue 'q' in vhost '/' in exclusive use");
    c.ch.declareQueue('r', {});
    other.ch.consume('r', {});
    expect(err(() => c.ch.consume('r', { exclusive: true }))).toBe("ACCESS_REFUSED: queue 'r' in vhost '/' in exclusive use");
  });

  it('single active consumer: only the first gets messages until it goes', () => {
    c.ch.declareQueue('s', { arguments: { 'x-single-active-consumer': true } });
    const other = tb.channel();
    const t1 = c.ch.consume('s', { noAck: true });
    other.ch.consume('s', { noAck: true });
    pub('s', '1', '2');
    c.ch.cancel(t1);
    pub('s', '3');
    expect(c.host.bodies()).toEqual(['1', '2']);
    expect(other.host.bodies()).toEqual(['3']);
  });

  it('a deleted queue cancels its consumers through the host', () => {
    c.ch.declareQueue('q', {});
    const tag = c.ch.consume('q', {});
    c.ch.deleteQueue('q', {});
    expect(c.host.cancelled).toEqual([tag]);
    c.ch.cancel(tag); // already gone: no error
  });

  it('a message to an empty queue with a waiting consumer skips the store', () => {
    c.ch.declareQueue('q', {});
    c.ch.consume('q', {});
    const store = tb.broker.vhost('/')!.queues.get('q')!.store;
    let pushes = 0;
    const push = store.push.bind(store);
    store.push = (e) => {
      pushes++;
      push(e);
    };
    pub('q', 'a', 'b');
    expect(c.host.deliveries).toHaveLength(2);
    expect(pushes).toBe(0);
  });
});

describe('prefetch', () => {
  it('per-consumer prefetch (global=false) applies to consumers created afterwards', () => {
    c.ch.declareQueue('q', {});
    const before = c.ch.consume('q', {});
    c.ch.qos(1, false);
    const after = c.ch.consume('q', {});
    pub('q', '1', '2', '3', '4', '5');
    const per = (t: string): number => c.host.deliveries.filter((d) => d.consumerTag === t).length;
    expect([per(before), per(after)]).toEqual([4, 1]);
  });

  it('global prefetch is shared by the channel; acks let more through', () => {
    c.ch.declareQueue('a', {});
    c.ch.declareQueue('b', {});
    c.ch.qos(2, true);
    c.ch.consume('a', {});
    c.ch.consume('b', {});
    pub('a', 'a1', 'a2');
    pub('b', 'b1');
    expect(c.host.bodies()).toEqual(['a1', 'a2']);
    c.ch.ack(1, false);
    expect(c.host.bodies()).toEqual(['a1', 'a2', 'b1']);
  });

  it('prefetch 0 is unlimited; noAck ignores prefetch', () => {
    c.ch.declareQueue('q', {});
    c.ch.qos(1, false);
    c.ch.consume('q', { noAck: true });
    pub('q', '1', '2', '3');
    expect(c.host.deliveries).toHaveLength(3);
  });
});

describe('acknowledgements', () => {
  beforeEach(() => {
    c.ch.declareQueue('q', {});
    pub('q', '1', '2', '3', '4');
  });

  it('unknown delivery tags, double acks and tag 0 without multiple are PRECONDITION_FAILED', () => {
    c.ch.consume('q', {});
    expect(err(() => c.ch.ack(99, false))).toBe('PRECONDITION_FAILED: unknown delivery tag 99');
    c.ch.ack(1, false);
    expect(err(() => c.ch.ack(1, false))).toBe('PRECONDITION_FAILED: unknown delivery tag 1');
    expect(err(() => c.ch.ack(0, false))).toBe('PRECONDITION_FAILED: unknown delivery tag 0');
    expect(err(() => c.ch.ack(99, true))).toBe('PRECONDITION_FAILED: unknown delivery tag 99');
  });

  it('multiple acks up to the tag; tag 0 with multiple acks everything', () => {
    c.ch.qos(0, false);
    const tag = c.ch.consume('q', {});
    c.ch.ack(2, true);
    c.ch.cancel(tag);
    c.ch.nack(3, false, true);
    expect(count('q')).toBe(1);
    c.ch.ack(0, true);
    expect(err(() => c.ch.ack(4, false))).toMatch(/unknown delivery tag 4/);
    expect(count('q')).toBe(1);
  });

  it('requeued messages go back to their original position with redelivered=true', () => {
    const tag = c.ch.consume('q', {});
    c.ch.cancel(tag);
    c.ch.nack(3, true, true); // requeue 1..3 (4 was delivered too but stays unacked)
    const got = [1, 2, 3].map(() => c.ch.get('q', true)!.delivery);
    expect(got.map((d) => [d.message.body.toString(), d.redelivered])).toEqual([
      ['1', true],
      ['2', true],
      ['3', true],
    ]);
    c.ch.reject(4, true);
    expect(c.ch.get('q', true)!.delivery.redelivered).toBe(true);
  });

  it('a requeued message goes back before messages published after it', () => {
    const g = c.ch.get('q', false)!;
    pub('q', '5');
    c.ch.reject(g.delivery.deliveryTag, true);
    expect([1, 2, 3, 4, 5].map(() => c.ch.get('q', true)!.delivery.message.body.toString())).toEqual(['1', '2', '3', '4', '5']);
  });

  it('reject without requeue drops the message when there is no DLX', () => {
    c.ch.consume('q', {});
    c.ch.reject(1, false);
    c.ch.nack(4, true, false);
    expect(count('q')).toBe(0);
  });

  it('basic.get shares delivery tags with consumers and reports the remaining count', () => {
    const g = c.ch.get('q', false)!;
    expect(g.delivery).toMatchObject({ consumerTag: '', deliveryTag: 1, queue: 'q' });
    expect(g.messageCount).toBe(3);
    c.ch.consume('q', { noAck: true });
    expect(c.host.deliveries[0]!.deliveryTag).toBe(2);
    c.ch.ack(1, false);
    expect(c.ch.get('q', true)).toBeUndefined();
  });

  it('recover requeues every unacked message; requeue=false is not implemented', () => {
    c.ch.get('q', false);
    c.ch.get('q', false);
    c.ch.recover(true);
    expect(count('q')).toBe(4);
    expect(err(() => c.ch.recover(false))).toBe('NOT_IMPLEMENTED: requeue=false');
  });

  it('closing a channel requeues its unacked messages for other consumers', () => {
    c.ch.qos(2, false);
    c.ch.consume('q', {});
    const other = tb.channel();
    c.ch.close();
    c.ch.close(); // idempotent
    other.ch.consume('q', { noAck: true });
    expect(other.host.bodies()).toEqual(['1', '2', '3', '4']);
    expect(other.host.deliveries.map((d) => d.redelivered)).toEqual([true, true, false, false]);
  });
});

describe('publish', () => {
  it('mandatory without a route is returned 312 NO_ROUTE before its confirm', () => {
    c.ch.publish(makeMessage('amq.direct', 'nowhere', 'x'), { mandatory: true, sequence: 1 });
    c.ch.publish(makeMessage('amq.direct', 'nowhere', 'y'), { sequence: 2 });
    expect(c.host.returns.map((r) => [r.message.body.toString(), r.replyCode, r.replyText])).toEqual([['x', 312, 'NO_ROUTE']]);
    expect(c.host.calls).toEqual(['returned', 'confirm', 'confirm']);
    expect(c.host.confirms).toEqual([
      [1, true],
      [2, true],
    ]);
  });

  it('user-id must match the authenticated user', () => {
    c.ch.declareQueue('q', {});
    c.ch.publish(makeMessage('', 'q', 'x', { userId: 'guest' }), {});
    expect(err(() => c.ch.publish(makeMessage('', 'q', 'x', { userId: 'bob' }), {}))).toBe(
      "PRECONDITION_FAILED: user_id property set to 'bob' but authenticated user was 'guest'",
    );
  });

  it('the body buffer is shared between queues', () => {
    c.ch.declareQueue('a', {});
    c.ch.declareQueue('b', {});
    c.ch.bindQueue('a', 'amq.fanout', '');
    c.ch.bindQueue('b', 'amq.fanout', '');
    c.ch.publish(makeMessage('amq.fanout', '', 'x'), {});
    expect(c.ch.get('a', true)!.delivery.message.body).toBe(c.ch.get('b', true)!.delivery.message.body);
  });
});

describe('direct reply-to', () => {
  it('routes replies straight to the requesting channel', () => {
    c.ch.declareQueue('rpc', {});
    const replyTag = c.ch.consume('amq.rabbitmq.reply-to', { noAck: true });
    c.ch.publish(makeMessage('', 'rpc', 'request', { replyTo: 'amq.rabbitmq.reply-to', correlationId: '1' }), {});
    const server = tb.channel();
    const req = server.ch.get('rpc', true)!.delivery.message;
    expect(req.properties.replyTo).toMatch(/^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]+$/);
    expect(req.properties.correlationId).toBe('1');
    expect(req.rawProperties).toBeUndefined();
    server.ch.publish(makeMessage('', req.properties.replyTo!, 'reply'), { mandatory: true });
    expect(c.host.deliveries.map((d) => [d.consumerTag, d.message.body.toString()])).toEqual([[replyTag, 'reply']]);
    expect(server.host.returns).toHaveLength(0);
    // After cancel the address is dead: mandatory replies come back.
    c.ch.cancel(replyTag);
    server.ch.publish(makeMessage('', req.properties.replyTo!, 'late'), { mandatory: true });
    expect(server.host.returns).toHaveLength(1);
  });

  it('needs a no-ack reply consumer on the publishing channel', () => {
    c.ch.declareQueue('rpc', {});
    expect(err(() => c.ch.publish(makeMessage('', 'rpc', 'x', { replyTo: 'amq.rabbitmq.reply-to' }), {}))).toBe(
      'PRECONDITION_FAILED: fast reply consumer does not exist',
    );
    expect(err(() => c.ch.consume('amq.rabbitmq.reply-to', {}))).toBe('PRECONDITION_FAILED: reply consumer cannot acknowledge');
  });
});

describe('flow and backpressure', () => {
  it('delivers nothing while the host is not writable; resume continues', () => {
    c.ch.declareQueue('q', {});
    c.ch.consume('q', { noAck: true });
    c.host.writable = false;
    pub('q', '1', '2');
    expect(c.host.deliveries).toHaveLength(0);
    c.host.writable = true;
    c.ch.resume();
    expect(c.host.bodies()).toEqual(['1', '2']);
  });

  it('channel.flow(false) pauses deliveries', () => {
    c.ch.declareQueue('q', {});
    c.ch.consume('q', { noAck: true });
    c.ch.flow(false);
    pub('q', '1');
    expect(c.host.deliveries).toHaveLength(0);
    c.ch.flow(true);
    expect(c.host.bodies()).toEqual(['1']);
  });

  it('a dispatch run is bounded and continues on a later event-loop turn', async () => {
    c.ch.declareQueue('q', {});
    pub('q', ...Array.from({ length: DISPATCH_BUDGET * 2 + 10 }, (_, i) => String(i)));
    c.ch.consume('q', { noAck: true });
    expect(c.host.deliveries).toHaveLength(DISPATCH_BUDGET);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(c.host.deliveries).toHaveLength(DISPATCH_BUDGET * 2 + 10);
    expect(c.host.bodies()[DISPATCH_BUDGET * 2 + 9]).toBe(String(DISPATCH_BUDGET * 2 + 9));
  });
});

describe('queue name shortcuts', () => {
  it("'' means the channel's last declared queue", () => {
    const q = c.ch.declareQueue('', { exclusive: true }).queue;
    c.ch.bindQueue('', 'amq.direct', '');
    c.ch.publish(makeMessage('amq.direct', q, 'x'), {});
    expect(c.ch.get('', true)!.delivery.queue).toBe(q);
    const fresh = tb.channel();
    expect(err(() => fresh.ch.get('', true))).toBe('NOT_FOUND: no previously declared queue');
  });
});
