/**
 * Durable by default: an -ok for a method that changed durable definitions is written only once the
 * definitions are on disk, and the connection handles nothing after it until then (it stops reading). Transient
 * declares and redeclares answer at once. A slow definitions store whose flush the test releases proves it.
 */
import { Broker } from '@warren/core';
import { SlowDefinitionsStore } from '@warren/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeMethod, type AmqpMethod } from '../codec/index.js';
import { AmqpSession } from '../testing/session.js';

let store: SlowDefinitionsStore;
let broker: Broker;
beforeEach(() => {
  store = new SlowDefinitionsStore();
  broker = new Broker({ definitions: store });
});
afterEach(() => broker.close());

function queueDeclare(queue: string, durable: boolean, nowait = false): AmqpMethod {
  return { name: 'queue.declare', ticket: 0, queue, passive: false, durable, exclusive: false, autoDelete: false, nowait, arguments: {} };
}

function session(): AmqpSession {
  const s = new AmqpSession(broker);
  s.handshake();
  s.openChannel(1);
  return s;
}

describe('replies that change durable definitions wait for the definitions fsync', () => {
  it('queue.declare-ok of a durable queue waits; later frames in the same chunk wait behind it, in order', async () => {
    const s = session();
    s.send(
      encodeMethod(1, queueDeclare('d', true)),
      encodeMethod(1, queueDeclare('t', false)),
      s.publishFrames(1, '', 't', 'hello'),
    );
    expect(s.names()).toEqual([]);
    expect(s.io.paused).toBe(true);
    expect(store.flushes).toBe(1);
    // Declares after it are handled (their replies held behind it, so one fsync round answers a pipelined burst);
    // the publish after them is not handled yet.
    expect(broker.vhost('/')!.queues.has('d')).toBe(true);
    expect(broker.vhost('/')!.queues.get('t')!.messageCount).toBe(0);

    await store.release();
    expect(s.names()).toEqual(['1:queue.declare-ok', '1:queue.declare-ok']);
    expect(broker.vhost('/')!.queues.get('t')!.messageCount).toBe(1);
    expect(s.io.paused).toBe(false);
  });

  it('transient declares and redeclares of an existing durable queue answer at once, without a flush', async () => {
    const s = session();
    s.method(1, queueDeclare('d', true));
    await store.release();
    expect(s.names()).toEqual(['1:queue.declare-ok']);
    const before = store.flushes;
    s.method(1, queueDeclare('t', false));
    s.method(1, queueDeclare('d', true));
    s.method(1, { name: 'exchange.declare', ticket: 0, exchange: 'tx', type: 'fanout', passive: false, durable: false, autoDelete: false, internal: false, nowait: false, arguments: {} });
    s.method(1, { name: 'queue.bind', ticket: 0, queue: 't', exchange: 'tx', routingKey: '', nowait: false, arguments: {} });
    expect(s.names()).toEqual(['1:queue.declare-ok', '1:queue.declare-ok', '1:exchange.declare-ok', '1:queue.bind-ok']);
    expect(store.flushes).toBe(before);
    expect(s.io.paused).toBe(false);
  });

  it('durable exchange declare, bind, unbind, queue and exchange delete all wait', async () => {
    const s = session();
    const steps: [AmqpMethod, string][] = [
      [{ name: 'exchange.declare', ticket: 0, exchange: 'dx', type: 'direct', passive: false, durable: true, autoDelete: false, internal: false, nowait: false, arguments: {} }, '1:exchange.declare-ok'],
      [queueDeclare('dq', true), '1:queue.declare-ok'],
      [{ name: 'queue.bind', ticket: 0, queue: 'dq', exchange: 'dx', routingKey: 'k', nowait: false, arguments: {} }, '1:queue.bind-ok'],
      [{ name: 'queue.unbind', ticket: 0, queue: 'dq', exchange: 'dx', routingKey: 'k', arguments: {} }, '1:queue.unbind-ok'],
      [{ name: 'queue.delete', ticket: 0, queue: 'dq', ifUnused: false, ifEmpty: false, nowait: false }, '1:queue.delete-ok'],
      [{ name: 'exchange.delete', ticket: 0, exchange: 'dx', ifUnused: false, nowait: false }, '1:exchange.delete-ok'],
    ];
    for (const [m, ok] of steps) {
      const flushes = store.flushes;
      s.method(1, m);
      expect(s.names()).toEqual([]);
      expect(store.flushes).toBe(flushes + 1);
      await store.release();
      expect(s.names()).toEqual([ok]);
    }
  });

  it('a nowait durable declare still holds the frames after it (no confirm into a queue not yet on disk)', async () => {
    const s = session();
    s.method(1, { name: 'confirm.select', nowait: false });
    expect(s.names()).toEqual(['1:confirm.select-ok']);
    s.send(encodeMethod(1, queueDeclare('n', true, true)), s.publishFrames(1, '', 'n', 'x'));
    expect(broker.vhost('/')!.queues.get('n')!.messageCount).toBe(0);
    expect(s.names()).toEqual([]);
    await store.release();
    expect(broker.vhost('/')!.queues.get('n')!.messageCount).toBe(1);
    expect(s.names()).toEqual(['1:basic.ack']);
  });

  it('other connections are not held: one fsync round answers declares of several connections', async () => {
    const a = session();
    const b = session();
    const c = session();
    a.method(1, queueDeclare('qa', true));
    b.method(1, queueDeclare('qb', true));
    c.method(1, queueDeclare('qc', false));
    expect(c.names()).toEqual(['1:queue.declare-ok']);
    expect(a.names()).toEqual([]);
    expect(b.names()).toEqual([]);
    await store.release();
    expect(a.names()).toEqual(['1:queue.declare-ok']);
    expect(b.names()).toEqual(['1:queue.declare-ok']);
  });

  it('declares pipelined over several channels are all answered by one round, in order per channel', async () => {
    const s = session();
    s.openChannel(2);
    s.send(
      encodeMethod(1, queueDeclare('p1', true)),
      encodeMethod(2, queueDeclare('p2', true)),
      encodeMethod(1, queueDeclare('p3', false)),
      encodeMethod(2, { name: 'queue.bind', ticket: 0, queue: 'p2', exchange: 'amq.fanout', routingKey: '', nowait: false, arguments: {} }),
      encodeMethod(1, { name: 'basic.qos', prefetchSize: 0, prefetchCount: 5, global: false }),
      encodeMethod(2, queueDeclare('p4', true)),
    );
    expect(s.names()).toEqual([]);
    // p4 comes after basic.qos, which is not a definitions method: it waits for the first round.
    expect(broker.vhost('/')!.queues.has('p4')).toBe(false);
    await store.release();
    expect(s.names()).toEqual(['1:queue.declare-ok', '2:queue.declare-ok', '1:queue.declare-ok', '2:queue.bind-ok', '1:basic.qos-ok']);
    expect(s.io.paused).toBe(true);
    await store.release();
    expect(s.names()).toEqual(['2:queue.declare-ok']);
    expect(s.io.paused).toBe(false);
  });

  it('a broker shutdown while waiting sends connection.close and not the held replies', async () => {
    const s = session();
    s.method(1, queueDeclare('w', true));
    void s.connection.shutdown();
    await store.release();
    expect(s.names()).toEqual(['0:connection.close']);
  });

  it('a connection closed while waiting writes nothing more', async () => {
    const s = session();
    s.method(1, queueDeclare('gone', true));
    s.connection.transportClosed();
    await store.release();
    expect(s.names()).toEqual([]);
  });
});
