/**
 * Bad input as a property: after the handshake, any sequence of methods (right and wrong channels, unknown names,
 * stray acks, out-of-order content, reserved names, invalid arguments) and raw garbage gets AMQP's own answers
 * (channel.close / connection.close with a reply code), never the connection's catch-all ("AMQP internal error",
 * reply 541), and a well-behaved client on the same broker keeps being served.
 */
import { Broker, type FieldTable } from '@warren/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMethod, encodeMethodWithContent, type AmqpMethod } from '../codec/index.js';
import { AmqpSession } from '../testing/session.js';

const name = fc.constantFrom('q', 'x', '', 'amq.q', 'amq.direct', 'amq.topic', 'amq.rabbitmq.reply-to', 'n'.repeat(255));
const exType = fc.constantFrom('direct', 'fanout', 'topic', 'headers', 'x-bogus');
const args: fc.Arbitrary<FieldTable> = fc.constantFrom<FieldTable>(
  {},
  { 'x-max-length': 1 },
  { 'x-max-length': -1 },
  { 'x-message-ttl': 'a' },
  { 'x-queue-type': 'stream' },
  { 'x-match': 'nonsense' },
  { 'x-dead-letter-exchange': 'x' },
);
const tag = fc.integer({ min: 0, max: 6 });
// Mostly the open channel 1, so sequences get deep; sometimes 0 (connection-level) or channels never opened.
const ch = fc.oneof({ weight: 12, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }) });

const method: fc.Arbitrary<AmqpMethod> = fc.oneof(
  fc.constant({ name: 'channel.open', outOfBand: '' }),
  fc.record({ name: fc.constant('channel.close'), replyCode: fc.constant(200), replyText: fc.constant(''), classId: fc.constant(0), methodId: fc.constant(0) }),
  fc.record({ name: fc.constant('channel.flow'), active: fc.boolean() }),
  fc.record({
    name: fc.constant('exchange.declare'),
    ticket: fc.constant(0),
    exchange: name,
    type: exType,
    passive: fc.boolean(),
    durable: fc.boolean(),
    autoDelete: fc.boolean(),
    internal: fc.boolean(),
    nowait: fc.boolean(),
    arguments: args,
  }),
  fc.record({ name: fc.constant('exchange.delete'), ticket: fc.constant(0), exchange: name, ifUnused: fc.boolean(), nowait: fc.boolean() }),
  fc.record({
    name: fc.constant('exchange.bind'),
    ticket: fc.constant(0),
    destination: name,
    source: name,
    routingKey: name,
    nowait: fc.boolean(),
    arguments: args,
  }),
  fc.record({
    name: fc.constant('queue.declare'),
    ticket: fc.constant(0),
    queue: name,
    passive: fc.boolean(),
    durable: fc.boolean(),
    exclusive: fc.boolean(),
    autoDelete: fc.boolean(),
    nowait: fc.boolean(),
    arguments: args,
  }),
  fc.record({ name: fc.constant('queue.bind'), ticket: fc.constant(0), queue: name, exchange: name, routingKey: name, nowait: fc.boolean(), arguments: args }),
  fc.record({ name: fc.constant('queue.unbind'), ticket: fc.constant(0), queue: name, exchange: name, routingKey: name, arguments: args }),
  fc.record({ name: fc.constant('queue.purge'), ticket: fc.constant(0), queue: name, nowait: fc.boolean() }),
  fc.record({ name: fc.constant('queue.delete'), ticket: fc.constant(0), queue: name, ifUnused: fc.boolean(), ifEmpty: fc.boolean(), nowait: fc.boolean() }),
  fc.record({
    name: fc.constant('basic.consume'),
    ticket: fc.constant(0),
    queue: name,
    consumerTag: fc.constantFrom('', 'c1', 'c1'),
    noLocal: fc.boolean(),
    noAck: fc.boolean(),
    exclusive: fc.boolean(),
    nowait: fc.boolean(),
    arguments: args,
  }),
  fc.record({ name: fc.constant('basic.cancel'), consumerTag: fc.constantFrom('c1', 'nope'), nowait: fc.boolean() }),
  fc.record({ name: fc.constant('basic.get'), ticket: fc.constant(0), queue: name, noAck: fc.boolean() }),
  fc.record({ name: fc.constant('basic.ack'), deliveryTag: tag, multiple: fc.boolean() }),
  fc.record({ name: fc.constant('basic.nack'), deliveryTag: tag, multiple: fc.boolean(), requeue: fc.boolean() }),
  fc.record({ name: fc.constant('basic.reject'), deliveryTag: tag, requeue: fc.boolean() }),
  fc.record({ name: fc.constant('basic.qos'), prefetchSize: fc.constantFrom(0, 10), prefetchCount: fc.constantFrom(0, 1, 5), global: fc.boolean() }),
  fc.record({ name: fc.constant('basic.recover'), requeue: fc.boolean() }),
  fc.constantFrom<AmqpMethod>({ name: 'tx.select' }, { name: 'tx.commit' }, { name: 'tx.rollback' }),
  fc.record({ name: fc.constant('confirm.select'), nowait: fc.boolean() }),
) as fc.Arbitrary<AmqpMethod>;

