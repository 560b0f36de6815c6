/**
 * A channel that deletes a queue it consumes from hears queue.delete-ok before the consumer's
 * basic.cancel, as RabbitMQ orders them. amqplib's callback API calls each callback as its frame is read, so the
 * order of the two callbacks is the order of the frames on the wire.
 */
import { describe, expect, it } from 'vitest';
import amqp from 'amqplib/callback_api';
import { interopSuite } from './harness.js';

const env = interopSuite();

describe('queue.delete and the consumer it cancels', () => {
  it('queue.delete-ok comes before basic.cancel on the deleting channel', async () => {
    const q = env.scope.queue('del-order');
    const events = await new Promise<string[]>((resolve, reject) => {
      amqp.connect(env.broker.url, (err, conn) => {
        if (err !== null) return reject(err);
        conn.createChannel((err2, ch) => {
          if (err2 !== null) return reject(err2);
          const seen: string[] = [];
          const done = (): void => {
            if (seen.length === 2) conn.close(() => resolve(seen));
          };
          ch.assertQueue(q, { durable: false }, (e3) => {
            if (e3 !== null) return reject(e3);
            ch.consume(
              q,
              (m) => {
                if (m === null) {
                  seen.push('basic.cancel');
                  done();
                }
              },
              { noAck: true },
              (e4) => {
                if (e4 !== null) return reject(e4);
                ch.deleteQueue(q, {}, (e5) => {
                  if (e5 !== null) return reject(e5);
                  seen.push('queue.delete-ok');
                  done();
                });
              },
            );
          });
        });
      });
    });
    expect(events).toEqual(['queue.delete-ok', 'basic.cancel']);
  });
});
