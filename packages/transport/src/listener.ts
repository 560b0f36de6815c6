/**
 * TCP and TLS listeners. A listener accepts sockets, fills in a {@link PeerInfo} and hands each connection to
 * the protocol adapter; it knows no protocol itself.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { PeerInfo } from './peer-info.js';
import { onConnectionAuthenticated, peerCertificateOf, PendingConnections, rawSocketOf, releasePendingSlot } from './pending-connections.js';

/** Server certificate material for a TLS listener (PEM strings or Buffers). */
export interface TlsOptions {
  cert: Buffer | string;
  key: Buffer | string;
  /** Trusted CAs for client certificates. */
  ca?: Buffer | string;
  /**
   * RabbitMQ's `ssl_options.verify`. 'peer' (verify_peer): ask the client for a certificate and refuse one that does
   * not verify against `ca`; a verified one is the client's identity for certificate login. 'none' (verify_none, the
   * default, as RabbitMQ's): no certificate is asked for.
   */
  verify?: TlsVerify;
  /** RabbitMQ's `ssl_options.fail_if_no_peer_cert`: with verify 'peer', also refuse a client without one. Default false. */
  failIfNoPeerCert?: boolean;
}

/** Client certificate verification: RabbitMQ's verify_peer / verify_none. */
export type TlsVerify = 'peer' | 'none';

/** Phases of {@link ListenerOptions.onError}. */
export type ListenerErrorPhase = 'tls-handshake' | 'handshake-timeout' | 'refused' | 'accept' | 'handler';

/** Where and how to listen. */
export interface ListenerOptions {
  /** 'amqp', 'amqps', ...: goes into {@link PeerInfo.listener}, connection ids and logs. */
  name: string;
  /** 'amqp', 'mqtt', 'stomp': goes into {@link PeerInfo.protocol}. */
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
   * A TLS client must finish its handshake within this many ms of connecting, or it is closed (Node's default is
   * 120 s, far too generous before authentication, DESIGN.md §6; and Node's timer only reports, it closes nothing).
   * Default 10000.
   */
  tlsHandshakeTimeoutMs?: number;
  /**
   * Connections this listener holds before their client has logged in (TLS handshake under way, protocol login not
   * done: see {@link connectionAuthenticated}); further ones are closed as they arrive. Default 1000.
   */
  maxUnauthenticated?: number;
  /**
   * Called for errors no connection handler owns: a failed or timed-out TLS handshake, a connection refused over the
   * unauthenticated cap, a failing accept, or `onConnection` throwing. Default: ignored (the socket concerned is
   * destroyed either way).
   */
  onError?: (err: Error, context: { listener: string; phase: ListenerErrorPhase }) => void;
}

/** A bound listener. */
export interface Listener {
  readonly name: string;
  /** The bound port (the real one when 0 was asked). */
  readonly port: number;
  /** Open connections that were handed to the handler. */
  readonly connectionCount: number;
  /** Connections accepted whose client has not logged in yet. */
  readonly unauthenticatedCount: number;
  /** Serve new TLS connections with this certificate material (existing ones keep theirs). TLS listeners only. */
  setTls?(tls: TlsOptions): void;
  /** Stop accepting, destroy open connections, resolve when closed. Idempotent. */
  close(): Promise<void>;
}

/** Receives each accepted connection (TLS ones after the handshake). */
export type ConnectionHandler = (socket: net.Socket | tls.TLSSocket, info: PeerInfo) => void;

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
  const pending = new PendingConnections(options.maxUnauthenticated);
  const handshakeTimeoutMs = options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
  let connectionCount = 0;
  let nextId = 1;
  const report = (err: Error, phase: ListenerErrorPhase): void => {
    try {
      options.onError?.(err, { listener: name, phase });
    } catch {
      // A reporting hook must not break the listener.
    }
  };
  const ignore = (): void => {};
  // Listeners shared by every socket of this listener (`on`, not `once`, and no closure per socket: an idle
  // connection then carries no listener objects of its own; 'close' is emitted once anyway). Only TLS sockets need
  // it: a plain socket is handed over as it is accepted, so the raw sockets still open are the count.
  const onHandedOverClose = (): void => {
    connectionCount--;
  };

