/**
 * The etcd side of replicated mode (DESIGN.md §8): membership, leader election, the in-sync replica set (ISR) and
 * fencing, all under `/warren/<cluster>/`:
 *
 * - `members/<node>`: JSON {@link MemberInfo}, attached to the member's lease (gone when the member is).
 * - `leader`: JSON {@link MemberInfo} of the leader, attached to its lease. Its create_revision is the leader's
 *   epoch: etcd revisions only grow, so every election yields a larger epoch, the fencing token.
 * - `isr`: JSON array of the node names in sync with the leader. Only the leader writes it, and only in a
 *   transaction conditioned on its own leader key, so a deposed leader cannot change it.
 *
 * Election is one transaction: "the leader key is absent AND the ISR key is absent or unchanged since I read a list
 * that names me" → put the leader key. A node missing from the ISR never wins while the ISR key exists (like Kafka
 * with unclean leader election off: only a replica with every acknowledged message may lead). An operator who
 * accepts losing data can delete the `isr` key to let any member win.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from '@warren/core';
import { Etcd3, type IKeyValue, type Lease, type Watcher } from 'etcd3';

/** What a member publishes about itself: how followers replicate from it and where its client listeners are. */
export interface MemberInfo {
  /** The node name, unique in the cluster. */
  readonly node: string;
  /** The host other members and proxies connect to. */
  readonly host: string;
  /** The replication link's port. */
  readonly replicationPort: number;
  /** Client listener name → port, e.g. `{ amqp: 5672, mqtt: 1883, management: 15672 }`. */
  readonly ports: Readonly<Record<string, number>>;
}

/** The current leader: its member information and its epoch (the leader key's create_revision). */
export type LeaderInfo = MemberInfo & { readonly epoch: number };

/**
 * This node is not (or no longer) the leader as far as etcd is concerned: its leader key is gone or belongs to
 * another epoch, or its lease was lost. The caller must stop serving at once.
 */
export class FencedError extends Error {
  override readonly name = 'FencedError';
}

/** The coordinator's lease was lost (or the coordinator closed) while an operation waited. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** The logger subset the coordinator uses (pino-compatible). */
export type CoordinatorLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** Options of {@link EtcdCoordinator}. */
export interface EtcdCoordinatorOptions {
  /** etcd client URLs, e.g. `['http://127.0.0.1:2379']`. */
  readonly endpoints: readonly string[];
  /** The cluster name: keys live under `/warren/<cluster>/`. */
  readonly cluster: string;
  /** This member's node name. */
  readonly node: string;
  /** The lease TTL: a member that stops renewing its lease for this long is gone for etcd. */
  readonly leaseTtlSeconds: number;
  readonly logger: CoordinatorLogger;
}

/** Events of {@link EtcdCoordinator}. */
export interface CoordinatorEvents {
  /** The leader key changed: the new leader, or undefined when there is none. */
  leader: [leader: LeaderInfo | undefined];
  /**
   * This member's lease is lost, or may already have expired at etcd: it is no longer a member, and a leader must
   * stop serving at once. `start` may be called again (with a new lease).
   */
  lost: [reason: Error];
}

type State = 'idle' | 'starting' | 'running' | 'lost' | 'closed';

/** The longest `start` and `close` wait for etcd: a member must not hang on an unreachable etcd. */
const CALL_TIMEOUT_MIN_MS = 5_000;

/** Backoff after an etcd error while campaigning (doubles up to the maximum). */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;

/**
 * One member's view of etcd: its lease and member key, the election, the ISR and fencing. See the file comment for
 * the keys and the election rule.
 *
 * Lease loss: besides etcd3's own detection (a keepalive answered "lease not found"), the coordinator keeps a local
 * deadline, the send time of the last answered keepalive plus the TTL minus a margin. etcd expires a lease TTL after
 * the last keepalive it received, which is after that send time, so a leader cut off from etcd reports `lost` (and
 * stops serving) before etcd can let another member win.
 */
