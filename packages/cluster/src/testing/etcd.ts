/**
 * A private etcd for tests: its own process, temporary data directory and free loopback ports, so tests never share
 * state with each other or with an etcd the machine may run.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** A running test etcd. */
export interface TestEtcd {
  /** The client URL, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  /** Kill the process (SIGKILL) and remove its data directory. Idempotent. */
  stop(): Promise<void>;
  /** Freeze the process (SIGSTOP): etcd stops answering, as if cut off, without dropping connections. */
  pause(): void;
  /** Thaw a paused process (SIGCONT). */
  resume(): void;
}

const ETCD_BINARY = '/usr/bin/etcd';
const READY_TIMEOUT_MS = 15_000;

/** A port that was free a moment ago: bind port 0 on loopback, read the port, close. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await res.json()) as { health?: unknown };
    return body.health === 'true' || body.health === true;
  } catch {
    return false;
  }
}

/**
 * Start a single-member etcd on free loopback ports with a temporary data directory; resolves once its `/health`
 * answers. The short heartbeat and election timeout lower etcd's minimum lease TTL (1.5 × election timeout) so tests
 * can use 1-second leases.
 */
export async function startEtcd(): Promise<TestEtcd> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-etcd-'));
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const stderr: string[] = [];
  const child = spawn(
    ETCD_BINARY,
    [
      '--name', 'warren-test',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `warren-test=${peer}`,
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--logger', 'zap',
      '--log-level', 'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    // Keep only the tail: enough to explain a failed start.
    stderr.push(chunk);
    if (stderr.length > 50) stderr.shift();
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  child.once('error', () => {
    exited = true;
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGKILL');
      await exit;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await answers(endpoint))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not start on ${endpoint}: ${stderr.join('').slice(-2_000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    endpoint,
    stop,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}
