import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeChannelHost, FakeConnectionHost, fakeConnectionInfo, makeMessage } from '../testing/fake-host.js';
import { err, TestBroker, type TestChannel } from '../testing/setup.js';
import { SampleRing } from './sample-ring.js';

let tb: TestBroker;
let c: TestChannel;
beforeEach(() => {
  tb = new TestBroker();
  c = tb.channel();
});
afterEach(() => tb.close());

const vhost = () => tb.broker.vhost('/')!;
const queue = (name: string) => vhost().queues.get(name)!;
const amqp = () => tb.broker.stats.protocol('amqp');

describe('queue counters', () => {
  it('count publishes, manual-ack deliveries, acks and the exact unacked count', () => {
    c.ch.declareQueue('q', {});
    for (let i = 0; i < 3; i++) c.ch.publish(makeMessage('', 'q', `m${i}`), {});
    const q = queue('q');
    expect(q.stats.publish).toBe(3);
    c.ch.qos(2, false);
    c.ch.consume('q', {});
    expect([q.stats.deliver, q.unacked, q.messageCount]).toEqual([2, 2, 1]);
    c.ch.ack(1, false);
    expect([q.stats.deliver, q.stats.ack, q.unacked]).toEqual([3, 1, 2]);
    c.ch.ack(3, true);
    expect([q.stats.ack, q.unacked]).toEqual([3, 0]);
    expect(vhost().stats.deliver).toBe(3);
    expect(vhost().stats.ack).toBe(3);
    expect(amqp().byType[0].deliveredConsumeManualAck).toBe(3);
    expect(amqp().byType[0].acknowledged).toBe(3);
  });

  it('count basic.get (with and without ack, and empty) in the unacked count too', () => {
    c.ch.declareQueue('q', {});
    for (let i = 0; i < 3; i++) c.ch.publish(makeMessage('', 'q', `m${i}`), {});
    const q = queue('q');
    const got = c.ch.get('q', false)!;
    c.ch.get('q', true);
    expect([q.stats.get, q.stats.getNoAck, q.unacked]).toEqual([1, 1, 1]);
    c.ch.nack(got.delivery.deliveryTag, false, true);
    expect(q.unacked).toBe(0);
    expect(q.stats.ack).toBe(0);
    const again = c.ch.get('q', false)!;
    expect(again.delivery.redelivered).toBe(true);
    expect(q.stats.redeliver).toBe(1);
    c.ch.get('q', false);
    expect(c.ch.get('q', false)).toBeUndefined();
    expect([q.stats.get, q.stats.getEmpty, q.unacked]).toEqual([3, 1, 2]);
    expect(amqp().byType[0].deliveredGetManualAck).toBe(3);
    expect(amqp().byType[0].deliveredGetAutoAck).toBe(1);
    expect(amqp().byType[0].redelivered).toBe(1);
    expect(amqp().byType[0].delivered).toBe(4);
  });

  it('count no-ack deliveries, which never enter the unacked count', () => {
    c.ch.declareQueue('q', {});
    c.ch.consume('q', { noAck: true });
    c.ch.publish(makeMessage('', 'q', 'a'), {});
    const q = queue('q');
    expect([q.stats.publish, q.stats.deliverNoAck, q.stats.deliver, q.unacked]).toEqual([1, 1, 0, 0]);
    expect(amqp().byType[0].deliveredConsumeAutoAck).toBe(1);
  });

  it('a closing channel returns its unacked messages: the count drops to 0', () => {
    c.ch.declareQueue('q', {});
    c.ch.consume('q', {});
    c.ch.publish(makeMessage('', 'q', 'a'), {});
    expect(queue('q').unacked).toBe(1);
    c.ch.close();
    expect(queue('q').unacked).toBe(0);
    expect(queue('q').messageCount).toBe(1);
  });
});

describe('exchange, vhost and protocol counters', () => {
  it('count publish_in/out, routed, unroutable dropped and returned, confirms', () => {
    c.ch.declareExchange('x', 'direct', {});
    c.ch.declareQueue('q', {});
    c.ch.bindQueue('q', 'x', 'k');
    c.ch.publish(makeMessage('x', 'k', 'a'), { sequence: 1 });
    c.ch.publish(makeMessage('x', 'nowhere', 'b'), {});
    c.ch.publish(makeMessage('x', 'nowhere', 'c'), { mandatory: true });
    const x = vhost().exchange('x')!;
    expect([x.publishIn, x.publishOut]).toEqual([3, 1]);
    const v = vhost().stats;
    expect([v.publish, v.confirm, v.dropUnroutable, v.returnUnroutable]).toEqual([3, 1, 1, 1]);
    const p = amqp();
    expect([p.received, p.receivedConfirm, p.confirmed, p.routed, p.unroutableDropped, p.unroutableReturned]).toEqual([3, 1, 1, 1, 1, 1]);
  });

  it('a refused publish counts nothing', () => {
    expect(err(() => c.ch.publish(makeMessage('missing', 'k', 'a'), {}))).toBe("NOT_FOUND: no exchange 'missing' in vhost '/'");
    expect(vhost().stats.publish).toBe(0);
    expect(amqp().received).toBe(0);
  });

  it('file counters under the connection protocol', () => {
    const user = tb.broker.authenticate('guest', 'guest', '127.0.0.1', 'mqtt');
    const conn = tb.broker.openConnection(fakeConnectionInfo({ protocol: 'mqtt' }), user, '/', new FakeConnectionHost());
    const ch = conn.openChannel(new FakeChannelHost());
    ch.declareQueue('m', {});
    ch.publish(makeMessage('', 'm', 'a'), {});
    expect(tb.broker.stats.protocol('mqtt').received).toBe(1);
    expect(tb.broker.stats.protocol('mqtt').authSucceeded).toBe(1);
    expect(amqp().received).toBe(0);
  });

  it('the overview keeps a deleted vhost counts', () => {
    tb.broker.addVhost('v2');
    tb.broker.setPermissions('guest', 'v2', { configure: '.*', write: '.*', read: '.*' });
    const ch = tb.channel(tb.connect('guest', 'guest', 'v2').conn);
    ch.ch.declareQueue('q', {});
    ch.ch.publish(makeMessage('', 'q', 'a'), {});
    tb.broker.deleteVhost('v2');
    expect(tb.broker.stats.retired.publish).toBe(1);
  });
});

