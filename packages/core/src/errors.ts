/**
 * Stable broker error codes (DESIGN.md §3). Each adapter maps a code to its own wire at the edge: an AMQP reply
 * code and scope, an MQTT reason code, a STOMP ERROR frame, an HTTP status.
 */
export type ErrorCode =
  /** A named entity does not exist (AMQP 404). */
  | 'NOT_FOUND'
  /** Permission denied, reserved names, internal exchanges (AMQP 403). */
  | 'ACCESS_REFUSED'
  /** An exclusive queue or consumer held by someone else (AMQP 405). */
  | 'RESOURCE_LOCKED'
  /** Redeclaration with different properties, unknown delivery tag, if-unused/if-empty (AMQP 406). */
  | 'PRECONDITION_FAILED'
  /** Operation not allowed in this state, e.g. vhost access refused (AMQP connection 530). */
  | 'NOT_ALLOWED'
  /** A resource limit was hit (AMQP 506). */
  | 'RESOURCE_ERROR'
  /** A malformed argument value (AMQP 406 in RabbitMQ for queue arguments). */
  | 'INVALID_ARGUMENT'
  /** The feature exists in the spec but the broker does not support it (AMQP connection 540). */
  | 'NOT_IMPLEMENTED'
  /** A method sent where it makes no sense, e.g. an unknown exchange type (AMQP connection 503). */
  | 'COMMAND_INVALID'
  /** A broker fault (AMQP connection 541). */
  | 'INTERNAL_ERROR';

/** The one error type the core throws. `message` is the human text without the code prefix. */
export class BrokerError extends Error {
  readonly code: ErrorCode;
  /**
   * True when a configured limit refused it (vhost max-connections/max-queues, user max-connections/max-channels):
   * protocols with a reason of their own for that (MQTT 5's 0x97 Quota exceeded) use it; AMQP keeps `code`.
   */
  readonly limit: boolean;
  constructor(code: ErrorCode, message: string, options?: { limit?: boolean }) {
    super(message);
    this.name = 'BrokerError';
    this.code = code;
    this.limit = options?.limit === true;
  }
}

/** Type guard for {@link BrokerError}. */
export function isBrokerError(err: unknown): err is BrokerError {
  return err instanceof BrokerError;
}
