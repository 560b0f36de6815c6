/**
 * A minimal raw AMQP 0-9-1 client for the security tests: it opens a connection and a channel as guest, then sends
 * method frames whose bytes the test chooses (amqplib would refuse to encode malformed names), and reads the reply.
 */
import { connect, type Socket } from 'node:net';

/** One decoded method frame of the reply. */
export interface RawMethod {
  channel: number;
  classId: number;
  methodId: number;
  /** reply-code of connection.close / channel.close, else 0. */
  replyCode: number;
  replyText: string;
}

function frame(type: number, channel: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([0xce])]);
}

/** A shortstr from text or raw bytes. */
export function shortstr(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** A method payload: class id, method id, then the argument bytes. */
export function method(classId: number, methodId: number, ...args: Buffer[]): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(classId, 0);
  head.writeUInt16BE(methodId, 2);
  return Buffer.concat([head, ...args]);
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

/** A raw connection with channel 1 open. */
export class RawAmqp {
  readonly #socket: Socket;
  #buf = Buffer.alloc(0);
  readonly #methods: RawMethod[] = [];
  #waiter: (() => void) | undefined;
  closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#parse();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#waiter?.();
    });
    socket.on('error', () => undefined);
  }

  /** Connect as guest/guest to vhost '/' and open channel 1. */
  static async open(port: number): Promise<RawAmqp> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new RawAmqp(socket);
    socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    await c.next(10, 10);
    c.send(0, method(10, 11, u32(0), shortstr('PLAIN'), u32(12), Buffer.from('\0guest\0guest'), shortstr('en_US')));
    await c.next(10, 30);
    c.send(0, method(10, 31, u16(2047), u32(131072), u16(0)));
    c.send(0, method(10, 40, shortstr('/'), shortstr(''), Buffer.from([0])));
    await c.next(10, 41);
    c.send(1, method(20, 10, shortstr('')));
    await c.next(20, 11);
    return c;
  }

  send(channel: number, payload: Buffer): void {
    this.#socket.write(frame(1, channel, payload));
  }

  /** An empty content header of class basic (after a basic.publish). */
  sendContentHeader(channel: number): void {
    this.#socket.write(frame(2, channel, Buffer.concat([u16(60), u16(0), u32(0), u32(0), u16(0)])));
  }

  /** queue.declare on channel 1 with the name given as raw bytes. */
  queueDeclare(name: Buffer, passive = false): void {
    this.send(1, method(50, 10, u16(0), shortstr(name), Buffer.from([passive ? 1 : 0]), u32(0)));
  }

  /** exchange.declare (direct) on channel 1 with the name given as raw bytes. */
  exchangeDeclare(name: Buffer): void {
    this.send(1, method(40, 10, u16(0), shortstr(name), shortstr('direct'), Buffer.from([0]), u32(0)));
  }

  /** basic.publish of an empty message on channel 1 with raw exchange and routing-key bytes. */
  publish(exchange: Buffer, routingKey: Buffer): void {
    this.send(1, method(60, 40, u16(0), shortstr(exchange), shortstr(routingKey), Buffer.from([0])));
    const header = Buffer.concat([u16(60), u16(0), u32(0), u32(0), u16(0)]);
    this.#socket.write(frame(2, 1, header));
  }

  /** The next method frame (any, or of the given class/method when given), or undefined once the socket closed. */
  async next(classId?: number, methodId?: number): Promise<RawMethod | undefined> {
    for (;;) {
      const i = this.#methods.findIndex((m) => classId === undefined || (m.classId === classId && m.methodId === methodId));
      if (i >= 0) return this.#methods.splice(i, 1)[0];
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  close(): void {
    this.#socket.destroy();
  }

  #parse(): void {
    while (this.#buf.length >= 8) {
      const size = this.#buf.readUInt32BE(3);
      if (this.#buf.length < size + 8) break;
      const type = this.#buf[0]!;
      const channel = this.#buf.readUInt16BE(1);
      const p = this.#buf.subarray(7, 7 + size);
      this.#buf = this.#buf.subarray(size + 8);
      if (type !== 1) continue;
      const classId = p.readUInt16BE(0);
      const methodId = p.readUInt16BE(2);
      let replyCode = 0;
      let replyText = '';
      const isClose = (classId === 10 && methodId === 50) || (classId === 20 && methodId === 40);
      if (isClose) {
        replyCode = p.readUInt16BE(4);
        replyText = p.toString('utf8', 7, 7 + p[6]!);
        // Answer close with close-ok so the peer finishes cleanly.
        this.send(channel, method(classId, methodId + 1));
      }
      this.#methods.push({ channel, classId, methodId, replyCode, replyText });
    }
    this.#waiter?.();
  }
}
