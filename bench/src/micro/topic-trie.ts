/**
 * Micro-benchmark of @warren/core's TopicTrie (STYLE.md habit 7: "benchmark the trie with 100k bindings").
 *
 * Run after a build: `node bench/dist/micro/topic-trie.js [bindings] [seconds]` (defaults 100000 and 2).
 * Reports bind rate, match rate with a warm cache (1,000 hot routing keys), match rate with a cold cache (every key
 * distinct, bypassing the cache) and the average number of matches per key. Bindings and keys come from the same
 * seeded tenant.region.service.level workload as the end-to-end topic scenario.
 */
import { TopicTrie } from '@warren/core';
import { topicWorkload } from '../runner.js';

function rate(label: string, seconds: number, body: (i: number) => void): number {
  const deadline = performance.now() + seconds * 1000;
  let i = 0;
  const t0 = performance.now();
  // Check the clock every 1,000 calls so timing overhead stays out of the figure.
  while (performance.now() < deadline) for (let j = 0; j < 1000; j++) body(i++);
  const perS = i / ((performance.now() - t0) / 1000);
  process.stdout.write(`${label.padEnd(44)} ${Math.round(perS).toLocaleString('en-US').padStart(14)} /s\n`);
  return perS;
}

function main(): void {
  const bindings = Number(process.argv[2] ?? 100_000);
  const seconds = Number(process.argv[3] ?? 2);
  const w = topicWorkload(1000, bindings, 1000);
  const cold = topicWorkload(1000, 1, 200_000).routingKeys;

  const t0 = performance.now();
  const trie = new TopicTrie<number>();
  for (const [q, key] of w.bindings) trie.add(key, q);
  const addS = (performance.now() - t0) / 1000;
  process.stdout.write(`TopicTrie, ${bindings.toLocaleString('en-US')} bindings over 1,000 queues\n`);
  process.stdout.write(`${'add'.padEnd(44)} ${Math.round(bindings / addS).toLocaleString('en-US').padStart(14)} /s\n`);

  let matched = 0;
  for (const k of w.routingKeys) matched += trie.match(k).length;
  process.stdout.write(`${'matches per routing key (avg)'.padEnd(44)} ${(matched / w.routingKeys.length).toFixed(2).padStart(14)}\n`);

  const hot = w.routingKeys;
  let sink = 0;
  rate('match, 1,000 hot keys (cache warm)', seconds, (i) => {
    sink += trie.match(hot[i % hot.length] as string).length;
  });
  rate('match, 200,000 distinct keys (cache cold)', seconds, (i) => {
    sink += trie.match(cold[i % cold.length] as string).length;
  });
  if (sink < 0) process.stdout.write('unreachable\n');
}

main();
