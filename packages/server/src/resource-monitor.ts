/**
 * Resource alarms (DESIGN.md §5, RabbitMQ's memory and disk alarms): every interval, compare the process's resident
 * memory with the high watermark and the free space of the data directory with the disk free limit, and raise or
 * clear the broker's alarms. While an alarm is on, publishers are blocked and consumers keep draining.
 */
import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import type { AlarmResource, Logger } from '@warren/core';
import { PeriodicCheck } from './periodic-check.js';

/** What the monitor needs of the broker. */
export interface AlarmTarget {
  setAlarm(resource: AlarmResource, on: boolean): void;
}

/** Options of {@link ResourceMonitor}. */
export interface ResourceMonitorOptions {
  /** The directory whose file system is watched for free space. */
  dataDir: string;
  /** Disk alarm below this many free bytes (RabbitMQ's disk_free_limit; default 50000000). */
  diskFreeLimit: number;
  /**
   * Memory alarm above this resident set size: a fraction (≤ 1) of the machine's memory, or bytes (> 1)
   * (RabbitMQ's vm_memory_high_watermark relative/absolute).
   */
  memoryHighWatermark: number;
  /** Check period; default 1000 ms. */
  intervalMs?: number;
  logger: Logger;
  /** Probes, replaceable in tests. */
  freeDiskBytes?: (dir: string) => Promise<number>;
  rssBytes?: () => number;
  totalMemoryBytes?: () => number;
}

/** Free bytes available to this (unprivileged) process on the file system of `dir`. */
export async function freeDiskBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** The memory limit in bytes for a watermark given as a fraction or as bytes. */
export function memoryLimitBytes(watermark: number, totalMemory: number): number {
  return watermark <= 1 ? Math.floor(watermark * totalMemory) : watermark;
}

/** Watches memory and disk and drives the broker's alarms. */
export class ResourceMonitor {
  /** The memory limit in bytes. */
  memoryLimit: number;
  readonly #diskFreeLimit: number;
  readonly #totalMemory: () => number;
  readonly #o: ResourceMonitorOptions;
  readonly #target: AlarmTarget;
  readonly #freeDisk: (dir: string) => Promise<number>;
  readonly #rss: () => number;
  #memoryAlarm = false;
  #diskAlarm = false;
  readonly #periodic = new PeriodicCheck(() => this.#check());
  #diskErrorLogged = false;

  constructor(target: AlarmTarget, options: ResourceMonitorOptions) {
    this.#target = target;
    this.#o = options;
    this.#freeDisk = options.freeDiskBytes ?? freeDiskBytes;
    this.#rss = options.rssBytes ?? (() => process.memoryUsage.rss());
    this.#totalMemory = options.totalMemoryBytes ?? totalmem;
    this.memoryLimit = memoryLimitBytes(options.memoryHighWatermark, this.#totalMemory());
    this.#diskFreeLimit = options.diskFreeLimit;
  }

  /** Change the memory watermark at run time (rabbitmqctl set_vm_memory_high_watermark) and re-check. */
  async setMemoryHighWatermark(watermark: number): Promise<void> {
    this.memoryLimit = memoryLimitBytes(watermark, this.#totalMemory());
    // A check already running may have compared against the old limit: run a fresh one after it.
    await this.#periodic.running;
    await this.check();
  }

  /** Free bytes in the data directory at the last check (0 before the first). */
  diskFree = 0;

  /** The disk alarm threshold, bytes. */
  get diskFreeLimit(): number {
    return this.#diskFreeLimit;
  }

  /** True while the memory alarm is on. */
  get memoryAlarm(): boolean {
    return this.#memoryAlarm;
  }

  /** True while the disk alarm is on. */
  get diskAlarm(): boolean {
    return this.#diskAlarm;
  }

  /** Check now, then every interval. */
  async start(): Promise<void> {
    await this.check();
    this.#periodic.every(this.#o.intervalMs ?? 1000);
  }

  /** Stop checking (alarms stay as they are; the broker is going away). */
  stop(): void {
    this.#periodic.stop();
  }

  /** One check of both resources; overlapping calls share one run. */
  check(): Promise<void> {
    return this.#periodic.now();
  }

  async #check(): Promise<void> {
    const log = this.#o.logger;
    const rss = this.#rss();
    const memoryHigh = rss > this.memoryLimit;
    if (memoryHigh !== this.#memoryAlarm) {
      this.#memoryAlarm = memoryHigh;
      if (memoryHigh) {
        log.warn(
          { resource: 'memory', used: rss, allowed: this.memoryLimit },
          'memory resource limit alarm set: publishers will be blocked until this alarm clears',
        );
      } else {
        log.info({ resource: 'memory', used: rss, allowed: this.memoryLimit }, 'memory resource limit alarm cleared');
      }
      this.#target.setAlarm('memory', memoryHigh);
    }
    let free: number;
    try {
      free = await this.#freeDisk(this.#o.dataDir);
      this.diskFree = free;
      this.#diskErrorLogged = false;
    } catch (err) {
      // Cannot tell: keep the alarm as it is (RabbitMQ does the same when its disk monitor fails to read).
      if (!this.#diskErrorLogged) log.error({ err, dataDir: this.#o.dataDir }, 'cannot read free disk space');
      this.#diskErrorLogged = true;
      return;
    }
    const diskLow = free < this.#diskFreeLimit;
    if (diskLow !== this.#diskAlarm) {
      this.#diskAlarm = diskLow;
      if (diskLow) {
        log.warn(
          { resource: 'disk', free, limit: this.#diskFreeLimit },
          'disk resource limit alarm set: free disk space is insufficient, publishers will be blocked until this alarm clears',
        );
      } else {
        log.info({ resource: 'disk', free, limit: this.#diskFreeLimit }, 'disk resource limit alarm cleared');
      }
      this.#target.setAlarm('disk', diskLow);
    }
  }
}
