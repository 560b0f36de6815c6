import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ManifestEntry } from './codec.js';
import { isLocalPath } from './paths.js';

/** A data directory's replicated files (with size and CRC-32) and directories, local paths left out. */
export interface Manifest {
  readonly files: ManifestEntry[];
  readonly dirs: string[];
}

/**
 * Lists `root` and checksums every file by streaming it, so a large directory costs I/O, not a blocked event loop.
 * A file that vanishes while being read is left out. A missing root is an empty manifest.
 */
export async function computeManifest(root: string): Promise<Manifest> {
  const files: ManifestEntry[] = [];
  const dirs: string[] = [];
  async function walk(rel: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(rel === '' ? root : join(root, rel), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (isLocalPath(path)) continue;
      if (entry.isDirectory()) {
        dirs.push(path);
        await walk(path);
      } else if (entry.isFile()) {
        const sum = await checksum(join(root, path));
        if (sum !== undefined) files.push({ file: path, size: sum.size, crc32: sum.crc32 });
      }
    }
  }
  await walk('');
  return { files, dirs };
}

async function checksum(file: string): Promise<{ size: number; crc32: number } | undefined> {
  let crc = 0;
  let size = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      crc = crc32(chunk as Buffer, crc);
      size += (chunk as Buffer).length;
    }
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
  return { size, crc32: crc };
}

/** ENOENT (or ENOTDIR: a parent replaced by a file meanwhile). */
export function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
