import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AMQP_OPTIONS } from '@warren/amqp';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS } from '@warren/transport';
import { WEB_MQTT_PORT, WEB_MQTT_TLS_PORT } from '@warren/web-mqtt';
import { WEB_STOMP_PORT, WEB_STOMP_TLS_PORT } from '@warren/web-stomp';
import {
  ConfigError,
  DEFAULT_CONFIG,
  SETTINGS,
  checkConfigInput,
  configFromEnv,
  helpText,
  mergeConfig,
  parseFlags,
  resolveCommandLine,
} from './config.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'warren-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(name: string, content: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('defaults', () => {
  it("are RabbitMQ's", () => {
    const config = mergeConfig();
    expect(config).toEqual({
      dataDir: './data',
      log: { level: 'info' },
      host: '::',
      defaultUser: { username: 'guest', password: 'guest' },
      loopbackUsers: ['guest'],
      diskFreeLimit: 50000000,
      vmMemoryHighWatermark: 0.4,
      queueMemoryBudget: 8388608,
      maxOpenFiles: 4096,
      maxUnauthenticatedConnections: 1000,
      slowConsumerTimeoutMs: 60000,
      amqp: {
        port: 5672,
        tlsPort: 5671,
        frameMax: 131072,
        channelMax: 2047,
        heartbeat: 60,
        maxMessageSize: 134217728,
        handshakeTimeoutMs: 10000,
        consumerMaxPerChannel: 50000,
      },
      stomp: { port: 61613, tlsPort: 61614, defaultVhost: '/', maxFrameSize: 16777216, connectTimeoutMs: 10000, maxSubscriptions: 50000, sslCertLogin: false },
      mqtt: {
        port: 1883,
        tlsPort: 8883,
        defaultVhost: '/',
        exchange: 'amq.topic',
        allowAnonymous: true,
        defaultUser: 'guest',
        defaultPass: 'guest',
        maxPacketSize: 268435455,
        maxOfflineMessages: 0,
        maxRetainedBytes: 1024 ** 3,
        maxSessionExpiry: 86400,
        maxKeepAlive: 0,
        sysInterval: 10,
        maxSubscriptions: 50000,
        sslCertLogin: false,
      },
      webStomp: { port: 15674, tlsPort: 15673, path: '/ws', binaryFrames: false, allowedOrigins: ['*'], trustProxy: false },
      webMqtt: { port: 15675, tlsPort: 15676, path: '/ws', allowedOrigins: ['*'], trustProxy: false },
      management: { port: 15672, tlsPort: 15671, maxBodySize: 10 * 1024 * 1024 },
      prometheus: { port: 15692 },
      cluster: { name: 'warren', port: 25672, leaseTtl: 5, ackTimeoutMs: 5000 },
      auth: { backends: ['internal'], httpMethod: 'get', httpTimeoutMs: 15000, cacheTtlMs: 15000 },
      // RabbitMQ's: verify_none, fail_if_no_peer_cert false, ssl_cert_login_from distinguished_name.
      tls: { selfSigned: true, verify: 'none', failIfNoPeerCert: false, certLoginFrom: 'distinguished_name', reloadIntervalMs: 10000 },
    });
  });

  it('come from the settings table: every row carries its default, and DEFAULT_CONFIG is built from them', () => {
    const record = DEFAULT_CONFIG as unknown as Record<string, Record<string, unknown>>;
    for (const s of SETTINGS) {
      const [a, b] = s.path.split('.') as [string, string | undefined];
      const value = b === undefined ? record[a] : record[a]?.[b];
      if (s.kind === 'file' || s.optional === true) {
        expect(s.default, s.path).toBeUndefined();
        continue;
      }
      expect(s.default, s.path).toBeDefined();
      expect(value, s.path).toEqual(s.default);
    }
  });

  it("take the AMQP adapter's and the web listeners' own defaults, so each number lives in one place", () => {
    expect(DEFAULT_CONFIG.amqp).toMatchObject({
      frameMax: DEFAULT_AMQP_OPTIONS.frameMax,
      channelMax: DEFAULT_AMQP_OPTIONS.channelMax,
      heartbeat: DEFAULT_AMQP_OPTIONS.heartbeat,
      maxMessageSize: DEFAULT_AMQP_OPTIONS.maxMessageSize,
      handshakeTimeoutMs: DEFAULT_AMQP_OPTIONS.handshakeTimeoutMs,
      consumerMaxPerChannel: DEFAULT_AMQP_OPTIONS.consumerMaxPerChannel,
    });
    expect(DEFAULT_CONFIG.slowConsumerTimeoutMs).toBe(DEFAULT_SLOW_CONSUMER_TIMEOUT_MS);
    expect(DEFAULT_CONFIG.webStomp).toMatchObject({ port: WEB_STOMP_PORT, tlsPort: WEB_STOMP_TLS_PORT });
    expect(DEFAULT_CONFIG.webMqtt).toMatchObject({ port: WEB_MQTT_PORT, tlsPort: WEB_MQTT_TLS_PORT });
  });

  it('merging never mutates the defaults', () => {
    const config = mergeConfig({ amqp: { port: 1 }, loopbackUsers: ['x'] });
    config.loopbackUsers.push('y');
    expect(DEFAULT_CONFIG.amqp.port).toBe(5672);
    expect(DEFAULT_CONFIG.loopbackUsers).toEqual(['guest']);
  });
});

describe('precedence: flag > env > config file > default', () => {
  it('each layer overrides the one below, field by field', async () => {
    const file = await configFile('layers.json', {
      dataDir: '/from/file',
      log: { level: 'warn' },
      amqp: { port: 1111, heartbeat: 11, frameMax: 8192 },
    });
    const { config } = await resolveCommandLine(['--config', file, '--amqp-port', '3333'], {
      WARREN_AMQP_PORT: '2222',
      WARREN_HEARTBEAT: '22',
    });
    expect(config.amqp.port).toBe(3333); // flag beats env and file
    expect(config.amqp.heartbeat).toBe(22); // env beats file
    expect(config.amqp.frameMax).toBe(8192); // file beats default
    expect(config.dataDir).toBe('/from/file');
    expect(config.log.level).toBe('warn');
    expect(config.amqp.channelMax).toBe(2047); // default
  });

  it('reads the config file named by WARREN_CONFIG; --config beats it', async () => {
    const a = await configFile('a.json', { host: '127.0.0.1' });
    const b = await configFile('b.json', { host: '::1' });
    expect((await resolveCommandLine([], { WARREN_CONFIG: a })).config.host).toBe('127.0.0.1');
    expect((await resolveCommandLine(['--config', b], { WARREN_CONFIG: a })).config.host).toBe('::1');
  });

  it('every setting has a working flag and environment variable', async () => {
    const env: NodeJS.ProcessEnv = {
      WARREN_DATA_DIR: '/e',
      WARREN_LOG_LEVEL: 'debug',
      WARREN_HOST: '127.0.0.1',
      WARREN_AMQP_PORT: '1',
      WARREN_AMQPS_PORT: 'off',
      WARREN_FRAME_MAX: '4096',
      WARREN_CHANNEL_MAX: '10',
      WARREN_HEARTBEAT: '0',
      WARREN_MAX_MESSAGE_SIZE: '1000',
      WARREN_HANDSHAKE_TIMEOUT: '500',
      WARREN_TLS_CERT: '/c.pem',
      WARREN_TLS_KEY: '/k.pem',
      WARREN_TLS_CA: '/ca.pem',
      WARREN_SELF_SIGNED: 'false',
      WARREN_DEFAULT_USER: 'admin',
      WARREN_DEFAULT_PASS: 'secret',
      WARREN_LOOPBACK_USERS: 'a, b',
      WARREN_SLOW_CONSUMER_TIMEOUT: '5000',
      WARREN_CONSUMER_MAX_PER_CHANNEL: '11',
      WARREN_STOMP_MAX_SUBSCRIPTIONS: '12',
      WARREN_MQTT_MAX_SUBSCRIPTIONS: '13',
      WARREN_DISK_FREE_LIMIT: '2GB',
      WARREN_VM_MEMORY_HIGH_WATERMARK: '512MiB',
      WARREN_QUEUE_MEMORY_BUDGET: '1MiB',
      WARREN_MAX_OPEN_FILES: '100',
      WARREN_STOMP_PORT: '2',
      WARREN_STOMPS_PORT: 'off',
      WARREN_STOMP_DEFAULT_VHOST: 'v',
      WARREN_STOMP_MAX_FRAME_SIZE: '8192',
      WARREN_STOMP_CONNECT_TIMEOUT: '700',
      WARREN_STOMP_SSL_CERT_LOGIN: 'true',
      WARREN_MQTT_SSL_CERT_LOGIN: 'true',
      WARREN_MAX_UNAUTHENTICATED_CONNECTIONS: '50',
      WARREN_TLS_VERIFY: 'peer',
      WARREN_TLS_FAIL_IF_NO_PEER_CERT: 'true',
      WARREN_SSL_CERT_LOGIN_FROM: 'common_name',
      WARREN_TLS_RELOAD_INTERVAL: '0',
      WARREN_MQTT_PORT: '6',
      WARREN_MQTTS_PORT: 'off',
      WARREN_MQTT_DEFAULT_VHOST: 'm',
      WARREN_MQTT_EXCHANGE: 'mqtt.x',
      WARREN_MQTT_ALLOW_ANONYMOUS: 'false',
      WARREN_MQTT_DEFAULT_USER: 'anon',
      WARREN_MQTT_DEFAULT_PASS: 'anon-pass',
      WARREN_MQTT_MAX_PACKET_SIZE: '4096',
      WARREN_MQTT_MAX_OFFLINE_MESSAGES: '100',
      WARREN_MQTT_MAX_RETAINED_BYTES: '2MiB',
      WARREN_MQTT_MAX_SESSION_EXPIRY: '3600',
      WARREN_MQTT_MAX_KEEP_ALIVE: '120',
      WARREN_MQTT_SYS_INTERVAL: '0',
      WARREN_WEB_STOMP_PORT: '3',
      WARREN_WEB_STOMP_TLS_PORT: 'off',
      WARREN_WEB_STOMP_PATH: '/stomp',
      WARREN_WEB_STOMP_BINARY: 'true',
      WARREN_WEB_STOMP_ORIGINS: 'http://a.example,https://b.example',
      WARREN_WEB_STOMP_TRUST_PROXY: 'true',
      WARREN_WEB_MQTT_PORT: '4',
      WARREN_WEB_MQTT_TLS_PORT: '5',
      WARREN_WEB_MQTT_PATH: '/mqtt',
      WARREN_WEB_MQTT_ORIGINS: 'http://c.example',
      WARREN_WEB_MQTT_TRUST_PROXY: 'true',
      WARREN_MANAGEMENT_PORT: '7',
      WARREN_MANAGEMENT_TLS_PORT: 'off',
      WARREN_MANAGEMENT_MAX_BODY_SIZE: '1MB',
      WARREN_PROMETHEUS_PORT: '8',
      WARREN_CLUSTER_ETCD: 'http://127.0.0.1:2379,http://127.0.0.2:2379',
      WARREN_CLUSTER_NAME: 'c1',
      WARREN_NODE_NAME: 'n1',
      WARREN_CLUSTER_PORT: '9',
      WARREN_CLUSTER_ADVERTISE_HOST: 'n1.example',
      WARREN_CLUSTER_LEASE_TTL: '3',
      WARREN_CLUSTER_ACK_TIMEOUT: '700',
      WARREN_CLUSTER_SECRET: 's3cret',
      WARREN_AUTH_BACKEND: 'internal,http',
      WARREN_AUTH_HTTP_USER_PATH: 'http://a.example/u',
      WARREN_AUTH_HTTP_VHOST_PATH: 'http://a.example/v',
      WARREN_AUTH_HTTP_RESOURCE_PATH: 'http://a.example/r',
      WARREN_AUTH_HTTP_TOPIC_PATH: 'http://a.example/t',
      WARREN_AUTH_HTTP_METHOD: 'post',
      WARREN_AUTH_HTTP_TIMEOUT: '2000',
      WARREN_AUTH_CACHE_TTL: '60000',
    };
    const expected = {
      dataDir: '/e',
      log: { level: 'debug' },
      host: '127.0.0.1',
      defaultUser: { username: 'admin', password: 'secret' },
      loopbackUsers: ['a', 'b'],
      diskFreeLimit: 2_000_000_000,
      vmMemoryHighWatermark: 512 * 1024 * 1024,
      queueMemoryBudget: 1024 * 1024,
      maxOpenFiles: 100,
      maxUnauthenticatedConnections: 50,
      slowConsumerTimeoutMs: 5000,
      amqp: {
        port: 1,
        tlsPort: null,
        frameMax: 4096,
        channelMax: 10,
        heartbeat: 0,
        maxMessageSize: 1000,
        handshakeTimeoutMs: 500,
        consumerMaxPerChannel: 11,
      },
      stomp: { port: 2, tlsPort: null, defaultVhost: 'v', maxFrameSize: 8192, connectTimeoutMs: 700, maxSubscriptions: 12, sslCertLogin: true },
      mqtt: {
        port: 6,
        tlsPort: null,
        defaultVhost: 'm',
        exchange: 'mqtt.x',
        allowAnonymous: false,
        defaultUser: 'anon',
        defaultPass: 'anon-pass',
        maxPacketSize: 4096,
        maxOfflineMessages: 100,
        maxRetainedBytes: 2 * 1024 ** 2,
        maxSessionExpiry: 3600,
        maxKeepAlive: 120,
        sysInterval: 0,
        maxSubscriptions: 13,
        sslCertLogin: true,
      },
      webStomp: {
        port: 3,
        tlsPort: null,
        path: '/stomp',
        binaryFrames: true,
        allowedOrigins: ['http://a.example', 'https://b.example'],
        trustProxy: true,
      },
      webMqtt: { port: 4, tlsPort: 5, path: '/mqtt', allowedOrigins: ['http://c.example'], trustProxy: true },
      management: { port: 7, tlsPort: null, maxBodySize: 1_000_000 },
      prometheus: { port: 8 },
      cluster: {
        etcd: ['http://127.0.0.1:2379', 'http://127.0.0.2:2379'], name: 'c1', nodeName: 'n1', port: 9,
        advertiseHost: 'n1.example', leaseTtl: 3, ackTimeoutMs: 700, secret: 's3cret',
      },
      auth: {
        backends: ['internal', 'http'], httpUserPath: 'http://a.example/u', httpVhostPath: 'http://a.example/v',
        httpResourcePath: 'http://a.example/r', httpTopicPath: 'http://a.example/t', httpMethod: 'post',
        httpTimeoutMs: 2000, cacheTtlMs: 60000,
      },
      tls: {
        certFile: '/c.pem',
        keyFile: '/k.pem',
        caFile: '/ca.pem',
        selfSigned: false,
        verify: 'peer',
        failIfNoPeerCert: true,
        certLoginFrom: 'common_name',
        reloadIntervalMs: 0,
      },
    };
    expect(mergeConfig(configFromEnv(env))).toEqual(expected);
    // The same through flags, derived from the settings table so a new setting cannot lack a flag.
    const argv: string[] = [];
    for (const setting of SETTINGS) {
      const value = env[setting.env];
      expect(value, `test covers ${setting.env}`).toBeDefined();
      if (setting.kind === 'bool') argv.push(value === 'false' ? `--no-${setting.flag}` : `--${setting.flag}`);
      else argv.push(`--${setting.flag}`, value as string);
    }
    expect(mergeConfig(parseFlags(argv).config)).toEqual(expected);
  });

  it('--self-signed and --no-self-signed override the environment', () => {
    expect(mergeConfig(configFromEnv({ WARREN_SELF_SIGNED: 'false' }), parseFlags(['--self-signed']).config).tls
      .selfSigned).toBe(true);
    expect(() => parseFlags(['--self-signed', '--no-self-signed'])).toThrow(ConfigError);
  });

  it('a WebSocket path must start with /', () => {
    expect(() => mergeConfig({ webStomp: { path: 'ws' } })).toThrow(/webStomp\.path/);
    expect(() => mergeConfig({ webMqtt: { path: '' } })).toThrow(ConfigError);
  });

  it("an empty --loopback-users means nobody is restricted to loopback", () => {
    expect(mergeConfig(parseFlags(['--loopback-users', '']).config).loopbackUsers).toEqual([]);
  });

  it('a port can be disabled with off (flag, env) or null / "off" (file)', () => {
    expect(parseFlags(['--amqps-port', 'off']).config.amqp?.tlsPort).toBeNull();
    expect(checkConfigInput({ amqp: { tlsPort: null } }, 'test').amqp?.tlsPort).toBeNull();
    expect(checkConfigInput({ amqp: { tlsPort: 'off' } }, 'test').amqp?.tlsPort).toBeNull();
  });
});

describe('validation errors are clear', () => {
  it('cluster mode: one cluster flag keeps the other cluster defaults, and a missing secret is named', () => {
    const c = mergeConfig(parseFlags(['--cluster-etcd', 'http://e1:2379,http://e2:2379', '--cluster-secret', 's']).config);
    expect(c.cluster).toEqual({ etcd: ['http://e1:2379', 'http://e2:2379'], secret: 's', name: 'warren', port: 25672, leaseTtl: 5, ackTimeoutMs: 5000 });
    expect(() => mergeConfig(parseFlags(['--cluster-etcd', 'http://e1:2379']).config)).toThrow(
      new ConfigError('cluster mode (cluster.etcd, --cluster-etcd) needs a shared secret: set cluster.secret (--cluster-secret)'),
    );
  });

  it('a bad port names the setting, the source and the value', () => {
    expect(() => parseFlags(['--amqp-port', 'abc'])).toThrow(
      new ConfigError(`Invalid amqp.port from --amqp-port: expected a port number 0-65535 or 'off', got "abc"`),
    );
    expect(() => configFromEnv({ WARREN_AMQP_PORT: '70000' })).toThrow(
      /Invalid amqp\.port from environment variable WARREN_AMQP_PORT: .*0-65535.*got 70000/,
    );
    expect(() => mergeConfig(checkConfigInput({ amqp: { port: -1 } }, 'config file x.json'))).toThrow(
      /Invalid amqp\.port from config file x\.json/,
    );
    expect(() => checkConfigInput({ amqp: { port: '5672' } }, 'f')).toThrow(/Invalid amqp\.port/);
  });

  it('rejects out-of-range AMQP limits', () => {
    expect(() => parseFlags(['--frame-max', '100'])).toThrow(/amqp\.frameMax .*from 4096/);
    expect(() => parseFlags(['--channel-max', '65536'])).toThrow(/amqp\.channelMax/);
    expect(() => parseFlags(['--heartbeat=-1'])).toThrow(/amqp\.heartbeat/);
    expect(() => parseFlags(['--max-message-size', '1e9'])).toThrow(/amqp\.maxMessageSize/);
  });

  it('rejects unknown log levels, empty strings and bad booleans', () => {
    expect(() => parseFlags(['--log-level', 'loud'])).toThrow(/log\.level .*one of trace, debug/);
    expect(() => parseFlags(['--data-dir', ''])).toThrow(/dataDir/);
    expect(() => configFromEnv({ WARREN_SELF_SIGNED: 'maybe' })).toThrow(/tls\.selfSigned .*WARREN_SELF_SIGNED/);
  });

  it('rejects unknown settings in a config file (usually typos) and unknown flags', async () => {
    const file = await configFile('typo.json', { amqp: { prot: 5672 } });
    await expect(resolveCommandLine(['--config', file], {})).rejects.toThrow(`Unknown setting amqp.prot in config file ${file}`);
    expect(() => parseFlags(['--amqp-prot', '1'])).toThrow(/Unknown option '--amqp-prot'.*warren --help/);
    expect(() => parseFlags(['stray'])).toThrow(ConfigError);
  });

  it('reports unreadable and malformed config files with their name', async () => {
    const missing = path.join(dir, 'missing.json');
    await expect(resolveCommandLine(['--config', missing], {})).rejects.toThrow(`Cannot read config file ${missing}`);
    const bad = await configFile('bad.json', '{ "amqp": ');
    await expect(resolveCommandLine(['--config', bad], {})).rejects.toThrow(`Config file ${bad} is not valid JSON`);
    const array = await configFile('array.json', [1]);
    await expect(resolveCommandLine(['--config', array], {})).rejects.toThrow(/expected a JSON object/);
  });

  it('cert and key go together; amqps needs a certificate or self-signed', () => {
    expect(() => mergeConfig({ tls: { certFile: '/c.pem' } })).toThrow(/tls\.certFile and tls\.keyFile/);
    expect(() => mergeConfig({ tls: { verify: 'peer' } })).toThrow(/tls\.verify peer needs .* tls\.caFile/);
    expect(() => mergeConfig({ tls: { failIfNoPeerCert: true } })).toThrow(/tls\.failIfNoPeerCert needs tls\.verify peer/);
    expect(() => configFromEnv({ WARREN_TLS_VERIFY: 'verify_peer' })).toThrow(/tls\.verify .*expected one of peer, none/);
    expect(() => mergeConfig({ tls: { selfSigned: false } })).toThrow(/AMQPS listener needs a certificate/);
    expect(mergeConfig({ tls: { selfSigned: false }, amqp: { tlsPort: null } }).amqp.tlsPort).toBeNull();
  });

  it('two listeners cannot share a fixed port', () => {
    expect(() => mergeConfig({ amqp: { port: 5000, tlsPort: 5000 } })).toThrow(/both 5000/);
    expect(mergeConfig({ amqp: { port: 0, tlsPort: 0 } }).amqp.port).toBe(0);
  });
});

describe('--help', () => {
  it('lists every flag with its environment variable, config field and default', () => {
    const text = helpText();
    for (const setting of SETTINGS) {
      expect(text).toContain(`--${setting.flag}`);
      expect(text).toContain(setting.env);
      expect(text).toContain(`config ${setting.path};`);
    }
    // The flags the README documents, spelled out so a renamed flag fails here.
    for (const flag of [
      '--config', '--data-dir', '--log-level', '--host', '--amqp-port', '--amqps-port', '--frame-max',
      '--channel-max', '--heartbeat', '--max-message-size', '--tls-cert', '--tls-key', '--tls-ca',
      '--no-self-signed', '--default-user', '--default-pass', '--loopback-users', '--help',
    ]) {
      expect(text).toMatch(new RegExp(`${flag}\\b`));
    }
    expect(text).toContain('default 5672');
  });

  it('--help works whatever the environment holds', async () => {
    const result = await resolveCommandLine(['--help'], { WARREN_AMQP_PORT: 'nonsense' });
    expect(result.help).toBe(true);
  });
});
