import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FieldTable } from '../contract.js';
import { makeMessage } from '../testing/fake-host.js';
import { err, TestBroker, type TestChannel } from '../testing/setup.js';

let tb: TestBroker;
let c: TestChannel;
beforeEach(() => {
  tb = new TestBroker();
  c = tb.channel();
});
afterEach(() => tb.close());

/** Declare queues, publish, and return each queue's message count. */
function counts(...queues: string[]): number[] {
  return queues.map((q) => c.ch.declareQueue(q, { passive: true }).messageCount);
}

describe('direct, fanout, topic', () => {
  it('direct routes by equal key', () => {
    c.ch.declareQueue('a', {});
    c.ch.declareQueue('b', {});
    c.ch.bindQueue('a', 'amq.direct', 'k1');
    c.ch.bindQueue('b', 'amq.direct', 'k2');
    c.ch.bindQueue('b', 'amq.direct', 'k1');
    c.ch.publish(makeMessage('amq.direct', 'k1', 'x'), {});
    c.ch.publish(makeMessage('amq.direct', 'k2', 'x'), {});
    c.ch.publish(makeMessage('amq.direct', 'k3', 'x'), {});
    expect(counts('a', 'b')).toEqual([1, 2]);
  });

  it('binding twice is idempotent; a queue bound with two matching keys gets one copy', () => {
    c.ch.declareQueue('a', {});
    c.ch.bindQueue('a', 'amq.topic', 'x.*');
    c.ch.bindQueue('a', 'amq.topic', 'x.*');
    c.ch.bindQueue('a', 'amq.topic', '#');
    c.ch.publish(makeMessage('amq.topic', 'x.y', 'm'), {});
    expect(counts('a')).toEqual([1]);
    c.ch.unbindQueue('a', 'amq.topic', '#');
    c.ch.unbindQueue('a', 'amq.topic', 'x.*');
    c.ch.unbindQueue('a', 'amq.topic', 'never-bound'); // not an error
    c.ch.publish(makeMessage('amq.topic', 'x.y', 'm'), {});
    expect(counts('a')).toEqual([1]);
  });

  it('fanout ignores the key; topic wildcards', () => {
    c.ch.declareQueue('f', {});
    c.ch.declareQueue('t1', {});
    c.ch.declareQueue('t2', {});
    c.ch.bindQueue('f', 'amq.fanout', 'whatever');
    c.ch.bindQueue('t1', 'amq.topic', 'a.#.b');
    c.ch.bindQueue('t2', 'amq.topic', '*.b');
    c.ch.publish(makeMessage('amq.fanout', 'zzz', 'x'), {});
    for (const k of ['a.b', 'a.x.y.b', 'c.b', 'a.c']) c.ch.publish(makeMessage('amq.topic', k, 'x'), {});
    expect(counts('f', 't1', 't2')).toEqual([1, 2, 2]);
  });

  it('routes tens of thousands of messages per second through 10,000 wildcard bindings', () => {
    c.ch.declareExchange('big', 'topic', {});
    c.ch.declareQueue('sink', {});
    for (let i = 0; i < 10_000; i++) c.ch.bindQueue('sink', 'big', i % 2 ? `s${i}.*.x` : `s${i}.#`);
    c.ch.declareQueue('hit', {});
    c.ch.bindQueue('hit', 'big', 'hot.*.x');
    const msg = makeMessage('big', 'hot.k.x', 'x');
    for (let i = 0; i < 20_000; i++) c.ch.publish(msg, {});
    expect(counts('hit', 'sink')).toEqual([20_000, 0]);
  });
});

