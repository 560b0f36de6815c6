/**
 * warrenctl against an embedded Warren, step by step through the shared script, each answer compared with what the
 * real rabbitmqctl 3.10 printed for the same step (tests/fixtures/rabbitmqctl-3.10/transcript.json, recorded by
 * scripts/record-rabbitmqctl.ts): stdout, stderr and exit code, modulo node names, pids, ports and row order. Then what
 * the script does not cover: status, help, unreachable broker, refused credentials, environment, the real bin.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { run } from './main.js';
import { NOT_LINE_BY_LINE, normalise } from './testing/normalise.js';
import { runScript } from './testing/runner.js';
import { SCRIPT, type Answer } from './testing/script.js';

const FIXTURE = path.join(import.meta.dirname, '../../../tests/fixtures/rabbitmqctl-3.10/transcript.json');
const transcript = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { nodeName: string; answers: Record<string, Answer> };

/** Run warrenctl in-process against `port`, as `rabbitmqctl` (the name usage lines show). */
async function ctl(port: number, args: readonly string[], cwd = process.cwd(), env: NodeJS.ProcessEnv = {}): Promise<Answer> {
  let stdout = '';
  let stderr = '';
  const code = await run(['-n', 'NODE', ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { WARRENCTL_PORT: String(port), WARRENCTL_HOST: '127.0.0.1', ...env },
    cwd,
    readStdin: () => Promise.resolve(''),
    program: 'rabbitmqctl',
  });
  return { stdout, stderr, code };
}

