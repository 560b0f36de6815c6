/**
 * The fuzzer (npm run fuzz) stays runnable, and a short run of each target finds nothing: a catch-all, crash or hang
 * that comes back fails here, with the input index to replay (`npm run fuzz -- --targets T --from I --iterations 1`).
 */
import { describe, expect, it } from 'vitest';

describe('fuzz: a short run of every target', () => {
  it('mutated captures of real clients end in no crash, hang or catch-all error', async () => {
    // The fuzzer's workers run from the build.
    const { runFuzz, SEEDS_DIR } = await import('../../bench/dist/fuzz/fuzz.js');
    const { TARGETS } = await import('../../bench/dist/fuzz/targets.js');
    const results = await runFuzz({ targets: Object.keys(TARGETS), iterations: 400, seed: 7, from: 0, hangMs: 20_000, parallel: 1, seedsDir: SEEDS_DIR });
    expect(results.map((r) => r.target)).toEqual(Object.keys(TARGETS));
    for (const r of results) expect({ target: r.target, inputs: r.inputs, findings: r.findings }).toEqual({ target: r.target, inputs: 400, findings: [] });
  }, 120_000);
});
