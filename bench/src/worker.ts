/**
 * Load workers: a publisher (confirm-windowed, optionally rate-limited) or a group of consumers. Each normally runs
 * in its own process (forked by the runner) and talks to the parent over IPC with the messages below; the same code
 * can run in-process for tests.
 *
 * Flow control: publishers use publisher confirms with a window of at most `confirmWindow` unconfirmed messages and
 * also wait for 'drain' whenever socket.write reports a full buffer. Consumers run as fast as they can.
 */
import { LoadConnection, type ConnectOptions } from './client.js';
import { Histogram } from './histogram.js';
import { ACK_FRAME_SIZE, publishTemplate, writeAck, type MessageTemplate } from './wire.js';

/** Publisher settings. */
export interface PublisherInit {
  role: 'publisher';
  conn: ConnectOptions;
  exchange: string;
  /** Routing keys, used round-robin (one pre-encoded template each). */
  routingKeys: string[];
  bodySize: number;
  /** Maximum unconfirmed messages in flight. */
  confirmWindow: number;
  /** Target msgs/s, or null for "as fast as confirms allow". */
  rate: number | null;
  /** Publish with delivery-mode 2 (persistent). */
  persistent?: boolean;
}

/** Consumer-group settings: one connection and one consumer per queue. */
export interface ConsumerInit {
  role: 'consumer';
  conn: ConnectOptions;
  queues: string[];
  noAck: boolean;
  /** basic.qos prefetch count (manual-ack mode only). */
  prefetch: number;
}

/** Either kind of worker. */
export type WorkerInit = PublisherInit | ConsumerInit;

/** Parent → worker. Times are µs of the host's monotonic clock (see {@link nowUs}). */
export type ParentMessage =
  | { type: 'init'; init: WorkerInit }
  | { type: 'start'; fromUs: number; untilUs: number }
  | { type: 'stop' };

/** What a worker measured inside the [fromUs, untilUs) window. */
export interface WorkerResult {
  role: WorkerInit['role'];
  /** Messages confirmed by the broker inside the window (publishers). */
  confirmed: number;
  /** Messages nacked by the broker inside the window (publishers). */
  nacked: number;
  /** Deliveries received inside the window (consumers). */
  delivered: number;
  /** Latency histogram (µs) of the deliveries inside the window, sparse. */
  latency: Array<[number, number]>;
  /** Totals over the whole run, for sanity checks. */
  totalPublished: number;
  /** Publishes settled by the broker (confirmed or nacked) by the time the publisher stopped. */
  totalConfirmed: number;
  totalDelivered: number;
}

/** Worker → parent. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; result: WorkerResult }
  | { type: 'error'; message: string };

/**
 * Microseconds of the host's monotonic clock. On Linux process.hrtime reads CLOCK_MONOTONIC, which is shared by all
 * processes of the host, so a timestamp written by the publisher process can be compared in a consumer process.
 */
export function nowUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

/** A running worker: feed it parent messages; it answers through `reply`. */
export class Worker {
  #reply: (m: WorkerMessage) => void;
  #impl: PublisherWorker | ConsumerWorker | null = null;

  constructor(reply: (m: WorkerMessage) => void) {
    this.#reply = reply;
  }

  /** Handle one parent message. */
  async handle(msg: ParentMessage): Promise<void> {
    try {
      switch (msg.type) {
        case 'init': {
          const init = msg.init;
          this.#impl = init.role === 'publisher' ? new PublisherWorker(init) : new ConsumerWorker(init);
          this.#impl.onError = (err) => this.#reply({ type: 'error', message: err.message });
          await this.#impl.setup();
          this.#reply({ type: 'ready' });
          break;
        }
        case 'start':
          this.#impl?.start(msg.fromUs, msg.untilUs);
          break;
        case 'stop': {
          const result = this.#impl ? await this.#impl.stop() : emptyResult('publisher');
          this.#reply({ type: 'result', result });
          break;
        }
        default: {
          const never: never = msg;
          throw new Error(`unknown message ${JSON.stringify(never)}`);
        }
      }
    } catch (err) {
      this.#reply({ type: 'error', message: (err as Error).message });
    }
  }
}

function emptyResult(role: WorkerInit['role']): WorkerResult {
  return { role, confirmed: 0, nacked: 0, delivered: 0, latency: [], totalPublished: 0, totalConfirmed: 0, totalDelivered: 0 };
}

