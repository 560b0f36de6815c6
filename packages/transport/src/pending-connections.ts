/**
 * Unauthenticated connections: accepted by a listener but not yet through the TLS handshake, the WebSocket upgrade
 * or the protocol's login (AMQP connection.open, MQTT CONNECT, STOMP CONNECT). Each costs a descriptor and buffers
 * while it proves nothing, so a listener caps how many it holds at once and gives each a deadline for the part it
 * owns (TLS handshake, HTTP upgrade); the protocol adapter owns the deadline of its login, and tells the listener
 * when it is done with {@link connectionAuthenticated}.
 */
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { PeerCertificate } from './peer-info.js';

/** What the listener does when the connection handed to an adapter authenticates. */
const hooks = new WeakMap<object, () => void>();

/**
 * Tell the listener that accepted `connection` (the socket or stream the adapter was handed) that its client has
 * logged in: it no longer counts against the listener's unauthenticated-connection cap, and a WebSocket's message
 * size limit is raised from the pre-login one to the protocol's. Idempotent; a no-op for streams no listener made.
 */
export function connectionAuthenticated(connection: object): void {
  const hook = hooks.get(connection);
  if (hook === undefined) return;
  hooks.delete(connection);
  hook();
}

/** Run `fn` once when {@link connectionAuthenticated} is called for `connection`. */
export function onConnectionAuthenticated(connection: object, fn: () => void): void {
  const previous = hooks.get(connection);
  hooks.set(connection, previous === undefined ? fn : () => {
    previous();
    fn();
  });
}

const PENDING = Symbol('warren.pendingConnections');
type Tracked = net.Socket & { [PENDING]?: PendingConnections | undefined };

/** Default cap on a listener's unauthenticated connections. */
export const DEFAULT_MAX_UNAUTHENTICATED = 1000;

/** One listener's count of unauthenticated connections, keyed by their raw TCP sockets. */
export class PendingConnections {
  readonly #max: number;
  #count = 0;

  constructor(max: number = DEFAULT_MAX_UNAUTHENTICATED) {
    this.#max = max;
  }

  /** Unauthenticated connections held now. */
  get count(): number {
    return this.#count;
  }

  get max(): number {
    return this.#max;
  }

  /**
   * Count a newly accepted raw socket, or return false when the listener already holds its maximum (the caller
   * closes it). The slot is freed by {@link release} or when the socket closes, whichever comes first.
   */
  admit(raw: net.Socket, listen = true): boolean {
    if (this.#count >= this.#max) return false;
    this.#count++;
    // No closure per socket: the socket points at this counter, and one shared listener frees its slot (removed
    // again at release, so an authenticated connection keeps nothing of this). Without `listen` the caller's own
    // close listener calls releasePendingSlot (one listener per socket instead of two).
    (raw as Tracked)[PENDING] = this;
    if (listen) raw.on('close', onPendingClose);
    return true;
  }

  /** Free the slot of `raw` (its client authenticated). Idempotent. */
  release(raw: net.Socket): void {
    if ((raw as Tracked)[PENDING] !== this) return;
    (raw as Tracked)[PENDING] = undefined;
    raw.removeListener('close', onPendingClose);
    this.#count--;
  }
}

/**
 * Free the unauthenticated slot `raw` holds, if any: for the close listener of a caller that admitted it without
 * `listen`.
 */
export function releasePendingSlot(raw: net.Socket): void {
  (raw as Tracked)[PENDING]?.release(raw);
}

/** The 'close' listener of every socket admitted with `listen` and still unauthenticated. */
function onPendingClose(this: net.Socket): void {
  releasePendingSlot(this);
}

/**
 * The TCP socket under a TLS socket the server accepted. Node keeps it as `_parent` (not a documented property: the
 * listener tests pin that a slot is freed through it, so a Node that drops it fails them rather than leaking slots).
 */
export function rawSocketOf(socket: net.Socket): net.Socket {
  const parent = (socket as net.Socket & { _parent?: unknown })._parent;
  return parent !== undefined && parent !== null && typeof parent === 'object' ? (parent as net.Socket) : socket;
}

/** A certificate attribute value without RFC 4514 escapes ("Smith\\, J" → "Smith, J"). */
function unescapeRdnValue(value: string): string {
  return value.replace(/\\([0-9a-fA-F]{2}|.)/g, (_m, c: string) => (c.length === 2 ? String.fromCharCode(parseInt(c, 16)) : c));
}

/**
 * The verified identity of a TLS client, or undefined when it sent no certificate or one that did not verify. The
 * distinguished name is RFC 4514 style, most specific first ("CN=alice,O=Example,C=GB"), as RabbitMQ's
 * rabbitmq_auth_mechanism_ssl builds it (OpenSSL's `-nameopt RFC2253`: the reverse of the certificate's order); the
 * common name is the subject's first CN, as RabbitMQ's `ssl_cert_login_from = common_name` takes it.
 */
export function peerCertificateOf(socket: TLSSocket): PeerCertificate | undefined {
  if (!socket.authorized) return undefined;
  const x509 = socket.getPeerX509Certificate();
  if (x509 === undefined) return undefined;
  // Node prints the subject one RDN per line in certificate order ("C=GB\nO=Example\nCN=alice"), short attribute
  // names, values already escaped as RFC 2253 asks (OpenSSL's ASN1_STRFLGS_ESC_2253): a line is an RDN as is.
  const rdns = x509.subject.split('\n').filter((l) => l.includes('='));
  const cn = rdns.find((l) => l.startsWith('CN='));
  const out: PeerCertificate = { distinguishedName: [...rdns].reverse().join(',') };
  if (cn !== undefined) out.commonName = unescapeRdnValue(cn.slice(3));
  return out;
}
