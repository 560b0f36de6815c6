/**
 * Stream queues through the real server (startBroker, amqplib) across a restart on the same data directory: confirmed
 * messages are all there, offsets are kept, and x-stream-offset `first`, a number and `last` read as RabbitMQ's do.
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { restartableBroker } from './restartable-broker.js';

const broker = restartableBroker('warren-streams-');
const start = broker.start;

const STREAM_ARGS = { 'x-queue-type': 'stream' };

/** Consume `count` messages from `offset`: bodies and their x-stream-offset headers. */
async function readFrom(ch: amqp.Channel, offset: unknown, count: number): Promise<[string, number][]> {
  const got: [string, number][] = [];
  await new Promise<void>((resolve) => {
    void ch
      .consume(
        'events',
        (m) => {
          if (m === null) return;
          got.push([m.content.toString(), Number(m.properties.headers?.['x-stream-offset'])]);
          ch.ack(m);
          if (got.length === count) resolve();
        },
        { arguments: { 'x-stream-offset': offset } },
      )
      .then((ok) => {
        if (count === 0) void ch.cancel(ok.consumerTag).then(() => resolve());
      });
  });
  return got;
}

describe('stream queues across a restart (amqplib)', () => {
  it('keep every confirmed message and its offset; first, an offset and last read as RabbitMQ', async () => {
    let conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${await start()}`);
    const pub0 = await conn.createConfirmChannel();
    let ch: amqp.Channel = pub0;
    await ch.assertQueue('events', { durable: true, arguments: STREAM_ARGS });
    for (let i = 0; i < 5; i++) ch.sendToQueue('events', Buffer.from(`e${i}`));
    await pub0.waitForConfirms();
    for (let i = 5; i < 7; i++) ch.sendToQueue('events', Buffer.from(`e${i}`));
    await pub0.waitForConfirms();
    // Published after every earlier one was confirmed (written): alone in the last chunk. (That `last` gives the
    // whole last chunk, several messages, is shown deterministically in core's stream tests.)
    ch.sendToQueue('events', Buffer.from('e7'));
    await pub0.waitForConfirms();
    await conn.close();
    await broker.stop();

    conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${await start()}`);
    ch = await conn.createChannel();
    const ok = await ch.assertQueue('events', { durable: true, arguments: STREAM_ARGS });
    expect(ok.messageCount).toBe(0); // a stream reports no ready messages, as RabbitMQ
    await ch.prefetch(100);
    const all = await readFrom(ch, 'first', 8);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [`e${i}`, i]));
    const ch2 = await conn.createChannel();
    await ch2.prefetch(100);
    expect(await readFrom(ch2, 6, 2)).toEqual([
      ['e6', 6],
      ['e7', 7],
    ]);
    const ch3 = await conn.createChannel();
    await ch3.prefetch(100);
    expect(await readFrom(ch3, 'last', 1)).toEqual([['e7', 7]]);
    // New messages continue the offsets.
    const pub = await conn.createConfirmChannel();
    pub.sendToQueue('events', Buffer.from('e8'));
    await pub.waitForConfirms();
    const ch4 = await conn.createChannel();
    await ch4.prefetch(100);
    expect(await readFrom(ch4, 8, 1)).toEqual([['e8', 8]]);
    // An interval: chunk timestamps were kept across the restart.
    const ch5 = await conn.createChannel();
    await ch5.prefetch(100);
    expect((await readFrom(ch5, '10m', 9)).map(([, o]) => o)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    await conn.close();
  });
});
