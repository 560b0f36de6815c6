/**
 * The replication link's wire format (pure: no sockets, no files). Every frame is
 *
 *   frame   = length:u32 type:u8 payload        ; length counts type + payload, big-endian
 *   string  = len:u16 utf8
 *   bytes   = len:u32 octets
 *   u64     = hi:u32 lo:u32                     ; a non-negative safe integer
 *
 * and the conversation is: leader CHALLENGE → follower HELLO → leader WELCOME (or REFUSE and close) → leader
 * SYNC_REMOVE* SYNC_MKDIR* SYNC_DATA* SYNC_DONE → leader CHANGES* while the follower sends ACK.
 *
 * Authentication is a challenge/response on the shared secret in both directions (see proof.ts): the link is plain
 * TCP, so the secret itself never crosses it, and the nonces make a recorded handshake useless to replay.
 */
import type { DataDirChange } from '@warren/core';

/** Frame type octets. */
export const FrameType = {
  Challenge: 1,
  Hello: 2,
  Welcome: 3,
  Refuse: 4,
  SyncData: 5,
  SyncMkdir: 6,
  SyncRemove: 7,
  SyncDone: 8,
  Changes: 9,
  Ack: 10,
} as const;

/** One file of a follower's data directory, as it tells the leader in HELLO. */
export interface ManifestEntry {
  /** Relative path with `/` separators. */
  readonly file: string;
  readonly size: number;
  /** CRC-32 (zlib's) of the whole file. */
  readonly crc32: number;
}

/** Every frame of the link, as a discriminated union. */
export type LinkFrame =
  /** leader → follower, first frame: the nonce the follower's proof signs. */
  | { readonly type: 'challenge'; readonly nonce: Buffer }
  /** follower → leader. `nonce` is the follower's challenge to the leader; `epoch` the highest it has seen. */
  | {
      readonly type: 'hello';
      readonly cluster: string;
      readonly node: string;
      readonly proof: Buffer;
      readonly nonce: Buffer;
      readonly epoch: number;
      readonly manifest: readonly ManifestEntry[];
      /** The follower's directories (so the leader can remove those it lacks). */
      readonly dirs: readonly string[];
    }
  /** leader → follower: accepted; `proof` answers the follower's nonce. */
  | { readonly type: 'welcome'; readonly epoch: number; readonly leader: string; readonly proof: Buffer }
  /** either way, then close. */
  | { readonly type: 'refuse'; readonly reason: string }
  /** Bulk sync: write `data` at `position`, after truncating the file to `truncateTo` when given. */
  | { readonly type: 'sync-data'; readonly file: string; readonly position: number; readonly data: Buffer; readonly truncateTo?: number }
  | { readonly type: 'sync-mkdir'; readonly dir: string }
  | { readonly type: 'sync-remove'; readonly path: string }
  /** Bulk sync over: the follower's directory now matches the leader's as of change `seq`. */
  | { readonly type: 'sync-done'; readonly seq: number }
  /** Live changes numbered `firstSeq`, `firstSeq + 1`, ... */
  | { readonly type: 'changes'; readonly firstSeq: number; readonly changes: readonly DataDirChange[] }
  /** follower → leader: every change up to `seq` is applied and durable. */
  | { readonly type: 'ack'; readonly seq: number };

/** A malformed frame: the connection must be closed. */
export class LinkProtocolError extends Error {
  override readonly name = 'LinkProtocolError';
}

const ChangeKind = { write: 1, truncate: 2, mkdir: 3, rename: 4, remove: 5 } as const;
const HEADER = 5;

/** Encoded size of a change inside CHANGES. */
export function changeSize(change: DataDirChange): number {
  switch (change.kind) {
    case 'write':
      return 1 + str(change.file) + 8 + 4 + change.data.length;
    case 'truncate':
      return 1 + str(change.file) + 8;
    case 'mkdir':
      return 1 + str(change.dir);
    case 'rename':
      return 1 + str(change.from) + str(change.to);
    case 'remove':
      return 1 + str(change.path);
    default:
      return unreachable(change);
  }
}

/** Encodes one frame into a single buffer (header and payload in one write). */
export function encodeFrame(frame: LinkFrame): Buffer {
  const size = payloadSize(frame);
  const w = new Writer(Buffer.allocUnsafe(HEADER + size));
  w.u32(1 + size);
  w.u8(typeOctet(frame));
  switch (frame.type) {
    case 'challenge':
      w.bytes(frame.nonce);
      break;
    case 'hello':
      w.str(frame.cluster);
      w.str(frame.node);
      w.bytes(frame.proof);
      w.bytes(frame.nonce);
      w.u64(frame.epoch);
      w.u32(frame.manifest.length);
      for (const e of frame.manifest) {
        w.str(e.file);
        w.u64(e.size);
        w.u32(e.crc32);
      }
      w.u32(frame.dirs.length);
      for (const d of frame.dirs) w.str(d);
      break;
    case 'welcome':
      w.u64(frame.epoch);
      w.str(frame.leader);
      w.bytes(frame.proof);
      break;
    case 'refuse':
      w.str(frame.reason);
      break;
    case 'sync-data':
      w.str(frame.file);
      w.u64(frame.position);
      if (frame.truncateTo === undefined) w.u8(0);
      else {
        w.u8(1);
        w.u64(frame.truncateTo);
      }
      w.bytes(frame.data);
      break;
    case 'sync-mkdir':
      w.str(frame.dir);
      break;
    case 'sync-remove':
      w.str(frame.path);
      break;
    case 'sync-done':
    case 'ack':
      w.u64(frame.seq);
      break;
    case 'changes':
      w.u64(frame.firstSeq);
      w.u32(frame.changes.length);
      for (const c of frame.changes) writeChange(w, c);
      break;
    default:
      unreachable(frame);
  }
  return w.buf;
}

