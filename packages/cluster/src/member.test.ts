import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@warren/core';
import { ClusterMember, type ClusterMemberOptions } from './member.js';
import { startEtcd, type TestEtcd } from './testing/etcd.js';
import { waitFor } from './testing/link-harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A member whose "broker" only records that it runs. */
function member(etcd: TestEtcd, node: string, extra: Partial<ClusterMemberOptions> = {}): { m: ClusterMember; broker: { running: boolean; starts: number } } {
  const dataDir = mkdtempSync(join(tmpdir(), `warren-member-${node}-`));
  const broker = { running: false, starts: 0 };
  const m = new ClusterMember({
    etcd: [etcd.endpoint],
    cluster: 'test',
    node,
    advertiseHost: '127.0.0.1',
    bindHost: '127.0.0.1',
    replicationPort: 0,
    leaseTtlSeconds: 2,
    ackTimeoutMs: 1000,
    secret: 's',
    dataDir,
    clientPorts: {},
    logger: silentLogger,
    startBroker: async () => {
      broker.running = true;
      broker.starts++;
      return {
        stop: async () => {
          broker.running = false;
        },
      };
    },
    ...extra,
  });
  cleanups.push(async () => {
    await m.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { m, broker };
}

describe('cluster member', () => {
  it('a leader whose disk stalls gives up its lease, and an in-sync follower takes over', async () => {
    const etcd = await startEtcd();
    cleanups.push(() => etcd.stop());
    let stalled = false;
    const a = member(etcd, 'a', { diskProbe: () => (stalled ? new Promise<void>(() => {}) : Promise.resolve()) });
    await a.m.start();
    await waitFor(() => a.m.role === 'leader' && a.broker.running, 15_000, 'a leads');
    const b = member(etcd, 'b');
    await b.m.start();
    await waitFor(() => b.m.role === 'follower', 15_000, 'b follows');
    let status = await a.m.status();
    for (let i = 0; i < 150 && !status.isr.includes('b'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await a.m.status();
    }
    expect(status.isr.sort()).toEqual(['a', 'b']);
    expect(b.broker.starts).toBe(0);

    stalled = true;
    await waitFor(() => b.m.role === 'leader' && b.broker.running, 20_000, 'b takes over');
    await waitFor(() => !a.broker.running && a.m.role !== 'leader', 20_000, 'a stops serving');
    const after = await b.m.status();
    expect(after.leader?.node).toBe('b');
    expect(after.epoch).toBeGreaterThan(status.epoch!);
  }, 60_000);
});
