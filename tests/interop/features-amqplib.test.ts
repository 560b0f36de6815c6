/**
 * RabbitMQ features beyond the tutorials, with amqplib: publisher confirms, mandatory returns, dead-lettering with
 * x-death, TTLs, length limits and overflow modes, priorities, consumer priorities, single active consumer,
 * basic.get, nack/requeue, purge/delete counts, exchange-to-exchange bindings, alternate exchanges, the headers
 * exchange, transactions and basic.recover. Every expectation was checked against RabbitMQ 3.10.8.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Channel, ConsumeMessage, GetMessage, Message } from 'amqplib';
import { bodies, eventually, interopSuite, take, within } from './harness.js';

const env = interopSuite();

// amqplib's promise API has no tx methods; its generic rpc() with the spec's method ids does the job.
const require = createRequire(import.meta.url);
const defs = require(join(dirname(require.resolve('amqplib')), 'lib', 'defs.js')) as Record<string, number>;
type RpcChannel = Channel & { rpc(method: number, fields: object, expect: number): Promise<unknown> };
const txSelect = (ch: Channel) => (ch as RpcChannel).rpc(defs['TxSelect']!, {}, defs['TxSelectOk']!);
const txCommit = (ch: Channel) => (ch as RpcChannel).rpc(defs['TxCommit']!, {}, defs['TxCommitOk']!);
const txRollback = (ch: Channel) => (ch as RpcChannel).rpc(defs['TxRollback']!, {}, defs['TxRollbackOk']!);

/** basic.get until a message arrives (poll-until: dead-lettering and expiry are asynchronous). */
function getEventually(ch: Channel, queue: string, what: string): Promise<GetMessage> {
  return eventually(async () => (await ch.get(queue, { noAck: true })) || undefined, what);
}

/** A fanout dead-letter exchange with one bound queue; returns their names. */
async function deadLetterTarget(ch: Channel): Promise<{ dlx: string; dlq: string }> {
  const dlx = env.scope.exchange('dlx');
  const dlq = env.scope.queue('dlq');
  await ch.assertExchange(dlx, 'fanout', { durable: false });
  await ch.assertQueue(dlq, { durable: false });
  await ch.bindQueue(dlq, dlx, '');
  return { dlx, dlq };
}

interface XDeath {
  count: number;
  reason: string;
  queue: string;
  time: { '!': string; value: number };
  exchange: string;
  'routing-keys': string[];
  'original-expiration'?: string;
}

function xDeath(m: Message): XDeath[] {
  return (m.properties.headers?.['x-death'] ?? []) as XDeath[];
}

/** Check one x-death entry field by field (RabbitMQ 3.10: count, reason, queue, time, exchange, routing-keys). */
function expectDeath(d: XDeath | undefined, want: { reason: string; queue: string; exchange: string; keys: string[] }) {
  expect(d).toBeDefined();
  expect(d!.count).toBe(1);
  expect(d!.reason).toBe(want.reason);
  expect(d!.queue).toBe(want.queue);
  expect(d!.exchange).toBe(want.exchange);
  expect(d!['routing-keys']).toEqual(want.keys);
  // A timestamp ('T' field), in seconds, close to now.
  expect(d!.time['!']).toBe('timestamp');
  expect(Math.abs(d!.time.value - Date.now() / 1000)).toBeLessThan(120);
}

describe('publisher confirms', () => {
  it('acks every publish; waitForConfirms resolves', async () => {
    const s = env.scope;
    const q = s.queue('confirm');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    const acks: (Error | null)[] = [];
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(String(i)), {}, (err) => acks.push(err ?? null));
    await ch.waitForConfirms();
    expect(acks).toEqual([null, null, null, null, null]);
    expect((await ch.checkQueue(q)).messageCount).toBe(5);
  });

  it('confirms an unroutable message (ack, not nack)', async () => {
    const s = env.scope;
    const { ch } = await s.confirmChannel();
    const result = await new Promise<unknown>((resolve) =>
      ch.publish('amq.direct', 'no-such-binding-' + s.queue(), Buffer.from('x'), {}, (err) => resolve(err ?? 'ack')),
    );
    expect(result).toBe('ack');
  });

  it('nacks a publish refused by an x-overflow=reject-publish queue', async () => {
    const s = env.scope;
    const q = s.queue('confirm-reject');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    const outcomes: string[] = [];
    for (const b of ['first', 'second']) {
      ch.sendToQueue(q, Buffer.from(b), {}, (err) => outcomes.push(err ? `nack ${b}` : `ack ${b}`));
    }
    await expect(ch.waitForConfirms()).rejects.toThrow();
    expect(outcomes).toEqual(['ack first', 'nack second']);
    expect(bodies(await take(ch, q, 1))).toEqual(['first']);
  });
});

describe('mandatory', () => {
  it('returns an unroutable mandatory message with 312 NO_ROUTE', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    const key = 'nowhere-' + s.queue();
    const returned = new Promise<Message>((r) => ch.once('return', r));
    ch.publish('amq.direct', key, Buffer.from('lost'), { mandatory: true, messageId: 'm1' });
    const m = await within(returned, 5000, 'basic.return');
    expect(m.fields).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', exchange: 'amq.direct', routingKey: key });
    expect(m.content.toString()).toBe('lost');
    expect(m.properties.messageId).toBe('m1');
  });

  it('does not return a routable mandatory message', async () => {
    const s = env.scope;
    const q = s.queue('mandatory-ok');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    let returns = 0;
    ch.on('return', () => returns++);
    ch.sendToQueue(q, Buffer.from('ok'), { mandatory: true });
    // basic.return precedes basic.ack for the same publish, so after the confirm there is nothing to come.
    await ch.waitForConfirms();
    expect(returns).toBe(0);
  });
});

