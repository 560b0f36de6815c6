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

/**
 * Settings of the STOMP adapter, shared by its TCP, TLS and WebSocket listeners: the session's options (one object
 * for every connection of the service).
 */
export type StompServerOptions = StompSessionOptions;

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
