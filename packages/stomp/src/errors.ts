/**
 * Core error codes → STOMP ERROR frames, in one table (DESIGN.md §3: each adapter maps codes to its wire at the edge).
 *
 * RabbitMQ's STOMP plugin runs each connection over an AMQP channel, so a refused operation reaches the client as
 * the channel error in its own form (rabbit_stomp_processor): a `message` header with the AMQP error name in lower
 * case, and a body "NAME - text". A few places word it differently, and clients match on those texts: a failed login
 * and a refused vhost are "Bad CONNECT", and a /topic/ subscription without read permission carries the bare reason.
 */
import type { BrokerError, ErrorCode } from '@warren/core';
import { encodeFrame } from './codec/encoder.js';
import type { StompVersion } from './codec/frame.js';

/** The `version` header of an ERROR frame: every version this server speaks. */
export const ERROR_VERSION_HEADER = '1.0,1.1,1.2';

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

/**
 * An ERROR frame: the `message` header, `content-type:text/plain`, the versions this server speaks, the `receipt-id`
 * of the frame that caused it (if any), and the detail as its body.
 */
export function errorFrame(summary: string, detail: string, version: StompVersion, receipt?: string): Buffer {
  const headers: Array<[string, string]> = [
    ['message', summary],
    ['content-type', 'text/plain'],
    ['version', ERROR_VERSION_HEADER],
  ];
  if (receipt !== undefined) headers.push(['receipt-id', receipt]);
  return encodeFrame('ERROR', headers, Buffer.from(detail), version);
}

const EOL = Buffer.from('\n');

/**
 * RabbitMQ's ERROR for a connection an operator closed (management API): "AMQP channel died" with the Erlang exit
 * reason in the body, followed by an EOL (allowed between frames, STOMP 1.2 §"Heart-beating").
 */
export function operatorCloseFrame(reason: string, version: StompVersion): Buffer {
  return Buffer.concat([errorFrame('AMQP channel died', forcedCloseReason(reason), version), EOL]);
}

/**
 * The body of RabbitMQ's ERROR frame for a connection closed by an operator: the Erlang exit reason as its
 * pretty-printer lays it out (the last term moves to its own line when it would pass 80 columns).
 */
export function forcedCloseReason(reason: string): string {
  const quoted = JSON.stringify(reason);
  const oneLine = `                {server_initiated_close,320,${quoted}}}}`;
  const last = oneLine.length <= 80 ? oneLine : `                {server_initiated_close,320,\n                    ${quoted}}}}`;
  return `Reason: {shutdown,\n            {connection_closing,\n${last}`;
}
