/**
 * Rounds of faults against a three-member cluster under load, then a check that nothing confirmed was lost.
 * `node bench/dist/cluster/jepsen-main.js --rounds 20` runs the long version; tests/cluster runs a short one.
 */
import { LocalCluster, type MemberProcess } from './harness.js';
import { declareQueues, drain, newTally, outageAfter, readRetained, setRetained, startPublishers, verdict } from './workload.js';

/**
 * What goes wrong in a round: the leader is killed (SIGKILL), stopped (SIGSTOP past its lease), or cut off from
 * etcd; or one follower stops acknowledging (SIGSTOP past the ack timeout: its link stays open and silent, which is
 * what the leader sees of a partition between them), so the leader must drop it from the ISR and carry on.
 */
export type Fault = 'kill' | 'stop' | 'etcd-partition' | 'follower-stop';

/** Whether the fault hits the leader (and so a new leader must take over). */
const hitsLeader = (fault: Fault): boolean => fault !== 'follower-stop';

export interface JepsenOptions {
  rounds: number;
  faults: readonly Fault[];
  amqpPublishers: number;
  mqttPublishers: number;
  /** Load before the fault, ms (a random part of it, so the fault lands at a random moment). */
  loadMs: number;
  leaseTtl: number;
  ackTimeoutMs: number;
  log?: (line: string) => void;
}

export interface RoundResult {
  fault: Fault;
  /** The member the fault hit. */
  victim: string;
  oldLeader: string;
  newLeader: string;
  /** The longest time without a confirm around the fault, ms (see {@link outageAfter}). */
  failoverMs: number | undefined;
  /** The retained message set (and acknowledged) before the fault came back after it. */
  retainedKept: boolean;
  confirmed: number;
  unconfirmed: number;
  lost: number;
  duplicates: number;
  reconnects: number;
}

export interface JepsenReport {
  rounds: RoundResult[];
  lost: number;
  duplicates: number;
  confirmed: number;
  /** Rounds whose acknowledged retained message was gone after the fault. */
  retainedLost: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function injure(m: MemberProcess, fault: Fault, ttlMs: number, ackTimeoutMs: number): Promise<() => Promise<void>> {
  switch (fault) {
    case 'follower-stop':
      m.pause();
      await sleep(ackTimeoutMs * 3);
      return async () => m.resume();
    case 'kill':
      await m.kill();
      return () => m.start();
    case 'stop':
      m.pause();
      // Long enough for its lease to expire and another member to take over.
      await sleep(ttlMs * 2);
      return async () => m.resume();
    case 'etcd-partition':
      m.etcdLink.cut();
      return async () => m.etcdLink.heal();
  }
}

export async function runJepsen(options: JepsenOptions): Promise<JepsenReport> {
  const log = options.log ?? (() => {});
  const cluster = new LocalCluster(3, { leaseTtl: options.leaseTtl, ackTimeoutMs: options.ackTimeoutMs });
  const rounds: RoundResult[] = [];
  try {
    await cluster.start();
    await cluster.waitForIsr(3);
    await declareQueues(cluster);
    for (let r = 0; r < options.rounds; r++) {
      const fault = options.faults[r % options.faults.length]!;
      const tally = newTally();
      const publishers = startPublishers(cluster, tally, { amqp: options.amqpPublishers, mqtt: options.mqttPublishers });
      const leader = await cluster.waitForLeader();
      const retained = `round-${r + 1}-${Date.now()}`;
      await setRetained(cluster, 'jepsen/retained', retained);
      await sleep(options.loadMs / 2 + Math.random() * (options.loadMs / 2));
      const victim = hitsLeader(fault) ? leader : cluster.members.find((m) => m !== leader && m.running)!;
      const faultAt = Date.now();
      const heal = await injure(victim, fault, options.leaseTtl * 1000, options.ackTimeoutMs);
      const next = hitsLeader(fault) ? await cluster.waitForLeader(60_000, leader.name) : await cluster.waitForLeader();
      // Let the publishers find the new leader and confirm for a while.
      await sleep(options.loadMs / 2);
      await heal();
      await publishers.stop();
      const failoverMs = outageAfter(tally, faultAt);
      // Everyone back in sync before the next round (and before draining, so a member is never behind).
      await cluster.waitForIsr(3, 120_000);
      const now = await cluster.waitForLeader();
      const seen = await drain(now);
      const v = verdict(tally, seen);
      const retainedKept = (await readRetained(now, 'jepsen/retained')) === retained;
      const result: RoundResult = {
        fault,
        victim: victim.name,
        oldLeader: leader.name,
        newLeader: next.name,
        failoverMs,
        retainedKept,
        confirmed: tally.confirmed.size,
        unconfirmed: tally.unconfirmed,
        lost: v.lost.length,
        duplicates: v.duplicates,
        reconnects: tally.reconnects,
      };
      rounds.push(result);
      log(
        `round ${r + 1} ${fault} of ${victim.name}: leader ${leader.name} -> ${next.name}, failover ${result.failoverMs ?? '-'} ms, ` +
          `confirmed ${result.confirmed}, lost ${result.lost}${v.lost.length > 0 ? ` (${v.lost.slice(0, 5).join(' ')})` : ''}, ` +
          `duplicates ${result.duplicates}, unconfirmed ${result.unconfirmed}, reconnects ${result.reconnects}, ` +
          `retained message ${retainedKept ? 'kept' : 'LOST'}`,
      );
    }
  } catch (err) {
    for (const m of cluster.members) log(`--- ${m.name} log tail ---\n${m.log.slice(-4000)}`);
    throw err;
  } finally {
    await cluster.stop();
  }
  return {
    rounds,
    lost: rounds.reduce((a, r) => a + r.lost, 0),
    duplicates: rounds.reduce((a, r) => a + r.duplicates, 0),
    confirmed: rounds.reduce((a, r) => a + r.confirmed, 0),
    retainedLost: rounds.filter((r) => !r.retainedKept).length,
  };
}