/**
 * Splits a TCP byte stream into frames. Frames are decoded as views of the received chunks where a frame lies in one
 * chunk (data buffers included): a consumer that keeps one past its handling copies it.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = -1;
  #maxFrameSize: number;

  /** @param maxFrameSize the largest `length` accepted; a larger one is a protocol error before anything is buffered. */
  constructor(maxFrameSize: number) {
    this.#maxFrameSize = maxFrameSize;
  }

  /** Changes the bound (e.g. raised once the peer is authenticated). */
  set maxFrameSize(value: number) {
    this.#maxFrameSize = value;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Feeds a chunk; returns the frames it completes. Throws {@link LinkProtocolError} on a bad frame. */
  push(chunk: Buffer): LinkFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: LinkFrame[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) break;
        const length = this.#peekU32();
        if (length < 1) throw new LinkProtocolError('empty frame');
        if (length > this.#maxFrameSize) throw new LinkProtocolError(`frame of ${length} bytes exceeds the limit of ${this.#maxFrameSize}`);
        this.#need = 4 + length;
      }
      if (this.#buffered < this.#need) break;
      const whole = this.#take(this.#need);
      this.#need = -1;
      frames.push(decodeBody(whole.subarray(4)));
    }
    return frames;
  }

  #peekU32(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    return this.#take(4, true).readUInt32BE(0);
  }

  #take(n: number, peek = false): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (!peek) {
        if (first.length === n) this.#chunks.shift();
        else this.#chunks[0] = first.subarray(n);
      }
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      let i = 0;
      while (off < n) {
        const c = this.#chunks[i]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (!peek) {
          if (k === c.length) this.#chunks.shift();
          else this.#chunks[0] = c.subarray(k);
        } else i++;
      }
    }
    if (!peek) this.#buffered -= n;
    return out;
  }
}

/** Decodes `type payload` (the frame without its length). */
export function decodeBody(body: Buffer): LinkFrame {
  const r = new Reader(body, 1);
  const type = body[0];
  let frame: LinkFrame;
  switch (type) {
    case FrameType.Challenge:
      frame = { type: 'challenge', nonce: r.bytes() };
      break;
    case FrameType.Hello: {
      const cluster = r.str();
      const node = r.str();
      const proof = r.bytes();
      const nonce = r.bytes();
      const epoch = r.u64();
      const n = r.count(2 + 8 + 4);
      const manifest: ManifestEntry[] = [];
      for (let i = 0; i < n; i++) manifest.push({ file: r.str(), size: r.u64(), crc32: r.u32() });
      const d = r.count(2);
      const dirs: string[] = [];
      for (let i = 0; i < d; i++) dirs.push(r.str());
      frame = { type: 'hello', cluster, node, proof, nonce, epoch, manifest, dirs };
      break;
    }
    case FrameType.Welcome:
      frame = { type: 'welcome', epoch: r.u64(), leader: r.str(), proof: r.bytes() };
      break;
    case FrameType.Refuse:
      frame = { type: 'refuse', reason: r.str() };
      break;
    case FrameType.SyncData: {
      const file = r.str();
      const position = r.u64();
      const flag = r.u8();
      if (flag > 1) throw new LinkProtocolError('bad truncate flag');
      const truncateTo = flag === 1 ? r.u64() : undefined;
      const data = r.bytes();
      frame = truncateTo === undefined ? { type: 'sync-data', file, position, data } : { type: 'sync-data', file, position, data, truncateTo };
      break;
    }
    case FrameType.SyncMkdir:
      frame = { type: 'sync-mkdir', dir: r.str() };
      break;
    case FrameType.SyncRemove:
      frame = { type: 'sync-remove', path: r.str() };
      break;
    case FrameType.SyncDone:
      frame = { type: 'sync-done', seq: r.u64() };
      break;
    case FrameType.Changes: {
      const firstSeq = r.u64();
      const n = r.count(3);
      const changes: DataDirChange[] = [];
      for (let i = 0; i < n; i++) changes.push(readChange(r));
      frame = { type: 'changes', firstSeq, changes };
      break;
    }
    case FrameType.Ack:
      frame = { type: 'ack', seq: r.u64() };
      break;
    default:
      throw new LinkProtocolError(`unknown frame type ${String(type)}`);
  }
  if (r.off !== body.length) throw new LinkProtocolError('trailing bytes in frame');
  return frame;
}

