/**
 * Deleting a vhost deletes its queues for good: their stores close, so their directories (segment
 * and ack files) are removed and their file handles released, while other vhosts' queues keep theirs.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FileMessageStore } from '@warren/core';
import { makeMessage, TestBroker } from '@warren/core/testing';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warren-vhost-delete-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Queue directories under messages/queues. */
function queueDirs(): string[] {
  return readdirSync(join(dir, 'queues'));
}

/** Open file descriptors of this process pointing into the data directory (Linux /proc). */
function openFilesUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(prefix)) out.push(target);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

it('deleteVhost removes its durable queues\' files and closes their file handles; other vhosts keep theirs', async () => {
  const store = new FileMessageStore({ dir });
  const tb = new TestBroker({ store, vhosts: ['/', 'doomed'] });
  try {
    const keep = tb.channel(tb.connect('guest', 'guest', '/').conn);
    const doomed = tb.channel(tb.connect('guest', 'guest', 'doomed').conn);
    keep.ch.declareQueue('stay', { durable: true });
    doomed.ch.declareQueue('d1', { durable: true });
    doomed.ch.declareQueue('d2', { durable: true });
    for (const [c, q] of [[keep, 'stay'], [doomed, 'd1'], [doomed, 'd2']] as const) {
      c.ch.publish(makeMessage('', q, 'x', { deliveryMode: 2 }), {});
    }
    store.flushNow();
    expect(queueDirs()).toHaveLength(3);
    const queuesDir = join(dir, 'queues');
    expect(openFilesUnder(queuesDir).length).toBeGreaterThanOrEqual(3);

    expect(tb.broker.deleteVhost('doomed')).toBe(true);

    // The deleted queues' directories go to trash (removed in the background); only 'stay' remains.
    expect(queueDirs()).toHaveLength(1);
    await until(() => readdirSync(join(dir, 'trash')).length === 0, 'trash emptied');
    const stillOpen = openFilesUnder(queuesDir);
    expect(stillOpen.every((f) => f.startsWith(join(queuesDir, queueDirs()[0]!)))).toBe(true);
    expect(openFilesUnder(join(dir, 'trash'))).toEqual([]);
    expect(tb.broker.vhost('doomed')).toBeUndefined();
    expect(keep.ch.get('stay', true)?.delivery.message.body.toString()).toBe('x');
  } finally {
    tb.close();
  }
});
