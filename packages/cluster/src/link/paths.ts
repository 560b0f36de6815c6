import { isRunLocalPath } from '@warren/core';
import { LinkProtocolError } from './codec.js';

/** The data directory's subdirectory owned by the cluster layer (the follower's epoch file, the leader's sync links). */
export const CLUSTER_DIR = 'cluster';

/**
 * Paths replication never ships, removes or overwrites: the store's run-local files and the cluster layer's own
 * directory (each node's epoch record must survive a bulk sync from a leader that never had it).
 */
export function isLocalPath(path: string): boolean {
  return path === CLUSTER_DIR || path.startsWith(`${CLUSTER_DIR}/`) || isRunLocalPath(path);
}

/**
 * Checks a path received from the peer: relative, `/`-separated, no empty, `.` or `..` segment (so it cannot leave the
 * data directory), and not local. Throws {@link LinkProtocolError} otherwise.
 */
export function checkReplicatedPath(path: string): string {
  if (path.length === 0 || path.includes('\0')) throw new LinkProtocolError(`bad path ${JSON.stringify(path)}`);
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw new LinkProtocolError(`bad path ${JSON.stringify(path)}`);
  }
  if (isLocalPath(path)) throw new LinkProtocolError(`path ${JSON.stringify(path)} is local to each node`);
  return path;
}

/** Parent directory of a relative path (`''` for the root). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Whether `path` is `root` or lies under it. */
export function isWithin(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}
