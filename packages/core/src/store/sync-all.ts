import fs from 'node:fs';
import { dataBarrier, isDataDirObserved } from './data-fs.js';

/**
 * One group commit: `fdatasync` every descriptor in parallel, then call `done` once, with the first error (EBADF is
 * not one: a descriptor closed meanwhile had its data written before it was closed). With no descriptors, `done` runs
 * in a microtask, so callers see the same asynchrony either way.
 *
 * When an observer replicates `dir` (data-fs.ts), `done` also waits for its barrier, which covers every change
 * reported so far (even to files closed since); a barrier error is the round's error.
 */
export function syncAll(fds: readonly number[], done: (error: Error | undefined) => void, dir?: string): void {
  let left = fds.length;
  let error: Error | undefined;
  if (dir !== undefined && isDataDirObserved(dir)) {
    left++;
    const barrierDone = (err: Error | undefined): void => {
      if (err !== undefined) error ??= err;
      if (--left === 0) done(error);
    };
    // An observer may call back at once: `done` still never runs inside this call.
    dataBarrier(dir, (err) => queueMicrotask(() => barrierDone(err)));
  }
  if (left === 0) {
    queueMicrotask(() => done(undefined));
    return;
  }
  for (const fd of fds) {
    fs.fdatasync(fd, (err) => {
      if (err && err.code !== 'EBADF') error ??= err;
      if (--left === 0) done(error);
    });
  }
}
