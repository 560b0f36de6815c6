import net from 'node:net';
import { Broker } from '@warren/core';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAmqpService, DEFAULT_AMQP_OPTIONS } from './index.js';
import { RecordingLogger } from './testing/session.js';

let server: net.Server;
let url: string;
let broker: Broker;
const logger = new RecordingLogger();
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  broker = new Broker();
  const service = createAmqpService({ broker, logger, options: { ...DEFAULT_AMQP_OPTIONS, maxMessageSize: 1 << 20 } });
  let n = 0;
  server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    service.handleConnection(
      socket,
      {
        id: `amqp-${++n}`,
        protocol: 'amqp',
        remoteAddress: '127.0.0.1',
        remotePort: socket.remotePort ?? 0,
        localPort: socket.localPort ?? 0,
        tls: false,
        listener: 'amqp',
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  url = `amqp://guest:guest@127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('amqplib over TCP', () => {
  it('publishes with confirms, consumes and acks', async () => {
    const conn = await amqplib.connect(url);
    const ch = await conn.createConfirmChannel();
    const q = await ch.assertQueue('', { exclusive: true });
    expect(q.queue).toMatch(/^amq\.gen-/);
    for (let i = 0; i < 50; i++) ch.sendToQueue(q.queue, Buffer.from(`m${i}`), { contentType: 'text/plain', headers: { i } });
    await ch.waitForConfirms();
    const got: string[] = [];
    await new Promise<void>((resolve) => {
      void ch.consume(q.queue, (msg) => {
        if (msg === null) return;
        expect(msg.properties.contentType).toBe('text/plain');
        expect(msg.properties.headers?.['i']).toBe(got.length);
        got.push(msg.content.toString());
        ch.ack(msg);
        if (got.length === 50) resolve();
      });
    });
    expect(got[49]).toBe('m49');
    await ch.close();
    await conn.close();
  });

  it('a large message crosses frame boundaries intact', async () => {
    const conn = await amqplib.connect(url);
    const ch = await conn.createChannel();
    const q = await ch.assertQueue('', { exclusive: true });
    const body = Buffer.alloc(700000);
    for (let i = 0; i < body.length; i++) body[i] = i & 0xff;
    ch.sendToQueue(q.queue, body);
    let msg: amqplib.GetMessage | false = false;
    for (let i = 0; i < 50 && msg === false; i++) {
      msg = await ch.get(q.queue, { noAck: true });
      if (msg === false) await new Promise((r) => setTimeout(r, 10));
    }
    expect(msg !== false && msg.content.equals(body)).toBe(true);
    await conn.close();
  });

  it('a channel error closes the channel with RabbitMQ code and text; the connection survives', async () => {
    const conn = await amqplib.connect(url);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // amqplib also emits the channel close as an 'error' event
    const err = await ch.checkQueue('does-not-exist').then(
      () => undefined,
      (e: unknown) => e as { code?: number; message: string },
    );
    expect(err?.code).toBe(404);
    expect(err?.message).toContain("NOT_FOUND - no queue 'does-not-exist' in vhost '/'");
    const ch2 = await conn.createChannel();
    await ch2.assertQueue('', { exclusive: true });
    await conn.close();
  });

  it('a bad password is refused with 403 (authentication_failure_close)', async () => {
    const port = (server.address() as net.AddressInfo).port;
    await expect(amqplib.connect(`amqp://guest:wrong@127.0.0.1:${port}`)).rejects.toThrow(/ACCESS_REFUSED|403/);
  });

  it('logs one line per connection opened and closed', () => {
    const opened = logger.lines.filter((l) => l.msg === 'AMQP connection opened').length;
    const closed = logger.lines.filter((l) => l.msg === 'AMQP connection closed').length;
    expect(opened).toBeGreaterThanOrEqual(3);
    expect(closed).toBe(opened);
  });
});
