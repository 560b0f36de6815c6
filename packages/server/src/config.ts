/**
 * Configuration: defaults, the JSON config file, WARREN_* environment variables and command-line flags, merged with
 * the precedence flag > environment > config file > default, then validated with errors that name the setting and
 * where its bad value came from.
 *
 * Every setting is described once, in {@link SETTINGS}; flags, environment variables, parsing and `--help` all
 * derive from that table so they cannot drift apart.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_AMQP_OPTIONS } from '@warren/amqp';
import { DEFAULT_MQTT_OPTIONS } from '@warren/mqtt';
import { DEFAULT_STOMP_OPTIONS } from '@warren/stomp';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS } from '@warren/transport';
import { WEB_MQTT_PORT, WEB_MQTT_TLS_PORT } from '@warren/web-mqtt';
import { WEB_STOMP_PORT, WEB_STOMP_TLS_PORT } from '@warren/web-stomp';

/** A listener port: a number (0 = any free port), or null to disable the listener. */
export type PortSetting = number | null;

/** The full configuration; every field has a default ({@link DEFAULT_CONFIG}). */
export interface WarrenConfig {
  /** Where state lives (and the generated self-signed certificate). Default './data'. */
  dataDir: string;
  log: { level: string };
  /** Interface to bind every listener to; default '::' (all interfaces, IPv4 and IPv6). */
  host: string;
  /** The default user, created at start. */
  defaultUser: { username: string; password: string };
  /** Users that may connect only from loopback addresses. Default ['guest']. */
  loopbackUsers: string[];
  /** Disk alarm below this many free bytes in dataDir (RabbitMQ's disk_free_limit). Default 50000000 (50MB). */
  diskFreeLimit: number;
  /**
   * Memory alarm above this resident set size: a fraction (≤ 1) of the machine's memory, or bytes (> 1).
   * RabbitMQ's vm_memory_high_watermark; default 0.4.
   */
  vmMemoryHighWatermark: number;
  /**
   * Bytes of messages each queue keeps in memory (bodies plus about 400 bytes of bookkeeping each); the rest wait on
   * disk in dataDir and are read back as consumers catch up. Default 8388608 (8 MiB).
   */
  queueMemoryBudget: number;
  /**
   * Message store files (segment and ack files of queues with messages on disk) kept open at once; past it idle ones
   * are closed and reopened when needed. Default 4096.
   */
  maxOpenFiles: number;
  /**
   * Connections each listener holds before their client has logged in (TLS handshake, WebSocket upgrade, protocol
   * login); further ones are closed as they arrive. Default 1000.
   */
  maxUnauthenticatedConnections: number;
  /**
   * Disconnect a client of any protocol (AMQP, STOMP, MQTT) whose output stays above the high-water mark this long,
   * requeueing its unacked messages (ms; 0 = never). Default 60000.
   */
  slowConsumerTimeoutMs: number;
  amqp: {
    port: PortSetting; // 5672
    tlsPort: PortSetting; // 5671
    frameMax: number;
    channelMax: number;
    heartbeat: number;
    maxMessageSize: number;
    handshakeTimeoutMs: number;
    /** Consumers one channel may have (RabbitMQ's consumer_max_per_channel); 0 = no cap. Default 50000. */
    consumerMaxPerChannel: number;
  };
  /** STOMP 1.0–1.2 (RabbitMQ's STOMP plugin settings). */
  stomp: {
    port: PortSetting; // 61613
    tlsPort: PortSetting; // 61614
    /** The vhost of a CONNECT without a `host` header. Default '/'. */
    defaultVhost: string;
    /** Largest frame accepted after CONNECT, bytes. Default 16 MiB. */
    maxFrameSize: number;
    /** Time a client has to send CONNECT (and finish TLS), ms. Default 10000. */
    connectTimeoutMs: number;
    /** Subscriptions one STOMP connection may have at once; 0 = no cap. Default 50000. */
    maxSubscriptions: number;
    /** A client with a verified certificate and no login connects as its certificate's user (RabbitMQ's stomp.ssl_cert_login). Default false. */
    sslCertLogin: boolean;
  };
  /** MQTT 3.1/3.1.1/5.0 (RabbitMQ's MQTT plugin settings, plus Warren's session and packet limits). */
  mqtt: {
    port: PortSetting; // 1883
    tlsPort: PortSetting; // 8883
    /** The vhost of a username without `vhost:`. Default '/'. */
    defaultVhost: string;
    /** Exchange MQTT publishes to and subscriptions bind to. Default 'amq.topic'. */
    exchange: string;
    /** Accept connections without a username, as `defaultUser` (RabbitMQ's allow_anonymous). Default true. */
    allowAnonymous: boolean;
    /**
     * The user an MQTT connection without a username authenticates as (RabbitMQ's mqtt.default_user), with the
     * checks of any login (password, loopback-only users, vhost access). Never the broker's default user: with
     * `--default-user admin` an anonymous client would otherwise be the administrator. Default 'guest'.
     */
    defaultUser: string;
    /** The password of `defaultUser` (RabbitMQ's mqtt.default_pass). Default 'guest'. */
    defaultPass: string;
    /** Largest MQTT packet accepted after CONNECT, bytes (MQTT 5 Maximum Packet Size). Default 268435455. */
    maxPacketSize: number;
    /** Bound on each persistent session's queue while offline (oldest dropped); 0 = none. Default 0. */
    maxOfflineMessages: number;
    /** Cap on the bytes of all retained messages; a retained PUBLISH past it is refused. Default 1 GiB. */
    maxRetainedBytes: number;
    /** Cap on the session expiry interval (and the expiry of 3.1.1 persistent sessions), seconds. Default 86400. */
    maxSessionExpiry: number;
    /** Largest MQTT 5 client keep-alive, seconds (Server Keep Alive; Mosquitto's max_keepalive); 0 = none. Default 0. */
    maxKeepAlive: number;
    /** Interval of the `$SYS/broker/...` statistics, seconds (Mosquitto's sys_interval); 0 = off. Default 10. */
    sysInterval: number;
    /** Topic filters one MQTT session may have subscribed; 0 = no cap. Default 50000. */
    maxSubscriptions: number;
    /** A client with a verified certificate and no username connects as its certificate's user (RabbitMQ's mqtt.ssl_cert_login). Default false. */
    sslCertLogin: boolean;
  };
  /** STOMP over WebSocket (RabbitMQ's web_stomp plugin). */
  webStomp: {
    port: PortSetting; // 15674
    /** wss:// port; the listener starts only when a certificate is configured (tls.certFile). */
    tlsPort: PortSetting; // 15673
    /** URL path of the WebSocket endpoint. Default '/ws'. */
    path: string;
    /** Send STOMP frames in binary WebSocket messages instead of text (RabbitMQ's web_stomp.ws_frame). */
    binaryFrames: boolean;
    /** Browser origins allowed to connect ('*' = any, the default). */
    allowedOrigins: string[];
    /** Take the peer address from X-Forwarded-For (behind a reverse proxy only). Default false. */
    trustProxy: boolean;
  };
  /** MQTT over WebSocket (RabbitMQ's web_mqtt plugin). */
  webMqtt: {
    port: PortSetting; // 15675
    /** wss:// port; the listener starts only when a certificate is configured (tls.certFile). */
    tlsPort: PortSetting; // 15676
    path: string;
    allowedOrigins: string[];
    trustProxy: boolean;
  };
  /** The management HTTP API (RabbitMQ's management plugin). */
  management: {
    port: PortSetting; // 15672
    /** https:// port; the listener starts only when a certificate is configured (tls.certFile). */
    tlsPort: PortSetting; // 15671
    /** Largest request body accepted, bytes (RabbitMQ's management.http_max_body_size). Default 10 MiB. */
    maxBodySize: number;
  };
  /** Prometheus metrics (RabbitMQ's rabbitmq_prometheus plugin). */
  prometheus: {
    port: PortSetting; // 15692
  };
  /**
   * Authentication and authorisation backends (RabbitMQ's auth_backends, rabbitmq_auth_backend_http and
   * rabbitmq_auth_backend_cache). Internal users only by default.
   */
  /**
   * Replicated mode (etcd elects the leader; followers replicate its data directory and forward clients to it).
   * Off unless `etcd` is set.
   */
  cluster: {
    /** etcd client URLs; unset = a single node. */
    etcd?: string[];
    /** Members sharing this name form one cluster. Default 'warren'. */
    name: string;
    /** This member's name, unique in the cluster. Default: the host name. */
    nodeName?: string;
    /** Port of the replication link (followers connect to the leader's). Default 25672 (RabbitMQ's inter-node port). */
    port: number;
    /** Address the other members use to reach this one (replication link and forwarded clients). Default: the host name. */
    advertiseHost?: string;
    /** Lease TTL in etcd, seconds: a leader that cannot renew it for this long stops serving. Default 5. */
    leaseTtl: number;
    /** A follower that has not acknowledged a change for this long leaves the in-sync replica set (ms). Default 5000. */
    ackTimeoutMs: number;
    /** Shared secret the members prove on the replication link (required with `etcd`). */
    secret?: string;
  };
  auth: {
    /** Backends in the order they are tried: 'internal', 'http'. Default ['internal']. */
    backends: string[];
    /** rabbitmq_auth_backend_http's user_path (required with the http backend). */
    httpUserPath?: string;
    /** vhost_path; unset: every vhost is allowed to a user the backend authenticated. */
    httpVhostPath?: string;
    /** resource_path; unset: every resource is allowed. */
    httpResourcePath?: string;
    /** topic_path; unset: every routing key is allowed. */
    httpTopicPath?: string;
    /** 'get' (query string, RabbitMQ's default) or 'post' (form body, keeps passwords out of access logs). */
    httpMethod: string;
    /** Time a backend request may take before it counts as a refusal (ms). Default 15000. */
    httpTimeoutMs: number;
    /** How long backend answers are cached (ms; rabbitmq_auth_backend_cache's cache_ttl). Default 15000. */
    cacheTtlMs: number;
  };
  tls: {
    certFile?: string;
    keyFile?: string;
    caFile?: string;
    /** Generate a self-signed certificate into dataDir when no certFile/keyFile are configured. Default true. */
    selfSigned: boolean;
    /** RabbitMQ's ssl_options.verify: 'peer' asks clients for a certificate and refuses untrusted ones. Default 'none'. */
    verify: 'peer' | 'none';
    /** RabbitMQ's ssl_options.fail_if_no_peer_cert: with verify 'peer', refuse clients without a certificate. Default false. */
    failIfNoPeerCert: boolean;
    /** RabbitMQ's ssl_cert_login_from: the user name a certificate logs in as. Default 'distinguished_name'. */
    certLoginFrom: 'distinguished_name' | 'common_name';
    /** How often the certificate, key and CA files are checked for changes, ms (0 = never). Default 10000. */
    reloadIntervalMs: number;
  };
}

