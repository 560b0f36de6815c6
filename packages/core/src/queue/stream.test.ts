import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeMessage } from '../testing/fake-host.js';
import { err, TestBroker, type TestChannel } from '../testing/setup.js';

let tb: TestBroker;
let c: TestChannel;
beforeEach(() => {
  tb = new TestBroker();
  c = tb.channel();
  c.ch.declareQueue('s', { durable: true, arguments: { 'x-queue-type': 'stream' } });
});
afterEach(() => {
  tb.close();
  vi.useRealTimers();
});

/** Chunks are what one event-loop turn appends: end the current one. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

const pub = (...bodies: string[]): void => {
  for (const b of bodies) c.ch.publish(makeMessage('', 's', b), {});
};

function reader(offset?: unknown): TestChannel {
  const r = tb.channel();
  r.ch.qos(100, false);
  r.ch.consume('s', offset === undefined ? {} : { arguments: { 'x-stream-offset': offset as never } });
  return r;
}

describe('stream queues', () => {
  it('reads from first, last, next or an offset without consuming; deliveries carry x-stream-offset', async () => {
    pub('m0', 'm1');
    await turn();
    pub('m2');
    await turn();
    const first = reader('first');
    expect(first.host.bodies()).toEqual(['m0', 'm1', 'm2']);
    expect(first.host.deliveries.map((d) => d.message.properties.headers?.['x-stream-offset'])).toEqual([0n, 1n, 2n]);
    expect(reader('last').host.bodies()).toEqual(['m2']);
    expect(reader(1).host.bodies()).toEqual(['m1', 'm2']);
    const next = reader();
    expect(next.host.bodies()).toEqual([]);
    pub('m3');
    expect(next.host.bodies()).toEqual(['m3']);
    expect(first.host.bodies()).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(c.ch.declareQueue('s', { passive: true }).messageCount).toBe(0);
  });

  it('prefetch bounds each reader; acks move it on', () => {
    pub('a', 'b', 'c');
    const r = tb.channel();
    r.ch.qos(2, false);
    r.ch.consume('s', { arguments: { 'x-stream-offset': 'first' } });
    expect(r.host.bodies()).toEqual(['a', 'b']);
    r.ch.ack(2, true);
    expect(r.host.bodies()).toEqual(['a', 'b', 'c']);
  });

  it('last starts at the first message of the last chunk (one turn of appends), as RabbitMQ', async () => {
    pub('a');
    await turn();
    pub('b', 'c', 'd');
    await turn();
    expect(reader('last').host.bodies()).toEqual(['b', 'c', 'd']);
    expect(reader(2).host.bodies()).toEqual(['c', 'd']);
    expect(reader(99).host.bodies()).toEqual([]);
  });

  it('reads from a timestamp', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    pub('old');
    await turn();
    vi.setSystemTime(2_000_000);
    pub('new');
    await turn();
    expect(reader(new Date(1_500_000)).host.bodies()).toEqual(['new']);
    expect(reader('1h').host.bodies()).toEqual(['old', 'new']);
  });

  it('x-max-length-bytes removes whole segments from the head, never the current one', async () => {
    // In memory a message counts its body + 64 bytes: each one-message chunk (66 bytes) fills a 50-byte segment.
    const args = { 'x-queue-type': 'stream', 'x-max-length-bytes': 100, 'x-stream-max-segment-size-bytes': 50 };
    c.ch.declareQueue('small', { durable: true, arguments: args });
    c.ch.declareQueue('one', { durable: true, arguments: args });
    for (const b of ['aa', 'bb', 'cc']) {
      c.ch.publish(makeMessage('', 'small', b), {});
      await turn();
    }
    for (const b of ['aa', 'bb', 'cc']) c.ch.publish(makeMessage('', 'one', b), {});
    await turn();
    const read = (q: string): string[] => {
      const r = tb.channel();
      r.ch.qos(10, false);
      r.ch.consume(q, { arguments: { 'x-stream-offset': 'first' } });
      return r.host.bodies();
    };
    expect(read('small')).toEqual(['bb', 'cc']);
    expect(read('one')).toEqual(['aa', 'bb', 'cc']); // one chunk, one segment: nothing to remove
  });

  it('takes retention and segment size from a policy (max-length-bytes, stream-max-segment-size-bytes)', async () => {
    tb.broker.setPolicy('/', 'ret', {
      pattern: '^pol$',
      definition: { 'max-length-bytes': 100, 'stream-max-segment-size-bytes': 50 },
      'apply-to': 'queues',
    });
    c.ch.declareQueue('pol', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    for (const b of ['aa', 'bb', 'cc']) {
      c.ch.publish(makeMessage('', 'pol', b), {});
      await turn();
    }
    const r = tb.channel();
    r.ch.qos(10, false);
    r.ch.consume('pol', { arguments: { 'x-stream-offset': 'first' } });
    expect(r.host.bodies()).toEqual(['bb', 'cc']);
  });

  it('validates x-stream-max-segment-size-bytes as RabbitMQ (a non-negative integer)', () => {
    expect(err(() => c.ch.declareQueue('bad', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-stream-max-segment-size-bytes': -1 } }))).toBe(
      "PRECONDITION_FAILED: invalid arg 'x-stream-max-segment-size-bytes' for queue 'bad' in vhost '/': {value_negative,-1}",
    );
    expect(err(() => c.ch.declareQueue('bad', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-stream-max-segment-size-bytes': 'x' } }))).toBe(
      "PRECONDITION_FAILED: invalid arg 'x-stream-max-segment-size-bytes' for queue 'bad' in vhost '/': \"expected integer, got longstr\"",
    );
  });

  it('follows RabbitMQ rules: durable, named, prefetch needed, no get or purge', () => {
    expect(err(() => c.ch.declareQueue('t', { arguments: { 'x-queue-type': 'stream' } }))).toBe(
      "PRECONDITION_FAILED: invalid property 'non-durable' for queue 't' in vhost '/'",
    );
    expect(err(() => c.ch.declareQueue('', { arguments: { 'x-queue-type': 'stream' } }))).toBe(
      'PRECONDITION_FAILED: Cannot declare a server-named queue for type rabbit_stream_queue',
    );
    expect(err(() => c.ch.consume('s', {}))).toBe(
      "PRECONDITION_FAILED: consumer prefetch count is not set for 'queue 's' in vhost '/''",
    );
    expect(err(() => c.ch.get('s', false))).toBe(
      "NOT_IMPLEMENTED: basic.get not supported by stream queues queue 's' in vhost '/'",
    );
    expect(err(() => c.ch.purgeQueue('s'))).toBe(
      "NOT_IMPLEMENTED: queue.purge not supported by stream queues queue 's' in vhost '/'",
    );
  });
});
