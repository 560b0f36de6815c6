/**
 * Interop: STOMP over WebSocket (web-stomp, RabbitMQ's web_stomp) with @stomp/stompjs over ws in Node, raw
 * WebSocket frames split and packed by hand, cross-protocol with amqplib, and bad input.
 */
import { randomBytes } from 'node:crypto';
import { Client, type IMessage } from '@stomp/stompjs';
import amqp from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { rawWebSocket, receiveUntil, startWebBroker, untilClosed, type WebBroker } from './web-harness.js';

let broker: WebBroker;
const clients: Client[] = [];
const sockets: WebSocket[] = [];
beforeAll(async () => {
  broker = await startWebBroker();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.deactivate()));
  for (const s of sockets.splice(0)) s.terminate();
});
afterAll(async () => {
  await broker.stop();
});

const id = (): string => randomBytes(4).toString('hex');
const CONNECT = 'CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0';

/** A connected @stomp/stompjs client over ws. */
async function stompClient(protocols = ['v10.stomp', 'v11.stomp', 'v12.stomp']): Promise<Client> {
  const client = new Client({
    webSocketFactory: () => new WebSocket(broker.webStompUrl, protocols),
    connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (frame) => reject(new Error(frame.headers['message']));
    client.onWebSocketError = () => reject(new Error('WebSocket error'));
    client.activate();
  });
  return client;
}

function nextMessage(client: Client, destination: string, headers: Record<string, string> = {}): Promise<IMessage> {
  return new Promise((resolve) => {
    const sub = client.subscribe(
      destination,
      (m) => {
        resolve(m);
        sub.unsubscribe();
      },
      headers,
    );
  });
}

/** SUBSCRIBE with a receipt, so the subscription is in place when this resolves; `first` is its first message. */
async function subscribed(client: Client, destination: string): Promise<{ first: Promise<IMessage> }> {
  const receipt = `r-${id()}`;
  const done = new Promise<void>((resolve) => client.watchForReceipt(receipt, () => resolve()));
  const first = nextMessage(client, destination, { receipt });
  await done;
  return { first };
}

describe('web-stomp with @stomp/stompjs', () => {
  it('negotiates STOMP 1.2 over the v12.stomp subprotocol and round-trips through a topic', async () => {
    const client = await stompClient();
    const dest = `/topic/web.${id()}`;
    const { first } = await subscribed(client, dest);
    client.publish({ destination: dest, body: 'hello over WebSocket', headers: { 'content-type': 'text/plain' } });
    const m = await first;
    expect(m.body).toBe('hello over WebSocket');
    expect(m.headers['destination']).toBe(dest);
    expect(m.headers['content-type']).toBe('text/plain');
  });

  it('a queue destination: /queue/q is declared on first use and shared with AMQP', async () => {
    const client = await stompClient();
    const q = `web-q-${id()}`;
    // The RECEIPT comes once the queue is declared and the message enqueued.
    const receipt = `r-${id()}`;
    const done = new Promise<void>((resolve) => client.watchForReceipt(receipt, () => resolve()));
    client.publish({ destination: `/queue/${q}`, body: 'for an AMQP worker', headers: { receipt } });
    await done;
    const conn = await amqp.connect(broker.amqpUrl);
    try {
      const ch = await conn.createChannel();
      const msg = await ch.get(q, { noAck: true });
      expect(msg && msg.content.toString()).toBe('for an AMQP worker');
      await conn.createChannel().then((c) => c.deleteQueue(q));
    } finally {
      await conn.close();
    }
  });

  it('AMQP publisher → web-stomp subscriber, and web-stomp publisher → AMQP consumer (amq.topic)', async () => {
    const client = await stompClient();
    const key = `web.${id()}`;
    const { first: received } = await subscribed(client, `/topic/${key}.*`);
    const conn = await amqp.connect(broker.amqpUrl);
    try {
      const ch = await conn.createConfirmChannel();
      ch.publish('amq.topic', `${key}.amqp`, Buffer.from('from AMQP'), { contentType: 'text/plain' });
      await ch.waitForConfirms();
      const m = await received;
      expect(m.body).toBe('from AMQP');
      expect(m.headers['destination']).toBe(`/topic/${key}.amqp`);

      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, 'amq.topic', `${key}.page`);
      const got = new Promise<amqp.ConsumeMessage>((resolve) => {
        void ch.consume(queue, (msg) => msg && resolve(msg), { noAck: true });
      });
      client.publish({ destination: `/topic/${key}.page`, body: 'from the browser' });
      const msg = await got;
      expect(msg.content.toString()).toBe('from the browser');
      expect(msg.fields.exchange).toBe('amq.topic');
    } finally {
      await conn.close();
    }
  });
});

