/**
 * The composition root: configuration → data directory → logger → core broker → listeners, and the reverse on stop.
 */
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Broker, FileDefinitionsStore, FileMessageStore, type BrokerApi, type BrokerOptions, type ConnectionInfo } from '@warren/core';
import type { AmqpServiceContext } from '@warren/amqp';
import type { MqttService } from '@warren/mqtt';
import { listen, type Listener, type ListenerOptions } from '@warren/transport';
import { createManagementApp, defaultClusterName, startPrometheusServer, type ClusterView, type ListenerDescription, type ManagementContext } from '@warren/management';
import { checkConfigInput, mergeConfig, type WarrenConfig, type WarrenConfigInput } from './config.js';
import { createLogger, type WarrenLogger } from './logger.js';
import { loadTls } from './tls.js';
import { TlsReloader, type TlsTarget } from './tls-reload.js';
import { makeDataDirPrivate } from './data-dir.js';
import { createAuthBackends } from './auth-http-backend.js';
import { WARREN_VERSION } from './version.js';
import { ResourceMonitor, type AlarmTarget } from './resource-monitor.js';
import { amqpProtocol } from './protocols/amqp.js';
import { mqttProtocol } from './protocols/mqtt.js';
import type { ProtocolModule, ServerService } from './protocols/protocol-module.js';
import { stompProtocol } from './protocols/stomp.js';

/** The protocols, in the order their listeners start. */
const PROTOCOLS: readonly ProtocolModule<ServerService>[] = [amqpProtocol, stompProtocol, mqttProtocol];
/**
 * The order their services close in on stop, after the HTTP servers and before the listeners: AMQP last, since its
 * close waits (briefly) for every client to answer connection.close.
 */
const SHUTDOWN_ORDER: readonly ProtocolModule<ServerService>[] = [stompProtocol, mqttProtocol, amqpProtocol];

/** The core broker as the server uses it: the adapters' API plus an optional close for shutdown. */
export type BrokerLike = BrokerApi & { close?(): void | Promise<void> };

/** Serves one accepted AMQP connection in place of the adapter's service (a test's hook). */
export type ConnectionHandlerFn = (socket: Duplex, info: ConnectionInfo, ctx: AmqpServiceContext) => void;

/** Hooks for embedding and tests; the defaults are the real parts. */
export interface StartOptions {
  /** Builds the core broker (tests substitute a fake). Default: `new Broker(options)` from @warren/core. */
  createBroker?: (options: BrokerOptions) => BrokerLike;
  /** Use this logger instead of creating one from `config.log`. */
  logger?: WarrenLogger;
  /** Replaces the AMQP connection handler. */
  amqpHandler?: ConnectionHandlerFn;
  /** In cluster mode: the cluster as this member (the leader) sees it, for the management API's `/api/cluster`. */
  cluster?: () => Promise<ClusterView>;
}

/** A started broker. */
export interface RunningBroker {
  /** The bound ports of the enabled listeners. */
  ports: {
    amqp?: number;
    amqps?: number;
    stomp?: number;
    stomps?: number;
    mqtt?: number;
    mqtts?: number;
    webStomp?: number;
    webStompTls?: number;
    webMqtt?: number;
    webMqttTls?: number;
    management?: number;
    managementTls?: number;
    prometheus?: number;
  };
  config: WarrenConfig;
  /** The core broker (for administration from an embedding process). */
  broker: BrokerLike;
  /** The memory and disk alarm monitor (absent when the broker cannot raise alarms). */
  alarms?: ResourceMonitor;
  logger: WarrenLogger;
  /** Stop listeners (destroying open connections), close the broker. Idempotent. */
  stop(): Promise<void>;
}

