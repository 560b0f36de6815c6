import { Broker } from '@warren/core';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../codec/index.js';
import { AmqpSession } from '../testing/session.js';

function closeOf(frames: Frame[]): { channel: number; replyCode: number; replyText: string; classId: number; methodId: number } {
  const f = frames.find((x) => x.type === 'method' && (x.method.name === 'connection.close' || x.method.name === 'channel.close'));
  if (f === undefined || f.type !== 'method') throw new Error(`no close in ${JSON.stringify(frames.map((x) => x.type))}`);
  const m = f.method;
  if (m.name !== 'connection.close' && m.name !== 'channel.close') throw new Error('unreachable');
  return { channel: f.channel, replyCode: m.replyCode, replyText: m.replyText, classId: m.classId, methodId: m.methodId };
}

describe('limits on the wire (rabbit_reader, rabbit_channel)', () => {
  it('vhost max-connections: connection.open → connection.close 530 with RabbitMQ’s text', () => {
    const broker = new Broker();
    broker.setVhostLimits('/', { 'max-connections': 1 });
    new AmqpSession(broker).handshake();
    const c = closeOf(new AmqpSession(broker).handshake());
    expect(c).toMatchObject({
      channel: 0,
      replyCode: 530,
      replyText: "NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (1) is reached",
      classId: 10,
      methodId: 40,
    });
  });

  it('user max-connections: 530 "user connection limit"', () => {
    const broker = new Broker();
    broker.setUserLimits('guest', { 'max-connections': 0 });
    expect(closeOf(new AmqpSession(broker).handshake()).replyText).toBe(
      "NOT_ALLOWED - connection refused for user 'guest': user connection limit (0) is reached",
    );
  });

  it('user max-channels: channel.open → connection.close 530', () => {
    const broker = new Broker();
    broker.setUserLimits('guest', { 'max-channels': 1 });
    const s = new AmqpSession(broker);
    s.handshake();
    s.openChannel(1);
    s.frames();
    s.method(2, { name: 'channel.open', outOfBand: '' });
    expect(closeOf(s.frames())).toMatchObject({
      channel: 0,
      replyCode: 530,
      replyText: "NOT_ALLOWED - number of channels opened for user 'guest' has reached the maximum allowed user limit of (1)",
    });
  });

  it('consumerMaxPerChannel (RabbitMQ consumer_max_per_channel): one consumer too many → connection.close 530', () => {
    const broker = new Broker();
    const s = new AmqpSession(broker, { consumerMaxPerChannel: 2 });
    s.handshake();
    s.openChannel(1);
    s.method(1, { name: 'queue.declare', ticket: 0, queue: 'q', passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} });
    const consume = (tag: string): void =>
      s.method(1, { name: 'basic.consume', ticket: 0, queue: 'q', consumerTag: tag, noLocal: false, noAck: true, exclusive: false, nowait: false, arguments: {} });
    consume('a');
    consume('b');
    // Cancelling one makes room again.
    s.method(1, { name: 'basic.cancel', consumerTag: 'a', nowait: false });
    consume('c');
    expect(s.frames().filter((f) => f.type === 'method' && f.method.name === 'basic.consume-ok')).toHaveLength(3);
    consume('d');
    expect(closeOf(s.frames())).toMatchObject({
      channel: 0,
      replyCode: 530,
      replyText: 'NOT_ALLOWED - reached maximum (2) of consumers per channel',
      classId: 60,
      methodId: 20,
    });
  });
});
