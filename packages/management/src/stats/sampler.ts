/**
 * The rates behind every `*_details.rate`: one broker-wide timer samples the core's live counters every
 * {@link SAMPLE_INTERVAL_MS} into fixed-size rings (core SampleRing). A ring is allocated only for an object that has
 * had traffic, so idle queues cost nothing, and each ring has a fixed size, so memory stays bounded however long the
 * broker runs. The walk over queues and exchanges yields (setImmediate) every {@link SAMPLE_CHUNK} objects, so
 * 100,000 queues never stall message flow.
 */
import { SampleRing, type Broker, type Exchange, type MessageCounters, type Queue, type VHost } from '@warren/core';

/** RabbitMQ's basic rates: one sample every 5 s. */
export const SAMPLE_INTERVAL_MS = 5000;
/** Queue and exchange rings: 2 minutes of history (the UI asks for the last 60 s). */
export const OBJECT_SLOTS = 25;
/** Overview and vhost rings: 10 minutes (RabbitMQ's basic retention, 600 s at 5 s). */
export const NODE_SLOTS = 121;
/** Objects sampled per event-loop turn. */
export const SAMPLE_CHUNK = 2000;

/** Field order of a queue's ring. */
export const QUEUE_FIELDS = [
  'publish', 'deliver', 'deliver_no_ack', 'get', 'get_no_ack', 'get_empty', 'ack', 'redeliver',
  'messages', 'messages_ready', 'messages_unacknowledged',
] as const;
/** Field order of an exchange's ring. */
export const EXCHANGE_FIELDS = ['publish_in', 'publish_out'] as const;
/** Field order of the message_stats part of vhost and overview rings. */
export const MESSAGE_FIELDS = [
  'publish', 'confirm', 'return_unroutable', 'drop_unroutable', 'deliver', 'deliver_no_ack', 'get', 'get_no_ack',
  'get_empty', 'redeliver', 'ack',
] as const;
/** Queue-length fields after MESSAGE_FIELDS in vhost and overview rings. */
export const LENGTH_FIELDS = ['messages', 'messages_ready', 'messages_unacknowledged'] as const;
/** Churn fields after LENGTH_FIELDS in the overview ring. */
export const CHURN_FIELDS = [
  'connection_created', 'connection_closed', 'channel_created', 'channel_closed', 'queue_declared', 'queue_created',
  'queue_deleted',
] as const;

/** Index of `name` in a field list (-1 when absent). */
export function fieldIndex(fields: readonly string[], name: string): number {
  return fields.indexOf(name);
}

/** Write a MessageCounters into `out` from `offset` in MESSAGE_FIELDS order. */
function putMessageCounters(m: MessageCounters, out: Float64Array, offset: number): void {
  out[offset] = m.publish;
  out[offset + 1] = m.confirm;
  out[offset + 2] = m.returnUnroutable;
  out[offset + 3] = m.dropUnroutable;
  out[offset + 4] = m.deliver;
  out[offset + 5] = m.deliverNoAck;
  out[offset + 6] = m.get;
  out[offset + 7] = m.getNoAck;
  out[offset + 8] = m.getEmpty;
  out[offset + 9] = m.redeliver;
  out[offset + 10] = m.ack;
}

/** Ready and unacked totals of a vhost's queues. */
export function vhostLengths(v: VHost): { ready: number; unacked: number } {
  let ready = 0;
  let unacked = 0;
  for (const q of v.queues.values()) {
    ready += q.messageCount;
    unacked += q.unacked;
  }
  return { ready, unacked };
}

/**
 * The ring of an object sampled for the first time: it starts with an all-zero sample one interval earlier, since the
 * object had no traffic at the previous round (else it would have a ring), so its first rate is right.
 */
function firstRing(fields: number, t: number): SampleRing {
  const ring = new SampleRing(fields, OBJECT_SLOTS);
  ring.record(t - SAMPLE_INTERVAL_MS, ZEROS);
  return ring;
}
const ZEROS: readonly number[] = [];

/** Samples one broker's counters on a timer; shared by the broker's management apps (reference counted). */
export class StatsSampler {
  static readonly #byBroker = new WeakMap<Broker, StatsSampler>();

