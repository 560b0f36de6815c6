/** The settings of one AMQP connection. */
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS } from '@warren/transport';
import type { CertLoginFrom } from './sasl.js';

/** Settings of one connection (a subset of the listener's AmqpServerOptions). */
export interface AmqpConnectionOptions {
  frameMax: number;
  channelMax: number;
  heartbeat: number;
  maxMessageSize: number;
  handshakeTimeoutMs: number;
  /** The user name of a SASL EXTERNAL login (RabbitMQ's ssl_cert_login_from). Default 'distinguished_name'. */
  certLoginFrom?: CertLoginFrom;
  /** How long to wait for connection.close-ok after sending connection.close. Default 3000 ms. */
  closeTimeoutMs?: number;
  /**
   * Disconnect a client whose output stays above the writer's high-water mark (no drain) for this long, requeueing
   * its unacked messages (DESIGN.md §5 slow consumers; like nats-server's write deadline, and RabbitMQ's TCP
   * send_timeout). 0 disables. Default {@link DEFAULT_SLOW_CONSUMER_TIMEOUT_MS}. The transport's writer keeps the
   * clock (its stall timeout) and calls {@link AmqpConnection.onStalled}.
   */
  slowConsumerTimeoutMs?: number;
  /**
   * Consumers one channel may have (RabbitMQ's consumer_max_per_channel): one more is refused with 530 NOT_ALLOWED,
   * so a client cannot grow a channel's consumer table without bound. 0 = no cap. Default
   * {@link DEFAULT_CONSUMER_MAX_PER_CHANNEL}.
   */
  consumerMaxPerChannel?: number;
}

/** Default cap on consumers per channel: far above what applications use, low enough to bound a leak or a flood. */
export const DEFAULT_CONSUMER_MAX_PER_CHANNEL = 50_000;