/** Any part of the configuration; the rest takes defaults. */
export type WarrenConfigInput = {
  [K in keyof WarrenConfig]?: WarrenConfig[K] extends object ? Partial<WarrenConfig[K]> : WarrenConfig[K];
};

/** A configuration problem; `message` says which setting, what is wrong and where the value came from. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Log levels accepted by `log.level` (pino's, plus 'silent'). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

type Kind = 'string' | 'port' | 'int' | 'level' | 'list' | 'bool' | 'file' | 'bytes' | 'watermark' | 'choice';

/** One configurable field: its path in {@link WarrenConfig}, flag, environment variable and constraints. */
export interface Setting {
  /** Dotted path in the config file, e.g. 'amqp.port'. */
  path: string;
  /** Long flag without dashes, e.g. 'amqp-port'. */
  flag: string;
  /** Environment variable, e.g. 'WARREN_AMQP_PORT'. */
  env: string;
  /** Value placeholder for --help ('' for a switch). */
  arg: string;
  description: string;
  kind: Kind;
  min?: number;
  max?: number;
  /** The allowed values of a 'choice'. */
  choices?: readonly string[];
  /** May be left unset (no default). */
  optional?: boolean;
  /**
   * The value when nothing sets it; {@link DEFAULT_CONFIG} is built from these. Absent only for settings that may
   * stay unset (files, optional URLs). Where an adapter needs the same default when used on its own, the row takes
   * the adapter's exported constant, so the number lives in one place.
   */
  default?: string | number | boolean | readonly string[];
}