export class EtcdCoordinator extends EventEmitter<CoordinatorEvents> {
  readonly #client: Etcd3;
  readonly #node: string;
  readonly #ttlMs: number;
  readonly #marginMs: number;
  readonly #logger: CoordinatorLogger;
  readonly #prefix: string;
  readonly #leaderKey: string;
  readonly #isrKey: string;
  readonly #membersPrefix: string;

  #state: State = 'idle';
  /** What `start` registered; the leader key carries the same document. */
  #memberInfo: MemberInfo | undefined;
  /** Incremented by every `start`: events of an older lease are ignored. */
  #generation = 0;
  #lease: Lease | undefined;
  #leaseId: string | undefined;
  /** `performance.now()` of the keepalives sent and not yet answered, oldest first. */
  #pendingKeepalives: number[] = [];
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** performance.now() past which the lease may have expired in etcd. */
  #deadlineAt: number | undefined;

  #watcher: Watcher | undefined;
  #leader: LeaderInfo | undefined;
  /** The etcd revision `#leader` reflects: older watch events are ignored. */
  #leaderRevision = 0;
  /** This node's epoch while it believes it leads. */
  #epoch: number | undefined;
  /** Bumped on every change of the leader or ISR key; campaigners wait for it to move. */
  #changes = 0;
  readonly #wakers = new Set<() => void>();
  /** Rejections of in-flight `setIsr` calls, run when the lease is lost. */
  readonly #fenceWaiters = new Set<(err: FencedError) => void>();

  constructor(options: EtcdCoordinatorOptions) {
    super();
    if (!Number.isInteger(options.leaseTtlSeconds) || options.leaseTtlSeconds < 1) {
      throw new RangeError(`leaseTtlSeconds must be an integer ≥ 1, got ${options.leaseTtlSeconds}`);
    }
    if (options.cluster === '' || options.cluster.includes('/')) throw new RangeError('invalid cluster name');
    if (options.node === '' || options.node.includes('/')) throw new RangeError('invalid node name');
    this.#client = new Etcd3({ hosts: [...options.endpoints] });
    this.#node = options.node;
    this.#ttlMs = options.leaseTtlSeconds * 1_000;
    // The deadline counts from before a keepalive leaves, so etcd's renewal is never earlier; the margin covers the
    // clock-rate difference between this host and etcd's and the time the caller takes to stop serving.
    this.#marginMs = Math.min(1_000, Math.max(100, this.#ttlMs / 10));
    this.#logger = options.logger;
    this.#prefix = `/warren/${options.cluster}/`;
    this.#leaderKey = `${this.#prefix}leader`;
    this.#isrKey = `${this.#prefix}isr`;
    this.#membersPrefix = `${this.#prefix}members/`;
  }

  /** This member's node name. */
  get node(): string {
    return this.#node;
  }

  /** This node's epoch while it is the leader (as far as it knows), else undefined. */
  get epoch(): number | undefined {
    return this.#epoch;
  }