describe('dead-lettering', () => {
  it('dead-letters a message rejected without requeue, with x-death', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    const { dlx, dlq } = await deadLetterTarget(ch);
    const q = s.queue('dl-reject');
    await ch.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
    ch.sendToQueue(q, Buffer.from('bad'), { headers: { keep: 'me' }, expiration: '60000' });
    const [m] = await take(ch, q, 1, { noAck: false });
    ch.reject(m!, false);
    const d = await getEventually(ch, dlq, 'the dead-lettered message');
    expect(d.content.toString()).toBe('bad');
    expect(d.fields.exchange).toBe(dlx);
    expect(d.fields.routingKey).toBe(q);
    const h = d.properties.headers!;
    expect(h['keep']).toBe('me');
    expect(h['x-first-death-reason']).toBe('rejected');
    expect(h['x-first-death-queue']).toBe(q);
    expect(h['x-first-death-exchange']).toBe('');
    const deaths = xDeath(d);
    expect(deaths).toHaveLength(1);
    expectDeath(deaths[0], { reason: 'rejected', queue: q, exchange: '', keys: [q] });
    // The per-message TTL moves into x-death so the dead-lettered copy does not expire again.
    expect(deaths[0]!['original-expiration']).toBe('60000');
    expect(d.properties.expiration).toBeUndefined();
  });

  it('dead-letters with nack(requeue=false) too, using x-dead-letter-routing-key', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    const dlx = s.exchange('dlx-direct');
    const dlq = s.queue('dlq-direct');
    await ch.assertExchange(dlx, 'direct', { durable: false });
    await ch.assertQueue(dlq, { durable: false });
    await ch.bindQueue(dlq, dlx, 'dead');
    const q = s.queue('dl-nack');
    await ch.assertQueue(q, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead' },
    });
    ch.sendToQueue(q, Buffer.from('n'));
    const [m] = await take(ch, q, 1, { noAck: false });
    ch.nack(m!, false, false);
    const d = await getEventually(ch, dlq, 'the nacked message');
    expect(d.fields.routingKey).toBe('dead');
    expectDeath(xDeath(d)[0], { reason: 'rejected', queue: q, exchange: '', keys: [q] });
  });

  it('dead-letters on per-message TTL expiry with reason expired', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    const { dlx, dlq } = await deadLetterTarget(ch);
    const q = s.queue('dl-ttl');
    await ch.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
    ch.publish('', q, Buffer.from('old'), { expiration: '10' });
    const d = await getEventually(ch, dlq, 'the expired message');
    expect(d.content.toString()).toBe('old');
    const deaths = xDeath(d);
    expectDeath(deaths[0], { reason: 'expired', queue: q, exchange: '', keys: [q] });
    expect(deaths[0]!['original-expiration']).toBe('10');
    expect(d.properties.headers!['x-first-death-reason']).toBe('expired');
  });

  it('dead-letters on queue TTL (x-message-ttl) expiry', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    const { dlx, dlq } = await deadLetterTarget(ch);
    const q = s.queue('dl-qttl');
    await ch.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 10 } });
    ch.publish('amq.direct', 'unbound', Buffer.from('unused')); // noise on another exchange
    ch.sendToQueue(q, Buffer.from('q-old'));
    const d = await getEventually(ch, dlq, 'the queue-TTL-expired message');
    expect(d.content.toString()).toBe('q-old');
    const deaths = xDeath(d);
    expectDeath(deaths[0], { reason: 'expired', queue: q, exchange: '', keys: [q] });
    expect(deaths[0]!['original-expiration']).toBeUndefined();
  });

  it('dead-letters the head dropped by x-max-length with reason maxlen', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    const { dlx, dlq } = await deadLetterTarget(ch);
    const q = s.queue('dl-maxlen');
    await ch.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': dlx, 'x-max-length': 1 } });
    ch.sendToQueue(q, Buffer.from('one'));
    ch.sendToQueue(q, Buffer.from('two'));
    const d = await getEventually(ch, dlq, 'the dropped head');
    expect(d.content.toString()).toBe('one');
    expectDeath(xDeath(d)[0], { reason: 'maxlen', queue: q, exchange: '', keys: [q] });
    expect(bodies(await take(ch, q, 1))).toEqual(['two']);
  });

  it('counts repeated deaths in the same queue for the same reason in one x-death entry', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    const q = s.queue('dl-loop');
    // Dead-letter back into itself through the default exchange: reject twice, then look.
    await ch.assertQueue(q, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': q },
    });
    ch.sendToQueue(q, Buffer.from('loop'));
    const [m1] = await take(ch, q, 1, { noAck: false });
    ch.reject(m1!, false);
    const [m2] = await take(ch, q, 1, { noAck: false });
    expect(xDeath(m2!)[0]?.count).toBe(1);
    ch.reject(m2!, false);
    const [m3] = await take(ch, q, 1, { noAck: false });
    const deaths = xDeath(m3!);
    expect(deaths).toHaveLength(1);
    expect(deaths[0]).toMatchObject({ count: 2, reason: 'rejected', queue: q, exchange: '', 'routing-keys': [q] });
    ch.ack(m3!);
  });
});

