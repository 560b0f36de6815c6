/**
 * Persistent messages through the real server (startBroker, amqplib) across a clean restart on the same data
 * directory: order, redelivered for delivered-but-unacked, transient messages dropped, acked ones gone.
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { restartableBroker } from './restartable-broker.js';

const broker = restartableBroker('warren-messages-');
const start = broker.start;

describe('persistent messages across a restart (amqplib)', () => {
  it('come back in order; delivered-unacked ones redelivered; acked and transient ones gone', async () => {
    let conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${await start()}`);
    let ch = await conn.createConfirmChannel();
    await ch.assertQueue('jobs', { durable: true });
    for (const [body, persistent] of [['a', true], ['b', true], ['t', false], ['c', true], ['d', true]] as const) {
      ch.sendToQueue('jobs', Buffer.from(body), { persistent });
    }
    await ch.waitForConfirms();
    const a = (await ch.get('jobs', { noAck: false })) as amqp.GetMessage;
    ch.ack(a); // acked: gone for good
    await ch.get('jobs', { noAck: false }); // b: delivered, not acked
    await ch.waitForConfirms();
    await broker.stop();

    conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${await start()}`);
    ch = await conn.createConfirmChannel();
    const ok = await ch.assertQueue('jobs', { durable: true });
    expect(ok.messageCount).toBe(3);
    const got: [string, boolean][] = [];
    for (let m = await ch.get('jobs', { noAck: true }); m !== false; m = await ch.get('jobs', { noAck: true })) {
      got.push([m.content.toString(), m.fields.redelivered]);
    }
    expect(got).toEqual([
      ['b', true],
      ['c', false],
      ['d', false],
    ]);
    await conn.close();
  });
});
