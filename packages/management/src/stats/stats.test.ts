import { readFileSync } from 'node:fs';
import { type CoreChannel } from '@warren/core';
import { FakeChannelHost, FakeConnectionHost, fakeConnectionInfo, makeMessage } from '@warren/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { managementHarness, type Harness } from '../testing/harness.js';
import { StatsSampler } from './sampler.js';

/** A recorded RabbitMQ 3.10 answer body. */
function fixture(name: string): any {
  const url = new URL(`../../../../tests/fixtures/rabbitmq-3.10/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).body;
}
const keys = (o: object | undefined): string[] => Object.keys(o ?? {}).sort();

let h: Harness;
let ch: CoreChannel;
let sampler: StatsSampler;
beforeEach(async () => {
  h = await managementHarness();
  const user = h.broker.authenticate('guest', 'guest', '127.0.0.1');
  ch = h.broker.openConnection(fakeConnectionInfo(), user, '/', new FakeConnectionHost()).openChannel(new FakeChannelHost());
  sampler = StatsSampler.acquire(h.broker);
});
afterEach(async () => {
  sampler.release();
  await h.close();
});

const get = async (url: string): Promise<any> => {
  const res = await h.request('GET', url);
  expect(res.statusCode).toBe(200);
  return res.json();
};

describe('message_stats', () => {
  it('a queue with publishes only has the publish group, as RabbitMQ (queue-classic.json)', async () => {
    ch.declareQueue('q', {});
    ch.publish(makeMessage('', 'q', 'a'), {});
    const q = await get('/api/queues/%2F/q');
    expect(keys(q.message_stats)).toEqual(keys(fixture('queue-classic.json').message_stats));
    expect(q.message_stats.publish).toBe(1);
    expect(q.messages).toBe(1);
  });

  it('a consumed queue has the delivery group too (queue-consumed.json) and counts are live', async () => {
    ch.declareQueue('q', {});
    ch.consume('q', {});
    for (let i = 0; i < 3; i++) ch.publish(makeMessage('', 'q', `m${i}`), {});
    ch.ack(1, false);
    const q = await get('/api/queues/%2F/q');
    expect(keys(q.message_stats)).toEqual(keys(fixture('queue-consumed.json').message_stats));
    expect(q.message_stats).toMatchObject({ publish: 3, deliver: 3, deliver_get: 3, ack: 1, deliver_no_ack: 0 });
    expect([q.messages, q.messages_ready, q.messages_unacknowledged]).toEqual([2, 0, 2]);
  });

  it('an idle queue has no message_stats', async () => {
    ch.declareQueue('idle', {});
    const q = await get('/api/queues/%2F/idle');
    expect(q.message_stats).toBeUndefined();
    expect(q.messages_details).toEqual({ rate: 0 });
  });

  it('messages_unacknowledged includes basic.get deliveries', async () => {
    ch.declareQueue('q', {});
    ch.publish(makeMessage('', 'q', 'a'), {});
    ch.publish(makeMessage('', 'q', 'b'), {});
    ch.get('q', false);
    const [q] = await get('/api/queues/%2F');
    expect([q.messages, q.messages_ready, q.messages_unacknowledged]).toEqual([2, 1, 1]);
    expect(q.message_stats.get).toBe(1);
    const v = await get('/api/vhosts/%2F');
    expect([v.messages, v.messages_unacknowledged]).toEqual([2, 1]);
    const o = await get('/api/overview');
    expect(o.queue_totals.messages_unacknowledged).toBe(1);
  });

  it('exchanges, vhosts and the overview have the keys of the recorded answers', async () => {
    ch.declareExchange('x', 'direct', {});
    ch.declareQueue('q', {});
    ch.bindQueue('q', 'x', 'k');
    ch.publish(makeMessage('x', 'k', 'a'), {});
    ch.publish(makeMessage('x', 'none', 'b'), { mandatory: true });
    const x = await get('/api/exchanges/%2F/x');
    expect(keys(x.message_stats)).toEqual(keys(fixture('exchange-direct.json').message_stats));
    expect(x.message_stats).toMatchObject({ publish_in: 2, publish_out: 1 });
    const idle = await get('/api/exchanges/%2F/amq.direct');
    expect(idle.message_stats).toBeUndefined();
    const v = await get('/api/vhosts/%2F');
    expect(Object.keys(v.message_stats)).toEqual(Object.keys(fixture('vhost.json').message_stats));
    expect(v.message_stats).toMatchObject({ publish: 2, return_unroutable: 1 });
    const o = await get('/api/overview');
    const ref = fixture('overview.json');
    expect(Object.keys(o.message_stats)).toEqual(Object.keys(ref.message_stats));
    expect(Object.keys(o.churn_rates)).toEqual(Object.keys(ref.churn_rates));
    expect(Object.keys(o.queue_totals)).toEqual(Object.keys(ref.queue_totals));
    expect(o.churn_rates).toMatchObject({ connection_created: 1, channel_created: 1, queue_created: 1, queue_declared: 1 });
  });

  it('disable_stats=true&enable_queue_totals=true answers the keys RabbitMQ does (queues-disable-stats.json)', async () => {
    ch.declareQueue('q', {});
    ch.publish(makeMessage('', 'q', 'a'), {});
    const [q] = await get('/api/queues/%2F?disable_stats=true&enable_queue_totals=true');
    const ref = (fixture('queues-disable-stats.json') as any[]).find((r) => r.policy === undefined);
    expect(Object.keys(q)).toEqual(Object.keys(ref));
    expect(q.messages).toBe(1);
    const [bare] = await get('/api/queues/%2F?disable_stats=true');
    expect(bare.messages).toBeUndefined();
    expect(bare.message_stats).toBeUndefined();
  });
});

describe('rates and samples', () => {
  it('rates come from the samples of the two newest rounds', async () => {
    ch.declareQueue('q', {});
    const t0 = 1_800_000_000_000;
    sampler.sampleAllNow(t0);
    for (let i = 0; i < 10; i++) ch.publish(makeMessage('', 'q', 'a'), {});
    sampler.sampleAllNow(t0 + 5000);
    const q = await get('/api/queues/%2F/q');
    expect(q.message_stats.publish_details).toEqual({ rate: 2 });
    expect(q.messages_details).toEqual({ rate: 2 });
    const o = await get('/api/overview');
    expect(o.message_stats.publish_details.rate).toBe(2);
    expect(o.queue_totals.messages_ready_details.rate).toBe(2);
  });

  it('msg_rates_age/incr and lengths_age/incr add samples, avg and avg_rate as RabbitMQ (queue-classic-lengths-age.json)', async () => {
    const ref = fixture('queue-classic-lengths-age.json');
    const refPublish = ref.message_stats.publish_details;
    ch.declareQueue('q', {});
    // Replay the recorded publish counts, oldest sample first, sampling after each.
    const t0 = 1_800_000_000_000;
    const counts = (refPublish.samples as { sample: number }[]).map((s) => s.sample).reverse();
    let published = 0;
    counts.forEach((n, i) => {
      for (; published < n; published++) ch.publish(makeMessage('', 'q', 'a'), {});
      sampler.sampleAllNow(t0 + i * 5000);
    });
    const q = await get('/api/queues/%2F/q?lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5');
    const d = q.message_stats.publish_details;
    expect(keys(d)).toEqual(keys(refPublish));
    expect(d.samples.map((s: { sample: number }) => s.sample)).toEqual(refPublish.samples.map((s: { sample: number }) => s.sample));
    expect({ rate: d.rate, avg: d.avg, avg_rate: d.avg_rate }).toEqual({ rate: refPublish.rate, avg: refPublish.avg, avg_rate: refPublish.avg_rate });
    expect(d.samples[0].timestamp).toBe(t0 + (counts.length - 1) * 5000);
    expect(keys(q.messages_details)).toEqual(keys(ref.messages_details));
    const o = await get('/api/overview?lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5');
    const oref = fixture('overview-lengths-age.json');
    expect(keys(o.queue_totals.messages_details)).toEqual(keys(oref.queue_totals.messages_details));
    expect(keys(o.churn_rates.queue_created_details)).toEqual(keys(oref.churn_rates.queue_created_details));
  });

  it('an idle queue gets no ring; one with traffic gets a fixed-size one', async () => {
    ch.declareQueue('idle', {});
    ch.declareQueue('busy', {});
    ch.publish(makeMessage('', 'busy', 'a'), {});
    for (let i = 0; i < 200; i++) sampler.sampleAllNow(1_800_000_000_000 + i * 5000);
    const v = h.broker.vhost('/')!;
    expect(v.queues.get('idle')!.stats.samples).toBeUndefined();
    expect(v.queues.get('busy')!.stats.samples!.size).toBe(v.queues.get('busy')!.stats.samples!.capacity);
  });

  it('a sampling round over many queues yields to the event loop', async () => {
    for (let i = 0; i < 5000; i++) ch.declareQueue(`q${i}`, {});
    for (let i = 0; i < 5000; i++) ch.publish(makeMessage('', `q${i}`, 'a'), {});
    const round = sampler.sampleRound(1_800_000_000_000);
    // Scheduled after the round started: it runs before the round ends only if the round yields between chunks.
    let ranMeanwhile = false;
    setImmediate(() => (ranMeanwhile = true));
    await round;
    expect(ranMeanwhile).toBe(true);
    expect(h.broker.vhost('/')!.queues.get('q4999')!.stats.samples!.rate(0)).toBe(0.2);
  });
});
