/**
 * The shared state every MQTT connection of one broker sees: client-id registry (takeover), sessions, retained
 * messages, wills and session expiry. Implemented by the service (../service.ts).
 */
import type { BrokerApi, CoreChannel, CoreConnection, Logger, Message, User } from '@warren/core';
import type { IConnectPacket } from 'mqtt-packet';
import type { RetainedStore } from '../retained-store.js';
import type { ConnectionLimits, MqttConnection } from './mqtt-connection.js';
import type { SessionState, SessionStore } from './session-store.js';

/** Adapter settings a connection reads. */
export interface RuntimeOptions {
  defaultVhost: string;
  exchange: string;
  allowAnonymous: boolean;
  anonymousUser: { username: string; password: string };
  /** x-max-length of a persistent session's queues; 0 = unbounded. */
  maxOfflineMessages: number;
  /** RabbitMQ's mqtt.ssl_cert_login: a verified certificate logs in a client that gives no username. */
  sslCertLogin?: boolean;
  /** The user name of a certificate login (RabbitMQ's ssl_cert_login_from). Default 'distinguished_name'. */
  certLoginFrom?: 'distinguished_name' | 'common_name';
  /** Cap on the bytes of all retained messages. */
  maxRetainedBytes: number;
}

/** Counters behind the `$SYS/broker/...` statistics (Mosquitto's names in comments). */
export interface MqttStats {
  /** Packets of any type read (`messages/received`) and written (`messages/sent`). */
  packetsIn: number;
  packetsOut: number;
  /** PUBLISH packets read (`publish/messages/received`) and written (`publish/messages/sent`). */
  publishIn: number;
  publishOut: number;
  /** Payload bytes of those PUBLISH packets (`publish/bytes/received`, `publish/bytes/sent`). */
  publishBytesIn: number;
  publishBytesOut: number;
  /** Bytes read (`bytes/received`) and written (`bytes/sent`). */
  bytesIn: number;
  bytesOut: number;
}

/** One `$SYS` value as a message ready to send (built once per interval and vhost). */
export interface SysEntry {
  topic: string;
  message: Message;
}

/** What a connection needs from the service. */
export interface MqttRuntime {
  readonly broker: BrokerApi;
  readonly logger: Logger;
  readonly options: RuntimeOptions;
  readonly limits: ConnectionLimits;
  readonly retained: RetainedStore;
  readonly sessions: SessionStore;
  /** Which connection published a message (only tracked while some subscription uses No Local). */
  readonly origin: WeakMap<Message, MqttConnection>;
  /** Messages published with RETAIN=1 (for MQTT 5 Retain As Published). */
  readonly retainedMessages: WeakSet<Message>;
  /** Connections with at least one No Local subscription. */
  noLocalCount: number;
  /** Broker statistics counters (`$SYS`). */
  readonly stats: MqttStats;
  /** The current `$SYS/broker/...` values as seen from `vhost`; empty when they are off. */
  sysEntries(vhost: string): readonly SysEntry[];
  /** Register a connected client; a previous connection with the same id and vhost is closed ([MQTT-3.1.4-3]). */
  register(conn: MqttConnection): void;
  /** Forget a closing connection; true if it was still the registered one (not taken over). */
  unregister(conn: MqttConnection): boolean;
  /** Delete a session's queues and state, using `conn` (an open core connection of the same vhost). */
  endSession(session: SessionState, conn: CoreConnection): void;
  scheduleExpiry(session: SessionState): void;
  cancelExpiry(vhost: string, clientId: string): void;
  /** Publish a will now on `ch`, or after `delaySeconds` (MQTT 5 Will Delay Interval). */
  publishWill(
    vhost: string,
    clientId: string,
    will: NonNullable<IConnectPacket['will']>,
    user: User,
    delaySeconds: number,
    ch: CoreChannel,
  ): void;
  cancelWill(vhost: string, clientId: string): void;
  /**
   * Changes made so far to the durable MQTT state (retained messages, persistent sessions), after writing pending
   * session changes: a connection compares it around a packet to tell whether its acknowledgement must wait.
   */
  stateChanges(): number;
  /** Resolves once every change to the durable MQTT state made so far is on disk. */
  stateSync(): Promise<void>;
  /** A persistent session came back to a full offline queue: count it and log it. */
  /** `dropped` messages of a persistent session's queue were removed for the offline limit since last counted. */
  offlineOverflow(clientId: string, queue: string, limit: number, dropped: number): void;
}
