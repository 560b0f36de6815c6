import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BrokerApi } from '@warren/core';
import { EXIT_USAGE, runCli, type CliIo } from './cli.js';
import { helpText } from './config.js';
import { createLogger } from './logger.js';

function io(extra: Partial<CliIo> = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), ...extra };
}

describe('warren executable logic', () => {
  it('--help prints every option and exits 0', async () => {
    const streams = io();
    expect(await runCli(['--help'], {}, streams)).toEqual({ kind: 'exit', code: 0 });
    expect(streams.out.join('')).toBe(helpText());
    expect(streams.err).toEqual([]);
  });

  it('--version prints the package version', async () => {
    const streams = io();
    await runCli(['--version'], {}, streams);
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(streams.out.join('')).toBe(`warren ${pkg.version}\n`);
  });

  it('a configuration error goes to stderr with exit code 2, without a stack', async () => {
    const streams = io();
    expect(await runCli(['--amqp-port', 'x'], {}, streams)).toEqual({ kind: 'exit', code: EXIT_USAGE });
    expect(streams.err.join('')).toBe(
      `warren: Invalid amqp.port from --amqp-port: expected a port number 0-65535 or 'off', got "x"\n`,
    );
    const envErr = io();
    expect(await runCli([], { WARREN_HEARTBEAT: 'often' }, envErr)).toEqual({ kind: 'exit', code: EXIT_USAGE });
    expect(envErr.err.join('')).toContain('WARREN_HEARTBEAT');
  });

  it('starts the broker from flags and environment', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'warren-cli-'));
    const logger = createLogger({ level: 'silent' });
    const fake: BrokerApi = {
      blocked: false,
      authenticate: () => {
        throw new Error('unused');
      },
      openConnection: () => {
        throw new Error('unused');
      },
    };
    try {
      const result = await runCli(['--amqp-port', '0', '--amqps-port', 'off', '--stomp-port', 'off', '--stomps-port', 'off', '--mqtt-port', 'off', '--mqtts-port', 'off', '--web-stomp-port', 'off', '--web-mqtt-port', 'off'], { WARREN_DATA_DIR: dir }, io({
        startOptions: { logger, createBroker: () => fake, amqpHandler: () => {} },
      }));
      expect(result.kind).toBe('running');
      if (result.kind !== 'running') return;
      expect(result.running.config.dataDir).toBe(dir);
      expect(result.running.ports.amqp).toBeGreaterThan(0);
      expect(result.running.ports.amqps).toBeUndefined();
      await result.running.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a start failure (not a config error) is logged as fatal with exit code 1', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(l) } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'warren-cli-'));
    try {
      const result = await runCli(['--amqp-port', '0', '--amqps-port', 'off', '--stomp-port', 'off', '--stomps-port', 'off', '--mqtt-port', 'off', '--mqtts-port', 'off', '--web-stomp-port', 'off', '--web-mqtt-port', 'off', '--data-dir', dir], {}, io({
        startOptions: {
          logger,
          createBroker: () => {
            throw new Error('store corrupt');
          },
        },
      }));
      expect(result).toEqual({ kind: 'exit', code: 1 });
      const fatal = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['level'] === 'fatal');
      expect(fatal).toMatchObject({ msg: 'Warren failed to start', err: { message: 'store corrupt' } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the executable has a node shebang', async () => {
    const source = await readFile(new URL('./bin/warren.ts', import.meta.url), 'utf8');
    expect(source.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
