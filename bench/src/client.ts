/**
 * The bench's lean AMQP 0-9-1 client: PLAIN handshake, channel open, the few synchronous methods a load run needs,
 * and raw access to the socket for batched publishes and acks. Everything is encoded by ./wire.js.
 */
import net from 'node:net';
import {
  ArgWriter,
  FrameReader,
  HEARTBEAT_FRAME,
  M,
  PROTOCOL_HEADER,
  methodFrame,
  readShortstr,
  type BenchFieldValue,
  type MethodId,
} from './wire.js';

/** Where and as whom to connect. */
export interface ConnectOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  vhost?: string;
}

/** A connection or channel closed by the broker, with its AMQP reply code and text. */
export class AmqpCloseError extends Error {
  constructor(
    readonly scope: 'connection' | 'channel',
    readonly replyCode: number,
    readonly replyText: string,
  ) {
    super(`${scope} closed by broker: ${replyCode} ${replyText}`);
  }
}

interface Waiter {
  method: MethodId;
  resolve(payload: Buffer): void;
  reject(err: Error): void;
}

/** Callbacks for the hot path; set them before consuming/publishing. */
export interface LoadCallbacks {
  deliver?(channel: number, deliveryTag: number, timestamp: number): void;
  ack?(channel: number, deliveryTag: number, multiple: boolean): void;
  nack?(channel: number, deliveryTag: number, multiple: boolean): void;
  /** After every socket chunk has been parsed. */
  batchEnd?(): void;
  /** The connection failed or was closed by the broker. */
  error?(err: Error): void;
}

