import * as fs from 'node:fs';

/**
 * fsync a directory so a new or renamed entry in it survives a power loss (POSIX); a no-op where directories cannot
 * be opened for sync (the files themselves are still synced).
 */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not supported on this platform.
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}
