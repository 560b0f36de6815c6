/**
 * Listeners against clients that never log in: handshake deadlines, the cap on unauthenticated connections, client
 * certificate verification (verify peer / none, fail if no peer cert), certificate reloading, and the WebSocket
 * message limit before login. Real sockets on port 0 and short deadlines; every wait is on an event.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { PeerInfo } from './peer-info.js';
import { createTestPki, type TestPki } from '../../../tests/support/pki.js';
import { listen, type Listener, type ListenerOptions } from './listener.js';
import { connectionAuthenticated } from './pending-connections.js';
import { listenWebSocket, type WebSocketListenerOptions } from './websocket-listener.js';

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.dispose());

const open: Listener[] = [];
const sockets: Array<net.Socket | WebSocket> = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) {
    if (s instanceof WebSocket) {
      s.on('error', () => {});
      if (s.readyState !== WebSocket.CONNECTING) s.terminate();
    } else {
      s.destroy();
    }
  }
  await Promise.all(open.splice(0).map((l) => l.close()));
});

interface Accepted {
  socket: Duplex;
  info: PeerInfo;
}

/** A queue of handed-over connections. */
function acceptor(): { onConnection: (socket: Duplex, info: PeerInfo) => void; next: () => Promise<Accepted> } {
  const queue: Accepted[] = [];
  const waiters: Array<(a: Accepted) => void> = [];
  return {
    onConnection(socket, info) {
      const a = { socket, info };
      const w = waiters.shift();
      if (w !== undefined) w(a);
      else queue.push(a);
    },
    next: () => {
      const first = queue.shift();
      return first !== undefined ? Promise.resolve(first) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

async function startTcp(
  options: Partial<ListenerOptions>,
  onConnection: (socket: Duplex, info: PeerInfo) => void = () => {},
): Promise<{ listener: Listener; errors: Array<{ phase: string; message: string }> }> {
  const errors: Array<{ phase: string; message: string }> = [];
  const listener = await listen(
    {
      name: 'test',
      protocol: 'test',
      host: '127.0.0.1',
      port: 0,
      ...options,
      onError: (err, ctx) => errors.push({ phase: ctx.phase, message: err.message }),
    },
    onConnection,
  );
  open.push(listener);
  return { listener, errors };
}

async function startWs(
  options: Partial<WebSocketListenerOptions>,
  onConnection: (socket: Duplex, info: PeerInfo) => void = () => {},
): Promise<{ listener: Listener; errors: Array<{ phase: string; message: string }> }> {
  const errors: Array<{ phase: string; message: string }> = [];
  const listener = await listenWebSocket(
    {
      name: 'web-test',
      protocol: 'test',
      host: '127.0.0.1',
      port: 0,
      subprotocols: ['mqtt'],
      maxPayload: 1 << 20,
      ...options,
      onError: (err, ctx) => errors.push({ phase: ctx.phase, message: err.message }),
    },
    onConnection,
  );
  open.push(listener);
  return { listener, errors };
}

function tcpConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    sockets.push(socket);
    socket.once('error', reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** Connects with TLS; resolves with the socket once the server has accepted or refused it (its first event). */
function tlsConnect(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ca: pki.ca.cert, servername: 'localhost', ...options }, () =>
      resolve(socket),
    );
    sockets.push(socket);
    socket.once('error', reject);
  });
}

/** Resolves with how a TLS client's connection ended: 'closed' when the server closed it without an error. */
function outcome(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(`error:${err.code ?? err.message}`));
    socket.once('close', () => resolve('closed'));
  });
}

describe('handshake deadline', () => {
  it('closes TLS connections that never send a ClientHello, with one report each', async () => {
    const { listener, errors } = await startTcp({ tls: { cert: pki.server.cert, key: pki.server.key }, tlsHandshakeTimeoutMs: 150 });
    const clients = await Promise.all(Array.from({ length: 20 }, () => tcpConnect(listener.port)));
    await Promise.all(clients.map(closed));
    expect(errors).toHaveLength(20);
    expect(new Set(errors.map((e) => e.phase))).toEqual(new Set(['handshake-timeout']));
    expect(errors[0]!.message).toMatch(/^handshake from 127\.0\.0\.1 timed out after 150 ms$/);
    // Every one was counted, and its slot freed when it closed.
    while (listener.unauthenticatedCount > 0) await new Promise((resolve) => setImmediate(resolve));
  });

  it('closes a TLS client that trickles its handshake (the deadline is absolute, not idle)', async () => {
    const { listener, errors } = await startTcp({ tls: { cert: pki.server.cert, key: pki.server.key }, tlsHandshakeTimeoutMs: 200 });
    const client = await tcpConnect(listener.port);
    // A TLS record header, then one byte now and then: never a whole ClientHello.
    client.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    const trickle = setInterval(() => client.write(Buffer.from([0x01])), 50);
    await closed(client);
    clearInterval(trickle);
    expect(errors.map((e) => e.phase)).toEqual(['handshake-timeout']);
  });

  it('a completed TLS handshake stops the deadline', async () => {
    const acc = acceptor();
    const { listener, errors } = await startTcp(
      { tls: { cert: pki.server.cert, key: pki.server.key }, tlsHandshakeTimeoutMs: 100 },
      acc.onConnection,
    );
    const client = await tlsConnect(listener.port);
    const { socket } = await acc.next();
    // Still open well after the deadline: an echo round trip after 300 ms.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const got = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(String(d))));
    client.write('still here');
    expect(await got).toBe('still here');
    expect(errors).toEqual([]);
  });

  it('closes WebSocket connections that never send an HTTP request', async () => {
    const { listener, errors } = await startWs({ tlsHandshakeTimeoutMs: 150 });
    const clients = await Promise.all(Array.from({ length: 10 }, () => tcpConnect(listener.port)));
    await Promise.all(clients.map(closed));
    expect(errors.map((e) => e.phase)).toEqual(Array(10).fill('handshake-timeout'));
  });

  it('closes wss:// connections that never send a ClientHello', async () => {
    const { listener, errors } = await startWs({ tls: { cert: pki.server.cert, key: pki.server.key }, tlsHandshakeTimeoutMs: 150 });
    const client = await tcpConnect(listener.port);
    await closed(client);
    expect(errors.map((e) => e.phase)).toEqual(['handshake-timeout']);
  });
});

