import { Broker } from '@warren/core';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AmqpMethod, Frame } from '../codec/index.js';
import { AmqpSession, methodOf } from '../testing/session.js';

let broker: Broker;
let s: AmqpSession;
beforeEach(() => {
  broker = new Broker();
  s = new AmqpSession(broker, { maxMessageSize: 100000 });
  s.handshake({ capabilities: { consumer_cancel_notify: true } });
  s.openChannel(1);
});

function declare(channel: number, queue: string): void {
  s.method(channel, { name: 'queue.declare', ticket: 0, queue, passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} });
}
function methods(frames: Frame[]): AmqpMethod[] {
  return frames.filter((f) => f.type === 'method').map((f) => methodOf(f));
}

describe('channel errors are channel-scoped (4xx)', () => {
  it('404 closes only the channel; frames are ignored until close-ok; the channel can be reopened', () => {
    s.openChannel(2);
    s.method(1, { name: 'queue.declare', ticket: 0, queue: 'missing', passive: true, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} });
    const [close] = methods(s.frames());
    expect(close).toMatchObject({ name: 'channel.close', replyCode: 404, classId: 50, methodId: 10 });
    expect(close?.name === 'channel.close' && close.replyText).toMatch(/^NOT_FOUND - no queue 'missing' in vhost '\/'/);
    // Ignored until close-ok.
    declare(1, 'q1');
    expect(s.frames()).toHaveLength(0);
    // Other channels keep working.
    declare(2, 'q2');
    expect(s.names()).toEqual(['2:queue.declare-ok']);
    s.method(1, { name: 'channel.close-ok' });
    s.method(1, { name: 'channel.open', outOfBand: '' });
    expect(s.names()).toEqual(['1:channel.open-ok']);
  });

  it('client channel.close → close-ok', () => {
    s.method(1, { name: 'channel.close', replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
    expect(s.names()).toEqual(['1:channel.close-ok']);
  });

  it('publishing to a missing exchange → channel 404', () => {
    s.publish(1, 'nope', 'k', 'x');
    const [close] = methods(s.frames());
    expect(close).toMatchObject({ name: 'channel.close', replyCode: 404, classId: 60, methodId: 40 });
  });

  it('a body over maxMessageSize → channel 406 with RabbitMQ text; its body frames are skipped', () => {
    s.publish(1, '', 'q', Buffer.alloc(200000));
    const [close] = methods(s.frames());
    expect(close).toMatchObject({
      name: 'channel.close',
      replyCode: 406,
      replyText: 'PRECONDITION_FAILED - message size 200000 is larger than configured max size 100000',
    });
    expect(s.io.ended || s.io.destroyed).toBe(false);
  });

  it('basic.qos with prefetch_size → 540 connection error', () => {
    s.method(1, { name: 'basic.qos', prefetchSize: 10, prefetchCount: 0, global: false });
    const [close] = methods(s.frames());
    expect(close).toMatchObject({ name: 'connection.close', replyCode: 540, replyText: 'NOT_IMPLEMENTED - prefetch_size!=0 (10)', classId: 60, methodId: 10 });
  });

  it('tx and confirm are mutually exclusive (406)', () => {
    s.method(1, { name: 'tx.select' });
    s.method(1, { name: 'confirm.select', nowait: false });
    const m = methods(s.frames());
    expect(m[0]?.name).toBe('tx.select-ok');
    expect(m[1]).toMatchObject({ name: 'channel.close', replyCode: 406, replyText: 'PRECONDITION_FAILED - cannot switch from tx to confirm mode' });
  });

  it('tx.commit without tx.select → 406 channel is not transactional', () => {
    s.method(1, { name: 'tx.commit' });
    expect(methods(s.frames())[0]).toMatchObject({ replyCode: 406, replyText: 'PRECONDITION_FAILED - channel is not transactional', classId: 90, methodId: 20 });
  });
});

describe('methods', () => {
  it('declare/bind/purge/delete round trip, nowait honoured', () => {
    s.method(1, { name: 'exchange.declare', ticket: 0, exchange: 'x', type: 'direct', passive: false, durable: false, autoDelete: false, internal: false, nowait: false, arguments: {} });
    declare(1, 'q');
    s.method(1, { name: 'queue.bind', ticket: 0, queue: 'q', exchange: 'x', routingKey: 'k', nowait: true, arguments: {} });
    s.publish(1, 'x', 'k', 'a');
    s.method(1, { name: 'queue.purge', ticket: 0, queue: 'q', nowait: false });
    s.method(1, { name: 'queue.unbind', ticket: 0, queue: 'q', exchange: 'x', routingKey: 'k', arguments: {} });
    s.method(1, { name: 'exchange.delete', ticket: 0, exchange: 'x', ifUnused: false, nowait: false });
    s.method(1, { name: 'queue.delete', ticket: 0, queue: 'q', ifUnused: false, ifEmpty: false, nowait: false });
    s.method(1, { name: 'access.request', realm: '/data', exclusive: false, passive: true, active: true, write: true, read: true });
    const m = methods(s.frames());
    expect(m.map((x) => x.name)).toEqual([
      'exchange.declare-ok',
      'queue.declare-ok',
      'queue.purge-ok',
      'queue.unbind-ok',
      'exchange.delete-ok',
      'queue.delete-ok',
      'access.request-ok',
    ]);
    expect(m[2]).toMatchObject({ messageCount: 1 });
    expect(m[6]).toMatchObject({ ticket: 1 });
  });

  it('basic.consume: consume-ok before the first delivery, then basic.deliver with the body', () => {
    declare(1, 'q');
    s.publish(1, '', 'q', 'one');
    s.publish(1, '', 'q', 'two');
    s.frames();
    s.method(1, { name: 'basic.consume', ticket: 0, queue: 'q', consumerTag: 'c1', noLocal: false, noAck: false, exclusive: false, nowait: false, arguments: {} });
    const f = s.frames();
    expect(methodOf(f[0])).toEqual({ name: 'basic.consume-ok', consumerTag: 'c1' });
    const delivers = f.filter((x) => x.type === 'method').slice(1).map((x) => methodOf(x));
    expect(delivers).toHaveLength(2);
    expect(delivers[0]).toMatchObject({ name: 'basic.deliver', consumerTag: 'c1', deliveryTag: 1, routingKey: 'q' });
    const bodies = f.filter((x) => x.type === 'body').map((x) => (x.type === 'body' ? x.payload.toString() : ''));
    expect(bodies).toEqual(['one', 'two']);
    s.method(1, { name: 'basic.ack', deliveryTag: 2, multiple: true });
    s.method(1, { name: 'basic.cancel', consumerTag: 'c1', nowait: false });
    expect(s.names()).toEqual(['1:basic.cancel-ok']);
  });

  it('basic.cancel of an unknown tag → cancel-ok', () => {
    s.method(1, { name: 'basic.cancel', consumerTag: 'nope', nowait: false });
    expect(s.names()).toEqual(['1:basic.cancel-ok']);
  });

  it('basic.get → get-empty, then get-ok with content; multi-frame body assembled', () => {
    declare(1, 'q');
    s.method(1, { name: 'basic.get', ticket: 0, queue: 'q', noAck: true });
    expect(s.names()).toEqual(['1:queue.declare-ok', '1:basic.get-empty']);
    const body = Buffer.alloc(90000, 7);
    // Split into 4 KiB frames and fed in odd-sized chunks.
    const bytes = s.publishFrames(1, '', 'q', body, false, 4096);
    for (let i = 0; i < bytes.length; i += 5000) s.send(bytes.subarray(i, i + 5000));
    s.method(1, { name: 'basic.get', ticket: 0, queue: 'q', noAck: true });
    const f = s.frames();
    expect(methodOf(f[0])).toMatchObject({ name: 'basic.get-ok', deliveryTag: 1, messageCount: 0 });
    const got = Buffer.concat(f.filter((x) => x.type === 'body').map((x) => (x.type === 'body' ? x.payload : Buffer.alloc(0))));
    expect(got.equals(body)).toBe(true);
  });

  it('queue deletion cancels consumers with basic.cancel (consumer_cancel_notify)', () => {
    declare(1, 'q');
    s.method(1, { name: 'basic.consume', ticket: 0, queue: 'q', consumerTag: 'c1', noLocal: false, noAck: true, exclusive: false, nowait: true, arguments: {} });
    s.frames();
    s.openChannel(2);
    s.method(2, { name: 'queue.delete', ticket: 0, queue: 'q', ifUnused: false, ifEmpty: false, nowait: true });
    expect(methods(s.frames())).toContainEqual({ name: 'basic.cancel', consumerTag: 'c1', nowait: true });
  });

  it('deleting a queue the same channel consumes from: queue.delete-ok before basic.cancel (RabbitMQ order)', () => {
    declare(1, 'q');
    s.method(1, { name: 'basic.consume', ticket: 0, queue: 'q', consumerTag: 'c1', noLocal: false, noAck: true, exclusive: false, nowait: true, arguments: {} });
    s.frames();
    s.method(1, { name: 'queue.delete', ticket: 0, queue: 'q', ifUnused: false, ifEmpty: false, nowait: false });
    expect(s.names()).toEqual(['1:queue.delete-ok', '1:basic.cancel']);
  });

  it('mandatory publish without a route → basic.return 312 NO_ROUTE before the confirm', () => {
    s.method(1, { name: 'confirm.select', nowait: false });
    s.publish(1, '', 'nowhere', 'x', true);
    const m = methods(s.frames());
    expect(m.map((x) => x.name)).toEqual(['confirm.select-ok', 'basic.return', 'basic.ack']);
    expect(m[1]).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', routingKey: 'nowhere' });
  });

  it('channel.flow → flow-ok', () => {
    s.method(1, { name: 'channel.flow', active: false });
    s.method(1, { name: 'channel.flow', active: true });
    expect(methods(s.frames())).toEqual([
      { name: 'channel.flow-ok', active: false },
      { name: 'channel.flow-ok', active: true },
    ]);
  });

  it('basic.recover → recover-ok; recover-async → nothing', () => {
    s.method(1, { name: 'basic.recover', requeue: true });
    s.method(1, { name: 'basic.recover-async', requeue: true });
    expect(s.names()).toEqual(['1:basic.recover-ok']);
  });
});

describe('publisher confirms', () => {
  it('consecutive confirms in one chunk are coalesced into one basic.ack multiple=true', () => {
    declare(1, 'q');
    s.method(1, { name: 'confirm.select', nowait: true });
    s.frames();
    const p = s.publishFrames(1, '', 'q', 'x');
    s.send(p, p, p, p, p);
    expect(methods(s.frames())).toEqual([{ name: 'basic.ack', deliveryTag: 5, multiple: true }]);
    s.publish(1, '', 'q', 'y');
    expect(methods(s.frames())).toEqual([{ name: 'basic.ack', deliveryTag: 6, multiple: false }]);
  });

  it('x-overflow reject-publish → basic.nack; acks and nacks are not merged', () => {
    s.method(1, { name: 'queue.declare', ticket: 0, queue: 'small', passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    s.method(1, { name: 'confirm.select', nowait: false });
    s.frames();
    const p = s.publishFrames(1, '', 'small', 'x');
    s.send(p, p, p);
    expect(methods(s.frames())).toEqual([
      { name: 'basic.ack', deliveryTag: 1, multiple: false },
      { name: 'basic.nack', deliveryTag: 3, multiple: true, requeue: false },
    ]);
  });
});

describe('transactions', () => {
  it('publishes and acks are held until tx.commit; rollback discards', () => {
    declare(1, 'q');
    s.method(1, { name: 'tx.select' });
    s.publish(1, '', 'q', 'a');
    s.method(1, { name: 'basic.get', ticket: 0, queue: 'q', noAck: true });
    expect(s.names()).toEqual(['1:queue.declare-ok', '1:tx.select-ok', '1:basic.get-empty']);
    s.method(1, { name: 'tx.commit' });
    s.method(1, { name: 'basic.get', ticket: 0, queue: 'q', noAck: true });
    expect(s.names()).toEqual(['1:tx.commit-ok', '1:basic.get-ok']);
    s.publish(1, '', 'q', 'b');
    s.method(1, { name: 'tx.rollback' });
    s.method(1, { name: 'tx.commit' });
    s.method(1, { name: 'basic.get', ticket: 0, queue: 'q', noAck: true });
    expect(s.names()).toEqual(['1:tx.rollback-ok', '1:tx.commit-ok', '1:basic.get-empty']);
  });

  it('an ack inside a transaction takes effect at commit', () => {
    declare(1, 'q');
    s.publish(1, '', 'q', 'a');
    s.method(1, { name: 'tx.select' });
    s.method(1, { name: 'basic.get', ticket: 0, queue: 'q', noAck: false });
    s.method(1, { name: 'basic.ack', deliveryTag: 1, multiple: false });
    s.method(1, { name: 'basic.recover', requeue: true });
    s.frames();
    // Not committed: recover requeued it.
    s.method(1, { name: 'basic.get', ticket: 0, queue: 'q', noAck: false });
    expect(methods(s.frames())[0]).toMatchObject({ name: 'basic.get-ok', redelivered: true });
  });
});
