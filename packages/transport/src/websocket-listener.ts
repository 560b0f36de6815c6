/**
 * WebSocket listeners (RFC 6455) for protocols carried over WebSocket: STOMP (web-stomp) and MQTT (web-mqtt).
 *
 * The listener owns the HTTP(S) server, the upgrade (path, origin and subprotocol checks), keep-alive pings, and turns
 * each WebSocket into a plain byte {@link Duplex}: inbound messages (text or binary) are pushed as bytes in arrival
 * order, so a protocol codec sees one byte stream whatever the message boundaries were (one frame per message,
 * several frames packed in one, or one frame split over several); every write goes out as one WebSocket message of
 * the listener's {@link WebSocketListenerOptions.messageType}. The adapter gets the same stream interface a TCP socket
 * gives it and knows nothing about WebSocket.
 */
import { isUtf8 } from 'node:buffer';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PeerInfo } from './peer-info.js';
import type tls from 'node:tls';
import {
  bindListener,
  clearHandshakeTimer,
  guardUnauthenticated,
  closedByGuard,
  normalizeAddress,
  tlsServerOptions,
  trackRawSockets,
  type Listener,
  type TlsOptions,
} from './listener.js';
import { onConnectionAuthenticated, peerCertificateOf, PendingConnections, rawSocketOf } from './pending-connections.js';

/** Where and how to accept WebSocket connections. */
export interface WebSocketListenerOptions {
  /** 'web-stomp', 'web-stomp-tls', ...: goes into {@link PeerInfo.listener}, connection ids and logs. */
  name: string;
  /** The protocol carried, 'stomp' or 'mqtt': goes into {@link PeerInfo.protocol}. */
  protocol: string;
  /** Address to bind. Default '::' (every interface, IPv4 and IPv6; '0.0.0.0' on hosts without IPv6). */
  host?: string;
  /** 0 picks a free port; the bound one is {@link Listener.port}. */
  port: number;
  /** The URL path that upgrades (query string ignored). Default '/ws', as RabbitMQ's web plugins. */
  path?: string;
  /**
   * Subprotocols the server speaks, in order of preference: the first one of these the client offers is chosen
   * (RabbitMQ's web_stomp answers v12.stomp to a client offering v10, v11 and v12 in any order). A client that offers
   * subprotocols but none of these gets a handshake without one, which RFC 6455 §4.1 requires it to fail, as
   * RabbitMQ's web_stomp does. A client that offers none is accepted.
   */
  subprotocols: readonly string[];
  /** Largest inbound WebSocket message; a bigger one closes the connection with 1009 (ws's default is 100 MiB). */
  maxPayload: number;
  /**
   * Largest inbound WebSocket message until the adapter reports the client logged in ({@link connectionAuthenticated}):
   * ws buffers a message whole before handing it over, so without this an unauthenticated client could make the
   * server hold `maxPayload` bytes. Default: `maxPayload`.
   */
  maxPayloadBeforeAuth?: number;
  /**
   * WebSocket message type of outbound data. 'auto' for STOMP (text, as RabbitMQ's web_stomp sends and browser
   * STOMP clients expect, except a message that is not valid UTF-8, which goes as binary so it arrives intact);
   * 'binary' for MQTT (its packets are binary). Default 'binary'.
   */
  messageType?: WebSocketMessageType;
  /**
   * Accept inbound text messages. Default true (STOMP clients send text). False closes the connection with 1003
   * (unsupported data) on a text message: MQTT 3.1.1 §6 [MQTT-6.0.0-1] allows binary frames only.
   */
  acceptText?: boolean;
  /** Present: wss:// (HTTPS) with this certificate. */
  tls?: TlsOptions;
  /**
   * A client must finish its TLS handshake (wss://) and send its HTTP upgrade request (or any HTTP request) within
   * this many ms of connecting, or it is closed. Default 10000.
   */
  tlsHandshakeTimeoutMs?: number;
  /** Connections held before their client logged in; further ones are closed as they arrive. Default 1000. */
  maxUnauthenticated?: number;
  /**
   * Browser origins allowed to connect, as sent in the `Origin` header (e.g. 'http://localhost:15674'); '*' allows any.
   * Requests without an Origin header (non-browser clients) are always allowed. Default: any origin (as RabbitMQ).
   */
  allowedOrigins?: readonly string[];
  /**
   * Take the peer address from the `X-Forwarded-For` header (its last entry: the address the trusted proxy in front
   * of Warren saw) instead of the socket. Only for listeners behind a reverse proxy; default false.
   */
  trustProxy?: boolean;
  /**
   * Send a WebSocket ping this often, and close a connection that has not answered the previous ping by then (a
   * dead peer or a half-open TCP connection). 0 disables. Default 30000.
   */
  pingIntervalMs?: number;
  /** Serves plain HTTP requests (not upgrades) on this port, such as example pages. Default: 404 for everything. */
  onRequest?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Errors no connection handler owns (TLS handshake, refused upgrade, accept, handler throwing). Default: ignored. */
  onError?: (
    err: Error,
    context: { listener: string; phase: WebSocketListenerErrorPhase },
  ) => void;
}

