import { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker, silentLogger } from '@warren/core';
import { fakeConnectionInfo } from '@warren/core/testing';
import { streamPair } from '@warren/transport';
import { createStompService, type StompService } from './server.js';

/**
 * A socket stand-in whose server side can stop writing (a client that does not read): while stalled, the server's
 * writes stay buffered in its stream and count as pending output.
 */
function stallablePair(): { server: Duplex; client: Duplex; stall(): void; drain(): void } {
  let stalled = false;
  const held: Array<() => void> = [];
  const client = new Duplex({ read() {}, write(_chunk, _enc, cb) { cb(); } });
  const server = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      const deliver = (): void => {
        client.push(chunk);
        cb();
      };
      if (stalled) held.push(deliver);
      else deliver();
    },
  });
  client._write = (chunk: Buffer, _enc, cb): void => {
    server.push(chunk);
    cb();
  };
  return {
    server,
    client,
    stall: () => void (stalled = true),
    drain: () => {
      stalled = false;
      for (const deliver of held.splice(0)) deliver();
    },
  };
}

const read = (client: Duplex, text: string): Promise<void> =>
  new Promise((resolve) => {
    let got = '';
    const onData = (chunk: Buffer): void => {
      got += chunk.toString();
      if (got.includes(text)) {
        client.off('data', onData);
        resolve();
      }
    };
    client.on('data', onData);
  });

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let broker: Broker;
let service: StompService;
beforeEach(() => {
  broker = new Broker({});
  service = createStompService({
    broker,
    logger: silentLogger,
    options: { maxFrameSize: 4 << 20, connectTimeoutMs: 0, errorCloseDelayMs: 0 },
    dataDir: '',
  });
});
afterEach(async () => {
  vi.useRealTimers();
  await service.close();
  broker.close();
});

describe('createStompService', () => {
  it('serves a stream and counts live connections until they close', async () => {
    expect(service.connectionCount).toBe(0);
    const [server1, client1] = streamPair();
    const [server2] = streamPair();
    service.handleConnection(server1, fakeConnectionInfo());
    service.handleConnection(server2, fakeConnectionInfo());
    expect(service.connectionCount).toBe(2);
    const reply = read(client1, 'CONNECTED\n');
    client1.write('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0');
    await reply;
    server2.destroy();
    await turn();
    expect(service.connectionCount).toBe(1);
    await service.close();
    expect(service.connectionCount).toBe(0);
    expect(server1.destroyed).toBe(true);
  });

  it('refuses streams after close', async () => {
    await service.close();
    const [server] = streamPair();
    service.handleConnection(server, fakeConnectionInfo());
    expect(server.destroyed).toBe(true);
    expect(service.connectionCount).toBe(0);
  });
});

describe('slow consumers', () => {
  async function subscribedClient(): Promise<ReturnType<typeof stallablePair>> {
    const pair = stallablePair();
    service.handleConnection(pair.server, fakeConnectionInfo());
    const connected = read(pair.client, 'CONNECTED\n');
    pair.client.write('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0');
    await connected;
    const subscribed = read(pair.client, 'receipt-id:s');
    pair.client.write('SUBSCRIBE\ndestination:/queue/slow\nid:1\nack:client\nreceipt:s\n\n\0');
    await subscribed;
    return pair;
  }

  const queued = (): number => broker.vhost('/')!.queues.get('slow')!.messageCount;

  it('a client whose output stays over the high-water mark for slowConsumerTimeoutMs is dropped, its messages requeued', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { server, client, stall } = await subscribedClient();
    stall();
    client.write(Buffer.concat([Buffer.from('SEND\ndestination:/queue/slow\n\n'), Buffer.alloc(2 << 20, 0x61), Buffer.from('\0')]));
    await turn();
    expect(queued()).toBe(0);
    vi.advanceTimersByTime(59_999);
    expect(server.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(server.destroyed).toBe(true);
    expect(queued()).toBe(1);
  });

  it('draining in time keeps the connection', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { server, client, stall, drain } = await subscribedClient();
    stall();
    client.write(Buffer.concat([Buffer.from('SEND\ndestination:/queue/slow\n\n'), Buffer.alloc(2 << 20, 0x61), Buffer.from('\0')]));
    await turn();
    vi.advanceTimersByTime(30_000);
    drain();
    await turn();
    await turn();
    vi.advanceTimersByTime(60_000);
    expect(server.destroyed).toBe(false);
  });
});
