/**
 * Error cases, with amqplib: each asserts RabbitMQ's reply code, its scope (channel versus connection) and its exact
 * reply text, since clients and users match on them. Checked against RabbitMQ 3.10.8.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Message } from 'amqplib';
import { closeInfo, connect, interopSuite, within } from './harness.js';

const env = interopSuite();

/** The URL of the broker with another vhost or other credentials. */
function urlWith(change: (u: URL) => void): string {
  const u = new URL(env.broker.url);
  change(u);
  return u.toString();
}

/** Assert that a connection is still usable: a new channel on it can declare and delete a queue. */
async function expectUsable(c: Awaited<ReturnType<typeof connect>>): Promise<void> {
  const { ch } = await c.channel();
  const q = await ch.assertQueue('', { exclusive: true });
  expect(q.queue).toMatch(/^amq\.gen-/);
  await ch.close();
}

describe('channel errors (the connection stays usable)', () => {
  it('406 PRECONDITION_FAILED for an unknown exchange type closes the channel only (as RabbitMQ 4)', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    await expect(ch.assertExchange(s.exchange('badtype'), 'no-such-type')).rejects.toThrow();
    expect(await closed).toEqual({
      code: 406,
      text: "PRECONDITION_FAILED - unknown exchange type 'no-such-type'",
      classId: 40,
      methodId: 10,
    });
    await expectUsable(c);
  });

  it('404 NOT_FOUND on a passive declare of a missing queue', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    const q = s.queue('missing');
    const err = await ch.checkQueue(q).then(
      () => null,
      (e: unknown) => e,
    );
    expect(closeInfo(err)).toMatchObject({ code: 404, text: `NOT_FOUND - no queue '${q}' in vhost '/'` });
    // Scope: the channel closed with 404 (queue.declare = 50/10), the connection did not.
    expect(await closed).toEqual({ code: 404, text: `NOT_FOUND - no queue '${q}' in vhost '/'`, classId: 50, methodId: 10 });
    await expectUsable(c);
  });

  it('404 NOT_FOUND on a passive declare of a missing exchange', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    const x = s.exchange('missing');
    await expect(ch.checkExchange(x)).rejects.toThrow();
    expect(await closed).toEqual({ code: 404, text: `NOT_FOUND - no exchange '${x}' in vhost '/'`, classId: 40, methodId: 10 });
    await expectUsable(c);
  });

  it('404 NOT_FOUND when publishing to a missing exchange (asynchronous channel close)', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    const x = s.exchange('nope');
    ch.publish(x, 'k', Buffer.from('x'));
    expect(await within(closed, 5000, 'the channel close')).toEqual({
      code: 404,
      text: `NOT_FOUND - no exchange '${x}' in vhost '/'`,
      classId: 60,
      methodId: 40,
    });
    await expectUsable(c);
  });

  it('404 NOT_FOUND when binding a missing queue', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    const q = s.queue('missing');
    await expect(ch.bindQueue(q, 'amq.direct', 'k')).rejects.toThrow();
    expect(await closed).toEqual({ code: 404, text: `NOT_FOUND - no queue '${q}' in vhost '/'`, classId: 50, methodId: 20 });
    await expectUsable(c);
  });

  it('406 PRECONDITION_FAILED when redeclaring a queue with different arguments', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('args');
    const first = await c.channel();
    await first.ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 10 } });
    const { ch, closed } = await c.channel();
    await expect(ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 20 } })).rejects.toThrow();
    expect(await closed).toEqual({
      code: 406,
      text:
        `PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '${q}' in vhost '/': ` +
        `received '20' but current is '10'`,
      classId: 50,
      methodId: 10,
    });
    await expectUsable(c);
  });

  it('406 PRECONDITION_FAILED when redeclaring a queue with a different durable flag', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('durable');
    const first = await c.channel();
    await first.ch.assertQueue(q, { durable: false });
    const { ch, closed } = await c.channel();
    await expect(ch.assertQueue(q, { durable: true })).rejects.toThrow();
    expect(await closed).toMatchObject({
      code: 406,
      text: `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`,
    });
  });

  it('406 PRECONDITION_FAILED when redeclaring an exchange with a different type', async () => {
    const s = env.scope;
    const c = await s.connect();
    const x = s.exchange('type');
    const first = await c.channel();
    await first.ch.assertExchange(x, 'direct', { durable: false });
    const { ch, closed } = await c.channel();
    await expect(ch.assertExchange(x, 'fanout', { durable: false })).rejects.toThrow();
    expect(await closed).toEqual({
      code: 406,
      text: `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${x}' in vhost '/': received 'fanout' but current is 'direct'`,
      classId: 40,
      methodId: 10,
    });
  });

  it('405 RESOURCE_LOCKED when another connection declares or consumes an exclusive queue', async () => {
    const s = env.scope;
    const owner = await s.connect();
    const { ch: ownerCh } = await owner.channel();
    const q = s.queue('exclusive');
    await ownerCh.assertQueue(q, { exclusive: true });
    const text =
      `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'. ` +
      `It could be originally declared on another connection or the exclusive property value does not match ` +
      `that of the original declaration.`;

    const other = await s.connect();
    const a = await other.channel();
    await expect(a.ch.assertQueue(q, { exclusive: true })).rejects.toThrow();
    expect(await a.closed).toEqual({ code: 405, text, classId: 50, methodId: 10 });

    const b = await other.channel();
    await expect(b.ch.consume(q, () => {})).rejects.toThrow();
    expect(await b.closed).toEqual({ code: 405, text, classId: 60, methodId: 20 });

    await expectUsable(other);
    // The owner is unaffected.
    expect((await ownerCh.checkQueue(q)).queue).toBe(q);
  });

  it('403 ACCESS_REFUSED for an exclusive consume on a queue that already has a consumer', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('exclusive-consumer');
    const first = await c.channel();
    await first.ch.assertQueue(q, { durable: false });
    await first.ch.consume(q, () => {});
    const { ch, closed } = await c.channel();
    await expect(ch.consume(q, () => {}, { exclusive: true })).rejects.toThrow();
    expect(await closed).toEqual({
      code: 403,
      text: `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`,
      classId: 60,
      methodId: 20,
    });
  });

  it("403 ACCESS_REFUSED for declaring an exchange or queue with the reserved 'amq.' prefix", async () => {
    const s = env.scope;
    const c = await s.connect();
    const a = await c.channel();
    await expect(a.ch.assertExchange('amq.interop-test', 'direct')).rejects.toThrow();
    expect(await a.closed).toEqual({
      code: 403,
      text: "ACCESS_REFUSED - exchange name 'amq.interop-test' contains reserved prefix 'amq.*'",
      classId: 40,
      methodId: 10,
    });
    const b = await c.channel();
    await expect(b.ch.assertQueue('amq.interop-test')).rejects.toThrow();
    expect(await b.closed).toEqual({
      code: 403,
      text: "ACCESS_REFUSED - queue name 'amq.interop-test' contains reserved prefix 'amq.*'",
      classId: 50,
      methodId: 10,
    });
    await expectUsable(c);
  });

  it('403 ACCESS_REFUSED for publishing to an internal exchange', async () => {
    const s = env.scope;
    const c = await s.connect();
    const x = s.exchange('internal');
    const setup = await c.channel();
    await setup.ch.assertExchange(x, 'fanout', { durable: false, internal: true });
    const { ch, closed } = await c.channel();
    ch.publish(x, '', Buffer.from('no'));
    expect(await within(closed, 5000, 'the channel close')).toEqual({
      code: 403,
      text: `ACCESS_REFUSED - cannot publish to internal exchange '${x}' in vhost '/'`,
      classId: 60,
      methodId: 40,
    });
    await expectUsable(c);
  });

  it('406 PRECONDITION_FAILED for an unknown delivery tag', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    ch.ack({ fields: { deliveryTag: 42 } } as Message);
    expect(await within(closed, 5000, 'the channel close')).toEqual({
      code: 406,
      text: 'PRECONDITION_FAILED - unknown delivery tag 42',
      classId: 60,
      methodId: 80,
    });
    await expectUsable(c);
  });

  it('406 PRECONDITION_FAILED for a double ack', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('double-ack');
    const { ch, closed } = await c.channel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('once'));
    let m: Message | false = false;
    while (m === false) m = await ch.get(q, { noAck: false });
    ch.ack(m);
    ch.ack(m);
    expect(await within(closed, 5000, 'the channel close')).toEqual({
      code: 406,
      text: `PRECONDITION_FAILED - unknown delivery tag ${m.fields.deliveryTag}`,
      classId: 60,
      methodId: 80,
    });
    await expectUsable(c);
  });

  it('406 PRECONDITION_FAILED for an unknown x-queue-type', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('qtype');
    const { ch, closed } = await c.channel();
    await expect(ch.assertQueue(q, { arguments: { 'x-queue-type': 'bogus' } })).rejects.toThrow();
    const info = await closed;
    expect(info).toMatchObject({ code: 406, classId: 50, methodId: 10 });
    expect(info?.text).toMatch(/^PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue '.*' in vhost '\/': /);
    await expectUsable(c);
  });

  it('406 PRECONDITION_FAILED for a user-id that is not the authenticated user', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    ch.publish('amq.direct', 'k', Buffer.from('forged'), { userId: 'mallory' });
    expect(await within(closed, 5000, 'the channel close')).toEqual({
      code: 406,
      text: "PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was 'guest'",
      classId: 60,
      methodId: 40,
    });
    await expectUsable(c);
  });

  it('accepts a user-id equal to the authenticated user', async () => {
    const s = env.scope;
    const q = s.queue('userid');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('me'), { userId: 'guest' });
    await ch.waitForConfirms();
    const m = await ch.get(q, { noAck: true });
    expect(m && m.properties.userId).toBe('guest');
  });
});

