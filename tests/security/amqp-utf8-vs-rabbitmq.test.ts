/**
 * Malformed UTF-8 in AMQP short strings, against a private RabbitMQ 3.10 node: a queue, exchange, binding key or
 * consumer tag whose bytes are not UTF-8 is a connection error 501 FRAME_ERROR on both brokers (decoding it with
 * replacement characters would let different names alias one queue), while basic.publish's exchange and routing key
 * pass unchecked on both (RabbitMQ answers a malformed exchange name with 404).
 *
 * Skipped when Debian's rabbitmq-server is not installed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { rabbitmqInstalled, startPrivateRabbitMQ, type PrivateRabbitMQ } from '../support/rabbitmq.js';
import { method, RawAmqp, shortstr } from './raw-amqp.js';

const bad = Buffer.from([0x71, 0xff, 0x71]);
const q = Buffer.from('utf8-q');
const z2 = Buffer.from([0, 0]);
const t0 = Buffer.from([0, 0, 0, 0]);
const b0 = Buffer.from([0]);

/** Each case: a method on channel 1 with one malformed shortstr. */
const cases: Record<string, Buffer> = {
  'queue.declare queue': method(50, 10, z2, shortstr(bad), b0, t0),
  'queue.declare passive': method(50, 10, z2, shortstr(bad), Buffer.from([1]), t0),
  'exchange.declare exchange': method(40, 10, z2, shortstr(bad), shortstr('direct'), b0, t0),
  'queue.bind routing-key': method(50, 20, z2, shortstr(q), shortstr('amq.direct'), shortstr(bad), b0, t0),
  'queue.delete queue': method(50, 40, z2, shortstr(bad), b0),
  'basic.consume consumer-tag': method(60, 20, z2, shortstr(q), shortstr(bad), b0, t0),
  'basic.get queue': method(60, 70, z2, shortstr(bad), b0),
};

async function reply(port: number, payload: Buffer): Promise<string> {
  const c = await RawAmqp.open(port);
  try {
    c.send(1, method(50, 10, z2, shortstr(q), b0, t0));
    await c.next(50, 11);
    c.send(1, payload);
    if (payload.readUInt16BE(0) === 60 && payload.readUInt16BE(2) === 40) {
      // basic.publish needs its content header; an accepted publish has no reply, so ask for one after it.
      c.sendContentHeader(1);
    }
    c.send(1, method(50, 10, z2, shortstr(q), Buffer.from([1]), t0));
    const m = await c.next();
    return m === undefined ? 'closed' : `${m.channel} ${m.classId}.${m.methodId} ${m.replyCode} ${m.replyText}`;
  } finally {
    c.close();
  }
}

describe.skipIf(!rabbitmqInstalled())('malformed UTF-8 in shortstr: Warren against RabbitMQ 3.10', () => {
  let rmq: PrivateRabbitMQ;
  let warren: RunningBroker;

  beforeAll(async () => {
    [rmq, warren] = await Promise.all([startPrivateRabbitMQ(), startEmbeddedBroker()]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([rmq?.stop(), warren?.stop()]);
  }, 60_000);

  it.each(Object.keys(cases))('%s: 501 FRAME_ERROR on both', async (name) => {
    const payload = cases[name]!;
    const [r, w] = await Promise.all([reply(rmq.amqpPort, payload), reply(warren.ports.amqp!, payload)]);
    expect(r).toBe('0 10.50 501 FRAME_ERROR - Malformed UTF-8 in shortstr');
    expect(w).toBe(r);
  });

  it.each([
    ['basic.publish routing-key', method(60, 40, z2, shortstr('amq.direct'), shortstr(bad), b0)],
    ['basic.publish exchange', method(60, 40, z2, shortstr(bad), shortstr('k'), b0)],
  ])('%s passes unchecked on both', async (_name, payload) => {
    const [r, w] = await Promise.all([reply(rmq.amqpPort, payload), reply(warren.ports.amqp!, payload)]);
    expect(w).toBe(r);
  });
});