/** Every setting. Order is the order of `--help`. */
export const SETTINGS: readonly Setting[] = [
  { path: 'dataDir', flag: 'data-dir', env: 'WARREN_DATA_DIR', arg: '<dir>', kind: 'string',
    default: './data', description: 'directory for state and the generated TLS certificate' },
  { path: 'log.level', flag: 'log-level', env: 'WARREN_LOG_LEVEL', arg: '<level>', kind: 'level',
    default: 'info', description: `log level: ${LOG_LEVELS.join(', ')}` },
  { path: 'host', flag: 'host', env: 'WARREN_HOST', arg: '<addr>', kind: 'string',
    default: '::', description: "address every listener binds ('::' = all interfaces, IPv4 and IPv6)" },
  { path: 'amqp.port', flag: 'amqp-port', env: 'WARREN_AMQP_PORT', arg: '<n|off>', kind: 'port',
    default: 5672, description: "AMQP 0-9-1 port (0 = any free port, 'off' = disabled)" },
  { path: 'amqp.tlsPort', flag: 'amqps-port', env: 'WARREN_AMQPS_PORT', arg: '<n|off>', kind: 'port',
    default: 5671, description: "AMQP 0-9-1 over TLS port (0 = any free port, 'off' = disabled)" },
  // AMQP 0-9-1 §4.2.3: frame-min-size is 4096; frame-max is a long (32 bits).
  { path: 'amqp.frameMax', flag: 'frame-max', env: 'WARREN_FRAME_MAX', arg: '<bytes>', kind: 'int',
    min: 4096, max: 0xffffffff, default: DEFAULT_AMQP_OPTIONS.frameMax, description: 'largest AMQP frame, proposed in connection.tune' },
  // channel-max is a short; 0 means "no limit" in connection.tune.
  { path: 'amqp.channelMax', flag: 'channel-max', env: 'WARREN_CHANNEL_MAX', arg: '<n>', kind: 'int',
    min: 0, max: 0xffff, default: DEFAULT_AMQP_OPTIONS.channelMax, description: 'highest channel number, proposed in connection.tune (0 = 65535)' },
  { path: 'amqp.heartbeat', flag: 'heartbeat', env: 'WARREN_HEARTBEAT', arg: '<s>', kind: 'int',
    min: 0, max: 0xffff, default: DEFAULT_AMQP_OPTIONS.heartbeat, description: 'heartbeat interval proposed in connection.tune, seconds (0 = off)' },
  // RabbitMQ refuses max_message_size above 512 MiB.
  { path: 'amqp.maxMessageSize', flag: 'max-message-size', env: 'WARREN_MAX_MESSAGE_SIZE', arg: '<bytes>',
    kind: 'int', min: 1, max: 536870912, default: DEFAULT_AMQP_OPTIONS.maxMessageSize, description: 'largest message body accepted' },
  { path: 'amqp.handshakeTimeoutMs', flag: 'handshake-timeout', env: 'WARREN_HANDSHAKE_TIMEOUT', arg: '<ms>',
    kind: 'int', min: 1, max: 3600000, default: DEFAULT_AMQP_OPTIONS.handshakeTimeoutMs, description: 'time a client has to finish the AMQP (and TLS) handshake' },
  { path: 'slowConsumerTimeoutMs', flag: 'slow-consumer-timeout', env: 'WARREN_SLOW_CONSUMER_TIMEOUT',
    arg: '<ms>', kind: 'int', min: 0, max: 86400000,
    default: DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, description: 'disconnect a client whose output stays above the high-water mark this long, requeueing its unacked messages (0 = never)' },
  { path: 'amqp.consumerMaxPerChannel', flag: 'consumer-max-per-channel', env: 'WARREN_CONSUMER_MAX_PER_CHANNEL',
    arg: '<n>', kind: 'int', min: 0, default: DEFAULT_AMQP_OPTIONS.consumerMaxPerChannel!, description: 'consumers one AMQP channel may have; one more closes the connection with 530 (0 = no cap)' },
  { path: 'diskFreeLimit', flag: 'disk-free-limit', env: 'WARREN_DISK_FREE_LIMIT', arg: '<bytes>', kind: 'bytes',
    default: 50_000_000, description: 'disk alarm (publishers blocked) when the data directory has less free space; units kB, MB, GB, KiB, MiB, GiB' },
  { path: 'vmMemoryHighWatermark', flag: 'vm-memory-high-watermark', env: 'WARREN_VM_MEMORY_HIGH_WATERMARK',
    arg: '<f|bytes>', kind: 'watermark',
    default: 0.4, description: 'memory alarm (publishers blocked) above this RSS: a fraction of total memory (<= 1) or bytes (e.g. 2GB)' },
  { path: 'queueMemoryBudget', flag: 'queue-memory-budget', env: 'WARREN_QUEUE_MEMORY_BUDGET', arg: '<bytes>',
    kind: 'bytes', default: 8 * 1024 * 1024, description: 'message bytes each queue keeps in memory; the rest stay on disk until consumers catch up' },
  { path: 'maxOpenFiles', flag: 'max-open-files', env: 'WARREN_MAX_OPEN_FILES', arg: '<n>', kind: 'int',
    default: 4096, description: 'message store files kept open at once (idle ones beyond it are closed and reopened when needed)' },
  { path: 'maxUnauthenticatedConnections', flag: 'max-unauthenticated-connections', env: 'WARREN_MAX_UNAUTHENTICATED_CONNECTIONS',
    arg: '<n>', kind: 'int', min: 1,
    default: 1000, description: 'connections each listener holds before their client logs in (TLS handshake, protocol login); more are closed' },
  { path: 'stomp.port', flag: 'stomp-port', env: 'WARREN_STOMP_PORT', arg: '<n|off>', kind: 'port',
    default: 61613, description: "STOMP port (0 = any free port, 'off' = disabled)" },
  { path: 'stomp.tlsPort', flag: 'stomps-port', env: 'WARREN_STOMPS_PORT', arg: '<n|off>', kind: 'port',
    default: 61614, description: "STOMP over TLS port (0 = any free port, 'off' = disabled)" },
  { path: 'stomp.defaultVhost', flag: 'stomp-default-vhost', env: 'WARREN_STOMP_DEFAULT_VHOST', arg: '<vhost>',
    kind: 'string', default: DEFAULT_STOMP_OPTIONS.defaultVhost, description: 'vhost of a STOMP CONNECT without a host header' },
  { path: 'stomp.maxFrameSize', flag: 'stomp-max-frame-size', env: 'WARREN_STOMP_MAX_FRAME_SIZE', arg: '<bytes>',
    kind: 'int', min: 4096, max: 536870912, default: DEFAULT_STOMP_OPTIONS.maxFrameSize, description: 'largest STOMP frame accepted after CONNECT' },
  { path: 'stomp.connectTimeoutMs', flag: 'stomp-connect-timeout', env: 'WARREN_STOMP_CONNECT_TIMEOUT', arg: '<ms>',
    kind: 'int', min: 1, max: 3600000, default: DEFAULT_STOMP_OPTIONS.connectTimeoutMs, description: 'time a STOMP client has to send CONNECT' },
  { path: 'stomp.maxSubscriptions', flag: 'stomp-max-subscriptions', env: 'WARREN_STOMP_MAX_SUBSCRIPTIONS', arg: '<n>',
    kind: 'int', min: 0, default: DEFAULT_STOMP_OPTIONS.maxSubscriptions, description: 'subscriptions one STOMP connection may have; one more gets an ERROR frame (0 = no cap)' },
  { path: 'stomp.sslCertLogin', flag: 'stomp-ssl-cert-login', env: 'WARREN_STOMP_SSL_CERT_LOGIN', arg: '', kind: 'bool',
    default: DEFAULT_STOMP_OPTIONS.sslCertLogin, description: 'a STOMP client with a verified certificate and no login connects as the certificate\'s user' },
  { path: 'mqtt.port', flag: 'mqtt-port', env: 'WARREN_MQTT_PORT', arg: '<n|off>', kind: 'port',
    default: 1883, description: "MQTT port (0 = any free port, 'off' = disabled)" },
  { path: 'mqtt.tlsPort', flag: 'mqtts-port', env: 'WARREN_MQTTS_PORT', arg: '<n|off>', kind: 'port',
    default: 8883, description: "MQTT over TLS port (0 = any free port, 'off' = disabled)" },
  { path: 'mqtt.defaultVhost', flag: 'mqtt-default-vhost', env: 'WARREN_MQTT_DEFAULT_VHOST', arg: '<vhost>',
    kind: 'string', default: DEFAULT_MQTT_OPTIONS.defaultVhost, description: "vhost of an MQTT username without 'vhost:'" },
  { path: 'mqtt.exchange', flag: 'mqtt-exchange', env: 'WARREN_MQTT_EXCHANGE', arg: '<name>', kind: 'string',
    default: DEFAULT_MQTT_OPTIONS.exchange, description: 'topic exchange MQTT publishes to and subscribes from' },
  { path: 'mqtt.allowAnonymous', flag: 'mqtt-allow-anonymous', env: 'WARREN_MQTT_ALLOW_ANONYMOUS', arg: '', kind: 'bool',
    default: DEFAULT_MQTT_OPTIONS.allowAnonymous, description: 'accept MQTT connections without a username, as --mqtt-default-user' },
  { path: 'mqtt.defaultUser', flag: 'mqtt-default-user', env: 'WARREN_MQTT_DEFAULT_USER', arg: '<name>', kind: 'string',
    default: DEFAULT_MQTT_OPTIONS.anonymousUser.username, description: 'user of MQTT connections without a username (checked as any login; not --default-user)' },
  { path: 'mqtt.defaultPass', flag: 'mqtt-default-pass', env: 'WARREN_MQTT_DEFAULT_PASS', arg: '<pass>', kind: 'string',
    default: DEFAULT_MQTT_OPTIONS.anonymousUser.password, description: 'password of --mqtt-default-user' },
  // MQTT's remaining length is at most 268435455 (four 7-bit bytes).
  { path: 'mqtt.maxPacketSize', flag: 'mqtt-max-packet-size', env: 'WARREN_MQTT_MAX_PACKET_SIZE', arg: '<bytes>',
    kind: 'int', min: 1024, max: 268435455, default: DEFAULT_MQTT_OPTIONS.maxFrameSize, description: 'largest MQTT packet accepted after CONNECT' },
  { path: 'mqtt.maxRetainedBytes', flag: 'mqtt-max-retained-bytes', env: 'WARREN_MQTT_MAX_RETAINED_BYTES',
    arg: '<bytes>', kind: 'bytes',
    default: DEFAULT_MQTT_OPTIONS.maxRetainedBytes, description: 'cap on all retained MQTT messages; past it a retained PUBLISH is refused (MQTT 5: 0x97 quota exceeded)' },
  { path: 'mqtt.maxOfflineMessages', flag: 'mqtt-max-offline-messages', env: 'WARREN_MQTT_MAX_OFFLINE_MESSAGES',
    arg: '<n>', kind: 'int', min: 0, default: DEFAULT_MQTT_OPTIONS.maxOfflineMessages, description: 'bound on each persistent MQTT session queue (0 = none)' },
  { path: 'mqtt.maxSessionExpiry', flag: 'mqtt-max-session-expiry', env: 'WARREN_MQTT_MAX_SESSION_EXPIRY',
    arg: '<s>', kind: 'int', min: 0, max: 0xffffffff, default: DEFAULT_MQTT_OPTIONS.maxSessionExpiry, description: 'cap on MQTT session expiry intervals, seconds' },
  { path: 'mqtt.maxKeepAlive', flag: 'mqtt-max-keep-alive', env: 'WARREN_MQTT_MAX_KEEP_ALIVE', arg: '<s>', kind: 'int',
    min: 0, max: 65535, default: DEFAULT_MQTT_OPTIONS.maxKeepAlive, description: 'largest MQTT 5 keep-alive, seconds, sent as Server Keep Alive (0 = none)' },
  { path: 'mqtt.sysInterval', flag: 'mqtt-sys-interval', env: 'WARREN_MQTT_SYS_INTERVAL', arg: '<s>', kind: 'int',
    min: 0, max: 86400, default: DEFAULT_MQTT_OPTIONS.sysInterval, description: 'seconds between $SYS/broker/... MQTT statistics (0 = off)' },
  { path: 'mqtt.maxSubscriptions', flag: 'mqtt-max-subscriptions', env: 'WARREN_MQTT_MAX_SUBSCRIPTIONS', arg: '<n>',
    kind: 'int', min: 0, default: DEFAULT_MQTT_OPTIONS.maxSubscriptions, description: 'topic filters one MQTT session may subscribe; more get a failure code in SUBACK (0 = no cap)' },
  { path: 'mqtt.sslCertLogin', flag: 'mqtt-ssl-cert-login', env: 'WARREN_MQTT_SSL_CERT_LOGIN', arg: '', kind: 'bool',
    default: DEFAULT_MQTT_OPTIONS.sslCertLogin, description: 'an MQTT client with a verified certificate and no username connects as the certificate\'s user' },
  { path: 'webStomp.port', flag: 'web-stomp-port', env: 'WARREN_WEB_STOMP_PORT', arg: '<n|off>', kind: 'port',
    default: WEB_STOMP_PORT, description: "STOMP over WebSocket port (0 = any free port, 'off' = disabled)" },
  { path: 'webStomp.tlsPort', flag: 'web-stomp-tls-port', env: 'WARREN_WEB_STOMP_TLS_PORT', arg: '<n|off>',
    kind: 'port', default: WEB_STOMP_TLS_PORT, description: 'STOMP over secure WebSocket port, used when --tls-cert is given' },
  { path: 'webStomp.path', flag: 'web-stomp-path', env: 'WARREN_WEB_STOMP_PATH', arg: '<path>', kind: 'string',
    default: '/ws', description: 'URL path of the STOMP WebSocket endpoint' },
  { path: 'webStomp.binaryFrames', flag: 'web-stomp-binary', env: 'WARREN_WEB_STOMP_BINARY', arg: '', kind: 'bool',
    default: false, description: 'send STOMP frames in binary WebSocket messages (default: text, as RabbitMQ)' },
  { path: 'webStomp.allowedOrigins', flag: 'web-stomp-origins', env: 'WARREN_WEB_STOMP_ORIGINS', arg: '<a,b>',
    kind: 'list', default: ['*'], description: "browser origins allowed on the STOMP WebSocket ('*' = any)" },
  { path: 'webStomp.trustProxy', flag: 'web-stomp-trust-proxy', env: 'WARREN_WEB_STOMP_TRUST_PROXY', arg: '',
    kind: 'bool', default: false, description: 'take STOMP WebSocket peer addresses from X-Forwarded-For' },
  { path: 'webMqtt.port', flag: 'web-mqtt-port', env: 'WARREN_WEB_MQTT_PORT', arg: '<n|off>', kind: 'port',
    default: WEB_MQTT_PORT, description: "MQTT over WebSocket port (0 = any free port, 'off' = disabled)" },
  { path: 'webMqtt.tlsPort', flag: 'web-mqtt-tls-port', env: 'WARREN_WEB_MQTT_TLS_PORT', arg: '<n|off>',
    kind: 'port', default: WEB_MQTT_TLS_PORT, description: 'MQTT over secure WebSocket port, used when --tls-cert is given' },
  { path: 'webMqtt.path', flag: 'web-mqtt-path', env: 'WARREN_WEB_MQTT_PATH', arg: '<path>', kind: 'string',
    default: '/ws', description: 'URL path of the MQTT WebSocket endpoint' },
  { path: 'webMqtt.allowedOrigins', flag: 'web-mqtt-origins', env: 'WARREN_WEB_MQTT_ORIGINS', arg: '<a,b>',
    kind: 'list', default: ['*'], description: "browser origins allowed on the MQTT WebSocket ('*' = any)" },
  { path: 'webMqtt.trustProxy', flag: 'web-mqtt-trust-proxy', env: 'WARREN_WEB_MQTT_TRUST_PROXY', arg: '',
    kind: 'bool', default: false, description: 'take MQTT WebSocket peer addresses from X-Forwarded-For' },
  { path: 'management.port', flag: 'management-port', env: 'WARREN_MANAGEMENT_PORT', arg: '<n|off>', kind: 'port',
    default: 15672, description: "management HTTP API port (0 = any free port, 'off' = disabled)" },
  { path: 'management.tlsPort', flag: 'management-tls-port', env: 'WARREN_MANAGEMENT_TLS_PORT', arg: '<n|off>',
    kind: 'port', default: 15671, description: 'management HTTP API over TLS port, used when --tls-cert is given' },
  { path: 'management.maxBodySize', flag: 'management-max-body-size', env: 'WARREN_MANAGEMENT_MAX_BODY_SIZE',
    arg: '<bytes>', kind: 'bytes', default: 10 * 1024 * 1024, description: 'largest management API request body accepted' },
  { path: 'prometheus.port', flag: 'prometheus-port', env: 'WARREN_PROMETHEUS_PORT', arg: '<n|off>', kind: 'port',
    default: 15692, description: "Prometheus metrics port (0 = any free port, 'off' = disabled)" },
  { path: 'tls.certFile', flag: 'tls-cert', env: 'WARREN_TLS_CERT', arg: '<file>', kind: 'file',
    description: 'server certificate (PEM) for the TLS listeners' },
  { path: 'tls.keyFile', flag: 'tls-key', env: 'WARREN_TLS_KEY', arg: '<file>', kind: 'file',
    description: 'private key (PEM) of the server certificate' },
  { path: 'tls.caFile', flag: 'tls-ca', env: 'WARREN_TLS_CA', arg: '<file>', kind: 'file',
    description: 'CA bundle (PEM) that client certificates must chain to (with --tls-verify peer)' },
  { path: 'tls.verify', flag: 'tls-verify', env: 'WARREN_TLS_VERIFY', arg: '<peer|none>', kind: 'choice',
    choices: ['peer', 'none'],
    default: 'none', description: "client certificates (ssl_options.verify): 'peer' asks for one and refuses untrusted ones; 'none' asks for none" },
  { path: 'tls.failIfNoPeerCert', flag: 'tls-fail-if-no-peer-cert', env: 'WARREN_TLS_FAIL_IF_NO_PEER_CERT', arg: '',
    kind: 'bool', default: false, description: 'with --tls-verify peer, also refuse clients that send no certificate' },
  { path: 'tls.certLoginFrom', flag: 'ssl-cert-login-from', env: 'WARREN_SSL_CERT_LOGIN_FROM',
    arg: '<distinguished_name|common_name>', kind: 'choice', choices: ['distinguished_name', 'common_name'],
    default: 'distinguished_name', description: 'user name of a certificate login (SASL EXTERNAL, MQTT/STOMP cert login): subject DN (RFC 4514) or CN' },
  { path: 'tls.reloadIntervalMs', flag: 'tls-reload-interval', env: 'WARREN_TLS_RELOAD_INTERVAL', arg: '<ms>', kind: 'int',
    min: 0, max: 86400000, default: 10000, description: 'check the certificate, key and CA files this often and serve new connections the new ones (0 = never)' },
  { path: 'tls.selfSigned', flag: 'self-signed', env: 'WARREN_SELF_SIGNED', arg: '', kind: 'bool',
    default: true, description: 'without --tls-cert/--tls-key, generate a localhost certificate into <data-dir>/tls' },
  { path: 'defaultUser.username', flag: 'default-user', env: 'WARREN_DEFAULT_USER', arg: '<name>', kind: 'string',
    default: 'guest', description: 'user created at start' },
  { path: 'defaultUser.password', flag: 'default-pass', env: 'WARREN_DEFAULT_PASS', arg: '<pass>', kind: 'string',
    default: 'guest', description: "that user's password" },
  { path: 'loopbackUsers', flag: 'loopback-users', env: 'WARREN_LOOPBACK_USERS', arg: '<a,b>', kind: 'list',
    default: ['guest'], description: "users allowed to connect from loopback addresses only ('' = none)" },
  { path: 'cluster.etcd', flag: 'cluster-etcd', env: 'WARREN_CLUSTER_ETCD', arg: '<url,url>', kind: 'list', optional: true,
    description: 'etcd endpoints: run as a member of a replicated cluster (unset = a single node)' },
  { path: 'cluster.name', flag: 'cluster-name', env: 'WARREN_CLUSTER_NAME', arg: '<name>', kind: 'string',
    default: 'warren', description: 'cluster name: members with the same name (and etcd) form one cluster' },
  { path: 'cluster.nodeName', flag: 'node-name', env: 'WARREN_NODE_NAME', arg: '<name>', kind: 'string', optional: true,
    description: "this member's name, unique in its cluster (default: the host name)" },
  { path: 'cluster.port', flag: 'cluster-port', env: 'WARREN_CLUSTER_PORT', arg: '<n>', kind: 'int', min: 0, max: 65535,
    default: 25672, description: 'port of the replication link, which followers connect to on the leader (0 = any free port)' },
  { path: 'cluster.advertiseHost', flag: 'cluster-advertise-host', env: 'WARREN_CLUSTER_ADVERTISE_HOST', arg: '<host>',
    kind: 'string', optional: true, description: 'address other members use to reach this one (default: the host name)' },
  { path: 'cluster.leaseTtl', flag: 'cluster-lease-ttl', env: 'WARREN_CLUSTER_LEASE_TTL', arg: '<s>', kind: 'int', min: 1, max: 300,
    default: 5, description: 'etcd lease TTL, seconds: a leader that cannot renew it this long stops serving, and another member takes over' },
  { path: 'cluster.ackTimeoutMs', flag: 'cluster-ack-timeout', env: 'WARREN_CLUSTER_ACK_TIMEOUT', arg: '<ms>', kind: 'int', min: 1, max: 3600000,
    default: 5000, description: 'a follower that has not acknowledged a change this long leaves the in-sync replica set' },
  { path: 'cluster.secret', flag: 'cluster-secret', env: 'WARREN_CLUSTER_SECRET', arg: '<secret>', kind: 'string', optional: true,
    description: 'shared secret members prove on the replication link (required with --cluster-etcd)' },
  { path: 'auth.backends', flag: 'auth-backend', env: 'WARREN_AUTH_BACKEND', arg: '<a,b>', kind: 'list',
    default: ['internal'], description: "authentication backends tried in order: internal, http (e.g. 'internal,http')" },
  { path: 'auth.httpUserPath', flag: 'auth-http-user-path', env: 'WARREN_AUTH_HTTP_USER_PATH', arg: '<url>',
    kind: 'string', optional: true, description: 'http backend: URL asked to authenticate a user (RabbitMQ user_path)' },
  { path: 'auth.httpVhostPath', flag: 'auth-http-vhost-path', env: 'WARREN_AUTH_HTTP_VHOST_PATH', arg: '<url>',
    kind: 'string', optional: true, description: 'http backend: URL asked for vhost access (vhost_path; unset = allowed)' },
  { path: 'auth.httpResourcePath', flag: 'auth-http-resource-path', env: 'WARREN_AUTH_HTTP_RESOURCE_PATH',
    arg: '<url>', kind: 'string', optional: true,
    description: 'http backend: URL asked for queue/exchange access (resource_path; unset = allowed)' },
  { path: 'auth.httpTopicPath', flag: 'auth-http-topic-path', env: 'WARREN_AUTH_HTTP_TOPIC_PATH', arg: '<url>',
    kind: 'string', optional: true, description: 'http backend: URL asked for routing-key access (topic_path; unset = allowed)' },
  { path: 'auth.httpMethod', flag: 'auth-http-method', env: 'WARREN_AUTH_HTTP_METHOD', arg: '<get|post>',
    kind: 'string', default: 'get', description: 'http backend: GET with a query string, or POST with a form body' },
  { path: 'auth.httpTimeoutMs', flag: 'auth-http-timeout', env: 'WARREN_AUTH_HTTP_TIMEOUT', arg: '<ms>', kind: 'int',
    min: 1, max: 600000, default: 15000, description: 'http backend: a request slower than this is a refusal' },
  { path: 'auth.cacheTtlMs', flag: 'auth-cache-ttl', env: 'WARREN_AUTH_CACHE_TTL', arg: '<ms>', kind: 'int',
    min: 0, max: 86400000, default: 15000, description: 'how long external backend answers are cached (at least 1000 ms)' },
];

