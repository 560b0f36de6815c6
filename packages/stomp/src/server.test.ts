import { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, fakeConnectionInfo, silentLogger } from '@warren/core';
import { createStompService, type StompService } from './server.js';

/** Two connected in-memory Duplex ends: what one writes, the other reads. */
function streamPair(): [Duplex, Duplex] {
  const make = (): Duplex & { peer?: Duplex } =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        (this as Duplex & { peer?: Duplex }).peer?.push(chunk);
        cb();
      },
      final(cb) {
        (this as Duplex & { peer?: Duplex }).peer?.push(null);
        cb();
      },
    });
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

const read = (client: Duplex): Promise<string> =>
  new Promise((resolve) => client.once('data', (chunk: Buffer) => resolve(chunk.toString())));

let broker: Broker;
let service: StompService;
beforeEach(() => {
  broker = new Broker({});
  service = createStompService({ broker, logger: silentLogger, options: { maxFrameSize: 1 << 20, connectTimeoutMs: 0 }, dataDir: '' });
});
afterEach(async () => {
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
    const reply = read(client1);
    client1.write('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0');
    expect(await reply).toMatch(/^CONNECTED\n/);
    server2.destroy();
    await new Promise((resolve) => setImmediate(resolve));
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
