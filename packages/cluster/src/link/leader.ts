import { linkSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { DataDirChange, DataDirObserver, Logger } from '@warren/core';
import { changeSize, encodeFrame, FrameDecoder, LinkProtocolError, type LinkFrame, type ManifestEntry } from './codec.js';
import { isMissing } from './manifest.js';
import { checkReplicatedPath, CLUSTER_DIR, isLocalPath } from './paths.js';
import { linkProof, newNonce, proofMatches } from './proof.js';

/** The etcd side of the in-sync replica set: each call is a transaction conditioned on this leader's key. */
export interface ReplicationIsr {
  /** Adds `node`; rejects when this leader is fenced. Calls never overlap (add and remove alike). */
  add(node: string): Promise<void>;
  /** Removes `node`; rejects when this leader is fenced. */
  remove(node: string): Promise<void>;
}

/** Options of {@link ReplicationLeader}. */
export interface ReplicationLeaderOptions {
  /** The leader's data directory (the one its store writes and reports changes of). */
  readonly dataDir: string;
  /** This node's name. */
  readonly node: string;
  readonly cluster: string;
  readonly secret: string;
  /** The epoch etcd elected this leader in (sent in WELCOME; followers refuse a lower one than they have seen). */
  readonly epoch: number;
  /** How long an ISR follower may leave a barrier unacknowledged before it is removed from the ISR. */
  readonly ackTimeoutMs: number;
  readonly logger: Logger;
  readonly isr: ReplicationIsr;
  /** Called once when an ISR transaction fails: this leader must stop serving. */
  readonly onFenced: (error: Error) => void;
  /** Cap on changes buffered for one follower (during its bulk sync, or unsent to a slow one); past it, the follower is dropped. Default 256 MiB. */
  readonly maxBufferedBytes?: number;
  /** Bulk sync read size. Default 1 MiB. */
  readonly syncChunkBytes?: number;
  /** A connection must complete its HELLO within this time. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

/** One connected follower, as {@link ReplicationLeader.followers} reports it. */
export interface ReplicationFollowerInfo {
  readonly node: string;
  /** `host:port` of its connection. */
  readonly address: string;
  /** `syncing` until caught up after its bulk sync; `in-sync` while in the ISR; `out-of-sync` once removed from it. */
  readonly state: 'syncing' | 'in-sync' | 'out-of-sync';
  readonly ackedSeq: number;
  /** Changes made since the last one it acknowledged. */
  readonly lagChanges: number;
  /** Encoded bytes of changes sent or buffered for it and not yet acknowledged. */
  readonly lagBytes: number;
  /** File data bytes its bulk sync sent. */
  readonly syncBytesSent: number;
}

interface Barrier {
  readonly seq: number;
  readonly callback: (error?: Error) => void;
  readonly deadline: number;
  expired: boolean;
}

/** Changes per CHANGES frame are cut at this size (a single larger write goes alone). */
const FRAME_BUDGET = 8 << 20;
/** Bounds what an unauthenticated peer can make us buffer (a HELLO's manifest of ~250k files fits). */
const LEADER_MAX_FRAME = 16 << 20;
/** After HELLO a follower only sends ACKs. */
const ACK_MAX_FRAME = 64;

class Session {
  static #next = 0;
  readonly id = ++Session.#next;
  readonly decoder = new FrameDecoder(LEADER_MAX_FRAME);
  readonly nonce = newNonce();
  node = '';
  state: 'handshake' | 'syncing' | 'in-sync' | 'out-of-sync' = 'handshake';
  ackedSeq = 0;
  /** Acked past this, a syncing (or out-of-sync) follower joins the ISR. */
  catchUpSeq = -1;
  /** In the local ISR: etcd is told once it has acknowledged this (see #join). */
  etcdAddSeq = -1;
  /** Whether isr.add was issued for its current ISR membership. */
  etcdAdded = false;
  /** The snapshot is taken: change() buffers for it. */
  receiving = false;
  /** SYNC_DONE is sent: buffered changes go out. */
  streaming = false;
  pending: DataDirChange[] = [];
  pendingFirstSeq = 0;
  pendingBytes = 0;
  /** Sent CHANGES frames not yet acknowledged: [last seq, bytes]. */
  inflight: Array<[number, number]> = [];
  inflightBytes = 0;
  syncBytesSent = 0;
  closed = false;
  readonly whenClosed: Promise<void>;
  markClosed!: () => void;

  constructor(readonly socket: Socket, readonly address: string) {
    this.whenClosed = new Promise((resolve) => (this.markClosed = resolve));
  }
}

/** Thrown inside a bulk sync whose follower went away. */
class SyncAborted extends Error {}

/**
 * The leader end of the replication link, and the store's {@link DataDirObserver} in replicated mode: it numbers every
 * replicated change, streams them to the connected followers (one CHANGES frame per follower per event-loop turn),
 * brings joining followers up to date with a bulk sync, and releases the store's barriers once every follower in the
 * in-sync replica set has acknowledged them. A follower that does not acknowledge in time, or disconnects, is
 * removed from the ISR (an etcd transaction) before the barriers stop waiting for it; a failed transaction means this
 * leader is fenced.
 */
export class ReplicationLeader implements DataDirObserver {
  readonly #o: ReplicationLeaderOptions;
  readonly #log: Logger;
  readonly #maxBuffered: number;
  #server: Server | undefined;
  #seq = 0;
  readonly #sessions = new Set<Session>();
  readonly #byNode = new Map<string, Session>();
  /** The local ISR: barriers wait for these sessions. */
  readonly #isr = new Map<string, Session>();
  readonly #removing = new Set<string>();
  #isrOps: Promise<void> = Promise.resolve();
  #barriers: Barrier[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushScheduled = false;
  #fenced: Error | undefined;
  /** The highest seq a barrier was released for: what clients have been told is replicated. */
  #releasedSeq = 0;

  constructor(options: ReplicationLeaderOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'replication-leader' });
    this.#maxBuffered = options.maxBufferedBytes ?? 256 << 20;
  }

  /** Listens for followers; resolves with the bound port. */
  async listen(port: number, host?: string): Promise<number> {
    // Links of bulk syncs interrupted by a crash.
    rmSync(join(this.#o.dataDir, CLUSTER_DIR, 'sync'), { recursive: true, force: true });
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.#log.error({ err: e }, 'replication listener failed'));
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening, drops every follower and fails the pending barriers. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of [...this.#sessions]) this.#closeSession(s, undefined, 'leader closing');
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // Nothing may pass a barrier after this: a broker still closing must not confirm what no replica holds.
    const closed = new Error('the replication leader is closed');
    this.#fenced ??= closed;
    this.#failBarriers(closed);
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The connected followers (past their HELLO). */
  followers(): ReplicationFollowerInfo[] {
    const out: ReplicationFollowerInfo[] = [];
    for (const s of this.#sessions) {
      if (s.state === 'handshake') continue;
      out.push({
        node: s.node,
        address: s.address,
        state: s.state,
        ackedSeq: s.ackedSeq,
        lagChanges: this.#seq - s.ackedSeq,
        lagBytes: s.inflightBytes + s.pendingBytes,
        syncBytesSent: s.syncBytesSent,
      });
    }
    return out;
  }

  /** Nodes of the local ISR (those barriers wait for, including any whose removal etcd has not confirmed yet). */
  inSync(): string[] {
    return [...this.#isr.keys()];
  }

  /** The number of the last replicated change. */
  get seq(): number {
    return this.#seq;
  }

  change(change: DataDirChange): void {
    if (this.#fenced !== undefined) return;
    let c = change;
    switch (c.kind) {
      case 'write':
      case 'truncate':
        if (isLocalPath(c.file)) return;
        break;
      case 'mkdir':
        if (isLocalPath(c.dir)) return;
        break;
      case 'remove':
        if (isLocalPath(c.path)) return;
        break;
      case 'rename':
        if (isLocalPath(c.to)) {
          if (isLocalPath(c.from)) return;
          // Moved out of the replicated tree: for a follower, gone.
          c = { kind: 'remove', path: c.from };
        } else if (isLocalPath(c.from)) {
          // The store never moves a run-local file into the durable tree; a follower could not follow.
          this.#log.error({ from: c.from, to: c.to }, 'cannot replicate a rename out of a run-local path');
          return;
        }
        break;
    }
    const seq = ++this.#seq;
    const size = changeSize(c);
    for (const s of this.#sessions) {
      if (!s.receiving) continue;
      if (s.pending.length === 0) s.pendingFirstSeq = seq;
      s.pending.push(c);
      s.pendingBytes += size;
      const buffered = s.pendingBytes + (s.streaming ? s.socket.writableLength : 0);
      if (buffered > this.#maxBuffered) {
        this.#closeSession(s, undefined, `more than ${this.#maxBuffered} bytes of changes buffered`);
      }
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  barrier(callback: (error?: Error) => void): void {
    const fenced = this.#fenced;
    if (fenced !== undefined) {
      queueMicrotask(() => callback(fenced));
      return;
    }
    this.#flush();
    const seq = this.#seq;
    if (this.#minIsrAck() >= seq) {
      this.#releasedSeq = seq;
      queueMicrotask(() => callback());
      return;
    }
    this.#barriers.push({ seq, callback, deadline: Date.now() + this.#o.ackTimeoutMs, expired: false });
    this.#armTimer();
  }

  #accept(socket: Socket): void {
    const s = new Session(socket, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`);
    this.#sessions.add(s);
    socket.setNoDelay(true);
    const handshakeTimer = setTimeout(() => {
      if (s.state === 'handshake') this.#closeSession(s, undefined, 'no HELLO in time');
    }, this.#o.handshakeTimeoutMs ?? 10_000);
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      this.#closeSession(s, undefined, 'connection closed by the follower');
    });
    socket.on('error', (e) => this.#closeSession(s, e));
    socket.on('data', (chunk: Buffer) => {
      if (s.closed) return;
      try {
        for (const frame of s.decoder.push(chunk)) this.#onFrame(s, frame);
      } catch (e) {
        this.#closeSession(s, e);
      }
    });
    socket.write(encodeFrame({ type: 'challenge', nonce: s.nonce }));
  }

  #onFrame(s: Session, frame: LinkFrame): void {
    if (s.closed) return;
    if (frame.type === 'hello' && s.node === '') {
      this.#onHello(s, frame);
      return;
    }
    if (frame.type === 'ack' && s.node !== '') {
      this.#onAck(s, frame.seq);
      return;
    }
    throw new LinkProtocolError(`unexpected ${frame.type} frame from a follower`);
  }

  #onHello(s: Session, hello: Extract<LinkFrame, { type: 'hello' }>): void {
    const o = this.#o;
    const refuse = (reason: string): void => {
      this.#log.warn({ follower: hello.node, address: s.address, reason }, 'refused a follower');
      s.socket.end(encodeFrame({ type: 'refuse', reason }));
      s.closed = true;
      s.markClosed();
      this.#sessions.delete(s);
    };
    const expected = linkProof(o.secret, 'follower', hello.cluster, hello.node, s.nonce);
    if (hello.cluster !== o.cluster || !proofMatches(expected, hello.proof)) return refuse('authentication failed');
    if (this.#fenced !== undefined) return refuse('this leader is fenced');
    if (hello.node === o.node || hello.node === '') return refuse('bad node name');
    if (hello.epoch > o.epoch) return refuse(`this leader's epoch ${o.epoch} is older than the follower's ${hello.epoch}`);
    for (const e of hello.manifest) checkReplicatedPath(e.file);
    for (const d of hello.dirs) checkReplicatedPath(d);
    const previous = this.#byNode.get(hello.node);
    if (previous !== undefined) this.#closeSession(previous, undefined, 'the node connected again');
    s.node = hello.node;
    s.decoder.maxFrameSize = ACK_MAX_FRAME;
    this.#byNode.set(hello.node, s);
    s.socket.write(encodeFrame({ type: 'welcome', epoch: o.epoch, leader: o.node, proof: linkProof(o.secret, 'leader', o.cluster, o.node, hello.nonce) }));
    this.#log.info({ follower: s.node, address: s.address }, 'follower joined, bulk sync starting');
    this.#bulkSync(s, hello).catch((e: unknown) => {
      if (!(e instanceof SyncAborted)) this.#closeSession(s, e);
    });
  }

  #onAck(s: Session, seq: number): void {
    if (seq < s.ackedSeq || seq > this.#seq) throw new LinkProtocolError(`ACK ${seq} out of range`);
    s.ackedSeq = seq;
    while (s.inflight.length > 0 && s.inflight[0]![0] <= seq) s.inflightBytes -= s.inflight.shift()![1];
    this.#maybeJoin(s);
    this.#release();
  }

  #maybeJoin(s: Session): void {
    if (s.closed || this.#fenced !== undefined) return;
    if ((s.state === 'syncing' || s.state === 'out-of-sync') && s.catchUpSeq >= 0 && s.ackedSeq >= s.catchUpSeq && !this.#isr.has(s.node)) {
      this.#join(s);
    }
    if (this.#isr.get(s.node) === s && !s.etcdAdded && s.ackedSeq >= s.etcdAddSeq && !this.#removing.has(s.node)) this.#addToEtcd(s);
  }

  /**
   * Adds a caught-up follower to the local ISR: from now on no barrier passes without its ACK. etcd is told only once
   * it has also acknowledged everything barriers released before this moment, i.e. everything clients were told is
   * replicated: etcd must never list a replica that may lack a confirmed change.
   */
  #join(s: Session): void {
    s.state = 'in-sync';
    s.catchUpSeq = -1;
    s.etcdAdded = false;
    s.etcdAddSeq = this.#releasedSeq;
    this.#isr.set(s.node, s);
    this.#log.info({ follower: s.node, seq: s.ackedSeq }, 'follower caught up, adding it to the ISR');
  }

  #addToEtcd(s: Session): void {
    s.etcdAdded = true;
    this.#serialize(() => this.#o.isr.add(s.node)).catch((e: unknown) => {
      if (this.#isr.get(s.node) === s) this.#isr.delete(s.node);
      if (s.state === 'in-sync') s.state = 'out-of-sync';
      this.#fence(toError(e));
    });
  }

  #removeFromIsr(s: Session, reason: string): void {
    const node = s.node;
    if (this.#isr.get(node) !== s || this.#removing.has(node)) return;
    this.#log.warn({ follower: node, reason, ackedSeq: s.ackedSeq, seq: this.#seq }, 'removing a follower from the ISR');
    const dropped = (): void => {
      if (this.#isr.get(node) === s) this.#isr.delete(node);
      if (s.state === 'in-sync') {
        s.state = 'out-of-sync';
        // It may rejoin once it has caught up with what exists now.
        s.catchUpSeq = this.#seq;
      }
      this.#release();
      // Whoever is connected as this node now (this session or a newer one) may already qualify, and an idle
      // leader sends nothing that would bring another ACK.
      const current = this.#byNode.get(node);
      if (current !== undefined) this.#maybeJoin(current);
    };
    if (!s.etcdAdded) {
      // etcd never listed it for this membership.
      dropped();
      return;
    }
    this.#removing.add(node);
    this.#serialize(() => this.#o.isr.remove(node)).then(
      () => {
        this.#removing.delete(node);
        dropped();
      },
      (e: unknown) => {
        this.#removing.delete(node);
        this.#fence(toError(e));
      },
    );
  }

  /**
   * Runs ISR transactions one at a time, in the order they were decided (an add and a remove must not overtake each
   * other, and an adapter over a whole-set etcd write sees one change at a time).
   */
  #serialize(op: () => Promise<void>): Promise<void> {
    const next = this.#isrOps.then(op, op);
    this.#isrOps = next.catch(() => {});
    return next;
  }

  #fence(error: Error): void {
    if (this.#fenced !== undefined) return;
    this.#fenced = error;
    this.#log.error({ err: error }, 'an ISR transaction failed: this leader is fenced');
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#failBarriers(error);
    this.#o.onFenced(error);
  }

  #failBarriers(error: Error): void {
    const barriers = this.#barriers;
    this.#barriers = [];
    for (const b of barriers) b.callback(error);
  }

  /** The lowest acknowledged seq over the local ISR (a member that is gone counts as 0 until etcd drops it). */
  #minIsrAck(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const s of this.#isr.values()) min = Math.min(min, s.closed ? -1 : s.ackedSeq);
    return min;
  }

  #release(): void {
    if (this.#barriers.length === 0) return;
    const min = this.#minIsrAck();
    let n = 0;
    while (n < this.#barriers.length && this.#barriers[n]!.seq <= min) n++;
    if (n === 0) return;
    const done = this.#barriers.splice(0, n);
    this.#releasedSeq = Math.max(this.#releasedSeq, done[done.length - 1]!.seq);
    for (const b of done) b.callback();
    if (this.#barriers.length === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #armTimer(): void {
    if (this.#timer !== undefined) return;
    const next = this.#barriers.find((b) => !b.expired);
    if (next === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#onTimeout();
    }, Math.max(0, next.deadline - Date.now()));
  }

  #onTimeout(): void {
    const now = Date.now();
    for (const b of this.#barriers) {
      if (b.expired) continue;
      if (b.deadline > now) break;
      b.expired = true;
      for (const s of [...this.#isr.values()]) {
        if (s.ackedSeq < b.seq) this.#removeFromIsr(s, `no ACK of change ${b.seq} within ${this.#o.ackTimeoutMs} ms`);
      }
    }
    this.#armTimer();
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const s of this.#sessions) if (s.streaming && s.pending.length > 0) this.#flushSession(s);
  }

  #flushSession(s: Session): void {
    const pending = s.pending;
    let first = s.pendingFirstSeq;
    s.pending = [];
    s.pendingBytes = 0;
    let start = 0;
    let bytes = 0;
    const emit = (end: number): void => {
      if (end === start) return;
      const frame = encodeFrame({ type: 'changes', firstSeq: first, changes: pending.slice(start, end) });
      first += end - start;
      s.inflight.push([first - 1, frame.length]);
      s.inflightBytes += frame.length;
      s.socket.write(frame);
      start = end;
      bytes = 0;
    };
    for (let i = 0; i < pending.length; i++) {
      const size = changeSize(pending[i]!);
      if (bytes > 0 && bytes + size > FRAME_BUDGET) emit(i);
      bytes += size;
    }
    emit(pending.length);
  }

  async #bulkSync(s: Session, hello: Extract<LinkFrame, { type: 'hello' }>): Promise<void> {
    const snap = this.#snapshot(s);
    try {
      const theirs = new Map<string, ManifestEntry>();
      for (const e of hello.manifest) theirs.set(e.file, e);
      const theirDirs = new Set(hello.dirs);
      // Removals first: a follower's file may stand where the leader has a directory, or the reverse.
      const removed = new Set<string>();
      const underRemoved = (path: string): boolean => {
        for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) if (removed.has(path.slice(0, i))) return true;
        return removed.has(path);
      };
      const remove = async (path: string): Promise<void> => {
        if (underRemoved(path)) return;
        removed.add(path);
        await this.#send(s, { type: 'sync-remove', path });
      };
      // Parents before children (the manifest's walk order), so a removed directory covers its contents.
      for (const d of hello.dirs) if (!snap.dirs.has(d)) await remove(d);
      for (const e of hello.manifest) if (!snap.files.has(e.file)) await remove(e.file);
      for (const d of snap.dirs) if (!theirDirs.has(d) || underRemoved(d)) await this.#send(s, { type: 'sync-mkdir', dir: d });
      const scratch = Buffer.allocUnsafe(this.#o.syncChunkBytes ?? 1 << 20);
      for (const [file, { size, link }] of snap.files) await this.#syncFile(s, file, size, link, theirs.get(file), scratch);
      for (const path of this.#vanishedBeforeSnapshot(s, snap)) await this.#send(s, { type: 'sync-remove', path });
      await this.#send(s, { type: 'sync-done', seq: snap.seq });
      s.catchUpSeq = this.#seq;
      s.streaming = true;
      if (s.pending.length > 0) this.#flushSession(s);
      this.#log.info({ follower: s.node, seq: snap.seq, files: snap.files.size, bytes: s.syncBytesSent }, 'bulk sync sent');
    } finally {
      await rm(snap.dir, { recursive: true, force: true });
    }
  }

  /**
   * Paths the snapshot listed that are gone now although no change since the snapshot touched them or a parent: a
   * removal reported before the snapshot (so not replayed) that had not completed when it was taken (the store's
   * asynchronous unlink / rm are reported when issued). The follower must drop them too. One synchronous step, so no
   * change slips between the check and SYNC_DONE.
   */
  #vanishedBeforeSnapshot(s: Session, snap: { files: Map<string, unknown>; dirs: Set<string> }): string[] {
    const touched = new Set<string>();
    for (const c of s.pending) {
      if (c.kind === 'rename') {
        touched.add(c.from);
        touched.add(c.to);
      } else touched.add(c.kind === 'mkdir' ? c.dir : c.kind === 'remove' ? c.path : c.file);
    }
    const explained = (path: string): boolean => {
      for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) if (touched.has(path.slice(0, i))) return true;
      return touched.has(path);
    };
    const gone: string[] = [];
    const check = (path: string): void => {
      if (explained(path) || gone.some((g) => path.startsWith(`${g}/`))) return;
      try {
        statSync(join(this.#o.dataDir, path));
      } catch (e) {
        if (isMissing(e)) gone.push(path);
        else throw e;
      }
    };
    for (const d of snap.dirs) check(d);
    for (const f of snap.files.keys()) check(f);
    return gone;
  }

  /**
   * Lists the directory and hard-links every file into a private snapshot directory, in one synchronous step, and
   * starts buffering live changes for the follower from that same point. Reading through the links later sees each
   * file's inode whatever it has been renamed to or whether it was unlinked meanwhile, possibly with newer bytes;
   * replaying the buffered changes over it then lands exactly on the leader's state.
   */
  #snapshot(s: Session): { files: Map<string, { size: number; link: string }>; dirs: Set<string>; seq: number; dir: string } {
    const root = this.#o.dataDir;
    const dir = join(root, CLUSTER_DIR, 'sync', String(s.id));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = new Map<string, { size: number; link: string }>();
    const dirs = new Set<string>();
    let n = 0;
    const walk = (rel: string): void => {
      let entries;
      try {
        entries = readdirSync(rel === '' ? root : join(root, rel), { withFileTypes: true });
      } catch (e) {
        if (isMissing(e)) return;
        throw e;
      }
      for (const entry of entries) {
        const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (isLocalPath(path)) continue;
        if (entry.isDirectory()) {
          dirs.add(path);
          walk(path);
        } else if (entry.isFile()) {
          const abs = join(root, path);
          const link = join(dir, String(n++));
          try {
            const { size } = statSync(abs);
            linkSync(abs, link);
            files.set(path, { size, link });
          } catch (e) {
            if (!isMissing(e)) throw e;
          }
        }
      }
    };
    walk('');
    s.state = 'syncing';
    s.receiving = true;
    s.pending = [];
    s.pendingBytes = 0;
    return { files, dirs, seq: this.#seq, dir };
  }

  async #syncFile(s: Session, file: string, size: number, link: string, theirs: ManifestEntry | undefined, scratch: Buffer): Promise<void> {
    let fh;
    try {
      fh = await open(link, 'r');
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    try {
      let start = 0;
      let truncateTo: number | undefined = 0;
      if (theirs !== undefined && theirs.size <= size) {
        let crc = 0;
        let pos = 0;
        while (pos < theirs.size) {
          const { bytesRead } = await fh.read(scratch, 0, Math.min(scratch.length, theirs.size - pos), pos);
          if (bytesRead === 0) break;
          crc = crc32(scratch.subarray(0, bytesRead), crc);
          pos += bytesRead;
        }
        if (pos === theirs.size && crc === theirs.crc32) {
          start = theirs.size;
          truncateTo = undefined;
        }
      }
      let pos = start;
      while (pos < size) {
        const { bytesRead } = await fh.read(scratch, 0, Math.min(scratch.length, size - pos), pos);
        if (bytesRead === 0) break; // shrunk meanwhile: the buffered changes carry the rest
        const data = scratch.subarray(0, bytesRead);
        await this.#send(s, truncateTo === undefined ? { type: 'sync-data', file, position: pos, data } : { type: 'sync-data', file, position: pos, data, truncateTo });
        truncateTo = undefined;
        s.syncBytesSent += bytesRead;
        pos += bytesRead;
      }
      if (truncateTo !== undefined) await this.#send(s, { type: 'sync-data', file, position: 0, data: Buffer.alloc(0), truncateTo });
    } finally {
      await fh.close();
    }
  }

  /** Writes a frame, waiting for the socket to drain (bulk sync only: live changes never wait). */
  async #send(s: Session, frame: LinkFrame): Promise<void> {
    if (s.closed) throw new SyncAborted();
    if (!s.socket.write(encodeFrame(frame))) {
      await Promise.race([new Promise((resolve) => s.socket.once('drain', resolve)), s.whenClosed]);
      if (s.closed) throw new SyncAborted();
    }
  }

  #closeSession(s: Session, error: unknown, reason?: string): void {
    if (!s.closed) {
      s.closed = true;
      s.markClosed();
      if (error !== undefined) this.#log.warn({ follower: s.node || undefined, address: s.address, err: error }, 'replication link to a follower failed');
      else if (s.node !== '') this.#log.info({ follower: s.node, reason }, 'replication link to a follower closed');
      s.socket.destroy();
    }
    s.receiving = false;
    s.streaming = false;
    s.pending = [];
    s.pendingBytes = 0;
    this.#sessions.delete(s);
    if (this.#byNode.get(s.node) === s) this.#byNode.delete(s.node);
    if (this.#isr.get(s.node) === s) this.#removeFromIsr(s, 'disconnected');
  }
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