/**
 * The defaults (RabbitMQ's: ports, frame size, channel max, heartbeat, message size, guest/guest from loopback),
 * gathered from the `default` of every row of {@link SETTINGS}.
 */
export const DEFAULT_CONFIG: Readonly<WarrenConfig> = Object.freeze(defaultsOf(SETTINGS));

function defaultsOf(settings: readonly Setting[]): WarrenConfig {
  const out: Record<string, unknown> = {};
  for (const s of settings) {
    if (s.default !== undefined) setPath(out, s.path, Array.isArray(s.default) ? [...s.default] : s.default);
  }
  return out as unknown as WarrenConfig;
}

/**
 * Config-file paths that were renamed, and their new path. The slow-consumer timeout applies to every protocol, so it
 * left the `amqp` section; a config file written for the old layout keeps working.
 */
const LEGACY_PATHS: ReadonlyMap<string, string> = new Map([['amqp.slowConsumerTimeoutMs', 'slowConsumerTimeoutMs']]);

/** String settings that may be empty: passwords (a passwordless user). */
const EMPTY_ALLOWED: ReadonlySet<string> = new Set(['defaultUser.password', 'mqtt.defaultPass']);

const SECTIONS = [
  'log', 'defaultUser', 'amqp', 'stomp', 'mqtt', 'webStomp', 'webMqtt', 'management', 'prometheus', 'cluster', 'auth', 'tls',
] as const;
type Section = (typeof SECTIONS)[number];