  /**
   * Grant a lease, keep it alive and register this member's key. Call again after `lost` to rejoin with a new lease.
   */
  async start(info: MemberInfo): Promise<void> {
    if (this.#state === 'closed') throw new Error('coordinator closed');
    if (this.#state === 'starting' || this.#state === 'running') throw new Error('coordinator already started');
    if (info.node !== this.#node) throw new RangeError(`member info names ${info.node}, not ${this.#node}`);
    this.#state = 'starting';
    this.#memberInfo = memberInfo(info);
    const generation = ++this.#generation;
    try {
      await this.#ensureWatch();
      if (this.#state !== 'starting') throw this.#notRunning();
      const lease = this.#client.lease(this.#ttlMs / 1_000, { deadline: this.#callDeadline() });
      this.#lease = lease;
      this.#pendingKeepalives = [];
      lease.on('lost', (err) => this.#onLeaseLost(generation, err));
      lease.on('keepaliveEstablished', () => {
        // Answers to keepalives sent on the previous stream will not come.
        if (generation === this.#generation) this.#pendingKeepalives = [];
      });
      lease.on('keepaliveFired', () => {
        if (generation === this.#generation) this.#pendingKeepalives.push(performance.now());
      });
      lease.on('keepaliveSucceeded', () => {
        if (generation !== this.#generation) return;
        const sentAt = this.#pendingKeepalives.shift();
        if (sentAt !== undefined) this.#armDeadline(generation, sentAt);
      });
      const grantSentAt = performance.now();
      this.#leaseId = await lease.grant();
      if (this.#generation !== generation || this.#state !== 'starting') throw this.#notRunning();
      this.#armDeadline(generation, grantSentAt);
      await lease
        .put(this.#membersPrefix + this.#node)
        .value(JSON.stringify(this.#memberInfo))
        .options({ deadline: this.#callDeadline() });
      if (this.#generation !== generation || this.#state !== 'starting') throw this.#notRunning();
      this.#state = 'running';
      this.#logger.info({ node: this.#node, lease: this.#leaseId }, 'cluster member registered in etcd');
    } catch (err) {
      if (this.#generation === generation && this.#state === 'starting') {
        this.#state = 'idle';
        this.#dropLease(generation);
      }
      throw err;
    }
  }

  /**
   * Resolve with this node's epoch once it is the leader. Waits (watching the leader and ISR keys, no polling) while
   * another node leads or while the ISR exists without this node. Rejects with {@link LeaseLostError} if the lease
   * is lost or the coordinator closes first.
   */
  async campaign(): Promise<number> {
    const generation = this.#generation;
    let retryMs = RETRY_MIN_MS;
    for (;;) {
      this.#assertRunning(generation);
      // Taken before the read: a change whose event arrives between the read and the wait below still ends the wait.
      const seen = this.#changes;
      try {
        const [leaderRes, isrRes] = await this.#guard(
          generation,
          Promise.all([this.#client.get(this.#leaderKey).exec(), this.#client.get(this.#isrKey).exec()]),
        );
        this.#assertRunning(generation);
        const leaderKv = leaderRes.kvs[0];
        const isrKv = isrRes.kvs[0];
        if (leaderKv !== undefined) {
          if (leaderKv.lease === this.#leaseId) {
            // Ours already: an earlier attempt committed though its answer was lost (the client retries calls).
            return this.#becomeLeader(Number(leaderKv.create_revision));
          }
          await this.#waitForChange(seen, generation);
          continue;
        }
        if (isrKv !== undefined && !this.#isrNamesMe(isrKv)) {
          this.#logger.debug({ node: this.#node }, 'not in the ISR: waiting for an ISR member to lead');
          await this.#waitForChange(seen, generation);
          continue;
        }
        const me = this.#member();
        const res = await this.#guard(
          generation,
          this.#client
            .if(this.#leaderKey, 'Create', '==', 0)
            .and(this.#isrKey, 'Mod', '==', isrKv === undefined ? 0 : isrKv.mod_revision)
            .then(this.#client.put(this.#leaderKey).value(JSON.stringify(me)).lease(this.#leaseId ?? '0'))
            .commit(),
        );
        retryMs = RETRY_MIN_MS;
        if (res.succeeded) {
          // The put is the transaction's only write, so the key's create_revision is the transaction's revision.
          this.#assertRunning(generation);
          return this.#becomeLeader(Number(res.header.revision));
        }
        // Someone changed the leader or the ISR since the read: read again.
      } catch (err) {
        if (err instanceof LeaseLostError) throw err;
        this.#assertRunning(generation);
        this.#logger.warn({ err, node: this.#node }, 'etcd error while campaigning; retrying');
        await this.#waitForChange(seen, generation, retryMs);
        retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
      }
    }
  }

  /** The leader as last seen in etcd (kept current by a watch), or undefined when there is none. */
  leader(): LeaderInfo | undefined {
    return this.#leader;
  }

  /** Call `cb` on every change of the leader; returns a function that unsubscribes. */
  onLeader(cb: (leader: LeaderInfo | undefined) => void): () => void {
    this.on('leader', cb);
    return () => void this.off('leader', cb);
  }

  /** Call `cb` when the lease is lost; returns a function that unsubscribes. */
  onLost(cb: (reason: Error) => void): () => void {
    this.on('lost', cb);
    return () => void this.off('lost', cb);
  }

  /**
   * Replace the ISR, in one transaction conditioned on this node's leader key (its epoch). Rejects with
   * {@link FencedError} when this node is not the leader, its key is gone or belongs to another epoch, or its lease
   * is lost while the call waits: the caller must then stop serving at once.
   */
  async setIsr(nodes: readonly string[]): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === undefined || this.#state !== 'running') {
      throw new FencedError(`${this.#node} is not the leader`);
    }
    let reject: ((err: FencedError) => void) | undefined;
    const fenced = new Promise<never>((_, r) => {
      reject = r;
    });
    const rejectFn = reject!;
    this.#fenceWaiters.add(rejectFn);
    try {
      const res = await Promise.race([
        this.#client
          .if(this.#leaderKey, 'Create', '==', epoch)
          .then(this.#client.put(this.#isrKey).value(JSON.stringify([...nodes])))
          .commit(),
        fenced,
      ]);
      if (!res.succeeded) {
        if (this.#epoch === epoch) this.#epoch = undefined;
        this.#logger.warn({ node: this.#node, epoch }, 'ISR update fenced: this node is no longer the leader');
        throw new FencedError(`${this.#node} is no longer the leader (epoch ${epoch})`);
      }
    } finally {
      this.#fenceWaiters.delete(rejectFn);
    }
  }

  /** The ISR as stored in etcd, or undefined when the key is absent. */
  async readIsr(): Promise<string[] | undefined> {
    const kv = (await this.#client.get(this.#isrKey).exec()).kvs[0];
    return kv === undefined ? undefined : parseIsr(kv.value.toString());
  }

  /** Every registered member (each one's key lives as long as its lease). */
  async members(): Promise<MemberInfo[]> {
    const res = await this.#client.getAll().prefix(this.#membersPrefix).exec();
    const out: MemberInfo[] = [];
    for (const kv of res.kvs) {
      const info = parseMemberInfo(kv.value.toString());
      if (info === undefined) this.#logger.warn({ key: kv.key.toString() }, 'ignoring a malformed member key');
      else out.push(info);
    }
    return out;
  }

  /** Give up leadership: delete the leader key if it is still this node's. Idempotent. */
  async resign(): Promise<void> {
    const epoch = this.#epoch;
    this.#epoch = undefined;
    if (epoch === undefined) return;
    await this.#client
      .if(this.#leaderKey, 'Create', '==', epoch)
      .then(this.#client.delete().key(this.#leaderKey))
      .commit();
    this.#logger.info({ node: this.#node, epoch }, 'resigned leadership');
  }

  /**
   * Stop: revoke the lease (its member and leader keys go at once) and close the client. With `revoke: false` the
   * lease is left to expire, as after a crash. Pending campaigns reject.
   */
  async close(options: { readonly revoke?: boolean } = {}): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#epoch = undefined;
    this.#clearDeadline();
    this.#wakeAll();
    this.#failSetIsr(new FencedError('coordinator closed'));
    const lease = this.#lease;
    this.#lease = undefined;
    try {
      if (lease !== undefined) {
        if (options.revoke === false) lease.release();
        // Bounded: a closing member must not hang on an unreachable etcd; its lease then expires on its own.
        else await lease.revoke({ deadline: Date.now() + this.#ttlMs }).catch(() => undefined);
      }
      const watcher = this.#watcher;
      if (watcher !== undefined) {
        // Cancelling waits for etcd's confirmation; closing the client below ends the stream anyway.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          watcher.cancel().catch(() => undefined),
          new Promise<void>((r) => (timer = setTimeout(r, this.#ttlMs))),
        ]);
        clearTimeout(timer);
      }
    } finally {
      this.#watcher = undefined;
      this.#client.close();
    }
  }

  // ---- internals ----

  #callDeadline(): number {
    return Date.now() + Math.max(CALL_TIMEOUT_MIN_MS, 2 * this.#ttlMs);
  }

  /** `p`, or a {@link LeaseLostError} as soon as this generation is lost or the coordinator closes. */
  #guard<T>(generation: number, p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const wake = (): void => {
        if (this.#generation === generation && this.#state === 'running') return;
        this.#wakers.delete(wake);
        reject(this.#notRunning());
      };
      this.#wakers.add(wake);
      p.then(
        (v) => {
          this.#wakers.delete(wake);
          resolve(v);
        },
        (err: unknown) => {
          this.#wakers.delete(wake);
          reject(err);
        },
      );
    });
  }

  #member(): MemberInfo {
    const info = this.#memberInfo;
    if (info === undefined) throw new LeaseLostError('not started');
    return info;
  }

  #assertRunning(generation: number): void {
    if (this.#generation !== generation || this.#state !== 'running') throw this.#notRunning();
  }

  #notRunning(): LeaseLostError {
    const why = this.#state === 'closed' ? 'coordinator closed' : this.#state === 'lost' ? 'lease lost' : 'not started';
    return new LeaseLostError(why);
  }

  #isrNamesMe(kv: IKeyValue): boolean {
    const isr = parseIsr(kv.value.toString());
    if (isr === undefined) {
      this.#logger.error({ key: this.#isrKey }, 'malformed ISR key in etcd; only an operator can repair it');
      return false;
    }
    return isr.includes(this.#node);
  }

  #becomeLeader(epoch: number): number {
    this.#epoch = epoch;
    this.#logger.info({ node: this.#node, epoch }, 'elected leader');
    this.#applyLeader({ ...this.#member(), epoch }, epoch);
    return epoch;
  }

  async #ensureWatch(): Promise<void> {
    if (this.#watcher !== undefined) return;
    const res = await this.#client.get(this.#leaderKey).exec();
    const revision = Number(res.header.revision);
    const kv = res.kvs[0];
    this.#applyLeader(kv === undefined ? undefined : this.#leaderFromKv(kv), revision);
    const watcher = await this.#client
      .watch()
      .prefix(this.#prefix)
      .startRevision(String(revision + 1))
      .create();
    watcher.on('put', (kv) => this.#onWatchEvent(kv, false));
    watcher.on('delete', (kv) => this.#onWatchEvent(kv, true));
    watcher.on('error', (err) => this.#logger.warn({ err }, 'etcd watch error'));
    if (this.#state === 'closed') {
      await watcher.cancel().catch(() => undefined);
      return;
    }
    this.#watcher = watcher;
  }

  #onWatchEvent(kv: IKeyValue, deleted: boolean): void {
    const key = kv.key.toString();
    if (key === this.#leaderKey) {
      this.#applyLeader(deleted ? undefined : this.#leaderFromKv(kv), Number(kv.mod_revision));
    } else if (key !== this.#isrKey) {
      return;
    }
    this.#changes++;
    this.#wakeAll();
  }

  #leaderFromKv(kv: IKeyValue): LeaderInfo | undefined {
    const info = parseMemberInfo(kv.value.toString());
    if (info === undefined) {
      this.#logger.error({ key: this.#leaderKey }, 'malformed leader key in etcd');
      return undefined;
    }
    return { ...info, epoch: Number(kv.create_revision) };
  }

  #applyLeader(leader: LeaderInfo | undefined, revision: number): void {
    if (revision <= this.#leaderRevision) return;
    this.#leaderRevision = revision;
    const previous = this.#leader;
    if (previous === leader) return;
    if (previous !== undefined && leader !== undefined && JSON.stringify(previous) === JSON.stringify(leader)) return;
    this.#leader = leader;
    if (this.#epoch !== undefined && leader?.epoch !== this.#epoch) {
      // The key was deleted (an operator, or our lease expired) or replaced: further ISR updates would be fenced.
      this.#logger.warn({ node: this.#node, epoch: this.#epoch }, 'this node\'s leader key is gone from etcd');
      this.#epoch = undefined;
    }
    this.emit('leader', leader);
  }

  #waitForChange(seen: number, generation: number, timeoutMs?: number): Promise<void> {
    if (this.#changes !== seen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        if (this.#changes === seen && this.#generation === generation && this.#state === 'running') return;
        this.#wakers.delete(wake);
        if (timer !== undefined) clearTimeout(timer);
        if (this.#generation !== generation || this.#state !== 'running') {
          reject(this.#notRunning());
        } else {
          resolve();
        }
      };
      this.#wakers.add(wake);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#wakers.delete(wake);
          resolve();
        }, timeoutMs);
      }
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  #failSetIsr(err: FencedError): void {
    for (const reject of [...this.#fenceWaiters]) reject(err);
    this.#fenceWaiters.clear();
  }

  /**
   * Whether the lease is certainly still alive in etcd now (the local deadline has not passed). A leader checks it
   * before every confirm: after a pause (SIGSTOP, a stalled disk) the event loop may handle a client's input before
   * the deadline timer runs, and by then another member may lead.
   */
  leaseValid(): boolean {
    return this.#state === 'running' && this.#deadlineAt !== undefined && performance.now() < this.#deadlineAt;
  }

  #armDeadline(generation: number, sentAt: number): void {
    this.#clearDeadline();
    this.#deadlineAt = sentAt + this.#ttlMs - this.#marginMs;
    const delay = this.#deadlineAt - performance.now();
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      this.#onLeaseLost(generation, new LeaseLostError('no keepalive answered within the lease TTL'));
    }, Math.max(0, delay));
  }

  #clearDeadline(): void {
    this.#deadlineAt = undefined;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
  }

  #onLeaseLost(generation: number, reason: Error): void {
    if (generation !== this.#generation || (this.#state !== 'running' && this.#state !== 'starting')) return;
    const wasStarting = this.#state === 'starting';
    this.#state = 'lost';
    const epoch = this.#epoch;
    this.#epoch = undefined;
    this.#logger.warn({ node: this.#node, epoch, err: reason }, 'etcd lease lost: no longer a cluster member');
    this.#dropLease(generation);
    this.#wakeAll();
    this.#failSetIsr(new FencedError(`lease lost: ${reason.message}`));
    // A start() in progress reports the loss itself.
    if (!wasStarting) this.emit('lost', reason);
    else this.#state = 'idle';
  }

  /** Stop the keepalives and revoke the lease in the background: our keys should go as soon as etcd can tell. */
  #dropLease(generation: number): void {
    if (generation !== this.#generation) return;
    this.#clearDeadline();
    const lease = this.#lease;
    this.#lease = undefined;
    this.#leaseId = undefined;
    if (lease === undefined) return;
    lease.removeAllListeners('keepaliveSucceeded');
    lease.revoke({ deadline: Date.now() + this.#ttlMs }).catch(() => undefined);
  }
}

function memberInfo(info: MemberInfo): MemberInfo {
  return { node: info.node, host: info.host, replicationPort: info.replicationPort, ports: { ...info.ports } };
}

function parseMemberInfo(text: string): MemberInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<MemberInfo> | null;
    if (
      v === null ||
      typeof v !== 'object' ||
      typeof v.node !== 'string' ||
      typeof v.host !== 'string' ||
      typeof v.replicationPort !== 'number' ||
      typeof v.ports !== 'object' ||
      v.ports === null
    ) {
      return undefined;
    }
    return memberInfo(v as MemberInfo);
  } catch {
    return undefined;
  }
}

function parseIsr(text: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((n) => typeof n === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}
