/**
 * Summarise a V8 `.cpuprofile` (node --cpu-prof): the functions with the most self time, and the same grouped by
 * source file, so a profile of the broker child can be read without a browser.
 * Usage: `node bench/dist/web/cpu-profile-top.js FILE.cpuprofile [N]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self-time share per function and per file, largest first. */
export function topFrames(
  profile: { nodes: ProfileNode[]; samples?: number[] },
  n = 25,
): { functions: Array<[string, number]>; files: Array<[string, number]> } {
  const hits = new Map<number, number>();
  for (const id of profile.samples ?? []) hits.set(id, (hits.get(id) ?? 0) + 1);
  let total = 0;
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const h = hits.get(node.id) ?? node.hitCount ?? 0;
    if (h === 0) continue;
    total += h;
    const f = node.callFrame;
    const file = f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|packages)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'}  ${file}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + h);
    const fileKey = file === '' ? f.functionName : file;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + h);
  }
  const top = (m: Map<string, number>): Array<[string, number]> =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, (100 * v) / Math.max(total, 1)]);
  return { functions: top(byFn), files: top(byFile) };
}

const file = process.argv[2];
if (file !== undefined && process.argv[1]?.endsWith('cpu-profile-top.js')) {
  const { functions, files } = topFrames(JSON.parse(readFileSync(file, 'utf8')), Number(process.argv[3] ?? 25));
  process.stdout.write('self time by function\n');
  for (const [k, pct] of functions) process.stdout.write(`${pct.toFixed(1).padStart(6)}%  ${k}\n`);
  process.stdout.write('\nself time by file\n');
  for (const [k, pct] of files) process.stdout.write(`${pct.toFixed(1).padStart(6)}%  ${k}\n`);
}