type Step =
  | { kind: 'method'; channel: number; method: AmqpMethod }
  | { kind: 'publish'; channel: number; exchange: string; routingKey: string; mandatory: boolean; body: Uint8Array }
  | { kind: 'bytes'; bytes: Uint8Array };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('method' as const), channel: ch, method }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      channel: ch,
      exchange: name,
      routingKey: name,
      mandatory: fc.boolean(),
      body: fc.uint8Array({ maxLength: 32 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }) },
);

describe('hostile input after the handshake (property)', () => {
  it('answers with reply codes, never an internal error; a bystander is still served', () => {
    const broker = new Broker();
    const bystander = new AmqpSession(broker);
    bystander.handshake();
    bystander.openChannel(1);
    fc.assert(
      fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
        const s = new AmqpSession(broker);
        s.handshake();
        s.openChannel(1);
        for (const st of steps) {
          if (s.io.ended || s.io.destroyed) break;
          if (st.kind === 'bytes') s.send(Buffer.from(st.bytes));
          else if (st.kind === 'method') s.send(encodeMethod(st.channel, st.method));
          else {
            const publish: AmqpMethod = { name: 'basic.publish', ticket: 0, exchange: st.exchange, routingKey: st.routingKey, mandatory: st.mandatory, immediate: false };
            s.send(encodeMethodWithContent(st.channel, publish, {}, undefined, Buffer.from(st.body), 131072));
          }
          // Like a real client, answer a channel.close and reopen the channel, so sequences reach deeper states.
          for (const f of s.frames()) {
            if (f.type === 'method' && f.method.name === 'channel.close') {
              s.method(f.channel, { name: 'channel.close-ok' });
              s.method(f.channel, { name: 'channel.open', outOfBand: '' });
            }
          }
        }
        const internal = s.logger.lines.filter((l) => l.level === 'error');
        expect(internal).toEqual([]);
        s.connection.transportClosed();
      }),
      { numRuns: 500 },
    );
    // The bystander still declares, publishes and gets.
    bystander.method(1, { name: 'queue.declare', ticket: 0, queue: 'still-here', passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} });
    bystander.send(
      encodeMethodWithContent(1, { name: 'basic.publish', ticket: 0, exchange: '', routingKey: 'still-here', mandatory: false, immediate: false }, {}, undefined, Buffer.from('ok'), 131072),
    );
    bystander.method(1, { name: 'basic.get', ticket: 0, queue: 'still-here', noAck: true });
    expect(bystander.names()).toEqual(['1:queue.declare-ok', '1:basic.get-ok']);
    broker.close();
  });
});