/** One AMQP connection of the load tool. */
export class LoadConnection {
  readonly socket: net.Socket;
  /** Negotiated frame-max. */
  frameMax = 131072;
  /** Hot-path callbacks. */
  readonly on: LoadCallbacks = {};
  #waiters = new Map<number, Waiter[]>();
  #reader: FrameReader;
  #closed: Error | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.#reader = new FrameReader({
      method: (ch, cls, mth, payload) => this.#onMethod(ch, cls, mth, payload),
      deliver: (ch, tag, ts) => this.on.deliver?.(ch, tag, ts),
      ack: (ch, tag, multiple) => this.on.ack?.(ch, tag, multiple),
      nack: (ch, tag, multiple) => this.on.nack?.(ch, tag, multiple),
      batchEnd: () => this.on.batchEnd?.(),
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#reader.push(chunk);
      } catch (err) {
        this.#fail(err as Error);
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  /** Connect and complete the handshake (PLAIN, heartbeats off, vhost open). */
  static async open(opts: ConnectOptions): Promise<LoadConnection> {
    const socket = net.connect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new LoadConnection(socket);
    const start = c.#expect(0, M.connectionStart);
    socket.write(PROTOCOL_HEADER);
    await start;
    const user = opts.username ?? 'guest';
    const pass = opts.password ?? 'guest';
    const tune = c.#expect(0, M.connectionTune);
    c.write(
      methodFrame(
        0,
        M.connectionStartOk,
        new ArgWriter()
          .table({
            product: 'warren-bench',
            capabilities: { publisher_confirms: true, 'basic.nack': true, consumer_cancel_notify: true },
          })
          .shortstr('PLAIN')
          .longstr(`\0${user}\0${pass}`)
          .shortstr('en_US'),
      ),
    );
    const t = await tune;
    const channelMax = t.readUInt16BE(4);
    const serverFrameMax = t.readUInt32BE(6);
    c.frameMax = serverFrameMax === 0 ? 131072 : Math.min(serverFrameMax, 131072);
    const openOk = c.#expect(0, M.connectionOpenOk);
    // Heartbeat 0 disables heartbeats (AMQP 0-9-1 connection.tune-ok); a bench run is short and always busy.
    c.write(methodFrame(0, M.connectionTuneOk, new ArgWriter().u16(channelMax).u32(c.frameMax).u16(0)));
    c.write(methodFrame(0, M.connectionOpen, new ArgWriter().shortstr(opts.vhost ?? '/').shortstr('').bits(false)));
    await openOk;
    return c;
  }

  /** Write raw bytes; returns socket.write's backpressure verdict. */
  write(bytes: Buffer): boolean {
    return this.socket.write(bytes);
  }

  /** Open channel `ch`. */
  async openChannel(ch: number): Promise<void> {
    await this.rpc(ch, M.channelOpen, new ArgWriter().shortstr(''), M.channelOpenOk);
  }

  /** Send a method and wait for the reply `expect` on the same channel; resolves with a copy of its payload. */
  rpc(ch: number, method: MethodId, args: ArgWriter, expect: MethodId): Promise<Buffer> {
    const p = this.#expect(ch, expect);
    this.write(methodFrame(ch, method, args));
    return p;
  }

  /** Pipeline many requests (already-encoded frames) on one channel and wait for as many `expect` replies. */
  async pipeline(ch: number, frames: Buffer[], expect: MethodId): Promise<void> {
    const replies = frames.map(() => this.#expect(ch, expect));
    // One write per 256 frames keeps memory flat for 10k bindings.
    for (let i = 0; i < frames.length; i += 256) this.write(Buffer.concat(frames.slice(i, i + 256)));
    await Promise.all(replies);
  }

  /** queue.declare (non-durable unless `durable`, not exclusive, not auto-delete); resolves with the queue name. */
  async declareQueue(ch: number, queue: string, args: Record<string, BenchFieldValue> = {}, durable = false): Promise<string> {
    const ok = await this.rpc(
      ch,
      M.queueDeclare,
      new ArgWriter().u16(0).shortstr(queue).bits(false, durable, false, false, false).table(args),
      M.queueDeclareOk,
    );
    return readShortstr(ok, 4)[0];
  }

  /** exchange.declare (non-durable). */
  async declareExchange(ch: number, exchange: string, type: string): Promise<void> {
    await this.rpc(
      ch,
      M.exchangeDeclare,
      new ArgWriter().u16(0).shortstr(exchange).shortstr(type).bits(false, false, false, false, false).table(),
      M.exchangeDeclareOk,
    );
  }

  /** Encoded queue.bind frame (for {@link pipeline}). */
  static bindFrame(ch: number, queue: string, exchange: string, bindingKey: string): Buffer {
    return methodFrame(
      ch,
      M.queueBind,
      new ArgWriter().u16(0).shortstr(queue).shortstr(exchange).shortstr(bindingKey).bits(false).table(),
    );
  }

  /** queue.bind. */
  async bind(ch: number, queue: string, exchange: string, bindingKey: string): Promise<void> {
    await this.pipeline(ch, [LoadConnection.bindFrame(ch, queue, exchange, bindingKey)], M.queueBindOk);
  }

  /** queue.delete (unconditional). */
  async deleteQueue(ch: number, queue: string): Promise<void> {
    await this.rpc(ch, M.queueDelete, new ArgWriter().u16(0).shortstr(queue).bits(false, false, false), M.queueDeleteOk);
  }

  /** exchange.delete (unconditional). */
  async deleteExchange(ch: number, exchange: string): Promise<void> {
    await this.rpc(ch, M.exchangeDelete, new ArgWriter().u16(0).shortstr(exchange).bits(false, false), M.exchangeDeleteOk);
  }

  /** basic.qos with a per-consumer prefetch count (global = false, RabbitMQ's reading). */
  async qos(ch: number, prefetchCount: number): Promise<void> {
    await this.rpc(ch, M.basicQos, new ArgWriter().u32(0).u16(prefetchCount).bits(false), M.basicQosOk);
  }

  /** basic.consume; resolves with the consumer tag. */
  async consume(ch: number, queue: string, noAck: boolean, tag = ''): Promise<string> {
    const ok = await this.rpc(
      ch,
      M.basicConsume,
      new ArgWriter().u16(0).shortstr(queue).shortstr(tag).bits(false, noAck, false, false).table(),
      M.basicConsumeOk,
    );
    return readShortstr(ok, 4)[0];
  }

  /** confirm.select (publisher confirms, RabbitMQ extension). */
  async confirmSelect(ch: number): Promise<void> {
    await this.rpc(ch, M.confirmSelect, new ArgWriter().bits(false), M.confirmSelectOk);
  }

  /** connection.close and wait for close-ok (or the socket closing), at most `timeoutMs`. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.#closed) {
      this.socket.destroy();
      return;
    }
    const done = this.#expect(0, M.connectionCloseOk).catch(() => undefined);
    this.write(
      methodFrame(0, M.connectionClose, new ArgWriter().u16(200).shortstr('Goodbye').u16(0).u16(0)),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.socket.destroy();
  }

  #expect(ch: number, method: MethodId): Promise<Buffer> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<Buffer>((resolve, reject) => {
      let list = this.#waiters.get(ch);
      if (!list) this.#waiters.set(ch, (list = []));
      list.push({ method, resolve, reject });
    });
  }

  #onMethod(ch: number, cls: number, mth: number, payload: Buffer): void {
    if (cls === 10 && mth === 50) {
      // connection.close: reply-code, reply-text, class-id, method-id. Answer close-ok (AMQP 0-9-1 §2.2.4).
      const err = new AmqpCloseError('connection', payload.readUInt16BE(4), readShortstr(payload, 6)[0]);
      this.write(methodFrame(0, M.connectionCloseOk));
      this.#fail(err);
      return;
    }
    if (cls === 20 && mth === 40) {
      const err = new AmqpCloseError('channel', payload.readUInt16BE(4), readShortstr(payload, 6)[0]);
      this.write(methodFrame(ch, M.channelCloseOk));
      for (const w of this.#waiters.get(ch)?.splice(0) ?? []) w.reject(err);
      this.on.error?.(err);
      return;
    }
    if (cls === 60 && mth === 30) {
      this.on.error?.(new Error(`consumer cancelled by broker on channel ${ch}`));
      return;
    }
    const list = this.#waiters.get(ch);
    const head = list?.[0];
    if (head && head.method[0] === cls && head.method[1] === mth) {
      list.shift();
      head.resolve(Buffer.from(payload));
    }
    // Anything else (basic.return, connection.blocked, …) is not used by the bench.
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const list of this.#waiters.values()) for (const w of list.splice(0)) w.reject(err);
    this.on.error?.(err);
  }

  /** Keep a connection alive across long setup pauses (only used if a broker insists on heartbeats). */
  heartbeat(): void {
    this.write(HEARTBEAT_FRAME);
  }
}
