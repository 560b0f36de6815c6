/**
 * Flow control at the state-machine level: resource alarms block publishers only (RabbitMQ's rabbit_reader
 * throttle), slow consumers are disconnected, reading pauses only far over the high-water mark, and a broker
 * shutdown closes connections with 320 CONNECTION_FORCED.
 */
import { Broker } from '@warren/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AmqpSession, methodOf } from '../testing/session.js';

let broker: Broker;
beforeEach(() => {
  broker = new Broker();
});
afterEach(() => {
  vi.useRealTimers();
  broker.close();
});

function declare(s: AmqpSession, queue: string): void {
  s.method(1, { name: 'queue.declare', ticket: 0, queue, passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} });
  s.frames();
}

function consume(s: AmqpSession, queue: string, noAck = false): void {
  s.method(1, { name: 'basic.consume', ticket: 0, queue, consumerTag: 'c1', noLocal: false, noAck, exclusive: false, nowait: false, arguments: {} });
}

describe('resource alarms block publishing connections only', () => {
  it('a consuming connection keeps being read and keeps receiving; a publisher is blocked at its first publish', () => {
    const consumer = new AmqpSession(broker);
    consumer.handshake({ capabilities: { 'connection.blocked': true } });
    consumer.openChannel(1);
    declare(consumer, 'q');
    const publisher = new AmqpSession(broker);
    publisher.handshake({ capabilities: { 'connection.blocked': true } });
    publisher.openChannel(1);
    publisher.publish(1, '', 'q', 'before');

    broker.setAlarm('memory', true);
    // Nothing is said to anyone until they publish.
    expect(consumer.frames()).toHaveLength(0);
    expect(publisher.frames()).toHaveLength(0);
    expect(consumer.io.paused).toBe(false);

    consume(consumer, 'q', true);
    expect(consumer.names()).toEqual(['1:basic.consume-ok', '1:basic.deliver']);
    expect(consumer.io.paused).toBe(false);

    publisher.publish(1, '', 'q', 'during');
    const f = publisher.frames();
    expect(methodOf(f[0])).toEqual({ name: 'connection.blocked', reason: 'low on memory' });
    expect(publisher.io.paused).toBe(true);
    // The publish that tripped the block was accepted (RabbitMQ handles the frame it has read).
    expect(consumer.names()).toEqual(['1:basic.deliver']);

    broker.setAlarm('memory', false);
    expect(publisher.names()).toEqual(['0:connection.unblocked']);
    expect(publisher.io.paused).toBe(false);
    expect(consumer.frames()).toHaveLength(0);
  });

  it('an alarm that clears before any publish sends nothing', () => {
    const s = new AmqpSession(broker);
    s.handshake({ capabilities: { 'connection.blocked': true } });
    s.openChannel(1);
    broker.setAlarm('disk', true);
    broker.setAlarm('disk', false);
    s.publish(1, '', 'nowhere', 'x');
    expect(s.frames()).toHaveLength(0);
    expect(s.io.paused).toBe(false);
  });

  it('a connection opened during an alarm is blocked by its first publish, with the reason', () => {
    broker.setAlarm('disk', true);
    broker.setAlarm('memory', true);
    const s = new AmqpSession(broker);
    s.handshake({ capabilities: { 'connection.blocked': true } });
    s.openChannel(1);
    expect(s.io.paused).toBe(false);
    s.publish(1, '', 'nowhere', 'x');
    expect(methodOf(s.frames()[0])).toEqual({ name: 'connection.blocked', reason: 'low on memory & disk' });
    expect(s.io.paused).toBe(true);
  });
});

