/**
 * What start.ts needs to know of a protocol to serve it: one service per broker, and its TCP, TLS and WebSocket
 * listeners with their names, config sections and keys in {@link RunningBroker.ports}. start.ts loops over these
 * descriptions, so every protocol gets the same listener logs, TLS rules, port bookkeeping and shutdown.
 */
import type { Duplex } from 'node:stream';
import type { ConnectionInfo } from '@warren/core';
import type { Listener, TlsOptions } from '@warren/transport';
import type { WarrenConfig } from '../config.js';
import type { WarrenLogger } from '../logger.js';
import type { BrokerLike, RunningBroker, StartOptions } from '../start.js';

/** A key of {@link RunningBroker.ports}. */
export type PortKey = keyof RunningBroker['ports'];

/** One protocol's connections, whatever listener accepted them. */
export interface ServerService {
  handleConnection(stream: Duplex, info: ConnectionInfo): void;
  /** Close every connection (telling clients why, where the protocol can) and release resources. */
  close(): Promise<void>;
}

/** What a protocol's service is made from. */
export interface ProtocolEnv {
  broker: BrokerLike;
  /** The server's logger; the module makes its own `component` child. */
  logger: WarrenLogger;
  config: WarrenConfig;
  startOptions: StartOptions;
}

/** The options start.ts fills in for every WebSocket listener; the module adds its protocol's own. */
export interface WebListenBase {
  name: string;
  host: string;
  port: number;
  maxUnauthenticated: number;
  tls?: TlsOptions;
  onError: (err: Error, context: { phase: string }) => void;
}

/** A protocol as the server starts it. */
export interface ProtocolModule<S extends ServerService = ServerService> {
  /** 'amqp', 'stomp', 'mqtt': the `protocol` of its listeners' log lines and connection info. */
  readonly protocol: string;
  /** The plain TCP listener. */
  readonly tcp: { name: string; portKey: PortKey; port(config: WarrenConfig): number | null };
  /** The TLS listener; `label` names it in the error when no certificate is configured. */
  readonly tls: {
    name: string;
    portKey: PortKey;
    label: string;
    port(config: WarrenConfig): number | null;
    /** Deadline of the TLS handshake; absent: the transport's default. */
    handshakeTimeoutMs?(config: WarrenConfig): number;
  };
  /** The WebSocket listeners (ws:// and, with a configured certificate, wss://). */
  readonly web?: {
    name: string;
    tlsName: string;
    portKey: PortKey;
    tlsPortKey: PortKey;
    section(config: WarrenConfig): { port: number | null; tlsPort: number | null };
    listen(service: S, base: WebListenBase, config: WarrenConfig): Promise<Listener>;
  };
  /**
   * False: no listener of this protocol is on and no service is made. Absent: always made (AMQP: its service also
   * serves connections handed in by an embedding test).
   */
  readonly alwaysOn?: boolean;
  createService(env: ProtocolEnv): S;
}
