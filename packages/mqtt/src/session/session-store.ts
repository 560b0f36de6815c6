/**
 * Persistent MQTT sessions (clean session 0, or MQTT 5 Session Expiry Interval > 0): what must outlive a connection
 * and a broker restart besides the queued messages (those live in the durable core queues
 * `mqtt-subscription-<clientid>qos0/qos1`). Kept in memory and, for sessions that outlive their connection, in the
 * core's {@link StateLog} as one JSON record per session (a change rewrites that session's record only).
 */
import { MemoryStateLog, type StateLog } from '@warren/core';
import type { QoS } from 'mqtt-packet';

/** One subscription of a session, with its MQTT 5 options. */
export interface SubscriptionState {
  /** The topic filter as subscribed (for a shared subscription, the full `$share/<group>/<filter>`). */
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  /** MQTT 5 Subscription Identifier, when given. */
  identifier?: number;
}

/** The state of one session. */
export interface SessionState {
  vhost: string;
  clientId: string;
  /** The user that owns the session (re-used to clean up after expiry, including after a restart). */
  user: { name: string; tags: string[] };
  /** Session expiry interval, seconds; 0 = ends with the connection. */
  expiry: number;
  /** When the last connection closed (ms since epoch); undefined while connected. */
  disconnectedAt?: number;
  subscriptions: SubscriptionState[];
  /** QoS 2 inbound: packet ids PUBREC'd and awaiting PUBREL ([MQTT-4.3.3-9]). */
  qos2Inbound: number[];
  /** QoS 2 outbound: packet ids whose PUBREL was sent and PUBCOMP not yet received. */
  qos2Pubrel: number[];
  /** Per session queue: its length-limit removals already counted (the queue's counter at the last reconnect). */
  overflowSeen?: Record<string, number>;
}

/** Key of a session: client ids are scoped to a vhost, as in RabbitMQ. */
export function sessionKey(vhost: string, clientId: string): string {
  return `${vhost}\u0000${clientId}`;
}

/** Key prefix of sessions in the state log (shared with retained messages). */
const KEY_PREFIX = 's';

/** The session table. */
export class SessionStore {
  readonly sessions = new Map<string, SessionState>();
  readonly #log: StateLog;
  /** Sessions changed since they were last written (by {@link sessionKey}). */
  readonly #dirty = new Set<string>();
  #scheduled = false;
  #closed = false;

  /**
   * @param log Where persistent sessions are kept (its `s`-prefixed keys); the default keeps them in memory only.
   * @param onBadRecord Told about a stored record that cannot be decoded (it is skipped).
   */
  constructor(log: StateLog = new MemoryStateLog(), onBadRecord?: (key: string, err: unknown) => void) {
    this.#log = log;
    for (const [key, value] of log.entries()) {
      if (!key.startsWith(KEY_PREFIX)) continue;
      try {
        const s = JSON.parse(value.toString('utf8')) as SessionState;
        this.sessions.set(sessionKey(s.vhost, s.clientId), s);
      } catch (err) {
        onBadRecord?.(key, err);
      }
    }
  }

  get(vhost: string, clientId: string): SessionState | undefined {
    return this.sessions.get(sessionKey(vhost, clientId));
  }

  put(state: SessionState): void {
    this.sessions.set(sessionKey(state.vhost, state.clientId), state);
    this.changed(state);
  }

  delete(vhost: string, clientId: string): void {
    const key = sessionKey(vhost, clientId);
    if (this.sessions.delete(key)) this.#markDirty(key);
  }

  /**
   * A session changed: its record is rewritten at the end of this event-loop turn (coalescing bursts), or at the next
   * {@link flush}. Without an argument every session is rewritten.
   */
  changed(session?: SessionState): void {
    if (session !== undefined) this.#markDirty(sessionKey(session.vhost, session.clientId));
    else for (const key of this.sessions.keys()) this.#markDirty(key);
  }

  /** Write the changed sessions into the log now (callers then wait for the log's sync to acknowledge). */
  flush(): void {
    if (this.#closed || this.#dirty.size === 0) return;
    for (const key of this.#dirty) {
      const s = this.sessions.get(key);
      // Only sessions that outlive their connection are worth keeping.
      if (s !== undefined && s.expiry > 0) this.#log.set(KEY_PREFIX + key, Buffer.from(JSON.stringify(s)));
      else this.#log.delete(KEY_PREFIX + key);
    }
    this.#dirty.clear();
  }

  /** Write what changed and stop writing: the broker is stopping (the caller closes the log). */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  #markDirty(key: string): void {
    if (this.#closed) return;
    this.#dirty.add(key);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush();
    });
  }
}