describe('cap on unauthenticated connections', () => {
  it('refuses connections past the cap until one authenticates (TCP)', async () => {
    const acc = acceptor();
    const { listener, errors } = await startTcp({ maxUnauthenticated: 3 }, acc.onConnection);
    await Promise.all([1, 2, 3].map(() => tcpConnect(listener.port)));
    const handed = [await acc.next(), await acc.next(), await acc.next()];
    expect(listener.unauthenticatedCount).toBe(3);
    const extra = await tcpConnect(listener.port);
    await closed(extra);
    expect(errors).toEqual([
      { phase: 'refused', message: 'refused a connection from 127.0.0.1: 3 connections are already waiting to authenticate' },
    ]);
    connectionAuthenticated(handed[0]!.socket);
    connectionAuthenticated(handed[0]!.socket); // idempotent
    expect(listener.unauthenticatedCount).toBe(2);
    await tcpConnect(listener.port);
    await acc.next();
    expect(listener.unauthenticatedCount).toBe(3);
    expect(listener.connectionCount).toBe(4);
  });

  it('frees the slot of a TLS connection that authenticates, and of one that closes', async () => {
    const acc = acceptor();
    const { listener, errors } = await startTcp(
      { tls: { cert: pki.server.cert, key: pki.server.key }, maxUnauthenticated: 1 },
      acc.onConnection,
    );
    const first = await tlsConnect(listener.port);
    const { socket } = await acc.next();
    expect(listener.unauthenticatedCount).toBe(1);
    connectionAuthenticated(socket);
    expect(listener.unauthenticatedCount).toBe(0);
    const second = await tlsConnect(listener.port);
    const secondServerSide = (await acc.next()).socket;
    const third = await tcpConnect(listener.port);
    await closed(third);
    expect(errors.map((e) => e.phase)).toEqual(['refused']);
    second.destroy();
    await new Promise((resolve) => secondServerSide.once('close', resolve));
    expect(listener.unauthenticatedCount).toBe(0);
    expect(first.destroyed).toBe(false);
  });

  it('refuses WebSocket connections past the cap; a login frees the slot', async () => {
    const acc = acceptor();
    const { listener, errors } = await startWs({ maxUnauthenticated: 1 }, acc.onConnection);
    const ws = new WebSocket(`ws://127.0.0.1:${listener.port}/ws`, ['mqtt']);
    sockets.push(ws);
    const { socket } = await acc.next();
    const extra = await tcpConnect(listener.port);
    await closed(extra);
    expect(errors.map((e) => e.phase)).toEqual(['refused']);
    connectionAuthenticated(socket);
    const again = new WebSocket(`ws://127.0.0.1:${listener.port}/ws`, ['mqtt']);
    sockets.push(again);
    await acc.next();
    expect(listener.unauthenticatedCount).toBe(1);
  });
});