describe('TTL', () => {
  it('drops messages older than the queue x-message-ttl', async () => {
    const s = env.scope;
    const q = s.queue('qttl');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false, arguments: { 'x-message-ttl': 20 } });
    ch.sendToQueue(q, Buffer.from('short-lived'));
    await eventually(
      async () => ((await ch.checkQueue(q)).messageCount === 0 ? true : undefined),
      'the queue to expire its message',
    );
    expect(await ch.get(q)).toBe(false);
  });

  it('drops a message whose per-message expiration passed, keeps one without', async () => {
    const s = env.scope;
    const q = s.queue('mttl');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('expires'), { expiration: '20' });
    ch.sendToQueue(q, Buffer.from('stays'));
    await eventually(
      async () => ((await ch.checkQueue(q)).messageCount === 1 ? true : undefined),
      'the expired message to go',
    );
    expect(bodies(await take(ch, q, 1))).toEqual(['stays']);
  });

  it('delivers a not-yet-expired message with its expiration property intact', async () => {
    const s = env.scope;
    const q = s.queue('mttl-keep');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('fresh'), { expiration: '60000' });
    const [m] = await take(ch, q, 1);
    expect(m?.properties.expiration).toBe('60000');
  });
});

describe('x-max-length and x-overflow', () => {
  it('drop-head (the default) keeps the newest messages', async () => {
    const s = env.scope;
    const q = s.queue('maxlen-drop');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 2 } });
    for (const b of ['1', '2', '3', '4']) ch.sendToQueue(q, Buffer.from(b));
    await ch.waitForConfirms();
    expect((await ch.checkQueue(q)).messageCount).toBe(2);
    expect(bodies(await take(ch, q, 2))).toEqual(['3', '4']);
  });

  it('reject-publish keeps the oldest and refuses (nacks) the rest, without dead-lettering', async () => {
    const s = env.scope;
    const { ch } = await s.confirmChannel();
    const { dlx, dlq } = await deadLetterTarget(ch);
    const q = s.queue('maxlen-reject');
    await ch.assertQueue(q, {
      durable: false,
      arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish', 'x-dead-letter-exchange': dlx },
    });
    const outcomes: boolean[] = [];
    for (const b of ['1', '2', '3']) ch.sendToQueue(q, Buffer.from(b), {}, (err) => outcomes.push(!err));
    await ch.waitForConfirms().catch(() => {});
    expect(outcomes).toEqual([true, true, false]);
    expect(bodies(await take(ch, q, 2))).toEqual(['1', '2']);
    expect((await ch.checkQueue(dlq)).messageCount).toBe(0);
  });

  it('reject-publish-dlx refuses and dead-letters the refused message with reason maxlen', async () => {
    const s = env.scope;
    const { ch } = await s.confirmChannel();
    const { dlx, dlq } = await deadLetterTarget(ch);
    const q = s.queue('maxlen-rejectdlx');
    await ch.assertQueue(q, {
      durable: false,
      arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': dlx },
    });
    const outcomes: boolean[] = [];
    for (const b of ['kept', 'refused']) ch.sendToQueue(q, Buffer.from(b), {}, (err) => outcomes.push(!err));
    await ch.waitForConfirms().catch(() => {});
    expect(outcomes).toEqual([true, false]);
    const d = await getEventually(ch, dlq, 'the refused message');
    expect(d.content.toString()).toBe('refused');
    expectDeath(xDeath(d)[0], { reason: 'maxlen', queue: q, exchange: '', keys: [q] });
    expect(bodies(await take(ch, q, 1))).toEqual(['kept']);
  });

  it('x-max-length-bytes counts body bytes', async () => {
    const s = env.scope;
    const q = s.queue('maxbytes');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false, arguments: { 'x-max-length-bytes': 10 } });
    for (const b of ['aaaa', 'bbbb', 'cccc']) ch.sendToQueue(q, Buffer.from(b));
    await ch.waitForConfirms();
    expect(bodies(await take(ch, q, 2))).toEqual(['bbbb', 'cccc']);
  });
});

describe('priorities', () => {
  it('delivers higher priorities first from an x-max-priority queue, FIFO within a priority (none = 0)', async () => {
    const s = env.scope;
    const q = s.queue('prio');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false, arguments: { 'x-max-priority': 10 } });
    const sends: [string, number | undefined][] = [
      ['p1', 1],
      ['p5', 5],
      ['none', undefined],
      ['p9', 9],
      ['p0', 0],
      ['p5b', 5],
      ['p200', 200], // above the maximum: treated as the maximum (10), so ahead of 9
    ];
    for (const [b, p] of sends) ch.sendToQueue(q, Buffer.from(b), p === undefined ? {} : { priority: p });
    await ch.waitForConfirms();
    expect(bodies(await take(ch, q, sends.length))).toEqual(['p200', 'p9', 'p5', 'p5b', 'p1', 'none', 'p0']);
  });
});

