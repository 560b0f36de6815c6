/**
 * The MQTT adapter's entry for the server: {@link createMqttService} makes the one service per broker that the
 * TCP, TLS and WebSocket listeners hand their accepted streams to.
 */
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { BrokerApi, ConnectionInfo, Logger, StateLog } from '@warren/core';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, type ProtocolService } from '@warren/transport';
import { MqttServiceImpl, type MqttDebugStats, type MqttStateView } from './service.js';

/** Settings of the Mqtt adapter (shared by its TCP, TLS and WebSocket listeners). Every field but maxFrameSize is optional. */
export interface MqttServerOptions {
  /** Largest frame/packet accepted after authentication, bytes (MQTT Maximum Packet Size). */
  maxFrameSize: number;
  /** Largest packet before CONNECT is accepted (RabbitMQ's max_packet_size_unauthenticated). Default 65536. */
  maxPacketSizeUnauthenticated?: number;
  /** Vhost used when the username carries none (`vhost:user`). Default '/'. */
  defaultVhost?: string;
  /** Exchange PUBLISH goes to and subscriptions bind to. Default 'amq.topic'. */
  exchange?: string;
  /** Accept connections without a username, as `anonymousUser` (RabbitMQ's allow_anonymous). Default true. */
  allowAnonymous?: boolean;
  /** Credentials of anonymous connections (RabbitMQ's default_user / default_pass). Default guest/guest. */
  anonymousUser?: { username: string; password: string };
  /** Bound on each persistent session's queue (x-max-length; oldest dropped). 0 = unbounded. Default 0. */
  maxOfflineMessages?: number;
  /**
   * Cap on the bytes of all retained messages: a retained PUBLISH past it is refused (MQTT 5: PUBACK/PUBREC 0x97
   * Quota exceeded, DISCONNECT 0x97 for QoS 0; 3.1.1: the connection is closed). Default 1 GiB.
   */
  maxRetainedBytes?: number;
  /** Cap on the session expiry interval, seconds; also the expiry of MQTT 3.1.1 persistent sessions. Default 86400. */
  maxSessionExpiry?: number;
  /** Receive Maximum announced to MQTT 5 clients (inbound QoS ≥ 1 in flight). Default 65535. */
  receiveMaximum?: number;
  /** Topic Alias Maximum announced to MQTT 5 clients. Default 64. */
  topicAliasMaximum?: number;
  /** A client must send CONNECT within this long, ms. Default 10000. */
  connectTimeoutMs?: number;
  /**
   * Largest keep-alive a client may use, seconds (Mosquitto's max_keepalive): MQTT 5 clients asking for more, or for
   * 0, get it as Server Keep Alive and are held to it; MQTT 3.1.1 clients keep their own (they cannot be told), as with
   * Mosquitto. 0 = no maximum. Default 0.
   */
  maxKeepAlive?: number;
  /** Publish `$SYS/broker/...` statistics every this many seconds (Mosquitto's sys_interval); 0 = never. Default 10. */
  sysInterval?: number;
  /**
   * Topic filters one session may have subscribed; past it SUBACK carries a failure (0x80, MQTT 5 0x97 Quota
   * Exceeded) for each new filter. 0 = no cap. Default 50000.
   */
  maxSubscriptions?: number;
  /**
   * RabbitMQ's mqtt.ssl_cert_login: a client that presents a verified TLS certificate and no username logs in as the
   * certificate's user (never as the anonymous user). Default false.
   */
  sslCertLogin?: boolean;
  /** The user name of a certificate login (RabbitMQ's ssl_cert_login_from). Default 'distinguished_name'. */
  certLoginFrom?: 'distinguished_name' | 'common_name';
  /**
   * Close a client that does not read: its output stayed over the writer's high-water mark this long, ms (its
   * unacknowledged messages are requeued). 0 = never. Default the transport's DEFAULT_SLOW_CONSUMER_TIMEOUT_MS.
   */
  slowConsumerTimeoutMs?: number;
}

