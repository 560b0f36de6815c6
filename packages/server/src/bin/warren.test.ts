/**
 * The `warren` executable as a real process, run from its TypeScript source through vite-node (vitest's runner, with
 * the repo's config so @warren/* resolve to sources): exit codes, --help, signals.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../config.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const viteNode = path.join(repo, 'node_modules/vite-node/vite-node.mjs');
const bin = path.join(repo, 'packages/server/src/bin/warren.ts');

function run(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [viteNode, '--config', path.join(repo, 'vitest.config.ts'), bin, ...args], {
    cwd: repo,
    env: { ...process.env, NODE_ENV: 'test' },
  });
}

function finished(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('warren executable', () => {
  it('--help lists every flag and exits 0', async () => {
    const { code, stdout } = await finished(run(['--help']));
    expect(code).toBe(0);
    for (const setting of SETTINGS) expect(stdout).toContain(`--${setting.flag}`);
    expect(stdout).toContain('--config <file>');
  });

  it('a bad flag value exits 2 with a one-line message on stderr', async () => {
    const { code, stderr, stdout } = await finished(run(['--amqp-port', 'seventy']));
    expect(code).toBe(2);
    expect(stderr).toContain(`warren: Invalid amqp.port from --amqp-port`);
    expect(stdout).toBe('');
  });

  it('starts, serves, and stops gracefully on SIGTERM with exit code 0', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'warren-bin-'));
    try {
      const child = run(['--data-dir', dataDir, '--amqp-port', '0', '--amqps-port', 'off', '--stomp-port', 'off', '--stomps-port', 'off', '--mqtt-port', 'off', '--mqtts-port', 'off', '--web-stomp-port', 'off', '--web-mqtt-port', 'off', '--host', '127.0.0.1']);
      const done = finished(child);
      const port = await new Promise<number>((resolve, reject) => {
        let buffered = '';
        child.stdout.on('data', (d) => {
          buffered += String(d);
          for (const line of buffered.split('\n')) {
            if (!line.startsWith('{')) continue;
            try {
              const entry = JSON.parse(line) as { msg?: string; ports?: { amqp?: number } };
              if (entry.msg === 'Warren started' && entry.ports?.amqp !== undefined) resolve(entry.ports.amqp);
            } catch {
              // a partial line; wait for the rest
            }
          }
        });
        child.once('close', () => reject(new Error('warren exited before starting')));
      });
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
        s.once('error', reject);
      });
      const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => {});
      child.kill('SIGTERM');
      const { code, stdout } = await done;
      await socketClosed; // open connections are closed on stop
      expect(code).toBe(0);
      expect(stdout).toContain('"msg":"Warren stopped"');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
