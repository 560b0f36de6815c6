/** Settings of a STOMP session (shared by every connection of a service). */
export interface StompSessionOptions {
  /** Largest frame accepted after CONNECT, bytes. */
  maxFrameSize: number;
  /** Most headers in a frame after CONNECT. Default 1000. */
  maxHeaders?: number;
  /** Longest header line after CONNECT, bytes. Default 64 KiB. */
  maxHeaderLength?: number;
  /** The vhost when CONNECT has no `host` header. Default '/'. */
  defaultVhost?: string;
  /**
   * Credentials used when CONNECT has no login (RabbitMQ's `default_user`, guest/guest by default); null to require
   * a login.
   */
  defaultUser?: { login: string; passcode: string } | null;
  /** Close a connection that has not sent CONNECT within this time, ms. Default 10 000; 0 disables. */
  connectTimeoutMs?: number;
  /** Smallest heart-beat interval the server offers or accepts, ms. Default 0 (as the client asks). */
  minHeartbeatMs?: number;
  /**
   * After an ERROR frame, how long the server waits for the client to close before it closes, ms. Default 500.
   * Clients such as stompit read the ERROR body asynchronously and report "connection ended unexpectedly" instead
   * of the error when the FIN arrives first; the session is torn down at once either way, and nothing more is read.
   */
  errorCloseDelayMs?: number;
  /**
   * Drop a client whose output stays above the writer's high-water mark this long (its unacked messages are
   * requeued for other consumers), ms. Default 60 000 (as AMQP's `slowConsumerTimeoutMs`); 0 = never.
   */
  slowConsumerTimeoutMs?: number;
  /**
   * Subscriptions one connection may have at once; one more SUBSCRIBE gets an ERROR frame. 0 = no cap. Default
   * 50 000.
   */
  maxSubscriptions?: number;
  /**
   * RabbitMQ's stomp.ssl_cert_login: a client that presents a verified TLS certificate and no login header logs in
   * as the certificate's user (before the default user). Default false.
   */
  sslCertLogin?: boolean;
  /** The user name of a certificate login (RabbitMQ's ssl_cert_login_from). Default 'distinguished_name'. */
  certLoginFrom?: 'distinguished_name' | 'common_name';
}

/**
 * The STOMP adapter's defaults (RabbitMQ's stomp plugin's where it has one); the server's settings table takes its
 * defaults from here, so a standalone service and `warren` agree.
 */
export const DEFAULT_STOMP_OPTIONS = {
  maxFrameSize: 16 * 1024 * 1024,
  maxHeaders: 1000,
  maxHeaderLength: 64 * 1024,
  defaultVhost: '/',
  connectTimeoutMs: 10_000,
  minHeartbeatMs: 0,
  errorCloseDelayMs: 500,
  maxSubscriptions: 50_000,
  sslCertLogin: false,
} as const;

/** Default of {@link StompSessionOptions.maxSubscriptions}. */
export const DEFAULT_MAX_SUBSCRIPTIONS = DEFAULT_STOMP_OPTIONS.maxSubscriptions;