  const handOver = (socket: net.Socket | tls.TLSSocket): void => {
    if (socket.destroyed) return;
    const raw = isTls ? rawSocketOf(socket) : socket;
    clearHandshakeTimer(raw);
    if (isTls) {
      // A plain socket got this in 'connection' below; a TLS socket is a new object wrapping that one.
      socket.on('error', ignore);
      // verify_peer without fail_if_no_peer_cert: a client may come without a certificate, but one that sends a
      // certificate the CA does not vouch for is refused before it can say anything (as Erlang's ssl does).
      const t = socket as tls.TLSSocket;
      if (options.tls?.verify === 'peer' && !t.authorized && t.getPeerX509Certificate() !== undefined) {
        report(new Error(`client certificate refused: ${String(t.authorizationError)}`), 'tls-handshake');
        socket.destroy();
        return;
      }
    }
    socket.setNoDelay(true);
    const info: PeerInfo = {
      id: `${name}-${nextId++}`,
      protocol,
      remoteAddress: normalizeAddress(socket.remoteAddress),
      remotePort: socket.remotePort ?? 0,
      localPort: socket.localPort ?? 0,
      localAddress: normalizeAddress(socket.localAddress),
      tls: isTls,
      listener: name,
    };
    if (isTls) {
      const peer = peerCertificateOf(socket as tls.TLSSocket);
      if (peer !== undefined) info.peerCertificate = peer;
    }
    forgetCachedAddresses(socket);
    onConnectionAuthenticated(socket, () => pending.release(raw));
    if (isTls) {
      connectionCount++;
      socket.on('close', onHandedOverClose);
    }
    try {
      onConnection(socket, info);
    } catch (err) {
      report(err instanceof Error ? err : new Error(String(err)), 'handler');
      socket.destroy();
    }
  };

  let server: net.Server;
  let tlsServer: tls.Server | undefined;
  if (options.tls !== undefined) {
    tlsServer = tls.createServer(tlsServerOptions(options.tls, handshakeTimeoutMs));
    tlsServer.on('secureConnection', handOver);
    tlsServer.on('tlsClientError', (err, socket) => {
      // With a 'tlsClientError' listener Node leaves the socket open (even after its handshake timeout): close it.
      if (!closedByGuard(rawSocketOf(socket))) report(err, 'tls-handshake');
      socket.destroy();
    });
    server = tlsServer;
  } else {
    server = net.createServer(handOver);
  }
  // 'connection' fires with the raw TCP socket for both kinds of server (before the TLS handshake).
  trackRawSockets(server, rawSockets);
  guardUnauthenticated(server, { name, pending, handshakeTimeoutMs: isTls ? handshakeTimeoutMs : 0, report });

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
      return isTls ? connectionCount : rawSockets.size;
    },
    get unauthenticatedCount() {
      return pending.count;
    },
    ...(tlsServer !== undefined
      ? { setTls: (t: TlsOptions) => tlsServer.setSecureContext(tlsServerOptions(t, handshakeTimeoutMs)) }
      : {}),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of rawSockets) socket.destroy();
      });
      return closing;
    },
  };
}

const HANDSHAKE_TIMER = Symbol('warren.handshakeTimer');
const CLOSED_BY_GUARD = Symbol('warren.closedByGuard');
type Timed = net.Socket & { [HANDSHAKE_TIMER]?: NodeJS.Timeout | undefined; [CLOSED_BY_GUARD]?: true };

/**
 * True when the listener closed `raw` itself (handshake deadline, over the cap): that was reported, the TLS error that
 * follows is not.
 */
export function closedByGuard(raw: net.Socket): boolean {
  return (raw as Timed)[CLOSED_BY_GUARD] === true;
}

/** Stop the handshake deadline of a raw socket (its connection was handed to the protocol). */
export function clearHandshakeTimer(raw: net.Socket): void {
  const timer = (raw as Timed)[HANDSHAKE_TIMER];
  if (timer !== undefined) {
    clearTimeout(timer);
    (raw as Timed)[HANDSHAKE_TIMER] = undefined;
  }
}

/**
 * On every accepted raw socket of `server`: refuse it (close it at once) when the listener already holds its maximum
 * of unauthenticated connections, otherwise count it until its client logs in; and, with a `handshakeTimeoutMs`, close
 * it unless it is handed over (TLS handshake done, WebSocket upgraded: {@link clearHandshakeTimer}) by then. The
 * deadline is absolute: a client trickling handshake bytes does not extend it, as it would Node's idle timer.
 */
