import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpProxy, type ProxyTarget } from './proxy.js';

interface EchoServer {
  readonly target: ProxyTarget;
  accepted: number;
  close(): Promise<void>;
}

/** An echo server; with a prefix, it answers each chunk with `prefix + chunk` (to tell two servers apart). */
async function echoServer(prefix?: string): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    result.accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (prefix === undefined) s.pipe(s);
    else s.on('data', (d) => s.write(Buffer.concat([Buffer.from(prefix), d])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const result: EchoServer = {
    target: { host: '127.0.0.1', port },
    accepted: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return result;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Read until `n` bytes arrived. */
function readBytes(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer): void => {
      chunks.push(d);
      got += d.length;
      if (got >= n) {
        s.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed after ${got} of ${n} bytes`)));
  });
}

/** Resolves with the bytes received once the socket is closed. */
function closed(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  s.on('error', () => undefined);
  return new Promise((resolve) => s.once('close', () => resolve(Buffer.concat(chunks))));
}

describe('TcpProxy', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function proxyTo(target: () => ProxyTarget | undefined): Promise<{ proxy: TcpProxy; port: number }> {
    const proxy = new TcpProxy(target);
    const port = await proxy.listen(0, '127.0.0.1');
    cleanups.push(() => proxy.close());
    return { proxy, port };
  }

  it('relays a connection to the target and back', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const { proxy, port } = await proxyTo(() => echo.target);
    expect(port).toBeGreaterThan(0);
    const s = await connect(port);
    cleanups.push(() => void s.destroy());
    s.write('hello');
    expect((await readBytes(s, 5)).toString()).toBe('hello');
    expect(proxy.connections).toBe(1);
    expect(echo.accepted).toBe(1);
    s.end();
    await closed(s);
  });

  it('picks the target per connection; closeConnections drops the old ones so clients reach the new target', async () => {
    const a = await echoServer('A:');
    const b = await echoServer('B:');
    cleanups.push(() => a.close(), () => b.close());
    let target: ProxyTarget = a.target;
    const { proxy, port } = await proxyTo(() => target);

    const first = await connect(port);
    cleanups.push(() => void first.destroy());
    first.write('1');
    expect((await readBytes(first, 3)).toString()).toBe('A:1');

    target = b.target;
    // An existing connection stays with its target until told otherwise.
    first.write('2');
    expect((await readBytes(first, 3)).toString()).toBe('A:2');

    const firstClosed = closed(first);
    proxy.closeConnections();
    await firstClosed;
    expect(proxy.connections).toBe(0);

    const second = await connect(port);
    cleanups.push(() => void second.destroy());
    second.write('3');
    expect((await readBytes(second, 3)).toString()).toBe('B:3');
  });

  it('closes a connection at once when there is no target, without connecting anywhere', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    let target: ProxyTarget | undefined;
    const { proxy, port } = await proxyTo(() => target);
    const s = net.connect(port, '127.0.0.1');
    s.write('anyone?');
    expect((await closed(s)).length).toBe(0);
    expect(proxy.connections).toBe(0);
    expect(echo.accepted).toBe(0);

    // And relays again once there is one.
    target = echo.target;
    const t = await connect(port);
    cleanups.push(() => void t.destroy());
    t.write('x');
    expect((await readBytes(t, 1)).toString()).toBe('x');
  });

  it('closes the client when the target refuses the connection', async () => {
    const gone = await echoServer();
    await gone.close();
    const { proxy, port } = await proxyTo(() => gone.target);
    const s = net.connect(port, '127.0.0.1');
    expect((await closed(s)).length).toBe(0);
    expect(proxy.connections).toBe(0);
  });

  it('relays a half-close: a client that ends its side still gets the answer sent after', async () => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('end', () => s.end(`bye after ${Buffer.concat(got).toString()}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { port } = await proxyTo(() => ({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }));
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    s.end('last words');
    expect((await closed(s)).toString()).toBe('bye after last words');
  });

  it('relays a large transfer both ways intact, with backpressure', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const { port } = await proxyTo(() => echo.target);
    const s = await connect(port);
    cleanups.push(() => void s.destroy());
    const size = 32 * 1024 * 1024;
    const data = randomBytes(size);
    const received = createHash('sha256');
    let got = 0;
    const done = new Promise<void>((resolve, reject) => {
      s.on('data', (d: Buffer) => {
        received.update(d);
        got += d.length;
        if (got === size) resolve();
      });
      s.once('close', () => reject(new Error(`closed after ${got} bytes`)));
    });
    // Write in chunks, honouring write() === false, so the whole path runs under backpressure.
    for (let off = 0; off < size; off += 64 * 1024) {
      if (!s.write(data.subarray(off, off + 64 * 1024))) await new Promise((r) => s.once('drain', r));
    }
    await done;
    expect(received.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('close stops the listener and drops the relayed connections', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const proxy = new TcpProxy(() => echo.target);
    const port = await proxy.listen(0, '127.0.0.1');
    const s = await connect(port);
    s.write('y');
    await readBytes(s, 1);
    const sClosed = closed(s);
    await proxy.close();
    await sClosed;
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('TcpProxy.listen', () => {
  it('rejects when the port is taken', async () => {
    const first = new TcpProxy(() => undefined);
    const port = await first.listen(0, '127.0.0.1');
    const second = new TcpProxy(() => undefined);
    try {
      await expect(second.listen(port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await first.close();
      await second.close();
    }
  });
});
