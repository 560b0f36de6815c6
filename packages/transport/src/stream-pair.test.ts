import { describe, expect, it } from 'vitest';
import { streamPair } from './stream-pair.js';

describe('streamPair', () => {
  it('carries bytes both ways, and ending or destroying one end reaches the other', async () => {
    const [a, b] = streamPair();
    const got: string[] = [];
    b.on('data', (c: Buffer) => got.push(`b:${c.toString()}`));
    a.on('data', (c: Buffer) => got.push(`a:${c.toString()}`));
    a.write('ping');
    b.write('pong');
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['b:ping', 'a:pong']);
    const ended = new Promise((r) => b.once('end', r));
    a.end();
    await ended;
    const closed = new Promise((r) => a.once('close', r));
    b.destroy();
    await closed;
    expect(a.destroyed).toBe(true);
  });
});
