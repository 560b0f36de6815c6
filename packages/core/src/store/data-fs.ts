/**
 * The store's mutating file operations, reported to the {@link DataDirObserver} of the data directory they touch
 * (replicated mode, DESIGN.md §8). Every durable-store module writes, creates, truncates, renames and removes files
 * through these functions instead of `node:fs`; reads stay on `node:fs`.
 *
 * With no observer registered each wrapper costs one comparison of a module-level counter besides the `node:fs` call
 * (opens and closes also remember the descriptor's path in an array slot, so an observer registered while the store
 * runs knows the files behind descriptors opened before it: a follower joining a running leader). With an observer,
 * a change is reported synchronously after the call succeeded, in call order; asynchronous operations are reported
 * when issued.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataDirChange, DataDirObserver } from './data-dir-observer.js';

interface Root {
  readonly root: string;
  readonly prefix: string;
  readonly observer: DataDirObserver;
}

/** A descriptor of an observed file, resolved lazily at its first write while observed. */
interface Tracked {
  readonly owner: Root;
  readonly file: string;
  /** The file's size as far as this module knows (appending descriptors only; -1 = ask the file). */
  size: number;
}

/** Observers registered; every wrapper tests this first. */
let observed = 0;
const roots: Root[] = [];
/** Path (as given) and append mode of each descriptor opened through {@link openSync}, by descriptor number. */
const fdPath: (string | undefined)[] = [];
const fdAppend: boolean[] = [];
/** Resolved descriptors while observed: null = not under any observed root. Cleared when the roots change. */
const tracked = new Map<number, Tracked | null>();

/**
 * Report every change the store makes under `root` to `observer` (see {@link DataDirObserver}) until the returned
 * function is called. At most one observer per root; a path belongs to the observer with the longest root containing
 * it.
 */
export function observeDataDir(root: string, observer: DataDirObserver): () => void {
  const abs = path.resolve(root);
  if (roots.some((r) => r.root === abs)) throw new Error(`the data directory ${abs} already has an observer`);
  const entry: Root = { root: abs, prefix: abs.endsWith(path.sep) ? abs : abs + path.sep, observer };
  roots.push(entry);
  roots.sort((a, b) => b.root.length - a.root.length);
  tracked.clear();
  observed++;
  let active = true;
  return () => {
    if (!active) return;
    active = false;
    roots.splice(roots.indexOf(entry), 1);
    tracked.clear();
    observed--;
  };
}

function ownerOf(abs: string): Root | undefined {
  for (const r of roots) if (abs === r.root || abs.startsWith(r.prefix)) return r;
  return undefined;
}

