/**
 * TCP and TLS listeners. A listener accepts sockets, fills in a {@link ConnectionInfo} and hands each connection to
 * the protocol adapter; it knows no protocol itself.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ConnectionInfo } from '@warren/core';

/** Server certificate material for a TLS listener (PEM strings or Buffers). */
export interface TlsOptions {
  cert: Buffer | string;
  key: Buffer | string;
  /** Trusted CAs for client certificates. */
  ca?: Buffer | string;
  /** Ask clients for a certificate (for SASL EXTERNAL / certificate login). Default false. */
  requestCert?: boolean;
  /** With requestCert: refuse clients whose certificate does not verify against `ca`. Default false. */
  rejectUnauthorized?: boolean;
}

/** Where and how to listen. */
export interface ListenerOptions {
  /** 'amqp', 'amqps', ...: goes into {@link ConnectionInfo.listener}, connection ids and logs. */
  name: string;
  /** 'amqp', 'mqtt', 'stomp': goes into {@link ConnectionInfo.protocol}. */
  protocol: string;
  /**
   * Address to bind. Default '::': every interface, IPv4 and IPv6 (dual-stack; '0.0.0.0' on hosts without IPv6).
   */
  host?: string;
  /** 0 picks a free port; the bound one is {@link Listener.port}. */
  port: number;
  /** Present: a TLS listener; connections are handed over after the handshake. */
  tls?: TlsOptions;
  /**
   * A TLS client must finish its handshake within this many ms (Node's default is 120 s, far too generous before
   * authentication, DESIGN.md §6). Default 10000.
   */
  tlsHandshakeTimeoutMs?: number;
  /**
   * Called for errors no connection handler owns: a failed TLS handshake, a failing accept, or `onConnection`
   * throwing. Default: ignored (the socket concerned is destroyed either way).
   */
  onError?: (err: Error, context: { listener: string; phase: 'tls-handshake' | 'accept' | 'handler' }) => void;
}

/** A bound listener. */
export interface Listener {
  readonly name: string;
  /** The bound port (the real one when 0 was asked). */
  readonly port: number;
  /** Open connections that were handed to the handler. */
  readonly connectionCount: number;
  /** Stop accepting, destroy open connections, resolve when closed. Idempotent. */
  close(): Promise<void>;
}

/** Receives each accepted connection (TLS ones after the handshake). */
export type ConnectionHandler = (socket: net.Socket | tls.TLSSocket, info: ConnectionInfo) => void;

const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Report IPv4-mapped IPv6 addresses (what a dual-stack socket sees for IPv4 peers) as plain IPv4, so loopback checks
 * and logs read `127.0.0.1` rather than `::ffff:127.0.0.1`.
 */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '';
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return address.slice(7);
  return address;
}

/** True for errors meaning "this machine has no IPv6", after which binding '::' is retried on '0.0.0.0'. */
function isNoIpv6(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL' || code === 'EPROTONOSUPPORT';
}

function bind(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // ipv6Only false: one '::' socket also accepts IPv4 (as RabbitMQ's listeners do, DESIGN.md §6).
    server.listen({ host, port, ipv6Only: false });
  });
}

/**
 * Bind a listening server to `host`, or — when `host` is absent or '::' — to every interface, IPv4 and IPv6, falling
 * back to IPv4's any-address on hosts without IPv6. Rejects with the bind error (EADDRINUSE, EACCES, ...).
 */
export async function bindListener(server: net.Server, host: string | undefined, port: number): Promise<void> {
  if (host !== undefined && host !== '::') {
    await bind(server, host, port);
    return;
  }
  try {
    await bind(server, '::', port);
  } catch (err) {
    if (!isNoIpv6(err)) throw err;
    await bind(server, '0.0.0.0', port);
  }
}

/**
 * Bind a TCP or TLS listener. Resolves once bound; rejects with the bind error (EADDRINUSE, EACCES, ...).
 * Accepted sockets get TCP_NODELAY (the writer batches, so Nagle only adds latency) and an 'error' listener, so a
 * connection error can never become an uncaught exception; the handler adds its own.
 */