describe('web-stomp frames and WebSocket messages', () => {
  it('a frame split over several messages, and several frames packed in one message', async () => {
    const ws = await rawWebSocket(broker.webStompUrl, ['v12.stomp']);
    sockets.push(ws);
    const dest = `/topic/raw.${id()}`;
    const connected = receiveUntil(ws, (t) => t.includes('CONNECTED'));
    ws.send(CONNECT.slice(0, 4));
    ws.send(CONNECT.slice(4, 20));
    ws.send(CONNECT.slice(20));
    await connected;
    const message = receiveUntil(ws, (t) => t.includes('packed\0'));
    ws.send(`SUBSCRIBE\nid:1\ndestination:${dest}\n\n\0SEND\ndestination:${dest}\n\npacked\0`);
    const text = await message;
    expect(text).toMatch(/^MESSAGE\n/);
    expect(text).toContain(`destination:${dest}\n`);
  });

  it('frames in binary WebSocket messages are read the same; replies are text messages by default', async () => {
    const ws = await rawWebSocket(broker.webStompUrl, ['v12.stomp']);
    sockets.push(ws);
    const kinds: boolean[] = [];
    ws.on('message', (_d, isBinary) => kinds.push(isBinary));
    const connected = receiveUntil(ws, (t) => t.includes('CONNECTED'));
    ws.send(Buffer.from(CONNECT));
    await connected;
    expect(kinds[0]).toBe(false);
  });

  it('a client offering no STOMP subprotocol cannot open the WebSocket', async () => {
    const ws = new WebSocket(broker.webStompUrl, ['mqtt']);
    sockets.push(ws);
    const error = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(error.message).toMatch(/no subprotocol/);
  });
});

describe('web-stomp bad input', () => {
  it('a non-STOMP text message gets an ERROR frame', async () => {
    const ws = await rawWebSocket(broker.webStompUrl, ['v12.stomp']);
    sockets.push(ws);
    const closed = untilClosed(ws);
    const error = receiveUntil(ws, (t) => t.includes('\0'));
    ws.send('HELLO\n\n\0');
    const text = await error;
    expect(text).toMatch(/^ERROR\n/);
    if (!broker.reference) {
      // RabbitMQ 3.10's web_stomp leaves the WebSocket open after the ERROR; Warren closes it, as STOMP says.
      expect((await closed).code).toBeGreaterThanOrEqual(1000);
    }
  });

  it('a wrong password is refused with RabbitMQ\'s ERROR text', async () => {
    const ws = await rawWebSocket(broker.webStompUrl, ['v12.stomp']);
    sockets.push(ws);
    const error = receiveUntil(ws, (t) => t.includes('\0'));
    ws.send(CONNECT.replace('passcode:guest', 'passcode:wrong'));
    const text = await error;
    expect(text).toMatch(/^ERROR\n/);
    expect(text).toContain('message:Bad CONNECT\n');
    expect(text).toContain("Access refused for user 'guest'");
  });

  it.skipIf(process.env['WARREN_INTEROP_WEB_REFERENCE'] === '1')(
    'an oversized WebSocket message closes that connection with 1009 and nobody else',
    async () => {
      const big = await startWebBroker({ stomp: { port: null, tlsPort: null, maxFrameSize: 4096 } });
      try {
        const url = big.webStompUrl;
        const other = await rawWebSocket(url, ['v12.stomp']);
        sockets.push(other);
        const connected = receiveUntil(other, (t) => t.includes('CONNECTED'));
        other.send(CONNECT);
        await connected;
        const ws = await rawWebSocket(url, ['v12.stomp']);
        sockets.push(ws);
        const closed = untilClosed(ws);
        ws.send(`SEND\ndestination:/topic/x\n\n${'x'.repeat(5000)}\0`);
        expect((await closed).code).toBe(1009);
        const dest = `/topic/still.${id()}`;
        const message = receiveUntil(other, (t) => t.includes('alive\0'));
        other.send(`SUBSCRIBE\nid:1\ndestination:${dest}\n\n\0SEND\ndestination:${dest}\n\nalive\0`);
        expect(await message).toContain('MESSAGE\n');
      } finally {
        await big.stop();
      }
    },
  );
});

describe('web-stomp message types', () => {
  /** Every WebSocket message until the predicate holds for the bytes so far: [isBinary, bytes] each. */
  function messagesUntil(ws: WebSocket, predicate: (all: Buffer) => boolean): Promise<Array<[boolean, Buffer]>> {
    return new Promise((resolve, reject) => {
      const got: Array<[boolean, Buffer]> = [];
      const onMessage = (d: Buffer, isBinary: boolean): void => {
        got.push([isBinary, Buffer.from(d)]);
        if (predicate(Buffer.concat(got.map(([, b]) => b)))) {
          ws.off('message', onMessage);
          resolve(got);
        }
      };
      ws.on('message', onMessage);
      ws.once('close', () => reject(new Error('closed before the expected data')));
    });
  }

  it('a MESSAGE whose body is not valid UTF-8 goes out as a binary WebSocket message, text bodies as text', async () => {
    const ws = await rawWebSocket(broker.webStompUrl, ['v12.stomp']);
    sockets.push(ws);
    ws.send(CONNECT);
    await messagesUntil(ws, (b) => b.includes('CONNECTED'));
    const q = `/queue/bin-${id()}`;
    ws.send(`SUBSCRIBE\ndestination:${q}\nid:s\nreceipt:r\n\n\0`);
    await messagesUntil(ws, (b) => b.includes('receipt-id:r'));
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    const head = Buffer.from(`SEND\ndestination:${q}\ncontent-length:${binary.length}\n\n`);
    ws.send(Buffer.concat([head, binary, Buffer.from([0])]), { binary: true });
    const [bin] = await messagesUntil(ws, (b) => b.includes('MESSAGE'));
    expect(bin![0]).toBe(true);
    const body = bin![1].subarray(bin![1].indexOf('\n\n') + 2, bin![1].indexOf('\n\n') + 2 + binary.length);
    expect(body.equals(binary)).toBe(true);
    ws.send(`SEND\ndestination:${q}\n\nplain text é\0`);
    const [text] = await messagesUntil(ws, (b) => b.includes('plain text'));
    expect(text![0]).toBe(false);
  });
});
