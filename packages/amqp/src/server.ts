/**
 * The AMQP service: wires each accepted byte stream (TCP, TLS, or any Duplex) to an {@link AmqpConnection} through
 * the transport's {@link serveStream} (outbound writer with its slow-consumer stall timeout, {@link ConnectionIo}
 * with its pause reasons), and closes the live connections RabbitMQ's way when the broker stops.
 */
import type { Duplex } from 'node:stream';
import type { BrokerApi, ConnectionInfo, Logger } from '@warren/core';
import {
  ConnectionRegistry,
  serveStream,
  type ConnectionIo,
  type ProtocolService,
  type ServeStreamOptions,
} from '@warren/transport';
import { AmqpConnection, DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, type AmqpConnectionContext } from './session/connection.js';

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

/** RabbitMQ's defaults. */
export const DEFAULT_AMQP_OPTIONS: AmqpServerOptions = {
  frameMax: 131072,
  channelMax: 2047,
  heartbeat: 60,
  maxMessageSize: 134217728,
  handshakeTimeoutMs: 10000,
  slowConsumerTimeoutMs: DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
  consumerMaxPerChannel: 50000,
};

/**
 * How long {@link AmqpService.close} waits for the clients' close-ok before leaving the sockets to the caller.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 3000;

/**
 * The live AMQP connections of a server, so that a stopping broker can close each one properly (connection.close
 * 320 CONNECTION_FORCED) before the sockets go.
 */
export class AmqpConnectionRegistry extends ConnectionRegistry<AmqpConnection> {}

/** What {@link createAmqpService} needs. */
export interface AmqpServiceContext {
  broker: BrokerApi;
  logger: Logger;
  options: AmqpServerOptions;
  /** Where live connections are registered; a new registry when absent. */
  connections?: AmqpConnectionRegistry;
  /** {@link DEFAULT_SHUTDOWN_TIMEOUT_MS} unless given. */
  shutdownTimeoutMs?: number;
}

/** The AMQP {@link ProtocolService}, with its registry of live connections. */
export interface AmqpService extends ProtocolService {
  /** Serve one accepted stream; returns the connection, or undefined when its setup failed (logged, stream destroyed). */
  handleConnection(stream: Duplex, info: ConnectionInfo): AmqpConnection | undefined;
  readonly connections: AmqpConnectionRegistry;
}

/**
 * Create the AMQP service. `close()` sends every live connection RabbitMQ's shutdown close (320 CONNECTION_FORCED
 * "broker forced connection closure with reason 'shutdown'") and waits for the clients' close-ok, at most the
 * shutdown timeout; connections that have not answered by then are left to the listener, which destroys them.
 */
export function createAmqpService(ctx: AmqpServiceContext): AmqpService {
  const connections = ctx.connections ?? new AmqpConnectionRegistry();
  const connectionContext: AmqpConnectionContext = { broker: ctx.broker, logger: ctx.logger, options: ctx.options };
  // One options object for every connection: the stream listeners find their connection through the stream.
  const serveOptions: ServeStreamOptions<AmqpConnection, ConnectionIo, ConnectionInfo> = {
    createSession: (io, _stream, info) => new AmqpConnection(io, info, connectionContext),
    writer: { stallTimeoutMs: ctx.options.slowConsumerTimeoutMs ?? DEFAULT_SLOW_CONSUMER_TIMEOUT_MS },
    registry: connections,
  };
  return {
    connections,
    handleConnection(stream: Duplex, info: ConnectionInfo): AmqpConnection | undefined {
      try {
        return serveStream(stream, serveOptions, info).session;
      } catch (err) {
        ctx.logger.error({ err, conn: info.id }, 'AMQP connection setup failed');
        stream.destroy();
        return undefined;
      }
    },
    close(): Promise<void> {
      return connections.closeAll(ctx.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
    },
    get connectionCount(): number {
      return connections.size;
    },
  };
}
