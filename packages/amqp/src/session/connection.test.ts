import { Broker } from '@warren/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeMethod, PROTOCOL_HEADER, type Frame } from '../codec/index.js';
import { AmqpSession, methodOf } from '../testing/session.js';

function closeOf(frames: Frame[]): { channel: number; replyCode: number; replyText: string; classId: number; methodId: number } {
  const f = frames.find((x) => x.type === 'method' && (x.method.name === 'connection.close' || x.method.name === 'channel.close'));
  if (f === undefined || f.type !== 'method') throw new Error(`no close in ${JSON.stringify(frames.map((x) => x.type))}`);
  const m = f.method;
  if (m.name !== 'connection.close' && m.name !== 'channel.close') throw new Error('unreachable');
  return { channel: f.channel, replyCode: m.replyCode, replyText: m.replyText, classId: m.classId, methodId: m.methodId };
}

let broker: Broker;
beforeEach(() => {
  broker = new Broker();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('handshake (AMQP 0-9-1 §4.2.2-4)', () => {
  it('sends connection.start with RabbitMQ-shaped server properties after the protocol header', () => {
    const s = new AmqpSession(broker);
    s.send(PROTOCOL_HEADER.subarray(0, 3));
    expect(s.frames()).toHaveLength(0);
    s.send(PROTOCOL_HEADER.subarray(3));
    const start = methodOf(s.frames()[0]);
    if (start.name !== 'connection.start') throw new Error(start.name);
    expect(start.versionMajor).toBe(0);
    expect(start.versionMinor).toBe(9);
    expect(start.mechanisms.toString()).toBe('PLAIN AMQPLAIN');
    expect(start.locales.toString()).toBe('en_US');
    expect(start.serverProperties['product']).toBe('Warren');
    expect(start.serverProperties['platform']).toBe('Node.js');
    const caps = start.serverProperties['capabilities'] as Record<string, unknown>;
    for (const c of [
      'publisher_confirms',
      'exchange_exchange_bindings',
      'basic.nack',
      'consumer_cancel_notify',
      'connection.blocked',
      'consumer_priorities',
      'authentication_failure_close',
      'per_consumer_qos',
      'direct_reply_to',
    ]) {
      expect(caps[c], c).toBe(true);
    }
  });

  it('PLAIN: start → tune → open-ok', () => {
    const s = new AmqpSession(broker, { heartbeat: 30, channelMax: 100, frameMax: 65536 });
    const names = s.handshake({ frameMax: 65536, channelMax: 100, heartbeat: 30 }).map((f) => methodOf(f).name);
    expect(names).toEqual(['connection.start', 'connection.tune', 'connection.open-ok']);
    expect(s.connection.heartbeat).toBe(30);
    expect(s.logger.lines.some((l) => l.msg === 'AMQP connection opened')).toBe(true);
  });

  it('tune proposes the configured channel-max, frame-max and heartbeat', () => {
    const s = new AmqpSession(broker, { heartbeat: 17, channelMax: 99, frameMax: 8192 });
    s.send(PROTOCOL_HEADER);
    s.method(0, { name: 'connection.start-ok', clientProperties: {}, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' });
    const tune = methodOf(s.frames()[1]);
    expect(tune).toEqual({ name: 'connection.tune', channelMax: 99, frameMax: 8192, heartbeat: 17 });
  });

  it('AMQPLAIN: LOGIN/PASSWORD table without length prefix', () => {
    const s = new AmqpSession(broker);
    const names = s.handshake({ mechanism: 'AMQPLAIN' }).map((f) => methodOf(f).name);
    expect(names).toEqual(['connection.start', 'connection.tune', 'connection.open-ok']);
  });

  it('bad password with authentication_failure_close → connection.close 403, then end', () => {
    const s = new AmqpSession(broker);
    const frames = s.handshake({ password: 'nope', capabilities: { authentication_failure_close: true } });
    expect(closeOf(frames)).toEqual({
      channel: 0,
      replyCode: 403,
      replyText: 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.',
      classId: 0,
      methodId: 0,
    });
    expect(s.io.ended).toBe(true);
  });

  it('bad password without the capability → the socket is just closed', () => {
    const s = new AmqpSession(broker);
    const frames = s.handshake({ password: 'nope' });
    expect(frames.map((f) => methodOf(f).name)).toEqual(['connection.start']);
    expect(s.io.destroyed || s.io.ended).toBe(true);
  });

  it('unknown mechanism → close', () => {
    const s = new AmqpSession(broker);
    s.send(PROTOCOL_HEADER);
    s.method(0, { name: 'connection.start-ok', clientProperties: {}, mechanism: 'EXTERNAL', response: Buffer.alloc(0), locale: 'en_US' });
    expect(s.io.destroyed).toBe(true);
  });

  it('unknown vhost → connection.close 530 NOT_ALLOWED on connection.open', () => {
    const s = new AmqpSession(broker);
    const c = closeOf(s.handshake({ vhost: 'nope' }));
    expect(c.replyCode).toBe(530);
    expect(c.replyText).toMatch(/^NOT_ALLOWED - /);
    expect([c.classId, c.methodId]).toEqual([10, 40]);
    // close-ok from the client ends the connection.
    s.method(0, { name: 'connection.close-ok' });
    expect(s.io.ended).toBe(true);
  });

  it('bad protocol header → PROTOCOL_HEADER written, then closed', () => {
    const s = new AmqpSession(broker);
    s.send(Buffer.from('GET / HTTP/1.1\r\n'));
    expect(s.io.bytes()).toEqual(PROTOCOL_HEADER);
    expect(s.io.ended).toBe(true);
  });

  it('tune-ok frame_max above the server maximum or below 4096 → closed (as RabbitMQ, without close)', () => {
    for (const frameMax of [262144, 1000]) {
      const s = new AmqpSession(broker);
      const frames = s.handshake({ frameMax });
      expect(frames.map((f) => methodOf(f).name)).toEqual(['connection.start', 'connection.tune']);
      expect(s.io.destroyed).toBe(true);
    }
  });

  it('tune-ok with 0 (no client limit) takes the server values', () => {
    const s = new AmqpSession(broker);
    const names = s.handshake({ frameMax: 0, channelMax: 0 }).map((f) => methodOf(f).name);
    expect(names).toContain('connection.open-ok');
  });

  it('handshake timeout closes the socket', () => {
    vi.useFakeTimers();
    const s = new AmqpSession(broker, { handshakeTimeoutMs: 1000 });
    s.send(PROTOCOL_HEADER);
    vi.advanceTimersByTime(999);
    expect(s.io.destroyed).toBe(false);
    vi.advanceTimersByTime(2);
    expect(s.io.destroyed).toBe(true);
  });

  it('no handshake timeout once open', () => {
    vi.useFakeTimers();
    const s = new AmqpSession(broker, { handshakeTimeoutMs: 1000 });
    s.handshake();
    vi.advanceTimersByTime(5000);
    expect(s.io.destroyed).toBe(false);
  });

  it('client connection.close → close-ok and end', () => {
    const s = new AmqpSession(broker);
    s.handshake();
    s.method(0, { name: 'connection.close', replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
    expect(s.names()).toEqual(['0:connection.close-ok']);
    expect(s.io.ended).toBe(true);
    expect(s.logger.lines.some((l) => l.msg === 'AMQP connection closed')).toBe(true);
  });
});

describe('heartbeats (§4.2.7)', () => {
  it('sends heartbeats when idle and closes after two silent intervals', () => {
    vi.useFakeTimers();
    const s = new AmqpSession(broker, { heartbeat: 10 });
    s.handshake({ heartbeat: 10 });
    s.frames();
    // The first tick sees open-ok written; the next one sends a heartbeat.
    vi.advanceTimersByTime(10000);
    expect(s.frames().map((f) => f.type)).toEqual(['heartbeat']);
    // The client keeps sending heartbeats: stays open.
    for (let i = 0; i < 10; i++) {
      s.send(Buffer.from([8, 0, 0, 0, 0, 0, 0, 0xce]));
      vi.advanceTimersByTime(5000);
    }
    expect(s.io.destroyed).toBe(false);
    // Silence: closed after 2 intervals (20 s), not before 15 s.
    vi.advanceTimersByTime(15000);
    expect(s.io.destroyed).toBe(false);
    vi.advanceTimersByTime(5000);
    expect(s.io.destroyed).toBe(true);
    expect(s.logger.lines.some((l) => /missed heartbeats/.test(l.msg ?? ''))).toBe(true);
  });

  it('heartbeat 0 in tune-ok disables them', () => {
    vi.useFakeTimers();
    const s = new AmqpSession(broker, { heartbeat: 10 });
    s.handshake({ heartbeat: 0 });
    s.frames();
    vi.advanceTimersByTime(60000);
    expect(s.frames()).toHaveLength(0);
    expect(s.io.destroyed).toBe(false);
  });
});

describe('frame errors', () => {
  it('a method between publish and its header → 505 UNEXPECTED_FRAME connection close', () => {
    const s = new AmqpSession(broker);
    s.handshake();
    s.openChannel(1);
    s.method(1, { name: 'basic.publish', ticket: 0, exchange: '', routingKey: 'q', mandatory: false, immediate: false });
    s.method(1, { name: 'basic.publish', ticket: 0, exchange: '', routingKey: 'q', mandatory: false, immediate: false });
    expect(closeOf(s.frames())).toEqual({
      channel: 0,
      replyCode: 505,
      replyText: 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead',
      classId: 60,
      methodId: 40,
    });
  });

  it('a method between header and body → 505', () => {
    const s = new AmqpSession(broker);
    s.handshake();
    s.openChannel(1);
    const pub = s.publishFrames(1, '', 'q', 'hello');
    // method frame (7+4+...); cut right after the header frame: drop the body frame (last 8+5 bytes).
    s.send(pub.subarray(0, pub.length - 13));
    s.method(1, { name: 'basic.qos', prefetchSize: 0, prefetchCount: 1, global: false });
    const c = closeOf(s.frames());
    expect(c.replyCode).toBe(505);
    expect(c.replyText).toBe('UNEXPECTED_FRAME - expected content body, got non content body frame instead');
  });

  it('a content header without a method → 505', () => {
    const s = new AmqpSession(broker);
    s.handshake();
    s.openChannel(1);
    const pub = s.publishFrames(1, '', 'q', 'hello');
    const methodLen = pub.readUInt32BE(3) + 8;
    s.send(pub.subarray(methodLen));
    const c = closeOf(s.frames());
    expect([c.channel, c.replyCode, c.replyText]).toEqual([0, 505, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead']);
  });

  it('a frame on an unopened channel → 504 CHANNEL_ERROR connection close', () => {
    const s = new AmqpSession(broker);
    s.handshake();
    s.method(3, { name: 'queue.declare', ticket: 0, queue: 'x', passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} });
    expect(closeOf(s.frames())).toEqual({ channel: 0, replyCode: 504, replyText: "CHANNEL_ERROR - expected 'channel.open'", classId: 50, methodId: 10 });
  });

  it("a second channel.open → 504 \"second 'channel.open' seen\"", () => {
    const s = new AmqpSession(broker);
    s.handshake();
    s.openChannel(1);
    s.method(1, { name: 'channel.open', outOfBand: '' });
    const c = closeOf(s.frames());
    expect([c.channel, c.replyCode, c.replyText]).toEqual([0, 504, "CHANNEL_ERROR - second 'channel.open' seen"]);
  });

  it('a frame above frame-max → 501 FRAME_ERROR, then the connection ends', () => {
    const s = new AmqpSession(broker);
    s.handshake({ frameMax: 4096 });
    s.openChannel(1);
    s.send(s.publishFrames(1, '', 'q', Buffer.alloc(10000), false, 20000));
    const c = closeOf(s.frames());
    expect(c.replyCode).toBe(501);
    expect(c.replyText).toMatch(/^FRAME_ERROR - /);
    expect(s.io.ended).toBe(true);
  });

  it('after connection.close is sent, frames are ignored until close-ok', () => {
    const s = new AmqpSession(broker);
    s.handshake();
    s.method(3, { name: 'channel.flow', active: true });
    s.frames();
    s.method(0, { name: 'channel.open', outOfBand: '' });
    s.method(5, { name: 'channel.open', outOfBand: '' });
    expect(s.frames()).toHaveLength(0);
    s.method(0, { name: 'connection.close-ok' });
    expect(s.io.ended).toBe(true);
  });

  it('connection.close times out without close-ok', () => {
    vi.useFakeTimers();
    const s = new AmqpSession(broker, { closeTimeoutMs: 500 });
    s.handshake();
    s.method(3, { name: 'channel.flow', active: true });
    expect(s.io.ended).toBe(false);
    vi.advanceTimersByTime(501);
    expect(s.io.ended).toBe(true);
  });

  it('channel.open beyond the negotiated channel_max → 530', () => {
    const s = new AmqpSession(broker);
    s.handshake({ channelMax: 1 });
    s.openChannel(1);
    s.method(2, { name: 'channel.open', outOfBand: '' });
    const c = closeOf(s.frames());
    expect([c.replyCode, c.replyText]).toEqual([530, 'NOT_ALLOWED - number of channels opened (1) has reached the negotiated channel_max (1)']);
  });
});

it('connection.update-secret → update-secret-ok', () => {
  const s = new AmqpSession(broker);
  s.handshake();
  s.method(0, { name: 'connection.update-secret', newSecret: Buffer.from('x'), reason: 'refresh' });
  expect(s.names()).toEqual(['0:connection.update-secret-ok']);
});

it('blocked/unblocked: told only with the capability, reading paused while blocked (once it publishes)', () => {
  const s = new AmqpSession(broker);
  s.handshake({ capabilities: { 'connection.blocked': true } });
  s.openChannel(1);
  broker.setAlarm('memory', true);
  s.publish(1, '', 'nowhere', 'x');
  const f = s.frames();
  expect(methodOf(f[0]).name).toBe('connection.blocked');
  expect(s.io.paused).toBe(true);
  broker.setAlarm('memory', false);
  expect(s.names()).toEqual(['0:connection.unblocked']);
  expect(s.io.paused).toBe(false);

  const quiet = new AmqpSession(broker);
  quiet.handshake();
  quiet.openChannel(1);
  broker.setAlarm('disk', true);
  quiet.publish(1, '', 'nowhere', 'x');
  expect(quiet.frames()).toHaveLength(0);
  expect(quiet.io.paused).toBe(true);
  broker.setAlarm('disk', false);
  expect(quiet.io.paused).toBe(false);
});

it('a raw heartbeat on a channel other than 0 does not crash the process', () => {
  const s = new AmqpSession(broker);
  s.handshake();
  s.send(encodeMethod(0, { name: 'connection.close-ok' }));
  s.send(Buffer.from([8, 0, 1, 0, 0, 0, 0, 0xce]));
  expect(() => s.frames()).not.toThrow();
});
