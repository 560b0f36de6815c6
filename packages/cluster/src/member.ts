import { mkdir, open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { observeDataDir, type DataDirObserver, type Logger } from '@warren/core';
import { EtcdCoordinator, FencedError, type LeaderInfo, type MemberInfo } from './coordinator.js';
import { ReplicationFollower } from './link/follower.js';
import { ReplicationLeader } from './link/leader.js';
import { TcpProxy } from './proxy.js';

/** A broker this member started on becoming leader. */
export interface LeaderBroker {
  stop(): Promise<void>;
}

/** What a member needs; the server fills it from its configuration. */
export interface ClusterMemberOptions {
  etcd: string[];
  cluster: string;
  node: string;
  /** Address the other members reach this one at. */
  advertiseHost: string;
  /** Interface the proxies and the replication link bind. */
  bindHost: string;
  /** Port of the replication link (0 = any free port). */
  replicationPort: number;
  leaseTtlSeconds: number;
  ackTimeoutMs: number;
  secret: string;
  dataDir: string;
  /**
   * The client listeners, by name (`amqp`, `mqtt`, `management`...), with their configured ports. A follower listens
   * on the same ports and forwards each connection to the leader's listener of the same name, so clients can use
   * any member's address.
   */
  clientPorts: Record<string, number>;
  /**
   * Start the broker on these ports (the member's own, fixed when it started) once this member leads. The store's
   * data directory is observed by then, so every durable write is replicated.
   */
  startBroker(ports: Record<string, number>): Promise<LeaderBroker>;
  logger: Logger;
  /**
   * How the leader checks its disk: a small write and fdatasync in the data directory every second. One that has not
   * finished after the lease TTL means a stalled disk: the leader gives up its lease so another member takes over.
   * Tests replace it.
   */
  diskProbe?: () => Promise<void>;
}

/** One member's view of the cluster, for the management API. */
export interface ClusterStatus {
  cluster: string;
  node: string;
  role: 'leader' | 'follower' | 'starting' | 'stopped';
  leader: LeaderInfo | undefined;
  epoch: number | undefined;
  isr: string[];
  members: Array<{
    node: string;
    host: string;
    leader: boolean;
    inSync: boolean;
    /** Changes sent and not yet acknowledged (on the leader's view). */
    lagChanges?: number;
    lagBytes?: number;
    state?: string;
  }>;
}

type Role = ClusterStatus['role'];

/**
 * One member of a replicated Warren. While another member leads, this one replicates the leader's data directory
 * into its own and forwards client connections to the leader; it campaigns all the while, and etcd lets it win only
 * when no leader holds the key and it is in the in-sync replica set. Once elected it shrinks the ISR to itself (a
 * transaction fenced on its leadership), starts the broker from its data directory (ordinary recovery) with the
 * data directory observed, and accepts followers. A leader that loses its lease or fails an etcd transaction stops
 * serving at once and starts over as a follower.
 */
export class ClusterMember {
  readonly #o: ClusterMemberOptions;
  readonly #log: Logger;
  #coordinator: EtcdCoordinator | undefined;
  #role: Role = 'starting';
  #ports: Record<string, number> = {};
  #replicationPort = 0;
  readonly #proxies = new Map<string, TcpProxy>();
  #follower: ReplicationFollower | undefined;
  #followerOf: string | undefined;
  #leaderLink: ReplicationLeader | undefined;
  #unobserve: (() => void) | undefined;
  #broker: LeaderBroker | undefined;
  #epoch: number | undefined;
  #isr: string[] = [];
  /** etcd ISR updates run one at a time, each from the list the previous one left. */
  #isrChain: Promise<void> = Promise.resolve();
  #stopped = false;
  #diskTimer: NodeJS.Timeout | undefined;
  /** Role changes run one at a time. */
  #transition: Promise<void> = Promise.resolve();

  constructor(options: ClusterMemberOptions) {
    this.#o = options;
    this.#log = options.logger;
  }

  /** The client ports this member listens on (fixed at start, also while it leads). */
  get ports(): Readonly<Record<string, number>> {
    return this.#ports;
  }

  get replicationPort(): number {
    return this.#replicationPort;
  }

  get role(): Role {
    return this.#role;
  }

  /** Bind the client ports (as proxies), join etcd and campaign. Resolves once this member is a follower or leader. */
  async start(): Promise<void> {
    for (const [name, port] of Object.entries(this.#o.clientPorts)) {
      const proxy = this.#newProxy(name);
      this.#ports[name] = await proxy.listen(port, this.#o.bindHost);
      this.#proxies.set(name, proxy);
    }
    // The replication port is fixed now too, so followers and etcd see one address for this member.
    this.#replicationPort = this.#o.replicationPort === 0 ? await freePort(this.#o.bindHost) : this.#o.replicationPort;
    await this.#join();
  }

  async #join(): Promise<void> {
    const coordinator = new EtcdCoordinator({
      endpoints: this.#o.etcd,
      cluster: this.#o.cluster,
      node: this.#o.node,
      leaseTtlSeconds: this.#o.leaseTtlSeconds,
      logger: this.#log,
    });
    this.#coordinator = coordinator;
    coordinator.on('leader', (info: LeaderInfo | undefined) => this.#onLeader(coordinator, info));
    coordinator.on('lost', () => this.#schedule(() => this.#onLost(coordinator, new Error('etcd lease lost'))));
    await coordinator.start(this.#memberInfo());
    this.#role = 'follower';
    this.#onLeader(coordinator, coordinator.leader());
    void this.#campaign(coordinator);
  }

  #memberInfo(): MemberInfo {
    return { node: this.#o.node, host: this.#o.advertiseHost, replicationPort: this.#replicationPort, ports: { ...this.#ports } };
  }

  async #campaign(coordinator: EtcdCoordinator): Promise<void> {
    let epoch: number;
    try {
      epoch = await coordinator.campaign();
    } catch (err) {
      if (this.#coordinator === coordinator && !this.#stopped) {
        this.#log.warn({ err }, 'cluster: campaign failed; starting over');
        this.#schedule(() => this.#onLost(coordinator, err as Error));
      }
      return;
    }
    if (this.#coordinator !== coordinator || this.#stopped) return;
    this.#schedule(() => this.#lead(coordinator, epoch));
  }

  /** Run role changes one after another, never two at once. */
  #schedule(step: () => Promise<void>): void {
    this.#transition = this.#transition.then(step).catch((err: unknown) => {
      this.#log.error({ err }, 'cluster: role change failed');
    });
  }

  #onLeader(coordinator: EtcdCoordinator, info: LeaderInfo | undefined): void {
    if (this.#coordinator !== coordinator) return;
    if (this.#role === 'leader') {
      // Our key is gone (lease expired, an operator deleted it) or another member's replaced it: stop at once.
      if (this.#epoch !== undefined && (info === undefined || info.epoch !== this.#epoch)) {
        this.#schedule(() => this.#onLost(coordinator, new FencedError('the leader key in etcd is no longer this member\'s')));
      }
      return;
    }
    if (this.#role !== 'follower') return;
    if (info === undefined || info.node === this.#o.node) {
      void this.#stopFollowing();
      return;
    }
    const key = `${info.node}@${info.epoch}`;
    if (this.#followerOf === key) return;
    void this.#stopFollowing();
    this.#log.info({ leader: info.node, epoch: info.epoch }, 'cluster: following the leader');
    this.#followerOf = key;
    const follower = new ReplicationFollower({
      dataDir: this.#o.dataDir,
      node: this.#o.node,
      cluster: this.#o.cluster,
      secret: this.#o.secret,
      leader: { host: info.host, port: info.replicationPort, epoch: info.epoch },
      logger: this.#log,
    });
    this.#follower = follower;
    follower.on('closed', () => {
      // The link dropped but the leader key did not change: reconnect after a pause (the leader may be restarting
      // its listener, or may be gone and its key about to expire).
      if (this.#follower !== follower) return;
      this.#follower = undefined;
      this.#followerOf = undefined;
      setTimeout(() => {
        if (this.#coordinator === coordinator && this.#role === 'follower') this.#onLeader(coordinator, coordinator.leader());
      }, 500).unref();
    });
    follower.start();
  }

  #stopFollowing(): Promise<void> {
    // Clients forwarded to the previous leader lose their connection, as they would on a single node's restart.
    for (const proxy of this.#proxies.values()) proxy.closeConnections();
    const follower = this.#follower;
    this.#follower = undefined;
    this.#followerOf = undefined;
    return follower?.stop() ?? Promise.resolve();
  }

  async #lead(coordinator: EtcdCoordinator, epoch: number): Promise<void> {
    if (this.#coordinator !== coordinator || this.#stopped) return;
    this.#log.info({ epoch }, 'cluster: elected leader');
    this.#role = 'leader';
    this.#epoch = epoch;
    // The data directory must be still before the broker recovers from it.
    await this.#stopFollowing();
    await Promise.all([...this.#proxies.values()].map((p) => p.close()));
    this.#proxies.clear();
    try {
      // Every member the ISR listed had every confirmed change; this one has them all, and the others rejoin after a
      // sync from it. Until then confirms need only this member's fsync, which the ISR in etcd now says.
      this.#isr = [this.#o.node];
      await coordinator.setIsr(this.#isr);
      const link = new ReplicationLeader({
        dataDir: this.#o.dataDir,
        node: this.#o.node,
        cluster: this.#o.cluster,
        secret: this.#o.secret,
        epoch,
        ackTimeoutMs: this.#o.ackTimeoutMs,
        logger: this.#log,
        isr: {
          add: (node) => this.#updateIsr(coordinator, (list) => (list.includes(node) ? list : [...list, node])),
          remove: (node) => this.#updateIsr(coordinator, (list) => list.filter((n) => n !== node)),
        },
        onFenced: (err) => this.#schedule(() => this.#onLost(coordinator, err)),
      });
      this.#leaderLink = link;
      // A confirm also needs the lease to be alive at that moment: a leader that was paused past its lease must
      // not confirm the input it reads on waking, before its deadline timer has run.
      const guarded: DataDirObserver = {
        change: (change) => link.change(change),
        barrier: (callback) =>
          link.barrier((error) => {
            if (error === undefined && !coordinator.leaseValid()) callback(new FencedError('the etcd lease may have expired'));
            else callback(error);
          }),
      };
      this.#unobserve = observeDataDir(this.#o.dataDir, guarded);
      await link.listen(this.#replicationPort, this.#o.bindHost);
      this.#broker = await this.#o.startBroker({ ...this.#ports });
      this.#watchDisk(coordinator);
      this.#log.info({ epoch, ports: this.#ports }, 'cluster: serving as leader');
    } catch (err) {
      this.#log.error({ err }, 'cluster: could not start serving as leader; stepping down');
      await this.#onLost(coordinator, err as Error);
    }
  }

  #updateIsr(coordinator: EtcdCoordinator, change: (list: string[]) => string[]): Promise<void> {
    const next = this.#isrChain.then(async () => {
      const list = change(this.#isr);
      await coordinator.setIsr(list);
      this.#isr = list;
      this.#log.info({ isr: list }, 'cluster: in-sync replicas changed');
    });
    this.#isrChain = next.catch(() => {});
    return next;
  }

  /** Stop serving at once (lease lost, fenced, failed start), then start over as a follower with a new lease. */
  async #onLost(coordinator: EtcdCoordinator, reason: Error): Promise<void> {
    if (this.#coordinator !== coordinator) return;
    const wasLeader = this.#role === 'leader';
    this.#log.warn({ err: reason, wasLeader }, reason instanceof FencedError ? 'cluster: fenced; stopping' : 'cluster: lost leadership or lease; stopping');
    this.#coordinator = undefined;
    await this.#stopServing();
    await coordinator.close({ revoke: true }).catch(() => {});
    if (this.#stopped) return;
    this.#role = 'starting';
    for (const [name, port] of Object.entries(this.#ports)) {
      if (this.#proxies.has(name)) continue;
      const proxy = this.#newProxy(name);
      await proxy.listen(port, this.#o.bindHost);
      this.#proxies.set(name, proxy);
    }
    // etcd may be unreachable for a while: keep trying to join.
    for (;;) {
      if (this.#stopped) return;
      try {
        await this.#join();
        return;
      } catch (err) {
        this.#log.warn({ err }, 'cluster: cannot join etcd; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * A leader whose disk stalls still renews its lease (etcd is reached over the network) while every confirm waits
   * for an fsync that does not come: watch the disk and abdicate when a probe outlives the lease TTL.
   */
  #watchDisk(coordinator: EtcdCoordinator): void {
    const probe = this.#o.diskProbe ?? (() => probeDisk(join(this.#o.dataDir, 'cluster')));
    const limitMs = this.#o.leaseTtlSeconds * 1000;
    let startedAt: number | undefined;
    const timer = setInterval(() => {
      if (this.#diskTimer !== timer) return;
      if (startedAt !== undefined) {
        if (Date.now() - startedAt > limitMs) {
          this.#abdicate(coordinator, new Error(`the data directory did not complete a write and fdatasync in ${limitMs} ms`));
        }
        return;
      }
      startedAt = Date.now();
      probe().then(
        () => {
          startedAt = undefined;
        },
        (err: unknown) => {
          if (this.#diskTimer === timer) this.#abdicate(coordinator, err instanceof Error ? err : new Error(String(err)));
        },
      );
    }, 1000);
    timer.unref();
    this.#diskTimer = timer;
  }

  /**
   * Give up leadership now, without waiting for anything this process might not finish (a stalled disk): fail every
   * pending and later confirm, revoke the lease so another member can be elected, then stop the rest in order.
   */
  #abdicate(coordinator: EtcdCoordinator, reason: Error): void {
    if (this.#diskTimer !== undefined) clearInterval(this.#diskTimer);
    this.#diskTimer = undefined;
    this.#log.error({ err: reason }, 'cluster: leader abdicating');
    void this.#leaderLink?.close();
    void coordinator.close({ revoke: true }).catch(() => {});
    this.#schedule(() => this.#onLost(coordinator, reason));
  }

  async #stopServing(): Promise<void> {
    if (this.#diskTimer !== undefined) clearInterval(this.#diskTimer);
    this.#diskTimer = undefined;
    await this.#stopFollowing();
    const link = this.#leaderLink;
    const broker = this.#broker;
    const unobserve = this.#unobserve;
    this.#leaderLink = undefined;
    this.#broker = undefined;
    this.#unobserve = undefined;
    this.#epoch = undefined;
    // Fail waiting confirms first (they become nacks), then drop the clients; writes made while closing stay local
    // and are overwritten by the next leader's sync.
    await link?.close();
    await broker?.stop().catch((err: unknown) => this.#log.error({ err }, 'cluster: broker stop failed'));
    unobserve?.();
  }

  #newProxy(name: string): TcpProxy {
    return new TcpProxy(() => {
      const leader = this.#coordinator?.leader();
      if (leader === undefined || leader.node === this.#o.node) return undefined;
      const port = leader.ports[name];
      return port === undefined ? undefined : { host: leader.host, port };
    }, this.#log);
  }

  /** This member's view of the cluster. */
  async status(): Promise<ClusterStatus> {
    const coordinator = this.#coordinator;
    const leader = coordinator?.leader();
    const members = (await coordinator?.members().catch(() => [])) ?? [];
    const isr = (await coordinator?.readIsr().catch(() => undefined)) ?? [];
    const links = new Map((this.#leaderLink?.followers() ?? []).map((f) => [f.node, f]));
    return {
      cluster: this.#o.cluster,
      node: this.#o.node,
      role: this.#role,
      leader,
      epoch: this.#epoch ?? leader?.epoch,
      isr,
      members: members.map((m) => {
        const link = links.get(m.node);
        return {
          node: m.node,
          host: m.host,
          leader: leader?.node === m.node,
          inSync: isr.includes(m.node),
          ...(link === undefined ? {} : { lagChanges: link.lagChanges, lagBytes: link.lagBytes, state: link.state }),
        };
      }),
    };
  }

  /** Leave the cluster: stop serving or following, resign, revoke the lease. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#transition;
    const coordinator = this.#coordinator;
    this.#coordinator = undefined;
    await this.#stopServing();
    await Promise.all([...this.#proxies.values()].map((p) => p.close()));
    this.#proxies.clear();
    if (coordinator !== undefined) {
      await coordinator.resign().catch(() => {});
      await coordinator.close().catch(() => {});
    }
    this.#role = 'stopped';
  }
}

/** One small write and fdatasync in `dir` (the member's local directory, never replicated). */
async function probeDisk(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const handle = await open(join(dir, 'disk-probe'), 'w', 0o600);
  try {
    await handle.write(String(Date.now()));
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
