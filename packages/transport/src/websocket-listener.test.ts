import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { generate } from 'selfsigned';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { PeerInfo } from './peer-info.js';
import type { Listener } from './listener.js';
import { serveStaticFiles } from './static-files.js';
import { OutboundWriter } from './outbound-writer.js';
import { forwardedFor, listenWebSocket, type WebSocketListenerOptions } from './websocket-listener.js';

const open: Listener[] = [];
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(open.splice(0).map((l) => l.close()));
});

interface Accepted {
  stream: Duplex;
  info: PeerInfo;
}

/** A listener whose handler echoes every byte back, and records accepted connections. */
async function echoServer(
  overrides: Partial<WebSocketListenerOptions> = {},
): Promise<{ listener: Listener; next: () => Promise<Accepted> }> {
  const queue: Accepted[] = [];
  const waiters: Array<(a: Accepted) => void> = [];
  const listener = await listenWebSocket(
    {
      name: 'web-test',
      protocol: 'test',
      host: '127.0.0.1',
      port: 0,
      subprotocols: ['v12.stomp', 'v11.stomp', 'v10.stomp'],
      maxPayload: 1024,
      ...overrides,
    },
    (stream, info) => {
      stream.pipe(stream);
      const a = { stream, info };
      const w = waiters.shift();
      if (w) w(a);
      else queue.push(a);
    },
  );
  open.push(listener);
  return {
    listener,
    next: () => {
      const first = queue.shift();
      return first ? Promise.resolve(first) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

function connect(url: string, protocols: string[] = [], options: WebSocket.ClientOptions = {}): WebSocket {
  const ws = new WebSocket(url, protocols, options);
  ws.on('error', () => {});
  clients.push(ws);
  return ws;
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve({ code: 1006, reason: '' });
    else ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })));
}

/** Collect echoed bytes until `length` have arrived. */
function received(ws: WebSocket, length: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onMessage = (data: Buffer): void => {
      chunks.push(data);
      n += data.length;
      if (n >= length) {
        ws.off('message', onMessage);
        resolve(Buffer.concat(chunks).toString());
      }
    };
    ws.on('message', onMessage);
  });
}

function httpStatus(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
}

describe('forwardedFor', () => {
  it('takes the last entry (the address the trusted proxy saw)', () => {
    expect(forwardedFor('10.1.2.3, 192.0.2.7')).toBe('192.0.2.7');
    expect(forwardedFor(['10.1.2.3', '::ffff:192.0.2.8'])).toBe('192.0.2.8');
    expect(forwardedFor(' , ')).toBeUndefined();
    expect(forwardedFor(undefined)).toBeUndefined();
  });
});