describe('connection errors', () => {

  it('an unknown vhost refuses the connection with connection.close', async () => {
    const url = urlWith((u) => (u.pathname = '/no-such-vhost'));
    const err = await connect(url).then(
      async (c) => {
        await c.conn.close();
        return null;
      },
      (e: unknown) => e,
    );
    // amqplib drops the reply text of a close during the handshake; the pika suite checks code and text (530).
    expect(String(err)).toContain('Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
  });

  it('403 ACCESS_REFUSED for a wrong password', async () => {
    const url = urlWith((u) => (u.password = 'wrong-password'));
    const err = await connect(url).then(
      async (c) => {
        await c.conn.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(closeInfo(err)).toMatchObject({
      code: 403,
      text: 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.',
    });
  });

  it('403 ACCESS_REFUSED for an unknown user', async () => {
    const url = urlWith((u) => {
      u.username = 'no-such-user';
      u.password = 'x';
    });
    const err = await connect(url).then(
      async (c) => {
        await c.conn.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(closeInfo(err)).toMatchObject({ code: 403 });
  });
});

describe('more channel errors', () => {
  it('406 PRECONDITION_FAILED for queue.delete if-unused on a queue with a consumer', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('in-use');
    const first = await c.channel();
    await first.ch.assertQueue(q, { durable: false });
    await first.ch.consume(q, () => {});
    const { ch, closed } = await c.channel();
    await expect(ch.deleteQueue(q, { ifUnused: true })).rejects.toThrow();
    expect(await closed).toEqual({
      code: 406,
      text: `PRECONDITION_FAILED - queue '${q}' in vhost '/' in use`,
      classId: 50,
      methodId: 40,
    });
  });

  it('406 PRECONDITION_FAILED for queue.delete if-empty on a queue with messages', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('not-empty');
    const first = await c.confirmChannel();
    await first.ch.assertQueue(q, { durable: false });
    first.ch.sendToQueue(q, Buffer.from('x'));
    await first.ch.waitForConfirms();
    const { ch, closed } = await c.channel();
    await expect(ch.deleteQueue(q, { ifEmpty: true })).rejects.toThrow();
    expect(await closed).toEqual({
      code: 406,
      text: `PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`,
      classId: 50,
      methodId: 40,
    });
  });

  it('406 PRECONDITION_FAILED for exchange.delete if-unused on an exchange with bindings', async () => {
    const s = env.scope;
    const c = await s.connect();
    const x = s.exchange('x-in-use');
    const first = await c.channel();
    await first.ch.assertExchange(x, 'fanout', { durable: false });
    const q = (await first.ch.assertQueue('', { exclusive: true })).queue;
    await first.ch.bindQueue(q, x, '');
    const { ch, closed } = await c.channel();
    await expect(ch.deleteExchange(x, { ifUnused: true })).rejects.toThrow();
    expect(await closed).toEqual({
      code: 406,
      text: `PRECONDITION_FAILED - exchange '${x}' in vhost '/' in use`,
      classId: 40,
      methodId: 20,
    });
  });

  it('403 ACCESS_REFUSED for binding a queue to the default exchange', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await expect(ch.bindQueue(q, '', 'k')).rejects.toThrow();
    expect(await closed).toEqual({
      code: 403,
      text: "ACCESS_REFUSED - operation not permitted on the default exchange",
      classId: 50,
      methodId: 20,
    });
  });

  it('403 ACCESS_REFUSED for deleting a predeclared amq.* exchange', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    await expect(ch.deleteExchange('amq.direct')).rejects.toThrow();
    expect(await closed).toEqual({
      code: 403,
      text: "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed",
      classId: 40,
      methodId: 20,
    });
    await expectUsable(c);
  });

  it('404 NOT_FOUND for basic.get and basic.consume on a missing queue', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('missing');
    const a = await c.channel();
    await expect(a.ch.get(q)).rejects.toThrow();
    expect(await a.closed).toEqual({ code: 404, text: `NOT_FOUND - no queue '${q}' in vhost '/'`, classId: 60, methodId: 70 });
    const b = await c.channel();
    await expect(b.ch.consume(q, () => {})).rejects.toThrow();
    expect(await b.closed).toEqual({ code: 404, text: `NOT_FOUND - no queue '${q}' in vhost '/'`, classId: 60, methodId: 20 });
    await expectUsable(c);
  });

  it('530 NOT_ALLOWED (connection) for reusing a consumer tag on the same channel', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch } = await c.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.consume(q, () => {}, { consumerTag: 'dup-tag' });
    await expect(ch.consume(q, () => {}, { consumerTag: 'dup-tag' })).rejects.toThrow();
    expect(await within(c.closed, 5000, 'the connection close')).toMatchObject({
      code: 530,
      text: "NOT_ALLOWED - attempt to reuse consumer tag 'dup-tag'",
    });
  });
});

