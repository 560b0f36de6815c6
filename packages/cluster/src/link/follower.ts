import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '@warren/core';
import { DataDirApplier } from './applier.js';
import { encodeFrame, FrameDecoder, LinkProtocolError, type LinkFrame } from './codec.js';
import { computeManifest } from './manifest.js';
import { checkReplicatedPath, CLUSTER_DIR } from './paths.js';
import { linkProof, newNonce, proofMatches } from './proof.js';

/** Where a node records the highest leader epoch it has seen, relative to its data directory. */
export const EPOCH_FILE = `${CLUSTER_DIR}/epoch`;

/** Options of {@link ReplicationFollower}. */
export interface ReplicationFollowerOptions {
  /** The follower's data directory (the copy it maintains). */
  readonly dataDir: string;
  /** This node's name. */
  readonly node: string;
  /** The cluster's name; the leader refuses another cluster's nodes. */
  readonly cluster: string;
  /** The cluster's shared secret (never sent: see proof.ts). */
  readonly secret: string;
  /** The leader to follow, and the epoch etcd elected it in. */
  readonly leader: { readonly host: string; readonly port: number; readonly epoch: number };
  readonly logger: Logger;
  /** Largest frame accepted from the leader once authenticated (default 512 MiB, above any single store write). */
  readonly maxFrameBytes?: number;
}

/** What {@link ReplicationFollower.status} reports. */
export interface ReplicationFollowerStatus {
  /** `syncing` from start until SYNC_DONE, `streaming` after, `stopped` once closed. */
  readonly state: 'syncing' | 'streaming' | 'stopped';
  /** The last change applied and acknowledged (0 before the bulk sync completes). */
  readonly appliedSeq: number;
  /** The epoch of the leader that welcomed us, or the highest one known before. */
  readonly leaderEpoch: number;
  /** Bytes of file data received by the bulk sync. */
  readonly syncBytes: number;
}

/** Events of {@link ReplicationFollower}. */
export interface ReplicationFollowerEvents {
  /** The bulk sync completed: the directory matches the leader's as of `seq`. */
  synced: [seq: number];
  /** The link is closed (for `reason`); the member state machine decides whether to start a new follower. */
  closed: [reason: string];
}

const PENDING_PAUSE_BYTES = 32 << 20;
const ACK_EVERY_BYTES = 16 << 20;

/**
 * The follower end of the replication link: authenticates to the leader, receives the bulk sync then the live
 * changes, applies them in order to its data directory, and acknowledges each received batch once it is durable
 * (one ACK per batch: files fdatasynced, directories fsynced). It never reconnects by itself.
 */
export class ReplicationFollower extends EventEmitter<ReplicationFollowerEvents> {
  readonly #o: ReplicationFollowerOptions;
  readonly #log: Logger;
  #state: ReplicationFollowerStatus['state'] = 'stopped';
  #appliedSeq = 0;
  #epoch = 0;
  #syncBytes = 0;
  #socket: Socket | undefined;
  #applier: DataDirApplier | undefined;
  #queue: LinkFrame[] = [];
  #queuedBytes = 0;
  #pumping = false;
  #welcomed = false;
  #synced = false;
  #nonce = newNonce();
  #manifest: Promise<Awaited<ReturnType<typeof computeManifest>>> | undefined;
  #unackedBytes = 0;
  #ackDue = false;
  #closing = false;
  /** From start() until the `closed` event. */
  #active = false;
  #whenClosed: Promise<void> = Promise.resolve();

  constructor(options: ReplicationFollowerOptions) {
    super();
    this.#o = options;
    this.#log = options.logger.child({ component: 'replication-follower', leader: `${options.leader.host}:${options.leader.port}` });
  }