describe('consumer priorities', () => {
  it('sends everything to the highest-priority consumer while it can take more', async () => {
    const s = env.scope;
    const q = s.queue('cprio');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false });
    const low: string[] = [];
    const high: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    await ch.consume(q, (m) => m && low.push(m.content.toString()), { noAck: true, priority: 1 });
    await ch.consume(
      q,
      (m) => {
        if (!m) return;
        high.push(m.content.toString());
        if (high.length + low.length === 5) done();
      },
      { noAck: true, priority: 10 },
    );
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    await within(finished, 5000, 'five deliveries');
    expect(high).toEqual(['0', '1', '2', '3', '4']);
    expect(low).toEqual([]);
  });

  it('falls back to a lower-priority consumer when the higher one is at its prefetch limit', async () => {
    const s = env.scope;
    const q = s.queue('cprio2');
    const setup = await s.channel();
    await setup.ch.assertQueue(q, { durable: false });
    const hi = await s.channel();
    await hi.ch.prefetch(1);
    const high: Message[] = [];
    const low: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    await hi.ch.consume(q, (m) => m && high.push(m), { noAck: false, priority: 5 });
    const lo = await s.channel();
    await lo.ch.consume(
      q,
      (m) => {
        if (!m) return;
        low.push(m.content.toString());
        if (low.length === 3) done();
      },
      { noAck: true, priority: 0 },
    );
    for (let i = 0; i < 4; i++) setup.ch.sendToQueue(q, Buffer.from(String(i)));
    await within(finished, 5000, 'the overflow to reach the low-priority consumer');
    expect(high.map((m) => m.content.toString())).toEqual(['0']);
    expect(low).toEqual(['1', '2', '3']);
  });
});

describe('single active consumer', () => {
  it('delivers only to the first consumer, then fails over to the next when it cancels', async () => {
    const s = env.scope;
    const q = s.queue('sac');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false, arguments: { 'x-single-active-consumer': true } });
    const a: string[] = [];
    const b: string[] = [];
    let notify: (() => void) | undefined;
    const progress = () => notify?.();
    const waitUntil = (pred: () => boolean, what: string) =>
      within(
        new Promise<void>((r) => {
          notify = () => pred() && r();
          notify();
        }),
        5000,
        what,
      );
    const ca = await ch.consume(q, (m) => m && (a.push(m.content.toString()), progress()), { noAck: true });
    await ch.consume(q, (m) => m && (b.push(m.content.toString()), progress()), { noAck: true });
    for (const x of ['1', '2', '3']) ch.sendToQueue(q, Buffer.from(x));
    await waitUntil(() => a.length === 3, 'the active consumer to get all three');
    expect(b).toEqual([]);
    await ch.cancel(ca.consumerTag);
    for (const x of ['4', '5']) ch.sendToQueue(q, Buffer.from(x));
    await waitUntil(() => b.length === 2, 'the next consumer to take over');
    expect(a).toEqual(['1', '2', '3']);
    expect(b).toEqual(['4', '5']);
  });
});

describe('basic.get', () => {
  it('returns messages with the remaining count, then get-empty (false)', async () => {
    const s = env.scope;
    const q = s.queue('get');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    expect(await ch.get(q)).toBe(false);
    ch.sendToQueue(q, Buffer.from('g1'), { correlationId: 'c1' });
    ch.sendToQueue(q, Buffer.from('g2'));
    await ch.waitForConfirms();
    const m1 = await ch.get(q, { noAck: false });
    expect(m1 && m1.content.toString()).toBe('g1');
    expect(m1 && m1.fields).toMatchObject({ exchange: '', routingKey: q, redelivered: false, messageCount: 1 });
    expect(m1 && m1.properties.correlationId).toBe('c1');
    const m2 = await ch.get(q, { noAck: true });
    expect(m2 && m2.fields.messageCount).toBe(0);
    expect(await ch.get(q)).toBe(false);
    if (m1) ch.ack(m1);
  });
});

describe('nack and requeue', () => {
  it('redelivers a nacked (requeue=true) message with redelivered=true, at its original position', async () => {
    const s = env.scope;
    const q = s.queue('nack');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('first'));
    ch.sendToQueue(q, Buffer.from('second'));
    await ch.waitForConfirms();
    const m = await ch.get(q, { noAck: false });
    expect(m && m.fields.redelivered).toBe(false);
    if (m) ch.nack(m, false, true);
    const again = await getEventually(ch, q, 'the requeued message');
    expect(again.content.toString()).toBe('first');
    expect(again.fields.redelivered).toBe(true);
  });

  it('nack multiple requeues every outstanding delivery up to the tag', async () => {
    const s = env.scope;
    const q = s.queue('nack-multi');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false });
    for (const b of ['a', 'b', 'c']) ch.sendToQueue(q, Buffer.from(b));
    const got = await take(ch, q, 3, { noAck: false });
    ch.nack(got[2]!, true, true);
    const again = await take(ch, q, 3);
    expect(bodies(again)).toEqual(['a', 'b', 'c']);
    expect(again.every((m) => m.fields.redelivered)).toBe(true);
  });
});