describe('listenWebSocket', () => {
  it('hands over a byte stream and fills in the connection info', async () => {
    const { listener, next } = await echoServer();
    const ws = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await opened(ws);
    const { info } = await next();
    expect(info).toMatchObject({
      id: 'web-test-1',
      protocol: 'test',
      remoteAddress: '127.0.0.1',
      localPort: listener.port,
      tls: false,
      listener: 'web-test',
    });
    expect(info.remotePort).toBeGreaterThan(0);
    expect(listener.connectionCount).toBe(1);
  });

  it('reads messages as one byte stream: split and packed frames arrive in order', async () => {
    const { listener } = await echoServer();
    const ws = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await opened(ws);
    const echoed = received(ws, 12);
    ws.send('CONN');
    ws.send(Buffer.from('ECT\n'));
    ws.send('\n\0ab');
    expect(await echoed).toBe('CONNECT\n\n\0ab');
  });

  it('sends text messages by default for text listeners, binary for binary ones', async () => {
    const text = await echoServer({ messageType: 'text' });
    const a = connect(`ws://127.0.0.1:${text.listener.port}/ws`);
    await opened(a);
    const m1 = nextMessage(a);
    a.send(Buffer.from('hello'));
    expect(await m1).toMatchObject({ isBinary: false });

    const binary = await echoServer({ messageType: 'binary' });
    const b = connect(`ws://127.0.0.1:${binary.listener.port}/ws`);
    await opened(b);
    const m2 = nextMessage(b);
    b.send('hello');
    const got = await m2;
    expect(got.isBinary).toBe(true);
    expect(got.data.toString()).toBe('hello');
  });

  it("chooses the server's preferred subprotocol among those offered (as RabbitMQ's web_stomp: v12.stomp)", async () => {
    const { listener } = await echoServer();
    const ws = connect(`ws://127.0.0.1:${listener.port}/ws`, ['v10.stomp', 'v11.stomp', 'v12.stomp']);
    await opened(ws);
    expect(ws.protocol).toBe('v12.stomp');
    const none = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await opened(none);
    expect(none.protocol).toBe('');
  });

  it('answers a wrong subprotocol without one, so the client fails the handshake; others are unaffected', async () => {
    const { listener, next } = await echoServer();
    const good = connect(`ws://127.0.0.1:${listener.port}/ws`, ['v12.stomp']);
    await opened(good);
    await next();
    const bad = connect(`ws://127.0.0.1:${listener.port}/ws`, ['amqp']);
    await expect(opened(bad)).rejects.toThrow(/no subprotocol/);
    await closed(bad);
    const echoed = received(good, 2);
    good.send('ok');
    expect(await echoed).toBe('ok');
  });

  it('refuses other paths with 404', async () => {
    const { listener } = await echoServer({ path: '/ws' });
    const ws = connect(`ws://127.0.0.1:${listener.port}/other`);
    expect(await httpStatus(ws)).toBe(404);
    const withQuery = connect(`ws://127.0.0.1:${listener.port}/ws?x=1`);
    await opened(withQuery);
  });

  it('checks the Origin header against the allow-list; clients without one are allowed', async () => {
    const { listener } = await echoServer({ allowedOrigins: ['http://localhost:15674'] });
    const url = `ws://127.0.0.1:${listener.port}/ws`;
    const evil = connect(url, [], { origin: 'http://evil.example' });
    expect(await httpStatus(evil)).toBe(403);
    const good = connect(url, [], { origin: 'http://localhost:15674' });
    await opened(good);
    const noOrigin = connect(url);
    await opened(noOrigin);
    const any = await echoServer({ allowedOrigins: ['*'] });
    const anyOrigin = connect(`ws://127.0.0.1:${any.listener.port}/ws`, [], { origin: 'http://evil.example' });
    await opened(anyOrigin);
  });

  it('closes an oversized message with 1009 and leaves other connections alone', async () => {
    const { listener } = await echoServer({ maxPayload: 16 });
    const url = `ws://127.0.0.1:${listener.port}/ws`;
    const other = connect(url);
    await opened(other);
    const big = connect(url);
    await opened(big);
    const done = closed(big);
    big.send(Buffer.alloc(17, 0x41));
    expect((await done).code).toBe(1009);
    const echoed = received(other, 16);
    other.send(Buffer.alloc(16, 0x42));
    expect(await echoed).toBe('B'.repeat(16));
  });

  it('closes a text message with 1003 when only binary is accepted', async () => {
    const { listener, next } = await echoServer({ acceptText: false });
    const ws = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await opened(ws);
    const { stream } = await next();
    const streamClosed = new Promise((resolve) => stream.once('close', resolve));
    const done = closed(ws);
    ws.send('text');
    expect((await done).code).toBe(1003);
    await streamClosed;
  });

  it('takes the peer address from X-Forwarded-For only when trustProxy is set', async () => {
    const headers = { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' };
    const trusting = await echoServer({ trustProxy: true });
    await opened(connect(`ws://127.0.0.1:${trusting.listener.port}/ws`, [], { headers }));
    expect((await trusting.next()).info.remoteAddress).toBe('203.0.113.9');
    const plain = await echoServer();
    await opened(connect(`ws://127.0.0.1:${plain.listener.port}/ws`, [], { headers }));
    expect((await plain.next()).info.remoteAddress).toBe('127.0.0.1');
  });

  it('ending the stream closes the WebSocket with 1000; the client closing ends the stream', async () => {
    const { listener, next } = await echoServer();
    const a = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await opened(a);
    const first = await next();
    const done = closed(a);
    first.stream.unpipe();
    first.stream.end();
    expect((await done).code).toBe(1000);

    const b = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await opened(b);
    const second = await next();
    const ended = new Promise((resolve) => second.stream.once('close', resolve));
    b.close(1000);
    await ended;
    expect(second.stream.destroyed).toBe(true);
  });

  it('data sent just before the peer closes still reaches a paused reader', async () => {
    const { listener, next } = await echoServer();
    const ws = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await opened(ws);
    const { stream } = await next();
    stream.unpipe();
    stream.pause();
    ws.send('last words');
    ws.close(1000);
    await closed(ws);
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve) => stream.once('end', () => resolve()));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.resume();
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe('last words');
  });

  it('pings clients and terminates one that stops answering', async () => {
    const { listener } = await echoServer({ pingIntervalMs: 30 });
    const url = `ws://127.0.0.1:${listener.port}/ws`;
    const alive = connect(url);
    const dead = connect(url, [], { autoPong: false });
    let pings = 0;
    const twoPings = new Promise<void>((resolve) =>
      alive.on('ping', () => {
        if (++pings === 3) resolve();
      }),
    );
    await Promise.all([opened(alive), opened(dead)]);
    expect((await closed(dead)).code).toBe(1006);
    await twoPings;
    expect(alive.readyState).toBe(WebSocket.OPEN);
  });

  it('never negotiates permessage-deflate, even when the client offers it (compression costs more than it saves)', async () => {
    const { listener } = await echoServer();
    const ws = connect(`ws://127.0.0.1:${listener.port}/ws`, [], { perMessageDeflate: true });
    await opened(ws);
    expect(ws.extensions).toBe('');
  });

  /** A listener whose handler writes `frames` on accept, through `write`; resolves with the messages the client got. */
  async function messagesFor(
    write: (stream: Duplex, frames: Buffer[]) => void,
    frames: Buffer[],
  ): Promise<Buffer[]> {
    const listener = await listenWebSocket(
      { name: 'web-test', protocol: 'test', host: '127.0.0.1', port: 0, subprotocols: [], maxPayload: 1024 },
      (stream) => write(stream, frames),
    );
    open.push(listener);
    const ws = connect(`ws://127.0.0.1:${listener.port}/ws`);
    const total = frames.reduce((n, f) => n + f.length, 0);
    const messages: Buffer[] = [];
    await new Promise<void>((resolve) => {
      let n = 0;
      ws.on('message', (data: Buffer) => {
        messages.push(data);
        n += data.length;
        if (n >= total) resolve();
      });
    });
    expect(Buffer.concat(messages).toString()).toBe(Buffer.concat(frames).toString());
    return messages;
  }

  const frames = Array.from({ length: 40 }, (_, i) => Buffer.from(`MESSAGE\nmessage-id:${i}\n\nbody\0`));

  it('frames an OutboundWriter batches in one event-loop turn go out as one WebSocket message', async () => {
    const messages = await messagesFor((stream, fs) => {
      const writer = new OutboundWriter(stream);
      for (const f of fs) writer.write(f);
    }, frames);
    expect(messages).toHaveLength(1);
  });

  it('writes queued while a message is being sent are coalesced into the next message', async () => {
    const messages = await messagesFor((stream, fs) => {
      for (const f of fs) stream.write(f);
    }, frames);
    // The first write is sent at once; the other 39 wait for its callback and leave together.
    expect(messages.length).toBeLessThanOrEqual(2);
  });

  it('close() terminates open connections and stops accepting', async () => {
    const { listener } = await echoServer();
    const ws = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await opened(ws);
    const done = closed(ws);
    await listener.close();
    await done;
    const again = connect(`ws://127.0.0.1:${listener.port}/ws`);
    await expect(opened(again)).rejects.toThrow(/ECONNREFUSED/);
  });

  describe('TLS (wss://)', () => {
    let pems: { cert: string; private: string };
    beforeAll(async () => {
      pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, notAfterDate: new Date(Date.now() + 86_400_000) });
    });

    it('accepts wss:// connections and marks them tls', async () => {
      const { listener, next } = await echoServer({ tls: { cert: pems.cert, key: pems.private } });
      const ws = connect(`wss://127.0.0.1:${listener.port}/ws`, ['v11.stomp'], { rejectUnauthorized: false });
      await opened(ws);
      expect(ws.protocol).toBe('v11.stomp');
      expect((await next()).info.tls).toBe(true);
      const echoed = received(ws, 3);
      ws.send('abc');
      expect(await echoed).toBe('abc');
    });
  });
});