export function guardUnauthenticated(
  server: net.Server,
  g: {
    name: string;
    pending: PendingConnections;
    handshakeTimeoutMs: number;
    report: (err: Error, phase: 'handshake-timeout' | 'refused') => void;
  },
): void {
  server.on('connection', (raw: net.Socket) => {
    // The slot is freed at authentication, or by the close listener of trackRawSockets (one listener per socket).
    if (!g.pending.admit(raw, false)) {
      g.report(
        new Error(
          `refused a connection from ${normalizeAddress(raw.remoteAddress)}: ${g.pending.max} connections are already waiting to authenticate`,
        ),
        'refused',
      );
      (raw as Timed)[CLOSED_BY_GUARD] = true;
      raw.destroy();
      return;
    }
    if (g.handshakeTimeoutMs > 0) {
      const timer = setTimeout(() => {
        (raw as Timed)[HANDSHAKE_TIMER] = undefined;
        if (raw.destroyed) return;
        (raw as Timed)[CLOSED_BY_GUARD] = true;
        g.report(
          new Error(`handshake from ${normalizeAddress(raw.remoteAddress)} timed out after ${g.handshakeTimeoutMs} ms`),
          'handshake-timeout',
        );
        raw.destroy();
      }, g.handshakeTimeoutMs);
      timer.unref();
      // Cleared by the close listener of trackRawSockets if the socket closes first.
      (raw as Timed)[HANDSHAKE_TIMER] = timer;
    }
  });
}

/** Node TLS server options from our {@link TlsOptions} (shared by the TCP and WebSocket listeners). */
export function tlsServerOptions(t: TlsOptions, handshakeTimeoutMs: number = DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS): tls.TlsOptions {
  const peer = t.verify === 'peer';
  const out: tls.TlsOptions = {
    cert: t.cert,
    key: t.key,
    requestCert: peer,
    // Node's rejectUnauthorized refuses a missing certificate as well as an untrusted one: fail_if_no_peer_cert. An
    // untrusted one without it is refused at hand-over (see listen).
    rejectUnauthorized: peer && t.failIfNoPeerCert === true,
    // The listener's absolute deadline closes the socket first; Node's (an idle timer, which only reports) is a
    // backstop that never fires before it, so a timeout is logged once.
    handshakeTimeout: handshakeTimeoutMs + 1000,
  };
  if (t.ca !== undefined) out.ca = t.ca;
  return out;
}

/**
 * Drop the addresses Node cached on `socket` when they were read (its undocumented `_peername` and `_sockname`: two
 * objects and their strings, some 170 bytes an idle connection would keep). The connection's info has them; Node
 * asks the kernel again if they are read later (and answers undefined once the socket is closed).
 */
export function forgetCachedAddresses(socket: net.Socket): void {
  const cached = socket as net.Socket & { _peername?: unknown; _sockname?: unknown };
  if (cached._peername !== undefined) cached._peername = undefined;
  if (cached._sockname !== undefined) cached._sockname = undefined;
}

const ignoreError = (): void => {};
/**
 * The one 'close' listener of every accepted raw socket (`this`; one shared function, so a socket carries no close
 * closure of its own): forget it, free its unauthenticated slot, stop its handshake deadline.
 */
function forgetRawSocket(this: net.Socket & { [RAW_SET]?: Set<net.Socket> }): void {
  this[RAW_SET]?.delete(this);
  releasePendingSlot(this);
  clearHandshakeTimer(this);
}
const RAW_SET = Symbol('warren.rawSockets');

/**
 * Keep every TCP socket `server` accepts in `sockets` until it closes (for TLS, including those still in the
 * handshake), so close() can destroy them; a socket error never goes unhandled. Its close listener also does the
 * cleanup of {@link guardUnauthenticated} (which relies on it).
 */
export function trackRawSockets(server: net.Server, sockets: Set<net.Socket>): void {
  server.on('connection', (socket: net.Socket & { [RAW_SET]?: Set<net.Socket> }) => {
    socket.on('error', ignoreError);
    socket[RAW_SET] = sockets;
    sockets.add(socket);
    socket.on('close', forgetRawSocket);
  });
}
