/**
 * The data directory is private: after a broker has stored persistent messages, a stream, retained messages, a
 * persistent MQTT session and its definitions, every directory under it is 0700 and every file 0600; and a directory
 * left readable by others (an older version's 0755/0644) is tightened at startup with one log line.
 */
import { chmod, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, startEmbeddedBroker } from '@warren/server';

async function walk(dir: string, out: { path: string; mode: number; dir: boolean }[] = []): Promise<typeof out> {
  const st = await lstat(dir);
  out.push({ path: dir, mode: st.mode & 0o777, dir: st.isDirectory() });
  if (st.isDirectory()) for (const n of await readdir(dir)) await walk(join(dir, n), out);
  return out;
}

async function fill(ports: { amqp?: number; mqtt?: number }): Promise<void> {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${ports.amqp!}`);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('private-q', { durable: true });
  await ch.assertQueue('private-s', { durable: true, arguments: { 'x-queue-type': 'stream' } });
  ch.sendToQueue('private-q', Buffer.from('secret'), { persistent: true });
  ch.sendToQueue('private-s', Buffer.from('secret'), { persistent: true });
  // Fanned out to two durable queues: the body goes to the shared body log once.
  await ch.assertQueue('private-f1', { durable: true });
  await ch.assertQueue('private-f2', { durable: true });
  await ch.bindQueue('private-f1', 'amq.fanout', '');
  await ch.bindQueue('private-f2', 'amq.fanout', '');
  ch.publish('amq.fanout', '', Buffer.from('shared secret'), { persistent: true });
  await ch.waitForConfirms();
  await conn.close();
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt!}`, {
    username: 'guest', password: 'guest', clientId: 'private-c', clean: false,
  });
  await client.subscribeAsync('private/#', { qos: 1 });
  await client.publishAsync('private/r', 'secret', { qos: 1, retain: true });
  await client.endAsync();
}

describe('data directory privacy', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-private-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates every directory 0700 and every file 0600', async () => {
    const b = await startEmbeddedBroker({ dataDir: join(dir, 'data') });
    try {
      await fill(b.ports);
    } finally {
      await b.stop();
    }
    const entries = await walk(join(dir, 'data'));
    // Messages, shared bodies, stream segments, retained and session state, definitions are all there.
    expect(entries.filter((e) => !e.dir).length).toBeGreaterThan(5);
    expect(entries.some((e) => e.dir && e.path.endsWith('bodies'))).toBe(true);
    const open = entries.filter((e) => (e.mode & 0o077) !== 0).map((e) => `${e.path} ${e.mode.toString(8)}`);
    expect(open).toEqual([]);
  }, 60_000);

  it('tightens a data directory left readable by others, with one log line, and keeps its contents', async () => {
    for (const e of await walk(join(dir, 'data'))) await chmod(e.path, e.dir ? 0o755 : 0o644);
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    const b = await startEmbeddedBroker({ dataDir: join(dir, 'data') }, { logger });
    try {
      const entries = await walk(join(dir, 'data'));
      expect(entries.filter((e) => (e.mode & 0o077) !== 0).map((e) => e.path)).toEqual([]);
      const said = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('data directory was readable by other users'));
      expect(said).toHaveLength(1);
      expect(said[0]!.entries).toBeGreaterThan(5);
      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${b.ports.amqp!}`);
      const ch = await conn.createChannel();
      expect((await ch.checkQueue('private-q')).messageCount).toBe(1);
      await conn.close();
    } finally {
      await b.stop();
    }
  }, 60_000);
});
