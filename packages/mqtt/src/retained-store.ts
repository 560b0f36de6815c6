/**
 * Retained messages (MQTT 3.1.1 §3.3.1.3, MQTT 5 §3.3.1.3): the last retained PUBLISH per topic and vhost, kept in
 * memory and written to `<dataDir>/mqtt/retained.json` (rewritten atomically, at most once per flush interval).
 * Protocol-free apart from the MQTT topic names it is keyed by, so other adapters can reach it later.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from '@warren/core';
import { TopicTrie } from './topic-trie.js';

/** One retained message. */
export interface RetainedMessage {
  topic: string;
  qos: 0 | 1 | 2;
  /** The core message as it was published (body and properties). */
  message: Message;
}

interface StoredRetained {
  vhost: string;
  topic: string;
  qos: 0 | 1 | 2;
  exchange: string;
  routingKey: string;
  properties: Message['properties'];
  body: string;
}

/** The retained-message store of one broker. */
export class RetainedStore {
  readonly #byVhost = new Map<string, Map<string, RetainedMessage>>();
  /** The same topics per vhost as a trie, for wildcard filters. */
  readonly #tries = new Map<string, TopicTrie<RetainedMessage>>();
  readonly #file: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #flushMs: number;

  /** @param dir Directory of the durable file; undefined keeps the store in memory only. */
  constructor(dir: string | undefined, flushMs = 50) {
    this.#flushMs = flushMs;
    if (dir === undefined) return;
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, 'retained.json');
    this.#load();
  }

  /** Number of retained topics in a vhost. */
  size(vhost: string): number {
    return this.#byVhost.get(vhost)?.size ?? 0;
  }

  /** Store (or, with an empty payload, clear) the retained message of a topic ([MQTT-3.3.1-10], [MQTT-3.3.1-11]). */
  set(vhost: string, topic: string, qos: 0 | 1 | 2, message: Message): void {
    let map = this.#byVhost.get(vhost);
    if (message.body.length === 0) {
      if (map?.delete(topic) !== true) return;
      this.#tries.get(vhost)?.delete(topic);
    } else {
      this.#put(vhost, { topic, qos, message });
    }
    this.#schedule();
  }

  /** The retained message of exactly `topic`. */
  get(vhost: string, topic: string): RetainedMessage | undefined {
    return this.#byVhost.get(vhost)?.get(topic);
  }

  /**
   * Retained messages whose topic matches `filter` (exact or wildcard). Exact filters are a hash lookup; wildcard
   * filters walk a topic trie, so their cost follows the levels the filter reaches, not the number of retained topics.
   * Results come in the order the topics were first retained.
   */
  match(vhost: string, filter: string): RetainedMessage[] {
    const map = this.#byVhost.get(vhost);
    if (map === undefined) return [];
    if (!filter.includes('+') && !filter.includes('#')) {
      const r = map.get(filter);
      return r === undefined ? [] : [r];
    }
    return this.#tries.get(vhost)?.match(filter) ?? [];
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

  /** Write pending changes now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#file === undefined || this.#closed) return;
    const rows: StoredRetained[] = [];
    for (const [vhost, map] of this.#byVhost) {
      for (const r of map.values()) {
        rows.push({
          vhost,
          topic: r.topic,
          qos: r.qos,
          exchange: r.message.exchange,
          routingKey: r.message.routingKey,
          properties: r.message.properties,
          body: r.message.body.toString('base64'),
        });
      }
    }
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, JSON.stringify(rows));
    renameSync(tmp, this.#file);
  }

  /** Flush, stop the timer, and write nothing more (the data directory may go away after the broker stops). */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  #schedule(): void {
    if (this.#file === undefined || this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => this.flush(), this.#flushMs);
    this.#timer.unref();
  }

  #load(): void {
    let text: string;
    try {
      text = readFileSync(this.#file as string, 'utf8');
    } catch {
      return; // No file yet.
    }
    const rows = JSON.parse(text) as StoredRetained[];
    for (const row of rows) {
      this.#put(row.vhost, {
        topic: row.topic,
        qos: row.qos,
        message: {
          exchange: row.exchange,
          routingKey: row.routingKey,
          properties: row.properties,
          rawProperties: undefined,
          body: Buffer.from(row.body, 'base64'),
        },
      });
    }
  }

  #put(vhost: string, r: RetainedMessage): void {
    let map = this.#byVhost.get(vhost);
    if (map === undefined) this.#byVhost.set(vhost, (map = new Map()));
    map.set(r.topic, r);
    let trie = this.#tries.get(vhost);
    if (trie === undefined) this.#tries.set(vhost, (trie = new TopicTrie()));
    trie.set(r.topic, r);
  }
}
