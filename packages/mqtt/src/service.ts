/**
 * The MQTT service: one per broker, shared by the TCP, TLS and WebSocket listeners. It wires each accepted stream to
 * an {@link MqttConnection} and implements the {@link MqttRuntime} the connections share (takeover registry,
 * sessions, retained messages, wills, session expiry).
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import {
  isBrokerError,
  type BrokerApi,
  type ChannelHost,
  type ConnectionInfo,
  type CoreChannel,
  type CoreConnection,
  type Logger,
  type Message,
  type StateLog,
  type User,
} from '@warren/core';
import { ConnectionIo, FlushPacer, serveStream, type OutboundWriter, type ServeStreamOptions } from '@warren/transport';
import type { IConnectPacket } from 'mqtt-packet';
import { publishToMessage } from './mapping.js';
import { RetainedStore } from './retained-store.js';
import { openMqttStateLog } from './state-log.js';
import { MqttConnection, OwnedStructures, ReasonCode, subscriptionQueueName, type ConnectionLimits } from './session/mqtt-connection.js';
import type { MqttRuntime, MqttStats, RuntimeOptions, SysEntry } from './session/runtime.js';
import { sessionKey, SessionStore, type SessionState } from './session/session-store.js';

/** A ChannelHost for the service's own short-lived channels (cleanup, delayed wills): it consumes nothing. */
const NULL_HOST: ChannelHost = {
  writable: true,
  deliver() {},
  confirm() {},
  returned() {},
  consumerCancelled() {},
};
const NULL_CONNECTION_HOST = { blocked() {}, unblocked() {} };

let internalIds = 0;

/**
 * The transport's I/O with the MQTT statistics (`$SYS`) and the output pacer: every write is counted and listed
 * with the pacer, which flushes batches that waited while many other sockets were read in the same turn.
 */
class MqttConnectionIo extends ConnectionIo {
  readonly service: MqttServiceImpl;
  /** The pacer's mark ({@link Flushable}). */
  pacerMark = 0;
  constructor(stream: Duplex, writer: OutboundWriter, service: MqttServiceImpl) {
    super(stream, writer);
    this.service = service;
  }
  override write(buf: Buffer): void {
    const stats = this.service.stats;
    stats.packetsOut++;
    stats.bytesOut += buf.length;
    this.writer.write(buf);
    flushPacer.written(this);
  }
}

const flushPacer = new FlushPacer<MqttConnectionIo>();

/** Everything the service needs, already defaulted. */
export interface ResolvedMqttOptions extends RuntimeOptions {
  limits: ConnectionLimits;
  /** Directory of the MQTT state log (retained messages, persistent sessions); undefined = memory only. */
  stateDir: string | undefined;
  /** Seconds between `$SYS` statistics; 0 = none. */
  sysInterval: number;
  /** A state log to use instead of the one in `stateDir`. */
  stateLog?: StateLog;
  /** Close a client whose output stayed over the writer's high-water mark this long, ms; 0 = never. */
  slowConsumerTimeoutMs: number;
}

