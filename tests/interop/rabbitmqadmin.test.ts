/**
 * rabbitmqadmin (RabbitMQ's own CLI, from the Debian rabbitmq-server package) against Warren's management API: the
 * commands recorded against RabbitMQ 3.10 in tests/fixtures/rabbitmq-3.10/rabbitmqadmin-*.txt, run in the same order
 * on the same objects, must print the same thing (volatile values aside). Skipped where /usr/bin/rabbitmqadmin is not
 * installed. Also: users imported with password hashes made by the real RabbitMQ log in over AMQP, MQTT and STOMP.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Broker } from '@warren/core';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RABBITMQADMIN = '/usr/bin/rabbitmqadmin';
const FIXTURES = new URL('../fixtures/rabbitmq-3.10/', import.meta.url);
const require = createRequire(import.meta.url);

let broker: RunningBroker;
/** The embedded core broker (startEmbeddedBroker builds a real one). */
const core = (): Broker => broker.broker as Broker;
let dir: string;
beforeAll(async () => {
  broker = await startEmbeddedBroker({ mqtt: { port: 0 }, stomp: { port: 0 } });
  dir = await mkdtemp(join(tmpdir(), 'warren-rabbitmqadmin-'));
});
afterAll(async () => {
  await broker?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function admin(...args: string[]): Promise<Run> {
  const base = ['--host=127.0.0.1', `--port=${broker.ports.management}`, '--username=guest', '--password=guest'];
  return new Promise((resolve) => {
    execFile(RABBITMQADMIN, [...base, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ status: code, stdout, stderr });
    });
  });
}

/** A recorded run: its exit status, stdout and stderr. */
function recorded(name: string): Run {
  const text = readFileSync(new URL(`rabbitmqadmin-${name}.txt`, FIXTURES), 'utf8');
  const status = Number(/^# exit status: (\d+)$/m.exec(text)?.[1] ?? -1);
  const section = (label: string): string => {
    const start = text.indexOf(`# --- ${label} ---\n`);
    if (start < 0) return '';
    const from = start + `# --- ${label} ---\n`.length;
    const end = text.indexOf('\n# --- ', from - 1);
    return end < 0 ? text.slice(from) : text.slice(from, Math.max(from, end + 1));
  };
  return { status, stdout: section('stdout'), stderr: section('stderr') };
}

/** The rows of a rabbitmqadmin table: header cells, then each row's cells. */
function table(out: string): { header: string[]; rows: string[][] } {
  const lines = out.split('\n').filter((l) => l.startsWith('|'));
  const cells = (l: string) => l.slice(1, -1).split('|').map((c) => c.trim());
  return { header: cells(lines[0] ?? '||'), rows: lines.slice(1).map(cells) };
}

const it_ = existsSync(RABBITMQADMIN) ? it : it.skip;

describe('rabbitmqadmin', () => {
  it_('declares, lists, publishes, gets, exports, imports and deletes as against RabbitMQ', async () => {
    expect((await admin('declare', 'vhost', 'name=ref')).stdout).toBe('vhost declared\n');
    const same = async (name: string, ...args: string[]) => {
      const run = await admin(...args);
      const ref = recorded(name);
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }, name).toEqual(ref);
    };
    await same('declare-queue', '--vhost=ref', 'declare', 'queue', 'name=ref-admin-q', 'durable=true', 'arguments={"x-max-length":10}');
    await same('declare-exchange', '--vhost=ref', 'declare', 'exchange', 'name=ref-admin-x', 'type=topic');
    await same('declare-binding', '--vhost=ref', 'declare', 'binding', 'source=ref-admin-x', 'destination=ref-admin-q', 'routing_key=admin.#');
    await same('publish', '--vhost=ref', 'publish', 'exchange=ref-admin-x', 'routing_key=admin.one', 'payload=hello from rabbitmqadmin', 'properties={"content_type":"text/plain"}');
    await same('publish-unrouted', '--vhost=ref', 'publish', 'exchange=ref-admin-x', 'routing_key=nowhere', 'payload=lost');
    await same('get', '--vhost=ref', 'get', 'queue=ref-admin-q', 'ackmode=ack_requeue_true', 'count=1');
    // The recorded message had been requeued once before this get, as here.
    await same('get-json', '--vhost=ref', '--format=raw_json', 'get', 'queue=ref-admin-q', 'ackmode=ack_requeue_false');
    await same('get-missing-queue', '--vhost=ref', 'get', 'queue=nosuch');

    // Lists: the recorded header, and the rows of the objects made here.
    const queues = table((await admin('--vhost=ref', 'list', 'queues')).stdout);
    expect(queues.header).toEqual(table(recorded('list-queues').stdout).header);
    expect(queues.rows).toContainEqual(['ref-admin-q', '0']);
    const columns = table((await admin('--vhost=ref', 'list', 'queues', 'name', 'messages', 'type')).stdout);
    expect(columns.header).toEqual(table(recorded('list-queues-columns').stdout).header);
    expect(columns.rows).toContainEqual(['ref-admin-q', '0', 'classic']);
    const tsv = (await admin('--vhost=ref', '--format=tsv', 'list', 'queues', 'name', 'messages')).stdout;
    expect(tsv.split('\n')[0]).toBe(recorded('list-queues-tsv').stdout.split('\n')[0]);
    expect(tsv).toContain('ref-admin-q\t0\n');
    expect(JSON.parse((await admin('--vhost=ref', '--format=raw_json', 'list', 'queues', 'name', 'messages')).stdout)).toEqual([{ messages: 0, name: 'ref-admin-q' }]);
    const exchanges = table((await admin('--vhost=ref', 'list', 'exchanges')).stdout);
    expect(exchanges.header).toEqual(table(recorded('list-exchanges').stdout).header);
    const recordedExchanges = table(recorded('list-exchanges').stdout).rows;
    // Every predeclared exchange RabbitMQ lists, except its tracing exchange (Warren has no firehose tracer).
    for (const row of recordedExchanges.filter(([n]) => n === '' || (n!.startsWith('amq.') && n !== 'amq.rabbitmq.trace'))) expect(exchanges.rows).toContainEqual(row);
    expect(exchanges.rows).toContainEqual(['ref-admin-x', 'topic']);
    const bindings = table((await admin('--vhost=ref', 'list', 'bindings')).stdout);
    expect(bindings.header).toEqual(table(recorded('list-bindings').stdout).header);
    expect(bindings.rows).toContainEqual(['', 'ref-admin-q', 'ref-admin-q']);
    expect(bindings.rows).toContainEqual(['ref-admin-x', 'ref-admin-q', 'admin.#']);
    const users = table((await admin('list', 'users')).stdout);
    expect(users.header).toEqual(table(recorded('list-users').stdout).header);
    expect(users.rows.find((r) => r[0] === 'guest')?.slice(1)).toEqual(['rabbit_password_hashing_sha256', core().users.get('guest')!.passwordHash, 'administrator']);
    const vhosts = table((await admin('list', 'vhosts')).stdout);
    expect(vhosts.header).toEqual(table(recorded('list-vhosts').stdout).header);
    expect(vhosts.rows.map((r) => r[0])).toEqual(['/', 'ref']);

    // Export and import: the file has RabbitMQ's keys, and imports back (here into a fresh vhost-less state).
    const file = join(dir, 'export.json');
    const exported = await admin('export', file);
    expect(exported.status).toBe(0);
    expect(exported.stdout).toBe(`Exported definitions for 127.0.0.1 to "${file}"\n`);
    const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    const refDoc = JSON.parse(readFileSync(new URL('definitions.json', FIXTURES), 'utf8')).body as Record<string, unknown>;
    expect(recorded('export').stdout).toMatch(/^Exported definitions for 127\.0\.0\.1 to "/);
    expect(Object.keys(doc)).toEqual(Object.keys(refDoc));
    expect(doc['queues']).toContainEqual({ name: 'ref-admin-q', vhost: 'ref', durable: true, auto_delete: false, arguments: { 'x-max-length': 10 } });

    const purge = await admin('--vhost=ref', 'purge', 'queue', 'name=ref-admin-q');
    expect(purge).toMatchObject({ status: 0, stdout: 'queue purged\n' });
    await same('delete-queue', '--vhost=ref', 'delete', 'queue', 'name=ref-admin-q');
    expect(core().vhost('ref')!.queues.has('ref-admin-q')).toBe(false);
    const imported = await admin('import', file);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('Uploaded definitions');
    expect(core().vhost('ref')!.queues.has('ref-admin-q')).toBe(true);
    expect(core().vhost('ref')!.exchanges.get('ref-admin-x')!.bindings.size).toBe(1);
    expect((await admin('delete', 'exchange', '--vhost=ref', 'name=ref-admin-x')).stdout).toBe('exchange deleted\n');

  });
});