function getPath(obj: Record<string, unknown>, path: string): unknown {
  const [a, b] = path.split('.') as [string, string | undefined];
  if (b === undefined) return obj[a];
  const section = obj[a];
  return typeof section === 'object' && section !== null ? (section as Record<string, unknown>)[b] : undefined;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const [a, b] = path.split('.') as [string, string | undefined];
  if (b === undefined) {
    obj[a] = value;
    return;
  }
  const section = (obj[a] ??= {}) as Record<string, unknown>;
  section[b] = value;
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Parse a flag or environment string into the setting's type. `source` names it in errors. */
function parseText(setting: Setting, text: string, source: string): unknown {
  const bad = (expected: string): ConfigError =>
    new ConfigError(`Invalid ${setting.path} from ${source}: expected ${expected}, got ${JSON.stringify(text)}`);
  switch (setting.kind) {
    case 'string':
    case 'file':
    case 'level':
    case 'choice':
      return text;
    case 'list':
      return text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'bool': {
      const t = text.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(t)) return true;
      if (['false', '0', 'no', 'off'].includes(t)) return false;
      throw bad('true or false');
    }
    case 'port': {
      const t = text.trim().toLowerCase();
      if (t === 'off') return null;
      if (!/^\d+$/.test(t)) throw bad("a port number 0-65535 or 'off'");
      return Number(t);
    }
    case 'int': {
      const t = text.trim();
      if (!/^\d+$/.test(t)) throw bad('a whole number');
      return Number(t);
    }
    case 'bytes':
    case 'watermark': {
      const v = parseInformationUnit(text);
      if (v === undefined) throw bad(setting.kind === 'bytes' ? 'a size such as 50000000 or 50MB' : 'a fraction such as 0.4, or a size such as 2GB');
      return v;
    }
    default: {
      const never: never = setting.kind;
      throw new Error(`unknown setting kind ${String(never)}`);
    }
  }
}

