/**
 * Certificate reloading without a restart: the certificate, key and CA files are checked every
 * `tls.reloadIntervalMs`; when any changed, they are read again and every TLS listener serves new connections the new
 * material (open connections keep theirs, as with RabbitMQ's ssl:clear_pem_cache / listener restart).
 *
 * A periodic stat of the three files rather than fs.watch: fs.watch follows an inode, so it misses the atomic
 * rename and symlink swaps that certbot and Kubernetes secret mounts use to replace certificates, and its events vary
 * by platform. Three stats every few seconds cost nothing. A half-updated pair (new certificate, old key) fails to
 * load and is reported once; the old material stays until a later check finds a pair that loads.
 */
import { stat } from 'node:fs/promises';
import tls from 'node:tls';
import type { TlsOptions } from '@warren/transport';
import type { WarrenConfig } from './config.js';
import type { WarrenLogger } from './logger.js';
import { PeriodicCheck } from './periodic-check.js';
import { loadTls, selfSignedPaths, type LoadedTls } from './tls.js';

/** Something serving TLS whose material can be replaced (a listener, the management HTTPS server). */
export interface TlsTarget {
  setTls?(tls: TlsOptions): void;
}

/** The files behind the TLS material of `config`. */
function watchedFiles(config: WarrenConfig): string[] {
  const files =
    config.tls.certFile !== undefined && config.tls.keyFile !== undefined
      ? [config.tls.certFile, config.tls.keyFile]
      : [selfSignedPaths(config.dataDir).certFile, selfSignedPaths(config.dataDir).keyFile];
  if (config.tls.caFile !== undefined) files.push(config.tls.caFile);
  return files;
}

async function signature(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    files.map(async (f) => {
      try {
        const s = await stat(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    }),
  );
  return parts.join('|');
}

/** Checks the TLS files periodically and hands changed material to the targets. */
export class TlsReloader {
  readonly #config: WarrenConfig;
  readonly #targets: () => readonly TlsTarget[];
  readonly #logger: WarrenLogger;
  readonly #onReload: (loaded: LoadedTls) => void;
  readonly #files: string[];
  #last = '';
  readonly #periodic = new PeriodicCheck(() => this.#check());

  constructor(
    config: WarrenConfig,
    targets: () => readonly TlsTarget[],
    logger: WarrenLogger,
    onReload: (loaded: LoadedTls) => void = () => {},
  ) {
    this.#config = config;
    this.#targets = targets;
    this.#logger = logger;
    this.#onReload = onReload;
    this.#files = watchedFiles(config);
  }

  /** Record the files as they are now (the material already loaded) and start checking. */
  async start(): Promise<void> {
    this.#last = await signature(this.#files);
    const interval = this.#config.tls.reloadIntervalMs;
    if (interval > 0) this.#periodic.every(interval);
  }

  stop(): void {
    this.#periodic.stop();
  }

  /** Check now; resolves when any reload is done. Checks never overlap. */
  check(): Promise<void> {
    return this.#periodic.now();
  }

  async #check(): Promise<void> {
    const now = await signature(this.#files);
    if (now === this.#last) return;
    this.#last = now;
    try {
      const loaded = await loadTls(this.#config);
      if (loaded === undefined) return;
      // Refuse material Node cannot use (a key that does not match the certificate) before any listener gets it.
      tls.createSecureContext({ cert: loaded.options.cert, key: loaded.options.key, ...(loaded.options.ca !== undefined ? { ca: loaded.options.ca } : {}) });
      for (const target of this.#targets()) target.setTls?.(loaded.options);
      this.#onReload(loaded);
      this.#logger.info({ certFile: loaded.certFile }, 'TLS certificate reloaded');
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'TLS certificate files changed but cannot be loaded; keeping the current ones');
    }
  }
}
