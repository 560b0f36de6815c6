/**
 * The definitions crash window: durable queues are declared over several channels at once and the broker
 * child is SIGKILLed the moment the k-th queue.declare-ok arrives. After the restart, every queue whose declare-ok
 * was received must exist: a declare-ok is sent only after the definitions file holding it was fsynced.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { startChild } from './crash-harness.js';

const CHANNELS = 8;

/** Names of `names` that are not declared on the broker at `port` (passive declares). */
async function missingQueues(port: number, names: string[]): Promise<string[]> {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  try {
    const missing: string[] = [];
    let ch = await conn.createChannel();
    ch.on('error', () => {});
    for (const name of names) {
      try {
        await ch.checkQueue(name);
      } catch {
        missing.push(name);
        // A failed passive declare closes the channel (404).
        ch = await conn.createChannel();
        ch.on('error', () => {});
      }
    }
    return missing;
  } finally {
    await conn.close();
  }
}

/** Declare durable queues on CHANNELS channels until `killAfter` declare-oks arrived; SIGKILL at that moment. */
async function declareUntilKilled(child: Awaited<ReturnType<typeof startChild>>, prefix: string, killAfter: number): Promise<string[]> {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${child.port}`);
  conn.on('error', () => {});
  const acked: string[] = [];
  let killed = false;
  const workers = Array.from({ length: CHANNELS }, async (_, c) => {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    for (let i = 0; !killed; i++) {
      const name = `${prefix}-c${c}-${i}`;
      try {
        await ch.assertQueue(name, { durable: true });
      } catch {
        return;
      }
      if (killed) return;
      acked.push(name);
      if (acked.length >= killAfter) {
        killed = true;
        child.proc.kill('SIGKILL');
        return;
      }
    }
  });
  await Promise.all(workers);
  await child.exited;
  return acked;
}

describe('SIGKILL right after declare-ok', () => {
  it('every durable queue whose declare-ok was received exists after the restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-defs-crash-'));
    try {
      const acked: string[] = [];
      const rounds = 3;
      for (let round = 0; round <= rounds; round++) {
        const child = await startChild(dataDir);
        try {
          expect(await missingQueues(child.port, acked), `round ${round}`).toEqual([]);
          if (round === rounds) break;
          const killAfter = 20 + Math.floor(Math.random() * 200);
          acked.push(...(await declareUntilKilled(child, `r${round}`, killAfter)));
        } finally {
          child.proc.kill('SIGKILL');
          await child.exited;
        }
      }
      expect(acked.length).toBeGreaterThan(3 * 20);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
