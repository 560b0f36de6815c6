/**
 * Crash rounds for fan-out: a publisher with confirms sends numbered persistent messages (100 B to 16 KiB, so the
 * shared body log rolls segments) to a durable fanout exchange bound to 10 durable queues; the broker is SIGKILLed at
 * a random moment after the round's first confirm. After each restart every queue must hold every confirmed number exactly once and in order, and no
 * number a queue acked before the kill may come back to it. Queues 0..8 ack everything each round; the last queue
 * keeps its messages delivered but unacked in odd rounds (they come back redelivered), so bodies stay referenced by
 * one queue across restarts while the others have settled them.
 */
import amqp from 'amqplib';
import { prng, startChild } from './crash-harness.js';

const EXCHANGE = 'fanout-crash';
const QUEUES = Array.from({ length: 10 }, (_, i) => `fanout-crash-${i}`);

export interface FanoutCrashOptions {
  dataDir: string;
  rounds: number;
  minKillMs?: number;
  maxKillMs?: number;
  queueMemoryBudget?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface FanoutCrashReport {
  published: number;
  confirmed: number;
  /** Deliveries checked after the restarts, over all queues. */
  recovered: number;
  violations: string[];
}

/** The body of message n: its number, padded to a size that varies with n. */
function bodyOf(n: number): Buffer {
  const size = [100, 1024, 4096, 16384][n % 4]!;
  const b = Buffer.alloc(size, 0x2e);
  b.write(`${n}:`);
  return b;
}

function numberOf(body: Buffer): number {
  return Number(body.toString('latin1', 0, body.indexOf(0x3a)));
}

export async function runFanoutCrashRounds(o: FanoutCrashOptions): Promise<FanoutCrashReport> {
  const rand = prng(o.seed ?? Date.now());
  const log = o.log ?? (() => {});
  const minKill = o.minKillMs ?? 100;
  const maxKill = o.maxKillMs ?? 600;
  /** Per queue: confirmed and not yet seen back; seen and acked durably. */
  const expected = QUEUES.map(() => new Set<number>());
  const acked = QUEUES.map(() => new Set<number>());
  const violations: string[] = [];
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
      await ch.assertExchange(EXCHANGE, 'fanout', { durable: true });
      const keepLast = round % 2 === 1 && round < o.rounds;
      // A kept queue is read on a channel of its own that never acks (ackAll on the other covers the rest).
      const hold = await conn.createChannel();
      hold.on('error', () => {});
      for (let q = 0; q < QUEUES.length; q++) {
        const name = QUEUES[q]!;
        const kept = keepLast && q === QUEUES.length - 1;
        const rd = kept ? hold : ch;
        const { messageCount } = await ch.assertQueue(name, { durable: true });
        await ch.bindQueue(name, EXCHANGE, '');
        const seen: number[] = [];
        const seenSet = new Set<number>();
        if (messageCount > 0) {
          await new Promise<void>((resolve, reject) => {
            let delivered = 0;
            const timer = setTimeout(() => reject(new Error(`${name}: only ${delivered}/${messageCount} delivered`)), 30_000);
            void rd.consume(
              name,
              (m) => {
                if (m === null) return;
                if (!m.content.toString('latin1', 0, 5).startsWith('fence')) {
                  const n = numberOf(m.content);
                  if (seenSet.has(n)) violations.push(`round ${round}: ${name}: message ${n} delivered twice`);
                  if (acked[q]!.has(n)) violations.push(`round ${round}: ${name}: message ${n} came back after it was acked`);
                  seen.push(n);
                  seenSet.add(n);
                }
                if (++delivered === messageCount) {
                  clearTimeout(timer);
                  resolve();
                }
              },
              { consumerTag: `verify-${q}` },
            );
          });
          await rd.cancel(`verify-${q}`);
        }
        for (let i = 1; i < seen.length; i++) {
          if (seen[i]! < seen[i - 1]!) {
            violations.push(`round ${round}: ${name}: out of order: ${seen[i - 1]} before ${seen[i]}`);
            break;
          }
        }
        let lost = 0;
        for (const n of expected[q]!) {
          if (!seenSet.has(n)) {
            lost++;
            if (lost <= 3) violations.push(`round ${round}: ${name}: confirmed message ${n} is missing`);
          }
        }
        if (lost > 3) violations.push(`round ${round}: ${name}: ${lost} confirmed messages missing in all`);
        recovered += seen.length;
        expected[q]!.clear();
        // The last queue keeps its messages (delivered, unacked) through the next kill in odd rounds.
        if (kept) for (const n of seen) expected[q]!.add(n);
        else for (const n of seen) acked[q]!.add(n);
      }
      ch.ackAll();
      // A confirmed fence proves the acks and purges before it were written.
      await new Promise<void>((resolve, reject) =>
        ch.publish(EXCHANGE, '', Buffer.from(`fence-${round}`), { persistent: true }, (err) => (err ? reject(err) : resolve())),
      );
      for (let q = 0; q < QUEUES.length - (keepLast ? 1 : 0); q++) await ch.purgeQueue(QUEUES[q]!);
      log(`round ${round}: ${recovered} recovered so far, ${violations.length} violations`);
      if (round === o.rounds) {
        await conn.close();
        child.proc.kill('SIGTERM');
        await child.exited;
        break;
      }

      // The kill comes a random time after the first confirm of the round (a loaded machine may take long to confirm).
      let killed = false;
      let killTimer: NodeJS.Timeout | undefined;
      const armKill = (): void => {
        killTimer ??= setTimeout(() => {
          killed = true;
          child.proc.kill('SIGKILL');
        }, minKill + rand() * (maxKill - minKill));
      };
      let inFlight = 0;
      let wake: (() => void) | undefined;
      while (!killed) {
        while (inFlight < 500 && !killed) {
          const n = next++;
          inFlight++;
          published++;
          try {
            ch.publish(EXCHANGE, '', bodyOf(n), { persistent: true }, (err) => {
              inFlight--;
              if (err === null || err === undefined) {
                confirmedTotal++;
                for (const e of expected) e.add(n);
                armKill();
              }
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
      await child.exited;
      await conn.close().catch(() => {});
    } catch (err) {
      child.proc.kill('SIGKILL');
      await child.exited;
      throw err;
    }
  }
  return { published, confirmed: confirmedTotal, recovered, violations };
}
