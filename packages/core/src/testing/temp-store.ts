/**
 * What the file-store tests share: temporary directories removed after each test, and a logger that records
 * `level: message` lines.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '../contract.js';

/** Temporary directories named `<prefix>…`; `removeAll` deletes every one made so far (call it in afterEach). */
export function tempDirs(prefix: string): { make(): string; removeAll(): void } {
  const dirs: string[] = [];
  return {
    make() {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    removeAll() {
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

/** A logger that appends `level: message` to `lines`. */
export function recordingLogger(lines: string[]): Logger {
  const l: Logger = {
    debug: (o, m) => void lines.push(`debug: ${m ?? String(o)}`),
    info: (o, m) => void lines.push(`info: ${m ?? String(o)}`),
    warn: (o, m) => void lines.push(`warn: ${m ?? String(o)}`),
    error: (o, m) => void lines.push(`error: ${m ?? String(o)}`),
    child: () => l,
  };
  return l;
}