describe('client certificates', () => {
  it("verify 'peer': a CA-signed certificate is the client's identity, RFC 4514 DN most specific first", async () => {
    const acc = acceptor();
    const { listener } = await startTcp(
      { tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, verify: 'peer' } },
      acc.onConnection,
    );
    const alice = pki.client('alice', '/C=GB/O=Warren Test/OU=Dev, Ops/CN=alice');
    await tlsConnect(listener.port, { cert: alice.cert, key: alice.key });
    const { info } = await acc.next();
    expect(info.peerCertificate).toEqual({ commonName: 'alice', distinguishedName: 'CN=alice,OU=Dev\\, Ops,O=Warren Test,C=GB' });
  });

  it("verify 'peer': a certificate no trusted CA signed is refused before hand-over", async () => {
    const acc = acceptor();
    let handed = 0;
    const { listener, errors } = await startTcp(
      { tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, verify: 'peer' } },
      (s, i) => {
        handed++;
        acc.onConnection(s, i);
      },
    );
    const client = await tlsConnect(listener.port, { cert: pki.rogue.cert, key: pki.rogue.key }).catch((e: Error) => e);
    if (client instanceof tls.TLSSocket) await outcome(client);
    expect(handed).toBe(0);
    expect(errors.map((e) => e.phase)).toEqual(['tls-handshake']);
    expect(errors[0]!.message).toMatch(/client certificate refused: .*(SELF_SIGNED|self.signed)/i);
  });

  it("verify 'peer' without fail_if_no_peer_cert accepts a client without a certificate (no identity)", async () => {
    const acc = acceptor();
    const { listener } = await startTcp(
      { tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, verify: 'peer' } },
      acc.onConnection,
    );
    await tlsConnect(listener.port);
    expect((await acc.next()).info.peerCertificate).toBeUndefined();
  });

  it('fail_if_no_peer_cert refuses a client without a certificate at the handshake', async () => {
    let handed = 0;
    const { listener, errors } = await startTcp(
      { tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, verify: 'peer', failIfNoPeerCert: true } },
      () => handed++,
    );
    const client = await tlsConnect(listener.port).catch((e: Error) => e);
    if (client instanceof tls.TLSSocket) await outcome(client);
    expect(handed).toBe(0);
    expect(errors.map((e) => e.phase)).toEqual(['tls-handshake']);
  });

  it("verify 'none' asks for no certificate: a client offering one has no identity", async () => {
    const acc = acceptor();
    const { listener } = await startTcp(
      { tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, verify: 'none' } },
      acc.onConnection,
    );
    const alice = pki.client('alice2', '/CN=alice');
    await tlsConnect(listener.port, { cert: alice.cert, key: alice.key });
    expect((await acc.next()).info.peerCertificate).toBeUndefined();
  });

  it("wss:// with verify 'peer' refuses an untrusted certificate and names a trusted one", async () => {
    const acc = acceptor();
    const { listener, errors } = await startWs(
      { tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, verify: 'peer' } },
      acc.onConnection,
    );
    const bob = pki.client('bob', '/O=Warren Test/CN=bob');
    const good = new WebSocket(`wss://127.0.0.1:${listener.port}/ws`, ['mqtt'], { ca: pki.ca.cert, cert: bob.cert, key: bob.key });
    sockets.push(good);
    expect((await acc.next()).info.peerCertificate).toEqual({ commonName: 'bob', distinguishedName: 'CN=bob,O=Warren Test' });
    const bad = new WebSocket(`wss://127.0.0.1:${listener.port}/ws`, ['mqtt'], { ca: pki.ca.cert, cert: pki.rogue.cert, key: pki.rogue.key });
    sockets.push(bad);
    bad.on('error', () => {});
    await new Promise((resolve) => bad.once('close', resolve));
    expect(errors.map((e) => e.phase)).toEqual(['tls-handshake']);
  });
});

describe('certificate reloading', () => {
  it('setTls serves new connections the new certificate; open ones keep theirs', async () => {
    const { listener } = await startTcp({ tls: { cert: pki.server.cert, key: pki.server.key } });
    const before = await tlsConnect(listener.port);
    const next = pki.newServer('server2', '/CN=localhost/O=Renewed');
    listener.setTls!({ cert: next.cert, key: next.key });
    const after = await tlsConnect(listener.port);
    expect(before.getPeerX509Certificate()?.subject).toBe('CN=localhost');
    expect(after.getPeerX509Certificate()?.subject).toBe('CN=localhost\nO=Renewed');
    expect(before.destroyed).toBe(false);
  });
});

describe('WebSocket message limit before login', () => {
  it('closes with 1009 a message over the pre-login limit; after login the protocol limit applies', async () => {
    const acc = acceptor();
    const { listener } = await startWs({ maxPayload: 64 * 1024, maxPayloadBeforeAuth: 1024 }, acc.onConnection);
    const big = Buffer.alloc(4096, 1);

    const early = new WebSocket(`ws://127.0.0.1:${listener.port}/ws`, ['mqtt']);
    sockets.push(early);
    await new Promise((resolve) => early.once('open', resolve));
    await acc.next();
    early.send(big);
    expect(await new Promise((resolve) => early.once('close', (code) => resolve(code)))).toBe(1009);

    const late = new WebSocket(`ws://127.0.0.1:${listener.port}/ws`, ['mqtt']);
    sockets.push(late);
    await new Promise((resolve) => late.once('open', resolve));
    const { socket } = await acc.next();
    connectionAuthenticated(socket);
    const got = new Promise<number>((resolve) => socket.once('data', (d: Buffer) => resolve(d.length)));
    late.send(big);
    expect(await got).toBe(4096);
  });
});
