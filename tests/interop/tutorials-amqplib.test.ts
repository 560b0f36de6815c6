/**
 * The RabbitMQ tutorial patterns (hello world, work queues, publish/subscribe, routing, topics, RPC, direct reply-to),
 * written in our own code, with amqplib against the broker under test.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { bodies, interopSuite, take, within } from './harness.js';

const env = interopSuite();

describe('hello world', () => {
  it('delivers a message published to the default exchange to the named queue', async () => {
    const s = env.scope;
    const q = s.queue('hello');
    const { ch } = await s.channel();
    const ok = await ch.assertQueue(q, { durable: false });
    expect(ok).toEqual({ queue: q, messageCount: 0, consumerCount: 0 });
    ch.sendToQueue(q, Buffer.from('Hello World!'), { contentType: 'text/plain' });
    const [m] = await take(ch, q, 1);
    expect(m?.content.toString()).toBe('Hello World!');
    expect(m?.properties.contentType).toBe('text/plain');
    expect(m?.fields).toMatchObject({ exchange: '', routingKey: q, redelivered: false });
  });

  it('lets a consumer on one connection receive what another connection published', async () => {
    const s = env.scope;
    const q = s.queue('hello2');
    const consumer = await s.channel();
    const producer = await s.channel();
    await consumer.ch.assertQueue(q, { durable: false });
    // Whether the consumer or the messages arrive first, the queue holds them in order.
    const got = take(consumer.ch, q, 3);
    for (const b of ['a', 'b', 'c']) producer.ch.sendToQueue(q, Buffer.from(b));
    expect(bodies(await got)).toEqual(['a', 'b', 'c']);
  });
});

describe('work queues', () => {
  it('with prefetch 1 and manual acks, a busy worker gets no second message (fair dispatch)', async () => {
    const s = env.scope;
    const q = s.queue('tasks');
    const setup = await s.channel();
    await setup.ch.assertQueue(q, { durable: true });

    const slow = await s.channel();
    const fast = await s.channel();
    await slow.ch.prefetch(1);
    await fast.ch.prefetch(1);
    const slowGot: ConsumeMessage[] = [];
    const fastGot: ConsumeMessage[] = [];
    let fastDone!: () => void;
    const allDispatched = new Promise<void>((r) => (fastDone = r));
    // The slow worker never acks until the end: with prefetch 1 it must hold exactly one message.
    await slow.ch.consume(
      q,
      (m) => {
        if (!m) return;
        slowGot.push(m);
        if (slowGot.length + fastGot.length === 10) fastDone();
      },
      { noAck: false },
    );
    await fast.ch.consume(
      q,
      (m) => {
        if (!m) return;
        fastGot.push(m);
        fast.ch.ack(m);
        if (slowGot.length + fastGot.length === 10) fastDone();
      },
      { noAck: false },
    );
    for (let i = 0; i < 10; i++) setup.ch.sendToQueue(q, Buffer.from(`task ${i}`), { persistent: true });
    await within(allDispatched, 5000, 'all 10 tasks to be dispatched');
    expect(slowGot).toHaveLength(1);
    expect(fastGot).toHaveLength(9);
    expect(slowGot[0]?.properties.deliveryMode).toBe(2);
    const all = [...slowGot, ...fastGot].map((m) => m.content.toString()).sort();
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `task ${i}`).sort());
    slow.ch.ack(slowGot[0]!);
  });

  it('requeues the unacked message of a worker that dies, flagged redelivered', async () => {
    const s = env.scope;
    const q = s.queue('tasks2');
    const setup = await s.channel();
    await setup.ch.assertQueue(q, { durable: true });
    setup.ch.sendToQueue(q, Buffer.from('job'));
    const dying = await s.connect();
    const { ch } = await dying.channel();
    await ch.prefetch(1);
    const [first] = await take(ch, q, 1, { noAck: false });
    expect(first?.fields.redelivered).toBe(false);
    await dying.conn.close();
    const [again] = await take(setup.ch, q, 1);
    expect(again?.content.toString()).toBe('job');
    expect(again?.fields.redelivered).toBe(true);
  });
});

describe('publish/subscribe (fanout)', () => {
  it('copies each message to every bound queue, ignoring the routing key', async () => {
    const s = env.scope;
    const x = s.exchange('logs');
    const { ch } = await s.channel();
    await ch.assertExchange(x, 'fanout', { durable: false });
    const q1 = await ch.assertQueue('', { exclusive: true });
    const q2 = await ch.assertQueue('', { exclusive: true });
    expect(q1.queue).toMatch(/^amq\.gen-/);
    await ch.bindQueue(q1.queue, x, '');
    await ch.bindQueue(q2.queue, x, 'ignored');
    ch.publish(x, 'whatever', Buffer.from('log line'));
    expect(bodies(await take(ch, q1.queue, 1))).toEqual(['log line']);
    expect(bodies(await take(ch, q2.queue, 1))).toEqual(['log line']);
  });
});

describe('routing (direct)', () => {
  it('delivers by exact binding key, to several queues when several match', async () => {
    const s = env.scope;
    const x = s.exchange('direct_logs');
    const { ch } = await s.channel();
    await ch.assertExchange(x, 'direct', { durable: false });
    const errors = (await ch.assertQueue('', { exclusive: true })).queue;
    const all = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(errors, x, 'error');
    for (const sev of ['info', 'warning', 'error']) await ch.bindQueue(all, x, sev);
    for (const sev of ['info', 'warning', 'error', 'debug']) ch.publish(x, sev, Buffer.from(sev));
    expect(bodies(await take(ch, all, 3))).toEqual(['info', 'warning', 'error']);
    expect(bodies(await take(ch, errors, 1))).toEqual(['error']);
    const rest = await ch.checkQueue(errors);
    expect(rest.messageCount).toBe(0);
  });
});

describe('topics', () => {
  it('matches * to one word and # to zero or more words', async () => {
    const s = env.scope;
    const x = s.exchange('topic_logs');
    const { ch } = await s.channel();
    await ch.assertExchange(x, 'topic', { durable: false });
    const bindings: Record<string, string[]> = {
      star: ['*.orange.*'],
      lazy: ['*.*.rabbit', 'lazy.#'],
      hash: ['#'],
      exact: ['quick.orange.rabbit'],
    };
    const queues: Record<string, string> = {};
    for (const [name, keys] of Object.entries(bindings)) {
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      queues[name] = q;
      for (const k of keys) await ch.bindQueue(q, x, k);
    }
    const keys = [
      'quick.orange.rabbit',
      'lazy.orange.elephant',
      'quick.orange.fox',
      'lazy.brown.fox',
      'lazy.pink.rabbit', // matches both lazy patterns: delivered once
      'quick.brown.fox',
      'orange',
      'quick.orange.male.rabbit',
      'lazy.orange.male.rabbit',
      'lazy',
      '',
    ];
    for (const k of keys) ch.publish(x, k, Buffer.from(k));
    const expected: Record<string, string[]> = {
      star: ['quick.orange.rabbit', 'lazy.orange.elephant', 'quick.orange.fox'],
      lazy: [
        'quick.orange.rabbit',
        'lazy.orange.elephant',
        'lazy.brown.fox',
        'lazy.pink.rabbit',
        'lazy.orange.male.rabbit',
        'lazy',
      ],
      hash: keys,
      exact: ['quick.orange.rabbit'],
    };
    for (const [name, want] of Object.entries(expected)) {
      const q = queues[name]!;
      expect(bodies(await take(ch, q, want.length)), name).toEqual(want);
      expect((await ch.checkQueue(q)).messageCount, name).toBe(0);
    }
  });
});

describe('RPC', () => {
  it('answers on the reply_to queue with the request correlation_id', async () => {
    const s = env.scope;
    const rpcQueue = s.queue('rpc');
    const server = await s.channel();
    await server.ch.assertQueue(rpcQueue, { durable: false });
    await server.ch.prefetch(1);
    await server.ch.consume(rpcQueue, (m) => {
      if (!m) return;
      const n = Number(m.content.toString());
      server.ch.sendToQueue(m.properties.replyTo as string, Buffer.from(String(n * n)), {
        correlationId: m.properties.correlationId as string,
      });
      server.ch.ack(m);
    });

    const client = await s.channel();
    const replyQueue = (await client.ch.assertQueue('', { exclusive: true })).queue;
    const answers = new Map<string, string>();
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    await client.ch.consume(
      replyQueue,
      (m) => {
        if (!m) return;
        answers.set(m.properties.correlationId as string, m.content.toString());
        if (answers.size === 3) done();
      },
      { noAck: true },
    );
    for (const n of [3, 7, 12]) {
      client.ch.sendToQueue(rpcQueue, Buffer.from(String(n)), { correlationId: `c-${n}`, replyTo: replyQueue });
    }
    await within(finished, 5000, 'three RPC replies');
    expect(Object.fromEntries(answers)).toEqual({ 'c-3': '9', 'c-7': '49', 'c-12': '144' });
  });

  it('works with direct reply-to (amq.rabbitmq.reply-to) without declaring a reply queue', async () => {
    const s = env.scope;
    const rpcQueue = s.queue('rpc-direct');
    const server = await s.channel();
    await server.ch.assertQueue(rpcQueue, { durable: false });
    const seenReplyTo: string[] = [];
    await server.ch.consume(
      rpcQueue,
      (m) => {
        if (!m) return;
        seenReplyTo.push(m.properties.replyTo as string);
        server.ch.sendToQueue(m.properties.replyTo as string, Buffer.from(m.content.toString().toUpperCase()), {
          correlationId: m.properties.correlationId as string,
        });
      },
      { noAck: true },
    );

    const client = await s.channel();
    let resolveReply!: (m: ConsumeMessage) => void;
    const reply = new Promise<ConsumeMessage>((r) => (resolveReply = r));
    // Direct reply-to: consume the pseudo-queue in no-ack mode first, then publish on the same channel.
    const ok = await client.ch.consume('amq.rabbitmq.reply-to', (m) => m && resolveReply(m), { noAck: true });
    expect(ok.consumerTag).toBeTruthy();
    client.ch.sendToQueue(rpcQueue, Buffer.from('ping'), {
      replyTo: 'amq.rabbitmq.reply-to',
      correlationId: 'abc',
    });
    const m = await within(reply, 5000, 'the direct reply');
    expect(m.content.toString()).toBe('PING');
    expect(m.properties.correlationId).toBe('abc');
    expect(m.fields.routingKey).toBe(seenReplyTo[0]);
    // The server sees a per-channel generated name, never the bare pseudo-queue name.
    expect(seenReplyTo[0]).toMatch(/^amq\.rabbitmq\.reply-to\..+/);
  });
});