/**
 * A number of bytes with an optional unit, as RabbitMQ reads them (rabbit_resource_monitor_misc): k/K/KiB = 1024,
 * kB/KB = 1000, and likewise for M and G. A plain number is returned as is (a fraction for the watermark).
 * Undefined when the text is not one.
 */
export function parseInformationUnit(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!;
  const factors: Record<string, number> = {
    '': 1, b: 1, B: 1,
    k: 1024, K: 1024, KiB: 1024, kiB: 1024, kB: 1000, KB: 1000,
    m: 1024 ** 2, M: 1024 ** 2, MiB: 1024 ** 2, MB: 1000 ** 2,
    g: 1024 ** 3, G: 1024 ** 3, GiB: 1024 ** 3, GB: 1000 ** 3,
  };
  const f = factors[unit];
  if (f === undefined) return undefined;
  return f === 1 ? n : Math.floor(n * f);
}

/** Check one value of a setting; throws a {@link ConfigError} naming the setting and `source`. */
function checkValue(setting: Setting, value: unknown, source: string): void {
  const fail = (expected: string): never => {
    throw new ConfigError(`Invalid ${setting.path} from ${source}: expected ${expected}, got ${describeValue(value)}`);
  };
  switch (setting.kind) {
    case 'string':
      if (typeof value !== 'string') fail('a string');
      if (!EMPTY_ALLOWED.has(setting.path) && value === '') fail('a non-empty string');
      return;
    case 'file':
      if (typeof value !== 'string' || value === '') fail('a file path');
      return;
    case 'choice':
      if (typeof value !== 'string' || !(setting.choices ?? []).includes(value)) fail(`one of ${(setting.choices ?? []).join(', ')}`);
      return;
    case 'level':
      if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) {
        fail(`one of ${LOG_LEVELS.join(', ')}`);
      }
      return;
    case 'list':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail('a list of strings');
      return;
    case 'bool':
      if (typeof value !== 'boolean') fail('true or false');
      return;
    case 'port':
      if (value === null) return;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
        fail("a port number 0-65535, or null/'off' to disable");
      }
      return;
    case 'int': {
      const min = setting.min ?? 0;
      const max = setting.max ?? Number.MAX_SAFE_INTEGER;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        fail(`a whole number from ${min} to ${max}`);
      }
      return;
    }
    case 'bytes':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail('a size in bytes (0 or more)');
      return;
    case 'watermark':
      if (typeof value !== 'number' || !(value > 0) || (value > 1 && !Number.isSafeInteger(value))) {
        fail('a fraction of total memory (0 < f <= 1) or a whole number of bytes');
      }
      return;
    default: {
      const never: never = setting.kind;
      throw new Error(`unknown setting kind ${String(never)}`);
    }
  }
}

