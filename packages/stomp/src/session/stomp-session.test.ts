import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker, MemoryMessageStore, silentLogger, type ConfirmSink, type CoreChannel } from '@warren/core';
import { FakeChannelHost, fakeConnectionInfo } from '@warren/core/testing';
import { MemoryIo, raw } from '../testing/memory-io.js';
import { StompSession, subscriptionQueueName, type StompSessionOptions } from './stomp-session.js';
import type { StompFrame } from '../codec/frame.js';

let broker: Broker;
beforeEach(() => {
  broker = new Broker({});
});
afterEach(() => broker.close());

const OPTIONS: StompSessionOptions = { maxFrameSize: 1024 * 1024, connectTimeoutMs: 0, errorCloseDelayMs: 0 };

function open(options: StompSessionOptions = OPTIONS): { s: StompSession; io: MemoryIo; send: (t: string) => StompFrame[] } {
  const io = new MemoryIo();
  const s = new StompSession(io, fakeConnectionInfo(), broker, silentLogger, options);
  const send = (t: string): StompFrame[] => {
    s.receive(raw(t));
    return io.frames();
  };
  return { s, io, send };
}

function connected(version = '1.2'): ReturnType<typeof open> {
  const c = open();
  const [f] = c.send(`CONNECT\naccept-version:${version}\nlogin:guest\npasscode:guest\nhost:/\n\n\0`);
  expect(f?.command).toBe('CONNECTED');
  c.io.version = version as '1.0' | '1.1' | '1.2';
  return c;
}

/** The names of the STOMP subscription queues in vhost '/'. */
function subscriptionQueues(): string[] {
  return [...(broker.vhost('/')?.queues.keys() ?? [])].filter((n) => n.startsWith('stomp-subscription-'));
}

function amqp(): { ch: CoreChannel; host: FakeChannelHost } {
  const u = broker.authenticate('guest', 'guest', '127.0.0.1');
  const conn = broker.openConnection(fakeConnectionInfo(), u, '/', { blocked() {}, unblocked() {} });
  const host = new FakeChannelHost();
  return { ch: conn.openChannel(host), host };
}

const msg = (f: StompFrame | undefined): { command: string | undefined; h: Record<string, string>; body: string } => ({
  command: f?.command,
  h: Object.fromEntries(f?.headers ?? []),
  body: f?.body.toString() ?? '',
});

