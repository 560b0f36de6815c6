/** Test helpers for the replication link: temp trees, a pausable TCP proxy, a recording ISR, a change applier. */
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DataDirChange } from '@warren/core';

/** A fresh temp directory. */
export function tempDir(prefix = 'warren-link-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Every file (path → bytes as hex-free Buffer) and directory under `root`, `cluster/` left out. */
export function readTree(root: string): { files: Map<string, Buffer>; dirs: string[] } {
  const files = new Map<string, Buffer>();
  const dirs: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(rel === '' ? root : join(root, rel), { withFileTypes: true })) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (path === 'cluster') continue;
      if (e.isDirectory()) {
        dirs.push(path);
        walk(path);
      } else files.set(path, readFileSync(join(root, path)));
    }
  };
  walk('');
  dirs.sort();
  return { files, dirs };
}

/** A description of the differences between two trees (empty when identical). */
export function treeDiff(a: string, b: string): string[] {
  const ta = readTree(a);
  const tb = readTree(b);
  const out: string[] = [];
  if (ta.dirs.join('\n') !== tb.dirs.join('\n')) out.push(`dirs differ: ${JSON.stringify(ta.dirs)} vs ${JSON.stringify(tb.dirs)}`);
  for (const [p, data] of ta.files) {
    const other = tb.files.get(p);
    if (other === undefined) out.push(`missing ${p}`);
    else if (!other.equals(data)) out.push(`differs ${p} (${data.length} vs ${other.length} bytes)`);
  }
  for (const p of tb.files.keys()) if (!ta.files.has(p)) out.push(`extra ${p}`);
  return out;
}

/** Makes `change` on the real directory, as the store would (synchronously). */
export function applyLocally(root: string, change: DataDirChange): void {
  switch (change.kind) {
    case 'write':
    case 'truncate': {
      const abs = join(root, change.file);
      mkdirSync(dirname(abs), { recursive: true });
      const fd = openSync(abs, constants.O_RDWR | constants.O_CREAT);
      try {
        if (change.kind === 'write') writeSync(fd, change.data, 0, change.data.length, change.position);
        else ftruncateSync(fd, change.length);
      } finally {
        closeSync(fd);
      }
      return;
    }
    case 'mkdir':
      mkdirSync(join(root, change.dir), { recursive: true });
      return;
    case 'rename':
      renameSync(join(root, change.from), join(root, change.to));
      return;
    case 'remove':
      rmSync(join(root, change.path), { recursive: true, force: true });
      return;
  }
}

/** Polls `cond` until true (or fails after `ms`). */
export async function waitFor(cond: () => boolean, ms = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fake etcd ISR recording its calls; `failNext` makes the following calls reject. */
export class RecordingIsr {
  readonly calls: string[] = [];
  failWith: Error | undefined;
  add = async (node: string): Promise<void> => {
    this.calls.push(`add ${node}`);
    if (this.failWith !== undefined) throw this.failWith;
  };
  remove = async (node: string): Promise<void> => {
    this.calls.push(`remove ${node}`);
    if (this.failWith !== undefined) throw this.failWith;
  };
}

/** A TCP proxy whose follower → leader direction (the ACKs) can be held. */
export class PausableProxy {
  #server: Server | undefined;
  #held = false;
  #clients: Array<{ up: Socket; queue: Buffer[] }> = [];

  async start(targetPort: number): Promise<number> {
    this.#server = createServer((down) => {
      const up = connect({ host: '127.0.0.1', port: targetPort });
      const entry = { up, queue: [] as Buffer[] };
      this.#clients.push(entry);
      up.on('data', (d) => down.write(d));
      down.on('data', (d: Buffer) => {
        if (this.#held) entry.queue.push(d);
        else up.write(d);
      });
      const end = (): void => {
        up.destroy();
        down.destroy();
      };
      up.on('close', end).on('error', end);
      down.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    return (this.#server.address() as AddressInfo).port;
  }

  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    for (const c of this.#clients) for (const d of c.queue.splice(0)) c.up.write(d);
  }

  /** Forwards the first `n` held bytes, keeping the rest held. */
  releaseBytes(n: number): void {
    for (const c of this.#clients) {
      let left = n;
      while (left > 0 && c.queue.length > 0) {
        const d = c.queue[0]!;
        const k = Math.min(left, d.length);
        c.up.write(d.subarray(0, k));
        if (k === d.length) c.queue.shift();
        else c.queue[0] = d.subarray(k);
        left -= k;
      }
    }
  }

  async close(): Promise<void> {
    for (const c of this.#clients) c.up.destroy();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
