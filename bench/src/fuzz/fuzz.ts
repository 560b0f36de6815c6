/**
 * Feed every codec and protocol adapter mutated copies of real client traffic and count what goes wrong.
 *
 *   npm run fuzz -- [--targets amqp-codec,mqtt-session,...] [--iterations N] [--seed S] [--from I] [--parallel P]
 *
 * Seeds are the captures in tests/fixtures/fuzz-seeds (scripts/capture-fuzz-seeds.mjs records them from amqplib,
 * mqtt.js, stompit and @stomp/stompjs). Each target runs in a worker thread; the main thread watches its progress:
 * - crash: an exception escapes the target (the worker dies);
 * - hang: no input finishes for --hang-ms (default 10 s; the worker is stopped);
 * - catch-all: an input ends in an error that is not the protocol's own refusal (targets.ts says which).
 * Input `i` of seed `S` is always the same bytes: `--seed S --from i --iterations 1 --verbose` replays one finding.
 * Exits non-zero when anything was found.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { mutate, rngFor } from './mutate.js';
import { CatchAll, TARGETS } from './targets.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository's seed captures (bench/dist/fuzz → repository root). */
export const SEEDS_DIR = path.resolve(HERE, '../../../tests/fixtures/fuzz-seeds');

export interface FuzzOptions {
  targets: readonly string[];
  /** Inputs per target; default 1,000,000 for codecs and 100,000 for whole adapters. */
  iterations?: number;
  seed: number;
  from: number;
  hangMs: number;
  parallel: number;
  seedsDir: string;
  /** Called with a line of progress now and then. */
  progress?: (line: string) => void;
}

export interface Finding {
  kind: 'crash' | 'hang' | 'catch-all';
  target: string;
  /** The input's index (replay with --from). */
  index: number;
  message: string;
}

export interface TargetResult {
  target: string;
  inputs: number;
  seconds: number;
  crashes: number;
  hangs: number;
  catchAlls: number;
  /** The first findings (at most 20 per target). */
  findings: Finding[];
}

interface WorkerInput {
  target: string;
  iterations: number;
  seed: number;
  from: number;
  seedsDir: string;
  progress: SharedArrayBuffer;
}

type WorkerMessage = { kind: 'catch-all'; index: number; message: string } | { kind: 'done' };

function loadSeeds(dir: string, prefixes: readonly string[]): Array<{ name: string; bytes: Buffer }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && prefixes.some((p) => f.startsWith(p)))
    .sort()
    .map((f) => {
      const rec = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { chunks: string[] };
      return { name: f, bytes: Buffer.concat(rec.chunks.map((c) => Buffer.from(c, 'base64'))) };
    });
}

/** The worker: run one target over its inputs, counting progress in shared memory. */
async function workerMain(input: WorkerInput): Promise<void> {
  const target = TARGETS[input.target]!();
  const seeds = loadSeeds(input.seedsDir, target.seeds).map((s) => (target.prepare ? target.prepare(s.bytes) : s.bytes));
  if (seeds.length === 0) throw new Error(`no seeds for ${input.target} in ${input.seedsDir}`);
  const done = new Int32Array(input.progress);
  for (let i = input.from; i < input.from + input.iterations; i++) {
    const rng = rngFor(input.seed, i);
    const seed = seeds[rng.below(seeds.length)]!;
    const chunks = mutate(rng, seed, seeds);
    try {
      await target.run(chunks);
    } catch (err) {
      if (!(err instanceof CatchAll)) throw err;
      parentPort!.postMessage({ kind: 'catch-all', index: i, message: err.message } satisfies WorkerMessage);
    }
    Atomics.store(done, 0, i - input.from + 1);
  }
  await target.close?.();
  parentPort!.postMessage({ kind: 'done' } satisfies WorkerMessage);
}