/** Phases of {@link WebSocketListenerOptions.onError}. */
export type WebSocketListenerErrorPhase =
  | 'tls-handshake'
  | 'handshake-timeout'
  | 'refused'
  | 'upgrade'
  | 'accept'
  | 'handler';

/**
 * Change the inbound message limit of an open WebSocket. ws has no public API for it; its receiver keeps the limit in
 * `_maxPayload` (ws 8). A ws without that field throws here, at the first login, and the listener test that pins the
 * pre-login limit fails, rather than the limit silently never rising (or never being low).
 */
function setMaxPayload(ws: WebSocket, maxPayload: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (receiver === undefined || typeof receiver._maxPayload !== 'number') {
    throw new Error('ws internals changed: cannot raise the WebSocket message limit after login');
  }
  receiver._maxPayload = maxPayload;
}

/** Receives each accepted WebSocket connection as a byte stream. */
export type WebSocketConnectionHandler = (stream: Duplex, info: PeerInfo) => void;

/** A bound WebSocket listener. */
export type WebSocketListener = Listener;

const DEFAULT_PATH = '/ws';
const DEFAULT_PING_INTERVAL_MS = 30_000;

/**
 * The WebSocket message type of outbound data: always 'text', always 'binary', or 'auto' (text when the message is
 * valid UTF-8, binary otherwise).
 */
export type WebSocketMessageType = 'text' | 'binary' | 'auto';
const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/**
 * Wrap a WebSocket as a byte Duplex. Backpressure both ways: a full readable side pauses the socket (ws stops
 * reading TCP); a write's callback fires when ws has handed the message to the socket, so `writableLength` counts
 * what is still queued (the OutboundWriter reads it).
 */
export function webSocketStream(
  ws: WebSocket,
  messageType: WebSocketMessageType = 'binary',
  acceptText = true,
): Duplex {
  const fixed = messageType === 'auto' ? undefined : { binary: messageType === 'binary' };
  // 'auto': a message that is valid UTF-8 goes as text, any other as binary (a text message must be UTF-8: browsers
  // close the connection on one that is not). Writes are whole protocol frames, so no character is ever split.
  const optionsFor = (data: Buffer): { binary: boolean } => fixed ?? (isUtf8(data) ? TEXT : BINARY);
  const stream = new Duplex({
    // The OutboundWriter already batches: each write becomes one message.
    writableHighWaterMark: 64 * 1024,
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState !== ws.OPEN) {
        callback(new Error('WebSocket is not open'));
        return;
      }
      ws.send(chunk, optionsFor(chunk), callback);
    },
    // Writes queued while the previous message was being sent go out together, as one message.
    writev(chunks, callback) {
      if (ws.readyState !== ws.OPEN) {
        callback(new Error('WebSocket is not open'));
        return;
      }
      const bufs = chunks.map((c) => c.chunk as Buffer);
      const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
      ws.send(data, optionsFor(data), callback);
    },
    final(callback) {
      // A half-close is a WebSocket close handshake: 1000 normal closure.
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(1000);
      callback();
    },
    destroy(err, callback) {
      // CLOSING: a close handshake is under way (our end(), or ws refusing bad input); let it finish.
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
        // An error means no orderly close handshake is worth waiting for.
        if (err !== null) ws.terminate();
        else ws.close(1000);
      }
      callback(err);
    },
  });
  // Messages parsed from one socket read arrive in one synchronous burst of 'message' events; they are pushed as one
  // chunk at the end of it, so the adapter's per-read work is paid once per read, as on TCP, not once per message.
  let inbound: Buffer[] = [];
  let flushQueued = false;
  const flushInbound = (): void => {
    flushQueued = false;
    if (inbound.length === 0 || stream.destroyed) return;
    const buf = inbound.length === 1 ? inbound[0]! : Buffer.concat(inbound);
    inbound = [];
    if (!stream.push(buf)) ws.pause();
  };
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (!isBinary && !acceptText) {
      inbound = [];
      ws.close(1003, 'text messages are not supported');
      stream.destroy(new Error('text WebSocket message where only binary ones are allowed'));
      return;
    }
    inbound.push(
      Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data),
    );
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flushInbound);
    }
  });
  ws.on('close', () => {
    flushInbound();
    stream.push(null);
    // The peer is gone: nothing more can be written either. Data it sent just before closing (a DISCONNECT, a last
    // PUBLISH) is still delivered when the reader is paused: destroy once it has been read, or after a grace period.
    if (stream.destroyed) return;
    if (stream.readableLength === 0) {
      stream.destroy();
      return;
    }
    const timer = setTimeout(() => stream.destroy(), 1000);
    timer.unref();
    stream.once('end', () => {
      clearTimeout(timer);
      stream.destroy();
    });
  });
  ws.on('error', (err) => {
    // 1009 (too big), 1002 (protocol error), invalid UTF-8 in a text message...: ws has already closed the socket.
    stream.destroy(err);
  });
  return stream;
}

