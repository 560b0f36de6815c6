import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfigInput, ConfigError, mergeConfig, parseFlags, parseInformationUnit, resolveCommandLine } from './config.js';

describe('resource limits and slow-consumer settings', () => {
  it("parse sizes with RabbitMQ's information units", () => {
    expect(parseInformationUnit('50000000')).toBe(50_000_000);
    expect(parseInformationUnit('50MB')).toBe(50_000_000);
    expect(parseInformationUnit('1GiB')).toBe(1024 ** 3);
    expect(parseInformationUnit('2k')).toBe(2048);
    expect(parseInformationUnit('0.4')).toBe(0.4);
    expect(parseInformationUnit('12 parsecs')).toBeUndefined();
    expect(parseInformationUnit('-1')).toBeUndefined();
  });

  it('take flags: a fraction or a size for the memory watermark, a size for the disk limit', () => {
    const args = parseFlags(['--vm-memory-high-watermark', '0.6', '--disk-free-limit', '1GB', '--slow-consumer-timeout', '0']);
    expect(mergeConfig(args.config)).toMatchObject({
      vmMemoryHighWatermark: 0.6,
      diskFreeLimit: 1_000_000_000,
      slowConsumerTimeoutMs: 0,
    });
    expect(mergeConfig(parseFlags(['--vm-memory-high-watermark', '2GB']).config).vmMemoryHighWatermark).toBe(2e9);
  });

  it('refuse nonsense with the setting and its source named', () => {
    expect(() => parseFlags(['--disk-free-limit', 'lots'])).toThrow(
      new ConfigError('Invalid diskFreeLimit from --disk-free-limit: expected a size such as 50000000 or 50MB, got "lots"'),
    );
    expect(() => parseFlags(['--vm-memory-high-watermark', '0'])).toThrow(/Invalid vmMemoryHighWatermark from --vm-memory-high-watermark/);
    expect(() => mergeConfig({ vmMemoryHighWatermark: 1.5 })).toThrow(/fraction of total memory/);
  });

  it('one slow-consumer timeout for every protocol, at the top of a config file; the old amqp section name still works', async () => {
    expect(checkConfigInput({ slowConsumerTimeoutMs: 5 }, 'test')).toEqual({ slowConsumerTimeoutMs: 5 });
    expect(checkConfigInput({ amqp: { slowConsumerTimeoutMs: 7 } }, 'test')).toEqual({ slowConsumerTimeoutMs: 7 });
    expect(mergeConfig(checkConfigInput({ amqp: { slowConsumerTimeoutMs: 7, heartbeat: 3 } }, 'test'))).toMatchObject({
      slowConsumerTimeoutMs: 7,
      amqp: { heartbeat: 3 },
    });
    expect('slowConsumerTimeoutMs' in mergeConfig().amqp).toBe(false);
    expect(() => checkConfigInput({ slowConsumerTimeoutMs: 5, amqp: { slowConsumerTimeoutMs: 7 } }, 'config file c.json')).toThrow(
      new ConfigError(
        'Both amqp.slowConsumerTimeoutMs and slowConsumerTimeoutMs are set in config file c.json: amqp.slowConsumerTimeoutMs is the old name of slowConsumerTimeoutMs; keep only slowConsumerTimeoutMs',
      ),
    );
  });

  it('accept sizes with units in a config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warren-cfg-'));
    try {
      const file = join(dir, 'c.json');
      await writeFile(file, JSON.stringify({ diskFreeLimit: '100MB', vmMemoryHighWatermark: '1GiB', amqp: { slowConsumerTimeoutMs: 1000 } }));
      const { config } = await resolveCommandLine(['--config', file], {});
      expect(config.diskFreeLimit).toBe(100_000_000);
      expect(config.vmMemoryHighWatermark).toBe(1024 ** 3);
      expect(config.slowConsumerTimeoutMs).toBe(1000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