export interface MqttServiceContext {
  broker: BrokerApi;
  logger: Logger;
  options: MqttServerOptions;
  /** The broker's data directory (for state this adapter keeps on disk). '' keeps it in memory. */
  dataDir: string;
  /**
   * Where retained messages and persistent sessions are kept, instead of the state log in `<dataDir>/mqtt/` (tests
   * and embedders; the service closes it).
   */
  stateLog?: StateLog;
}

/** One per broker: shared state of every Mqtt connection (sessions, registries). */
export interface MqttService extends ProtocolService {
  /**
   * Serve one accepted connection until it closes: a TCP or TLS socket, or a WebSocket wrapped as a Duplex
   * (the web listeners pass `ws.createWebSocketStream(socket)`). Never throws; errors close only this connection.
   */
  handleConnection(stream: Duplex, info: ConnectionInfo): void;
  /** Close every connection and release resources. */
  close(): Promise<void>;
  /** Live connections. */
  readonly connectionCount: number;
  /** Its sessions and retained messages, for the management UI's MQTT view. */
  readonly state: MqttStateView;
  /** Counts of the per-connection structures live connections made (tests and diagnostics; walks every connection). */
  debugStats(): MqttDebugStats;
}

/**
 * The MQTT adapter's defaults (RabbitMQ's mqtt plugin's where it has one); the server's settings table takes its
 * defaults from here, so a standalone service and `warren` agree.
 */
export const DEFAULT_MQTT_OPTIONS = {
  defaultVhost: '/',
  exchange: 'amq.topic',
  allowAnonymous: true,
  anonymousUser: { username: 'guest', password: 'guest' },
  /** The MQTT maximum: a remaining length of 268,435,455 bytes. */
  maxFrameSize: 268435455,
  maxPacketSizeUnauthenticated: 65536,
  maxOfflineMessages: 0,
  maxRetainedBytes: 1024 ** 3,
  sysInterval: 10,
  sslCertLogin: false,
  certLoginFrom: 'distinguished_name',
  receiveMaximum: 65535,
  topicAliasMaximum: 64,
  maxSessionExpiry: 86400,
  connectTimeoutMs: 10000,
  maxKeepAlive: 0,
  maxSubscriptions: 50000,
} as const;

/**
 * Create the MQTT service. Retained messages and persistent-session state load from the state log in
 * `<dataDir>/mqtt/` (created if missing).
 */
export function createMqttService(ctx: MqttServiceContext): MqttService {
  const o = ctx.options;
  const D = DEFAULT_MQTT_OPTIONS;
  return new MqttServiceImpl(ctx.broker, ctx.logger, {
    defaultVhost: o.defaultVhost ?? D.defaultVhost,
    exchange: o.exchange ?? D.exchange,
    allowAnonymous: o.allowAnonymous ?? D.allowAnonymous,
    anonymousUser: o.anonymousUser ?? { ...D.anonymousUser },
    maxOfflineMessages: o.maxOfflineMessages ?? D.maxOfflineMessages,
    maxRetainedBytes: o.maxRetainedBytes ?? D.maxRetainedBytes,
    stateDir: ctx.dataDir === '' ? undefined : join(ctx.dataDir, 'mqtt'),
    sysInterval: o.sysInterval ?? D.sysInterval,
    sslCertLogin: o.sslCertLogin ?? D.sslCertLogin,
    certLoginFrom: o.certLoginFrom ?? D.certLoginFrom,
    slowConsumerTimeoutMs: o.slowConsumerTimeoutMs ?? DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
    ...(ctx.stateLog !== undefined ? { stateLog: ctx.stateLog } : {}),
    limits: {
      maxPacketSize: o.maxFrameSize,
      maxPacketSizeUnauthenticated: o.maxPacketSizeUnauthenticated ?? D.maxPacketSizeUnauthenticated,
      receiveMaximum: o.receiveMaximum ?? D.receiveMaximum,
      topicAliasMaximum: o.topicAliasMaximum ?? D.topicAliasMaximum,
      maxSessionExpiry: o.maxSessionExpiry ?? D.maxSessionExpiry,
      connectTimeoutMs: o.connectTimeoutMs ?? D.connectTimeoutMs,
      maxKeepAlive: o.maxKeepAlive ?? D.maxKeepAlive,
      maxSubscriptions: o.maxSubscriptions ?? D.maxSubscriptions,
    },
  });
}