describe('direct reply-to errors', () => {
  it('406 when publishing with reply_to amq.rabbitmq.reply-to without consuming it first', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    ch.publish('amq.direct', 'nowhere', Buffer.from('x'), { replyTo: 'amq.rabbitmq.reply-to' });
    expect(await within(closed, 5000, 'the channel close')).toEqual({
      code: 406,
      text: 'PRECONDITION_FAILED - fast reply consumer does not exist',
      classId: 60,
      methodId: 40,
    });
    await expectUsable(c);
  });

  it('406 when consuming amq.rabbitmq.reply-to in manual-ack mode', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    await expect(ch.consume('amq.rabbitmq.reply-to', () => {}, { noAck: false })).rejects.toThrow();
    expect(await closed).toEqual({
      code: 406,
      text: 'PRECONDITION_FAILED - reply consumer cannot acknowledge',
      classId: 60,
      methodId: 20,
    });
  });
});

describe('invalid queue arguments (406 with RabbitMQ 3.10 reasons)', () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ 'x-message-ttl': -1 }, 'x-message-ttl', '{value_negative,-1}'],
    [{ 'x-message-ttl': 'abc' }, 'x-message-ttl', '"expected integer, got longstr"'],
    [{ 'x-max-length': -1 }, 'x-max-length', '{value_negative,-1}'],
    [{ 'x-overflow': 'bogus' }, 'x-overflow', 'invalid_overflow'],
    [{ 'x-max-priority': 300 }, 'x-max-priority', '{max_value_exceeded,300}'],
    [{ 'x-expires': 0 }, 'x-expires', '{value_zero,0}'],
    [{ 'x-dead-letter-routing-key': 'k' }, 'x-dead-letter-routing-key', 'routing_key_but_no_dlx_defined'],
    [{ 'x-single-active-consumer': 'yes' }, 'x-single-active-consumer', '{unacceptable_type,longstr}'],
  ];
  for (const [args, name, reason] of cases) {
    it(`${JSON.stringify(args)} → ${reason}`, async () => {
      const s = env.scope;
      const c = await s.connect();
      const q = s.queue('badarg');
      const { ch, closed } = await c.channel();
      await expect(ch.assertQueue(q, { exclusive: true, arguments: args })).rejects.toThrow();
      expect(await closed).toEqual({
        code: 406,
        text: `PRECONDITION_FAILED - invalid arg '${name}' for queue '${q}' in vhost '/': ${reason}`,
        classId: 50,
        methodId: 10,
      });
    });
  }

  it('accepts unknown and obsolete arguments (x-queue-mode, x-whatever)', async () => {
    const { ch } = await env.scope.channel();
    const ok = await ch.assertQueue('', { exclusive: true, arguments: { 'x-queue-mode': 'lazy', 'x-whatever': 1 } });
    expect(ok.queue).toMatch(/^amq\.gen-/);
  });

  it('406 for a publish whose expiration is not an integer', async () => {
    const s = env.scope;
    const c = await s.connect();
    const { ch, closed } = await c.channel();
    ch.publish('amq.direct', 'nowhere', Buffer.from('x'), { expiration: 'abc' });
    expect(await within(closed, 5000, 'the channel close')).toEqual({
      code: 406,
      text: "PRECONDITION_FAILED - invalid expiration 'abc': no_integer",
      classId: 60,
      methodId: 40,
    });
  });
});

