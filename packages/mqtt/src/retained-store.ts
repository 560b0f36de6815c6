/**
 * Retained messages (MQTT 3.1.1 §3.3.1.3, MQTT 5 §3.3.1.3): the last retained PUBLISH per topic and vhost, kept in
 * memory and, durably, in the core's {@link StateLog} (one appended record per change, so storing one retained
 * message costs work proportional to that message). Callers that acknowledge a retained PUBLISH wait for
 * `log.sync()` first.
 */
import { decodeMessage, encodeMessage, MemoryStateLog, type Message, type StateLog } from '@warren/core';
import { TopicTrie } from './topic-trie.js';

/** Key prefix of retained messages in the state log (shared with sessions). */
const KEY_PREFIX = 'r';

/** The state-log key of a retained topic. */
export function retainedKey(vhost: string, topic: string): string {
  return `${KEY_PREFIX}${vhost}\u0000${topic}`;
}

/** One retained message. */
export interface RetainedMessage {
  topic: string;
  qos: 0 | 1 | 2;
  /** The core message as it was published (body and properties). */
  message: Message;
  /**
   * When an MQTT 5 Message Expiry Interval runs out (ms since the epoch): the message is then no longer sent to new
   * subscribers (MQTT 5 §3.3.2.3.3), and a sent copy carries the interval that remains.
   */
  expiresAt?: number;
}

/** Flag in a record's first byte (beside the QoS): an expiry time (float64, ms since the epoch) follows it. */
const HAS_EXPIRY = 0x80;

/** The retained-message store of one broker. */
export class RetainedStore {
  readonly #byVhost = new Map<string, Map<string, RetainedMessage>>();
  /** The same topics per vhost as a trie, for wildcard filters. */
  readonly #tries = new Map<string, TopicTrie<RetainedMessage>>();
  readonly #log: StateLog;
  /** Bytes of the stored records (bodies, properties and a little framing), which memory and the log both hold. */
  #bytes = 0;
  /** Cap on {@link bytes}: a retained message that would take the total past it is refused. */
  maxBytes: number;

  /**
   * @param log Where retained messages are kept (its `r`-prefixed keys); the default keeps them in memory only.
   * @param onBadRecord Told about a stored record that cannot be decoded (it is skipped).
   * @param maxBytes Cap on the total retained bytes (default: none). Messages already stored load whatever it is.
   */
  constructor(log: StateLog = new MemoryStateLog(), onBadRecord?: (key: string, err: unknown) => void, maxBytes = Infinity) {
    this.#log = log;
    this.maxBytes = maxBytes;
    for (const [key, value] of log.entries()) {
      if (!key.startsWith(KEY_PREFIX)) continue;
      const sep = key.indexOf('\u0000');
      try {
        if (sep < 0 || value.length < 1) throw new RangeError('malformed retained record');
        const flags = value[0] as number;
        const qos = (flags & 3) as 0 | 1 | 2;
        const r: RetainedMessage =
          (flags & HAS_EXPIRY) === 0
            ? { topic: key.slice(sep + 1), qos, message: decodeMessage(value, 1) }
            : { topic: key.slice(sep + 1), qos, message: decodeMessage(value, 9), expiresAt: value.readDoubleBE(1) };
        this.#put(key.slice(1, sep), r, value.length);
      } catch (err) {
        onBadRecord?.(key, err);
      }
    }
  }

  /** Number of retained topics in a vhost. */
  size(vhost: string): number {
    return this.#byVhost.get(vhost)?.size ?? 0;
  }

