/**
 * @warren/transport: sockets and nothing else. TCP/TLS and WebSocket listeners that hand each connection (with its
 * {@link ConnectionInfo}) to a protocol adapter, and the batching {@link OutboundWriter} (DESIGN.md §1).
 */
export type { ConnectionInfo } from '@warren/core';
export { listen, normalizeAddress } from './listener.js';
export type { ConnectionHandler, Listener, ListenerErrorPhase, ListenerOptions, TlsOptions, TlsVerify } from './listener.js';
export { connectionAuthenticated, DEFAULT_MAX_UNAUTHENTICATED, peerCertificateOf } from './pending-connections.js';
export { serveStaticFiles } from './static-files.js';
export { streamPair } from './stream-pair.js';
export { StreamIo } from './stream-io.js';
export { forwardedFor, listenWebSocket, webSocketStream } from './websocket-listener.js';
export type {
  WebSocketConnectionHandler,
  WebSocketListener,
  WebSocketListenerErrorPhase,
  WebSocketListenerOptions,
  WebSocketMessageType,
} from './websocket-listener.js';
export {
  DEFAULT_END_GRACE_MS,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_LOW_WATER_MARK,
  DEFAULT_MAX_BATCH_BYTES,
  OutboundWriter,
} from './outbound-writer.js';
export type { OutboundStream, OutboundWriterOptions } from './outbound-writer.js';
