/**
 * Durable definitions, alarms and shutdown through the real server (startBroker) and a real client (amqplib):
 * what survives a restart on the same data directory and what does not (RabbitMQ's rules), a corrupt definitions
 * file, resource alarms that block publishers while consumers drain, and the 320 CONNECTION_FORCED at shutdown.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SETTINGS, startEmbeddedBroker as startBroker, type RunningBroker } from '@warren/server';
import type { Broker } from '@warren/core';

let dataDir = '';
let running: RunningBroker | undefined;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'warren-durability-'));
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

/** Every listener off except AMQP on a free port (other protocols' fixed default ports would clash in parallel runs). */
function listenersOff(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of SETTINGS) {
    const [section, field] = s.path.split('.');
    if (field === undefined || s.kind !== 'port') continue;
    (out[section!] ??= {})[field] = section === 'amqp' && field === 'port' ? 0 : null;
  }
  return out;
}

async function start(extra: Record<string, unknown> = {}): Promise<RunningBroker> {
  running = await startBroker({ dataDir, log: { level: 'silent' }, ...listenersOff(), ...extra });
  return running;
}

async function restart(): Promise<RunningBroker> {
  await running?.stop();
  running = undefined;
  return start();
}

function url(r: RunningBroker, user = 'guest', pass = 'guest', vhost = '/'): string {
  return `amqp://${user}:${pass}@127.0.0.1:${r.ports.amqp}/${encodeURIComponent(vhost)}`;
}

/** The AMQP reply code a failed operation closed its channel (or connection) with. */
async function replyCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

describe('definitions survive a restart (startBroker + amqplib)', () => {
  it('durable exchanges, durable queues with their arguments, queue and exchange-to-exchange bindings', async () => {
    let r = await start();
    {
      const c = await amqp.connect(url(r));
      const ch = await c.createChannel();
      await ch.assertExchange('alt', 'fanout', { durable: true });
      await ch.assertExchange('orders', 'topic', { durable: true, alternateExchange: 'alt' });
      await ch.assertExchange('eu', 'direct', { durable: true });
      await ch.assertQueue('work', { durable: true, arguments: { 'x-max-length': 5, 'x-message-ttl': 60000 } });
      await ch.assertQueue('unrouted', { durable: true });
      await ch.bindQueue('unrouted', 'alt', '');
      await ch.bindExchange('eu', 'orders', 'eu.#');
      await ch.bindQueue('work', 'eu', 'eu.paris');
      await c.close();
    }

    r = await restart();
    const c = await amqp.connect(url(r));
    const ch = await c.createConfirmChannel();
    await ch.checkExchange('orders');
    await ch.checkExchange('eu');
    expect(await ch.assertQueue('work', { durable: true, arguments: { 'x-max-length': 5, 'x-message-ttl': 60000 } })).toMatchObject({
      queue: 'work',
    });
    // Exchange-to-exchange then queue binding, and the alternate exchange, all came back.
    ch.publish('orders', 'eu.paris', Buffer.from('routed'));
    ch.publish('orders', 'us.ny', Buffer.from('to alt'));
    await ch.waitForConfirms();
    expect((await ch.get('work', { noAck: true }) || undefined)?.content.toString()).toBe('routed');
    expect((await ch.get('unrouted', { noAck: true }) || undefined)?.content.toString()).toBe('to alt');
    // The stored arguments are the queue's: a different x-max-length is refused as inequivalent.
    const probe = await c.createChannel();
    probe.on('error', () => {});
    expect(await replyCode(probe.assertQueue('work', { durable: true, arguments: { 'x-max-length': 6 } }))).toBe(406);
    await c.close();
  });

  it('transient and exclusive queues and transient exchanges are gone; durable auto-delete ones stay', async () => {
    let r = await start();
    {
      const c = await amqp.connect(url(r));
      const ch = await c.createChannel();
      await ch.assertQueue('transient', { durable: false });
      await ch.assertQueue('exclusive', { durable: true, exclusive: true });
      await ch.assertQueue('auto', { durable: true, autoDelete: true });
      await ch.assertExchange('tx', 'fanout', { durable: false });
      await ch.assertExchange('dx', 'fanout', { durable: true, autoDelete: true });
      await ch.bindQueue('auto', 'dx', '');
      // Keep the connection (and its exclusive queue) open across the restart, as a crash would.
      r = await restart();
      await c.close().catch(() => {});
    }
    const c = await amqp.connect(url(r));
    for (const q of ['transient', 'exclusive']) {
      const ch = await c.createChannel();
      ch.on('error', () => {});
      expect(await replyCode(ch.checkQueue(q)), q).toBe(404);
    }
    const ch = await c.createChannel();
    ch.on('error', () => {});
    expect(await replyCode(ch.checkExchange('tx'))).toBe(404);
    const ok = await c.createChannel();
    await ok.checkQueue('auto');
    await ok.checkExchange('dx');
    await c.close();
  });

  it('users with their passwords, vhosts and permissions (set through the Broker admin API)', async () => {
    let r = await start();
    const admin = r.broker as Broker;
    admin.addVhost('prod');
    admin.addUser('alice', 'wonderland', ['management']);
    admin.setPermissions('alice', 'prod', { configure: '^alice\\.', write: '.*', read: '.*' });
    admin.deleteUser('guest');
    await admin.flushDefinitions();

    r = await restart();
    await expect(amqp.connect(url(r))).rejects.toThrow(/ACCESS_REFUSED|403/);
    const c = await amqp.connect(url(r, 'alice', 'wonderland', 'prod'));
    const ch = await c.createChannel();
    await ch.assertQueue('alice.q', { durable: false });
    const denied = await c.createChannel();
    denied.on('error', () => {});
    expect(await replyCode(denied.assertQueue('bob.q'))).toBe(403);
    await c.close();
    await expect(amqp.connect(url(r, 'alice', 'wrong', 'prod'))).rejects.toThrow();
    expect((r.broker as Broker).users.get('alice')?.user.tags).toEqual(['management']);
  });

  it('a corrupt definitions file refuses to start with a clear message; a missing one starts fresh', async () => {
    await writeFile(join(dataDir, 'definitions.json'), '{"queues": [ oops');
    await expect(start()).rejects.toThrow(
      new RegExp(`cannot load the definitions file ${join(dataDir, 'definitions.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid JSON`),
    );
    running = undefined;
    await rm(join(dataDir, 'definitions.json'));
    const r = await start();
    const c = await amqp.connect(url(r));
    await c.close();
  });
});

