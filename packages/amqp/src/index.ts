/**
 * @warren/amqp: the AMQP 0-9-1 adapter. Public entry used by the server's listeners.
 */
export {
  AmqpConnectionRegistry,
  createAmqpService,
  DEFAULT_AMQP_OPTIONS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
} from './server.js';
export type { AmqpServerOptions, AmqpService, AmqpServiceContext } from './server.js';
export {
  AmqpConnection,
  DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
  SERVER_VERSION,
  SHUTDOWN_REPLY_TEXT,
} from './session/connection.js';
export type { AmqpConnectionContext, AmqpConnectionOptions } from './session/connection.js';
/** @deprecated The state machine's I/O is the transport's ProtocolIo. */
/** The codec's frame reader and its error (the fuzzer and other tools feed it bytes directly). */
export { FrameParser, AmqpProtocolError, type Frame } from './codec/index.js';
export { amqpReplyFor, replyText, type AmqpReply, type ErrorScope } from './errors.js';