  /**
   * Starts: reads the epoch record, checksums the directory, connects. Failures end in a `closed` event; after it,
   * start() may be called again (a new bulk sync).
   */
  start(): void {
    if (this.#active) return;
    this.#active = true;
    this.#state = 'syncing';
    this.#closing = false;
    this.#welcomed = false;
    this.#synced = false;
    this.#appliedSeq = 0;
    this.#syncBytes = 0;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#nonce = newNonce();
    this.#run().catch((e: unknown) => this.#close(e));
  }

  /** Closes the link; resolves once the `closed` event has been emitted (at once if not started). */
  async stop(): Promise<void> {
    if (this.#active) this.#close(undefined, 'stopped');
    await this.#whenClosed;
  }

  /** Current state. */
  status(): ReplicationFollowerStatus {
    return { state: this.#state, appliedSeq: this.#appliedSeq, leaderEpoch: this.#epoch, syncBytes: this.#syncBytes };
  }

  async #run(): Promise<void> {
    const stored = await readEpoch(this.#o.dataDir);
    this.#epoch = Math.max(stored, this.#o.leader.epoch);
    // Checksumming overlaps the connection set-up; HELLO waits for it.
    this.#manifest = computeManifest(this.#o.dataDir);
    this.#manifest.catch(() => {});
    if (this.#closing) return;
    this.#applier = new DataDirApplier(this.#o.dataDir);
    // The follower chose this peer (etcd named it), so one bound serves before and after the handshake.
    const decoder = new FrameDecoder(this.#o.maxFrameBytes ?? 512 << 20);
    const socket = connect({ host: this.#o.leader.host, port: this.#o.leader.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('error', (e) => {
      if (socket === this.#socket) this.#close(e);
    });
    socket.on('close', () => {
      if (socket === this.#socket) this.#close(undefined, 'connection closed by the leader');
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#closing) return;
      let frames: LinkFrame[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        this.#close(e);
        return;
      }
      for (const frame of frames) {
        this.#queue.push(frame);
        this.#queuedBytes += frameBytes(frame);
      }
      if (this.#queuedBytes > PENDING_PAUSE_BYTES) socket.pause();
      if (!this.#pumping && this.#queue.length > 0) void this.#pump();
    });
  }

  async #handshake(frame: LinkFrame): Promise<void> {
    const o = this.#o;
    switch (frame.type) {
      case 'challenge': {
        const manifest = await this.#manifest!;
        if (this.#closing) return;
        const proof = linkProof(o.secret, 'follower', o.cluster, o.node, frame.nonce);
        this.#send({ type: 'hello', cluster: o.cluster, node: o.node, proof, nonce: this.#nonce, epoch: this.#epoch, manifest: manifest.files, dirs: manifest.dirs });
        return;
      }
      case 'welcome': {
        if (!proofMatches(linkProof(o.secret, 'leader', o.cluster, frame.leader, this.#nonce), frame.proof)) {
          throw new LinkProtocolError('the leader failed to prove it knows the cluster secret');
        }
        if (frame.epoch < this.#epoch) {
          this.#log.error({ leaderEpoch: frame.epoch, highestEpoch: this.#epoch, leaderNode: frame.leader }, 'refusing a leader of an older epoch');
          this.#close(undefined, `stale leader epoch ${frame.epoch} < ${this.#epoch}`);
          return;
        }
        if (frame.epoch > (await readEpoch(o.dataDir))) await writeEpoch(o.dataDir, frame.epoch);
        this.#epoch = frame.epoch;
        this.#welcomed = true;
        this.#log.info({ leaderNode: frame.leader, epoch: frame.epoch }, 'replication link established, syncing');
        return;
      }
      case 'refuse':
        this.#log.error({ reason: frame.reason }, 'the leader refused this follower');
        this.#close(undefined, `refused: ${frame.reason}`);
        return;
      default:
        throw new LinkProtocolError(`unexpected ${frame.type} frame before WELCOME`);
    }
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (!this.#closing) {
        const frame = this.#queue.shift();
        if (frame === undefined) {
          // The batch is drained: one ACK covers it.
          if (this.#ackDue) await this.#ack();
          if (this.#queue.length === 0) break;
          continue;
        }
        const bytes = frameBytes(frame);
        this.#queuedBytes -= bytes;
        if (this.#queuedBytes <= PENDING_PAUSE_BYTES / 2) this.#socket?.resume();
        if (this.#welcomed) await this.#handle(frame);
        else await this.#handshake(frame);
        this.#unackedBytes += bytes;
        if (this.#ackDue && this.#unackedBytes >= ACK_EVERY_BYTES) await this.#ack();
      }
    } catch (e) {
      this.#close(e);
    } finally {
      this.#pumping = false;
    }
  }

  async #handle(frame: LinkFrame): Promise<void> {
    const applier = this.#applier!;
    switch (frame.type) {
      case 'sync-remove':
        this.#expectSyncing(frame.type);
        await applier.remove(checkReplicatedPath(frame.path));
        return;
      case 'sync-mkdir':
        this.#expectSyncing(frame.type);
        await applier.mkdir(checkReplicatedPath(frame.dir));
        return;
      case 'sync-data': {
        this.#expectSyncing(frame.type);
        const file = checkReplicatedPath(frame.file);
        if (frame.truncateTo !== undefined) await applier.truncate(file, frame.truncateTo);
        if (frame.data.length > 0) await applier.write(file, frame.position, frame.data);
        this.#syncBytes += frame.data.length;
        return;
      }
      case 'sync-done':
        this.#expectSyncing(frame.type);
        this.#synced = true;
        this.#appliedSeq = frame.seq;
        await this.#ack();
        this.#state = 'streaming';
        this.#log.info({ seq: frame.seq, syncBytes: this.#syncBytes }, 'bulk sync complete');
        this.emit('synced', frame.seq);
        return;
      case 'changes': {
        if (!this.#synced) throw new LinkProtocolError('CHANGES before SYNC_DONE');
        if (frame.firstSeq !== this.#appliedSeq + 1) {
          throw new LinkProtocolError(`CHANGES from ${frame.firstSeq}, expected ${this.#appliedSeq + 1}`);
        }
        const changes = frame.changes;
        for (const c of changes) {
          switch (c.kind) {
            case 'write':
            case 'truncate':
              checkReplicatedPath(c.file);
              break;
            case 'mkdir':
              checkReplicatedPath(c.dir);
              break;
            case 'rename':
              checkReplicatedPath(c.from);
              checkReplicatedPath(c.to);
              break;
            case 'remove':
              checkReplicatedPath(c.path);
              break;
          }
        }
        for (let i = 0; i < changes.length; ) {
          const c = changes[i]!;
          if (c.kind !== 'write') {
            await applier.apply(c);
            i++;
            continue;
          }
          // A run of appends to one file (a segment being filled) becomes one positional writev.
          const buffers = [c.data];
          let end = c.position + c.data.length;
          let j = i + 1;
          for (; j < changes.length; j++) {
            const n = changes[j]!;
            if (n.kind !== 'write' || n.file !== c.file || n.position !== end || buffers.length >= 1024) break;
            buffers.push(n.data);
            end += n.data.length;
          }
          await applier.writev(c.file, c.position, buffers);
          i = j;
        }
        this.#appliedSeq += frame.changes.length;
        this.#ackDue = true;
        return;
      }
      default:
        throw new LinkProtocolError(`unexpected ${frame.type} frame from the leader`);
    }
  }

  #expectSyncing(type: string): void {
    if (this.#synced) throw new LinkProtocolError(`${type} after SYNC_DONE`);
  }

  async #ack(): Promise<void> {
    await this.#applier!.flush();
    this.#ackDue = false;
    this.#unackedBytes = 0;
    this.#send({ type: 'ack', seq: this.#appliedSeq });
  }

  #send(frame: LinkFrame): void {
    if (!this.#closing) this.#socket?.write(encodeFrame(frame));
  }

  #close(error: unknown, reason?: string): void {
    if (this.#closing) return;
    this.#closing = true;
    const why = reason ?? (error instanceof Error ? error.message : String(error));
    if (error !== undefined) this.#log.error({ err: error }, 'replication link failed');
    else this.#log.info({ reason: why }, 'replication link closed');
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#state = 'stopped';
    const applier = this.#applier;
    this.#applier = undefined;
    // Wait for an apply in progress before closing its handles.
    const closeApplier = async (): Promise<void> => {
      while (this.#pumping) await new Promise((r) => setImmediate(r));
      await applier?.close();
    };
    this.#whenClosed = closeApplier().finally(() => {
      this.#active = false;
      this.emit('closed', why);
    });
  }
}

function frameBytes(frame: LinkFrame): number {
  if (frame.type === 'sync-data') return frame.data.length + 64;
  if (frame.type === 'changes') {
    let n = 64;
    for (const c of frame.changes) n += c.kind === 'write' ? c.data.length + 32 : 32;
    return n;
  }
  return 64;
}

/** The highest epoch recorded in `<dataDir>/cluster/epoch`, 0 when none. */
export async function readEpoch(dataDir: string): Promise<number> {
  try {
    const n = Number((await readFile(join(dataDir, EPOCH_FILE), 'utf8')).trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** Records `epoch` durably (write, fsync, rename, fsync the directory). */
export async function writeEpoch(dataDir: string, epoch: number): Promise<void> {
  const dir = join(dataDir, CLUSTER_DIR);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, 'epoch.tmp');
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(`${epoch}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dataDir, EPOCH_FILE));
  const d = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
