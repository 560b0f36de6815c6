/**
 * @warren/stomp: STOMP 1.0, 1.1 and 1.2 with RabbitMQ's destinations, onto the Warren core (DESIGN.md §4).
 * The public entry: {@link createStompService} returns one service per broker whose `handleConnection` serves any
 * Duplex (TCP, TLS, or a WebSocket stream from web-stomp).
 */
import type { Duplex } from 'node:stream';
import type { BrokerApi, ConnectionInfo, Logger } from '@warren/core';
import { serveStompConnection } from './server.js';
import type { StompSession } from './session/stomp-session.js';

export { StompDecoder, PRE_CONNECT_LIMITS, type DecoderLimits } from './codec/decoder.js';
export { encodeFrame, escapeHeader, type HeaderList } from './codec/encoder.js';
export { StompProtocolError, type StompFrame, type StompVersion } from './codec/frame.js';
export { parseDestination, destinationOf, type Destination } from './destination.js';
export { headerText } from './mapping.js';
export { StompSession, SERVER_NAME, type StompSessionOptions } from './session/stomp-session.js';
export type { StompIo } from './session/io.js';

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
}

/** Create the STOMP service of one broker. */
export function createStompService(ctx: StompServiceContext): StompService {
  const live = new Map<Duplex, StompSession>();
  let closed = false;
  return {
    handleConnection(stream: Duplex, info: ConnectionInfo): void {
      if (closed) {
        stream.destroy();
        return;
      }
      try {
        const session = serveStompConnection(stream, info, ctx.broker, ctx.logger, ctx.options);
        live.set(stream, session);
        stream.once('close', () => live.delete(stream));
      } catch (err) {
        ctx.logger.error({ err, connection: info.id }, 'STOMP connection setup failed');
        stream.destroy();
      }
    },
    async close(): Promise<void> {
      closed = true;
      for (const [stream, session] of live) {
        session.transportClosed();
        stream.destroy();
      }
      live.clear();
    },
  };
}