function relative(owner: Root, abs: string): string {
  const rel = path.relative(owner.root, abs);
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

/** The observer owning `p` and the path relative to its root, or undefined. */
function locate(p: fs.PathLike): { owner: Root; file: string } | undefined {
  const abs = path.resolve(String(p));
  const owner = ownerOf(abs);
  if (owner === undefined) return undefined;
  return { owner, file: relative(owner, abs) };
}

function trackFd(fd: number): Tracked | null {
  let t = tracked.get(fd);
  if (t !== undefined) return t;
  const p = fdPath[fd];
  const at = p === undefined ? undefined : locate(p);
  t = at === undefined ? null : { owner: at.owner, file: at.file, size: -1 };
  tracked.set(fd, t);
  return t;
}

function report(owner: Root, change: DataDirChange): void {
  owner.observer.change(change);
}

/**
 * Call `callback` once the observer owning `p` (a file or directory of the store) has made every change reported so
 * far as durable as it promises; at once (in a microtask) when nothing observes `p`.
 */
export function dataBarrier(p: string, callback: (error?: Error) => void): void {
  const owner = observed === 0 ? undefined : ownerOf(path.resolve(p));
  if (owner === undefined) queueMicrotask(() => callback());
  else owner.observer.barrier(callback);
}

/** True when an observer owns `p` (so a durability wait must include {@link dataBarrier}). */
export function isDataDirObserved(p: string): boolean {
  return observed !== 0 && ownerOf(path.resolve(p)) !== undefined;
}

/** Promise form of {@link dataBarrier}. */
export function dataBarrierAsync(p: string): Promise<void> {
  return new Promise((resolve, reject) => dataBarrier(p, (err) => (err === undefined ? resolve() : reject(err))));
}

// ---- descriptors ---------------------------------------------------------------------------------------------------

/**
 * `fs.openSync`. Opening for writing with `w`/`w+`/`wx`/`wx+` reports the file truncated to 0 (created); `a` reports
 * that too when the file is new (empty).
 */
export function openSync(p: string, flags: 'r+' | 'w' | 'w+' | 'wx' | 'wx+' | 'a', mode?: fs.Mode): number {
  const fd = fs.openSync(p, flags, mode);
  const append = flags === 'a';
  fdPath[fd] = p;
  fdAppend[fd] = append;
  if (observed !== 0) {
    tracked.delete(fd);
    const t = trackFd(fd);
    if (t !== null) {
      if (append) {
        t.size = fs.fstatSync(fd).size;
        if (t.size === 0) report(t.owner, { kind: 'truncate', file: t.file, length: 0 });
      } else if (flags !== 'r+') report(t.owner, { kind: 'truncate', file: t.file, length: 0 });
    }
  }
  return fd;
}

/**
 * `fs.writeSync` of bytes. `position` null appends: only for descriptors opened with `a` (the offset is the file's
 * size); every other write names its position.
 */
export function writeSync(fd: number, buffer: Buffer, offset: number, length: number, position: number | null): number {
  const n = fs.writeSync(fd, buffer, offset, length, position);
  if (observed !== 0) noteWrite(fd, buffer, offset, n, position);
  return n;
}

function noteWrite(fd: number, buffer: Buffer, offset: number, n: number, position: number | null): void {
  const t = trackFd(fd);
  if (t === null) return;
  let at: number;
  if (position !== null && fdAppend[fd] !== true) at = position;
  else if (fdAppend[fd] === true) {
    // O_APPEND writes at the end whatever the position; a size unknown here is read after this write.
    if (t.size < 0) t.size = fs.fstatSync(fd).size - n;
    at = t.size;
    t.size += n;
  } else throw new Error('data-fs: a write without a position needs a descriptor opened for appending');
  report(t.owner, { kind: 'write', file: t.file, position: at, data: Buffer.from(buffer.subarray(offset, offset + n)) });
}

/** `fs.closeSync`; forgets the descriptor. */
export function closeSync(fd: number): void {
  fdPath[fd] = undefined;
  if (observed !== 0) tracked.delete(fd);
  fs.closeSync(fd);
}

/** `fs.ftruncateSync`. */
export function ftruncateSync(fd: number, length: number): void {
  fs.ftruncateSync(fd, length);
  if (observed === 0) return;
  const t = trackFd(fd);
  if (t === null) return;
  if (t.size >= 0) t.size = length;
  report(t.owner, { kind: 'truncate', file: t.file, length });
}

// ---- paths ---------------------------------------------------------------------------------------------------------

/** `fs.truncateSync`. */
export function truncateSync(p: string, length: number): void {
  fs.truncateSync(p, length);
  if (observed === 0) return;
  const at = locate(p);
  if (at === undefined) return;
  // A descriptor appending to this file would otherwise keep a stale size.
  for (const t of tracked.values()) if (t !== null && t.owner === at.owner && t.file === at.file) t.size = -1;
  report(at.owner, { kind: 'truncate', file: at.file, length });
}

/** `fs.writeFileSync` (creates or replaces the whole file). */
export function writeFileSync(p: string, data: string | Buffer, options?: fs.WriteFileOptions): void {
  fs.writeFileSync(p, data, options);
  if (observed === 0) return;
  const at = locate(p);
  if (at === undefined) return;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  report(at.owner, { kind: 'truncate', file: at.file, length: 0 });
  if (bytes.length > 0) report(at.owner, { kind: 'write', file: at.file, position: 0, data: bytes });
}

/** `fs.mkdirSync`; reported as making the directory and its missing parents. */
export function mkdirSync(p: string, options?: fs.Mode | fs.MakeDirectoryOptions): void {
  fs.mkdirSync(p, options);
  if (observed === 0) return;
  const at = locate(p);
  if (at !== undefined && at.file !== '') report(at.owner, { kind: 'mkdir', dir: at.file });
}

function noteRemove(p: string): void {
  const at = locate(p);
  if (at !== undefined && at.file !== '') report(at.owner, { kind: 'remove', path: at.file });
}

/** `fs.rmSync`. */
export function rmSync(p: string, options?: fs.RmOptions): void {
  fs.rmSync(p, options);
  if (observed !== 0) noteRemove(p);
}

/** `fs.rm`, reported when issued. */
export function rm(p: string, options: fs.RmOptions, callback: (err: NodeJS.ErrnoException | null) => void): void {
  fs.rm(p, options, callback);
  if (observed !== 0) noteRemove(p);
}

/** `fs.unlinkSync`. */
export function unlinkSync(p: string): void {
  fs.unlinkSync(p);
  if (observed !== 0) noteRemove(p);
}

/** `fs.unlink`, reported when issued. */
export function unlink(p: string, callback: (err: NodeJS.ErrnoException | null) => void): void {
  fs.unlink(p, callback);
  if (observed !== 0) noteRemove(p);
}

/**
 * `fs.renameSync`. Both paths must be under the same observed root (or neither observed), and no descriptor opened
 * through {@link openSync} may be open under `from` (the store closes a queue's files before setting its directory
 * aside).
 */
export function renameSync(from: string, to: string): void {
  fs.renameSync(from, to);
  if (observed === 0) return;
  const a = locate(from);
  const b = locate(to);
  if (a !== undefined && b !== undefined && a.owner === b.owner) {
    report(a.owner, { kind: 'rename', from: a.file, to: b.file });
  } else if (a !== undefined) report(a.owner, { kind: 'remove', path: a.file });
  else if (b !== undefined) throw new Error(`data-fs: ${from} renamed into an observed directory from outside it`);
}
