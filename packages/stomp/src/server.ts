/**
 * The STOMP service: {@link createStompService} serves each accepted byte stream (TCP, TLS, or any Duplex such as a
 * WebSocket stream) with a {@link StompSession}, through the transport's serveStream (writer, I/O, stream events).
 */
import type { Duplex } from 'node:stream';
import type { BrokerApi, ConnectionInfo, Logger } from '@warren/core';
import {
  DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
  serveStream,
  type ConnectionIo,
  type ServeStreamOptions,
} from '@warren/transport';
import { StompSession, type StompSessionOptions } from './session/stomp-session.js';

/**
 * How a service serves its streams: made once per service. The writer's stall timeout is the slow-consumer timeout
 * (the session drops the client in `onStalled`).
 */
function serveOptions(
  broker: BrokerApi,
  logger: Logger,
  options: StompSessionOptions,
  registry: Set<StompSession>,
): ServeStreamOptions<StompSession, ConnectionIo, ConnectionInfo> {
  return {
    createSession: (io, _stream, info) => new StompSession(io, info, broker, logger, options),
    writer: { stallTimeoutMs: options.slowConsumerTimeoutMs ?? DEFAULT_SLOW_CONSUMER_TIMEOUT_MS },
    registry,
  };
}

/** Settings of the Stomp adapter (shared by its TCP, TLS and WebSocket listeners). */
export interface StompServerOptions {
  /** Largest frame/packet accepted after authentication, bytes. */
  maxFrameSize: number;
  /** Most headers in a frame after CONNECT. Default 1000. */
  maxHeaders?: number;
  /** Longest header line after CONNECT, bytes. Default 64 KiB. */
  maxHeaderLength?: number;
  /** The vhost when CONNECT has no `host` header. Default '/'. */
  defaultVhost?: string;
  /** Credentials used when CONNECT has no login (RabbitMQ: guest/guest); null to require a login. */
  defaultUser?: { login: string; passcode: string } | null;
  /** Close a connection that has not sent CONNECT within this time, ms. Default 10 000; 0 disables. */
  connectTimeoutMs?: number;
  /** Smallest heart-beat interval accepted, ms. Default 0. */
  minHeartbeatMs?: number;
  /** After an ERROR frame, wait this long for the client to close before closing, ms. Default 500. */
  errorCloseDelayMs?: number;
  /** Drop a client whose output stays over the high-water mark this long, ms. Default 60 000; 0 = never. */
  slowConsumerTimeoutMs?: number;
  /**
   * Subscriptions one connection may have at once; one more SUBSCRIBE gets an ERROR frame. 0 = no cap. Default
   * 50 000.
   */
  maxSubscriptions?: number;
  /**
   * RabbitMQ's stomp.ssl_cert_login: a client that presents a verified TLS certificate and no login header logs in
   * as the certificate's user (before the default user). Default false.
   */
  sslCertLogin?: boolean;
  /** The user name of a certificate login (RabbitMQ's ssl_cert_login_from). Default 'distinguished_name'. */
  certLoginFrom?: 'distinguished_name' | 'common_name';
}

export interface StompServiceContext {
  broker: BrokerApi;
  logger: Logger;
  options: StompServerOptions;
  /** The broker's data directory (for state this adapter keeps on disk). */
  dataDir: string;
}

/** One per broker: shared state of every Stomp connection (sessions, registries). */
export interface StompService {
  /**
   * Serve one accepted connection until it closes: a TCP or TLS socket, or a WebSocket wrapped as a Duplex
   * (the web listeners pass `ws.createWebSocketStream(socket)`). Never throws; errors close only this connection.
   */
  handleConnection(stream: Duplex, info: ConnectionInfo): void;
  /** Close every connection and release resources. */
  close(): Promise<void>;
  /** Live connections (accepted and not yet closed). */
  readonly connectionCount: number;
}

/** Create the STOMP service of one broker: the adapter's entry for every listener (TCP, TLS, WebSocket). */
export function createStompService(ctx: StompServiceContext): StompService {
  const live = new Set<StompSession>();
  const serve = serveOptions(ctx.broker, ctx.logger, ctx.options, live);
  let closed = false;
  return {
    get connectionCount(): number {
      return live.size;
    },
    handleConnection(stream: Duplex, info: ConnectionInfo): void {
      if (closed) {
        stream.destroy();
        return;
      }
      try {
        serveStream(stream, serve, info);
      } catch (err) {
        ctx.logger.error({ err, connection: info.id }, 'STOMP connection setup failed');
        stream.destroy();
      }
    },
    async close(): Promise<void> {
      closed = true;
      for (const session of live) void session.shutdown();
      live.clear();
    },
  };
}