const SETTING_BY_PATH = new Map(SETTINGS.map((s) => [s.path, s]));

/**
 * Check a partial configuration (a config file's contents, or `startBroker`'s argument): unknown fields are errors
 * (they are usually typos), every present field must be valid. Returns it typed. A port may be given as 'off'.
 */
export function checkConfigInput(input: unknown, source: string): WarrenConfigInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError(`Invalid configuration from ${source}: expected a JSON object`);
  }
  for (const [legacy, path] of LEGACY_PATHS) {
    const [section, field] = legacy.split('.') as [string, string];
    const inSection = (input as Record<string, unknown>)[section];
    const old = typeof inSection === 'object' && inSection !== null ? (inSection as Record<string, unknown>)[field] : undefined;
    if (old !== undefined && (input as Record<string, unknown>)[path] !== undefined) {
      throw new ConfigError(`Both ${legacy} and ${path} are set in ${source}: ${legacy} is the old name of ${path}; keep only ${path}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if ((SECTIONS as readonly string[]).includes(key)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ConfigError(`Invalid ${key} from ${source}: expected an object`);
      }
      for (const [field, fieldValue] of Object.entries(value)) {
        if (fieldValue === undefined) continue;
        checkField(LEGACY_PATHS.get(`${key}.${field}`) ?? `${key}.${field}`, fieldValue, source, out);
      }
    } else {
      checkField(key, value, source, out);
    }
  }
  return out as WarrenConfigInput;
}

function checkField(path: string, value: unknown, source: string, out: Record<string, unknown>): void {
  const setting = SETTING_BY_PATH.get(path);
  if (setting === undefined) {
    throw new ConfigError(`Unknown setting ${path} in ${source}`);
  }
  // A config file may say "off" for a disabled port, as a flag or environment variable would.
  let normalized =
    setting.kind === 'port' && typeof value === 'string' && value.trim().toLowerCase() === 'off' ? null : value;
  // Sizes may be written with units ("50MB") in a config file too.
  if ((setting.kind === 'bytes' || setting.kind === 'watermark') && typeof value === 'string') {
    normalized = parseInformationUnit(value) ?? value;
  }
  checkValue(setting, normalized, source);
  setPath(out, path, normalized);
}

/** Read a JSON config file. Errors name the file. */
export async function loadConfigFile(file: string): Promise<WarrenConfigInput> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return checkConfigInput(json, `config file ${file}`);
}

/** The WARREN_* variables present in `env`, as a partial configuration. */
export function configFromEnv(env: NodeJS.ProcessEnv): WarrenConfigInput {
  const out: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const text = env[setting.env];
    if (text === undefined || (text === '' && setting.kind !== 'list' && !EMPTY_ALLOWED.has(setting.path))) {
      continue;
    }
    const source = `environment variable ${setting.env}`;
    const value = parseText(setting, text, source);
    checkValue(setting, value, source);
    setPath(out, setting.path, value);
  }
  return out as WarrenConfigInput;
}

/** What the command line asked for. */
export interface ParsedArgs {
  help: boolean;
  version: boolean;
  /** --config, if given. */
  configFile?: string;
  /** The settings given as flags. */
  config: WarrenConfigInput;
}

type ArgOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function argOptions(): ArgOptions {
  const options: ArgOptions = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
    config: { type: 'string' },
  };
  for (const setting of SETTINGS) {
    if (setting.kind === 'bool') {
      options[setting.flag] = { type: 'boolean' };
      options[`no-${setting.flag}`] = { type: 'boolean' };
    } else {
      options[setting.flag] = { type: 'string' };
    }
  }
  return options;
}

/** Parse command-line flags (node:util parseArgs, strict: unknown flags and stray arguments are errors). */
export function parseFlags(argv: readonly string[]): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({ args: [...argv], options: argOptions(), strict: true, allowPositionals: false });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}. Run 'warren --help' for the list of options.`);
  }
  const config: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const source = `--${setting.flag}`;
    if (setting.kind === 'bool') {
      const on = values[setting.flag];
      const off = values[`no-${setting.flag}`];
      if (on === true && off === true) {
        throw new ConfigError(`--${setting.flag} and --no-${setting.flag} contradict each other`);
      }
      if (on === true) setPath(config, setting.path, true);
      if (off === true) setPath(config, setting.path, false);
      continue;
    }
    const text = values[setting.flag];
    if (typeof text !== 'string') continue;
    const value = parseText(setting, text, source);
    checkValue(setting, value, source);
    setPath(config, setting.path, value);
  }
  const result: ParsedArgs = {
    help: values['help'] === true,
    version: values['version'] === true,
    config: config as WarrenConfigInput,
  };
  const configFile = values['config'];
  if (typeof configFile === 'string') result.configFile = configFile;
  return result;
}

