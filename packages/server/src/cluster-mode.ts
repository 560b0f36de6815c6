/**
 * Cluster mode (`--cluster-etcd`): this process is one member of a replicated Warren. The member logic lives in
 * @warren/cluster, loaded here with a dynamic import so a single node never loads it (nor the etcd client).
 */
import { hostname } from 'node:os';
import type { ClusterMember, ClusterStatus } from '@warren/cluster';
import type { WarrenConfig } from './config.js';
import type { WarrenLogger } from './logger.js';
import { startBroker, type RunningBroker, type StartOptions } from './start.js';

/** A listener's name (as in {@link RunningBroker.ports}) and where its port lives in the configuration. */
interface PortSlot {
  name: keyof RunningBroker['ports'];
  get(config: WarrenConfig): number | null;
  set(config: WarrenConfig, port: number): void;
  /** The listener starts only with a configured certificate (it is not started with a generated one). */
  needsCertFile?: boolean;
}

type PortSection = { port: number | null; tlsPort?: number | null };

const slot = (
  name: keyof RunningBroker['ports'],
  section: (c: WarrenConfig) => PortSection,
  key: 'port' | 'tlsPort',
  needsCertFile = false,
): PortSlot => ({
  name,
  get: (c) => section(c)[key] ?? null,
  set: (c, port) => {
    section(c)[key] = port;
  },
  ...(needsCertFile ? { needsCertFile } : {}),
});

/** Every client listener a member forwards while it follows and serves while it leads. */
const PORT_SLOTS: readonly PortSlot[] = [
  slot('amqp', (c) => c.amqp, 'port'),
  slot('amqps', (c) => c.amqp, 'tlsPort'),
  slot('mqtt', (c) => c.mqtt, 'port'),
  slot('mqtts', (c) => c.mqtt, 'tlsPort'),
  slot('stomp', (c) => c.stomp, 'port'),
  slot('stomps', (c) => c.stomp, 'tlsPort'),
  slot('webStomp', (c) => c.webStomp, 'port'),
  slot('webStompTls', (c) => c.webStomp, 'tlsPort', true),
  slot('webMqtt', (c) => c.webMqtt, 'port'),
  slot('webMqttTls', (c) => c.webMqtt, 'tlsPort', true),
  slot('management', (c) => c.management, 'port'),
  slot('managementTls', (c) => c.management, 'tlsPort', true),
  slot('prometheus', (c) => c.prometheus, 'port'),
];

/** The enabled client listeners of a configuration, by name, with their configured ports. */
export function clientPorts(config: WarrenConfig): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of PORT_SLOTS) {
    const port = s.get(config);
    if (port === null) continue;
    if (s.needsCertFile === true && config.tls.certFile === undefined) continue;
    out[s.name] = port;
  }
  return out;
}

/** The configuration with every listener on the given ports (the member's own, fixed at its start). */
export function withPorts(config: WarrenConfig, ports: Readonly<Record<string, number>>): WarrenConfig {
  const copy = structuredClone(config);
  for (const s of PORT_SLOTS) {
    const port = ports[s.name];
    if (port !== undefined) s.set(copy, port);
  }
  return copy;
}

/** A running cluster member. */
export interface RunningMember {
  member: ClusterMember;
  status(): Promise<ClusterStatus>;
  stop(): Promise<void>;
}

/** Join the cluster named in `config.cluster`: follow the leader, or lead and run the broker. */
export async function startClusterMember(
  config: WarrenConfig,
  logger: WarrenLogger,
  startOptions: StartOptions = {},
): Promise<RunningMember> {
  const cluster = config.cluster;
  if (cluster.etcd === undefined || cluster.secret === undefined) throw new Error('cluster mode needs cluster.etcd and cluster.secret');
  const { ClusterMember } = await import('@warren/cluster');
  const node = cluster.nodeName ?? hostname();
  const member: ClusterMember = new ClusterMember({
    etcd: cluster.etcd,
    cluster: cluster.name,
    node,
    advertiseHost: cluster.advertiseHost ?? hostname(),
    bindHost: config.host,
    replicationPort: cluster.port,
    leaseTtlSeconds: cluster.leaseTtl,
    ackTimeoutMs: cluster.ackTimeoutMs,
    secret: cluster.secret,
    dataDir: config.dataDir,
    clientPorts: clientPorts(config),
    logger: logger.child({ component: 'cluster', node }),
    startBroker: async (ports) =>
      startBroker(withPorts(config, ports), { ...startOptions, logger, cluster: () => member.status() }),
  });
  await member.start();
  logger.info({ node, cluster: cluster.name, ports: member.ports, replicationPort: member.replicationPort }, 'cluster member started');
  return { member, status: () => member.status(), stop: () => member.stop() };
}
