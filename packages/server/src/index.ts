/**
 * @warren/server: configuration, logging, start/stop order; `startBroker` embeds the whole broker in-process.
 * (Stub signatures fixed by the lead; the implementation replaces the bodies.)
 */

/** A listener port: a number (0 = any free port), or null to disable the listener. */
export type PortSetting = number | null;

/** The full configuration; every field has a default (see README). */
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
  amqp: {
    port: PortSetting; // 5672
    tlsPort: PortSetting; // 5671
    frameMax: number;
    channelMax: number;
    heartbeat: number;
    maxMessageSize: number;
    handshakeTimeoutMs: number;
  };
  tls: {
    certFile?: string;
    keyFile?: string;
    caFile?: string;
    /** Generate a self-signed certificate into dataDir when no certFile/keyFile are configured. Default true. */
    selfSigned: boolean;
  };
}

/** Any part of the configuration; the rest takes defaults. */
export type WarrenConfigInput = {
  [K in keyof WarrenConfig]?: WarrenConfig[K] extends object ? Partial<WarrenConfig[K]> : WarrenConfig[K];
};

export interface RunningBroker {
  /** The bound ports of the enabled listeners. */
  ports: { amqp?: number; amqps?: number };
  config: WarrenConfig;
  /** Stop listeners, close connections, release everything. */
  stop(): Promise<void>;
}

/** Start the broker in this process. Port 0 picks free ports; the bound ones come back in `ports`. */
export async function startBroker(config: WarrenConfigInput = {}): Promise<RunningBroker> {
  void config;
  throw new Error('not implemented yet');
}
