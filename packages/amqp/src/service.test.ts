/**
 * The AMQP service over real streams: the transport's writer keeps the slow-consumer clock (its stall timeout) and
 * the connection drops a client that does not read; close() is RabbitMQ's graceful 320 shutdown.
 */
import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Broker } from '@warren/core';
import { streamPair } from '@warren/transport';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeMethod, encodeMethodWithContent, FrameParser, PROTOCOL_HEADER, type AmqpMethod, type Frame } from './codec/index.js';
import { createAmqpService, DEFAULT_AMQP_OPTIONS, SHUTDOWN_REPLY_TEXT } from './index.js';
import { loopbackInfo, RecordingLogger } from './testing/session.js';

let broker: Broker | undefined;
afterEach(() => {
  vi.useRealTimers();
  broker?.close();
  broker = undefined;
});

/** The client's bytes up to an open channel 1 (PLAIN guest/guest, no heartbeat). */
function handshake(): Buffer[] {
  const m = (channel: number, method: AmqpMethod): Buffer => encodeMethod(channel, method);
  return [
    PROTOCOL_HEADER,
    m(0, { name: 'connection.start-ok', clientProperties: { product: 'test' }, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' }),
    m(0, { name: 'connection.tune-ok', channelMax: 2047, frameMax: 131072, heartbeat: 0 }),
    m(0, { name: 'connection.open', virtualHost: '/', capabilities: '', insist: false }),
    m(1, { name: 'channel.open', outOfBand: '' }),
  ];
}

describe('AMQP slow consumer over the transport writer', () => {
  it('a client that stops reading is disconnected after the stall timeout and its unacked messages requeued', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    broker = new Broker();
    const logger = new RecordingLogger();
    const service = createAmqpService({ broker, logger, options: { ...DEFAULT_AMQP_OPTIONS, heartbeat: 0, slowConsumerTimeoutMs: 5000 } });
    // A socket whose peer never reads: no write ever completes, so the output piles up.
    const stream = new Duplex({ read() {}, write() {} });
    service.handleConnection(stream, loopbackInfo());
    const body = Buffer.alloc(64 * 1024, 'x');
    const count = 40; // 2.5 MiB: well over the writer's 1 MiB high-water mark
    for (const b of handshake()) stream.push(b);
    stream.push(encodeMethod(1, { name: 'queue.declare', ticket: 0, queue: 'q', passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} }));
    for (let i = 0; i < count; i++) {
      stream.push(encodeMethodWithContent(1, { name: 'basic.publish', ticket: 0, exchange: '', routingKey: 'q', mandatory: false, immediate: false }, {}, undefined, body, 131072));
    }
    stream.push(encodeMethod(1, { name: 'basic.consume', ticket: 0, queue: 'q', consumerTag: 'c1', noLocal: false, noAck: false, exclusive: false, nowait: false, arguments: {} }));
    await nextTurn();
    await nextTurn();
    const q = broker.vhost('/')!.queues.get('q')!;
    expect(q.messageCount).toBeLessThan(count); // some went out, unacked, before the writer filled up
    vi.advanceTimersByTime(4999);
    expect(stream.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(stream.destroyed).toBe(true);
    await nextTurn();
    expect(q.messageCount).toBe(count);
    expect(logger.lines.some((l) => l.level === 'warn' && /slow consumer/.test(l.msg ?? ''))).toBe(true);
    expect(service.connectionCount).toBe(0);
  });
});

describe('createAmqpService', () => {
  it('counts live connections, and close() sends 320 CONNECTION_FORCED and waits for close-ok', async () => {
    broker = new Broker();
    const service = createAmqpService({ broker, logger: new RecordingLogger(), options: { ...DEFAULT_AMQP_OPTIONS, heartbeat: 0 } });
    const [server, client] = streamPair();
    const frames: Frame[] = [];
    const parser = new FrameParser({ frameMax: 1 << 20 });
    // The parser reads a protocol header first; the server sends none, so it is given one.
    parser.push(PROTOCOL_HEADER, () => undefined);
    client.on('data', (chunk: Buffer) => parser.push(chunk, (f) => frames.push(f)));
    // Like a client library: the server's FIN after close-ok is answered with ours.
    client.on('end', () => client.end());
    service.handleConnection(server, loopbackInfo());
    expect(service.connectionCount).toBe(1);
    for (const b of handshake()) client.write(b);
    await vi.waitFor(() => expect(frames.some((f) => f.type === 'method' && f.method.name === 'channel.open-ok')).toBe(true));
    const closed = service.close();
    await vi.waitFor(() => expect(frames.some((f) => f.type === 'method' && f.method.name === 'connection.close')).toBe(true));
    const close = frames.find((f) => f.type === 'method' && f.method.name === 'connection.close');
    expect(close?.type === 'method' ? close.method : undefined).toMatchObject({ replyCode: 320, replyText: SHUTDOWN_REPLY_TEXT });
    client.write(encodeMethod(0, { name: 'connection.close-ok' }));
    await closed;
    await vi.waitFor(() => expect(service.connectionCount).toBe(0));
  });
});