/**
 * Merge partial configurations over the defaults, later layers winning field by field, and validate the result.
 * Pass layers lowest precedence first: `mergeConfig(file, env, flags)`.
 */
export function mergeConfig(...layers: WarrenConfigInput[]): WarrenConfig {
  const merged = structuredClone(DEFAULT_CONFIG) as WarrenConfig;
  const target = merged as unknown as Record<string, unknown>;
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      if ((SECTIONS as readonly string[]).includes(key)) {
        const section = target[key] as Record<string, unknown>;
        for (const [field, fieldValue] of Object.entries(value as object)) {
          if (fieldValue !== undefined) section[field] = Array.isArray(fieldValue) ? [...fieldValue] : fieldValue;
        }
      } else {
        target[key] = Array.isArray(value) ? [...value] : value;
      }
    }
  }
  validateConfig(merged);
  return merged;
}

/** Whole-configuration checks: every field, plus rules that involve several fields. */
export function validateConfig(config: WarrenConfig): void {
  const record = config as unknown as Record<string, unknown>;
  for (const setting of SETTINGS) {
    const value = getPath(record, setting.path);
    if (value === undefined && (setting.kind === 'file' || setting.optional === true)) continue;
    checkValue(setting, value, 'the merged configuration');
  }
  const { certFile, keyFile, selfSigned } = config.tls;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError('tls.certFile and tls.keyFile must be given together (--tls-cert and --tls-key)');
  }
  if (config.amqp.tlsPort !== null && certFile === undefined && !selfSigned) {
    throw new ConfigError(
      "The AMQPS listener needs a certificate: set tls.certFile and tls.keyFile (--tls-cert, --tls-key), " +
        "enable tls.selfSigned, or disable it with --amqps-port off",
    );
  }
  if (config.tls.verify === 'peer' && config.tls.caFile === undefined) {
    throw new ConfigError('tls.verify peer needs the CA that client certificates must chain to: set tls.caFile (--tls-ca)');
  }
  if (config.tls.failIfNoPeerCert && config.tls.verify !== 'peer') {
    throw new ConfigError('tls.failIfNoPeerCert needs tls.verify peer (--tls-verify peer)');
  }
  if (config.cluster.etcd !== undefined && (config.cluster.secret === undefined || config.cluster.secret === '')) {
    throw new ConfigError('cluster mode (cluster.etcd, --cluster-etcd) needs a shared secret: set cluster.secret (--cluster-secret)');
  }
  for (const section of ['webStomp', 'webMqtt'] as const) {
    if (!config[section].path.startsWith('/')) {
      throw new ConfigError(`Invalid ${section}.path: expected a URL path starting with '/', got ${config[section].path}`);
    }
  }
  if (
    config.amqp.port !== null &&
    config.amqp.port !== 0 &&
    config.amqp.port === config.amqp.tlsPort
  ) {
    throw new ConfigError(`amqp.port and amqp.tlsPort are both ${config.amqp.port}`);
  }
}

/** The complete configuration and what else the command line asked for. */
export interface ResolvedCommandLine {
  help: boolean;
  version: boolean;
  config: WarrenConfig;
}

/**
 * Resolve the configuration of the `warren` executable: flags over WARREN_* environment variables over the config
 * file (from --config or WARREN_CONFIG) over the defaults. With --help or --version the configuration is only the
 * defaults plus flags, so that help works whatever the environment holds.
 */
export async function resolveCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<ResolvedCommandLine> {
  const args = parseFlags(argv);
  if (args.help || args.version) {
    return { help: args.help, version: args.version, config: structuredClone(DEFAULT_CONFIG) as WarrenConfig };
  }
  const configFile = args.configFile ?? (env['WARREN_CONFIG'] === '' ? undefined : env['WARREN_CONFIG']);
  const fileLayer = configFile !== undefined ? await loadConfigFile(configFile) : {};
  const config = mergeConfig(fileLayer, configFromEnv(env), args.config);
  return { help: false, version: false, config };
}

function defaultText(setting: Setting): string {
  const value = getPath(DEFAULT_CONFIG as unknown as Record<string, unknown>, setting.path);
  if (value === undefined) return 'none';
  if (Array.isArray(value)) return value.join(',');
  if (setting.kind === 'bool') return value === true ? 'on' : 'off';
  return String(value);
}

/**
 * The README's configuration table (between its `settings:begin` / `settings:end` markers), generated from
 * {@link SETTINGS} so the documentation cannot drift from the code: `npm run docs` rewrites it, a test compares.
 */
export function settingsMarkdown(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const lines = ['| flag | environment | config file | default | meaning |', '| --- | --- | --- | --- | --- |'];
  for (const s of SETTINGS) {
    const flag = s.kind === 'bool' ? `\`--${s.flag}\` / \`--no-${s.flag}\`` : `\`--${s.flag} ${s.arg}\``;
    lines.push(
      `| ${cell(flag)} | \`${s.env}\` | \`${s.path}\` | ${cell(`\`${defaultText(s)}\``)} | ${cell(s.description)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The text of `warren --help`: every flag, its environment variable, config file field and default. */
export function helpText(): string {
  const rows: Array<[string, string]> = [
    ['-h, --help', 'show this help and exit'],
    ['--version', 'print the version and exit'],
    ['--config <file>', 'JSON config file (env WARREN_CONFIG); its fields are the paths shown below'],
  ];
  for (const s of SETTINGS) {
    const flag = s.kind === 'bool' ? `--${s.flag}, --no-${s.flag}` : `--${s.flag} ${s.arg}`;
    rows.push([flag, `${s.description}\n(env ${s.env}; config ${s.path}; default ${defaultText(s)})`]);
  }
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const lines = [
    'Usage: warren [options]',
    '',
    'Warren: a RabbitMQ-compatible message broker.',
    'Precedence: flag > environment variable > config file > default.',
    '',
    'Options:',
  ];
  for (const [flag, text] of rows) {
    const [first, ...rest] = text.split('\n');
    lines.push(`  ${flag.padEnd(width)}${first ?? ''}`);
    for (const more of rest) lines.push(`  ${''.padEnd(width)}${more}`);
  }
  return `${lines.join('\n')}\n`;
}