function typeOctet(frame: LinkFrame): number {
  switch (frame.type) {
    case 'challenge': return FrameType.Challenge;
    case 'hello': return FrameType.Hello;
    case 'welcome': return FrameType.Welcome;
    case 'refuse': return FrameType.Refuse;
    case 'sync-data': return FrameType.SyncData;
    case 'sync-mkdir': return FrameType.SyncMkdir;
    case 'sync-remove': return FrameType.SyncRemove;
    case 'sync-done': return FrameType.SyncDone;
    case 'changes': return FrameType.Changes;
    case 'ack': return FrameType.Ack;
    default: return unreachable(frame);
  }
}

function payloadSize(frame: LinkFrame): number {
  switch (frame.type) {
    case 'challenge':
      return 4 + frame.nonce.length;
    case 'hello': {
      let n = str(frame.cluster) + str(frame.node) + 4 + frame.proof.length + 4 + frame.nonce.length + 8 + 4 + 4;
      for (const e of frame.manifest) n += str(e.file) + 12;
      for (const d of frame.dirs) n += str(d);
      return n;
    }
    case 'welcome':
      return 8 + str(frame.leader) + 4 + frame.proof.length;
    case 'refuse':
      return str(frame.reason);
    case 'sync-data':
      return str(frame.file) + 8 + 1 + (frame.truncateTo === undefined ? 0 : 8) + 4 + frame.data.length;
    case 'sync-mkdir':
      return str(frame.dir);
    case 'sync-remove':
      return str(frame.path);
    case 'sync-done':
    case 'ack':
      return 8;
    case 'changes': {
      let n = 8 + 4;
      for (const c of frame.changes) n += changeSize(c);
      return n;
    }
    default:
      return unreachable(frame);
  }
}

function writeChange(w: Writer, c: DataDirChange): void {
  w.u8(ChangeKind[c.kind]);
  switch (c.kind) {
    case 'write':
      w.str(c.file);
      w.u64(c.position);
      w.bytes(c.data);
      break;
    case 'truncate':
      w.str(c.file);
      w.u64(c.length);
      break;
    case 'mkdir':
      w.str(c.dir);
      break;
    case 'rename':
      w.str(c.from);
      w.str(c.to);
      break;
    case 'remove':
      w.str(c.path);
      break;
    default:
      unreachable(c);
  }
}

function readChange(r: Reader): DataDirChange {
  const kind = r.u8();
  switch (kind) {
    case ChangeKind.write:
      return { kind: 'write', file: r.str(), position: r.u64(), data: r.bytes() };
    case ChangeKind.truncate:
      return { kind: 'truncate', file: r.str(), length: r.u64() };
    case ChangeKind.mkdir:
      return { kind: 'mkdir', dir: r.str() };
    case ChangeKind.rename:
      return { kind: 'rename', from: r.str(), to: r.str() };
    case ChangeKind.remove:
      return { kind: 'remove', path: r.str() };
    default:
      throw new LinkProtocolError(`unknown change kind ${kind}`);
  }
}

function str(s: string): number {
  return 2 + Buffer.byteLength(s);
}

function unreachable(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}

class Writer {
  off = 0;
  constructor(readonly buf: Buffer) {}
  u8(v: number): void {
    this.buf[this.off++] = v;
  }
  u32(v: number): void {
    this.buf.writeUInt32BE(v, this.off);
    this.off += 4;
  }
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a u64: ${v}`);
    this.buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), this.off);
    this.buf.writeUInt32BE(v >>> 0, this.off + 4);
    this.off += 8;
  }
  str(s: string): void {
    const n = this.buf.write(s, this.off + 2, 'utf8');
    if (n > 0xffff) throw new RangeError('string longer than 65535 bytes');
    this.buf.writeUInt16BE(n, this.off);
    this.off += 2 + n;
  }
  bytes(b: Buffer): void {
    this.u32(b.length);
    b.copy(this.buf, this.off);
    this.off += b.length;
  }
}

class Reader {
  constructor(readonly buf: Buffer, public off: number) {}
  #need(n: number): void {
    if (this.off + n > this.buf.length) throw new LinkProtocolError('truncated frame');
  }
  u8(): number {
    this.#need(1);
    return this.buf[this.off++]!;
  }
  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  u64(): number {
    this.#need(8);
    const hi = this.buf.readUInt32BE(this.off);
    const lo = this.buf.readUInt32BE(this.off + 4);
    if (hi > 0x1f_ffff) throw new LinkProtocolError('u64 beyond the safe integer range');
    this.off += 8;
    return hi * 0x1_0000_0000 + lo;
  }
  /** A count of items each at least `minSize` bytes: bounded by what is left, so a lying count allocates nothing. */
  count(minSize: number): number {
    const n = this.u32();
    if (n * minSize > this.buf.length - this.off) throw new LinkProtocolError('count exceeds the frame');
    return n;
  }
  str(): string {
    this.#need(2);
    const n = this.buf.readUInt16BE(this.off);
    this.off += 2;
    this.#need(n);
    const s = this.buf.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }
  bytes(): Buffer {
    const n = this.u32();
    this.#need(n);
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
}
