import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FieldTable } from '../contract.js';
import { makeMessage } from '../testing/fake-host.js';
import { err, TestBroker, type TestChannel } from '../testing/setup.js';
import { silentLogger } from '../broker.js';

let tb: TestBroker;
let c: TestChannel;
beforeEach(() => {
  tb = new TestBroker();
  c = tb.channel();
});
afterEach(() => {
  tb.close();
  vi.useRealTimers();
});

const count = (q: string): number => c.ch.declareQueue(q, { passive: true }).messageCount;
const pub = (q: string, body: string, props = {}): void => c.ch.publish(makeMessage('', q, body, props), {});
const drain = (q: string): string[] => {
  const out: string[] = [];
  for (let r = c.ch.get(q, true); r !== undefined; r = c.ch.get(q, true)) out.push(r.delivery.message.body.toString());
  return out;
};

describe('queue.declare', () => {
  it('server-names queues amq.gen- + 22 url-safe characters', () => {
    const r = c.ch.declareQueue('', { exclusive: true });
    expect(r.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/);
    expect(r).toMatchObject({ messageCount: 0, consumerCount: 0 });
  });

  it('reports message and consumer counts', () => {
    c.ch.declareQueue('q', {});
    pub('q', 'a');
    pub('q', 'b');
    expect(c.ch.declareQueue('q', {})).toEqual({ queue: 'q', messageCount: 2, consumerCount: 0, lengthOverflow: 0 });
  });

  it.each<[string, FieldTable, string]>([
    ['x-max-length', { 'x-max-length': -1 }, '{value_negative,-1}'],
    ['x-max-length', { 'x-max-length': 'a' }, '"expected integer, got longstr"'],
    ['x-message-ttl', { 'x-message-ttl': -1 }, '{value_negative,-1}'],
    ['x-expires', { 'x-expires': 0 }, '{value_zero,0}'],
    ['x-overflow', { 'x-overflow': 'foo' }, 'invalid_overflow'],
    ['x-max-priority', { 'x-max-priority': 256 }, '{max_value_exceeded,256}'],
    ['x-max-length-bytes', { 'x-max-length-bytes': -1 }, '{value_negative,-1}'],
    ['x-queue-type', { 'x-queue-type': 'foo' }, `"unsupported queue type 'foo'"`],
    ['x-single-active-consumer', { 'x-single-active-consumer': 'x' }, '{unacceptable_type,longstr}'],
    ['x-dead-letter-routing-key', { 'x-dead-letter-routing-key': 'k' }, 'routing_key_but_no_dlx_defined'],
  ])('invalid %s is PRECONDITION_FAILED', (arg, args, detail) => {
    expect(err(() => c.ch.declareQueue('q', { arguments: args }))).toBe(
      `PRECONDITION_FAILED: invalid arg '${arg}' for queue 'q' in vhost '/': ${detail}`,
    );
  });

  it('a non-string dead-letter exchange is an invalid type', () => {
    expect(err(() => c.ch.declareQueue('q', { arguments: { 'x-dead-letter-exchange': 5 } }))).toBe(
      "PRECONDITION_FAILED: invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'",
    );
  });

  it('redeclaring with different properties or arguments is PRECONDITION_FAILED with RabbitMQ text', () => {
    c.ch.declareQueue('q', { arguments: { 'x-max-length': 5 } });
    expect(err(() => c.ch.declareQueue('q', { durable: true, arguments: { 'x-max-length': 5 } }))).toBe(
      "PRECONDITION_FAILED: inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'",
    );
    expect(err(() => c.ch.declareQueue('q', { autoDelete: true, arguments: { 'x-max-length': 5 } }))).toBe(
      "PRECONDITION_FAILED: inequivalent arg 'auto_delete' for queue 'q' in vhost '/': received 'true' but current is 'false'",
    );
    expect(err(() => c.ch.declareQueue('q', { arguments: { 'x-max-length': 6 } }))).toBe(
      "PRECONDITION_FAILED: inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received '6' but current is '5'",
    );
    expect(err(() => c.ch.declareQueue('q', {}))).toBe(
      "PRECONDITION_FAILED: inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received none but current is the value '5' of type 'signedint'",
    );
    for (const [arg, a, b] of [
      ['x-stream-max-segment-size-bytes', 1000, 2000],
      ['x-initial-cluster-size', 1, 2],
    ] as const) {
      c.ch.declareQueue(`s-${arg}`, { durable: true, arguments: { 'x-queue-type': 'stream', [arg]: a } });
      expect(err(() => c.ch.declareQueue(`s-${arg}`, { durable: true, arguments: { 'x-queue-type': 'stream', [arg]: b } }))).toBe(
        `PRECONDITION_FAILED: inequivalent arg '${arg}' for queue 's-${arg}' in vhost '/': received '${b}' but current is '${a}'`,
      );
    }
    // Arguments RabbitMQ does not compare are ignored; passive ignores everything.
    c.ch.declareQueue('q', { arguments: { 'x-max-length': 5, 'x-custom': 1 } });
    c.ch.declareQueue('q', { passive: true, durable: true });
  });

  it('passive declare of a missing queue is NOT_FOUND', () => {
    expect(err(() => c.ch.declareQueue('nq', { passive: true }))).toBe("NOT_FOUND: no queue 'nq' in vhost '/'");
  });

  it('quorum queues must be durable and named', () => {
    expect(c.ch.declareQueue('qq', { durable: true, arguments: { 'x-queue-type': 'quorum' } }).queue).toBe('qq');
    expect(err(() => c.ch.declareQueue('qq2', { arguments: { 'x-queue-type': 'quorum' } }))).toBe(
      "PRECONDITION_FAILED: invalid property 'non-durable' for queue 'qq2' in vhost '/'",
    );
    expect(err(() => c.ch.declareQueue('', { arguments: { 'x-queue-type': 'quorum' } }))).toBe(
      'PRECONDITION_FAILED: Cannot declare a server-named queue for type rabbit_quorum_queue',
    );
  });
});