/** Start the broker in this process. Port 0 picks free ports; the bound ones come back in `ports`. */
export async function startBroker(
  input: WarrenConfigInput = {},
  startOptions: StartOptions = {},
): Promise<RunningBroker> {
  const config = mergeConfig(checkConfigInput(input, 'startBroker options'));
  const logger = startOptions.logger ?? createLogger({ level: config.log.level });
  const privacy = await makeDataDirPrivate(config.dataDir);
  if (privacy.tightened > 0) {
    logger.warn({ dataDir: config.dataDir, entries: privacy.tightened }, 'data directory was readable by other users: made private (0700 directories, 0600 files)');
  }

  const broker = (startOptions.createBroker ?? ((options: BrokerOptions) => new Broker(options)))({
    logger: logger.child({ component: 'core' }),
    // RabbitMQ's default user is an administrator.
    users: [{ name: config.defaultUser.username, password: config.defaultUser.password, tags: ['administrator'] }],
    loopbackUsers: config.loopbackUsers,
    authBackends: createAuthBackends(config.auth, logger.child({ component: 'auth' })),
    // Durable definitions live in <dataDir>/definitions.json; a corrupt file makes this throw (no silent loss).
    definitions: new FileDefinitionsStore(config.dataDir, { logger: logger.child({ component: 'definitions' }) }),
    // Persistent messages of durable queues, and paged-out messages of every queue, live in <dataDir>/messages.
    store: new FileMessageStore({
      dir: join(config.dataDir, 'messages'),
      queueMemoryBytes: config.queueMemoryBudget,
      maxOpenFiles: config.maxOpenFiles,
      logger: logger.child({ component: 'store' }),
    }),
  });

  const listeners: Listener[] = [];
  let monitor: ResourceMonitor | undefined;
  /** The service of each protocol that has a listener on. */
  const services = new Map<ProtocolModule<ServerService>, ServerService>();
  /** HTTP servers (management, Prometheus): closed before the broker. */
  const httpServers: { close(): Promise<unknown> }[] = [];
  let reloader: TlsReloader | undefined;
  const closeAll = async (): Promise<void> => {
    monitor?.stop();
    reloader?.stop();
    await Promise.allSettled(httpServers.map((h) => h.close()));
    // STOMP and MQTT close at once (MQTT 5 clients get DISCONNECT 0x8B, persistent-session and retained state is
    // flushed); AMQP clients are told why (320 CONNECTION_FORCED 'shutdown') and get a moment to answer.
    for (const m of SHUTDOWN_ORDER) await services.get(m)?.close().catch(() => {});
    await Promise.allSettled(listeners.map((l) => l.close()));
    await broker.close?.();
  };

  try {
    // Alarms are checked once before the first listener opens, so an over-limit node starts blocked.
    if (typeof (broker as Partial<AlarmTarget>).setAlarm === 'function') {
      monitor = new ResourceMonitor(broker as unknown as AlarmTarget, {
        dataDir: config.dataDir,
        diskFreeLimit: config.diskFreeLimit,
        memoryHighWatermark: config.vmMemoryHighWatermark,
        logger: logger.child({ component: 'alarms' }),
      });
      await monitor.start();
    }

    const startListener = async (
      options: ListenerOptions,
      onConnection: (socket: Duplex, info: ConnectionInfo) => void,
    ): Promise<Listener> => {
      const listenerLogger = logger.child({ listener: options.name });
      const listener = await listen(
        {
          maxUnauthenticated: config.maxUnauthenticatedConnections,
          ...options,
          onError: (err, context) => {
            // The client's problem (port scanners, plain-AMQP clients on 5671, idle or flooding clients): one line,
            // no stack trace.
            if (context.phase === 'tls-handshake') listenerLogger.warn({ err: err.message }, 'TLS handshake failed');
            else if (context.phase === 'handshake-timeout') listenerLogger.warn({ err: err.message }, 'handshake timed out');
            else if (context.phase === 'refused') listenerLogger.warn({ err: err.message }, 'connection refused');
            else listenerLogger.error({ err, phase: context.phase }, 'listener error');
          },
        },
        onConnection,
      );
      listeners.push(listener);
      listenerLogger.info(
        // `listener` (the name) comes from the child logger's bindings.
        { protocol: options.protocol, host: config.host, port: listener.port, tls: options.tls !== undefined },
        'listener started',
      );
      return listener;
    };

    // One certificate for every TLS listener: read (or generated) once.
    let tlsLoading: ReturnType<typeof loadTls> | undefined;
    /** The certificate once loaded (the certificate-expiration health check reads it). */
    let loadedTls: Awaited<ReturnType<typeof loadTls>>;
    const sharedTls = (): ReturnType<typeof loadTls> =>
      (tlsLoading ??= loadTls(config).then((tls) => {
        if (tls?.generated === true) logger.info({ certFile: tls.certFile }, 'generated a self-signed TLS certificate');
        loadedTls = tls;
        return tls;
      }));
    const requireTls = async (listener: string): Promise<NonNullable<Awaited<ReturnType<typeof loadTls>>>> => {
      const tls = await sharedTls();
      if (tls === undefined) throw new Error(`the ${listener} listener is enabled but no TLS certificate is configured`);
      return tls;
    };

    const ports: RunningBroker['ports'] = {};
    /** TLS servers other than the listeners (management HTTPS) whose certificate reloads too. */
    const tlsTargets: TlsTarget[] = [];

    /**
     * Logs and bookkeeping for a WebSocket listener. Refused upgrades (wrong path, origin) and failed TLS handshakes
     * are the client's problem: warnings.
     */
    const webListenerErrors = (name: string) => {
      const listenerLogger = logger.child({ listener: name });
      return (err: Error, context: { phase: string }): void => {
        if (context.phase !== 'accept' && context.phase !== 'handler') {
          listenerLogger.warn({ err: err.message, phase: context.phase }, 'WebSocket connection refused');
        } else {
          listenerLogger.error({ err, phase: context.phase }, 'listener error');
        }
      };
    };
    const webStarted = (listener: Listener, protocol: string, tls: boolean): void => {
      listeners.push(listener);
      logger
        .child({ listener: listener.name })
        .info({ protocol, host: config.host, port: listener.port, tls, websocket: true }, 'listener started');
    };
    // The web listeners' wss:// variants need a certificate configured explicitly, as RabbitMQ's web plugins do.
    // Loaded when the first protocol with WebSocket listeners comes up (after AMQP's, as the log has always shown).
    let webTls: Awaited<ReturnType<typeof loadTls>>;
    let webTlsChecked = false;
    const webPorts = (section: { port: number | null; tlsPort: number | null }) => {
      const out: Array<{ port: number; secure: boolean }> = [];
      if (section.port !== null) out.push({ port: section.port, secure: false });
      if (section.tlsPort !== null && webTls !== undefined) out.push({ port: section.tlsPort, secure: true });
      return out;
    };

    for (const m of PROTOCOLS) {
      if (m.web !== undefined && !webTlsChecked) {
        webTls = config.tls.certFile !== undefined ? await sharedTls() : undefined;
        webTlsChecked = true;
      }
      const tcpPort = m.tcp.port(config);
      const tlsPort = m.tls.port(config);
      const web = m.web !== undefined ? webPorts(m.web.section(config)) : [];
      if (m.alwaysOn !== true && tcpPort === null && tlsPort === null && web.length === 0) continue;
      // One service for every listener of the protocol (TCP, TLS, and the WebSocket streams of its web listeners).
      const service = m.createService({ broker, logger, config, startOptions });
      services.set(m, service);
      const onConnection = (socket: Duplex, info: ConnectionInfo): void => service.handleConnection(socket, info);
      if (tcpPort !== null) {
        const l = await startListener({ name: m.tcp.name, protocol: m.protocol, host: config.host, port: tcpPort }, onConnection);
        ports[m.tcp.portKey] = l.port;
      }
      if (tlsPort !== null) {
        const tls = await requireTls(m.tls.label);
        const handshakeTimeoutMs = m.tls.handshakeTimeoutMs?.(config);
        const l = await startListener(
          {
            name: m.tls.name,
            protocol: m.protocol,
            host: config.host,
            port: tlsPort,
            tls: tls.options,
            ...(handshakeTimeoutMs !== undefined ? { tlsHandshakeTimeoutMs: handshakeTimeoutMs } : {}),
          },
          onConnection,
        );
        ports[m.tls.portKey] = l.port;
      }
      for (const { port, secure } of web) {
        const w = m.web!;
        const name = secure ? w.tlsName : w.name;
        const l = await w.listen(
          service,
          {
            name,
            host: config.host,
            port,
            maxUnauthenticated: config.maxUnauthenticatedConnections,
            ...(secure && webTls !== undefined ? { tls: webTls.options } : {}),
            onError: webListenerErrors(name),
          },
          config,
        );
        webStarted(l, m.protocol, secure);
        ports[secure ? w.tlsPortKey : w.portKey] = l.port;
      }
    }
    const mqtt = services.get(mqttProtocol) as MqttService | undefined;

    // The management API (RabbitMQ's management plugin) on 15672, and 15671 with TLS when a certificate is
    // configured. It needs the real core (a test's substitute broker has no administration methods).
    if (broker instanceof Broker) {
      const listenerNames: Record<string, string> = {
        amqp: 'amqp', amqps: 'amqp/ssl', mqtt: 'mqtt', mqtts: 'mqtt/ssl', stomp: 'stomp', stomps: 'stomp/ssl',
        webStomp: 'http/web-stomp', webStompTls: 'https/web-stomp', webMqtt: 'http/web-mqtt', webMqttTls: 'https/web-mqtt',
        management: 'http', managementTls: 'https', prometheus: 'http/prometheus',
      };
      const TLS_LISTENERS = new Set(['amqps', 'mqtts', 'stomps', 'webStompTls', 'webMqttTls', 'managementTls']);
      const mgmtLogger = logger.child({ component: 'management' });
      const ctx: ManagementContext = {
        broker,
        logger: mgmtLogger,
        nodeName: defaultClusterName(),
        startedAt: Date.now(),
        version: WARREN_VERSION,
        listeners: () =>
          Object.entries(ports).map(([k, port]): ListenerDescription => ({ protocol: listenerNames[k] ?? k, port: port as number, ipAddress: config.host })),
        // Every TLS listener serves the one shared certificate.
        certificates: () => {
          const tls = loadedTls;
          if (tls === undefined) return [];
          return Object.entries(ports)
            .filter(([k]) => TLS_LISTENERS.has(k))
            .map(([k, port]) => ({
              protocol: listenerNames[k] ?? k,
              port: port as number,
              ipAddress: config.host,
              cert: tls.options.cert,
              certFile: tls.certFile,
              ...(config.tls.caFile !== undefined ? { caFile: config.tls.caFile } : {}),
            }));
        },
        // RabbitMQ keeps the cluster name in the global parameter cluster_name, with the durable definitions.
        get clusterName() {
          const v = broker.runtime.global.get('cluster_name');
          return typeof v === 'string' ? v : defaultClusterName();
        },
        setClusterName: async (name) => {
          broker.setGlobalParameter('cluster_name', name);
          await broker.flushDefinitions();
        },
        // The UI's MQTT view reads the MQTT service's sessions and retained messages.
        ...(mqtt !== undefined ? { mqtt: mqtt.state } : {}),
        ...(startOptions.cluster !== undefined ? { cluster: startOptions.cluster } : {}),
        ...(monitor !== undefined
          ? {
              resources: () => ({
                dataDir: config.dataDir,
                diskFree: monitor!.diskFree,
                diskFreeLimit: monitor!.diskFreeLimit,
                memLimit: monitor!.memoryLimit,
                fdTotal: 20000,
              }),
            }
          : {}),
      };
      const mgmtPorts: Array<{ port: number; secure: boolean }> = [];
      if (config.management.port !== null) mgmtPorts.push({ port: config.management.port, secure: false });
      if (config.management.tlsPort !== null && webTls !== undefined) mgmtPorts.push({ port: config.management.tlsPort, secure: true });
      for (const { port, secure } of mgmtPorts) {
        const app = await createManagementApp(ctx, {
          bodyLimit: config.management.maxBodySize,
          ...(secure && webTls !== undefined ? { https: webTls.options } : {}),
        });
        httpServers.push(app);
        if (secure) {
          const server = app.server as unknown as { setSecureContext?: (o: { cert: Buffer | string; key: Buffer | string }) => void };
          tlsTargets.push({ setTls: (t) => server.setSecureContext?.({ cert: t.cert, key: t.key }) });
        }
        await app.listen({ port, host: config.host });
        const address = app.server.address();
        const bound = typeof address === 'object' && address !== null ? address.port : port;
        if (secure) ports.managementTls = bound;
        else ports.management = bound;
        mgmtLogger.info({ protocol: secure ? 'https' : 'http', host: config.host, port: bound, tls: secure }, 'listener started');
      }
      // rabbitmq_prometheus's endpoint (15692): /metrics, /metrics/per-object, /metrics/detailed.
      if (config.prometheus.port !== null) {
        const prom = await startPrometheusServer(ctx, { port: config.prometheus.port, host: config.host });
        httpServers.push(prom);
        ports.prometheus = prom.port;
        mgmtLogger.info({ protocol: 'http/prometheus', host: config.host, port: prom.port }, 'listener started');
      }
    }

    // New connections get renewed certificate files without a restart.
    if (loadedTls !== undefined) {
      reloader = new TlsReloader(
        config,
        () => [...listeners, ...tlsTargets],
        logger.child({ component: 'tls' }),
        (reloaded) => {
          loadedTls = reloaded;
        },
      );
      await reloader.start();
      if (config.tls.caFile !== undefined && config.tls.verify === 'none') {
        logger.warn('tls.caFile is set but tls.verify is none: clients are not asked for certificates (set --tls-verify peer)');
      }
    }

    logger.info({ ports, dataDir: config.dataDir }, 'Warren started');

    let stopping: Promise<void> | undefined;
    return {
      ports,
      config,
      broker,
      ...(monitor !== undefined ? { alarms: monitor } : {}),
      logger,
      stop() {
        stopping ??= (async () => {
          logger.info('Warren stopping');
          await closeAll();
          logger.info('Warren stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    // Whatever started must not outlive a failed start (a bound port would keep the process alive).
    await closeAll().catch(() => {});
    throw err;
  }
}
