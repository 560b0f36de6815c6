import fs from 'node:fs';

/**
 * One group commit: `fdatasync` every descriptor in parallel, then call `done` once, with the first error (EBADF is
 * not one: a descriptor closed meanwhile had its data written before it was closed). With no descriptors, `done` runs
 * in a microtask, so callers see the same asynchrony either way.
 */
export function syncAll(fds: readonly number[], done: (error: Error | undefined) => void): void {
  let left = fds.length;
  let error: Error | undefined;
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