describe('queue purge and delete', () => {
  it('report how many messages they removed', async () => {
    const s = env.scope;
    const q = s.queue('purge');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    await ch.waitForConfirms();
    expect(await ch.purgeQueue(q)).toEqual({ messageCount: 3 });
    expect(await ch.purgeQueue(q)).toEqual({ messageCount: 0 });
    for (let i = 0; i < 2; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    await ch.waitForConfirms();
    expect(await ch.deleteQueue(q)).toEqual({ messageCount: 2 });
    // Deleting a queue that does not exist is not an error in RabbitMQ.
    expect(await ch.deleteQueue(q)).toEqual({ messageCount: 0 });
  });

  it('cancels consumers of a deleted queue (consumer cancel notification)', async () => {
    const s = env.scope;
    const q = s.queue('del-cancel');
    const consumer = await s.channel();
    await consumer.ch.assertQueue(q, { durable: false });
    const cancelled = new Promise<ConsumeMessage | null>((r) => {
      void consumer.ch.consume(q, (m) => m === null && r(m));
    });
    const other = await s.channel();
    await eventually(
      async () => ((await other.ch.checkQueue(q)).consumerCount === 1 ? true : undefined),
      'the consumer to be registered',
    );
    await other.ch.deleteQueue(q);
    expect(await within(cancelled, 5000, 'basic.cancel from the broker')).toBeNull();
  });
});

describe('exchange-to-exchange bindings', () => {
  it('routes through a chain of exchanges, and stops after unbind', async () => {
    const s = env.scope;
    const { ch } = await s.confirmChannel();
    const src = s.exchange('e2e-src');
    const dst = s.exchange('e2e-dst');
    await ch.assertExchange(src, 'topic', { durable: false });
    await ch.assertExchange(dst, 'direct', { durable: false });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindExchange(dst, src, 'orders.*');
    await ch.bindQueue(q, dst, 'orders.eu');
    ch.publish(src, 'orders.eu', Buffer.from('routed'));
    ch.publish(src, 'orders.us', Buffer.from('not for q'));
    ch.publish(src, 'other.eu', Buffer.from('filtered by src'));
    await ch.waitForConfirms();
    expect(bodies(await take(ch, q, 1))).toEqual(['routed']);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
    await ch.unbindExchange(dst, src, 'orders.*');
    ch.publish(src, 'orders.eu', Buffer.from('after unbind'));
    await ch.waitForConfirms();
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
  });
});

describe('alternate exchange', () => {
  it('receives messages the main exchange cannot route, and suppresses the mandatory return', async () => {
    const s = env.scope;
    const { ch } = await s.confirmChannel();
    const ae = s.exchange('ae');
    const main = s.exchange('with-ae');
    await ch.assertExchange(ae, 'fanout', { durable: false });
    await ch.assertExchange(main, 'direct', { durable: false, alternateExchange: ae });
    const routed = (await ch.assertQueue('', { exclusive: true })).queue;
    const unrouted = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(routed, main, 'known');
    await ch.bindQueue(unrouted, ae, '');
    let returns = 0;
    ch.on('return', () => returns++);
    ch.publish(main, 'known', Buffer.from('k'));
    ch.publish(main, 'unknown', Buffer.from('u'), { mandatory: true });
    await ch.waitForConfirms();
    expect(bodies(await take(ch, routed, 1))).toEqual(['k']);
    const [m] = await take(ch, unrouted, 1);
    expect(m?.content.toString()).toBe('u');
    expect(m?.fields).toMatchObject({ exchange: main, routingKey: 'unknown' });
    expect(returns).toBe(0);
  });
});

describe('headers exchange', () => {
  it('matches x-match all and any, ignoring the routing key and x- headers', async () => {
    const s = env.scope;
    const { ch } = await s.confirmChannel();
    const x = s.exchange('hdr');
    await ch.assertExchange(x, 'headers', { durable: false });
    const all = (await ch.assertQueue('', { exclusive: true })).queue;
    const any = (await ch.assertQueue('', { exclusive: true })).queue;
    const defaultAll = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(all, x, '', { 'x-match': 'all', format: 'pdf', type: 'report' });
    await ch.bindQueue(any, x, '', { 'x-match': 'any', format: 'pdf', type: 'report' });
    await ch.bindQueue(defaultAll, x, '', { format: 'pdf', type: 'report' });
    const sends: [string, Record<string, string>][] = [
      ['both', { format: 'pdf', type: 'report', extra: 'x' }],
      ['format', { format: 'pdf' }],
      ['type-wrong-format', { format: 'zip', type: 'report' }],
      ['none', {}],
    ];
    for (const [b, headers] of sends) ch.publish(x, 'rk-ignored', Buffer.from(b), { headers });
    await ch.waitForConfirms();
    expect(bodies(await take(ch, all, 1))).toEqual(['both']);
    expect(bodies(await take(ch, defaultAll, 1))).toEqual(['both']);
    expect(bodies(await take(ch, any, 3))).toEqual(['both', 'format', 'type-wrong-format']);
    for (const q of [all, any, defaultAll]) expect((await ch.checkQueue(q)).messageCount).toBe(0);
  });

  it('amq.match is a predeclared headers exchange', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    await ch.checkExchange('amq.match');
    await ch.checkExchange('amq.headers');
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, 'amq.match', '', { 'x-match': 'any', k: s.queue('v') });
  });
});