export async function listen(options: ListenerOptions, onConnection: ConnectionHandler): Promise<Listener> {
  const { name, protocol } = options;
  const isTls = options.tls !== undefined;
  /** Every accepted TCP socket (for TLS, including those still in the handshake), so close() can destroy them. */
  const rawSockets = new Set<net.Socket>();
  let connectionCount = 0;
  let nextId = 1;
  const report = (err: Error, phase: 'tls-handshake' | 'accept' | 'handler'): void => {
    try {
      options.onError?.(err, { listener: name, phase });
    } catch {
      // A reporting hook must not break the listener.
    }
  };
  const ignore = (): void => {};
  // Listeners shared by every socket of this listener (`on`, not `once`, and no closure per socket: an idle
  // connection then carries no listener objects of its own; 'close' is emitted once anyway).
  const onHandedOverClose = (): void => {
    connectionCount--;
  };

  const handOver = (socket: net.Socket | tls.TLSSocket): void => {
    if (socket.destroyed) return;
    // A plain socket got this in 'connection' below; a TLS socket is a new object wrapping that one.
    if (isTls) socket.on('error', ignore);
    socket.setNoDelay(true);
    const info: ConnectionInfo = {
      id: `${name}-${nextId++}`,
      protocol,
      remoteAddress: normalizeAddress(socket.remoteAddress),
      remotePort: socket.remotePort ?? 0,
      localPort: socket.localPort ?? 0,
      localAddress: normalizeAddress(socket.localAddress),
      tls: isTls,
      listener: name,
    };
    connectionCount++;
    socket.on('close', onHandedOverClose);
    try {
      onConnection(socket, info);
    } catch (err) {
      report(err instanceof Error ? err : new Error(String(err)), 'handler');
      socket.destroy();
    }
  };

  let server: net.Server;
  if (options.tls !== undefined) {
    const tlsServer = tls.createServer(tlsServerOptions(options.tls, options.tlsHandshakeTimeoutMs));
    tlsServer.on('secureConnection', handOver);
    tlsServer.on('tlsClientError', (err) => report(err, 'tls-handshake'));
    server = tlsServer;
  } else {
    server = net.createServer(handOver);
  }
  // 'connection' fires with the raw TCP socket for both kinds of server.
  trackRawSockets(server, rawSockets);

  await bindListener(server, options.host, options.port);
  // After binding, an 'error' (e.g. EMFILE on accept) must not crash the process.
  server.on('error', (err) => report(err, 'accept'));

  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  let closing: Promise<void> | undefined;

  return {
    name,
    port,
    get connectionCount() {
      return connectionCount;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of rawSockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** Node TLS server options from our {@link TlsOptions} (shared by the TCP and WebSocket listeners). */
export function tlsServerOptions(t: TlsOptions, handshakeTimeoutMs: number = DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS): tls.TlsOptions {
  const out: tls.TlsOptions = {
    cert: t.cert,
    key: t.key,
    requestCert: t.requestCert ?? false,
    rejectUnauthorized: t.rejectUnauthorized ?? false,
    handshakeTimeout: handshakeTimeoutMs,
  };
  if (t.ca !== undefined) out.ca = t.ca;
  return out;
}

const ignoreError = (): void => {};
/** `this` is the socket: one shared function, so a socket carries no close closure of its own. */
function forgetRawSocket(this: net.Socket & { [RAW_SET]?: Set<net.Socket> }): void {
  this[RAW_SET]?.delete(this);
}
const RAW_SET = Symbol('warren.rawSockets');

/**
 * Keep every TCP socket `server` accepts in `sockets` until it closes (for TLS, including those still in the
 * handshake), so close() can destroy them; a socket error never goes unhandled.
 */
export function trackRawSockets(server: net.Server, sockets: Set<net.Socket>): void {
  server.on('connection', (socket: net.Socket & { [RAW_SET]?: Set<net.Socket> }) => {
    socket.on('error', ignoreError);
    socket[RAW_SET] = sockets;
    sockets.add(socket);
    socket.on('close', forgetRawSocket);
  });
}