/** Publishes pre-encoded messages, batched into one socket write per burst, bounded by a confirm window. */
class PublisherWorker {
  onError: (err: Error) => void = () => undefined;
  #init: PublisherInit;
  #conn: LoadConnection | null = null;
  #templates: MessageTemplate[] = [];
  #next = 0;
  #published = 0;
  /** Every tag ≤ confirmedUpTo is settled; `singles` holds settled tags above it (out-of-order single acks). */
  #confirmedUpTo = 0;
  #singles = new Set<number>();
  #fromUs = 0;
  #untilUs = 0;
  #startUs = 0;
  #confirmedInWindow = 0;
  #nackedInWindow = 0;
  #running = false;
  #waitingDrain = false;
  #timer: NodeJS.Timeout | null = null;
  #settledWaiter: (() => void) | null = null;

  constructor(init: PublisherInit) {
    this.#init = init;
  }

  async setup(): Promise<void> {
    const c = await LoadConnection.open(this.#init.conn);
    this.#conn = c;
    await c.openChannel(1);
    await c.confirmSelect(1);
    this.#templates = this.#init.routingKeys.map((k) => publishTemplate(1, this.#init.exchange, k, this.#init.bodySize, this.#init.persistent === true));
    c.on.ack = (_ch, tag, multiple) => this.#settle(tag, multiple, false);
    c.on.nack = (_ch, tag, multiple) => this.#settle(tag, multiple, true);
    c.on.batchEnd = () => {
      if (this.#running && this.#init.rate === null) this.#pump();
      if (this.#settledWaiter && this.#confirmedUpTo === this.#published) this.#settledWaiter();
    };
    c.on.error = (err) => this.onError(err);
  }

  start(fromUs: number, untilUs: number): void {
    this.#fromUs = fromUs;
    this.#untilUs = untilUs;
    this.#startUs = nowUs();
    this.#running = true;
    if (this.#init.rate === null) this.#pump();
    else this.#tick();
  }

  async stop(): Promise<WorkerResult> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    const conn = this.#conn;
    if (conn && this.#confirmedUpTo < this.#published) {
      // Wait (bounded) for outstanding confirms so the broker is idle before the next scenario.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        this.#settledWaiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    if (conn) {
      conn.on.error = () => undefined;
      await conn.close();
    }
    return {
      ...emptyResult('publisher'),
      confirmed: this.#confirmedInWindow,
      nacked: this.#nackedInWindow,
      totalPublished: this.#published,
      totalConfirmed: this.#confirmedUpTo + this.#singles.size,
    };
  }

  #settle(tag: number, multiple: boolean, nack: boolean): void {
    let n = 0;
    if (multiple) {
      if (tag > this.#confirmedUpTo) {
        n = tag - this.#confirmedUpTo;
        for (const s of this.#singles) {
          if (s <= tag) {
            this.#singles.delete(s);
            n--;
          }
        }
        this.#confirmedUpTo = tag;
      }
    } else if (tag > this.#confirmedUpTo && !this.#singles.has(tag)) {
      this.#singles.add(tag);
      n = 1;
    }
    while (this.#singles.delete(this.#confirmedUpTo + 1)) this.#confirmedUpTo++;
    if (n > 0) {
      const t = nowUs();
      if (t >= this.#fromUs && t < this.#untilUs) {
        if (nack) this.#nackedInWindow += n;
        else this.#confirmedInWindow += n;
      }
    }
  }

  #inflight(): number {
    return this.#published - this.#confirmedUpTo - this.#singles.size;
  }

  /** Unbounded mode: fill the confirm window, in bursts of at most 200 messages per write. */
  #pump(): void {
    const conn = this.#conn;
    if (!conn || this.#waitingDrain) return;
    let room = this.#init.confirmWindow - this.#inflight();
    while (this.#running && room > 0) {
      const n = Math.min(room, 200);
      room -= n;
      if (!this.#send(conn, n)) {
        this.#waitingDrain = true;
        conn.socket.once('drain', () => {
          this.#waitingDrain = false;
          if (this.#running) this.#pump();
        });
        return;
      }
    }
  }

  /** Rate mode: every millisecond, send what the schedule says is due (still bounded by the confirm window). */
  #tick(): void {
    const conn = this.#conn;
    if (!conn || !this.#running) return;
    const rate = this.#init.rate ?? 0;
    const due = Math.floor(((nowUs() - this.#startUs) * rate) / 1e6) - this.#published;
    const n = Math.min(due, this.#init.confirmWindow - this.#inflight());
    if (n > 0 && !this.#waitingDrain) {
      if (!this.#send(conn, n)) {
        this.#waitingDrain = true;
        conn.socket.once('drain', () => (this.#waitingDrain = false));
      }
    }
    this.#timer = setTimeout(() => this.#tick(), 1);
  }

  /** Copy `n` templates into one fresh buffer, stamp them with the current time and write it once. */
  #send(conn: LoadConnection, n: number): boolean {
    const templates = this.#templates;
    let size = 0;
    let idx = this.#next;
    for (let i = 0; i < n; i++) {
      size += (templates[idx] as MessageTemplate).bytes.length;
      if (++idx === templates.length) idx = 0;
    }
    // A fresh buffer per write: socket.write keeps a reference until flushed, so a reused one could be overwritten.
    const out = Buffer.allocUnsafe(size);
    const stamp = nowUs();
    let off = 0;
    for (let i = 0; i < n; i++) {
      const t = templates[this.#next] as MessageTemplate;
      t.bytes.copy(out, off);
      out.writeDoubleLE(stamp, off + t.timestampOffset);
      off += t.bytes.length;
      if (++this.#next === templates.length) this.#next = 0;
    }
    this.#published += n;
    return conn.write(out);
  }
}

/** One connection + one consumer per queue; counts deliveries and latencies, acks per delivery in batched writes. */
class ConsumerWorker {
  onError: (err: Error) => void = () => undefined;
  #init: ConsumerInit;
  #conns: LoadConnection[] = [];
  #fromUs = Number.POSITIVE_INFINITY;
  #untilUs = Number.POSITIVE_INFINITY;
  #delivered = 0;
  #total = 0;
  #hist = new Histogram();

  constructor(init: ConsumerInit) {
    this.#init = init;
  }

  async setup(): Promise<void> {
    for (const queue of this.#init.queues) {
      const c = await LoadConnection.open(this.#init.conn);
      this.#conns.push(c);
      await c.openChannel(1);
      if (!this.#init.noAck) await c.qos(1, this.#init.prefetch);
      this.#wire(c);
      await c.consume(1, queue, this.#init.noAck);
    }
  }

  #wire(c: LoadConnection): void {
    const noAck = this.#init.noAck;
    const tags: number[] = [];
    let batchNow = 0;
    c.on.deliver = (_ch, tag, ts) => {
      // One clock read per socket chunk: every delivery in the chunk arrived at the same moment.
      if (batchNow === 0) batchNow = nowUs();
      this.#total++;
      if (batchNow >= this.#fromUs && batchNow < this.#untilUs) {
        this.#delivered++;
        this.#hist.record(batchNow - ts);
      }
      if (!noAck) tags.push(tag);
    };
    c.on.batchEnd = () => {
      batchNow = 0;
      if (tags.length === 0) return;
      const out = Buffer.allocUnsafe(tags.length * ACK_FRAME_SIZE);
      let off = 0;
      for (const t of tags) off = writeAck(out, off, 1, t, false);
      tags.length = 0;
      c.write(out);
    };
    c.on.error = (err) => this.onError(err);
  }

  start(fromUs: number, untilUs: number): void {
    this.#fromUs = fromUs;
    this.#untilUs = untilUs;
  }

  async stop(): Promise<WorkerResult> {
    await Promise.all(
      this.#conns.map((c) => {
        c.on.error = () => undefined;
        return c.close();
      }),
    );
    return {
      ...emptyResult('consumer'),
      delivered: this.#delivered,
      latency: this.#hist.toSparse(),
      totalDelivered: this.#total,
    };
  }
}

/** Entry point of a forked worker process: speak the IPC protocol on process.send / 'message'. */
export function runWorkerProcess(): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('worker mode needs an IPC channel (child_process.fork)');
  const worker = new Worker((m) => send(m));
  process.on('message', (m: ParentMessage) => {
    void worker.handle(m).then(() => {
      if (m.type === 'stop') process.disconnect();
    });
  });
}
