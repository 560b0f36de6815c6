/**
 * The store keeps and reads back plain data (message records, definitions records, stream chunks); the model
 * (broker, vhosts, exchanges, queues, channels, policies) turns itself into that data and back. So no file of the
 * store imports the model, and a later replicated store can plug in without dragging it along.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const MODEL = /from '\.\.\/(vhost|broker|channel|connection|runtime-parameters)\.js'|from '\.\.\/(exchange|policy)\/|from '\.\.\/queue\/(queue|consumers)\.js'/;

describe('store boundary', () => {
  it('no store module imports the model', () => {
    const dir = new URL('./', import.meta.url);
    const offenders: string[] = [];
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
      const text = readFileSync(new URL(file, dir), 'utf8');
      for (const line of text.split('\n')) if (MODEL.test(line)) offenders.push(`${file}: ${line.trim()}`);
    }
    expect(offenders).toEqual([]);
  });
});