describe('exclusive and auto-delete queues', () => {
  const locked =
    "RESOURCE_LOCKED: cannot obtain exclusive access to locked queue 'ex' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.";

  it('an exclusive queue belongs to its connection and goes with it', () => {
    const owner = tb.connect();
    const och = tb.channel(owner.conn);
    och.ch.declareQueue('ex', { exclusive: true });
    const other = tb.channel();
    expect(err(() => other.ch.declareQueue('ex', { exclusive: true }))).toBe(locked);
    expect(err(() => other.ch.declareQueue('ex', { passive: true }))).toBe(locked);
    expect(err(() => other.ch.consume('ex', {}))).toBe(locked);
    expect(err(() => other.ch.get('ex', true))).toBe(locked);
    expect(err(() => other.ch.purgeQueue('ex'))).toBe(locked);
    expect(err(() => other.ch.deleteQueue('ex', {}))).toBe(locked);
    expect(err(() => other.ch.bindQueue('ex', 'amq.direct', 'k'))).toBe(locked);
    other.ch.publish(makeMessage('', 'ex', 'x'), {}); // publishing is allowed
    // Same connection, another channel: fine. Non-exclusive redeclare from the owner: locked (property mismatch).
    const och2 = tb.channel(owner.conn);
    expect(och2.ch.declareQueue('ex', { exclusive: true }).messageCount).toBe(1);
    expect(err(() => och2.ch.declareQueue('ex', {}))).toBe(locked);
    owner.conn.close();
    expect(err(() => other.ch.declareQueue('ex', { passive: true }))).toBe("NOT_FOUND: no queue 'ex' in vhost '/'");
  });

  it('an exclusive queue is never durable', () => {
    c.ch.declareQueue('ex', { exclusive: true, durable: true });
    expect(tb.broker.vhost('/')!.queues.get('ex')!.durable).toBe(false);
  });

  it('an auto-delete queue goes when its last consumer does, not before it had one', () => {
    c.ch.declareQueue('ad', { autoDelete: true });
    const t1 = c.ch.consume('ad', {});
    const t2 = c.ch.consume('ad', {});
    c.ch.cancel(t1);
    expect(count('ad')).toBe(0);
    c.ch.cancel(t2);
    expect(err(() => count('ad'))).toMatch(/^NOT_FOUND/);
  });

  it('delete honours if-empty and if-unused and cancels consumers', () => {
    c.ch.declareQueue('q', {});
    pub('q', 'a');
    expect(err(() => c.ch.deleteQueue('q', { ifEmpty: true }))).toBe("PRECONDITION_FAILED: queue 'q' in vhost '/' not empty");
    const other = tb.channel();
    const tag = other.ch.consume('q', {});
    expect(err(() => c.ch.deleteQueue('q', { ifUnused: true }))).toBe("PRECONDITION_FAILED: queue 'q' in vhost '/' in use");
    expect(c.ch.deleteQueue('q', {})).toBe(0); // the message went to the consumer
    expect(other.host.cancelled).toEqual([tag]);
    expect(c.ch.deleteQueue('q', {})).toBe(0); // missing: fine
    other.ch.ack(1, false); // acking a message of a deleted queue still works
  });

  it('purge removes ready messages only', () => {
    c.ch.declareQueue('q', {});
    pub('q', 'a');
    pub('q', 'b');
    pub('q', 'c');
    expect(c.ch.get('q', false)).toBeDefined();
    expect(c.ch.purgeQueue('q')).toBe(2);
    c.ch.nack(1, false, true);
    expect(count('q')).toBe(1);
  });
});

