/**
 * Differential test of warrenctl: the command script of packages/cli/src/testing/script.ts run live by the real
 * rabbitmqctl against a private RabbitMQ 3.10 node and by warrenctl against an embedded Warren, every step's stdout,
 * stderr and exit code compared modulo node names, pids, client ports and row order. Formatter variants (-json, -csv,
 * -q, -s, --no-table-headers) are left to packages/cli/src/cli.test.ts, which checks them against the recorded
 * transcript, to keep the run short (each rabbitmqctl call starts an Erlang VM).
 *
 * Skipped when Debian's rabbitmq-server is not installed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { run } from '../../packages/cli/src/main.js';
import { NOT_LINE_BY_LINE, normalise } from '../../packages/cli/src/testing/normalise.js';
import { runScript } from '../../packages/cli/src/testing/runner.js';
import type { Answer } from '../../packages/cli/src/testing/script.js';
import { RABBITMQ_BIN, rabbitmqInstalled, startPrivateRabbitMQ, type PrivateRabbitMQ } from '../support/rabbitmq.js';

const VARIANT = /-(json|csv|q|s|no-headers|table-no-headers|cols)$/;
const include = (name: string): boolean => !VARIANT.test(name) && !NOT_LINE_BY_LINE.has(name);

describe.skipIf(!rabbitmqInstalled())('warrenctl against rabbitmqctl 3.10, the same commands', () => {
  let rmq: PrivateRabbitMQ;
  let warren: RunningBroker;
  let warrenNode: string;
  const dirs = [mkdtempSync(path.join(tmpdir(), 'ctl-rmq-')), mkdtempSync(path.join(tmpdir(), 'ctl-warren-'))] as const;
  let theirs: Record<string, Answer>;
  let mine: Record<string, Answer>;

  beforeAll(async () => {
    [rmq, warren] = await Promise.all([startPrivateRabbitMQ({ plugins: ['rabbitmq_management'] }), startEmbeddedBroker()]);
    const port = warren.ports.management!;
    const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
    warrenNode = ((await (await fetch(`http://127.0.0.1:${port}/api/overview`, { headers: auth })).json()) as { node: string }).node;
    const rabbitmqctl = (args: readonly string[], cwd: string): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const child = spawn(path.join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', rmq.nodeName, ...args], { env: rmq.env, cwd });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('error', reject);
        child.once('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
      });
    const warrenctl = async (args: readonly string[], cwd: string): Promise<Answer> => {
      let stdout = '';
      let stderr = '';
      const code = await run(['-n', warrenNode, ...args], {
        stdout: (t) => void (stdout += t),
        stderr: (t) => void (stderr += t),
        env: { WARRENCTL_HOST: '127.0.0.1', WARRENCTL_PORT: String(port) },
        cwd,
        readStdin: () => Promise.resolve(''),
        program: 'rabbitmqctl',
      });
      return { stdout, stderr, code };
    };
    [theirs, mine] = await Promise.all([
      runScript(rabbitmqctl, rmq.amqpPort, dirs[0], include),
      runScript(warrenctl, warren.ports.amqp!, dirs[1], include),
    ]);
  }, 400_000);
  // About 3 minutes: each rabbitmqctl call starts an Erlang VM.

  afterAll(async () => {
    await Promise.all([rmq?.stop(), warren?.stop()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 60_000);

  it('every step prints the same and exits with the same code', () => {
    const differ: string[] = [];
    for (const name of Object.keys(theirs)) {
      const a = normalise(mine[name]!, warrenNode, name);
      const b = normalise(theirs[name]!, rmq.nodeName, name);
      if (JSON.stringify(a) !== JSON.stringify(b)) differ.push(`${name}\nwarrenctl: ${JSON.stringify(a)}\nrabbitmqctl: ${JSON.stringify(b)}`);
    }
    expect(Object.keys(theirs).length).toBeGreaterThan(50);
    expect(differ).toEqual([]);
  });
});
