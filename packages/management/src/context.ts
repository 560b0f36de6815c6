/**
 * What the management API needs of the rest of the broker: the core (through its query and administration methods;
 * the core knows nothing of HTTP) and a few facts only the server knows (node name, listeners).
 */
import type { Broker, Logger } from '@warren/core';

/** One listener as RabbitMQ's overview lists it. */
export interface ListenerDescription {
  /** RabbitMQ's protocol names: 'amqp', 'amqp/ssl', 'mqtt', 'mqtt/ssl', 'stomp', 'stomp/ssl', 'http/web-stomp', ... */
  protocol: string;
  port: number;
  /** Bound address ('::' = every interface). */
  ipAddress: string;
}

/** Everything the routes read and change. */
export interface ManagementContext {
  readonly broker: Broker;
  readonly logger: Logger;
  /** RabbitMQ-style node name, `warren@<host>`. */
  readonly nodeName: string;
  /** When the broker started (ms since the epoch). */
  readonly startedAt: number;
  /** Warren's version, reported where RabbitMQ reports rabbitmq_version and product_version. */
  readonly version: string;
  /** The listeners now bound (every protocol, the management and Prometheus ones included). */
  listeners(): ListenerDescription[];
  /** RabbitMQ's cluster name (`/api/cluster-name`). */
  readonly clusterName: string;
  /** Rename the cluster; resolves once the new name is durable. */
  setClusterName(name: string): Promise<void>;
  /** The TLS certificates the listeners serve (for the certificate-expiration health check); absent: none. */
  certificates?(): CertificateDescription[];
  /** Resource figures the server measures (memory and disk alarms); absent in tests without a monitor. */
  resources?(): NodeResources;
  /** The MQTT adapter's sessions and retained messages (the UI's MQTT view); absent without MQTT listeners. */
  mqtt?: MqttStateProvider;
  /** The replicated cluster this node leads (`/api/cluster`); absent on a single node. */
  cluster?(): Promise<ClusterView>;
}

/** A replicated cluster as its leader sees it. */
export interface ClusterView {
  cluster: string;
  /** This member. */
  node: string;
  role: string;
  leader: { node: string; host: string; epoch: number } | undefined;
  epoch: number | undefined;
  /** The in-sync replica set, as committed in etcd. */
  isr: string[];
  members: Array<{
    node: string;
    host: string;
    leader: boolean;
    inSync: boolean;
    /** Changes sent to the member and not yet acknowledged. */
    lagChanges?: number;
    /** Bytes of those changes. */
    lagBytes?: number;
    /** The replication link's state: syncing, in-sync, out-of-sync. */
    state?: string;
  }>;
}

/** What the resource monitor knows of the node. */
export interface NodeResources {
  dataDir: string;
  diskFree: number;
  diskFreeLimit: number;
  memLimit: number;
  fdTotal: number;
}

/** A certificate one TLS listener serves. */
export interface CertificateDescription {
  /** The listener's protocol as in {@link ListenerDescription}. */
  protocol: string;
  port: number;
  ipAddress: string;
  /** PEM. */
  cert: string | Buffer;
  certFile: string;
  caFile?: string;
}

/**
 * What the MQTT adapter shows of its state to the UI's MQTT view. The server registers the MQTT service's provider
 * here (management imports no protocol package; the provider is structural).
 */
export interface MqttStateProvider {
  /** Every session the adapter knows: connected ones and persistent ones waiting for their client. */
  sessions(): Iterable<MqttSessionDescription>;
  /** Every retained message. */
  retained(): Iterable<MqttRetainedDescription>;
}

/** One MQTT session. */
export interface MqttSessionDescription {
  vhost: string;
  clientId: string;
  user: string;
  connected: boolean;
  /** Session expiry interval, seconds (0: ends with its connection, a clean session). */
  expiry: number;
  /** When its connection closed (ms since the epoch), for a disconnected persistent session. */
  disconnectedAt?: number;
  subscriptions: Array<{ filter: string; qos: number }>;
  /** The core queues holding its messages (the offline queue depth is their length). */
  queues: string[];
}

/** One retained message. */
export interface MqttRetainedDescription {
  vhost: string;
  topic: string;
  qos: number;
  body: Buffer;
  contentType?: string;
}
