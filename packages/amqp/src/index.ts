/**
 * @warren/amqp: the AMQP 0-9-1 adapter. Public entry used by the server's listeners.
 */
import type { Duplex } from 'node:stream';
import type { BrokerApi, ConnectionInfo, Logger } from '@warren/core';
import { serveAmqpConnection, type AmqpConnectionRegistry } from './server.js';

export { AmqpConnectionRegistry } from './server.js';
export {
  AmqpConnection,
  DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
  SERVER_VERSION,
  SHUTDOWN_REPLY_TEXT,
} from './session/connection.js';
export type { AmqpConnectionContext, AmqpConnectionOptions } from './session/connection.js';
export type { AmqpIo } from './session/io.js';
/** The codec's frame reader and its error (the fuzzer and other tools feed it bytes directly). */
export { FrameParser, AmqpProtocolError, type Frame } from './codec/index.js';
export { amqpReplyFor, replyText, type AmqpReply, type ErrorScope } from './errors.js';

/** Per-listener AMQP settings (RabbitMQ's defaults). */
export interface AmqpServerOptions {
  /** Largest frame the server accepts and proposes in connection.tune (bytes). Default 131072. */
  frameMax: number;
  /** Highest channel number proposed in connection.tune. Default 2047. */
  channelMax: number;
  /** Heartbeat interval proposed in connection.tune, seconds; 0 disables. Default 60. */
  heartbeat: number;
  /** Largest message body accepted (bytes). Default 134217728 (128 MiB). */
  maxMessageSize: number;
  /** A client must finish the handshake (connection.open) within this many ms. Default 10000. */
  handshakeTimeoutMs: number;
  /** Disconnect clients that do not drain their output for this long (ms; 0 = never). Default 60000. */
  slowConsumerTimeoutMs?: number;
  /** Consumers one channel may have (RabbitMQ's consumer_max_per_channel); 0 = no cap. Default 50000. */
  consumerMaxPerChannel?: number;
  /**
   * The user name of a SASL EXTERNAL login, from the verified client certificate (RabbitMQ's ssl_cert_login_from):
   * the subject DN, RFC 4514 style, or its CN. Default 'distinguished_name', as RabbitMQ's.
   */
  certLoginFrom?: 'distinguished_name' | 'common_name';
}

export const DEFAULT_AMQP_OPTIONS: AmqpServerOptions = {
  frameMax: 131072,
  channelMax: 2047,
  heartbeat: 60,
  maxMessageSize: 134217728,
  handshakeTimeoutMs: 10000,
  slowConsumerTimeoutMs: 60000,
  consumerMaxPerChannel: 50000,
};

export interface AmqpContext {
  broker: BrokerApi;
  logger: Logger;
  options: AmqpServerOptions;
  /** Live connections are registered here (for a graceful shutdown) when given. */
  connections?: AmqpConnectionRegistry;
}

/** Serve one accepted connection (TCP or TLS) until it closes. Never throws; errors close only this connection. */
export function handleAmqpConnection(socket: Duplex, info: ConnectionInfo, ctx: AmqpContext): void {
  try {
    serveAmqpConnection(socket, info, ctx, ctx.connections);
  } catch (err) {
    ctx.logger.error({ err, conn: info.id }, 'AMQP connection setup failed');
    socket.destroy();
  }
}
