import { constants } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DataDirChange } from '@warren/core';
import { isMissing } from './manifest.js';
import { isWithin, parentOf } from './paths.js';

interface OpenFile {
  readonly handle: FileHandle;
  /** Written since the last flush: needs fdatasync before an ACK may cover it. */
  dirty: boolean;
}

/**
 * Applies data-directory changes to a follower's copy: positional writes through a small LRU of open files, and a
 * {@link flush} that makes everything applied since the last flush durable (fdatasync of the files written, fsync of
 * the directories whose entries changed), which is what an ACK promises. Paths must already be checked
 * (checkReplicatedPath). Calls must not overlap: the follower applies one frame at a time, in order.
 */
export class DataDirApplier {
  readonly #root: string;
  readonly #maxOpen: number;
  readonly #open = new Map<string, OpenFile>();
  /** Directories (relative, `''` = root) whose entries changed since the last flush. */
  readonly #dirtyDirs = new Set<string>();

  constructor(root: string, maxOpen = 64) {
    this.#root = resolve(root);
    this.#maxOpen = maxOpen;
  }

  /** Applies one change. */
  async apply(change: DataDirChange): Promise<void> {
    switch (change.kind) {
      case 'write':
        return this.write(change.file, change.position, change.data);
      case 'truncate':
        return this.truncate(change.file, change.length);
      case 'mkdir':
        return this.mkdir(change.dir);
      case 'rename':
        return this.rename(change.from, change.to);
      case 'remove':
        return this.remove(change.path);
      default: {
        const never: never = change;
        throw new Error(`unexpected change ${JSON.stringify(never)}`);
      }
    }
  }

  /** Writes `data` at `position`, creating the file (and its parents) if missing. */
  async write(file: string, position: number, data: Buffer): Promise<void> {
    const f = await this.#file(file);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await f.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
    f.dirty = true;
  }

  /** Writes `buffers` back to back from `position` (contiguous writes of a batch coalesced into one call). */
  async writev(file: string, position: number, buffers: Buffer[]): Promise<void> {
    if (buffers.length === 1) return this.write(file, position, buffers[0]!);
    const f = await this.#file(file);
    const total = buffers.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await f.handle.writev(buffers, position);
    f.dirty = true;
    if (bytesWritten < total) {
      // Short write: finish the rest piecewise.
      const rest = Buffer.concat(buffers).subarray(bytesWritten);
      await this.write(file, position + bytesWritten, rest);
    }
  }

  /** Sets the file's length, creating it if missing. */
  async truncate(file: string, length: number): Promise<void> {
    const f = await this.#file(file);
    await f.handle.truncate(length);
    f.dirty = true;
  }

  /** `mkdir -p`. */
  async mkdir(dir: string): Promise<void> {
    await this.#mkdirs(dir);
  }

  /** Renames a file or directory (replacing a file at `to`); open handles follow the rename. */
  async rename(from: string, to: string): Promise<void> {
    await this.#mkdirs(parentOf(to));
    await rename(join(this.#root, from), join(this.#root, to));
    // Handles of whatever `to` named before are of unlinked files now; those of `from` keep their inode.
    await this.#forget(to);
    for (const [path, f] of [...this.#open]) {
      if (!isWithin(path, from)) continue;
      this.#open.delete(path);
      this.#open.set(to + path.slice(from.length), f);
    }
    for (const dir of [...this.#dirtyDirs]) {
      if (isWithin(dir, from) && dir !== '') {
        this.#dirtyDirs.delete(dir);
        this.#dirtyDirs.add(to + dir.slice(from.length));
      }
    }
    this.#dirtyDirs.add(parentOf(from));
    this.#dirtyDirs.add(parentOf(to));
  }

  /** `rm -rf`; no error when already gone. */
  async remove(path: string): Promise<void> {
    await this.#forget(path);
    for (const dir of [...this.#dirtyDirs]) if (isWithin(dir, path)) this.#dirtyDirs.delete(dir);
    await rm(join(this.#root, path), { recursive: true, force: true });
    this.#dirtyDirs.add(parentOf(path));
  }

  /** Makes everything applied so far durable. */
  async flush(): Promise<void> {
    for (const f of this.#open.values()) {
      if (!f.dirty) continue;
      await f.handle.datasync();
      f.dirty = false;
    }
    // Deepest first: a new directory's own entries before the entry naming it.
    const dirs = [...this.#dirtyDirs].sort((a, b) => b.length - a.length);
    this.#dirtyDirs.clear();
    for (const dir of dirs) {
      let handle: FileHandle;
      try {
        handle = await open(dir === '' ? this.#root : join(this.#root, dir), constants.O_RDONLY | constants.O_DIRECTORY);
      } catch (e) {
        if (isMissing(e)) continue; // removed later in the same batch: its parent is dirty too
        throw e;
      }
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }

  /** Closes every handle (without syncing: call {@link flush} first when that matters). */
  async close(): Promise<void> {
    const handles = [...this.#open.values()];
    this.#open.clear();
    await Promise.allSettled(handles.map((f) => f.handle.close()));
  }

  async #file(file: string): Promise<OpenFile> {
    const cached = this.#open.get(file);
    if (cached !== undefined) {
      this.#open.delete(file);
      this.#open.set(file, cached);
      return cached;
    }
    const abs = join(this.#root, file);
    let handle: FileHandle;
    try {
      handle = await open(abs, constants.O_RDWR);
    } catch (e) {
      if (!isMissing(e)) throw e;
      await this.#mkdirs(parentOf(file));
      handle = await open(abs, constants.O_RDWR | constants.O_CREAT, 0o600);
      this.#dirtyDirs.add(parentOf(file));
    }
    const f: OpenFile = { handle, dirty: false };
    this.#open.set(file, f);
    while (this.#open.size > this.#maxOpen) {
      const [oldest, victim] = this.#open.entries().next().value as [string, OpenFile];
      this.#open.delete(oldest);
      if (victim.dirty) await victim.handle.datasync();
      await victim.handle.close();
    }
    return f;
  }

  async #mkdirs(dir: string): Promise<void> {
    if (dir === '') return;
    const first = await mkdir(join(this.#root, dir), { recursive: true, mode: 0o700 });
    if (first === undefined) return;
    // Every directory from the first created one down to `dir` is new, and so is its entry in its parent.
    const firstRel = first.slice(this.#root.length + 1).split('\\').join('/');
    for (let d = dir; ; d = parentOf(d)) {
      this.#dirtyDirs.add(d);
      this.#dirtyDirs.add(parentOf(d));
      if (d === firstRel || d === '') break;
    }
  }

  /** Closes, without syncing, the handles of `path` and of anything under it (about to be gone or replaced). */
  async #forget(path: string): Promise<void> {
    for (const [p, f] of [...this.#open]) {
      if (!isWithin(p, path)) continue;
      this.#open.delete(p);
      await f.handle.close();
    }
  }
}