/** `$SYS/broker/version`, as Mosquitto words it ("mosquitto version 2.0.11"). */
const VERSION = `warren version ${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;

/** The service object behind {@link createMqttService}. */
export class MqttServiceImpl implements MqttRuntime {
  readonly broker: BrokerApi;
  readonly logger: Logger;
  readonly options: RuntimeOptions;
  readonly limits: ConnectionLimits;
  readonly retained: RetainedStore;
  readonly sessions: SessionStore;
  /** Where retained messages and persistent sessions are kept; undefined = memory only. */
  readonly stateLog: StateLog | undefined;
  readonly origin = new WeakMap<Message, MqttConnection>();
  readonly retainedMessages = new WeakSet<Message>();
  noLocalCount = 0;
  readonly stats: MqttStats = { packetsIn: 0, packetsOut: 0, publishIn: 0, publishOut: 0, publishBytesIn: 0, publishBytesOut: 0, bytesIn: 0, bytesOut: 0 };
  readonly #startedAt = Date.now();
  readonly #sysInterval: number;
  #sysTimer: NodeJS.Timeout | undefined;
  /** This interval's `$SYS` messages per vhost (built on first use, dropped at each tick). */
  #sys = new Map<string, SysEntry[]>();
  /** Most clients connected at once (`clients/maximum`). */
  #maxClients = 0;
  /** Reconnects that found messages dropped for the offline queue limit, and how many were dropped in all. */
  offlineOverflows = 0;
  offlineDropped = 0;
  readonly #clients = new Map<string, MqttConnection>();
  readonly #connections = new Set<MqttConnection>();
  /** How every stream is served (made once: nothing in it is per connection). */
  readonly #serve: ServeStreamOptions<MqttConnection, MqttConnectionIo>;
  readonly #expiryTimers = new Map<string, NodeJS.Timeout>();
  readonly #willTimers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(broker: BrokerApi, logger: Logger, options: ResolvedMqttOptions) {
    this.broker = broker;
    this.logger = logger;
    this.options = options;
    this.limits = options.limits;
    const stats = this.stats;
    this.#serve = {
      createIo: (stream, writer) => new MqttConnectionIo(stream, writer, this),
      createSession: (io) => new MqttConnection(io, this.#info as ConnectionInfo, this),
      writer: { stallTimeoutMs: options.slowConsumerTimeoutMs },
      afterRead(_conn, bytes) {
        stats.bytesIn += bytes;
        flushPacer.afterRead();
      },
      registry: this.#connections,
    };
    this.stateLog = options.stateLog ?? (options.stateDir === undefined ? undefined : openMqttStateLog(options.stateDir, logger));
    const bad = (key: string, err: unknown): void => logger.error({ err, key }, 'unreadable MQTT state record skipped');
    this.retained = new RetainedStore(this.stateLog, bad, options.maxRetainedBytes);
    this.sessions = new SessionStore(this.stateLog, bad);
    this.#sysInterval = options.sysInterval;
    if (options.sysInterval > 0) {
      this.#sysTimer = setInterval(() => this.#publishSys(), options.sysInterval * 1000);
      this.#sysTimer.unref();
    }
    // Sessions restored from disk keep expiring from when their connection closed.
    for (const s of this.sessions.sessions.values()) {
      s.disconnectedAt ??= Date.now();
      this.scheduleExpiry(s);
    }
  }

  /**
   * The sessions and retained messages as the management UI's MQTT view shows them (structurally the management
   * package's MqttStateProvider; the server hands this object over).
   */
  readonly state: MqttStateView = {
    sessions: () => {
      const out: MqttSessionView[] = [];
      for (const s of this.sessions.sessions.values()) {
        out.push({
          vhost: s.vhost,
          clientId: s.clientId,
          user: s.user.name,
          connected: this.#clients.has(sessionKey(s.vhost, s.clientId)),
          expiry: s.expiry,
          ...(s.disconnectedAt !== undefined ? { disconnectedAt: s.disconnectedAt } : {}),
          subscriptions: s.subscriptions.map((x) => ({ filter: x.filter, qos: x.qos })),
          queues: [subscriptionQueueName(s.clientId, 0), subscriptionQueueName(s.clientId, 1)],
        });
      }
      return out;
    },
    retained: () => this.retained.entries(),
  };

  /** Number of open MQTT connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  debugStats(): MqttDebugStats {
    const out: MqttDebugStats = { connections: this.#connections.size, subscriptionMaps: 0, inflightMaps: 0, aliasMaps: 0, sessionLists: 0 };
    for (const conn of this.#connections) {
      const bits = conn.ownedStructures();
      if ((bits & OwnedStructures.Subscriptions) !== 0) out.subscriptionMaps++;
      if ((bits & OwnedStructures.Inflight) !== 0) out.inflightMaps++;
      if ((bits & OwnedStructures.Aliases) !== 0) out.aliasMaps++;
      if ((bits & OwnedStructures.SessionLists) !== 0) out.sessionLists++;
    }
    return out;
  }

  handleConnection(stream: Duplex, info: ConnectionInfo): void {
    if (this.#closed) {
      stream.destroy();
      return;
    }
    this.#info = info;
    try {
      serveStream(stream, this.#serve);
    } finally {
      this.#info = undefined;
    }
  }

  /** The connection info of the stream being served (handed to createSession, which gets only the stream). */
  #info: ConnectionInfo | undefined;

  register(conn: MqttConnection): void {
    const key = sessionKey(conn.vhost, conn.clientId);
    const previous = this.#clients.get(key);
    this.#clients.set(key, conn);
    if (this.#clients.size > this.#maxClients) this.#maxClients = this.#clients.size;
    if (previous !== undefined && previous !== conn) {
      // [MQTT-3.1.4-3] the existing connection is closed; MQTT 5 tells it 0x8E Session Taken Over.
      previous.disconnect(ReasonCode.SessionTakenOver, 'session taken over by a new connection with the same client id');
      const state = this.sessions.get(conn.vhost, conn.clientId);
      // A session that ended with its connection does not carry over.
      if (state !== undefined && state.expiry === 0) this.sessions.delete(conn.vhost, conn.clientId);
    }
  }

  unregister(conn: MqttConnection): boolean {
    const key = sessionKey(conn.vhost, conn.clientId);
    if (this.#clients.get(key) !== conn) return false;
    this.#clients.delete(key);
    return true;
  }

  endSession(session: SessionState, conn: CoreConnection): void {
    const ch = conn.openChannel(NULL_HOST);
    try {
      for (const qos of [0, 1] as const) {
        try {
          ch.deleteQueue(subscriptionQueueName(session.clientId, qos), {});
        } catch (err) {
          if (!isBrokerError(err)) throw err;
        }
      }
    } finally {
      ch.close();
    }
    this.sessions.delete(session.vhost, session.clientId);
    this.cancelExpiry(session.vhost, session.clientId);
  }

  scheduleExpiry(session: SessionState): void {
    const key = sessionKey(session.vhost, session.clientId);
    this.cancelExpiry(session.vhost, session.clientId);
    const due = (session.disconnectedAt ?? Date.now()) + session.expiry * 1000 - Date.now();
    const timer = setTimeout(() => {
      this.#expiryTimers.delete(key);
      if (this.#clients.has(key)) return;
      // A timer waits at most 2^31 - 1 ms: a longer expiry is reached in several waits.
      if (due > 0x7fffffff) {
        this.scheduleExpiry(session);
        return;
      }
      this.logger.info({ clientId: session.clientId, vhost: session.vhost }, 'MQTT session expired');
      this.#withInternalConnection(session.vhost, session.user, (conn) => this.endSession(session, conn));
    }, Math.max(0, Math.min(due, 0x7fffffff)));
    timer.unref();
    this.#expiryTimers.set(key, timer);
  }

  cancelExpiry(vhost: string, clientId: string): void {
    const key = sessionKey(vhost, clientId);
    const t = this.#expiryTimers.get(key);
    if (t !== undefined) clearTimeout(t);
    this.#expiryTimers.delete(key);
  }

  publishWill(
    vhost: string,
    clientId: string,
    will: NonNullable<IConnectPacket['will']>,
    user: User,
    delaySeconds: number,
    ch: CoreChannel,
  ): void {
    const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload;
    const qos = will.qos ?? 0;
    const message = publishToMessage(this.options.exchange, will.topic, payload, qos, false, will.properties);
    const publish = (channel: CoreChannel): void => {
      if (will.retain === true) this.retainedMessages.add(message);
      try {
        channel.publish(message, {});
      } catch (err) {
        if (!isBrokerError(err)) throw err;
        this.logger.warn({ clientId, vhost, err: err.message }, 'MQTT will refused');
        return;
      }
      // Retained only once the core accepted it (a will refused by a topic permission leaves the topic as it was),
      // and only within the retained byte cap (the will is still delivered to current subscribers).
      if (will.retain === true && !this.retained.set(vhost, will.topic, qos, message)) {
        this.logger.warn({ clientId, vhost, topic: will.topic, maxRetainedBytes: this.retained.maxBytes }, 'MQTT will not retained: retained messages are at their byte cap');
      }
    };
    if (delaySeconds <= 0) {
      publish(ch);
      return;
    }
    // MQTT 5 §3.1.3.2.2: a will delayed; cancelled if the client reconnects first ([MQTT-3.1.3-9]).
    const key = sessionKey(vhost, clientId);
    this.cancelWill(vhost, clientId);
    const timer = setTimeout(() => {
      this.#willTimers.delete(key);
      this.#withInternalConnection(vhost, user, (conn) => {
        const c = conn.openChannel(NULL_HOST);
        publish(c);
        c.close();
      });
      // Within setTimeout's reach (2^31 - 1 ms); a will delay is never longer than its session's expiry anyway.
    }, Math.min(delaySeconds * 1000, 0x7fffffff));
    timer.unref();
    this.#willTimers.set(key, timer);
  }

  sysEntries(vhost: string): readonly SysEntry[] {
    if (this.#sysInterval <= 0) return [];
    let entries = this.#sys.get(vhost);
    if (entries !== undefined) return entries;
    let subscriptions = 0;
    let shared = 0;
    for (const s of this.sessions.sessions.values()) {
      subscriptions += s.subscriptions.length;
      for (const sub of s.subscriptions) if (sub.filter.startsWith('$share/')) shared++;
    }
    const connected = this.#clients.size;
    const total = this.sessions.sessions.size;
    const st = this.stats;
    // Mosquitto's $SYS tree (its topic names and value formats), as far as Warren has the numbers.
    const values: Array<[string, string]> = [
      ['version', VERSION],
      ['uptime', `${Math.floor((Date.now() - this.#startedAt) / 1000)} seconds`],
      ['clients/connected', String(connected)],
      ['clients/active', String(connected)],
      ['clients/total', String(Math.max(total, connected))],
      ['clients/disconnected', String(Math.max(0, total - connected))],
      ['clients/inactive', String(Math.max(0, total - connected))],
      ['clients/maximum', String(this.#maxClients)],
      ['messages/received', String(st.packetsIn)],
      ['messages/sent', String(st.packetsOut)],
      ['publish/messages/received', String(st.publishIn)],
      ['publish/messages/sent', String(st.publishOut)],
      ['bytes/received', String(st.bytesIn)],
      ['bytes/sent', String(st.bytesOut)],
      ['publish/bytes/received', String(st.publishBytesIn)],
      ['publish/bytes/sent', String(st.publishBytesOut)],
      ['retained messages/count', String(this.retained.size(vhost))],
      ['subscriptions/count', String(subscriptions)],
      ['shared_subscriptions/count', String(shared)],
    ];
    entries = values.map(([name, value]) => {
      const topic = `$SYS/broker/${name}`;
      return { topic, message: publishToMessage(this.options.exchange, topic, Buffer.from(value), 0, false, undefined) };
    });
    this.#sys.set(vhost, entries);
    return entries;
  }

  /** The interval came: every connection with a `$SYS` subscription gets the new values. */
  #publishSys(): void {
    this.#sys.clear();
    for (const conn of this.#connections) conn.publishSys();
    // Built again on the next subscribe or tick (uptime and counters move on).
    this.#sys.clear();
  }

  offlineOverflow(clientId: string, queue: string, limit: number, dropped: number): void {
    this.offlineOverflows++;
    this.offlineDropped += dropped;
    this.logger.warn({ clientId, queue, limit, dropped }, 'MQTT offline queue overflowed: the oldest messages were dropped');
  }

  cancelWill(vhost: string, clientId: string): void {
    const key = sessionKey(vhost, clientId);
    const t = this.#willTimers.get(key);
    if (t !== undefined) clearTimeout(t);
    this.#willTimers.delete(key);
  }

  #withInternalConnection(vhost: string, user: { name: string; tags: readonly string[] }, fn: (conn: CoreConnection) => void): void {
    const info: ConnectionInfo = {
      id: `mqtt-internal-${++internalIds}`,
      protocol: 'mqtt',
      remoteAddress: '127.0.0.1',
      remotePort: 0,
      localPort: 0,
      tls: false,
      listener: 'mqtt-internal',
    };
    let conn: CoreConnection | undefined;
    try {
      conn = this.broker.openConnection(info, { name: user.name, tags: [...user.tags] }, vhost, NULL_CONNECTION_HOST);
      fn(conn);
    } catch (err) {
      this.logger.warn({ err, vhost, user: user.name }, 'MQTT internal operation failed');
    } finally {
      conn?.close();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sysTimer !== undefined) clearInterval(this.#sysTimer);
    for (const conn of [...this.#connections]) {
      conn.disconnect(ReasonCode.ServerShuttingDown, 'server shutting down');
      conn.io.destroy();
    }
    this.#connections.clear();
    for (const t of this.#expiryTimers.values()) clearTimeout(t);
    for (const t of this.#willTimers.values()) clearTimeout(t);
    this.#expiryTimers.clear();
    this.#willTimers.clear();
    this.sessions.close();
    this.stateLog?.close();
  }

  stateChanges(): number {
    if (this.stateLog === undefined) return 0;
    this.sessions.flush();
    return this.stateLog.changes;
  }

  stateSync(): Promise<void> {
    return this.stateLog?.sync() ?? Promise.resolve();
  }
}

/**
 * How many live connections made per-connection structures of their own ({@link MqttService.debugStats}): an idle
 * connection (CONNECT, no SUBSCRIBE, no QoS 1/2 traffic) makes none of these.
 */
export interface MqttDebugStats {
  connections: number;
  /** Connections with subscription maps (made by the first SUBSCRIBE). */
  subscriptionMaps: number;
  /** Connections with in-flight QoS 1/2 state. */
  inflightMaps: number;
  /** Connections with topic alias maps. */
  aliasMaps: number;
  /** Connections whose session has its own subscription or QoS 2 lists. */
  sessionLists: number;
}

/** One session as {@link MqttServiceImpl.state} describes it. */
export interface MqttSessionView {
  vhost: string;
  clientId: string;
  user: string;
  connected: boolean;
  expiry: number;
  disconnectedAt?: number;
  subscriptions: Array<{ filter: string; qos: number }>;
  /** Its core queues (their length is the offline queue depth). */
  queues: string[];
}

/** What the MQTT service shows of its state (the management UI's MQTT view). */
export interface MqttStateView {
  sessions(): MqttSessionView[];
  retained(): Array<{ vhost: string; topic: string; qos: number; body: Buffer; contentType?: string }>;
}