  /** Total bytes of the retained messages stored now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Store (or, with an empty payload, clear) the retained message of a topic ([MQTT-3.3.1-10], [MQTT-3.3.1-11]).
   * The change is in the log at once and on disk after the log's next sync. False, and nothing stored, when the
   * message would take the total past {@link maxBytes} (a replacement counts only what it adds; clearing always works).
   * A message with an expiration (MQTT 5 Message Expiry Interval) is kept until `now` plus that interval.
   */
  set(vhost: string, topic: string, qos: 0 | 1 | 2, message: Message, now = Date.now()): boolean {
    const map = this.#byVhost.get(vhost);
    const old = map?.get(topic);
    if (message.body.length === 0) {
      if (old === undefined) return true;
      map!.delete(topic);
      this.#bytes -= this.#sizes.get(old) ?? 0;
      this.#tries.get(vhost)?.delete(topic);
      this.#log.delete(retainedKey(vhost, topic));
      return true;
    }
    const ttl = message.properties.expiration === undefined ? NaN : Number(message.properties.expiration);
    let prefix: Buffer;
    let expiresAt: number | undefined;
    if (Number.isFinite(ttl) && ttl >= 0) {
      expiresAt = now + ttl;
      prefix = Buffer.alloc(9);
      prefix[0] = qos | HAS_EXPIRY;
      prefix.writeDoubleBE(expiresAt, 1);
    } else {
      prefix = Buffer.of(qos);
    }
    const value = encodeMessage(message, prefix);
    const oldSize = old === undefined ? 0 : (this.#sizes.get(old) ?? 0);
    if (this.#bytes - oldSize + value.length > this.maxBytes) return false;
    this.#log.set(retainedKey(vhost, topic), value);
    // The kept copy's body is a view of the stored record, so a retained body is held in memory once.
    const kept: Message = { ...message, body: value.subarray(value.length - message.body.length) };
    this.#bytes -= oldSize;
    this.#put(vhost, expiresAt === undefined ? { topic, qos, message: kept } : { topic, qos, message: kept, expiresAt }, value.length);
    return true;
  }

  /**
   * Whether storing `message` as `topic`'s retained message would take the total past {@link maxBytes}, counting its
   * body and properties as {@link set} would store them, less what it replaces. Clearing never would.
   */
  wouldExceed(vhost: string, topic: string, message: Message): boolean {
    if (message.body.length === 0 || this.maxBytes === Infinity) return false;
    const old = this.#byVhost.get(vhost)?.get(topic);
    const oldSize = old === undefined ? 0 : (this.#sizes.get(old) ?? 0);
    return this.#bytes - oldSize + encodedSize(message) > this.maxBytes;
  }

  /** The retained message of exactly `topic`. */
  get(vhost: string, topic: string): RetainedMessage | undefined {
    return this.#byVhost.get(vhost)?.get(topic);
  }

  /**
   * Retained messages whose topic matches `filter` (exact or wildcard). Exact filters are a hash lookup; wildcard
   * filters walk a topic trie, so their cost follows the levels the filter reaches, not the number of retained topics.
   * Results come in the order the topics were first retained. Messages expired by `now` are not returned; they
   * are deleted.
   */
  match(vhost: string, filter: string, now = Date.now()): RetainedMessage[] {
    const map = this.#byVhost.get(vhost);
    if (map === undefined) return [];
    let found: RetainedMessage[];
    if (!filter.includes('+') && !filter.includes('#')) {
      const r = map.get(filter);
      found = r === undefined ? [] : [r];
    } else {
      found = this.#tries.get(vhost)?.match(filter) ?? [];
    }
    if (!found.some((r) => r.expiresAt !== undefined && r.expiresAt <= now)) return found;
    const live: RetainedMessage[] = [];
    for (const r of found) {
      if (r.expiresAt === undefined || r.expiresAt > now) live.push(r);
      else this.#expire(vhost, r);
    }
    return live;
  }

  #expire(vhost: string, r: RetainedMessage): void {
    const map = this.#byVhost.get(vhost);
    if (map?.get(r.topic) !== r) return;
    map.delete(r.topic);
    this.#bytes -= this.#sizes.get(r) ?? 0;
    this.#tries.get(vhost)?.delete(r.topic);
    this.#log.delete(retainedKey(vhost, r.topic));
  }

  /** Every retained message with its vhost (the management UI lists them). */
  entries(): Array<{ vhost: string; topic: string; qos: 0 | 1 | 2; body: Buffer; contentType?: string }> {
    const out: Array<{ vhost: string; topic: string; qos: 0 | 1 | 2; body: Buffer; contentType?: string }> = [];
    for (const [vhost, map] of this.#byVhost) {
      for (const r of map.values()) {
        const ct = r.message.properties.contentType;
        out.push({ vhost, topic: r.topic, qos: r.qos, body: r.message.body, ...(ct !== undefined ? { contentType: ct } : {}) });
      }
    }
    return out;
  }

  /** Record size of each stored message (a WeakMap: no field on the message objects subscribers receive). */
  readonly #sizes = new WeakMap<RetainedMessage, number>();

  #put(vhost: string, r: RetainedMessage, size: number): void {
    this.#sizes.set(r, size);
    this.#bytes += size;
    let map = this.#byVhost.get(vhost);
    if (map === undefined) this.#byVhost.set(vhost, (map = new Map()));
    map.set(r.topic, r);
    let trie = this.#tries.get(vhost);
    if (trie === undefined) this.#tries.set(vhost, (trie = new TopicTrie()));
    trie.set(r.topic, r);
  }
}

/**
 * About what {@link RetainedStore.set} stores for `message`: its body plus a record header and typical properties.
 * Close enough to refuse a publish before routing it; `set` then counts the exact size.
 */
function encodedSize(message: Message): number {
  return message.body.length + 128;
}
