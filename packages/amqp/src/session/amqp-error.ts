/**
 * An error raised by the AMQP state machine itself (as opposed to the codec's AmqpProtocolError or the core's
 * BrokerError). Its scope follows from the reply code: 5xx close the connection, 4xx close the channel.
 */
import { replyText } from '../mapping.js';

/** A state-machine error carrying its AMQP reply code and the method it is about. */
export class AmqpError extends Error {
  /** AMQP reply code (spec §1.2). */
  readonly replyCode: number;
  /** The offending method's class, 0 when not about a method. */
  readonly classId: number;
  /** The offending method's id, 0 when not about a method. */
  readonly methodId: number;

  /** @param message The text after the reply name, e.g. "expected 'channel.open'". */
  constructor(replyCode: number, message: string, classId = 0, methodId = 0) {
    super(message);
    this.name = 'AmqpError';
    this.replyCode = replyCode;
    this.classId = classId;
    this.methodId = methodId;
  }

  /** The reply-text to send: `CHANNEL_ERROR - expected 'channel.open'`. */
  get replyText(): string {
    return replyText(this.replyCode, this.message);
  }
}