describe('churn and auth counters', () => {
  it('count connections, channels and queues opened and closed', () => {
    const s = tb.broker.stats;
    expect([s.connectionCreated, s.channelCreated]).toEqual([1, 1]);
    c.ch.declareQueue('q', {});
    c.ch.declareQueue('q', {});
    c.ch.declareQueue('q', { passive: true });
    c.ch.deleteQueue('q', {});
    expect([s.queueDeclared, s.queueCreated, s.queueDeleted]).toEqual([3, 1, 1]);
    const { conn } = tb.connect();
    conn.openChannel(new FakeChannelHost()).close();
    conn.close();
    expect([s.connectionCreated, s.connectionClosed, s.channelCreated, s.channelClosed]).toEqual([2, 1, 2, 1]);
  });

  it('internal pseudo-connections are not counted as churn', () => {
    const s = tb.broker.stats;
    const user = tb.broker.authenticate('guest', 'guest', '127.0.0.1');
    const conn = tb.broker.openConnection(fakeConnectionInfo({ internal: true, protocol: 'http' }), user, '/', new FakeConnectionHost());
    conn.openChannel(new FakeChannelHost()).close();
    conn.close();
    expect([s.connectionCreated, s.connectionClosed, s.channelCreated, s.channelClosed]).toEqual([1, 0, 1, 0]);
  });

  it('count auth attempts per protocol, failures included', () => {
    const p = tb.broker.stats.protocol('stomp');
    tb.broker.authenticate('guest', 'guest', '127.0.0.1', 'stomp');
    expect(err(() => tb.broker.authenticate('guest', 'nope', '127.0.0.1', 'stomp'))).toBe("ACCESS_REFUSED: authentication failed for user 'guest'");
    expect(err(() => tb.broker.authenticate('guest', 'guest', '10.0.0.1', 'stomp'))).toBe("ACCESS_REFUSED: user 'guest' can only connect via localhost");
    expect([p.authSucceeded, p.authFailed]).toEqual([1, 2]);
  });
});

describe('SampleRing', () => {
  it('keeps the newest samples up to its capacity and computes the rate of the two newest', () => {
    const r = new SampleRing(2, 3);
    expect(r.rate(0)).toBe(0);
    r.record(5000, [1, 10]);
    r.record(10000, [6, 10]);
    expect(r.rate(0)).toBe(1);
    expect(r.rate(1)).toBe(0);
    r.record(15000, [16, 4]);
    r.record(20000, [26, 4]);
    expect(r.size).toBe(3);
    expect(r.wrapped).toBe(true);
    expect([r.timeAt(0), r.timeAt(2), r.timeAt(3)]).toEqual([20000, 10000, undefined]);
    expect(r.valueAt(2, 0)).toBe(6);
    expect(r.rate(0)).toBe(2);
  });

  it('replaces a sample at the same timestamp and ignores older ones', () => {
    const r = new SampleRing(1, 4);
    r.record(5000, [1]);
    r.record(5000, [2]);
    r.record(1000, [9]);
    expect(r.size).toBe(1);
    expect(r.valueAt(0, 0)).toBe(2);
  });

  it('answers history newest first; zero before the first sample until history is overwritten', () => {
    const r = new SampleRing(1, 3);
    r.record(10000, [5]);
    expect(r.history(0, 10000, 5000)).toEqual([
      { timestamp: 10000, value: 5 },
      { timestamp: 5000, value: 0 },
      { timestamp: 0, value: 0 },
    ]);
    r.record(15000, [7]);
    r.record(20000, [9]);
    // Wrapped: nothing is known before 10000 any more.
    expect(r.history(0, 60000, 5000).map((s) => s.value)).toEqual([9, 7, 5]);
  });

  it('uses a fixed amount of memory however many samples it records', () => {
    const r = new SampleRing(11, 25);
    for (let t = 0; t < 100_000; t++) r.record(t * 5000, [t]);
    expect(r.size).toBe(25);
    expect(r.valueAt(0, 0)).toBe(99_999);
  });
});