// Raw frames written under amqplib's feet, to commit protocol violations amqplib itself never would.
const require = createRequire(import.meta.url);
const defs = require(join(dirname(require.resolve('amqplib')), 'lib', 'defs.js')) as {
  encodeMethod(id: number, channel: number, fields: object): Buffer;
} & Record<string, number>;

describe('protocol violations (connection errors)', () => {
  type Conn = Awaited<ReturnType<typeof connect>>;
  const rawWrite = (c: Conn, bytes: Buffer) =>
    (c.conn as unknown as { connection: { stream: { write(b: Buffer): void } } }).connection.stream.write(bytes);
  const method = (name: string, channel: number, fields: object) =>
    defs.encodeMethod(defs[name]!, channel, fields);
  const openChannelNumber = async (c: Conn) => ((await c.channel()).ch as unknown as { ch: number }).ch;

  const cases: [string, (c: Conn) => Promise<void>, number, string | RegExp][] = [
    [
      'a method on a channel that was never opened → 504',
      async (c) => rawWrite(c, method('BasicQos', 7, { prefetchSize: 0, prefetchCount: 1, global: false })),
      504,
      "CHANNEL_ERROR - expected 'channel.open'",
    ],
    [
      'a second channel.open on an open channel → 504',
      async (c) => rawWrite(c, method('ChannelOpen', await openChannelNumber(c), { outOfBand: '' })),
      504,
      "CHANNEL_ERROR - second 'channel.open' seen",
    ],
    [
      'a basic method on channel 0 → 504',
      async (c) => rawWrite(c, method('BasicQos', 0, { prefetchSize: 0, prefetchCount: 1, global: false })),
      504,
      'CHANNEL_ERROR - unexpected method in connection state running',
    ],
    [
      'basic.qos with prefetch_size → 540',
      async (c) =>
        rawWrite(c, method('BasicQos', await openChannelNumber(c), { prefetchSize: 10, prefetchCount: 1, global: false })),
      540,
      'NOT_IMPLEMENTED - prefetch_size!=0 (10)',
    ],
    [
      'a content header with no basic.publish before it → 505',
      async (c) => {
        const ch = await openChannelNumber(c);
        // type 2, class 60, weight 0, body size 1, no property flags
        rawWrite(c, Buffer.from([2, 0, ch, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xce]));
      },
      505,
      'UNEXPECTED_FRAME - expected method frame, got non method frame instead',
    ],
    [
      // The spec (§4.2.7 of the 0-9-1 spec) says 501 here; RabbitMQ sends 505, and RabbitMQ is the target.
      'a heartbeat on a non-zero channel → 505',
      async (c) => rawWrite(c, Buffer.from([8, 0, await openChannelNumber(c), 0, 0, 0, 0, 0xce])),
      505,
      /^UNEXPECTED_FRAME - /,
    ],
    [
      'a bad frame-end octet → 501',
      async (c) => rawWrite(c, Buffer.from([8, 0, 0, 0, 0, 0, 0, 0x00])),
      501,
      /^FRAME_ERROR - /,
    ],
    [
      'an unknown frame type → 501',
      async (c) => rawWrite(c, Buffer.from([9, 0, 0, 0, 0, 0, 0, 0xce])),
      501,
      /^FRAME_ERROR - /,
    ],
  ];
  for (const [title, act, code, text] of cases) {
    it(title, async () => {
      const c = await env.scope.connect();
      await act(c);
      const info = await within(c.closed, 5000, 'the connection close');
      expect(info?.code).toBe(code);
      if (typeof text === 'string') expect(info?.text).toBe(text);
      else expect(info?.text).toMatch(text);
    });
  }
});