describe('serveStaticFiles', () => {
  it('serves index.html at /, other files by name, 404 for the rest, 503 when not built', async () => {
    const root = await mkdtemp(join(tmpdir(), 'warren-static-'));
    try {
      await writeFile(join(root, 'index.html'), '<h1>hi</h1>');
      await writeFile(join(root, 'app.js'), 'console.log(1)');
      const { listener } = await echoServer({ onRequest: serveStaticFiles(root) });
      const base = `http://127.0.0.1:${listener.port}`;
      const index = await fetch(`${base}/?x=1`);
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await index.text()).toBe('<h1>hi</h1>');
      const app = await fetch(`${base}/app.js`);
      expect(app.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect((await fetch(`${base}/missing.js`)).status).toBe(404);
      expect((await fetch(`${base}/..%2fpackage.json`)).status).toBe(404);
      expect((await fetch(`${base}/.hidden`)).status).toBe(404);
      expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);

      const unbuilt = await echoServer({ onRequest: serveStaticFiles(join(root, 'nope'), 'run the build') });
      const res = await fetch(`http://127.0.0.1:${unbuilt.listener.port}/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toBe('run the build\n');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('answers 404 to plain HTTP requests by default', async () => {
    const { listener } = await echoServer();
    expect((await fetch(`http://127.0.0.1:${listener.port}/`)).status).toBe(404);
  });
});
