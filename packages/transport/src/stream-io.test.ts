import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { OutboundWriter, type OutboundStream } from './outbound-writer.js';
import { StreamIo } from './stream-io.js';
import { streamPair } from './stream-pair.js';

describe('StreamIo', () => {
  it('writes through the batching writer, pauses and resumes reading, and destroys the stream', async () => {
    const [server, client] = streamPair();
    const io = new StreamIo(server, new OutboundWriter(server as unknown as OutboundStream));
    const got: string[] = [];
    client.on('data', (c: Buffer) => got.push(c.toString()));
    io.write(Buffer.from('a'));
    io.write(Buffer.from('b'));
    expect(io.writable).toBe(true);
    await nextTurn();
    expect(got).toEqual(['ab']);
    io.pause();
    expect(server.isPaused()).toBe(true);
    io.resume();
    expect(server.isPaused()).toBe(false);
    const closed = new Promise((r) => client.once('close', r));
    io.destroy();
    await closed;
    expect(server.destroyed).toBe(true);
  });

  it('end() sends what is batched plus the last bytes, then half-closes', async () => {
    const [server, client] = streamPair();
    const io = new StreamIo(server, new OutboundWriter(server as unknown as OutboundStream));
    const got: string[] = [];
    client.on('data', (c: Buffer) => got.push(c.toString()));
    const ended = new Promise((r) => client.once('end', r));
    io.write(Buffer.from('x'));
    io.end(Buffer.from('bye'));
    await ended;
    expect(got.join('')).toBe('xbye');
  });
});