/** The address the last proxy saw: the last entry of X-Forwarded-For, or undefined when absent or empty. */
export function forwardedFor(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const joined = Array.isArray(header) ? header.join(',') : header;
  const parts = joined.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const last = parts[parts.length - 1];
  return last === undefined ? undefined : normalizeAddress(last);
}

function refuse(socket: net.Socket, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroySoon?.();
}

/**
 * Bind a WebSocket listener. Resolves once bound; rejects with the bind error (EADDRINUSE, ...). Each accepted
 * WebSocket is handed to `onConnection` as a byte stream with its {@link PeerInfo}.
 */
export async function listenWebSocket(
  options: WebSocketListenerOptions,
  onConnection: WebSocketConnectionHandler,
): Promise<WebSocketListener> {
  const { name, protocol } = options;
  const path = options.path ?? DEFAULT_PATH;
  const isTls = options.tls !== undefined;
  const messageType = options.messageType ?? 'binary';
  const allowed = options.allowedOrigins;
  const anyOrigin = allowed === undefined || allowed.includes('*');
  const pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  const rawSockets = new Set<net.Socket>();
  const pending = new PendingConnections(options.maxUnauthenticated);
  const handshakeTimeoutMs = options.tlsHandshakeTimeoutMs ?? 10_000;
  const maxPayloadBeforeAuth = Math.min(options.maxPayloadBeforeAuth ?? options.maxPayload, options.maxPayload);
  const alive = new WeakMap<WebSocket, boolean>();
  let connectionCount = 0;
  let nextId = 1;
  const report = (err: Error, phase: WebSocketListenerErrorPhase): void => {
    try {
      options.onError?.(err, { listener: name, phase });
    } catch {
      // A reporting hook must not break the listener.
    }
  };
  const ignore = (): void => {};

  const wss = new WebSocketServer({
    noServer: true,
    // Raised to options.maxPayload once the client has logged in.
    maxPayload: maxPayloadBeforeAuth,
    // Compression would cost more CPU per message than loopback/LAN bandwidth saves (RabbitMQ's plugins leave it
    // off too); the listener test pins that it is never negotiated.
    perMessageDeflate: false,
    // All messages parsed from one socket read are emitted in one synchronous burst (ws's default since 8.17, pinned
    // here): webSocketStream relies on it to push them to the adapter as one chunk per read.
    allowSynchronousEvents: true,
    // Server preference order among what the client offered (see `subprotocols`).
    handleProtocols: (offered: Set<string>) => {
      for (const p of options.subprotocols) if (offered.has(p)) return p;
      return false;
    },
  });

  const onRequest =
    options.onRequest ??
    ((_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
    });
  let server: http.Server | https.Server;
  let httpsServer: https.Server | undefined;
  if (options.tls !== undefined) {
    httpsServer = https.createServer(tlsServerOptions(options.tls, handshakeTimeoutMs), onRequest);
    httpsServer.on('tlsClientError', (err, socket) => {
      // With a 'tlsClientError' listener Node leaves the socket open: close it.
      if (!closedByGuard(rawSocketOf(socket))) report(err, 'tls-handshake');
      socket.destroy();
    });
    server = httpsServer;
  } else {
    server = http.createServer(onRequest);
  }
  trackRawSockets(server, rawSockets);
  // The deadline covers the TLS handshake and the HTTP request; the protocol adapter's covers its login.
  guardUnauthenticated(server, { name, pending, handshakeTimeoutMs, report });
  // A plain HTTP request (the example page) ends the deadline and the slot: Node's keep-alive timeout bounds the
  // connection from then on.
  server.on('request', (req: http.IncomingMessage) => {
    const raw = rawSocketOf(req.socket);
    clearHandshakeTimer(raw);
    pending.release(raw);
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', ignore);
    const raw = rawSocketOf(socket);
    clearHandshakeTimer(raw);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const reqPath = q === -1 ? url : url.slice(0, q);
    if (reqPath !== path) {
      report(new Error(`WebSocket upgrade for unknown path ${reqPath}`), 'upgrade');
      refuse(socket, 404, 'Not Found');
      return;
    }
    const origin = req.headers.origin;
    if (!anyOrigin && origin !== undefined && !allowed.includes(origin)) {
      report(new Error(`WebSocket origin ${origin} is not allowed`), 'upgrade');
      refuse(socket, 403, 'Forbidden');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const forwarded = options.trustProxy === true ? forwardedFor(req.headers['x-forwarded-for']) : undefined;
      const info: PeerInfo = {
        id: `${name}-${nextId++}`,
        protocol,
        remoteAddress: forwarded ?? normalizeAddress(socket.remoteAddress),
        remotePort: forwarded !== undefined ? 0 : (socket.remotePort ?? 0),
        localPort: socket.localPort ?? 0,
        localAddress: normalizeAddress(socket.localAddress),
        tls: isTls,
        listener: name,
        websocket: true,
      };
      if (isTls) {
        // verify_peer without fail_if_no_peer_cert: a certificate the CA does not vouch for is refused.
        const t = socket as tls.TLSSocket;
        if (options.tls?.verify === 'peer' && !t.authorized && t.getPeerX509Certificate() !== undefined) {
          report(new Error(`client certificate refused: ${String(t.authorizationError)}`), 'tls-handshake');
          ws.terminate();
          return;
        }
        const peer = peerCertificateOf(t);
        if (peer !== undefined) info.peerCertificate = peer;
      }
      socket.setNoDelay(true);
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      connectionCount++;
      ws.once('close', () => {
        connectionCount--;
      });
      const stream = webSocketStream(ws, messageType, options.acceptText ?? true);
      stream.on('error', ignore);
      onConnectionAuthenticated(stream, () => {
        pending.release(raw);
        if (maxPayloadBeforeAuth !== options.maxPayload && ws.readyState === ws.OPEN) {
          setMaxPayload(ws, options.maxPayload);
        }
      });
      try {
        onConnection(stream, info);
      } catch (err) {
        report(err instanceof Error ? err : new Error(String(err)), 'handler');
        ws.terminate();
      }
    });
  });

  await bindListener(server, options.host, options.port);
  server.on('error', (err) => report(err, 'accept'));

  // Keep-alive: RFC 6455 §5.5.2 ping; a peer that missed the previous one is dead.
  const pinger =
    pingIntervalMs > 0
      ? setInterval(() => {
          for (const ws of wss.clients) {
            if (alive.get(ws) === false) {
              ws.terminate();
              continue;
            }
            alive.set(ws, false);
            ws.ping();
          }
        }, pingIntervalMs)
      : undefined;
  pinger?.unref();

  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  let closing: Promise<void> | undefined;
  return {
    name,
    port,
    get connectionCount() {
      return connectionCount;
    },
    get unauthenticatedCount() {
      return pending.count;
    },
    ...(httpsServer !== undefined
      ? { setTls: (t: TlsOptions) => httpsServer.setSecureContext(tlsServerOptions(t, handshakeTimeoutMs)) }
      : {}),
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (pinger !== undefined) clearInterval(pinger);
        server.close(() => resolve());
        for (const ws of wss.clients) ws.terminate();
        for (const socket of rawSockets) socket.destroy();
        wss.close();
      });
      return closing;
    },
  };
}