describe('transactions', () => {
  it('holds publishes and acks until commit', async () => {
    const s = env.scope;
    const q = s.queue('tx');
    const setup = await s.channel();
    await setup.ch.assertQueue(q, { durable: false });
    setup.ch.sendToQueue(q, Buffer.from('to-ack'));
    const { ch } = await s.channel();
    await txSelect(ch);
    const [m] = await take(ch, q, 1, { noAck: false });
    ch.ack(m!);
    ch.sendToQueue(q, Buffer.from('tx1'));
    ch.sendToQueue(q, Buffer.from('tx2'));
    // Before commit: nothing published, the ack not applied (the message is unacked, so not counted as ready).
    expect((await setup.ch.checkQueue(q)).messageCount).toBe(0);
    await txCommit(ch);
    expect((await setup.ch.checkQueue(q)).messageCount).toBe(2);
    expect(bodies(await take(setup.ch, q, 2))).toEqual(['tx1', 'tx2']);
  });

  it('discards publishes and acks on rollback', async () => {
    const s = env.scope;
    const q = s.queue('tx-rb');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('keep'));
    await txSelect(ch);
    ch.sendToQueue(q, Buffer.from('discard'));
    await txRollback(ch);
    const m = await ch.get(q, { noAck: false });
    expect(m && m.content.toString()).toBe('keep');
    if (m) ch.ack(m);
    await txRollback(ch); // the ack is discarded: the message stays unacked on this channel
    expect(await ch.get(q)).toBe(false);
    await txCommit(ch);
    expect(await ch.get(q)).toBe(false);
    await ch.close();
    // Closing the channel requeues the still-unacked message.
    const other = await s.channel();
    const again = await getEventually(other.ch, q, 'the requeued message');
    expect(again.content.toString()).toBe('keep');
    expect(again.fields.redelivered).toBe(true);
  });
});

describe('basic.recover', () => {
  it('redelivers unacked messages with redelivered=true', async () => {
    const s = env.scope;
    const q = s.queue('recover');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('r1'));
    ch.sendToQueue(q, Buffer.from('r2'));
    const seen: Message[] = [];
    let notify: () => void = () => {};
    await ch.consume(q, (m) => m && (seen.push(m), notify()), { noAck: false });
    const upTo = (n: number) =>
      within(
        new Promise<void>((r) => {
          notify = () => seen.length >= n && r();
          notify();
        }),
        5000,
        `${n} deliveries`,
      );
    await upTo(2);
    await ch.recover();
    await upTo(4);
    expect(bodies(seen)).toEqual(['r1', 'r2', 'r1', 'r2']);
    expect(seen.map((m) => m.fields.redelivered)).toEqual([false, false, true, true]);
    ch.ackAll();
  });
});

describe('connection negotiation', () => {
  it('advertises RabbitMQ capabilities and tunes to RabbitMQ defaults (channel_max 2047, frame_max 131072, heartbeat 60)', async () => {
    const c = await env.scope.connect();
    const inner = (
      c.conn as unknown as {
        connection: {
          serverProperties: { capabilities: Record<string, boolean> };
          channelMax: number;
          frameMax: number;
          heartbeat: number;
        };
      }
    ).connection;
    expect(inner.serverProperties.capabilities).toEqual({
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      consumer_priorities: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: true,
    });
    expect(inner.channelMax).toBe(2047);
    expect(inner.frameMax).toBe(131072);
    expect(inner.heartbeat).toBe(60);
  });
});

describe('content framing', () => {
  it('round-trips an empty body and a 1 MiB body split over many frames', async () => {
    const s = env.scope;
    const q = s.queue('big');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    ch.sendToQueue(q, Buffer.alloc(0), { messageId: 'empty' });
    ch.sendToQueue(q, big, { messageId: 'big' });
    await ch.waitForConfirms();
    const [empty, got] = await take(ch, q, 2);
    expect(empty?.properties.messageId).toBe('empty');
    expect(empty?.content.length).toBe(0);
    expect(got?.properties.messageId).toBe('big');
    expect(got?.content.equals(big)).toBe(true);
  });
});

describe('queue lifecycle', () => {
  it('a passive declare reports message and consumer counts', async () => {
    const s = env.scope;
    const q = s.queue('counts');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('1'));
    ch.sendToQueue(q, Buffer.from('2'));
    await ch.waitForConfirms();
    expect(await ch.checkQueue(q)).toEqual({ queue: q, messageCount: 2, consumerCount: 0 });
    await ch.prefetch(1);
    await ch.consume(q, () => {}, { noAck: false });
    // One delivered and unacked (not counted as ready), one ready; one consumer.
    const after = await eventually(async () => {
      const r = await ch.checkQueue(q);
      return r.messageCount === 1 ? r : undefined;
    }, 'the first delivery');
    expect(after).toEqual({ queue: q, messageCount: 1, consumerCount: 1 });
  });

  it('deletes an exclusive queue when its connection closes', async () => {
    const s = env.scope;
    const owner = await s.connect();
    const { ch } = await owner.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await owner.conn.close();
    const other = await s.connect();
    const probe = await other.channel();
    await expect(probe.ch.checkQueue(q)).rejects.toThrow();
    expect((await probe.closed)?.code).toBe(404);
  });

  it('deletes an auto-delete queue when its last consumer cancels', async () => {
    const s = env.scope;
    const q = s.queue('autodel');
    const c = await s.connect();
    const { ch } = await c.channel();
    await ch.assertQueue(q, { durable: false, autoDelete: true });
    const a = await ch.consume(q, () => {});
    const b = await ch.consume(q, () => {});
    await ch.cancel(a.consumerTag);
    expect((await ch.checkQueue(q)).consumerCount).toBe(1);
    await ch.cancel(b.consumerTag);
    const probe = await c.channel();
    await eventually(
      async () =>
        probe.ch.checkQueue(q).then(
          () => undefined,
          () => true,
        ),
      'the auto-delete queue to go',
    );
    expect((await probe.closed)?.code).toBe(404);
  });

  it('expires an unused queue after x-expires', async () => {
    const s = env.scope;
    const q = s.queue('expires');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false, arguments: { 'x-expires': 50 } });
    // Probe with mandatory publishes, which (unlike a passive declare) do not count as use and reset the timer:
    // once the queue is gone the publish comes back as basic.return, ahead of its confirm.
    let returned = false;
    ch.on('return', () => (returned = true));
    await eventually(async () => {
      ch.sendToQueue(q, Buffer.from('probe'), { mandatory: true, expiration: '0' });
      await ch.waitForConfirms();
      return returned ? true : undefined;
    }, 'the queue to expire');
  });

  it('server-named queues start with amq.gen- and are distinct', async () => {
    const { ch } = await env.scope.channel();
    const a = await ch.assertQueue('', { exclusive: true });
    const b = await ch.assertQueue('', { exclusive: true });
    expect(a.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/);
    expect(b.queue).not.toBe(a.queue);
  });
});

