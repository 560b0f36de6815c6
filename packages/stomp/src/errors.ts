/**
 * Core error codes → STOMP ERROR frames, in one table (DESIGN.md §3: each adapter maps codes to its wire at the edge).
 *
 * RabbitMQ's STOMP plugin runs each connection over an AMQP channel, so a refused operation reaches the client as
 * the channel error in its own form (rabbit_stomp_processor): a `message` header with the AMQP error name in lower
 * case, and a body "NAME - text". A few places word it differently, and clients match on those texts: a failed login
 * and a refused vhost are "Bad CONNECT", and a /topic/ subscription without read permission carries the bare reason.
 */
import type { BrokerError, ErrorCode } from '@warren/core';

/**
 * An error that becomes an ERROR frame: `summary` is its `message` header, the Error's message its body. RabbitMQ's
 * STOMP plugin keeps the connection open after most errors in a frame of a connected session (a bad destination, a
 * missing header, an unknown transaction: the frame is dropped, without its RECEIPT); `fatal` ones close it, as AMQP
 * channel errors do.
 */
export class StompError extends Error {
  constructor(
    readonly summary: string,
    detail: string,
    readonly fatal = false,
  ) {
    super(detail);
  }
}

/** Where a core error was raised: RabbitMQ words the ERROR after the step that failed. */
export type ErrorSite =
  /** Any frame's core operation (declare, bind, consume, publish, settle). */
  | 'operation'
  /** CONNECT's authentication; the subject is the login. */
  | 'login'
  /** CONNECT's vhost (open connection); the subject is the vhost. */
  | 'vhost'
  /** The read topic permission of a /topic/ SUBSCRIBE. */
  | 'topic-read';

/** The `message` header of an operation's ERROR for each core code: the AMQP error name in lower case. */
const OPERATION_MESSAGE: Readonly<Record<ErrorCode, string>> = {
  NOT_FOUND: 'not_found',
  ACCESS_REFUSED: 'access_refused',
  RESOURCE_LOCKED: 'resource_locked',
  PRECONDITION_FAILED: 'precondition_failed',
  NOT_ALLOWED: 'not_allowed',
  RESOURCE_ERROR: 'resource_error',
  INVALID_ARGUMENT: 'invalid_argument',
  NOT_IMPLEMENTED: 'not_implemented',
  COMMAND_INVALID: 'command_invalid',
  INTERNAL_ERROR: 'internal_error',
};

/**
 * The ERROR frame (message header and body) for a core error raised at `site`, as a {@link StompError}, or undefined
 * when RabbitMQ would not answer this code there with its own wording (the caller then treats it as an operation
 * error). `subject` names what the step was about (the login, the vhost).
 */
export function stompErrorOf(err: BrokerError, site: ErrorSite, subject = ''): StompError | undefined {
  switch (site) {
    case 'login':
      return new StompError('Bad CONNECT', `Access refused for user '${subject}'\n`);
    case 'vhost':
      return new StompError('Bad CONNECT', `Virtual host '${subject}' access denied`);
    case 'topic-read':
      return err.code === 'ACCESS_REFUSED' ? new StompError('access_refused', err.message) : undefined;
    case 'operation':
      return new StompError(OPERATION_MESSAGE[err.code], `${err.code} - ${err.message}`, true);
  }
}

/** The ERROR of an unexpected fault (logged with its stack; the connection closes). */
export const INTERNAL_ERROR = new StompError('internal_error', 'INTERNAL_ERROR - the broker failed to process this frame', true);

/** The ERROR when a queue refuses a published message (x-overflow reject-publish): RabbitMQ closes the connection. */
export const MESSAGE_REJECTED = new StompError('Message rejected', 'A queue refused the message (x-overflow reject-publish)\n', true);
