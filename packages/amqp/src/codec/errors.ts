/**
 * The one error the AMQP codec throws for malformed input. The connection state machine turns it into
 * connection.close with {@link AmqpProtocolError.replyCode} (or, for {@link AmqpProtocolError.badProtocolHeader},
 * writes the protocol header and closes the socket, AMQP 0-9-1 §4.2.2).
 */

/** AMQP 0-9-1 reply codes the codec raises (spec constants, all hard errors: they close the connection). */
export const FRAME_ERROR = 501;
/** Method arguments that do not parse (truncated, trailing bytes, bad field-table type). */
export const SYNTAX_ERROR = 502;
/** A frame that is not allowed where it appears. */
export const UNEXPECTED_FRAME = 505;
/** Unknown class or method id. */
export const NOT_IMPLEMENTED = 540;

/** Malformed AMQP input. After a parser throws one it is dead: every later push rethrows it. */
export class AmqpProtocolError extends Error {
  /** 501 FRAME_ERROR, 502 SYNTAX_ERROR, 505 UNEXPECTED_FRAME or 540 NOT_IMPLEMENTED. */
  readonly replyCode: number;
  /** The class of the offending method, 0 when the error is not about a method. */
  readonly classId: number;
  /** The offending method, 0 when the error is not about a method. */
  readonly methodId: number;
  /** The peer did not send "AMQP\0\0\9\1": reply with PROTOCOL_HEADER and close (AMQP 0-9-1 §4.2.2). */
  readonly badProtocolHeader: boolean;

  constructor(replyCode: number, message: string, classId = 0, methodId = 0, badProtocolHeader = false) {
    super(message);
    this.name = 'AmqpProtocolError';
    this.replyCode = replyCode;
    this.classId = classId;
    this.methodId = methodId;
    this.badProtocolHeader = badProtocolHeader;
  }
}
