/**
 * Message-store measurements of the issue "Durable by default" (no network: the core is driven in-process, so the
 * figures are the broker's own memory and disk work):
 *
 *   node --expose-gc bench/dist/store-bench.js rss [count=10000000] [bodySize=100]
 *     Publish `count` persistent messages into one durable queue with no consumer; report the process RSS.
 *   node --expose-gc bench/dist/store-bench.js recovery [count=1000000] [bodySize=100]
 *     Publish `count` persistent messages, stop the broker, start a new one on the same data directory and time the
 *     recovery of the queue (the store logs its progress).
 *
 * Options after the positional ones: --dir D (data directory; default a temporary one, removed afterwards),
 * --budget BYTES (per-queue memory budget), --json.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Broker,
  FileMessageStore,
  type CoreChannel,
  type Logger,
} from '@warren/core';
import { FakeChannelHost, FakeConnectionHost, fakeConnectionInfo } from '@warren/core/testing';

const QUEUE = 'store-bench';

interface Args {
  mode: 'rss' | 'recovery';
  count: number;
  bodySize: number;
  dir: string | undefined;
  budget: number | undefined;
  json: boolean;
}

function parse(argv: string[]): Args {
  const pos = argv.filter((a, i) => !a.startsWith('--') && !(argv[i - 1] ?? '').match(/^--(dir|budget)$/));
  const flag = (n: string): string | undefined => {
    const i = argv.indexOf(`--${n}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const mode = pos[0];
  if (mode !== 'rss' && mode !== 'recovery') throw new Error('usage: store-bench.js rss|recovery [count] [bodySize] [--dir D] [--budget B] [--json]');
  const budget = flag('budget');
  return {
    mode,
    count: Number(pos[1] ?? (mode === 'rss' ? 10_000_000 : 1_000_000)),
    bodySize: Number(pos[2] ?? 100),
    dir: flag('dir'),
    budget: budget === undefined ? undefined : Number(budget),
    json: argv.includes('--json'),
  };
}

const progress: Logger = {
  debug() {},
  info: (o, m) => process.stderr.write(`${m ?? ''} ${typeof o === 'string' ? o : JSON.stringify(o)}\n`),
  warn: (o, m) => process.stderr.write(`WARN ${m ?? ''} ${JSON.stringify(o)}\n`),
  error: (o, m) => process.stderr.write(`ERROR ${m ?? ''} ${JSON.stringify(o)}\n`),
  child: () => progress,
};

function open(dir: string, budget: number | undefined): { broker: Broker; ch: CoreChannel; store: FileMessageStore } {
  const store = new FileMessageStore({ dir, logger: progress, ...(budget === undefined ? {} : { queueMemoryBytes: budget }) });
  const broker = new Broker({ store, logger: progress });
  const user = broker.authenticate('guest', 'guest', '127.0.0.1');
  const conn = broker.openConnection(fakeConnectionInfo(), user, '/', new FakeConnectionHost());
  const ch = conn.openChannel(new FakeChannelHost());
  return { broker, ch, store };
}

async function fill(ch: CoreChannel, count: number, bodySize: number): Promise<number> {
  const started = performance.now();
  const body = Buffer.alloc(bodySize, 0x2e);
  const properties = { deliveryMode: 2 };
  for (let i = 0; i < count; i++) {
    ch.publish({ exchange: '', routingKey: QUEUE, properties, rawProperties: undefined, body }, {});
    // Let the store write what it gathered, as it does between socket reads in a real broker.
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
    if (i % 1_000_000 === 999_999) process.stderr.write(`published ${i + 1}\n`);
  }
  await new Promise((r) => setImmediate(r));
  return (performance.now() - started) / 1000;
}

function du(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? du(p) : statSync(p).size;
  }
  return total;
}

function gcNow(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const dir = a.dir ?? mkdtempSync(join(tmpdir(), 'warren-store-bench-'));
  const out: Record<string, number | string> = { mode: a.mode, count: a.count, bodySize: a.bodySize };
  try {
    const first = open(dir, a.budget);
    first.ch.declareQueue(QUEUE, { durable: true });
    const fillS = await fill(first.ch, a.count, a.bodySize);
    out['publishSeconds'] = +fillS.toFixed(2);
    out['publishPerSecond'] = Math.round(a.count / fillS);
    gcNow();
    const mem = process.memoryUsage();
    out['rssMB'] = +(mem.rss / 1e6).toFixed(1);
    out['heapUsedMB'] = +(mem.heapUsed / 1e6).toFixed(1);
    out['diskMB'] = +(du(dir) / 1e6).toFixed(1);
    const q = first.broker.vhost('/')!.queues.get(QUEUE)!;
    out['queued'] = q.messageCount;
    if (a.mode === 'recovery') {
      first.broker.close();
      gcNow();
      const t0 = performance.now();
      const second = open(dir, a.budget);
      second.ch.declareQueue(QUEUE, { durable: true });
      out['recoverySeconds'] = +((performance.now() - t0) / 1000).toFixed(2);
      out['recovered'] = second.broker.vhost('/')!.queues.get(QUEUE)!.messageCount;
      second.broker.close();
    } else {
      first.broker.close();
    }
  } finally {
    if (a.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  if (a.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else for (const [k, v] of Object.entries(out)) process.stdout.write(`${k.padEnd(18)} ${v}\n`);
}

await main();
