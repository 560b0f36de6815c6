/**
 * AMQP's error table: broker error codes → AMQP 0-9-1 reply codes and scope (DESIGN.md §3: errors are mapped to the
 * wire at the edge), the reply-text RabbitMQ words, and {@link AmqpError}, the state machine's own error.
 *
 * The scope follows RabbitMQ 3.10: soft errors (4xx) close only the channel, hard errors (5xx) close the connection
 * (AMQP 0-9-1 §1.2 "reply-code" constants, rabbit_framing_amqp_0_9_1).
 */
import type { ErrorCode } from '@warren/core';

/** Whether an error closes one channel or the whole connection. */
export type ErrorScope = 'channel' | 'connection';

/** An AMQP reply: numeric code, its spec name (the reply-text prefix) and its scope. */
export interface AmqpReply {
  readonly replyCode: number;
  readonly name: string;
  readonly scope: ErrorScope;
}

/** The AMQP 0-9-1 reply-code constants, by number (spec §1.2). */
export const REPLY_NAMES: Readonly<Record<number, string>> = {
  200: 'REPLY_SUCCESS',
  311: 'CONTENT_TOO_LARGE',
  312: 'NO_ROUTE',
  313: 'NO_CONSUMERS',
  320: 'CONNECTION_FORCED',
  402: 'INVALID_PATH',
  403: 'ACCESS_REFUSED',
  404: 'NOT_FOUND',
  405: 'RESOURCE_LOCKED',
  406: 'PRECONDITION_FAILED',
  501: 'FRAME_ERROR',
  502: 'SYNTAX_ERROR',
  503: 'COMMAND_INVALID',
  504: 'CHANNEL_ERROR',
  505: 'UNEXPECTED_FRAME',
  506: 'RESOURCE_ERROR',
  530: 'NOT_ALLOWED',
  540: 'NOT_IMPLEMENTED',
  541: 'INTERNAL_ERROR',
};

const BY_CODE: Readonly<Record<ErrorCode, AmqpReply>> = {
  NOT_FOUND: { replyCode: 404, name: 'NOT_FOUND', scope: 'channel' },
  ACCESS_REFUSED: { replyCode: 403, name: 'ACCESS_REFUSED', scope: 'channel' },
  RESOURCE_LOCKED: { replyCode: 405, name: 'RESOURCE_LOCKED', scope: 'channel' },
  PRECONDITION_FAILED: { replyCode: 406, name: 'PRECONDITION_FAILED', scope: 'channel' },
  // RabbitMQ reports bad queue/exchange arguments as precondition_failed (406).
  INVALID_ARGUMENT: { replyCode: 406, name: 'PRECONDITION_FAILED', scope: 'channel' },
  NOT_ALLOWED: { replyCode: 530, name: 'NOT_ALLOWED', scope: 'connection' },
  NOT_IMPLEMENTED: { replyCode: 540, name: 'NOT_IMPLEMENTED', scope: 'connection' },
  COMMAND_INVALID: { replyCode: 503, name: 'COMMAND_INVALID', scope: 'connection' },
  RESOURCE_ERROR: { replyCode: 506, name: 'RESOURCE_ERROR', scope: 'connection' },
  INTERNAL_ERROR: { replyCode: 541, name: 'INTERNAL_ERROR', scope: 'connection' },
};

/** The AMQP reply for a broker error code. */
export function amqpReplyFor(code: ErrorCode): AmqpReply {
  return BY_CODE[code];
}

/** The spec name of a reply code ('NOT_FOUND' for 404), or 'INTERNAL_ERROR' for an unknown code. */
export function replyName(replyCode: number): string {
  return REPLY_NAMES[replyCode] ?? 'INTERNAL_ERROR';
}

/** RabbitMQ's reply-text: `NOT_FOUND - no queue 'x' in vhost '/'`. */
export function replyText(replyCode: number, message: string): string {
  return `${replyName(replyCode)} - ${message}`;
}

/** Whether a reply code is a hard (connection) error: every 5xx code of AMQP 0-9-1 §1.2. */
export function isHardError(replyCode: number): boolean {
  return replyCode >= 500;
}

/**
 * An error raised by the AMQP state machine itself (as opposed to the codec's AmqpProtocolError or the core's
 * BrokerError). Its scope follows from the reply code: 5xx close the connection, 4xx close the channel.
 */
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
