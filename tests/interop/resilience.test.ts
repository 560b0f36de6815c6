/**
 * Resilience: misbehaving peers on raw sockets must cost the broker one connection, never the process. After each
 * abuse a fresh amqplib client must still work. Warren only (skipped against WARREN_INTEROP_URL unless
 * WARREN_INTEROP_RESILIENCE=1 asks to run them against the external broker too).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { interopSuite, isExternal, within } from './harness.js';

const env = interopSuite();
const skip = isExternal && process.env['WARREN_INTEROP_RESILIENCE'] !== '1';

/** AMQP 0-9-1 protocol header (spec §4.2.2). */
const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** Deterministic pseudo-random bytes (xorshift32), so a failure is reproducible. */
function garbage(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

interface RawPeer {
  socket: Socket;
  /** Everything the broker sent so far. */
  received(): Buffer;
  /** Resolves when the broker (or we) closed the socket. */
  closed: Promise<void>;
}

async function rawConnect(): Promise<RawPeer> {
  const socket = netConnect({ host: env.broker.host, port: env.broker.port });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {}); // resets are expected here
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await within(new Promise<void>((r) => socket.once('connect', () => r())), 5000, 'TCP connect');
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/** Wait until the broker has sent at least n bytes (poll-until on the data event). */
function receivedAtLeast(peer: RawPeer, n: number): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const check = () => {
        if (peer.received().length >= n) {
          peer.socket.off('data', check);
          resolve();
        }
      };
      peer.socket.on('data', check);
      check();
    }),
    5000,
    `${n} bytes from the broker`,
  );
}

/** A fresh amqplib client can still declare, publish and get. */
async function expectBrokerServes(): Promise<void> {
  const { ch } = await env.scope.channel();
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  ch.sendToQueue(q, Buffer.from('still alive'));
  let m: Awaited<ReturnType<typeof ch.get>> = false;
  for (let i = 0; i < 100 && m === false; i++) m = await ch.get(q, { noAck: true });
  expect(m && m.content.toString()).toBe('still alive');
}

describe.skipIf(skip)('resilience', () => {
  it('closes a connection that sends random garbage after a valid protocol header', async () => {
    // In parallel: RabbitMQ 3.10 sends nothing before authentication and drops such a peer after about 3 s.
    await Promise.all(
      [1, 2, 3].map(async (seed) => {
        const peer = await rawConnect();
        peer.socket.write(PROTOCOL_HEADER);
        // The broker speaks first: connection.start is a method frame on channel 0 (type 1).
        await receivedAtLeast(peer, 7);
        expect(peer.received()[0]).toBe(1);
        peer.socket.write(garbage(4096, seed));
        await within(peer.closed, 8000, `the broker to drop the garbage connection (seed ${seed})`);
      }),
    );
    await expectBrokerServes();
  });

  it('closes a connection whose first frame claims a huge size, without waiting for the bytes', async () => {
    const peer = await rawConnect();
    peer.socket.write(PROTOCOL_HEADER);
    await receivedAtLeast(peer, 7);
    // type 1 (method), channel 0, size 0xfffffff0: far above any frame_max.
    peer.socket.write(Buffer.from([1, 0, 0, 0xff, 0xff, 0xff, 0xf0, 0, 10, 0, 11]));
    await within(peer.closed, 8000, 'the broker to refuse the oversized frame');
    await expectBrokerServes();
  });

  it('replies to a wrong protocol header with its own header and closes', async () => {
    const peer = await rawConnect();
    peer.socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await within(peer.closed, 5000, 'the broker to close after a bad header');
    // Spec §4.2.2: the server answers an unsupported header with the protocol header it accepts.
    expect(peer.received()).toEqual(PROTOCOL_HEADER);
    await expectBrokerServes();
  });

  it('keeps serving others while a client connects and sends nothing', async () => {
    const silent = await rawConnect();
    try {
      await expectBrokerServes();
    } finally {
      silent.socket.destroy();
    }
    await expectBrokerServes();
  });

  it('survives a half-sent frame followed by a disconnect', async () => {
    const peer = await rawConnect();
    peer.socket.write(PROTOCOL_HEADER);
    await receivedAtLeast(peer, 7);
    // The first 9 bytes of a connection.start-ok frame announcing a 200-byte payload, then gone.
    peer.socket.write(Buffer.from([1, 0, 0, 0, 0, 0, 200, 0, 10]));
    peer.socket.destroy();
    await peer.closed;
    await expectBrokerServes();
  });

  it('survives 100 connections opening and vanishing at every stage', async () => {
    const peers = await Promise.all(Array.from({ length: 100 }, () => rawConnect()));
    peers.forEach((p, i) => {
      if (i % 3 === 1) p.socket.write(PROTOCOL_HEADER);
      if (i % 3 === 2) p.socket.write(Buffer.concat([PROTOCOL_HEADER, garbage(3, i + 1)]));
    });
    for (const p of peers) p.socket.destroy();
    await Promise.all(peers.map((p) => p.closed));
    await expectBrokerServes();
  });

  it('survives amqplib clients whose sockets are destroyed mid-session', async () => {
    for (let i = 0; i < 10; i++) {
      const c = await env.scope.connect();
      const { ch } = await c.channel();
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.consume(q, () => {});
      ch.sendToQueue(q, Buffer.from('in flight'));
      // With an error, so amqplib notices (it listens for 'error' and 'end', not 'close').
      (c.conn as unknown as { connection: { stream: Socket } }).connection.stream.destroy(new Error('vanish'));
      await c.closed;
    }
    await expectBrokerServes();
  });
});
