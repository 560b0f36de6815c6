import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestBroker } from '../testing/setup.js';
import { makeMessage } from '../testing/fake-host.js';
import {
  DefinitionsError,
  FileDefinitionsStore,
  MemoryDefinitionsStore,
  parseDefinitions,
  serializeDefinitions,
  type Definitions,
} from './definitions.js';
import type { FieldTable } from '../contract.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warren-defs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A broker on `dir`, as the server builds it. */
function start(): TestBroker {
  return new TestBroker({ definitions: new FileDefinitionsStore(dir) });
}

describe('definitions across a restart (in process)', () => {
  it('keeps durable exchanges, queues with arguments, and bindings between durable ends', () => {
    const a = start();
    const { ch } = a.channel();
    const qArgs: FieldTable = { 'x-max-length': 10, 'x-dead-letter-exchange': 'dlx', 'x-message-ttl': 60000 };
    ch.declareExchange('orders', 'topic', { durable: true, arguments: { 'alternate-exchange': 'unrouted' } });
    ch.declareExchange('unrouted', 'fanout', { durable: true });
    ch.declareExchange('fan', 'fanout', { durable: true, autoDelete: true });
    ch.declareQueue('work', { durable: true, arguments: qArgs });
    ch.declareQueue('ad', { durable: true, autoDelete: true });
    ch.bindQueue('work', 'orders', 'eu.#');
    ch.bindQueue('work', 'amq.direct', 'k', { 'x-custom': 'yes' });
    ch.bindExchange('fan', 'orders', 'us.*');
    ch.bindQueue('ad', 'fan', '');
    a.close();

    const b = start();
    const v = b.broker.vhost('/')!;
    const orders = v.exchanges.get('orders')!;
    expect({ type: orders.type, durable: orders.durable, alt: orders.alternateExchange }).toEqual({
      type: 'topic',
      durable: true,
      alt: 'unrouted',
    });
    expect(v.exchanges.get('fan')).toMatchObject({ type: 'fanout', autoDelete: true });
    const work = v.queues.get('work')!;
    expect(work.arguments).toEqual(qArgs);
    expect(work.settings.maxLength).toBe(10);
    expect(v.queues.get('ad')).toMatchObject({ durable: true, autoDelete: true });
    // An equivalent redeclare is accepted, a different one refused: the arguments really came back.
    const { ch: ch2 } = b.channel();
    expect(() => ch2.declareQueue('work', { durable: true, arguments: qArgs })).not.toThrow();
    // Routing works through the restored bindings (queue and exchange-to-exchange).
    ch2.publish(makeMessage('orders', 'eu.paris', 'm'), {});
    ch2.publish(makeMessage('orders', 'us.ny', 'm'), {});
    ch2.publish(makeMessage('amq.direct', 'k', 'm'), {});
    expect(work.messageCount).toBe(2);
    expect(v.queues.get('ad')!.messageCount).toBe(1);
    b.close();
  });

  it('drops transient and exclusive queues, transient exchanges and bindings that touch them', () => {
    const a = start();
    const { ch } = a.channel();
    ch.declareExchange('tx', 'direct', { durable: false });
    ch.declareExchange('dx', 'direct', { durable: true });
    ch.declareQueue('tq', { durable: false });
    ch.declareQueue('xq', { durable: true, exclusive: true });
    ch.declareQueue('dq', { durable: true });
    ch.bindQueue('dq', 'tx', 'a');
    ch.bindQueue('tq', 'dx', 'b');
    ch.bindQueue('xq', 'dx', 'c');
    ch.bindQueue('dq', 'dx', 'd');
    a.close();

    const b = start();
    const v = b.broker.vhost('/')!;
    expect([...v.exchanges.keys()].filter((n) => !n.startsWith('amq.'))).toEqual(['dx']);
    expect([...v.queues.keys()]).toEqual(['dq']);
    expect([...v.exchanges.get('dx')!.bindings.values()].map((x) => x.routingKey)).toEqual(['d']);
    b.close();
  });

  it('forgets deleted exchanges, queues and bindings', async () => {
    const a = start();
    const { ch } = a.channel();
    ch.declareExchange('x', 'direct', { durable: true });
    ch.declareQueue('q1', { durable: true });
    ch.declareQueue('q2', { durable: true });
    ch.bindQueue('q1', 'x', 'k1');
    ch.bindQueue('q1', 'x', 'k2');
    await a.broker.flushDefinitions();
    ch.unbindQueue('q1', 'x', 'k1');
    ch.deleteQueue('q2', {});
    await a.broker.flushDefinitions();
    // Written while running (not only at close): read the file back without closing the broker.
    const defs = new FileDefinitionsStore(dir).load()!;
    expect(defs.queues.map((q) => q.name)).toEqual(['q1']);
    expect(defs.bindings.map((x) => x.routing_key)).toEqual(['k2']);
    ch.deleteExchange('x', {});
    a.close();
    const b = start();
    expect(b.broker.vhost('/')!.exchanges.has('x')).toBe(false);
    expect(b.broker.vhost('/')!.queues.has('q1')).toBe(true);
    b.close();
  });

  it('keeps vhosts, users with their password hashes, tags and permissions; not the bootstrap user once deleted', () => {
    const a = start();
    a.broker.addVhost('prod');
    a.broker.addUser('alice', 's3cret', ['monitoring']);
    a.broker.setPermissions('alice', 'prod', { configure: '^alice-', write: '.*', read: '' });
    a.broker.addVhost('gone');
    a.broker.deleteVhost('gone');
    a.broker.deleteUser('guest');
    const hash = a.broker.users.get('alice')!.passwordHash;
    a.close();

    const b = start();
    expect(b.broker.vhostNames().sort()).toEqual(['/', 'prod']);
    expect(b.broker.users.names()).toEqual(['alice']);
    const alice = b.broker.users.get('alice')!;
    expect(alice.passwordHash).toBe(hash);
    expect(alice.user.tags).toEqual(['monitoring']);
    expect(alice.permissions.get('prod')!.spec).toEqual({ configure: '^alice-', write: '.*', read: '' });
    expect(b.broker.authenticate('alice', 's3cret', '10.0.0.1').name).toBe('alice');
    expect(() => b.broker.authenticate('alice', 'wrong', '10.0.0.1')).toThrow(/authentication failed/);
    expect(() => b.broker.authenticate('guest', 'guest', '127.0.0.1')).toThrow(/authentication failed/);
    b.close();
  });

  it('a fresh data directory bootstraps guest and / and records them at once', async () => {
    const a = start();
    await a.broker.flushDefinitions();
    const defs = new FileDefinitionsStore(dir).load()!;
    expect(defs.vhosts).toEqual([{ name: '/' }]);
    expect(defs.users.map((u) => u.name)).toEqual(['guest']);
    expect(defs.permissions).toEqual([{ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' }]);
    a.close();
  });

  it('a corrupt file refuses to start with a message naming the file; nothing is overwritten', async () => {
    const file = join(dir, 'definitions.json');
    await writeFile(file, '{"vhosts": [{"name": "/"}], "queues": [');
    let error: unknown;
    try {
      start();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DefinitionsError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/invalid JSON.*Refusing to start/);
    expect(await readFile(file, 'utf8')).toBe('{"vhosts": [{"name": "/"}], "queues": [');

    await writeFile(file, JSON.stringify({ queues: [{ name: 'q', vhost: '/', arguments: 7 }] }));
    expect(() => start()).toThrow(/queues\[0\]: arguments must be an object/);
  });

  it('temporary files left by a crash mid-write are ignored and removed', async () => {
    const a = start();
    a.broker.addVhost('kept');
    a.close();
    await writeFile(join(dir, 'definitions.json.999.1.tmp'), '{"vhosts": [{"name": "half-writ');
    const b = start();
    expect(b.broker.vhostNames().sort()).toEqual(['/', 'kept']);
    expect(await readdir(dir)).toEqual(['definitions.json']);
    b.close();
  });

  it('a burst of 10,000 declares costs a handful of writes, not 10,000', async () => {
    const store = new MemoryDefinitionsStore();
    const t = new TestBroker({ definitions: store });
    await t.broker.flushDefinitions();
    const before = store.writes;
    const { ch } = t.channel();
    for (let i = 0; i < 10_000; i++) ch.declareQueue(`q${i}`, { durable: true });
    await new Promise((r) => setImmediate(r));
    await t.broker.flushDefinitions();
    expect(store.writes - before).toBe(1);
    expect(store.stored!.queues).toHaveLength(10_000);
    t.close();
  });

  it('file writes coalesce while one is in flight and leave no temporary files', async () => {
    const t = start();
    const { ch } = t.channel();
    // Changes spread over many ticks (as with a client that awaits every declare-ok).
    for (let i = 0; i < 200; i++) {
      ch.declareQueue(`q${i}`, { durable: true });
      await new Promise((r) => setImmediate(r));
    }
    await t.broker.flushDefinitions();
    expect(new FileDefinitionsStore(dir).load()!.queues).toHaveLength(200);
    expect(await readdir(dir)).toEqual(['definitions.json']);
    t.close();
  });
});

describe('flushDefinitions and definitionsVersion (declare-ok waits for the disk)', () => {
  it('definitionsVersion moves only for durable changes', () => {
    const t = start();
    const { ch } = t.channel();
    const v0 = t.broker.definitionsVersion;
    ch.declareQueue('transient', { durable: false });
    ch.declareQueue('excl', { durable: true, exclusive: true });
    ch.bindQueue('transient', 'amq.direct', 'k');
    expect(t.broker.definitionsVersion).toBe(v0);
    ch.declareQueue('d', { durable: true });
    expect(t.broker.definitionsVersion).toBe(v0 + 1);
    ch.declareQueue('d', { durable: true });
    expect(t.broker.definitionsVersion).toBe(v0 + 1);
    ch.bindQueue('d', 'amq.direct', 'k');
    expect(t.broker.definitionsVersion).toBe(v0 + 2);
    t.close();
  });

  it('a flush resolves once its own change is on disk, even while other changes keep the store busy', async () => {
    const t = start();
    const { ch } = t.channel();
    await t.broker.flushDefinitions();
    ch.declareQueue('mine', { durable: true });
    let done = false;
    const flushed = t.broker.flushDefinitions().then(() => {
      done = true;
    });
    // Another client changes durable definitions every tick (declaring and deleting one queue, so the file stays
    // small and each write stays cheap): the store is never idle, yet the first flush must resolve. The bound is in
    // ticks, far above the two writes the flush needs even on a loaded machine.
    const bound = 100_000;
    let i = 0;
    while (!done && i < bound) {
      if (i++ % 2 === 0) ch.declareQueue('other', { durable: true });
      else ch.deleteQueue('other', {});
      await new Promise((r) => setImmediate(r));
    }
    // Resolved while the other changes were still going on (the loop stopped because of it, not at its bound).
    expect(done).toBe(true);
    expect(i).toBeLessThan(bound);
    await flushed;
    expect(new FileDefinitionsStore(dir).load()!.queues.map((q) => q.name)).toContain('mine');
    await t.broker.flushDefinitions();
    t.close();
  });

  it('a flush with nothing pending resolves at once', async () => {
    const t = start();
    await t.broker.flushDefinitions();
    const store = new FileDefinitionsStore(dir);
    await expect(store.flush()).resolves.toBeUndefined();
    t.close();
  });
});

describe('definitions file format', () => {
  it('round-trips typed field values (64-bit, bytes, timestamps, decimals, nested tables and arrays)', () => {
    const args: FieldTable = {
      long: 1n << 40n,
      bytes: Buffer.from([0, 1, 255]),
      when: new Date(1700000000000),
      dec: { $decimal: true, scale: 2, value: 1234 },
      nested: { a: [1, 'two', null, true], b: { c: 1.5 } },
    };
    const defs: Definitions = {
      vhosts: [],
      users: [],
      permissions: [],
      exchanges: [],
      queues: [{ name: 'q', vhost: '/', durable: true, auto_delete: false, arguments: args }],
      bindings: [],
    };
    const back = parseDefinitions(JSON.parse(serializeDefinitions(defs)), 'x');
    expect(back.queues[0]!.arguments).toEqual(args);
  });

  it("reads RabbitMQ's export layout (tags as a comma-separated string, plain nested tables)", () => {
    const defs = parseDefinitions(
      {
        rabbit_version: '3.10.8',
        users: [{ name: 'bob', password_hash: 'x', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: 'administrator,management' }],
        queues: [{ name: 'q', vhost: '/', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic' } }],
      },
      'x',
    );
    expect(defs.users[0]!.tags).toEqual(['administrator', 'management']);
    expect(defs.queues[0]!.arguments).toEqual({ 'x-queue-type': 'classic' });
  });
});

describe('FileDefinitionsStore close', () => {
  it('close() while a write is in flight still leaves the newest definitions on disk', async () => {
    const t = start();
    const { ch } = t.channel();
    await t.broker.flushDefinitions();
    ch.declareQueue('last', { durable: true });
    // Let the coalesced write start (setImmediate) but not finish, then close.
    await new Promise((r) => setImmediate(r));
    t.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(new FileDefinitionsStore(dir).load()!.queues.map((q) => q.name)).toEqual(['last']);
  });
});

describe('closing while a write is in flight', () => {
  it('Broker.close() settles only when no write is still touching the data directory', async () => {
    const t = start();
    const { ch } = t.channel();
    // A large file, so the asynchronous write (open, write, fsync, rename, directory fsync) takes a while.
    for (let i = 0; i < 3000; i++) ch.declareQueue(`q${i}`, { durable: true, arguments: { 'x-message-ttl': i } });
    await new Promise((r) => setImmediate(r)); // the write has started
    await t.broker.close();
    const files = await readdir(dir);
    expect(files.filter((f) => f !== 'definitions.json' && f !== 'messages')).toEqual([]);
    // Nothing arrives later either: the directory can be removed right away and stays removed.
    await rm(dir, { recursive: true });
    await new Promise((r) => setTimeout(r, 100));
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });
});
