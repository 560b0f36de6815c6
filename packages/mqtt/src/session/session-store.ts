/**
 * Persistent MQTT sessions (clean session 0, or MQTT 5 Session Expiry Interval > 0): what must outlive a connection
 * and a broker restart besides the queued messages (those live in the durable core queues
 * `mqtt-subscription-<clientid>qos0/qos1`). Kept in memory and written to `<dataDir>/mqtt/sessions.json`.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** The session table. */
export class SessionStore {
  readonly sessions = new Map<string, SessionState>();
  readonly #file: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** @param dir Directory of the durable file; undefined keeps sessions in memory only. */
  constructor(dir: string | undefined) {
    if (dir === undefined) return;
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, 'sessions.json');
    try {
      const rows = JSON.parse(readFileSync(this.#file, 'utf8')) as SessionState[];
      for (const s of rows) this.sessions.set(sessionKey(s.vhost, s.clientId), s);
    } catch {
      // No file yet (or unreadable: start without sessions rather than refuse to start).
    }
  }

  get(vhost: string, clientId: string): SessionState | undefined {
    return this.sessions.get(sessionKey(vhost, clientId));
  }

  put(state: SessionState): void {
    this.sessions.set(sessionKey(state.vhost, state.clientId), state);
    this.changed();
  }

  delete(vhost: string, clientId: string): void {
    if (this.sessions.delete(sessionKey(vhost, clientId))) this.changed();
  }

  /** A session changed: write the file soon (coalescing bursts). */
  changed(): void {
    if (this.#file === undefined || this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => this.flush(), 20);
    this.#timer.unref();
  }

  /** Write the sessions now and stop writing: the broker is stopping and its data directory may go away. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  flush(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#file === undefined) return;
    // Only sessions that outlive their connection are worth keeping.
    const rows = [...this.sessions.values()].filter((s) => s.expiry > 0);
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, JSON.stringify(rows));
    renameSync(tmp, this.#file);
  }
}