describe('headers exchange', () => {
  function route(bindArgs: FieldTable, headers: FieldTable): boolean {
    const q = c.ch.declareQueue('', { exclusive: true }).queue;
    c.ch.bindQueue(q, 'amq.headers', '', bindArgs);
    c.ch.publish(makeMessage('amq.headers', '', 'x', { headers }), {});
    const n = c.ch.declareQueue(q, { passive: true }).messageCount;
    c.ch.deleteQueue(q, {});
    return n === 1;
  }

  it('x-match all (default) needs every pair', () => {
    expect(route({ a: 1, b: 'x' }, { a: 1, b: 'x', c: true })).toBe(true);
    expect(route({ 'x-match': 'all', a: 1, b: 'x' }, { a: 1 })).toBe(false);
    expect(route({ a: 1 }, { a: 2 })).toBe(false);
    expect(route({ a: 1 }, { a: '1' })).toBe(false);
    expect(route({}, {})).toBe(true);
    expect(route({}, { z: 1 })).toBe(true);
  });

  it('x-match any needs one pair; with no pairs it matches nothing', () => {
    expect(route({ 'x-match': 'any', a: 1, b: 2 }, { b: 2 })).toBe(true);
    expect(route({ 'x-match': 'any', a: 1, b: 2 }, { c: 2 })).toBe(false);
    expect(route({ 'x-match': 'any' }, { a: 1 })).toBe(false);
  });

  it('plain all/any ignore x- arguments; the -with-x variants match them', () => {
    expect(route({ 'x-match': 'all', 'x-foo': 'bar', a: 1 }, { a: 1 })).toBe(true);
    expect(route({ 'x-match': 'all-with-x', 'x-foo': 'bar', a: 1 }, { a: 1 })).toBe(false);
    expect(route({ 'x-match': 'all-with-x', 'x-foo': 'bar', a: 1 }, { a: 1, 'x-foo': 'bar' })).toBe(true);
    expect(route({ 'x-match': 'any', 'x-foo': 'bar' }, { 'x-foo': 'bar' })).toBe(false);
    expect(route({ 'x-match': 'any-with-x', 'x-foo': 'bar' }, { 'x-foo': 'bar' })).toBe(true);
  });

  it('a void binding value matches presence', () => {
    expect(route({ a: null }, { a: 'anything' })).toBe(true);
    expect(route({ a: null }, { b: 1 })).toBe(false);
    expect(route({ 'x-match': 'any', a: null, b: 1 }, { a: 5 })).toBe(true);
  });

  it('an invalid x-match is refused', () => {
    c.ch.declareQueue('q', {});
    expect(err(() => c.ch.bindQueue('q', 'amq.match', '', { 'x-match': 'some' }))).toMatch(
      /^PRECONDITION_FAILED: Invalid x-match field value/,
    );
  });
});

