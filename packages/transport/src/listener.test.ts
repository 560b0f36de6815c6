import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerInfo } from './peer-info.js';
import { listen, normalizeAddress, type Listener } from './listener.js';

const open: Listener[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

async function start(...args: Parameters<typeof listen>): Promise<Listener> {
  const listener = await listen(...args);
  open.push(listener);
  return listener;
}

function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** Resolves with the next accepted connection. */
function accepted(): {
  onConnection: (socket: net.Socket, info: PeerInfo) => void;
  next: () => Promise<{ socket: net.Socket; info: PeerInfo }>;
} {
  const queue: Array<{ socket: net.Socket; info: PeerInfo }> = [];
  const waiters: Array<(v: { socket: net.Socket; info: PeerInfo }) => void> = [];
  return {
    onConnection(socket, info) {
      const waiter = waiters.shift();
      if (waiter) waiter({ socket, info });
      else queue.push({ socket, info });
    },
    next() {
      const first = queue.shift();
      return first ? Promise.resolve(first) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

const hasIpv6Loopback = Object.values(os.networkInterfaces())
  .flat()
  .some((i) => i?.family === 'IPv6' && i.internal);

describe('normalizeAddress', () => {
  it('reports IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::FFFF:10.1.2.3')).toBe('10.1.2.3');
  });
  it('leaves real IPv6 and IPv4 addresses alone', () => {
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('::ffff:abcd')).toBe('::ffff:abcd');
    expect(normalizeAddress('192.168.0.1')).toBe('192.168.0.1');
    expect(normalizeAddress(undefined)).toBe('');
  });
});

describe('listen (TCP)', () => {
  it('binds port 0 to a real port and hands over connections with their info', async () => {
    const acc = accepted();
    const listener = await start({ name: 'amqp', protocol: 'amqp', port: 0 }, acc.onConnection);
    expect(listener.name).toBe('amqp');
    expect(listener.port).toBeGreaterThan(0);

    const client = await connect(listener.port);
    const { socket, info } = await acc.next();
    expect(info).toEqual({
      id: 'amqp-1',
      protocol: 'amqp',
      remoteAddress: '127.0.0.1', // dual-stack socket sees ::ffff:127.0.0.1; reported as IPv4
      remotePort: client.localPort,
      localPort: listener.port,
      localAddress: '127.0.0.1',
      tls: false,
      listener: 'amqp',
    });
    expect(listener.connectionCount).toBe(1);

    // The stream really is the connection.
    const echoed = new Promise<string>((resolve) => client.once('data', (d) => resolve(String(d))));
    socket.write('hello');
    expect(await echoed).toBe('hello');

    await connect(listener.port);
    expect((await acc.next()).info.id).toBe('amqp-2');
    expect(listener.connectionCount).toBe(2);

    client.destroy();
    await closed(socket);
    expect(listener.connectionCount).toBe(1);
  });

  it.skipIf(!hasIpv6Loopback)('accepts IPv6 as well as IPv4 by default (dual-stack)', async () => {
    const acc = accepted();
    const listener = await start({ name: 'amqp', protocol: 'amqp', port: 0 }, acc.onConnection);
    await connect(listener.port, '::1');
    expect((await acc.next()).info.remoteAddress).toBe('::1');
    await connect(listener.port, '127.0.0.1');
    expect((await acc.next()).info.remoteAddress).toBe('127.0.0.1');
  });

  it('binds the configured host only', async () => {
    const listener = await start({ name: 'x', protocol: 'amqp', host: '127.0.0.1', port: 0 }, () => {});
    await expect(connect(listener.port, '127.0.0.1')).resolves.toBeInstanceOf(net.Socket);
    if (hasIpv6Loopback) await expect(connect(listener.port, '::1')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('rejects with the bind error when the port is taken', async () => {
    const first = await start({ name: 'a', protocol: 'amqp', host: '127.0.0.1', port: 0 }, () => {});
    await expect(listen({ name: 'b', protocol: 'amqp', host: '127.0.0.1', port: first.port }, () => {})).rejects.toThrow(
      /EADDRINUSE/,
    );
  });

  it('close() destroys open connections and frees the port', async () => {
    const acc = accepted();
    const listener = await listen({ name: 'amqp', protocol: 'amqp', port: 0 }, acc.onConnection);
    const client = await connect(listener.port);
    await acc.next();
    await listener.close();
    await closed(client);
    expect(listener.connectionCount).toBe(0);
    await expect(connect(listener.port)).rejects.toThrow(/ECONNREFUSED/);
    await expect(listener.close()).resolves.toBeUndefined(); // idempotent
  });

  it('a throwing handler costs only that connection, and is reported', async () => {
    const errors: string[] = [];
    let calls = 0;
    const listener = await start(
      {
        name: 'amqp',
        protocol: 'amqp',
        port: 0,
        onError: (err, ctx) => errors.push(`${ctx.phase}:${err.message}`),
      },
      () => {
        calls++;
        throw new Error('boom');
      },
    );
    const client = await connect(listener.port);
    await closed(client);
    expect(errors).toEqual(['handler:boom']);
    const again = await connect(listener.port);
    await closed(again);
    expect(calls).toBe(2);
  });

  it('a socket error in a connection does not become an uncaught exception', async () => {
    const acc = accepted();
    const listener = await start({ name: 'amqp', protocol: 'amqp', port: 0 }, acc.onConnection);
    await connect(listener.port);
    const { socket } = await acc.next();
    // Destroying with an error emits 'error' on the socket; without a listener that would crash the process.
    const gone = new Promise((resolve) => socket.once('close', resolve));
    socket.destroy(new Error('simulated ECONNRESET'));
    await gone;
    expect(listener.connectionCount).toBe(0);
  });
});

describe('listen (TLS)', () => {
  let cert = '';
  let key = '';
  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
    cert = pems.cert;
    key = pems.private;
  });

  function tlsConnect(port: number): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }, () =>
        resolve(socket),
      );
      socket.once('error', reject);
    });
  }

  it('hands over connections after the handshake, with tls=true', async () => {
    const acc = accepted();
    const listener = await start({ name: 'amqps', protocol: 'amqp', port: 0, tls: { cert, key } }, acc.onConnection);
    const client = await tlsConnect(listener.port);
    expect(client.authorized).toBe(true); // the client verified our certificate against the CA we gave it
    const { socket, info } = await acc.next();
    expect(socket).toBeInstanceOf(tls.TLSSocket);
    expect(info).toMatchObject({ id: 'amqps-1', protocol: 'amqp', tls: true, listener: 'amqps', remoteAddress: '127.0.0.1' });
    const got = new Promise<string>((resolve) => socket.once('data', (d) => resolve(String(d))));
    client.write('over tls');
    expect(await got).toBe('over tls');
  });

  it('a client that does not speak TLS is reported and never handed over', async () => {
    let handed = 0;
    const errors: string[] = [];
    const listener = await start(
      { name: 'amqps', protocol: 'amqp', port: 0, tls: { cert, key }, onError: (_e, ctx) => errors.push(ctx.phase) },
      () => handed++,
    );
    const client = await connect(listener.port);
    client.write('AMQP\x00\x00\x09\x01');
    await closed(client);
    expect(handed).toBe(0);
    expect(errors).toEqual(['tls-handshake']);
  });

  it('close() also destroys connections still in the handshake', async () => {
    const listener = await listen({ name: 'amqps', protocol: 'amqp', port: 0, tls: { cert, key } }, () => {});
    const client = await connect(listener.port); // plain TCP: the handshake never completes
    await listener.close();
    await closed(client);
  });
});
