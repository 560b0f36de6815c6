/**
 * What a listener knows of a connection when it hands it to an adapter. The transport owns these types (it imports
 * nothing of ours); the core's ConnectionInfo and TrafficCounters have the same shape plus the adapter's additions,
 * so a {@link PeerInfo} is accepted wherever the core asks for a ConnectionInfo.
 */

/** A verified TLS client certificate's subject, for certificate login (SASL EXTERNAL, MQTT/STOMP ssl_cert_login). */
export interface PeerCertificate {
  /** The subject's first CN, unescaped. */
  commonName?: string;
  /** The subject DN, RFC 4514 style, most specific RDN first ("CN=alice,O=Example,C=GB"), as RabbitMQ prints it. */
  distinguishedName: string;
}

/** Who connected, as the listener saw it. */
export interface PeerInfo {
  /** Process-unique connection id (`<listener>-<n>`). */
  id: string;
  /** 'amqp', 'mqtt', 'stomp', ... */
  protocol: string;
  /** IPv4-mapped IPv6 addresses are reported as IPv4 ('127.0.0.1', not '::ffff:127.0.0.1'). */
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  tls: boolean;
  /** Name of the listener that accepted it, e.g. 'amqp' or 'amqps'. */
  listener: string;
  /** The local address the client connected to. */
  localAddress?: string;
  /** True when the bytes travel in WebSocket messages (web-stomp, web-mqtt). */
  websocket?: boolean;
  /** The client's TLS certificate, present only when it verified against the listener's CA. */
  peerCertificate?: PeerCertificate;
}

/** Traffic counters of one connection: counted per read chunk and per write batch, never per message. */
export interface TrafficCounts {
  /** Bytes received. */
  readonly recvOct: number;
  /** Read chunks received. */
  readonly recvCnt: number;
  /** Bytes handed to the socket. */
  readonly sendOct: number;
  /** Writes made to the socket (one per batch). */
  readonly sendCnt: number;
  /** Bytes queued but not yet written. */
  readonly sendPend: number;
}