describe('basic.qos', () => {
  async function deliveredWithPrefetch(global: boolean): Promise<{ delivered: number; ready: number }> {
    const s = env.scope;
    const q = s.queue(global ? 'qos-global' : 'qos-consumer');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    await ch.waitForConfirms();
    await ch.prefetch(1, global);
    let delivered = 0;
    await ch.consume(q, () => delivered++, { noAck: false });
    await ch.consume(q, () => delivered++, { noAck: false });
    const expected = global ? 1 : 2;
    // Count the deliveries first, then ask for the ready count: it must reflect at least those deliveries.
    const ready = await eventually(
      async () => (delivered >= expected ? (await ch.checkQueue(q)).messageCount : undefined),
      `${expected} deliveries`,
    );
    return { delivered, ready };
  }

  it('global=false limits each consumer separately (RabbitMQ per-consumer QoS)', async () => {
    expect(await deliveredWithPrefetch(false)).toEqual({ delivered: 2, ready: 2 });
  });

  it('global=true shares the limit across the channel', async () => {
    expect(await deliveredWithPrefetch(true)).toEqual({ delivered: 1, ready: 3 });
  });

  it('server-generated consumer tags start with amq.ctag-', async () => {
    const { ch } = await env.scope.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const { consumerTag } = await ch.consume(q, () => {});
    expect(consumerTag).toMatch(/^amq\.ctag-/);
    expect(await ch.cancel(consumerTag)).toEqual({ consumerTag });
  });
});

describe('queue types', () => {
  it('declares a durable quorum queue and refuses a non-durable or exclusive one', async () => {
    const s = env.scope;
    const c = await s.connect();
    const q = s.queue('quorum');
    const { ch } = await c.channel();
    expect(await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })).toEqual({
      queue: q,
      messageCount: 0,
      consumerCount: 0,
    });
    const nd = s.queue('quorum-nd');
    const a = await c.channel();
    await expect(a.ch.assertQueue(nd, { durable: false, arguments: { 'x-queue-type': 'quorum' } })).rejects.toThrow();
    expect(await a.closed).toMatchObject({
      code: 406,
      text: `PRECONDITION_FAILED - invalid property 'non-durable' for queue '${nd}' in vhost '/'`,
    });
    const ex = s.queue('quorum-ex');
    const b = await c.channel();
    await expect(
      b.ch.assertQueue(ex, { durable: true, exclusive: true, arguments: { 'x-queue-type': 'quorum' } }),
    ).rejects.toThrow();
    expect(await b.closed).toMatchObject({
      code: 406,
      text: `PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue '${ex}' in vhost '/'`,
    });
  });

  it('dead-letters a quorum-queue message redelivered past x-delivery-limit (reason delivery_limit)', async () => {
    const s = env.scope;
    const { ch } = await s.channel();
    const { dlx, dlq } = await deadLetterTarget(ch);
    const q = s.queue('quorum-limit');
    await ch.assertQueue(q, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 1, 'x-dead-letter-exchange': dlx },
    });
    ch.sendToQueue(q, Buffer.from('poison'));
    const [m1] = await take(ch, q, 1, { noAck: false });
    ch.nack(m1!, false, true);
    const [m2] = await take(ch, q, 1, { noAck: false });
    expect(m2?.fields.redelivered).toBe(true);
    expect(m2?.properties.headers?.['x-delivery-count']).toBe(1);
    ch.nack(m2!, false, true); // the second return exceeds the limit of 1
    const d = await getEventually(ch, dlq, 'the poison message');
    expect(d.content.toString()).toBe('poison');
    expect(xDeath(d)[0]).toMatchObject({ reason: 'delivery_limit', queue: q, count: 1 });
  });

  it('reads a stream from an offset without consuming it', async () => {
    const s = env.scope;
    const q = s.queue('stream');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    for (const b of ['s0', 's1', 's2']) ch.sendToQueue(q, Buffer.from(b));
    await ch.waitForConfirms();
    const readFrom = async (offset: string | number) => {
      const reader = await s.channel();
      // Stream consumers need manual acks and a prefetch (RabbitMQ rule).
      await reader.ch.prefetch(10);
      const got = await take(reader.ch, q, offset === 'first' ? 3 : 2, {
        noAck: false,
        arguments: { 'x-stream-offset': offset },
      });
      for (const m of got) reader.ch.ack(m);
      return got;
    };
    const all = await readFrom('first');
    expect(bodies(all)).toEqual(['s0', 's1', 's2']);
    expect(all.map((m) => m.properties.headers?.['x-stream-offset'])).toEqual([0, 1, 2]);
    // Non-destructive: a second reader from offset 1 sees the tail again.
    expect(bodies(await readFrom(1))).toEqual(['s1', 's2']);
  });
});

