/**
 * The long Jepsen-style run and the cluster figures:
 *
 *   node bench/dist/cluster/jepsen-main.js [--rounds 20] [--faults kill,stop,etcd-partition,follower-stop] [--throughput-s 10]
 *                                          [--catchup-mb 1024] [--skip-rounds] [--skip-throughput] [--skip-catchup]
 *
 * Needs etcd on PATH (Debian: etcd-server) and a build (`npm run build`). Prints every round, then failover times
 * (median, max), confirmed msgs/s with three members against a single node in the same run, and the catch-up time of
 * a member that was down while `--catchup-mb` were written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { freePort, LocalCluster, MemberProcess } from './harness.js';
import { runJepsen, type Fault } from './jepsen.js';
import { declareQueues, newTally, startPublishers, type Members } from './workload.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const value = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => console.log(line);

async function throughput(members: Members, seconds: number): Promise<number> {
  const tally = newTally();
  const pubs = startPublishers(members, tally, { amqp: 10, mqtt: 0, window: 50 });
  // A second of warm-up is not counted.
  await sleep(1000);
  const from = tally.confirmed.size;
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const rate = ((tally.confirmed.size - from) * 1000) / (Date.now() - t0);
  await pubs.stop();
  return rate;
}

async function singleNode(seconds: number): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'warren-single-'));
  const node = new MemberProcess(
    'single',
    { amqp: await freePort(), mqtt: await freePort(), stomp: await freePort(), management: await freePort(), cluster: 0 },
    0,
    { cluster: '', leaseTtl: 0, ackTimeoutMs: 0, dataRoot: root, logLevel: 'warn', single: true },
  );
  try {
    await node.start();
    const members = { members: [node] };
    await declareQueues(members);
    return await throughput(members, seconds);
  } finally {
    await node.kill();
    await node.etcdLink.close();
    rmSync(root, { recursive: true, force: true });
  }
}

async function clusterThroughput(seconds: number): Promise<number> {
  const cluster = new LocalCluster(3, { logLevel: 'warn' });
  try {
    await cluster.start();
    await cluster.waitForIsr(3);
    await declareQueues(cluster);
    return await throughput(cluster, seconds);
  } finally {
    await cluster.stop();
  }
}

/** A follower is down while `mb` MiB are written; then time from its restart until it is in sync again. */
async function catchUp(mb: number): Promise<{ ms: number; mb: number }> {
  const cluster = new LocalCluster(3, { logLevel: 'warn' });
  try {
    await cluster.start();
    await cluster.waitForIsr(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await follower.kill();
    await cluster.waitForIsr(2);
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${leader.ports.amqp}`);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('catch-up', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const body = Buffer.alloc(256 * 1024, 7);
    const count = Math.ceil((mb * 1024 * 1024) / body.length);
    for (let i = 0; i < count; i++) {
      ch.sendToQueue('catch-up', body, { persistent: true });
      if (i % 32 === 31) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
    await conn.close();
    const t0 = Date.now();
    await follower.start();
    await cluster.waitForIsr(3, 30 * 60_000);
    return { ms: Date.now() - t0, mb: (count * body.length) / 1024 / 1024 };
  } finally {
    await cluster.stop();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
};

if (!flag('skip-rounds')) {
  const report = await runJepsen({
    rounds: Number(value('rounds', '20')),
    faults: value('faults', 'kill,stop,etcd-partition,follower-stop').split(',') as Fault[],
    amqpPublishers: 10,
    mqttPublishers: 2,
    loadMs: 3000,
    leaseTtl: Number(value('lease-ttl', '2')),
    ackTimeoutMs: 1000,
    log,
  });
  log(`rounds ${report.rounds.length}: confirmed ${report.confirmed}, LOST ${report.lost}, duplicates ${report.duplicates}, retained messages lost ${report.retainedLost}`);
  for (const fault of new Set(report.rounds.map((r) => r.fault))) {
    const f = report.rounds.filter((r) => r.fault === fault && r.failoverMs !== undefined).map((r) => r.failoverMs!);
    log(`failover after ${fault}: median ${median(f)} ms, max ${Math.max(...f)} ms (${f.length} rounds)`);
  }
  const leaderRounds = report.rounds.filter((r) => r.fault !== 'follower-stop' && r.failoverMs !== undefined).map((r) => r.failoverMs!);
  log(`failover over the ${leaderRounds.length} rounds that hurt the leader: median ${median(leaderRounds)} ms, max ${Math.max(...leaderRounds)} ms`);
  if (report.lost > 0 || report.retainedLost > 0) process.exitCode = 1;
}
if (!flag('skip-throughput')) {
  const seconds = Number(value('throughput-s', '10'));
  const single = await singleNode(seconds);
  const three = await clusterThroughput(seconds);
  log(`confirmed msgs/s (10 AMQP publishers, confirms, quorum queues): single node ${single.toFixed(0)}, 3 members ${three.toFixed(0)} (${((three / single) * 100).toFixed(0)}%)`);
}
if (!flag('skip-catchup')) {
  const r = await catchUp(Number(value('catchup-mb', '1024')));
  log(`catch-up of a member that was down while ${r.mb.toFixed(0)} MiB were written: ${(r.ms / 1000).toFixed(1)} s`);
}
