/**
 * Crash rounds (issue "Durable by default"): the broker runs as a child process; a publisher with confirms sends
 * numbered persistent messages to a durable queue (window 1000 in flight); the broker is SIGKILLed at a random moment;
 * after each restart every confirmed message must be in the queue exactly once and in order, and no message acked
 * before the kill may come back. Each number is also published to a stream (x-queue-type stream); after each restart
 * the stream is read from `first` up to a confirmed end marker, and every confirmed number must be there once, in
 * order. Used by crash.test.ts (a few rounds in CI) and scripts/crash-test.mjs (many).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import amqp from 'amqplib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const QUEUE = 'crash-test';
const STREAM = 'crash-stream';

export interface CrashOptions {
  dataDir: string;
  rounds: number;
  /** The kill comes this long after publishing starts: uniformly between min and max ms. */
  minKillMs?: number;
  maxKillMs?: number;
  /** queueMemoryBudget of the broker (small values exercise paging). */
  queueMemoryBudget?: number;
  /** Pseudo-random seed (the kill moments). */
  seed?: number;
  log?: (line: string) => void;
}

export interface CrashReport {
  rounds: number;
  published: number;
  confirmed: number;
  /** Messages found after the restarts (confirmed or not), each acked once found. */
  recovered: number;
  /** Problems found; empty when every round held. */
  violations: string[];
}

export interface Child {
  proc: ChildProcess;
  /** The AMQP port. */
  port: number;
  /** The MQTT port, when started with `mqtt`. */
  mqttPort?: number;
  exited: Promise<void>;
}

/**
 * Start the broker child on `dataDir` and wait for its port (and, with `mqtt`, for the MQTT listener it then starts
 * too). `budget` is the queue memory budget.
 */
export async function startChild(dataDir: string, budget?: number, opts: { mqtt?: boolean } = {}): Promise<Child> {
  const bin = path.join(ROOT, 'node_modules/.bin/vite-node');
  const args = ['-c', path.join(ROOT, 'vitest.config.ts'), path.join(ROOT, 'tests/durability/broker-child.ts'), '--', dataDir];
  if (budget !== undefined) args.push(String(budget));
  const env = opts.mqtt === true ? { ...process.env, WARREN_CHILD_MQTT: '1' } : process.env;
  const proc = spawn(bin, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const [port, mqttPort] = await new Promise<[number, number | undefined]>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`broker child did not start: ${err}`)), 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      const mq = /\{"mqtt":(\d+)\}/.exec(out);
      if (m !== null && (opts.mqtt !== true || mq !== null)) {
        clearTimeout(timer);
        resolve([Number(m[1]), mq === null ? undefined : Number(mq[1])]);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker child exited (${code}) before starting: ${err}`));
    });
  });
  return { proc, port, ...(mqttPort !== undefined ? { mqttPort } : {}), exited };
}

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Read the stream from `first` up to an end marker published (and confirmed) now: every number confirmed in an
 * earlier round must be there exactly once, and numbers in increasing order.
 */
async function checkStream(conn: amqp.ChannelModel, round: number, confirmed: Set<number>, violations: string[]): Promise<void> {
  const ch = await conn.createConfirmChannel();
  ch.on('error', () => {});
  const marker = `end-${round}`;
  await new Promise<void>((resolve, reject) => ch.publish('', STREAM, Buffer.from(marker), {}, (err) => (err ? reject(err) : resolve())));
  await ch.prefetch(1000);
  const seen = new Set<number>();
  let prev = 0;
  let disorder = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream: end marker ${marker} not reached (${seen.size} read)`)), 30_000);
    void ch.consume(
      STREAM,
      (m) => {
        if (m === null) return;
        ch.ack(m);
        const body = m.content.toString();
        if (body === marker) {
          clearTimeout(timer);
          resolve();
          return;
        }
        if (body.startsWith('end-')) return;
        const n = Number(body);
        if (seen.has(n)) violations.push(`round ${round}: stream message ${n} read twice`);
        if (n < prev && !disorder) {
          disorder = true;
          violations.push(`round ${round}: stream out of order: ${prev} before ${n}`);
        }
        prev = n;
        seen.add(n);
      },
      { consumerTag: 'stream-verify', arguments: { 'x-stream-offset': 'first' } },
    );
  });
  let lost = 0;
  for (const n of confirmed) {
    if (!seen.has(n)) {
      lost++;
      if (lost <= 5) violations.push(`round ${round}: confirmed stream message ${n} is missing`);
    }
  }
  if (lost > 5) violations.push(`round ${round}: ${lost} confirmed stream messages missing in all`);
  await ch.close();
}