describe('TTL and expiry', () => {
  it('x-message-ttl expires messages at the head, also with no other activity', () => {
    vi.useFakeTimers();
    c.ch.declareQueue('t', { arguments: { 'x-message-ttl': 1000 } });
    pub('t', 'a');
    vi.advanceTimersByTime(500);
    pub('t', 'b');
    vi.advanceTimersByTime(600);
    expect(tb.broker.vhost('/')!.queues.get('t')!.messageCount).toBe(1);
    vi.advanceTimersByTime(500);
    expect(tb.broker.vhost('/')!.queues.get('t')!.messageCount).toBe(0);
  });

  it('per-message expiration: invalid values are refused; expiry only at the head', () => {
    vi.useFakeTimers();
    expect(err(() => pub('q', 'x', { expiration: 'abc' }))).toBe("PRECONDITION_FAILED: invalid expiration 'abc': no_integer");
    expect(err(() => pub('q', 'x', { expiration: '-5' }))).toBe("PRECONDITION_FAILED: invalid expiration '-5': {value_negative,-5}");
    c.ch.declareQueue('q', {});
    pub('q', 'long', { expiration: '10000' });
    pub('q', 'short', { expiration: '100' });
    vi.advanceTimersByTime(200);
    // 'short' is past its expiry but not at the head: RabbitMQ keeps it until it gets there.
    expect(tb.broker.vhost('/')!.queues.get('q')!.messageCount).toBe(2);
    expect(c.ch.get('q', true)!.delivery.message.body.toString()).toBe('long');
    expect(c.ch.get('q', true)).toBeUndefined();
  });

  it('TTL 0 delivers to a waiting consumer and drops otherwise', () => {
    c.ch.declareQueue('z', { arguments: { 'x-message-ttl': 0 } });
    pub('z', 'dropped');
    expect(count('z')).toBe(0);
    c.ch.consume('z', { noAck: true });
    pub('z', 'delivered');
    expect(c.host.bodies()).toEqual(['delivered']);
  });

  it('x-expires deletes an unused queue; use resets the clock', () => {
    vi.useFakeTimers();
    c.ch.declareQueue('e', { arguments: { 'x-expires': 1000 } });
    vi.advanceTimersByTime(800);
    c.ch.get('e', true);
    vi.advanceTimersByTime(800);
    expect(count('e')).toBe(0); // passive declare also counts as use
    const tag = c.ch.consume('e', {});
    vi.advanceTimersByTime(5000);
    expect(count('e')).toBe(0);
    c.ch.cancel(tag);
    vi.advanceTimersByTime(1001);
    expect(err(() => count('e'))).toMatch(/^NOT_FOUND/);
  });
});

describe('length limits', () => {
  it('drop-head drops the oldest', () => {
    c.ch.declareQueue('m', { arguments: { 'x-max-length': 2 } });
    for (const b of ['1', '2', '3']) pub('m', b);
    expect(drain('m')).toEqual(['2', '3']);
  });

  it('counts what it removes for length, and logs once per overflow episode', () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_o: object, msg?: string) => void warnings.push(msg ?? ''), child: () => logger };
    const t = new TestBroker({ logger });
    const ch = t.channel().ch;
    ch.declareQueue('lim', { arguments: { 'x-max-length': 2 } });
    const publish = (b: string): void => ch.publish(makeMessage('', 'lim', b), {});
    for (const b of ['1', '2', '3', '4', '5']) publish(b);
    expect(ch.declareQueue('lim', { passive: true }).lengthOverflow).toBe(3);
    expect(warnings.filter((w) => w.includes('length limit'))).toHaveLength(1);
    // Room again (a message taken), then a new overflow: a second line.
    ch.get('lim', true);
    publish('6');
    publish('7');
    expect(ch.declareQueue('lim', { passive: true }).lengthOverflow).toBe(4);
    expect(warnings.filter((w) => w.includes('length limit'))).toHaveLength(2);
  });

  it('x-max-length-bytes counts body bytes', () => {
    c.ch.declareQueue('mb', { arguments: { 'x-max-length-bytes': 5 } });
    for (const b of ['aa', 'bb', 'cc']) pub('mb', b);
    expect(drain('mb')).toEqual(['bb', 'cc']);
  });

  it('reject-publish nacks the publisher; others still get the message', () => {
    c.ch.declareQueue('r', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    c.ch.declareQueue('other', {});
    c.ch.bindQueue('r', 'amq.fanout', '');
    c.ch.bindQueue('other', 'amq.fanout', '');
    c.ch.publish(makeMessage('amq.fanout', '', '1'), { sequence: 1 });
    c.ch.publish(makeMessage('amq.fanout', '', '2'), { sequence: 2 });
    expect(c.host.confirms).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(drain('r')).toEqual(['1']);
    expect(drain('other')).toEqual(['1', '2']);
  });

  it('reject-publish-dlx dead-letters what it refuses; drop-head dead-letters with reason maxlen', () => {
    c.ch.declareQueue('dl', {});
    c.ch.declareQueue('r', {
      arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dl' },
    });
    c.ch.declareQueue('d', {
      arguments: { 'x-max-length': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dl' },
    });
    pub('r', '1');
    pub('r', '2');
    pub('d', '3');
    pub('d', '4');
    const got = [c.ch.get('dl', true)!, c.ch.get('dl', true)!];
    expect(got.map((g) => g.delivery.message.body.toString())).toEqual(['2', '3']);
    const deaths = got.map((g) => (g.delivery.message.properties.headers!['x-death'] as FieldTable[])[0]!);
    expect(deaths.map((d) => [d['reason'], d['queue']])).toEqual([
      ['maxlen', 'r'],
      ['maxlen', 'd'],
    ]);
  });
});

