/**
 * The data directory holds messages, retained messages, sessions, definitions (password hashes) and the generated TLS
 * key, so only the broker's user may read it. New files are created private by the store; a directory written by an
 * older version (0755 directories, 0644 files) is tightened here once at startup.
 */
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** What {@link makeDataDirPrivate} changed. */
export interface PrivacyReport {
  /** Entries whose mode was narrowed. */
  tightened: number;
}

const GROUP_OTHER = 0o077;

/**
 * Create the data directory (0700) if missing, then remove group and other permissions from it and from everything
 * under it. Symbolic links are neither followed nor changed (the target may be shared storage the operator manages).
 */
export async function makeDataDirPrivate(dir: string): Promise<PrivacyReport> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const report: PrivacyReport = { tightened: 0 };
  await tighten(dir, report);
  return report;
}

async function tighten(path: string, report: PrivacyReport): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  if ((st.mode & GROUP_OTHER) !== 0) {
    await chmod(path, st.mode & 0o700);
    report.tightened++;
  }
  if (!st.isDirectory()) return;
  for (const name of await readdir(path)) await tighten(join(path, name), report);
}