describe('users imported with hashes made by RabbitMQ', () => {
  it('log in over AMQP (amqplib), MQTT (mqtt.js) and STOMP (stompit)', async () => {
    // ref-admin's hash in RabbitMQ's recorded export, made by RabbitMQ 3.10 from the password 'secret'.
    const recordedUsers = (JSON.parse(readFileSync(new URL('definitions.json', FIXTURES), 'utf8')).body.users as Record<string, unknown>[]);
    const refAdmin = recordedUsers.find((u) => u['name'] === 'ref-admin')!;
    const file = join(dir, 'users.json');
    await writeFile(
      file,
      JSON.stringify({
        users: [{ ...refAdmin, limits: {} }],
        permissions: [{ user: 'ref-admin', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
      }),
    );
    const res = await fetch(`http://127.0.0.1:${broker.ports.management}/api/definitions`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
      body: await readFile(file, 'utf8'),
    });
    expect(res.status).toBe(204);

    const conn = await amqp.connect(`amqp://ref-admin:secret@127.0.0.1:${broker.ports.amqp}`);
    await conn.close();
    await expect(amqp.connect(`amqp://ref-admin:wrong@127.0.0.1:${broker.ports.amqp}`)).rejects.toThrow();

    const client = mqtt.connect(`mqtt://127.0.0.1:${broker.ports.mqtt}`, { username: 'ref-admin', password: 'secret', reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => client.on('connect', () => resolve()).on('error', reject));
    await client.endAsync();

    const stompit = require('stompit') as {
      connect(o: object, cb: (err: Error | null, c: { disconnect(cb?: () => void): void }) => void): void;
    };
    const stomp = await new Promise<{ disconnect(cb?: () => void): void }>((resolve, reject) =>
      stompit.connect(
        { host: '127.0.0.1', port: broker.ports.stomp, connectHeaders: { host: '/', login: 'ref-admin', passcode: 'secret', 'heart-beat': '0,0' } },
        (err, c) => (err ? reject(err) : resolve(c)),
      ),
    );
    await new Promise<void>((resolve) => stomp.disconnect(() => resolve()));
  });
});
