/**
 * Delivery through overlapping subscriptions: each consumer (the session's qos0 and qos1 queues, a shared group's
 * queue) delivers with the options of exactly its own subscriptions that match, in subscription order, also after
 * a re-subscribe moves a filter to the other queue. Raw packets over in-memory streams.
 */
import { Broker, silentLogger } from '@warren/core';
import type { IPublishPacket } from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMqttService, type MqttService } from '../index.js';
import { RawClient } from '../testing/mqtt-test-server.js';

let broker: Broker;
let service: MqttService;

beforeEach(() => {
  broker = new Broker({ logger: silentLogger });
  service = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 65536 } });
});
afterEach(async () => {
  await service.close();
  broker.close();
});

/** The next `n` PUBLISHes as [qos, subscription identifiers], sorted (their consumers deliver in any order). */
async function deliveries(c: RawClient, n: number): Promise<Array<[number, number[]]>> {
  const out: Array<[number, number[]]> = [];
  for (let i = 0; i < n; i++) {
    const p = (await c.next('publish')) as IPublishPacket;
    if (p.qos > 0) c.send({ cmd: 'puback', messageId: p.messageId ?? 0 });
    const ids = p.properties?.subscriptionIdentifier;
    out.push([p.qos, ids === undefined ? [] : Array.isArray(ids) ? ids : [ids]]);
  }
  return out.sort((a, b) => (a[1][0] ?? 0) - (b[1][0] ?? 0));
}

describe('delivery through overlapping subscriptions', () => {
  it('each consumer sends once with its own matching subscriptions’ identifiers and QoS, in subscription order', async () => {
    const sub = new RawClient(service, 5);
    await sub.connect({ clientId: 'ov-sub' });
    const subscribe = async (topic: string, qos: 0 | 1 | 2, id: number): Promise<void> => {
      sub.send({ cmd: 'subscribe', messageId: id, properties: { subscriptionIdentifier: id }, subscriptions: [{ topic, qos }] });
      await sub.next('suback');
    };
    await subscribe('ov/#', 1, 1);
    await subscribe('ov/+', 0, 2);
    await subscribe('ov/x', 2, 3);
    await subscribe('$share/g/ov/x', 1, 4);
    await subscribe('other/#', 1, 9);
    const pub = new RawClient(service, 5);
    await pub.connect({ clientId: 'ov-pub' });
    pub.send({ cmd: 'publish', topic: 'ov/x', payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false });
    await pub.next('puback');
    expect(await deliveries(sub, 3)).toEqual([
      [1, [1, 3]],
      [0, [2]],
      [1, [4]],
    ]);
    // `ov/#` moves to the qos0 queue but keeps its place before `ov/+`.
    await subscribe('ov/#', 0, 5);
    pub.send({ cmd: 'publish', topic: 'ov/x', payload: Buffer.from('2'), qos: 1, messageId: 2, retain: false, dup: false });
    await pub.next('puback');
    expect(await deliveries(sub, 3)).toEqual([
      [1, [3]],
      [1, [4]],
      [0, [5, 2]],
    ]);
    // A topic only one queue's filters match.
    pub.send({ cmd: 'publish', topic: 'ov/y/z', payload: Buffer.from('3'), qos: 1, messageId: 3, retain: false, dup: false });
    await pub.next('puback');
    expect(await deliveries(sub, 1)).toEqual([[0, [5]]]);
    sub.close();
    pub.close();
  });
});
