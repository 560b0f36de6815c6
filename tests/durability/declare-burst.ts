/**
 * Cost of a burst of 1,000 durable queue declares (declare-ok waits for the definitions fsync), against the
 * broker child on a fresh data directory. Run with vite-node:
 *   node_modules/.bin/vite-node -c vitest.config.ts tests/durability/declare-burst.ts
 * Prints the time of 1,000 declares awaited one by one on one channel, and of 1,000 spread over 10 channels.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { startChild } from './crash-harness.js';

const N = 1000;
const dataDir = await mkdtemp(join(tmpdir(), 'warren-declare-burst-'));
const child = await startChild(dataDir);
try {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${child.port}`);
  const ch = await conn.createChannel();
  let t = performance.now();
  for (let i = 0; i < N; i++) await ch.assertQueue(`seq-${i}`, { durable: true });
  const sequential = performance.now() - t;
  const channels = await Promise.all(Array.from({ length: 10 }, () => conn.createChannel()));
  t = performance.now();
  await Promise.all(
    channels.map(async (c, k) => {
      for (let i = 0; i < N / 10; i++) await c.assertQueue(`par-${k}-${i}`, { durable: true });
    }),
  );
  const parallel = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < N; i++) await ch.assertQueue(`tr-${i}`, { durable: false });
  const transient = performance.now() - t;
  process.stdout.write(
    `${N} durable declares, one channel: ${sequential.toFixed(0)} ms; over 10 channels: ${parallel.toFixed(0)} ms; ` +
      `${N} transient declares: ${transient.toFixed(0)} ms\n`,
  );
  await conn.close();
} finally {
  child.proc.kill('SIGKILL');
  await child.exited;
  await rm(dataDir, { recursive: true, force: true });
}
