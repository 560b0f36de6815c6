/**
 * @warren/web-stomp: STOMP over WebSocket (RabbitMQ's web_stomp: port 15674, path /ws, subprotocols v10.stomp,
 * v11.stomp, v12.stomp). No STOMP logic here: each WebSocket becomes a byte stream handed to the STOMP adapter,
 * which parses frames across or within WebSocket messages exactly as it does on TCP.
 */
import type { StompService } from '@warren/stomp';
import {
  listenWebProtocol,
  type Listener,
  type WebProtocol,
  type WebProtocolListenerOptions,
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

/** Where and how to listen (transport's shared web listener options, plus the outbound message type). */
export interface WebStompOptions extends WebProtocolListenerOptions {
  /**
   * Outbound WebSocket message type. Default 'auto': text, as RabbitMQ's web_stomp (`ws_frame = text`), except a
   * MESSAGE whose bytes are not valid UTF-8, which goes as a binary message so binary bodies reach browsers intact.
   */
  messageType?: WebSocketMessageType;
}

const WEB_STOMP: WebProtocol = {
  name: 'web-stomp',
  protocol: 'stomp',
  subprotocols: WEB_STOMP_SUBPROTOCOLS,
  maxPayloadBeforeConnect: WEB_STOMP_MAX_PAYLOAD_BEFORE_CONNECT,
  messageType: 'auto',
  examplesDir: EXAMPLES_DIR,
};

/** Bind a web-stomp listener whose connections are served by `service` (the STOMP adapter). */
export function listenWebStomp(
  service: Pick<StompService, 'handleConnection'>,
  options: WebStompOptions,
): Promise<Listener> {
  const { messageType, ...rest } = options;
  return listenWebProtocol(service, messageType === undefined ? WEB_STOMP : { ...WEB_STOMP, messageType }, rest);
}
