/**
 * Records what the real rabbitmqctl (RabbitMQ 3.10) prints for every step of packages/cli/src/testing/script.ts,
 * against a private node, into tests/fixtures/rabbitmqctl-3.10/transcript.json (stdout, stderr, exit code).
 *
 *   npx vite-node scripts/record-rabbitmqctl.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runScript } from '../packages/cli/src/testing/runner.js';
import { RABBITMQ_BIN, startPrivateRabbitMQ } from '../tests/support/rabbitmq.js';

const rmq = await startPrivateRabbitMQ({ plugins: ['rabbitmq_management'] });
try {
  const dir = mkdtempSync(path.join(tmpdir(), 'rabbitmqctl-rec-'));
  const ctl = (args: readonly string[], cwd: string) => {
    const r = spawnSync(path.join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', rmq.nodeName, ...args], {
      env: rmq.env,
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return Promise.resolve({ stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 });
  };
  const answers = await runScript(ctl, rmq.amqpPort, dir);
  // Unreachable node: the exit code and message scripts see when the broker is down.
  const down = spawnSync(path.join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', 'nobody-here@localhost', 'list_queues'], {
    env: rmq.env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  answers['unreachable'] = { stdout: down.stdout, stderr: down.stderr, code: down.status ?? -1 };
  const out = path.join(import.meta.dirname, '../tests/fixtures/rabbitmqctl-3.10');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'transcript.json'),
    JSON.stringify({ nodeName: rmq.nodeName, answers }, null, 2) + '\n',
  );
  console.log(`recorded ${Object.keys(answers).length} answers`);
} finally {
  await rmq.stop();
}
