/**
 * Vhost and user limits on STOMP, each refused with an ERROR frame and a closed connection: user max-connections and
 * max-channels at CONNECT, and the vhost's max-queues for the queue a SUBSCRIBE (or a SEND to /queue/) declares.
 * AMQP's refusals are in tests/interop/limits.test.ts and packages/amqp; MQTT's in packages/mqtt auth-limits.test.ts.
 * Each refused attempt is repeated while a bystander on AMQP, MQTT and STOMP, logged in as a user of its own (the
 * limits are set on guest), keeps its round trips under the bound of bystanders.ts.
 */
import net from 'node:net';
import type { Broker } from '@warren/core';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectBystandersUnhurt, logReport, withBystanders, type BystanderLogin } from './bystanders.js';

let running: RunningBroker;
let broker: Broker;
const BYSTANDER: BystanderLogin = { username: 'bystander', password: 'bystander-pw' };
const ATTEMPTS = 2;
beforeAll(async () => {
  running = await startEmbeddedBroker({ webStomp: { port: null }, webMqtt: { port: null } });
  broker = running.broker as Broker;
  broker.addUser(BYSTANDER.username, BYSTANDER.password);
  broker.setPermissions(BYSTANDER.username, '/', { configure: '.*', write: '.*', read: '.*' });
});
afterAll(async () => {
  await running.stop();
});
afterEach(() => {
  broker.setVhostLimits('/', {});
  broker.setUserLimits('guest', {});
});

interface StompClient {
  /** The next frame: command, headers and body. */
  next(): Promise<{ command: string; headers: Map<string, string>; body: string }>;
  send(frame: string): void;
  closed: Promise<void>;
  destroy(): void;
}

function stompClient(): StompClient {
  const socket = net.connect({ host: '127.0.0.1', port: running.ports.stomp! });
  let buf = '';
  const frames: string[] = [];
  let wake: (() => void) | undefined;
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    for (let end = buf.indexOf('\0'); end >= 0; end = buf.indexOf('\0')) {
      frames.push(buf.slice(0, end).replace(/^\n+/, ''));
      buf = buf.slice(end + 1);
    }
    wake?.();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => wake?.());
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  return {
    async next() {
      while (frames.length === 0) {
        if (isClosed) throw new Error('closed');
        await new Promise<void>((r) => (wake = r));
      }
      const [head = '', body = ''] = frames.shift()!.split('\n\n');
      const [command = '', ...lines] = head.split('\n');
      return { command, headers: new Map(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)])), body };
    },
    send: (frame) => void socket.write(frame),
    closed,
    destroy: () => socket.destroy(),
  };
}

const CONNECT = 'CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0';

async function connected(): Promise<StompClient> {
  const c = stompClient();
  c.send(CONNECT);
  expect((await c.next()).command).toBe('CONNECTED');
  return c;
}

describe('STOMP', () => {
  it('user max-connections: the CONNECT over the limit gets ERROR "Bad CONNECT" and a close', async () => {
    broker.setUserLimits('guest', { 'max-connections': 1 });
    const first = await connected();
    const r = await withBystanders(running.ports, async () => {
      for (let i = 0; i < ATTEMPTS; i++) {
        const second = stompClient();
        second.send(CONNECT);
        const err = await second.next();
        expect(err.command).toBe('ERROR');
        expect(err.headers.get('message')).toBe('Bad CONNECT');
        await second.closed;
      }
    }, { login: BYSTANDER });
    first.destroy();
    logReport('STOMP CONNECTs over max-connections', r);
    expectBystandersUnhurt(r);
  });

  it('user max-channels: a STOMP connection is one channel; none allowed is an ERROR at CONNECT and a close', async () => {
    broker.setUserLimits('guest', { 'max-channels': 0 });
    const r = await withBystanders(running.ports, async () => {
      for (let i = 0; i < ATTEMPTS; i++) {
        const c = stompClient();
        c.send(CONNECT);
        const err = await c.next();
        expect(err.command).toBe('ERROR');
        expect(err.body).toContain("number of channels opened for user 'guest' has reached the maximum allowed user limit of (0)");
        await c.closed;
        // The refused connection holds no core connection (it would count against max-connections).
        expect(broker.connections().filter((x) => x.info.protocol === 'stomp' && x.user.name === 'guest')).toHaveLength(0);
      }
    }, { login: BYSTANDER });
    logReport('STOMP CONNECTs over max-channels', r);
    expectBystandersUnhurt(r);
  });

  it.each([
    ['SUBSCRIBE /topic/', 'SUBSCRIBE\nid:1\ndestination:/topic/limits.a\nreceipt:r\n\n\0'],
    ['SUBSCRIBE /queue/', 'SUBSCRIBE\nid:1\ndestination:/queue/limits-new\nreceipt:r\n\n\0'],
    ['SEND /queue/', 'SEND\ndestination:/queue/limits-new\nreceipt:r\n\nx\0'],
  ])('vhost max-queues: %s needing a new queue gets ERROR precondition_failed and a close', async (name, frame) => {
    // The bystanders' queues exist before the limit is set: the limit is the queue count at the attack.
    const r = await withBystanders(running.ports, async () => {
      for (let i = 0; i < ATTEMPTS; i++) {
        const c = await connected();
        broker.setVhostLimits('/', { 'max-queues': broker.vhost('/')!.queues.size });
        c.send(frame);
        const err = await c.next();
        expect(err.command).toBe('ERROR');
        expect(err.headers.get('message')).toBe('precondition_failed');
        expect(err.body).toMatch(/^PRECONDITION_FAILED - cannot declare queue '[^']+': queue limit in vhost '\/' \(\d+\) is reached/);
        await c.closed;
        expect(broker.vhost('/')!.queues.has('limits-new')).toBe(false);
      }
    }, { login: BYSTANDER });
    logReport(`${name} over max-queues`, r);
    expectBystandersUnhurt(r);
  });
});