describe('default exchange and reserved names', () => {
  it('routes by queue name and cannot be declared, deleted or bound', () => {
    c.ch.declareQueue('q', {});
    c.ch.publish(makeMessage('', 'q', 'x'), {});
    expect(counts('q')).toEqual([1]);
    const denied = 'ACCESS_REFUSED: operation not permitted on the default exchange';
    expect(err(() => c.ch.declareExchange('', 'direct', {}))).toBe(denied);
    expect(err(() => c.ch.deleteExchange('', {}))).toBe(denied);
    expect(err(() => c.ch.bindQueue('q', '', 'q'))).toBe(denied);
    expect(err(() => c.ch.bindExchange('amq.direct', '', 'q'))).toBe(denied);
  });

  it('amq.* names are reserved; system exchanges cannot be deleted', () => {
    expect(err(() => c.ch.declareExchange('amq.x', 'direct', {}))).toBe(
      "ACCESS_REFUSED: exchange name 'amq.x' contains reserved prefix 'amq.*'",
    );
    expect(err(() => c.ch.declareQueue('amq.q', {}))).toBe("ACCESS_REFUSED: queue name 'amq.q' contains reserved prefix 'amq.*'");
    // Redeclaring a predeclared exchange equivalently is fine; passively too.
    c.ch.declareExchange('amq.direct', 'direct', { durable: true });
    c.ch.declareExchange('amq.match', '', { passive: true });
    expect(err(() => c.ch.deleteExchange('amq.direct', {}))).toBe(
      "ACCESS_REFUSED: deletion of system exchange 'amq.direct' in vhost '/' not allowed",
    );
  });

  it('unknown type is PRECONDITION_FAILED (RabbitMQ 4); passive declare of a missing exchange is NOT_FOUND', () => {
    expect(err(() => c.ch.declareExchange('x', 'foo', {}))).toBe("PRECONDITION_FAILED: invalid exchange type 'foo'");
    expect(err(() => c.ch.declareExchange('x', 'no-such-type', {}))).toBe("PRECONDITION_FAILED: unknown exchange type 'no-such-type'");
    expect(err(() => c.ch.declareExchange('x', 'direct', { passive: true }))).toBe("NOT_FOUND: no exchange 'x' in vhost '/'");
    expect(err(() => c.ch.publish(makeMessage('nope', 'k', 'x'), {}))).toBe("NOT_FOUND: no exchange 'nope' in vhost '/'");
  });

  it('redeclaring with different properties is PRECONDITION_FAILED with RabbitMQ text', () => {
    c.ch.declareExchange('x', 'direct', {});
    c.ch.declareExchange('x', 'direct', {});
    expect(err(() => c.ch.declareExchange('x', 'fanout', {}))).toBe(
      "PRECONDITION_FAILED: inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'direct'",
    );
    expect(err(() => c.ch.declareExchange('x', 'direct', { durable: true }))).toBe(
      "PRECONDITION_FAILED: inequivalent arg 'durable' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
    );
    expect(err(() => c.ch.declareExchange('x', 'direct', { autoDelete: true }))).toBe(
      "PRECONDITION_FAILED: inequivalent arg 'auto_delete' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
    );
    expect(err(() => c.ch.declareExchange('ae', 'direct', { arguments: { 'alternate-exchange': 5 } }))).toBe(
      "PRECONDITION_FAILED: invalid type 'signedint' for arg 'alternate-exchange' in exchange 'ae' in vhost '/'",
    );
  });

  it('publishing to an internal exchange is refused; it still routes from another exchange', () => {
    c.ch.declareExchange('int', 'fanout', { internal: true });
    c.ch.declareQueue('q', {});
    c.ch.bindQueue('q', 'int', '');
    expect(err(() => c.ch.publish(makeMessage('int', 'k', 'x'), {}))).toBe(
      "ACCESS_REFUSED: cannot publish to internal exchange 'int' in vhost '/'",
    );
    c.ch.bindExchange('int', 'amq.fanout', '');
    c.ch.publish(makeMessage('amq.fanout', 'k', 'x'), {});
    expect(counts('q')).toEqual([1]);
  });
});