function runTarget(target: string, opts: FuzzOptions): Promise<TargetResult> {
  const iterations = opts.iterations ?? (target.endsWith('-codec') ? 1_000_000 : 100_000);
  const progress = new SharedArrayBuffer(4);
  const done = new Int32Array(progress);
  const result: TargetResult = { target, inputs: 0, seconds: 0, crashes: 0, hangs: 0, catchAlls: 0, findings: [] };
  const note = (f: Finding): void => {
    if (result.findings.length < 20) result.findings.push(f);
  };
  const t0 = performance.now();
  const worker = new Worker(fileURLToPath(import.meta.url), {
    workerData: { target, iterations, seed: opts.seed, from: opts.from, seedsDir: opts.seedsDir, progress } satisfies WorkerInput,
    // A runaway input must not take the machine's memory with it.
    resourceLimits: { maxOldGenerationSizeMb: 2048 },
    // The built packages, whatever resolution conditions the parent runs under (vitest resolves to the sources).
    execArgv: [],
  });
  return new Promise((resolve) => {
    let last = -1;
    let lastChange = performance.now();
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearInterval(watch);
      result.inputs = Atomics.load(done, 0);
      result.seconds = (performance.now() - t0) / 1000;
      resolve(result);
    };
    const watch = setInterval(() => {
      const now = Atomics.load(done, 0);
      if (now !== last) {
        if (last >= 0 && opts.progress && Math.floor(now / 100_000) !== Math.floor(last / 100_000)) {
          opts.progress(`${target}: ${now} inputs, ${result.catchAlls} catch-alls`);
        }
        last = now;
        lastChange = performance.now();
        return;
      }
      if (performance.now() - lastChange < opts.hangMs) return;
      result.hangs++;
      note({ kind: 'hang', target, index: opts.from + now, message: `no progress for ${opts.hangMs} ms` });
      void worker.terminate().then(finish);
    }, 250);
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'done') return;
      result.catchAlls++;
      note({ kind: 'catch-all', target, index: m.index, message: m.message });
    });
    worker.on('error', (err) => {
      result.crashes++;
      note({ kind: 'crash', target, index: opts.from + Atomics.load(done, 0), message: err.stack ?? String(err) });
    });
    worker.on('exit', finish);
  });
}

/** Run the targets, `parallel` at a time. */
export async function runFuzz(opts: FuzzOptions): Promise<TargetResult[]> {
  const queue = [...opts.targets];
  for (const t of queue) if (TARGETS[t] === undefined) throw new Error(`unknown target ${t}; known: ${Object.keys(TARGETS).join(', ')}`);
  const results: TargetResult[] = [];
  const lane = async (): Promise<void> => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) results.push(await runTarget(t, opts));
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, lane));
  return results.sort((a, b) => opts.targets.indexOf(a.target) - opts.targets.indexOf(b.target));
}

function parseArgs(argv: readonly string[]): FuzzOptions & { verbose: boolean } {
  const opts: FuzzOptions & { verbose: boolean } = {
    targets: Object.keys(TARGETS),
    seed: 1,
    from: 0,
    hangMs: 10_000,
    parallel: 2,
    seedsDir: SEEDS_DIR,
    verbose: false,
    progress: (line) => console.error(line),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--targets') opts.targets = v().split(',');
    else if (a === '--iterations') opts.iterations = Number(v());
    else if (a === '--seed') opts.seed = Number(v());
    else if (a === '--from') opts.from = Number(v());
    else if (a === '--hang-ms') opts.hangMs = Number(v());
    else if (a === '--parallel') opts.parallel = Number(v());
    else if (a === '--seeds') opts.seedsDir = path.resolve(v());
    else if (a === '--verbose') opts.verbose = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const results = await runFuzz(opts);
  console.log('target             inputs     seconds   inputs/s  crashes  hangs  catch-alls');
  for (const r of results) {
    console.log(
      `${r.target.padEnd(18)} ${String(r.inputs).padStart(9)} ${r.seconds.toFixed(1).padStart(9)} ${Math.round(r.inputs / r.seconds).toString().padStart(10)} ${String(r.crashes).padStart(8)} ${String(r.hangs).padStart(6)} ${String(r.catchAlls).padStart(11)}`,
    );
  }
  console.log(`seed ${opts.seed}, total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const findings = results.flatMap((r) => r.findings);
  for (const f of opts.verbose ? findings : findings.slice(0, 20)) console.log(`${f.kind} ${f.target} input ${f.index}: ${f.message}`);
  process.exitCode = findings.length > 0 ? 1 : 0;
}

if (!isMainThread) {
  void workerMain(workerData as WorkerInput);
} else if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(2);
  });
}