describe('warrenctl against Warren', () => {
  let warren: RunningBroker;
  let port: number;
  let node: string;
  let answers: Record<string, Answer>;
  const dir = mkdtempSync(path.join(tmpdir(), 'warrenctl-'));

  beforeAll(async () => {
    warren = await startEmbeddedBroker();
    port = warren.ports.management!;
    node = ((await (await fetch(`http://127.0.0.1:${port}/api/overview`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } })).json()) as { node: string }).node;
    answers = await runScript((args, cwd) => ctl(port, args, cwd), warren.ports.amqp!, dir);
  }, 60_000);
  afterAll(async () => {
    await warren?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const steps = SCRIPT.filter((s) => 'args' in s && !NOT_LINE_BY_LINE.has(s.name)).map((s) => s.name);
  it.each(steps)('%s answers as rabbitmqctl 3.10 did', (name) => {
    const mine = normalise(answers[name]!, node, name);
    const theirs = normalise(transcript.answers[name]!, transcript.nodeName, name);
    expect(mine).toEqual(theirs);
  });

  it('status: the same sections as rabbitmqctl, and JSON with its keys', async () => {
    const text = answers['status']!;
    expect(text.code).toBe(0);
    const sections = (s: string): string[] => [...s.matchAll(/\u001b\[1m([^\u001b]+)\u001b\[0m/g)].map((m) => m[1]!);
    expect(sections(text.stdout)).toEqual(sections(transcript.answers['status']!.stdout));
    expect(text.stdout).toContain(`Status of node ${node} ...`);
    const json = JSON.parse(answers['status-json']!.stdout) as Record<string, unknown>;
    const ref = JSON.parse(transcript.answers['status-json']!.stdout) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(Object.keys(ref).sort());
    expect((json['listeners'] as { protocol: string; port: number }[]).find((l) => l.protocol === 'http')?.port).toBe(port);
  });

  it("cluster_status: rabbitmqctl's sections, and a single node as the cluster's only member, leader and replica", async () => {
    const text = await ctl(port, ['cluster_status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Cluster status of node ${node} ...`);
    const sections = [...text.stdout.matchAll(/\u001b\[1m([^\u001b]+)\u001b\[0m/g)].map((m) => m[1]!);
    expect(sections).toEqual(['Basics', 'Disk Nodes', 'Running Nodes', 'Replication', 'Alarms', 'Network Partitions']);
    const json = JSON.parse((await ctl(port, ['cluster_status', '--formatter', 'json'])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ disk_nodes: [node], running_nodes: [node], leader: node, in_sync_replicas: [node] });
  });

  it('help <command> and an unknown command: usage as rabbitmqctl prints it', () => {
    const help = answers['help-list_queues']!;
    expect(help.code).toBe(0);
    const usageLine = (s: string): string | undefined => s.split('\n').find((l) => l.startsWith('rabbitmqctl '));
    expect(usageLine(help.stdout)).toBe(usageLine(transcript.answers['help-list_queues']!.stdout));
    expect(help.stdout).toContain('must be one of arguments, auto_delete,');
    const unknown = answers['unknown-command']!;
    expect(unknown.code).toBe(64);
    expect(unknown.stderr.split('\n').slice(0, 6)).toEqual(transcript.answers['unknown-command']!.stderr.split('\n').slice(0, 6));
  });

  it('export_definitions writes what the API exports, and "-" prints it', async () => {
    const file = JSON.parse(readFileSync(path.join(dir, 'export.json'), 'utf8')) as { queues: { name: string }[] };
    expect(file.queues.map((q) => q.name).sort()).toEqual(['cq1', 'cq3']);
    const out = await ctl(port, ['export_definitions', '-']);
    expect(out.code).toBe(0);
    expect((JSON.parse(out.stdout) as { users: { name: string }[] }).users.map((u) => u.name).sort()).toEqual(['bob', 'guest']);
  });

  it('close_connection closes a connection by the pid list_connections prints', async () => {
    const amqp = (await import('amqplib')).default;
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${warren.ports.amqp!}`);
    const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
    conn.on('error', () => undefined);
    const pids = await ctl(port, ['list_connections', '-s', 'pid']);
    const pid = pids.stdout.trim();
    expect(pid).toMatch(/^<.+\.1\.\d+\.0>$/);
    const res = await ctl(port, ['close_connection', pid, 'go away']);
    expect(res).toEqual({ stdout: `Closing connection ${pid}, reason: go away...\n`, stderr: '', code: 0 });
    await closed;
    expect((await ctl(port, ['-q', 'list_connections'])).stdout).toBe('');
  });

  it('set_vhost_limits replaces the limits; list_vhost_limits and clear_vhost_limits follow', async () => {
    expect((await ctl(port, ['add_vhost', 'lim'])).code).toBe(0);
    expect((await ctl(port, ['set_vhost_limits', '-p', 'lim', '{"max-queues":3,"max-connections":1}'])).code).toBe(0);
    expect((await ctl(port, ['set_vhost_limits', '-p', 'lim', '{"max-queues":5}'])).code).toBe(0);
    expect((await ctl(port, ['-q', 'list_vhost_limits', '-p', 'lim'])).stdout).toBe('{"max-queues":5}\n');
    expect((await ctl(port, ['clear_vhost_limits', '-p', 'lim'])).code).toBe(0);
    expect((await ctl(port, ['-q', 'list_vhost_limits', '-p', 'lim'])).stdout).toBe('\n');
    expect(await ctl(port, ['-q', 'list_vhost_limits', '-p', 'none'])).toEqual({ stdout: '', stderr: "Virtual host 'none' does not exist\n", code: 65 });
  });

  it('usage errors: unknown option and bad formatter exit 64; --help lists the commands', async () => {
    const bad = await ctl(port, ['list_queues', '--bogus']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('Invalid options for this command:\n--bogus');
    expect((await ctl(port, ['list_queues', '--formatter', 'yaml'])).code).toBe(64);
    const help = await ctl(port, ['--help']);
    expect(help.code).toBe(0);
    for (const name of ['list_queues', 'set_policy', 'import_definitions', 'await_startup']) expect(help.stdout).toContain(`   ${name} `);
  });

  it('refused credentials exit 77; an unreachable broker exits 69 as rabbitmqctl does', async () => {
    const refused = await ctl(port, ['list_users'], process.cwd(), { WARRENCTL_PASSWORD: 'wrong' });
    expect(refused.code).toBe(77);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain("refused user 'guest'");
    const down = await ctl(1, ['list_queues']);
    expect(down.code).toBe(69);
    expect(down.stdout).toBe('');
    expect(transcript.answers['unreachable']!.stdout).toBe('');
    expect(down.stderr).toMatch(/^Error: unable to perform an operation on node 'http:\/\/127\.0\.0\.1:1'/);
    expect(transcript.answers['unreachable']!.code).toBe(69);
    expect(await ctl(1, ['await_startup', '--timeout', '1'])).toMatchObject({ code: 69 });
  });

  it('the linked bin runs: node_modules/.bin/warrenctl list_queues with --port', async () => {
    const bin = path.join(import.meta.dirname, '../../../node_modules/.bin/warrenctl');
    // Asynchronously: the broker answering is in this process.
    const r = await promisify(execFile)(bin, ['list_queues', 'name', 'messages', '--port', String(port), '--host', '127.0.0.1', '-q']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('name\tmessages\ncq1\t0\ncq3\t1\n');
    const failed = await promisify(execFile)(bin, ['delete_user', 'nobody', '--port', String(port)]).catch((e: unknown) => e as { code: number; stderr: string });
    expect(failed).toMatchObject({ code: 67, stderr: 'Error:\nUser "nobody" does not exist\n' });
    const help = await promisify(execFile)(bin, ['help', 'add_user']);
    expect(help.stdout).toContain('warrenctl [--node <node>] [--longnames] [--quiet] add_user <username> <password>');
  });
});
