import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  EtcdCoordinator,
  FencedError,
  LeaseLostError,
  type CoordinatorLogger,
  type LeaderInfo,
  type MemberInfo,
} from './coordinator.js';
import { startEtcd, type TestEtcd } from './testing/etcd.js';

const silent: CoordinatorLogger = { debug() {}, info() {}, warn() {}, error() {} };

function info(node: string, n = 0): MemberInfo {
  return { node, host: '127.0.0.1', replicationPort: 7000 + n, ports: { amqp: 5000 + n, management: 6000 + n } };
}

/** A promise with its settlement observable without awaiting it. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise: p, settled: () => settled };
}

/** Resolve once `cond()` holds, re-checked on every 'leader' event of `c` (no polling). */
function leaderSeen(c: EtcdCoordinator, cond: (l: LeaderInfo | undefined) => boolean): Promise<LeaderInfo | undefined> {
  return new Promise((resolve) => {
    if (cond(c.leader())) return resolve(c.leader());
    const off = c.onLeader((l) => {
      if (!cond(l)) return;
      off();
      resolve(l);
    });
  });
}

describe('EtcdCoordinator', () => {
  let etcd: TestEtcd;
  let admin: Etcd3;
  let cluster: string;
  const open: EtcdCoordinator[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    admin = new Etcd3({ hosts: etcd.endpoint });
  });
  afterAll(async () => {
    admin.close();
    await etcd.stop();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  /** How many Range and Txn calls etcd has started so far (its Prometheus metrics). */
  async function kvReadsAndTxns(): Promise<number> {
    const text = await (await fetch(`${etcd.endpoint}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (/^grpc_server_started_total\{grpc_method="(Range|Txn)",grpc_service="etcdserverpb\.KV"/.test(line)) {
        sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  function coordinator(node: string, leaseTtlSeconds = 2): EtcdCoordinator {
    const c = new EtcdCoordinator({ endpoints: [etcd.endpoint], cluster, node, leaseTtlSeconds, logger: silent });
    open.push(c);
    return c;
  }

  async function started(...nodes: string[]): Promise<EtcdCoordinator[]> {
    cluster = `t-${randomUUID()}`;
    const cs = nodes.map((n) => coordinator(n));
    await Promise.all(cs.map((c, i) => c.start(info(c.node, i))));
    return cs;
  }

  it('registers members under their leases and elects exactly one leader, whom the others see', async () => {
    const cs = await started('a', 'b', 'c');
    expect((await cs[0]!.members()).map((m) => m.node).sort()).toEqual(['a', 'b', 'c']);
    expect(await admin.get(`/warren/${cluster}/members/b`).json()).toEqual(info('b', 1));

    const campaigns = cs.map((c) => track(c.campaign()));
    const epoch = await Promise.race(campaigns.map((t) => t.promise));
    const winners = cs.filter((c) => c.epoch !== undefined);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    expect(winner.epoch).toBe(epoch);
    const raw = await admin.get(`/warren/${cluster}/leader`).exec();
    expect(Number(raw.kvs[0]!.create_revision)).toBe(epoch);

    for (const c of cs) {
      const seen = await leaderSeen(c, (l) => l !== undefined);
      expect(seen).toEqual({ ...info(winner.node, cs.indexOf(winner)), epoch });
    }
    // The losers saw the winner's key and are waiting for it to go; one more round trip for good measure.
    await cs[0]!.readIsr();
    expect(campaigns.filter((t) => t.settled())).toHaveLength(1);
  });

  it('after the leader closes, an ISR member wins with a larger epoch', async () => {
    const [a, b, c] = await started('a', 'b', 'c');
    const first = await a!.campaign();
    await a!.setIsr(['a', 'b', 'c']);
    expect(await b!.readIsr()).toEqual(['a', 'b', 'c']);

    const rest = [track(b!.campaign()), track(c!.campaign())];
    await leaderSeen(b!, (l) => l?.node === 'a');
    await a!.close();
    const second = await Promise.race(rest.map((t) => t.promise));
    expect(second).toBeGreaterThan(first);
    const next = [b!, c!].find((x) => x.epoch === second)!;
    for (const x of [b!, c!]) expect((await leaderSeen(x, (l) => l?.epoch === second))?.node).toBe(next.node);
    expect(rest.filter((t) => t.settled())).toHaveLength(1);
  });

  it('after the leader stops renewing its lease (a crash), another member wins once the lease expires', async () => {
    cluster = `t-${randomUUID()}`;
    const a = coordinator('a', 1);
    const b = coordinator('b');
    await a.start(info('a'));
    await b.start(info('b', 1));
    const first = await a.campaign();
    await a.setIsr(['a', 'b']);
    const pending = track(b.campaign());
    await leaderSeen(b, (l) => l?.node === 'a');
    await a.close({ revoke: false });
    // Still a's key until etcd expires the lease.
    expect(await admin.get(`/warren/${cluster}/leader`).json()).toMatchObject({ node: 'a' });
    const second = await pending.promise;
    expect(second).toBeGreaterThan(first);
    expect(b.leader()).toMatchObject({ node: 'b', epoch: second });
  });

  it('a node missing from the ISR does not win while one in it can; an operator deleting the ISR key lets it', async () => {
    const [a, b, c] = await started('a', 'b', 'c');
    await a!.campaign();
    await a!.setIsr(['a', 'b']);
    // c campaigns first, so it would win a plain race.
    const cCampaign = track(c!.campaign());
    await leaderSeen(c!, (l) => l?.node === 'a');
    const bCampaign = track(b!.campaign());
    await leaderSeen(b!, (l) => l?.node === 'a');
    await a!.close();

    const bEpoch = await bCampaign.promise;
    await leaderSeen(c!, (l) => l?.epoch === bEpoch);
    expect(cCampaign.settled()).toBe(false);

    // The new leader's ISR write wakes c, which still may not win while b leads.
    await b!.setIsr(['b']);
    expect(await c!.readIsr()).toEqual(['b']);
    expect(cCampaign.settled()).toBe(false);

    // Waiting is a watch, not a loop: 50 unrelated writes later, c has asked etcd (almost) nothing. A late wake-up
    // from the ISR write above may cost one more read of both keys; a polling loop would show dozens.
    const before = await kvReadsAndTxns();
    for (let i = 0; i < 50; i++) await admin.put('/elsewhere/tick').value(String(i));
    expect((await kvReadsAndTxns()) - before).toBeLessThanOrEqual(4);

    // b goes, but c is not in the ISR: no leader until an operator forces it.
    await b!.close();
    await leaderSeen(c!, (l) => l === undefined);
    await c!.readIsr();
    expect(cCampaign.settled()).toBe(false);
    await admin.delete().key(`/warren/${cluster}/isr`);
    expect(await cCampaign.promise).toBeGreaterThan(bEpoch);
  });

  it('an ISR update by a node that is not the leader is fenced', async () => {
    const [a, b] = await started('a', 'b');
    await expect(b!.setIsr(['b'])).rejects.toBeInstanceOf(FencedError);
    const epoch = await a!.campaign();
    await a!.setIsr(['a', 'b']);
    await expect(b!.setIsr(['b'])).rejects.toBeInstanceOf(FencedError);

    // The leader key deleted behind a's back (an operator, or an expired lease): a is fenced.
    const gone = leaderSeen(a!, (l) => l === undefined);
    await admin.delete().key(`/warren/${cluster}/leader`);
    await expect(a!.setIsr(['a'])).rejects.toBeInstanceOf(FencedError);
    await gone;
    await expect(a!.setIsr(['a'])).rejects.toBeInstanceOf(FencedError);
    expect(await a!.readIsr()).toEqual(['a', 'b']);

    // b takes over; a's old epoch stays fenced even though a campaigns again later.
    const bEpoch = await b!.campaign();
    expect(bEpoch).toBeGreaterThan(epoch);
    await b!.setIsr(['b']);
    expect(await a!.readIsr()).toEqual(['b']);
  });

  it('fences a stale epoch in etcd itself: an ISR write conditioned on an old epoch fails', async () => {
    // What setIsr's transaction relies on, checked without the coordinator's local knowledge getting in the way.
    const [a, b] = await started('a', 'b');
    const epoch = await a!.campaign();
    const pending = b!.campaign();
    await a!.resign();
    const bEpoch = await pending;
    const stale = await admin
      .if(`/warren/${cluster}/leader`, 'Create', '==', epoch)
      .then(admin.put(`/warren/${cluster}/isr`).value('["a"]'))
      .commit();
    expect(stale.succeeded).toBe(false);
    const current = await admin
      .if(`/warren/${cluster}/leader`, 'Create', '==', bEpoch)
      .then(admin.put(`/warren/${cluster}/isr`).value('["b"]'))
      .commit();
    expect(current.succeeded).toBe(true);
  });

  it('emits leader changes, including undefined when the key goes, and resign hands over', async () => {
    const [a, b] = await started('a', 'b');
    const seenByB: (string | undefined)[] = [];
    b!.onLeader((l) => seenByB.push(l?.node));
    await a!.campaign();
    const pending = b!.campaign();
    await leaderSeen(b!, (l) => l?.node === 'a');
    await a!.resign();
    expect(a!.epoch).toBeUndefined();
    await pending;
    await leaderSeen(a!, (l) => l?.node === 'b');
    expect(seenByB).toEqual(['a', undefined, 'b']);
  });

  it('a pending campaign rejects when the coordinator closes', async () => {
    const [a, b] = await started('a', 'b');
    await a!.campaign();
    const pending = b!.campaign();
    await leaderSeen(b!, (l) => l?.node === 'a');
    const rejected = expect(pending).rejects.toBeInstanceOf(LeaseLostError);
    await b!.close();
    await rejected;
  });
});

describe('EtcdCoordinator lease loss', () => {
  let etcd: TestEtcd | undefined;
  afterEach(async () => {
    etcd?.resume();
    await etcd?.stop();
  });

  it('a leader cut off from etcd for longer than the TTL reports lost, is fenced, and can rejoin', async () => {
    etcd = await startEtcd();
    const a = new EtcdCoordinator({
      endpoints: [etcd.endpoint],
      cluster: 'loss',
      node: 'a',
      leaseTtlSeconds: 2,
      logger: silent,
    });
    const b = new EtcdCoordinator({
      endpoints: [etcd.endpoint],
      cluster: 'loss',
      node: 'b',
      leaseTtlSeconds: 2,
      logger: silent,
    });
    try {
      await a.start(info('a'));
      await b.start(info('b', 1));
      const epoch = await a.campaign();
      const lost = new Promise<Error>((resolve) => a.onLost(resolve));
      const bLost = new Promise<Error>((resolve) => b.onLost(resolve));
      etcd.pause();
      // b's campaign is stuck in a call etcd does not answer: it still ends when b's lease is lost.
      const bCampaign = expect(b.campaign()).rejects.toBeInstanceOf(LeaseLostError);
      const reason = await lost;
      await bLost;
      await bCampaign;
      // The local deadline (TTL minus a margin after the last answered keepalive), not etcd3's own detection, which
      // only gives up at twice the TTL: a cut-off leader must stop before etcd can expire its lease.
      expect(reason).toBeInstanceOf(LeaseLostError);
      expect(a.epoch).toBeUndefined();
      await expect(a.setIsr(['a'])).rejects.toBeInstanceOf(FencedError);
      await expect(a.campaign()).rejects.toBeInstanceOf(LeaseLostError);
      etcd.resume();

      // Rejoin with a new lease. The old leader key goes with the old lease, so a wins again, in a later epoch.
      await a.start(info('a'));
      const again = await a.campaign();
      expect(again).toBeGreaterThan(epoch);
      expect(a.leader()).toMatchObject({ node: 'a', epoch: again });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('close does not hang while etcd is unreachable', async () => {
    etcd = await startEtcd();
    const a = new EtcdCoordinator({
      endpoints: [etcd.endpoint],
      cluster: 'close',
      node: 'a',
      leaseTtlSeconds: 2,
      logger: silent,
    });
    await a.start(info('a'));
    await a.campaign();
    etcd.pause();
    await a.close();
    await expect(a.campaign()).rejects.toBeInstanceOf(LeaseLostError);
  });
});
