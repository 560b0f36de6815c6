/**
 * @warren/transport: sockets and nothing else. TCP/TLS and WebSocket listeners that hand each connection (with its
 * {@link PeerInfo}) to a protocol adapter, the batching {@link OutboundWriter}, the {@link ConnectionIo} every state
 * machine writes to, and {@link serveStream}, the glue between a stream and a session (DESIGN.md §1). It imports
 * nothing of ours.
 */
export type { PeerCertificate, PeerInfo, TrafficCounts } from './peer-info.js';
export { listen, normalizeAddress } from './listener.js';
export type { ConnectionHandler, Listener, ListenerErrorPhase, ListenerOptions, TlsOptions, TlsVerify } from './listener.js';
export { connectionAuthenticated, DEFAULT_MAX_UNAUTHENTICATED, peerCertificateOf } from './pending-connections.js';
export { serveStaticFiles } from './static-files.js';
export { streamPair } from './stream-pair.js';
export { ConnectionIo, DEFAULT_READ_PAUSE_FACTOR, PauseReason } from './connection-io.js';
export type { ConnectionIoOptions, ProtocolIo } from './connection-io.js';
/** @deprecated The old name of {@link ConnectionIo}. */
export { ConnectionRegistry } from './connection-registry.js';
export type { ShutdownCapable } from './connection-registry.js';
export { serveStream } from './serve-stream.js';
export type { ProtocolService, ServeStreamOptions, SessionTracker, StreamSession } from './serve-stream.js';
export { FLUSH_AFTER_MS, FlushPacer } from './flush-pacer.js';
export type { Flushable } from './flush-pacer.js';
export { forwardedFor, listenWebSocket, webSocketStream } from './websocket-listener.js';
export { bundleExamplePage, listenWebProtocol } from './web-protocol.js';
export type { StreamConnectionHandler, WebProtocol, WebProtocolListenerOptions } from './web-protocol.js';
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
  DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
  OutboundWriter,
} from './outbound-writer.js';
export type { OutboundStream, OutboundWriterCounters, OutboundWriterOptions, WriterHost } from './outbound-writer.js';