describe('resource alarms (startBroker + amqplib)', () => {
  it('a tiny memory watermark blocks the publishing connection; consumers still drain; lifting it unblocks', async () => {
    const r = await start({ vmMemoryHighWatermark: 1000 });
    expect(r.alarms?.memoryAlarm).toBe(true);
    const setup = await amqp.connect(url(r));
    const sch = await setup.createChannel();
    await sch.assertQueue('alarm-q', { durable: false });

    const consumerConn = await amqp.connect(url(r));
    const cch = await consumerConn.createChannel();
    const received: string[] = [];
    let notify: () => void = () => {};
    await cch.consume('alarm-q', (m) => {
      if (m === null) return;
      received.push(m.content.toString());
      cch.ack(m);
      notify();
    });
    const waitFor = (n: number): Promise<void> =>
      new Promise((resolve) => {
        notify = () => {
          if (received.length >= n) resolve();
        };
        notify();
      });

    const pub = await amqp.connect(url(r));
    const blocked = new Promise<string>((resolve) => pub.on('blocked', resolve));
    const unblocked = new Promise<void>((resolve) => pub.on('unblocked', () => resolve()));
    const pch = await pub.createChannel();
    pch.sendToQueue('alarm-q', Buffer.from('first'));
    expect(await blocked).toBe('low on memory');
    // The publish that tripped the block was accepted, and the consumer's connection is still read and served.
    await waitFor(1);
    // The setup connection only declared and consumed nothing: it is not blocked either.
    await sch.checkQueue('alarm-q');
    pch.sendToQueue('alarm-q', Buffer.from('second'));

    await r.alarms!.setMemoryHighWatermark(1); // the whole machine's memory: the alarm clears
    await unblocked;
    await waitFor(2);
    expect(received).toEqual(['first', 'second']);
    await Promise.all([pub.close(), consumerConn.close(), setup.close()]);
  });
});

describe('shutdown', () => {
  it("closes AMQP connections with 320 CONNECTION_FORCED 'shutdown'", async () => {
    const r = await start();
    const c = await amqp.connect(url(r));
    // amqplib treats 320 as non-fatal: no 'error' event, the reason comes with 'close'.
    const error = new Promise<Error>((resolve) => c.on('close', resolve));
    await r.stop();
    running = undefined;
    const err = (await error) as Error & { code?: number };
    expect(err.code).toBe(320);
    expect(err.message).toContain("CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'");
  });
});
