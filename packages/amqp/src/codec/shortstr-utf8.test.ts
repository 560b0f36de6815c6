import { describe, expect, it } from 'vitest';
import { AmqpProtocolError, decodeMethodArgs, FRAME_ERROR } from './index.js';

/** queue.declare arguments with the queue name given as raw bytes. */
function queueDeclare(name: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0, 0, name.length]), name, Buffer.from([0, 0, 0, 0, 0])]);
}
/** basic.publish arguments with raw exchange and routing-key bytes. */
function basicPublish(exchange: Buffer, routingKey: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0, 0, exchange.length]), exchange, Buffer.from([routingKey.length]), routingKey, Buffer.from([0])]);
}

describe('shortstr UTF-8 (RabbitMQ: 501 FRAME_ERROR "Malformed UTF-8 in shortstr")', () => {
  it('refuses a queue name that is not UTF-8 instead of aliasing it through U+FFFD', () => {
    for (const bytes of [[0x71, 0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x80]]) {
      const b = queueDeclare(Buffer.from(bytes));
      let err: unknown;
      try {
        decodeMethodArgs(50, 10, b, 0, b.length);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bytes)).toBeInstanceOf(AmqpProtocolError);
      expect((err as AmqpProtocolError).replyCode).toBe(FRAME_ERROR);
      expect((err as AmqpProtocolError).message).toBe('Malformed UTF-8 in shortstr');
      expect([(err as AmqpProtocolError).classId, (err as AmqpProtocolError).methodId]).toEqual([50, 10]);
    }
  });

  it('accepts well-formed UTF-8, a genuine U+FFFD among it', () => {
    for (const name of ['ключ', 'a\ufffdb', '😀', 'x'.repeat(200)]) {
      const b = queueDeclare(Buffer.from(name, 'utf8'));
      expect(decodeMethodArgs(50, 10, b, 0, b.length)).toMatchObject({ name: 'queue.declare', queue: name });
    }
  });

  it('passes basic.publish exchange and routing key unchecked, as RabbitMQ does', () => {
    const b = basicPublish(Buffer.from([0xff]), Buffer.from([0x6b, 0xfe]));
    expect(decodeMethodArgs(60, 40, b, 0, b.length)).toMatchObject({ exchange: '\ufffd', routingKey: 'k\ufffd' });
  });
});