describe('exchange-to-exchange bindings', () => {
  it('delivers once to a queue reached twice and survives cycles', () => {
    c.ch.declareExchange('a', 'fanout', {});
    c.ch.declareExchange('b', 'fanout', {});
    c.ch.declareExchange('c', 'fanout', {});
    c.ch.declareQueue('q', {});
    c.ch.bindExchange('b', 'a', '');
    c.ch.bindExchange('c', 'a', '');
    c.ch.bindExchange('a', 'c', ''); // cycle a → c → a
    c.ch.bindQueue('q', 'b', '');
    c.ch.bindQueue('q', 'c', '');
    c.ch.publish(makeMessage('a', 'k', 'x'), {});
    expect(counts('q')).toEqual([1]);
  });

  it('unbinding and deleting a destination exchange stops routing', () => {
    c.ch.declareExchange('src', 'direct', {});
    c.ch.declareExchange('dst', 'fanout', {});
    c.ch.declareQueue('q', {});
    c.ch.bindExchange('dst', 'src', 'k');
    c.ch.bindQueue('q', 'dst', '');
    c.ch.publish(makeMessage('src', 'k', 'x'), {});
    c.ch.unbindExchange('dst', 'src', 'k');
    c.ch.publish(makeMessage('src', 'k', 'x'), {});
    c.ch.bindExchange('dst', 'src', 'k');
    c.ch.deleteExchange('dst', {});
    c.ch.publish(makeMessage('src', 'k', 'x'), {});
    expect(counts('q')).toEqual([1]);
  });

  it('if-unused refuses to delete an exchange with bindings; auto-delete goes with its last binding', () => {
    c.ch.declareExchange('x', 'direct', {});
    c.ch.declareQueue('q', {});
    c.ch.bindQueue('q', 'x', 'k');
    expect(err(() => c.ch.deleteExchange('x', { ifUnused: true }))).toBe(
      "PRECONDITION_FAILED: exchange 'x' in vhost '/' in use",
    );
    c.ch.deleteExchange('missing', {}); // RabbitMQ 3.10: delete-ok
    c.ch.declareExchange('ad', 'fanout', { autoDelete: true });
    c.ch.bindQueue('q', 'ad', '');
    c.ch.unbindQueue('q', 'ad', '');
    expect(err(() => c.ch.declareExchange('ad', 'fanout', { passive: true }))).toMatch(/^NOT_FOUND/);
  });

  it('binding to missing entities is NOT_FOUND', () => {
    c.ch.declareQueue('q', {});
    expect(err(() => c.ch.bindQueue('q', 'nox', 'k'))).toBe("NOT_FOUND: no exchange 'nox' in vhost '/'");
    expect(err(() => c.ch.bindQueue('noq', 'amq.direct', 'k'))).toBe("NOT_FOUND: no queue 'noq' in vhost '/'");
    // RabbitMQ 3.10: unbinding from or to something missing is fine.
    c.ch.unbindQueue('q', 'nox', 'k');
    c.ch.unbindQueue('noq', 'amq.direct', 'k');
    c.ch.unbindExchange('nox', 'amq.direct', 'k');
  });
});

describe('alternate exchange', () => {
  it('takes messages the exchange cannot route, and mandatory sees them as routed', () => {
    c.ch.declareExchange('ae', 'fanout', {});
    c.ch.declareExchange('main', 'direct', { arguments: { 'alternate-exchange': 'ae' } });
    c.ch.declareQueue('routed', {});
    c.ch.declareQueue('unrouted', {});
    c.ch.bindQueue('routed', 'main', 'good');
    c.ch.bindQueue('unrouted', 'ae', '');
    c.ch.publish(makeMessage('main', 'good', 'x'), { mandatory: true });
    c.ch.publish(makeMessage('main', 'bad', 'x'), { mandatory: true });
    expect(counts('routed', 'unrouted')).toEqual([1, 1]);
    expect(c.host.returns).toHaveLength(0);
    expect(err(() => c.ch.declareExchange('main', 'direct', {}))).toBe(
      "PRECONDITION_FAILED: inequivalent arg 'alternate-exchange' for exchange 'main' in vhost '/': received none but current is 'ae'",
    );
  });
});

describe('sender-selected distribution', () => {
  it('routes to CC and BCC keys once each and strips BCC', () => {
    for (const q of ['main', 'cc', 'bcc', 'other']) {
      c.ch.declareQueue(q, {});
      c.ch.bindQueue(q, 'amq.direct', q);
    }
    c.ch.bindQueue('main', 'amq.direct', 'cc'); // reached by two keys: still one copy
    c.ch.publish(makeMessage('amq.direct', 'main', 'x', { headers: { CC: ['cc'], BCC: ['bcc'], keep: 1 } }), {});
    expect(counts('main', 'cc', 'bcc', 'other')).toEqual([1, 1, 1, 0]);
    const m = c.ch.get('bcc', true)!.delivery.message;
    expect(m.routingKey).toBe('main');
    expect(m.properties.headers).toEqual({ CC: ['cc'], keep: 1 });
  });
});