  /** The broker's sampler, started on first acquire; call release() when done. */
  static acquire(broker: Broker): StatsSampler {
    let s = StatsSampler.#byBroker.get(broker);
    if (s === undefined) {
      s = new StatsSampler(broker);
      StatsSampler.#byBroker.set(broker, s);
    }
    s.#refs++;
    if (s.#refs === 1) s.start();
    return s;
  }

  readonly #broker: Broker;
  #refs = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  readonly #queueScratch = new Float64Array(QUEUE_FIELDS.length);
  readonly #exchangeScratch = new Float64Array(EXCHANGE_FIELDS.length);
  readonly #vhostScratch = new Float64Array(MESSAGE_FIELDS.length + LENGTH_FIELDS.length);
  readonly #globalScratch = new Float64Array(MESSAGE_FIELDS.length + LENGTH_FIELDS.length + CHURN_FIELDS.length);

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  /** Start sampling every {@link SAMPLE_INTERVAL_MS} (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.sampleRound(), SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  release(): void {
    if (this.#refs > 0 && --this.#refs === 0) this.stop();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * One sampling round at `now` (aligned down to the interval, as RabbitMQ's timestamps are): the overview and vhosts at
   * once, then queues and exchanges in chunks with a yield between them. A round still running skips the next.
   */
  async sampleRound(now = Date.now()): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const t = Math.floor(now / SAMPLE_INTERVAL_MS) * SAMPLE_INTERVAL_MS;
      this.#sampleNode(t);
      let n = 0;
      for (const name of this.#broker.vhostNames()) {
        const v = this.#broker.vhost(name);
        if (v === undefined) continue;
        for (const q of v.queues.values()) {
          this.sampleQueue(q, t);
          if (++n % SAMPLE_CHUNK === 0) await new Promise<void>((r) => setImmediate(r));
        }
        for (const x of v.exchanges.values()) {
          this.sampleExchange(x, t);
          if (++n % SAMPLE_CHUNK === 0) await new Promise<void>((r) => setImmediate(r));
        }
        this.sampleExchange(v.defaultExchange, t);
      }
    } finally {
      this.#running = false;
    }
  }

  /** Sample everything synchronously (tests). */
  sampleAllNow(now: number): void {
    const t = Math.floor(now / SAMPLE_INTERVAL_MS) * SAMPLE_INTERVAL_MS;
    this.#sampleNode(t);
    for (const name of this.#broker.vhostNames()) {
      const v = this.#broker.vhost(name)!;
      for (const q of v.queues.values()) this.sampleQueue(q, t);
      for (const x of v.exchanges.values()) this.sampleExchange(x, t);
      this.sampleExchange(v.defaultExchange, t);
    }
  }

  #sampleNode(t: number): void {
    const g = this.#globalScratch;
    g.fill(0);
    const b = this.#broker;
    putMessageCounters(b.stats.retired, g, 0);
    const vs = this.#vhostScratch;
    const m = MESSAGE_FIELDS.length;
    for (const name of b.vhostNames()) {
      const v = b.vhost(name);
      if (v === undefined) continue;
      const { ready, unacked } = vhostLengths(v);
      putMessageCounters(v.stats, vs, 0);
      vs[m] = ready + unacked;
      vs[m + 1] = ready;
      vs[m + 2] = unacked;
      for (let i = 0; i < vs.length; i++) g[i]! += vs[i]!;
      (v.samples ??= new SampleRing(vs.length, NODE_SLOTS)).record(t, vs);
    }
    const s = b.stats;
    const c = m + LENGTH_FIELDS.length;
    g[c] = s.connectionCreated;
    g[c + 1] = s.connectionClosed;
    g[c + 2] = s.channelCreated;
    g[c + 3] = s.channelClosed;
    g[c + 4] = s.queueDeclared;
    g[c + 5] = s.queueCreated;
    g[c + 6] = s.queueDeleted;
    (s.samples ??= new SampleRing(g.length, NODE_SLOTS)).record(t, g);
  }

  /** Sample one queue; its ring is allocated at its first sample with traffic. */
  sampleQueue(q: Queue, t: number): void {
    const s = q.stats;
    const ready = q.messageCount;
    if (
      s.samples === undefined &&
      s.publish + s.deliver + s.deliverNoAck + s.get + s.getNoAck + s.getEmpty + s.ack + s.redeliver + ready + q.unacked === 0
    ) {
      return;
    }
    const v = this.#queueScratch;
    v[0] = s.publish;
    v[1] = s.deliver;
    v[2] = s.deliverNoAck;
    v[3] = s.get;
    v[4] = s.getNoAck;
    v[5] = s.getEmpty;
    v[6] = s.ack;
    v[7] = s.redeliver;
    v[8] = ready + q.unacked;
    v[9] = ready;
    v[10] = q.unacked;
    (s.samples ??= firstRing(v.length, t)).record(t, v);
  }

  /** Sample one exchange once it has had traffic. */
  sampleExchange(x: Exchange, t: number): void {
    if (x.samples === undefined && x.publishIn === 0) return;
    const v = this.#exchangeScratch;
    v[0] = x.publishIn;
    v[1] = x.publishOut;
    (x.samples ??= firstRing(v.length, t)).record(t, v);
  }
}