describe('slow consumers (DESIGN.md §5)', () => {
  function loadedConsumer(options: { slowConsumerTimeoutMs?: number } = {}): AmqpSession {
    const s = new AmqpSession(broker, options);
    s.handshake();
    s.openChannel(1);
    declare(s, 'q');
    for (let i = 0; i < 3; i++) s.publish(1, '', 'q', `m${i}`);
    return s;
  }

  it('a client that does not drain within the timeout is disconnected and its unacked messages requeued', () => {
    vi.useFakeTimers();
    const s = loadedConsumer({ slowConsumerTimeoutMs: 5000 });
    consume(s, 'q');
    const q = broker.vhost('/')!.queues.get('q')!;
    expect(q.messageCount).toBe(0); // all three out, unacked
    s.io.writable = false; // the client stopped reading: its output sits over the high-water mark
    s.method(1, { name: 'basic.qos', prefetchSize: 0, prefetchCount: 10, global: false });
    vi.advanceTimersByTime(4999);
    expect(s.io.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(s.io.destroyed).toBe(true);
    expect(q.messageCount).toBe(3);
    expect(s.logger.lines.some((l) => l.level === 'warn' && /slow consumer/.test(l.msg ?? ''))).toBe(true);
  });

  it('draining in time resets the clock', () => {
    vi.useFakeTimers();
    const s = loadedConsumer({ slowConsumerTimeoutMs: 5000 });
    s.io.writable = false;
    consume(s, 'q');
    vi.advanceTimersByTime(4000);
    s.io.writable = true;
    s.connection.onWritable();
    vi.advanceTimersByTime(10_000);
    expect(s.io.destroyed).toBe(false);
  });

  it('the default timeout is 60 s, and 0 disables it', () => {
    vi.useFakeTimers();
    const a = loadedConsumer();
    a.io.writable = false;
    consume(a, 'q');
    vi.advanceTimersByTime(59_999);
    expect(a.io.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(a.io.destroyed).toBe(true);

    const b = new AmqpSession(broker, { slowConsumerTimeoutMs: 0 });
    b.handshake();
    b.openChannel(1);
    b.io.writable = false;
    b.method(1, { name: 'basic.qos', prefetchSize: 0, prefetchCount: 1, global: false });
    vi.advanceTimersByTime(3_600_000);
    expect(b.io.destroyed).toBe(false);
  });
});

describe('reading pauses only well over the high-water mark', () => {
  it('over the mark but not overloaded: keeps reading; overloaded: pauses until drained', () => {
    const s = new AmqpSession(broker);
    const io = s.io as typeof s.io & { overloaded: boolean };
    io.overloaded = false;
    s.handshake();
    s.openChannel(1);
    io.writable = false;
    s.method(1, { name: 'basic.qos', prefetchSize: 0, prefetchCount: 1, global: false });
    expect(io.paused).toBe(false);
    io.overloaded = true;
    s.method(1, { name: 'basic.qos', prefetchSize: 0, prefetchCount: 2, global: false });
    expect(io.paused).toBe(true);
    io.writable = true;
    io.overloaded = false;
    s.connection.onWritable();
    expect(io.paused).toBe(false);
  });
});

describe('broker shutdown', () => {
  it("sends connection.close 320 CONNECTION_FORCED 'shutdown', waits for close-ok, then ends", async () => {
    const s = new AmqpSession(broker);
    s.handshake();
    s.openChannel(1);
    s.frames();
    const done = s.connection.shutdown();
    const [f] = s.frames();
    expect(f?.channel).toBe(0);
    expect(methodOf(f)).toEqual({
      name: 'connection.close',
      replyCode: 320,
      replyText: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
      classId: 0,
      methodId: 0,
    });
    expect(s.io.ended).toBe(false);
    s.method(0, { name: 'connection.close-ok' });
    await done;
    expect(s.io.ended).toBe(true);
    expect(s.connection.closed).toBe(true);
  });

  it('gives up waiting for close-ok after the close timeout', async () => {
    vi.useFakeTimers();
    const s = new AmqpSession(broker, { closeTimeoutMs: 1000 });
    s.handshake();
    let resolved = false;
    void s.connection.shutdown().then(() => (resolved = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(resolved).toBe(true);
    expect(s.io.ended).toBe(true);
  });

  it('a connection still in its handshake is just closed', async () => {
    const s = new AmqpSession(broker);
    s.send(Buffer.from('AMQP\x00\x00\x09\x01'));
    await s.connection.shutdown();
    expect(s.io.destroyed).toBe(true);
  });
});