describe('sender-selected distribution (CC / BCC headers)', () => {
  it('also routes to the CC and BCC keys, and strips BCC from the delivered message', async () => {
    const s = env.scope;
    const { ch } = await s.confirmChannel();
    const x = s.exchange('ssd');
    await ch.assertExchange(x, 'direct', { durable: false });
    const queues: Record<string, string> = {};
    for (const k of ['main', 'cc', 'bcc', 'other']) {
      queues[k] = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.bindQueue(queues[k]!, x, k);
    }
    ch.publish(x, 'main', Buffer.from('ssd'), { headers: { CC: ['cc'], BCC: ['bcc'], keep: 'yes' } });
    await ch.waitForConfirms();
    for (const k of ['main', 'cc', 'bcc']) {
      const [m] = await take(ch, queues[k]!, 1);
      expect(m?.content.toString(), k).toBe('ssd');
      expect(m?.fields.routingKey, k).toBe('main');
      expect(m?.properties.headers?.['CC'], k).toEqual(['cc']);
      expect(m?.properties.headers?.['keep'], k).toBe('yes');
      expect(m?.properties.headers && 'BCC' in m.properties.headers, k).toBe(false);
    }
    expect((await ch.checkQueue(queues['other']!)).messageCount).toBe(0);
  });
});

describe('requeue order', () => {
  it('puts unacked messages back at their original positions when the channel closes', async () => {
    const s = env.scope;
    const q = s.queue('requeue-order');
    const setup = await s.confirmChannel();
    await setup.ch.assertQueue(q, { durable: false });
    for (const b of ['a', 'b', 'c', 'd']) setup.ch.sendToQueue(q, Buffer.from(b));
    await setup.ch.waitForConfirms();
    const worker = await s.channel();
    const got: string[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await worker.ch.get(q, { noAck: false });
      got.push(m === false ? '(empty)' : m.content.toString());
    }
    expect(got).toEqual(['a', 'b']);
    await worker.ch.close();
    const again = await take(setup.ch, q, 4);
    expect(bodies(again)).toEqual(['a', 'b', 'c', 'd']);
    expect(again.map((m) => m.fields.redelivered)).toEqual([true, true, false, false]);
  });
});

describe('field tables', () => {
  it('keep their value types through the broker (amqplib typed values in, same types out)', async () => {
    const s = env.scope;
    const q = s.queue('types');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    const headers = {
      long: { '!': 'long', value: 1234567890123 },
      int: { '!': 'int', value: -5 },
      double: { '!': 'double', value: 2.5 },
      float: { '!': 'float', value: 0.5 },
      ts: { '!': 'timestamp', value: 1700000000 },
      bytes: Buffer.from([0, 1, 254, 255]),
      none: null,
      dec: { '!': 'decimal', value: { places: 2, digits: 314 } },
      table: { inner: { '!': 'long', value: 7 } },
      array: [true, 'x', { '!': 'long', value: 9 }],
    };
    ch.sendToQueue(q, Buffer.from('typed'), { headers });
    await ch.waitForConfirms();
    const [m] = await take(ch, q, 1);
    // amqplib decodes l/I/d/f as plain numbers, T and D as tagged objects, x as a Buffer and V as null.
    expect(m?.properties.headers).toEqual({
      long: 1234567890123,
      int: -5,
      double: 2.5,
      float: 0.5,
      ts: { '!': 'timestamp', value: 1700000000 },
      bytes: Buffer.from([0, 1, 254, 255]),
      none: null,
      dec: { '!': 'decimal', value: { places: 2, digits: 314 } },
      table: { inner: 7 },
      array: [true, 'x', 9],
    });
  });
});

describe('heartbeats', () => {
  it('keeps an idle connection with a 1 s heartbeat alive (the broker sends heartbeats)', async () => {
    const s = env.scope;
    const u = new URL(s.broker.url);
    u.searchParams.set('heartbeat', '1');
    const c = await s.connect(u.toString());
    let closedEarly = false;
    void c.closed.then(() => (closedEarly = true));
    const inner = (c.conn as unknown as { connection: { heartbeat: number } }).connection;
    expect(inner.heartbeat).toBe(1);
    // amqplib drops a connection that hears nothing from the server for two intervals; idle for three.
    await new Promise((r) => setTimeout(r, 3200));
    expect(closedEarly).toBe(false);
    const { ch } = await c.channel();
    expect((await ch.assertQueue('', { exclusive: true })).queue).toMatch(/^amq\.gen-/);
  });
});