describe('priority queues', () => {
  it('delivers higher priority first, FIFO within a priority, clamped to x-max-priority', () => {
    c.ch.declareQueue('p', { arguments: { 'x-max-priority': 5 } });
    pub('p', 'low1');
    pub('p', 'high', { priority: 9 });
    pub('p', 'mid', { priority: 3 });
    pub('p', 'low2', { priority: 0 });
    pub('p', 'max', { priority: 5 });
    expect(drain('p')).toEqual(['high', 'max', 'mid', 'low1', 'low2']);
  });

  it('a non-priority queue ignores priorities', () => {
    c.ch.declareQueue('np', {});
    pub('np', 'a');
    pub('np', 'b', { priority: 9 });
    expect(drain('np')).toEqual(['a', 'b']);
  });
});

describe('quorum queues on one node', () => {
  it('x-delivery-count is 0 on the first delivery (get and consume), as RabbitMQ sends it; a classic queue has none', () => {
    c.ch.declareQueue('qq0', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    pub('qq0', 'a');
    const got = c.ch.get('qq0', false)!;
    expect(got.delivery.redelivered).toBe(false);
    expect(got.delivery.message.properties.headers).toEqual({ 'x-delivery-count': 0 });
    c.ch.declareQueue('cq0', {});
    pub('cq0', 'b');
    expect(c.ch.get('cq0', true)!.delivery.message.properties.headers).toBeUndefined();
    pub('qq0', 'c');
    c.ch.consume('qq0', { consumerTag: 'k', noAck: false });
    const consumed = c.host.deliveries.find((d) => d.consumerTag === 'k' && d.message.body.toString() === 'c')!;
    expect(consumed.message.properties.headers).toEqual({ 'x-delivery-count': 0 });
  });

  it('x-delivery-limit dead-letters a message redelivered more often than the limit', () => {
    c.ch.declareQueue('dead', {});
    c.ch.declareQueue('qq', {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' },
    });
    pub('qq', 'm');
    const first = c.ch.get('qq', false)!;
    c.ch.reject(first.delivery.deliveryTag, true);
    const second = c.ch.get('qq', false)!;
    expect(second.delivery.redelivered).toBe(true);
    expect(second.delivery.message.properties.headers).toEqual({ 'x-delivery-count': 1 });
    expect(second.delivery.message.rawProperties).toBeUndefined();
    c.ch.reject(second.delivery.deliveryTag, true);
    expect(count('qq')).toBe(0);
    const dead = c.ch.get('dead', true)!.delivery.message;
    expect((dead.properties.headers!['x-death'] as FieldTable[])[0]).toMatchObject({ reason: 'delivery_limit', queue: 'qq' });
  });
});

describe('timers longer than setTimeout can wait (2^31 - 1 ms)', () => {
  it('a 30-day message TTL and a 30-day x-expires neither fire at once nor spin', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const thirtyDays = 30 * 24 * 3600 * 1000;
      c.ch.declareQueue('long-ttl', {});
      pub('long-ttl', 'kept', { expiration: String(thirtyDays) });
      c.ch.declareQueue('long-expires', { arguments: { 'x-expires': thirtyDays } });
      await new Promise((r) => setTimeout(r, 50));
      expect(count('long-ttl')).toBe(1);
      expect(count('long-expires')).toBe(0);
      expect(warnings.filter((n) => n === 'TimeoutOverflowWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