describe('CONNECT', () => {
  it('negotiates the highest common version and answers CONNECTED with session, server and heart-beat', () => {
    const { send } = open();
    const [f] = send('CONNECT\naccept-version:1.0,1.1\nlogin:guest\npasscode:guest\nheart-beat:5000,3000\n\n\0');
    const m = msg(f);
    expect(m.command).toBe('CONNECTED');
    expect(m.h.version).toBe('1.1');
    expect(m.h['heart-beat']).toBe('3000,5000');
    expect(m.h.session).toMatch(/^session-/);
    expect(m.h.server).toMatch(/^Warren\//);
  });

  it('no accept-version means STOMP 1.0; STOMP is a synonym of CONNECT', () => {
    expect(msg(open().send('CONNECT\nlogin:guest\npasscode:guest\n\n\0')[0]).h.version).toBe('1.0');
    expect(msg(open().send('STOMP\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0')[0]).h.version).toBe('1.2');
  });

  it('uses the default user when CONNECT has no login, as RabbitMQ does', () => {
    expect(open().send('CONNECT\naccept-version:1.2\n\n\0')[0]?.command).toBe('CONNECTED');
    const strict = open({ ...OPTIONS, defaultUser: null }).send('CONNECT\naccept-version:1.2\n\n\0');
    expect(msg(strict[0]).h.message).toBe('Bad CONNECT');
  });

  it('refuses bad credentials with RabbitMQ ERROR text and closes', () => {
    const { send, io } = open();
    const m = msg(send('CONNECT\naccept-version:1.1\nlogin:guest\npasscode:bad\nreceipt:c1\n\n\0')[0]);
    expect(m).toMatchObject({ command: 'ERROR', body: "Access refused for user 'guest'\n" });
    expect(m.h).toMatchObject({ message: 'Bad CONNECT', 'receipt-id': 'c1', 'content-type': 'text/plain' });
    expect(io.ended).toBe(true);
  });

  it('refuses an unknown vhost, an unsupported version, and a frame before CONNECT', () => {
    expect(msg(open().send('CONNECT\naccept-version:1.2\nhost:nohost\n\n\0')[0]).body).toBe("Virtual host 'nohost' access denied");
    expect(msg(open().send('CONNECT\naccept-version:2.0\n\n\0')[0]).h.message).toBe('Version mismatch');
    const m = msg(open().send('SEND\ndestination:/queue/a\n\n\0')[0]);
    expect(m.h.message).toBe('Illegal command');
    expect(m.body).toBe('You must log in using CONNECT first');
  });

  it('keeps limits small before CONNECT', () => {
    const { send, io } = open();
    const m = msg(send('CONNECT\nlogin:' + 'x'.repeat(20000) + '\n\n\0')[0]);
    expect(m.h.message).toMatch(/too long|too large/i);
    expect(io.ended).toBe(true);
  });
});

describe('SEND and SUBSCRIBE', () => {
  it('/queue/: declares a durable queue, delivers MESSAGE with server headers, property and custom headers', () => {
    const { send } = connected();
    expect(send('SUBSCRIBE\ndestination:/queue/a\nid:s1\nack:client\n\n\0')).toEqual([]);
    const frames = send(
      'SEND\ndestination:/queue/a\nfoo:bar\npersistent:true\ncontent-type:text/plain\npriority:3\nsubscription:fake\nreceipt:r1\n\nhello\0',
    );
    const m = msg(frames[0]);
    expect(m.command).toBe('MESSAGE');
    expect(m.h.subscription).toBe('s1');
    expect(m.h.destination).toBe('/queue/a');
    expect(m.h['message-id']).toMatch(/^T_s1@@session-.+@@1$/);
    expect(m.h.ack).toBe(m.h['message-id']);
    expect(m.h).toMatchObject({ redelivered: 'false', foo: 'bar', persistent: 'true', 'content-type': 'text/plain', priority: '3' });
    // RabbitMQ copies a SEND's receipt header into the message (the STOMP differential shows it).
    expect(m.h.receipt).toBe('r1');
    expect(m.body).toBe('hello');
    expect(msg(frames[1])).toMatchObject({ command: 'RECEIPT', h: { 'receipt-id': 'r1' } });
    const { ch } = amqp();
    expect(ch.declareQueue('a', { passive: true }).queue).toBe('a');
    expect(() => ch.declareQueue('a', { durable: false })).toThrow(/durable/);
  });

  it('auto ack removes the message; client-individual keeps it until ACK', () => {
    const auto = connected();
    auto.send('SUBSCRIBE\ndestination:/queue/b\nid:1\n\n\0');
    expect(msg(auto.send('SEND\ndestination:/queue/b\n\nzero\0')[0]).h.ack).toBeUndefined();
    auto.s.transportClosed();
    const { send, s } = connected();
    send('SUBSCRIBE\ndestination:/queue/b\nid:1\nack:client-individual\n\n\0');
    const m1 = msg(send('SEND\ndestination:/queue/b\n\none\0')[0]);
    const m2 = msg(send('SEND\ndestination:/queue/b\n\ntwo\0')[0]);
    expect([m1.body, m2.body]).toEqual(['one', 'two']);
    const { ch } = amqp();
    send(`ACK\nid:${m2.h.ack}\n\n\0`);
    expect(ch.declareQueue('b', { passive: true, durable: true }).messageCount).toBe(0);
    // "one" is still unacked: back in the queue once the connection closes ("zero" was gone at delivery).
    s.transportClosed();
    expect(ch.declareQueue('b', { passive: true, durable: true }).messageCount).toBe(1);
  });

  it('client ack mode is cumulative within the subscription only', () => {
    const { send, s } = connected();
    send('SUBSCRIBE\ndestination:/queue/c1\nid:x\nack:client\n\n\0');
    send('SUBSCRIBE\ndestination:/queue/c2\nid:y\nack:client\n\n\0');
    const a1 = msg(send('SEND\ndestination:/queue/c1\n\na1\0')[0]);
    const b1 = msg(send('SEND\ndestination:/queue/c2\n\nb1\0')[0]);
    const a2 = msg(send('SEND\ndestination:/queue/c1\n\na2\0')[0]);
    send(`ACK\nid:${a2.h.ack}\nreceipt:k\n\n\0`);
    // a1 was acked by the cumulative ACK: acking it again is an error; b1 is still outstanding.
    expect(a1.h.ack).toBeDefined();
    s.transportClosed();
    const { ch } = amqp();
    expect(ch.declareQueue('c1', { passive: true }).messageCount).toBe(0);
    expect(ch.declareQueue('c2', { passive: true }).messageCount).toBe(1);
    expect(b1.body).toBe('b1');
  });

  it('NACK requeues by default, drops with requeue:false; 1.1 uses message-id', () => {
    const { send } = connected('1.1');
    send('SUBSCRIBE\ndestination:/queue/n\nid:1\nack:client-individual\n\n\0');
    const m = msg(send('SEND\ndestination:/queue/n\n\nx\0')[0]);
    expect(m.h.ack).toBeUndefined();
    const again = msg(send(`NACK\nmessage-id:${m.h['message-id']}\nsubscription:1\n\n\0`)[0]);
    expect(again).toMatchObject({ command: 'MESSAGE', body: 'x', h: { redelivered: 'true' } });
    expect(send(`NACK\nmessage-id:${again.h['message-id']}\nrequeue:false\n\n\0`)).toEqual([]);
    const { ch } = amqp();
    expect(ch.declareQueue('n', { passive: true }).messageCount).toBe(0);
  });

  it('an ACK for a malformed id is an ERROR without receipt, and the connection stays open (as RabbitMQ)', () => {
    const { send, io } = connected();
    const frames = send('ACK\nid:nope\nreceipt:r2\n\n\0');
    expect(frames).toHaveLength(1);
    const m = msg(frames[0]);
    expect(m.h).toMatchObject({ message: 'Invalid header' });
    expect(m.h['receipt-id']).toBeUndefined();
    expect(m.body).toBe('"ACK" must include a valid "id" header\n');
    expect(io.ended).toBe(false);
    expect(msg(send('DISCONNECT\nreceipt:bye\n\n\0')[0]).h['receipt-id']).toBe('bye');
  });

  it('an ACK for an unknown delivery tag of a known subscription is PRECONDITION_FAILED, then close', () => {
    const { send, io } = connected();
    send('SUBSCRIBE\ndestination:/queue/ackq\nid:s\nack:client-individual\n\n\0');
    const m = msg(send('SEND\ndestination:/queue/ackq\n\nx\0')[0]);
    const err = msg(send(`ACK\nid:${m.h.ack!.replace(/@@1$/, '@@9')}\n\n\0`)[0]);
    expect(err.h.message).toBe('precondition_failed');
    expect(io.ended).toBe(true);
  });

  it('/topic/: a private auto-delete queue bound to amq.topic with the key pattern', () => {
    const { send } = connected();
    send('SUBSCRIBE\ndestination:/topic/sensors.*.temp\nid:t\n\n\0');
    const { ch } = amqp();
    ch.publish({ exchange: 'amq.topic', routingKey: 'sensors.kitchen.temp', properties: {}, rawProperties: undefined, body: Buffer.from('21') }, {});
    const m = msg(send('')[0]);
    expect(m).toMatchObject({ command: 'MESSAGE', body: '21', h: { destination: '/topic/sensors.kitchen.temp', subscription: 't' } });
    const [q] = subscriptionQueues();
    expect(q).toMatch(/^stomp-subscription-[A-Za-z0-9_-]{22}$/);
    expect(() => ch.declareQueue(q as string, { passive: true })).toThrow(/exclusive|locked/i);
  });

  it('two connections subscribing to one topic with the same id each get a queue of their own, and both receive', () => {
    // @stomp/stompjs names every client's first subscription sub-0: the queue name must not be derived from it alone.
    const a = connected();
    const b = connected();
    expect(a.send('SUBSCRIBE\ndestination:/topic/x\nid:sub-0\nreceipt:r\n\n\0')[0]?.command).toBe('RECEIPT');
    expect(b.send('SUBSCRIBE\ndestination:/topic/x\nid:sub-0\nreceipt:r\n\n\0')[0]?.command).toBe('RECEIPT');
    expect(subscriptionQueues()).toHaveLength(2);
    connected().send('SEND\ndestination:/topic/x\n\nhello\0');
    expect(msg(a.send('')[0])).toMatchObject({ command: 'MESSAGE', body: 'hello', h: { subscription: 'sub-0' } });
    expect(msg(b.send('')[0])).toMatchObject({ command: 'MESSAGE', body: 'hello', h: { subscription: 'sub-0' } });
  });

  it('a durable subscription keeps the queue named by destination and id (a later connection finds it)', () => {
    const c = connected();
    c.send('SUBSCRIBE\ndestination:/topic/news\nid:d0\ndurable:true\nauto-delete:false\n\n\0');
    expect(subscriptionQueues()).toEqual([subscriptionQueueName('/topic/news', 'd0')]);
  });

  it('durable topic subscription: a durable queue that outlives the connection; UNSUBSCRIBE durable:true deletes it', () => {
    const c1 = connected();
    c1.send('SUBSCRIBE\ndestination:/topic/news\nid:d1\ndurable:true\nauto-delete:false\n\n\0');
    c1.s.transportClosed();
    const p = connected();
    p.send('SEND\ndestination:/topic/news\n\nwhile away\0');
    const { ch } = amqp();
    const q = subscriptionQueueName('/topic/news', 'd1');
    expect(ch.declareQueue(q, { passive: true }).messageCount).toBe(1);
    const c2 = connected();
    const frames = c2.send('SUBSCRIBE\ndestination:/topic/news\nid:d1\npersistent:true\nauto-delete:false\n\n\0');
    expect(msg(frames[0]).body).toBe('while away');
    c2.send('UNSUBSCRIBE\nid:d1\ndurable:true\n\n\0');
    expect(() => ch.declareQueue(q, { passive: true })).toThrow(/no queue/);
  });

  it('durable subscription without id is refused', () => {
    const m = msg(connected().send('SUBSCRIBE\ndestination:/topic/news\ndurable:true\n\n\0')[0]);
    expect(m.h.message).toBe('Missing Header');
  });

  it('/exchange/x/key binds a private queue with the key; unknown exchanges are NOT_FOUND', () => {
    const { send } = connected();
    send('SUBSCRIBE\ndestination:/exchange/amq.direct/k1\nid:e\n\n\0');
    const m = msg(send('SEND\ndestination:/exchange/amq.direct/k1\n\nvia\0')[0]);
    expect(m).toMatchObject({ body: 'via', h: { destination: '/exchange/amq.direct/k1' } });
    const err = msg(send('SEND\ndestination:/exchange/nox/k\nreceipt:r5\n\nx\0')[0]);
    // A channel error: RabbitMQ's ERROR carries no receipt-id, and the connection closes.
    expect(err).toMatchObject({ h: { message: 'not_found' }, body: "NOT_FOUND - no exchange 'nox' in vhost '/'" });
    expect(err.h['receipt-id']).toBeUndefined();
  });

  it('/amq/queue/ uses an existing queue only', () => {
    const { ch } = amqp();
    ch.declareQueue('existing', {});
    const { send } = connected();
    send('SUBSCRIBE\ndestination:/amq/queue/existing\nid:1\n\n\0');
    expect(msg(send('SEND\ndestination:/amq/queue/existing\n\nx\0')[0]).h.destination).toBe('/queue/existing');
    const err = msg(send('SUBSCRIBE\ndestination:/amq/queue/missing\nid:2\n\n\0')[0]);
    expect(err.h.message).toBe('not_found');
  });

  it('/temp-queue/ in reply-to: a private reply queue, answered through /reply-queue/', () => {
    const server = connected();
    const client = connected();
    server.send('SUBSCRIBE\ndestination:/queue/rpc\nid:s\n\n\0');
    client.send('SEND\ndestination:/queue/rpc\nreply-to:/temp-queue/foo\n\nrequest\0');
    const req = msg(server.send('')[0]);
    expect(req.h['reply-to']).toMatch(/^\/reply-queue\/amq\.gen-/);
    server.send(`SEND\ndestination:${req.h['reply-to']}\n\nanswer\0`);
    const reply = msg(client.send('')[0]);
    expect(reply).toMatchObject({ body: 'answer', h: { subscription: '/temp-queue/foo' } });
    expect(reply.h.destination).toBe('/queue/' + req.h['reply-to']!.slice('/reply-queue/'.length));
  });

  it('x-* headers become queue arguments (x-max-length drops the head)', () => {
    const { send } = connected();
    send('SEND\ndestination:/queue/limited\nx-max-length:1\n\none\0');
    send('SEND\ndestination:/queue/limited\nx-max-length:1\n\ntwo\0');
    const frames = send('SUBSCRIBE\ndestination:/queue/limited\nid:1\nx-max-length:1\n\n\0');
    expect(frames.map((f) => f.body.toString())).toEqual(['two']);
  });

  it('prefetch-count limits unacked deliveries per subscription', () => {
    const { send } = connected();
    for (let i = 0; i < 5; i++) send(`SEND\ndestination:/queue/pf\n\n${i}\0`);
    const frames = send('SUBSCRIBE\ndestination:/queue/pf\nid:1\nack:client-individual\nprefetch-count:2\n\n\0');
    expect(frames.map((f) => f.body.toString())).toEqual(['0', '1']);
    const next = send(`ACK\nid:${frames[0]?.headers.get('ack')}\n\n\0`);
    expect(next.map((f) => f.body.toString())).toEqual(['2']);
  });

  it('server headers win over a publisher\'s; typed AMQP headers arrive in their text form', () => {
    const { send } = connected();
    send('SUBSCRIBE\ndestination:/queue/typed\nid:1\n\n\0');
    const { ch } = amqp();
    ch.publish(
      {
        exchange: '',
        routingKey: 'typed',
        properties: {
          headers: { 'message-id': 'spoof', flag: true, ratio: 0.5, big: 2n ** 40n, tbl: { a: 1, b: [true, 'x'] }, nil: null },
          deliveryMode: 2,
          correlationId: 'c',
          messageId: 'm-1',
          timestamp: 1700000000,
        },
        rawProperties: undefined,
        body: Buffer.from('t'),
      },
      {},
    );
    const m = msg(send('')[0]);
    expect(m.h['message-id']).toMatch(/^T_1@@/);
    expect(m.h).toMatchObject({
      flag: 'true',
      ratio: '0.5',
      big: '1099511627776',
      tbl: '{"a":1,"b":[true,"x"]}',
      nil: '',
      persistent: 'true',
      'correlation-id': 'c',
      'amqp-message-id': 'm-1',
      timestamp: '1700000000',
    });
  });

  it('headers escape in 1.2 on the way out and in', () => {
    const { send } = connected();
    send('SUBSCRIBE\ndestination:/queue/esc\nid:1\n\n\0');
    const m = msg(send('SEND\ndestination:/queue/esc\nk\\cey:a\\nb\\\\c\n\n\0')[0]);
    expect(m.h['k:ey']).toBe('a\nb\\c');
  });
});

describe('transactions', () => {
  it('SENDs and ACKs are held until COMMIT and dropped on ABORT', () => {
    const { send } = connected();
    send('SUBSCRIBE\ndestination:/queue/tx\nid:1\nack:client-individual\n\n\0');
    send('BEGIN\ntransaction:t1\n\n\0');
    expect(send('SEND\ndestination:/queue/tx\ntransaction:t1\n\nin-tx\0')).toEqual([]);
    // RabbitMQ's order: the COMMIT's RECEIPT, then the messages it releases.
    const committed = send('COMMIT\ntransaction:t1\nreceipt:c\n\n\0').filter((f) => f.command === 'MESSAGE');
    expect(committed.map((f) => f.command)).toEqual(['MESSAGE']);
    send('BEGIN\ntransaction:t2\n\n\0');
    send('SEND\ndestination:/queue/tx\ntransaction:t2\n\ndropped\0');
    send(`ACK\nid:${committed[0]?.headers.get('ack')}\ntransaction:t2\n\n\0`);
    expect(send('ABORT\ntransaction:t2\nreceipt:a\n\n\0').map((f) => f.command)).toEqual(['RECEIPT']);
    // the ACK was aborted: the message is still outstanding and can be acked now
    expect(send(`ACK\nid:${committed[0]?.headers.get('ack')}\nreceipt:k\n\n\0`).map((f) => f.command)).toEqual(['RECEIPT']);
  });

  it('an unknown transaction is an ERROR', () => {
    const m = msg(connected().send('COMMIT\ntransaction:t9\nreceipt:r3\n\n\0')[0]);
    expect(m).toMatchObject({ h: { message: 'Bad transaction' }, body: 'Invalid transaction identifier: "t9"\n' });
    expect(m.h['receipt-id']).toBeUndefined();
  });
});

describe('errors and DISCONNECT', () => {
  it.each([
    ['FOO\n\n\0', 'Bad command', 'Could not interpret command "FOO"\n'],
    ['SEND\nreceipt:r1\n\nhi\0', 'Missing destination', `"SEND" must include a 'destination' header\n`],
    [
      'SEND\ndestination:/foo/a\n\nhi\0',
      'Unknown destination',
      "'/foo/a' is not a valid destination.\nValid destination types are: /temp-queue, /exchange, /topic, /queue, /amq/queue, /reply-queue/.\n",
    ],
    ['UNSUBSCRIBE\n\n\0', 'Missing destination or id', "UNSUBSCRIBE must include a 'destination' or 'id' header"],
    [
      'SUBSCRIBE\ndestination:/queue/d\nid:a\n\n\0SUBSCRIBE\ndestination:/queue/d\nid:a\n\n\0',
      'Duplicated subscription identifier',
      "A subscription identified by 'T_a' already exists.",
    ],
    ['SUBSCRIBE\ndestination:/temp-queue/x\nid:b\n\n\0', 'Invalid destination', "'/temp-queue/x' is not a valid destination for 'SUBSCRIBE'\n"],
    ['BEGIN\n\n\0', 'Missing transaction', `"BEGIN" must include a 'transaction' header\n`],
    ['SUBSCRIBE\ndestination:/topic/dd\ndurable:true\n\n\0', 'Missing Header', "Header 'id' is required for durable subscriptions"],
    ['UNSUBSCRIBE\nid:nope\n\n\0', 'No subscription found', `UNSUBSCRIBE must refer to an existing subscription.\nSubscription to "id='nope'" not found.\n`],
  ])('%j → ERROR %s, the frame is dropped and the connection stays open (as RabbitMQ)', (frame, message, body) => {
    const { send, io } = connected();
    const frames = send(frame);
    const m = msg(frames.find((f) => f.command === 'ERROR'));
    expect(m).toMatchObject({ command: 'ERROR', h: { message }, body });
    expect(io.ended).toBe(false);
    expect(msg(send('DISCONNECT\nreceipt:bye\n\n\0')[0]).h['receipt-id']).toBe('bye');
  });

  it('a frame the decoder cannot read (bad content-length) is an ERROR, then close', () => {
    const { send, io } = connected();
    const m = msg(send('SEND\ndestination:/queue/a\ncontent-length:x\n\nhi\0')[0]);
    expect(m).toMatchObject({ command: 'ERROR', h: { message: 'Bad content-length' }, body: 'Invalid content-length header: "x"' });
    expect(io.ended).toBe(true);
  });

  it('a second CONNECT closes the connection without a frame (as RabbitMQ)', () => {
    const { send, io } = connected();
    expect(send('CONNECT\naccept-version:1.2\n\n\0')).toEqual([]);
    expect(io.destroyed || io.ended).toBe(true);
  });

  it('a frame larger than maxFrameSize is refused', () => {
    const io = new MemoryIo();
    const s = new StompSession(io, fakeConnectionInfo(), broker, silentLogger, { ...OPTIONS, maxFrameSize: 100 });
    s.receive(raw('CONNECT\naccept-version:1.2\n\n\0'));
    s.receive(raw('SEND\ndestination:/queue/a\n\n' + 'x'.repeat(200)));
    expect(msg(io.frames()[1]).h.message).toBe('Frame too large');
  });

  it('an error on one connection leaves the others working', () => {
    const a = connected();
    const b = connected();
    b.send('SUBSCRIBE\ndestination:/queue/iso\nid:1\n\n\0');
    a.send('SEND\ndestination:/queue/iso\ncontent-length:x\n\nhi\0');
    expect(a.io.ended).toBe(true);
    expect(msg(b.send('SEND\ndestination:/queue/iso\n\nstill\0')[0]).body).toBe('still');
  });

  it('DISCONNECT with receipt answers RECEIPT and closes; unacked messages are requeued', () => {
    const { send, io } = connected();
    send('SUBSCRIBE\ndestination:/queue/dc\nid:1\nack:client\n\n\0');
    send('SEND\ndestination:/queue/dc\n\nkeep\0');
    expect(msg(send('DISCONNECT\nreceipt:bye\n\n\0')[0])).toMatchObject({ command: 'RECEIPT', h: { 'receipt-id': 'bye' } });
    expect(io.ended).toBe(true);
    expect(amqp().ch.declareQueue('dc', { passive: true }).messageCount).toBe(1);
  });
});

describe('closing after ERROR', () => {
  it('writes the ERROR at once, ignores further input, and half-closes after errorCloseDelayMs', () => {
    vi.useFakeTimers();
    try {
      const { send, io, s } = open({ ...OPTIONS, errorCloseDelayMs: 500 });
      expect(msg(send('FOO\n\n\0')[0]).h.message).toBe('Illegal command');
      expect(s.closed).toBe(true);
      expect(io.ended).toBe(false);
      expect(send('CONNECT\naccept-version:1.2\n\n\0')).toEqual([]);
      vi.advanceTimersByTime(499);
      expect(io.ended).toBe(false);
      vi.advanceTimersByTime(1);
      expect(io.ended).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('heart-beats', () => {
  it('sends EOLs when idle and closes a client that stays silent for twice its interval', () => {
    vi.useFakeTimers();
    try {
      const { send, io } = open();
      const [f] = send('CONNECT\naccept-version:1.2\nheart-beat:1000,400\n\n\0');
      expect(f?.headers.get('heart-beat')).toBe('400,1000');
      const before = io.chunks.length;
      vi.advanceTimersByTime(1000);
      expect(io.chunks.slice(before).some((c) => c.toString() === '\n')).toBe(true);
      send('\n'); // the client's heart-beat keeps it alive
      vi.advanceTimersByTime(1500);
      expect(io.destroyed).toBe(false);
      vi.advanceTimersByTime(1500);
      expect(io.destroyed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('1.0 clients get no heart-beats', () => {
    const [f] = open().send('CONNECT\nheart-beat:1000,1000\n\n\0');
    expect(f?.headers.get('heart-beat')).toBe('0,0');
  });
});

describe('receipts wait for confirms', () => {
  it('the RECEIPT of a SEND comes from host.confirm (held by the store), and later receipts keep frame order', () => {
    // A store that holds confirms until released, as the durable store does until its group commit.
    const held: Array<() => void> = [];
    class SlowStore extends MemoryMessageStore {
      override confirm(sink: ConfirmSink, sequence: number, ack: boolean): void {
        held.push(() => sink.confirm(sequence, ack));
      }
    }
    broker.close();
    broker = new Broker({ store: new SlowStore() });
    const { send } = connected();
    expect(send('SEND\ndestination:/queue/p\npersistent:true\nreceipt:s1\n\nx\0')).toEqual([]);
    expect(send('SUBSCRIBE\ndestination:/queue/other\nid:9\nreceipt:s2\n\n\0')).toEqual([]);
    expect(held).toHaveLength(1);
    held.shift()?.();
    expect(send('').map((f) => f.headers.get('receipt-id'))).toEqual(['s1', 's2']);
  });

  it('a rejected publish (x-overflow reject-publish) is an ERROR', () => {
    const { send } = connected();
    const frames = send('SEND\ndestination:/queue/full\nx-max-length:0\nx-overflow:reject-publish\nreceipt:a\n\nx\0');
    expect(msg(frames[0]).h.message).toBe('Message rejected');
  });
});

describe('resource alarms', () => {
  it('a publishing connection stops reading while an alarm lasts; a pure consumer keeps reading', () => {
    const pub = connected();
    const con = connected();
    con.send('SUBSCRIBE\ndestination:/queue/alarm\nid:1\nack:client\n\n\0');
    pub.send('SEND\ndestination:/queue/alarm\n\nbefore\0');
    broker.setAlarm('memory', true);
    expect(pub.io.paused).toBe(true);
    expect(con.io.paused).toBe(false);
    broker.setAlarm('memory', false);
    expect(pub.io.paused).toBe(false);
  });
});

describe('never a crash', () => {
  const COMMANDS = ['CONNECT', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT', 'X'];
  const HEADERS = ['destination', 'id', 'ack', 'receipt', 'transaction', 'message-id', 'durable', 'prefetch-count', 'x-max-length', 'reply-to', 'priority', 'content-length', 'persistent'];
  const VALUES = ['/queue/f', '/topic/a.*', '/exchange/amq.direct/k', '/temp-queue/t', '/amq/queue/none', '/bad', '1', 'client', 'true', 'T_1@@x@@1', '-5', 'abc', ''];
  const frame = fc
    .tuple(
      fc.constantFrom(...COMMANDS),
      fc.array(fc.tuple(fc.constantFrom(...HEADERS), fc.constantFrom(...VALUES)), { maxLength: 5 }),
      fc.string({ maxLength: 10 }).filter((b) => !b.includes('\0')),
    )
    .map(([c, h, b]) => `${c}\n${h.map(([k, v]) => `${k}:${v}`).join('\n')}${h.length > 0 ? '\n' : ''}\n${b}\0`);

  it('random frame sequences after CONNECT give frames and ERRORs, never an exception', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 8 }), (frames) => {
        const { s, io } = connected();
        for (const f of frames) s.receive(raw(f));
        const out = io.frames();
        // Errors RabbitMQ survives leave the connection open (one ERROR each); a fatal one ends it.
        for (const e of out.filter((f) => f.command === 'ERROR')) expect(e.headers.get('message')).toBeTruthy();
        if (io.ended && !s.closed) throw new Error('ended but not closed');
        s.transportClosed();
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes before and after CONNECT never throw', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 200 }), (login, bytes) => {
        const c = login ? connected() : open();
        c.s.receive(Buffer.from(bytes));
        c.s.transportClosed();
      }),
      { numRuns: 300 },
    );
  });
});

describe('x-death reaches STOMP as JSON', () => {
  it('a message rejected into a dead-letter queue carries x-death as a JSON array', () => {
    const { send } = connected();
    // x-dead-letter-exchange '' routes by the dead-letter routing key to the queue "dlq".
    send('SUBSCRIBE\ndestination:/queue/dlq\nid:d\n\n\0');
    send('SUBSCRIBE\ndestination:/queue/work\nid:w\nack:client-individual\nx-dead-letter-exchange:\nx-dead-letter-routing-key:dlq\n\n\0');
    const m = msg(send('SEND\ndestination:/queue/work\n\njob\0')[0]);
    const dead = msg(send(`NACK\nid:${m.h.ack}\nrequeue:false\n\n\0`)[0]);
    expect(dead.body).toBe('job');
    expect(dead.h.subscription).toBe('d');
    const xDeath = JSON.parse(dead.h['x-death'] ?? 'null') as Array<Record<string, unknown>>;
    expect(xDeath).toHaveLength(1);
    expect(xDeath[0]).toMatchObject({ count: 1, reason: 'rejected', queue: 'work', exchange: '', 'routing-keys': ['work'] });
    expect(typeof xDeath[0]?.['time']).toBe('number');
  });
});

describe('logging', () => {
  it('every ERROR frame the client gets is also a warn log line with its message header', () => {
    const warnings: Record<string, unknown>[] = [];
    const logger = { ...silentLogger, warn: (obj: object | string) => void (typeof obj === 'object' && warnings.push(obj as Record<string, unknown>)), child: () => logger };
    const io = new MemoryIo();
    const s = new StompSession(io, fakeConnectionInfo(), broker, logger, OPTIONS);
    s.receive(raw('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:wrong\n\n\0'));
    const [f] = io.frames();
    expect(f?.command).toBe('ERROR');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: f?.headers.get('message') });
  });
});

describe('SUBSCRIBE headers for streams and subscription queues', () => {
  const sendAll = (send: (t: string) => StompFrame[], q: string, bodies: string[]): void => {
    for (const b of bodies) send(`SEND\ndestination:/queue/${q}\nx-queue-type:stream\n\n${b}\0`);
  };
  const bodiesOf = (frames: StompFrame[], sub: string): string[] =>
    frames.filter((f) => f.command === 'MESSAGE' && f.headers.get('subscription') === sub).map((f) => f.body.toString());

  it('x-stream-offset reads a stream from first, offset=N, last (the last chunk) or next; an unknown form reads from next', async () => {
    const { send } = connected();
    // A chunk is what a stream receives in one turn of the event loop: s0 and s1 make one, s2 the last.
    sendAll(send, 'st', ['s0', 's1']);
    await new Promise((r) => setImmediate(r));
    sendAll(send, 'st', ['s2']);
    const sub = (id: string, offset: string): StompFrame[] =>
      send(`SUBSCRIBE\ndestination:/queue/st\nid:${id}\nack:client\nprefetch-count:10\nx-stream-offset:${offset}\n\n\0`);
    expect(bodiesOf(sub('a', 'first'), 'a')).toEqual(['s0', 's1', 's2']);
    expect(bodiesOf(sub('b', 'offset=1'), 'b')).toEqual(['s1', 's2']);
    expect(bodiesOf(sub('c', 'last'), 'c')).toEqual(['s2']);
    expect(sub('d', 'next')).toEqual([]);
    expect(sub('e', '1')).toEqual([]);
    const after = send('SEND\ndestination:/queue/st\n\ns3\0');
    for (const id of ['a', 'b', 'c', 'd', 'e']) expect(bodiesOf(after, id)).toEqual(['s3']);
    const m = after.find((f) => f.headers.get('subscription') === 'a')!;
    expect(m.headers.get('x-stream-offset')).toBe('3');
  });

  it('x-stream-offset:timestamp=<seconds> reads what was appended since then', () => {
    const { send } = connected();
    sendAll(send, 'ts', ['old']);
    const future = Math.floor(Date.now() / 1000) + 3600;
    const frames = send(`SUBSCRIBE\ndestination:/queue/ts\nid:t\nack:client\nprefetch-count:10\nx-stream-offset:timestamp=${future}\n\n\0`);
    expect(bodiesOf(frames, 't')).toEqual([]);
    const past = send('SUBSCRIBE\ndestination:/queue/ts\nid:p\nack:client\nprefetch-count:10\nx-stream-offset:timestamp=0\n\n\0');
    expect(bodiesOf(past, 'p')).toEqual(['old']);
  });

  it('x-queue-name and x-queue-type choose the name and type of a /topic or /exchange subscription queue', () => {
    const { send } = connected();
    send('SUBSCRIBE\ndestination:/topic/named.key\nid:n\ndurable:true\nauto-delete:false\nx-queue-name:my-sub\nx-queue-type:quorum\n\n\0');
    send('SUBSCRIBE\ndestination:/exchange/amq.direct/k\nid:x\nx-queue-name:my-x-sub\n\n\0');
    const { ch } = amqp();
    expect(ch.declareQueue('my-sub', { passive: true }).queue).toBe('my-sub');
    // The queue is a quorum queue: redeclaring it as classic is refused.
    expect(() => ch.declareQueue('my-sub', { durable: true, arguments: { 'x-queue-type': 'classic' } })).toThrow(/x-queue-type/);
    const viaName = send('SEND\ndestination:/amq/queue/my-x-sub\n\ndirect\0');
    expect(msg(viaName[0])).toMatchObject({ command: 'MESSAGE', body: 'direct', h: { subscription: 'x' } });
  });
});

describe('subscription cap (maxSubscriptions)', () => {
  it('a SUBSCRIBE over the cap gets an ERROR frame; the connection reads on, and UNSUBSCRIBE makes room', () => {
    const c = open({ ...OPTIONS, maxSubscriptions: 2 });
    c.send('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0');
    expect(c.send('SUBSCRIBE\ndestination:/topic/a\nid:1\nreceipt:r1\n\n\0')[0]?.command).toBe('RECEIPT');
    expect(c.send('SUBSCRIBE\ndestination:/queue/b\nid:2\nreceipt:r2\n\n\0')[0]?.command).toBe('RECEIPT');
    const refused = msg(c.send('SUBSCRIBE\ndestination:/topic/c\nid:3\nreceipt:r3\n\n\0')[0]);
    expect(refused).toMatchObject({ command: 'ERROR', h: { message: 'Too many subscriptions' } });
    expect(refused.body).toContain('maximum of 2 subscriptions');
    expect(subscriptionQueues()).toHaveLength(1);
    expect(c.send('UNSUBSCRIBE\nid:1\nreceipt:u1\n\n\0')[0]?.command).toBe('RECEIPT');
    expect(c.send('SUBSCRIBE\ndestination:/topic/c\nid:3\nreceipt:r4\n\n\0')[0]?.command).toBe('RECEIPT');
  });

  it('maxSubscriptions 0 means no cap', () => {
    const c = open({ ...OPTIONS, maxSubscriptions: 0 });
    c.send('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0');
    let frames = '';
    for (let i = 0; i < 300; i++) frames += `SUBSCRIBE\ndestination:/queue/q\nid:${i}\n\n\0`;
    expect(c.send(frames).filter((f) => f.command === 'ERROR')).toHaveLength(0);
  });
});
