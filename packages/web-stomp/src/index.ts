/**
 * @warren/web-stomp: STOMP over WebSocket (RabbitMQ's web_stomp: port 15674, path /ws, subprotocols v10.stomp,
 * v11.stomp, v12.stomp). No STOMP logic here: each WebSocket becomes a byte stream handed to the STOMP adapter,
 * which parses frames across or within WebSocket messages exactly as it does on TCP.
 */
import type { StompService } from '@warren/stomp';
import {
  listenWebSocket,
  serveStaticFiles,
  type Listener,
  type TlsOptions,
  type WebSocketListenerOptions,
  type WebSocketMessageType,
} from '@warren/transport';
import { EXAMPLES_DIR } from './examples.js';

export { bundleExamples, EXAMPLES_DIR } from './examples.js';

/** Subprotocols in server preference order: RabbitMQ's web_stomp picks v12.stomp when offered. */
export const WEB_STOMP_SUBPROTOCOLS: readonly string[] = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

/** RabbitMQ's ports: 15674 (ws://), 15673 (wss://). */
export const WEB_STOMP_PORT = 15674;
export const WEB_STOMP_TLS_PORT = 15673;

/**
 * The largest WebSocket message before CONNECT (64 KiB): room for a CONNECT (at most the adapter's 16 KiB pre-CONNECT
 * frame) and whatever a client pipelines behind it in the same message.
 */
export const WEB_STOMP_MAX_PAYLOAD_BEFORE_CONNECT = 65536;

/** Where and how to listen. */
export interface WebStompOptions {
  /** Listener name in logs and connection ids. Default 'web-stomp' ('web-stomp-tls' with `tls`). */
  name?: string;
  host?: string;
  port: number;
  /** Default '/ws'. */
  path?: string;
  tls?: TlsOptions;
  tlsHandshakeTimeoutMs?: number;
  /**
   * Largest inbound WebSocket message before the client's CONNECT is accepted. Default
   * {@link WEB_STOMP_MAX_PAYLOAD_BEFORE_CONNECT}: ws buffers a whole message before the adapter sees a byte, so
   * without it a client that never logs in could make the server hold `maxPayload` bytes.
   */
  maxPayloadBeforeConnect?: number;
  /** Connections held before their client logged in; more are closed as they arrive. Default 1000. */
  maxUnauthenticated?: number;
  /** Largest inbound WebSocket message: the STOMP adapter's frame limit. */
  maxPayload: number;
  /**
   * Outbound WebSocket message type. Default 'auto': text, as RabbitMQ's web_stomp (`ws_frame = text`), except a
   * MESSAGE whose bytes are not valid UTF-8, which goes as a binary message so binary bodies reach browsers intact.
   */
  messageType?: WebSocketMessageType;
  allowedOrigins?: readonly string[];
  trustProxy?: boolean;
  pingIntervalMs?: number;
  /** Serve the example page at '/'. Default true. */
  examples?: boolean;
  onError?: NonNullable<WebSocketListenerOptions['onError']>;
}

/** Bind a web-stomp listener whose connections are served by `service` (the STOMP adapter). */
export function listenWebStomp(
  service: Pick<StompService, 'handleConnection'>,
  options: WebStompOptions,
): Promise<Listener> {
  const { name, examples, maxPayloadBeforeConnect, ...rest } = options;
  const wsOptions: WebSocketListenerOptions = {
    ...rest,
    maxPayloadBeforeAuth: maxPayloadBeforeConnect ?? WEB_STOMP_MAX_PAYLOAD_BEFORE_CONNECT,
    name: name ?? (options.tls !== undefined ? 'web-stomp-tls' : 'web-stomp'),
    protocol: 'stomp',
    subprotocols: WEB_STOMP_SUBPROTOCOLS,
    messageType: options.messageType ?? 'auto',
  };
  if (examples !== false) {
    wsOptions.onRequest = serveStaticFiles(EXAMPLES_DIR, 'The web-stomp example page is not built: run npm run build.');
  }
  return listenWebSocket(wsOptions, (stream, info) => service.handleConnection(stream, info));
}
