/**
 * A replicated Warren on one machine: one etcd and N members as child processes (`warren --cluster-etcd ...`), each
 * with its own data directory and loopback ports, plus the faults the failover tests inject (kill -9, SIGSTOP, a
 * member cut off from etcd through a proxy that can drop its traffic).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcd, type TestEtcd } from '@warren/cluster/testing';

const WARREN_BIN = fileURLToPath(new URL('../../../packages/server/dist/bin/warren.js', import.meta.url));

/** A free loopback port (bound and released; good enough on a machine where nothing else races for ports). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A TCP relay that can be told to drop everything (a partition between a member and etcd). */
export class FaultProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;
  port = 0;

  constructor(readonly target: number) {
    this.#server = createServer((client) => {
      if (this.#cut) {
        client.destroy();
        return;
      }
      const upstream = connect(target, '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    const a = this.#server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : 0;
    return this.port;
  }

  /** Drop every connection and refuse new ones until {@link heal}. */
  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  heal(): void {
    this.#cut = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.#server.close(() => r()));
  }
}

export interface MemberPorts {
  amqp: number;
  mqtt: number;
  stomp: number;
  management: number;
  cluster: number;
}

/** One member: a `warren` process that can be killed, stopped, resumed and restarted on the same data directory. */
export class MemberProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<unknown> = Promise.resolve();
  readonly dataDir: string;
  /** The member's own link to etcd, which {@link FaultProxy.cut} partitions. */
  readonly etcdLink: FaultProxy;
  log = '';

  constructor(
    readonly name: string,
    readonly ports: MemberPorts,
    readonly etcdPort: number,
    readonly options: { cluster: string; leaseTtl: number; ackTimeoutMs: number; dataRoot: string; logLevel?: string; single?: boolean },
  ) {
    this.dataDir = join(options.dataRoot, name);
    this.etcdLink = new FaultProxy(etcdPort);
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    if (this.etcdLink.port === 0) await this.etcdLink.listen();
    const p = this.ports;
    const clusterArgs = this.options.single === true ? [] : [
      '--cluster-etcd', `http://127.0.0.1:${this.etcdLink.port}`,
      '--cluster-name', this.options.cluster,
      '--node-name', this.name,
      '--cluster-port', String(p.cluster),
      '--cluster-advertise-host', '127.0.0.1',
      '--cluster-secret', 'jepsen-secret',
      '--cluster-lease-ttl', String(this.options.leaseTtl),
      '--cluster-ack-timeout', String(this.options.ackTimeoutMs),
    ];
    const args = [
      WARREN_BIN,
      ...clusterArgs,
      '--data-dir', this.dataDir,
      '--host', '127.0.0.1',
      '--amqp-port', String(p.amqp),
      '--mqtt-port', String(p.mqtt),
      '--stomp-port', String(p.stomp),
      '--management-port', String(p.management),
      '--amqps-port', 'off', '--mqtts-port', 'off', '--stomps-port', 'off',
      '--web-stomp-port', 'off', '--web-mqtt-port', 'off', '--prometheus-port', 'off',
      '--log-level', this.options.logLevel ?? 'info',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#exited = new Promise((r) => child.once('exit', r));
    const keep = (chunk: Buffer): void => {
      // The last 256 KiB of output, to show when a test fails.
      this.log = (this.log + chunk.toString()).slice(-256 * 1024);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    await waitFor(`${this.name} to listen`, () => portOpen(p.amqp), 30_000);
  }

  /** kill -9. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await this.#exited;
  }

  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** SIGTERM and wait (the member resigns and stops). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** What `/api/cluster` answers. */
export interface ClusterView {
  node: string;
  role: string;
  leader?: { node: string; epoch: number };
  epoch?: number;
  isr: string[];
  members: Array<{ node: string; inSync: boolean; lagChanges?: number; lagBytes?: number; state?: string }>;
}

/** etcd and N members on loopback. */
export class LocalCluster {
  #etcd: TestEtcd | undefined;
  readonly members: MemberProcess[] = [];
  readonly dataRoot = mkdtempSync(join(tmpdir(), 'warren-cluster-'));

  constructor(
    readonly size: number,
    readonly options: { leaseTtl?: number; ackTimeoutMs?: number; logLevel?: string } = {},
  ) {}

  async start(): Promise<void> {
    // The cluster package's own test etcd (a private process, data directory and loopback ports).
    this.#etcd = await startEtcd();
    const etcdPort = Number(new URL(this.#etcd.endpoint).port);
    for (let i = 0; i < this.size; i++) {
      const ports: MemberPorts = {
        amqp: await freePort(),
        mqtt: await freePort(),
        stomp: await freePort(),
        management: await freePort(),
        cluster: await freePort(),
      };
      this.members.push(
        new MemberProcess(`m${i + 1}`, ports, etcdPort, {
          cluster: 'jepsen',
          leaseTtl: this.options.leaseTtl ?? 2,
          ackTimeoutMs: this.options.ackTimeoutMs ?? 1000,
          dataRoot: this.dataRoot,
          ...(this.options.logLevel !== undefined ? { logLevel: this.options.logLevel } : {}),
        }),
      );
    }
    // The first member founds the cluster; the others join it (any order would do, this one is deterministic).
    await this.members[0]!.start();
    await this.waitForLeader();
    await Promise.all(this.members.slice(1).map((m) => m.start()));
  }

  /** `/api/cluster` through a running member (followers forward it to the leader). */
  async view(via?: MemberProcess): Promise<ClusterView> {
    const candidates = via !== undefined ? [via] : this.members.filter((m) => m.running);
    let last: unknown;
    for (const m of candidates) {
      try {
        const res = await fetch(`http://127.0.0.1:${m.ports.management}/api/cluster`, {
          headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
          signal: AbortSignal.timeout(2000),
        });
        if (res.ok) return (await res.json()) as ClusterView;
        last = new Error(`HTTP ${res.status}`);
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof Error ? last : new Error('no member answered');
  }

  member(name: string): MemberProcess {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  /** The member that leads now (as the cluster reports it). */
  async waitForLeader(timeoutMs = 30_000, not?: string): Promise<MemberProcess> {
    let leader: MemberProcess | undefined;
    await waitFor('a leader', async () => {
      const v = await this.view();
      if (v.role !== 'leader' || v.leader === undefined || v.leader.node === not) return false;
      leader = this.member(v.leader.node);
      return true;
    }, timeoutMs);
    return leader!;
  }

  /** Wait until every running member is in the ISR. */
  async waitForIsr(count = this.members.filter((m) => m.running).length, timeoutMs = 60_000): Promise<ClusterView> {
    let view: ClusterView | undefined;
    await waitFor(`${count} in-sync replicas`, async () => {
      view = await this.view();
      return view.isr.length >= count;
    }, timeoutMs);
    return view!;
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill()));
    await Promise.all(this.members.map((m) => m.etcdLink.close()));
    await this.#etcd?.stop();
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}
