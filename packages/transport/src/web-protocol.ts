/**
 * What web-stomp and web-mqtt have in common: a WebSocket listener that hands each connection to a protocol
 * service, with a smaller message limit until the client logs in, RabbitMQ's listener names, and an example page at
 * '/' that is bundled with its browser client at build time (the broker may run offline: no CDN). Each web package
 * describes its protocol once ({@link WebProtocol}) and keeps only what differs.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Listener, TlsOptions } from './listener.js';
import type { PeerInfo } from './peer-info.js';
import { serveStaticFiles } from './static-files.js';
import { listenWebSocket, type WebSocketListenerOptions, type WebSocketMessageType } from './websocket-listener.js';

/** Where and how a web protocol listener listens: the options web-stomp and web-mqtt share. */
export interface WebProtocolListenerOptions {
  /** Listener name in logs and connection ids. Default the protocol's name ('web-stomp'), plus '-tls' with `tls`. */
  name?: string;
  host?: string;
  port: number;
  /** Default '/ws'. */
  path?: string;
  tls?: TlsOptions;
  tlsHandshakeTimeoutMs?: number;
  /**
   * Largest inbound WebSocket message before the client's CONNECT is accepted. Default the protocol's
   * {@link WebProtocol.maxPayloadBeforeConnect}: ws buffers a whole message before the adapter sees a byte, so
   * without it a client that never logs in could make the server hold `maxPayload` bytes.
   */
  maxPayloadBeforeConnect?: number;
  /** Connections held before their client logged in; more are closed as they arrive. Default 1000. */
  maxUnauthenticated?: number;
  /** Largest inbound WebSocket message: the adapter's frame or packet limit. */
  maxPayload: number;
  allowedOrigins?: readonly string[];
  trustProxy?: boolean;
  pingIntervalMs?: number;
  /** Serve the example page at '/'. Default true. */
  examples?: boolean;
  onError?: NonNullable<WebSocketListenerOptions['onError']>;
}

/** What a web protocol package says about itself; the rest of its listener is {@link listenWebProtocol}'s. */
export interface WebProtocol {
  /** 'web-stomp', 'web-mqtt': the default listener name (with '-tls' for wss://) and the example page's name. */
  name: string;
  /** The protocol carried ('stomp', 'mqtt'): {@link PeerInfo.protocol}. */
  protocol: string;
  /** Subprotocols in server preference order. */
  subprotocols: readonly string[];
  /** Default of {@link WebProtocolListenerOptions.maxPayloadBeforeConnect}. */
  maxPayloadBeforeConnect: number;
  /** Outbound WebSocket message type. */
  messageType: WebSocketMessageType;
  /** Accept inbound text messages (false: MQTT, binary only). Default true. */
  acceptText?: boolean;
  /** The built example page (see {@link bundleExamplePage}). */
  examplesDir: string;
}

/** Anything that serves a connection given as a byte stream: a protocol adapter's service. */
export interface StreamConnectionHandler {
  handleConnection(stream: Duplex, info: PeerInfo): void;
}

/** Bind a WebSocket listener for `protocol` whose connections `service` serves. */
export function listenWebProtocol(
  service: StreamConnectionHandler,
  protocol: WebProtocol,
  options: WebProtocolListenerOptions,
): Promise<Listener> {
  const { name, examples, maxPayloadBeforeConnect, ...rest } = options;
  const wsOptions: WebSocketListenerOptions = {
    ...rest,
    maxPayloadBeforeAuth: maxPayloadBeforeConnect ?? protocol.maxPayloadBeforeConnect,
    name: name ?? (options.tls !== undefined ? `${protocol.name}-tls` : protocol.name),
    protocol: protocol.protocol,
    subprotocols: protocol.subprotocols,
    messageType: protocol.messageType,
  };
  if (protocol.acceptText !== undefined) wsOptions.acceptText = protocol.acceptText;
  if (examples !== false) {
    wsOptions.onRequest = serveStaticFiles(
      protocol.examplesDir,
      `The ${protocol.name} example page is not built: run npm run build.`,
    );
  }
  return listenWebSocket(wsOptions, (stream, info) => service.handleConnection(stream, info));
}

/**
 * Bundle an example page: `sourceDir/app.js` with everything it imports (the browser client library) into
 * `outDir/app.js` (minified, with a source map), and `sourceDir/index.html` copied beside it. Build time only: needs
 * the esbuild dev dependency.
 */
export async function bundleExamplePage(sourceDir: string, outDir: string): Promise<void> {
  const esbuild = await import('esbuild');
  await mkdir(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(sourceDir, 'app.js')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: true,
    logLevel: 'silent',
  });
  await copyFile(join(sourceDir, 'index.html'), join(outDir, 'index.html'));
}