/** Run the rounds; resolves with what was seen (violations listed, not thrown, so a script can report them all). */
export async function runCrashRounds(o: CrashOptions): Promise<CrashReport> {
  const rand = prng(o.seed ?? Date.now());
  const log = o.log ?? (() => {});
  const minKill = o.minKillMs ?? 100;
  const maxKill = o.maxKillMs ?? 600;
  const confirmed = new Set<number>(); // confirmed and not yet seen back
  const acked = new Set<number>(); // seen back and acked (durably: a confirmed fence followed the acks)
  const violations: string[] = [];
  /** Numbers whose stream publish was confirmed, over all rounds (a stream keeps them all). */
  const streamConfirmed = new Set<number>();
  let next = 1;
  let published = 0;
  let confirmedTotal = 0;
  let recovered = 0;

  for (let round = 0; round <= o.rounds; round++) {
    const child = await startChild(o.dataDir, o.queueMemoryBudget);
    try {
      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${child.port}`);
      conn.on('error', () => {});
      const ch = await conn.createConfirmChannel();
      ch.on('error', () => {});
      const { messageCount } = await ch.assertQueue(QUEUE, { durable: true });
      await ch.assertQueue(STREAM, { durable: true, arguments: { 'x-queue-type': 'stream' } });
      await checkStream(conn, round, streamConfirmed, violations);

      // Verify what survived, then ack it all.
      const seen: number[] = [];
      const seenSet = new Set<number>();
      if (messageCount > 0) {
        await new Promise<void>((resolve, reject) => {
          let delivered = 0;
          const timer = setTimeout(() => reject(new Error(`only ${delivered}/${messageCount} messages delivered`)), 30_000);
          void ch.consume(
            QUEUE,
            (m) => {
              if (m === null) return;
              const body = m.content.toString();
              if (!body.startsWith('fence')) {
                const n = Number(body);
                if (seenSet.has(n)) violations.push(`round ${round}: message ${n} delivered twice`);
                if (acked.has(n)) violations.push(`round ${round}: message ${n} came back after it was acked`);
                seen.push(n);
                seenSet.add(n);
              }
              if (++delivered === messageCount) {
                clearTimeout(timer);
                resolve();
              }
            },
            { consumerTag: 'verify' },
          );
        });
        await ch.cancel('verify');
      }
      for (let i = 1; i < seen.length; i++) {
        if (seen[i]! < seen[i - 1]!) {
          violations.push(`round ${round}: out of order: ${seen[i - 1]} before ${seen[i]}`);
          break;
        }
      }
      let lost = 0;
      for (const n of confirmed) {
        if (!seenSet.has(n)) {
          lost++;
          if (lost <= 5) violations.push(`round ${round}: confirmed message ${n} is missing`);
        }
      }
      if (lost > 5) violations.push(`round ${round}: ${lost} confirmed messages missing in all`);
      recovered += seen.length;
      for (const n of seen) {
        acked.add(n);
        confirmed.delete(n);
      }
      confirmed.clear(); // the missing ones are reported once
      if (messageCount > 0) {
        ch.ackAll();
        // A confirmed fence proves the acks before it were written (one flush covers marks and records).
        await new Promise<void>((resolve, reject) =>
          ch.publish('', QUEUE, Buffer.from(`fence-${round}`), { persistent: true }, (err) => (err ? reject(err) : resolve())),
        );
        await ch.purgeQueue(QUEUE); // the fence
      }
      log(`round ${round}: ${seen.length} recovered, ${violations.length} violations so far`);
      if (round === o.rounds) {
        await conn.close();
        child.proc.kill('SIGTERM');
        await child.exited;
        break;
      }

      // Publish numbered messages until the kill.
      let killed = false;
      const killAfter = minKill + rand() * (maxKill - minKill);
      const killTimer = setTimeout(() => {
        killed = true;
        child.proc.kill('SIGKILL');
      }, killAfter);
      let inFlight = 0;
      let wake: (() => void) | undefined;
      const body = Buffer.alloc(100, 0x20);
      while (!killed) {
        while (inFlight < 1000 && !killed) {
          const n = next++;
          const content = Buffer.from(body);
          content.write(String(n));
          inFlight++;
          published++;
          try {
            ch.publish('', QUEUE, content.subarray(0, String(n).length), { persistent: true }, (err) => {
              inFlight--;
              if (err === null || err === undefined) {
                confirmed.add(n);
                confirmedTotal++;
              }
              wake?.();
            });
            inFlight++;
            ch.publish('', STREAM, content.subarray(0, String(n).length), {}, (err) => {
              inFlight--;
              if (err === null || err === undefined) streamConfirmed.add(n);
              wake?.();
            });
          } catch {
            killed = true;
          }
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
        wake = undefined;
      }
      clearTimeout(killTimer);
      await child.exited;
      await conn.close().catch(() => {});
    } catch (err) {
      child.proc.kill('SIGKILL');
      await child.exited;
      throw err;
    }
  }
  return { rounds: o.rounds, published, confirmed: confirmedTotal, recovered, violations };
}
