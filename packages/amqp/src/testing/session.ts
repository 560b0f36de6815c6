/**
 * Test support: an AMQP connection over an in-memory {@link ProtocolIo}, with raw frames in and decoded frames out.
 * No sockets, no timers of its own (tests may use fake timers).
 */
import type { BrokerApi, ConnectionInfo, FieldTable, Logger } from '@warren/core';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, type ProtocolIo } from '@warren/transport';
import { MemoryIo } from '@warren/transport/testing';
import {
  encodeMethod,
  encodeMethodWithContent,
  FrameParser,
  PROTOCOL_HEADER,
  type AmqpMethod,
  type Frame,
} from '../codec/index.js';
import { AmqpConnection, type AmqpConnectionOptions } from '../session/connection.js';

/** The transport's in-memory {@link ProtocolIo} (writes recorded, pause reasons, the writer's stall timeout). */
export { MemoryIo };

/** A logger that records lines. */
export class RecordingLogger implements Logger {
  readonly lines: Array<{ level: string; obj: object | string; msg: string | undefined }>;
  constructor(lines: RecordingLogger['lines'] = []) {
    this.lines = lines;
  }
  debug(obj: object | string, msg?: string): void {
    this.lines.push({ level: 'debug', obj, msg });
  }
  info(obj: object | string, msg?: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object | string, msg?: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object | string, msg?: string): void {
    this.lines.push({ level: 'error', obj, msg });
  }
  child(): Logger {
    return new RecordingLogger(this.lines);
  }
}

/** Default options for sessions (RabbitMQ's defaults, heartbeat off unless asked). */
export const TEST_OPTIONS: AmqpConnectionOptions = {
  frameMax: 131072,
  channelMax: 2047,
  heartbeat: 0,
  maxMessageSize: 134217728,
  handshakeTimeoutMs: 10000,
};

/** A connection info for a loopback client. */
export function loopbackInfo(id = 'amqp-test-1'): ConnectionInfo {
  return {
    id,
    protocol: 'amqp',
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localPort: 5672,
    tls: false,
    listener: 'amqp',
  };
}

/** Options of {@link AmqpSession.handshake}. */
export interface HandshakeOptions {
  user?: string;
  password?: string;
  vhost?: string;
  mechanism?: 'PLAIN' | 'AMQPLAIN';
  capabilities?: FieldTable;
  frameMax?: number;
  channelMax?: number;
  heartbeat?: number;
}

/** The client side of a connection under test. */
export class AmqpSession {
  readonly io = new MemoryIo();
  readonly logger = new RecordingLogger();
  readonly connection: AmqpConnection;
  readonly #out = new FrameParser({ frameMax: 1 << 30 });
  #read = 0;

  constructor(broker: BrokerApi, options: Partial<AmqpConnectionOptions> = {}) {
    this.connection = new AmqpConnection(this.io, loopbackInfo(), {
      broker,
      logger: this.logger,
      options: { ...TEST_OPTIONS, ...options },
    });
    this.io.stallTimeoutMs = options.slowConsumerTimeoutMs ?? DEFAULT_SLOW_CONSUMER_TIMEOUT_MS;
    this.io.onStalled = () => this.connection.onStalled();
    this.#out.push(PROTOCOL_HEADER, () => undefined);
  }

  /** Feed raw bytes. */
  send(...bufs: Buffer[]): void {
    this.connection.receive(Buffer.concat(bufs));
  }

  /** Send one method frame. */
  method(channel: number, method: AmqpMethod): void {
    this.send(encodeMethod(channel, method));
  }

  /** Frames written since the last call. */
  frames(): Frame[] {
    const all = this.io.bytes();
    const fresh = all.subarray(this.#read);
    this.#read = all.length;
    const out: Frame[] = [];
    this.#out.push(fresh, (f) => {
      out.push(f.type === 'body' ? { ...f, payload: Buffer.from(f.payload) } : f);
    });
    return out;
  }

  /** Method frames written since the last call, as `channel:name`. */
  names(): string[] {
    return this.frames()
      .filter((f) => f.type === 'method')
      .map((f) => `${f.channel}:${f.type === 'method' ? f.method.name : ''}`);
  }

  /** Run the handshake up to open-ok; returns the frames the server wrote. */
  handshake(options: HandshakeOptions = {}): Frame[] {
    const user = options.user ?? 'guest';
    const password = options.password ?? 'guest';
    const mechanism = options.mechanism ?? 'PLAIN';
    let response: Buffer;
    if (mechanism === 'PLAIN') {
      response = Buffer.from(`\0${user}\0${password}`);
    } else {
      // AMQPLAIN: a field table without its length prefix.
      const table = encodeMethod(0, {
        name: 'connection.start-ok',
        clientProperties: { LOGIN: user, PASSWORD: password },
        mechanism: '',
        response: Buffer.alloc(0),
        locale: '',
      });
      const len = table.readUInt32BE(11);
      response = table.subarray(15, 15 + len);
    }
    this.send(PROTOCOL_HEADER);
    this.method(0, {
      name: 'connection.start-ok',
      clientProperties: { product: 'test', capabilities: options.capabilities ?? {} },
      mechanism,
      response,
      locale: 'en_US',
    });
    const before = this.frames();
    const tune = before.find((f) => f.type === 'method' && f.method.name === 'connection.tune');
    if (tune === undefined) return before;
    this.method(0, {
      name: 'connection.tune-ok',
      channelMax: options.channelMax ?? 2047,
      frameMax: options.frameMax ?? 131072,
      heartbeat: options.heartbeat ?? 0,
    });
    this.method(0, { name: 'connection.open', virtualHost: options.vhost ?? '/', capabilities: '', insist: false });
    return [...before, ...this.frames()];
  }

  /** Open channel `id` and consume the open-ok. */
  openChannel(id: number): void {
    this.method(id, { name: 'channel.open', outOfBand: '' });
    this.frames();
  }

  /** Publish a message (method + header + body in one chunk). */
  publish(channel: number, exchange: string, routingKey: string, body: Buffer | string, mandatory = false): void {
    this.send(this.publishFrames(channel, exchange, routingKey, body, mandatory));
  }

  /** The bytes of a publish (method + header + body frames). */
  publishFrames(channel: number, exchange: string, routingKey: string, body: Buffer | string, mandatory = false, frameMax = 131072): Buffer {
    return encodeMethodWithContent(
      channel,
      { name: 'basic.publish', ticket: 0, exchange, routingKey, mandatory, immediate: false },
      {},
      undefined,
      typeof body === 'string' ? Buffer.from(body) : body,
      frameMax,
    );
  }
}

/** The method of a frame, or throws. */
export function methodOf(frame: Frame | undefined): AmqpMethod {
  if (frame === undefined || frame.type !== 'method') throw new Error(`not a method frame: ${JSON.stringify(frame)}`);
  return frame.method;
}
