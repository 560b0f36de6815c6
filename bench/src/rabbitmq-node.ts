/**
 * A private RabbitMQ node, for differential tests (Warren's answers compared with the real broker's), for the bench's
 * `--compare-rabbitmq` runs and for scripts/capture-rabbitmq-reference.mjs (which imports the built copy).
 *
 * Started from Debian's rabbitmq-server with its own node name, its own mnesia/log directories in a temp dir and every
 * listener on a free loopback port, so it never touches the system service or the standard ports Warren uses. The
 * plugins default to management, prometheus, mqtt, stomp, web_stomp and web_mqtt; the node is ready once every enabled
 * listener accepts connections (and the management API answers, when that plugin is on).
 *
 *   describe.skipIf(!rabbitmqInstalled())('management vs RabbitMQ', () => {
 *     let rmq: PrivateRabbitMQ;
 *     beforeAll(async () => { rmq = await startPrivateRabbitMQ(); }, 120_000);
 *     afterAll(() => rmq?.stop(), 60_000);
 *   });
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Where Debian's package puts the real (non-wrapper) scripts. */
export const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

const DEFAULT_PLUGINS = [
  'rabbitmq_management',
  'rabbitmq_prometheus',
  'rabbitmq_mqtt',
  'rabbitmq_stomp',
  'rabbitmq_web_stomp',
  'rabbitmq_web_mqtt',
] as const;

export interface PrivateRabbitMQOptions {
  /** How long to wait for the management API to answer (ms). Default 120 000. */
  timeoutMs?: number;
  /** Extra lines appended to rabbitmq.conf (new-style format). */
  extraConfig?: readonly string[];
  /** The plugins to enable. Default: management, prometheus, mqtt, stomp, web_stomp, web_mqtt. */
  plugins?: readonly string[];
  /** Prefix of the node name (`<prefix>-<random>@localhost`). Default `warren-ref`. */
  nodeNamePrefix?: string;
  /** Keep the temp dir (logs, mnesia) after stop(), for debugging. Default false. */
  keepDir?: boolean;
}

export interface PrivateRabbitMQ {
  amqpPort: number;
  managementPort: number;
  prometheusPort: number;
  mqttPort: number;
  stompPort: number;
  webStompPort: number;
  webMqttPort: number;
  /** The Erlang node name, e.g. `warren-ref-ab12cd@localhost` (what /api/nodes reports). */
  nodeName: string;
  /** The temp dir with mnesia/, log/, rabbitmq.conf and enabled_plugins. */
  dir: string;
  /** Environment for running rabbitmqctl/rabbitmq-plugins against this node (`ctl(...)` uses it). */
  env: NodeJS.ProcessEnv;
  /** Run rabbitmqctl against this node; returns stdout (throws on a non-zero exit). */
  ctl(args: readonly string[]): string;
  /** Stop the node (rabbitmqctl stop, then SIGTERM/SIGKILL of its process group) and remove the temp dir. */
  stop(): Promise<void>;
}

/** True when Debian's rabbitmq-server package is installed. */
export function rabbitmqInstalled(): boolean {
  return existsSync(path.join(RABBITMQ_BIN, 'rabbitmq-server'));
}

/** A free TCP port on loopback (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** `n` distinct free loopback ports. */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(2_000, () => done(false));
  });
}

async function managementAnswers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
      signal: AbortSignal.timeout(2_000),
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Start a private RabbitMQ node and resolve once its management API answers GET /api/overview as guest/guest.
 * guest may log in from loopback only (RabbitMQ's default), and every listener is bound to 127.0.0.1.
 */
export async function startPrivateRabbitMQ(opts: PrivateRabbitMQOptions = {}): Promise<PrivateRabbitMQ> {
  if (!rabbitmqInstalled()) throw new Error('rabbitmq-server is not installed');
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'warren-ref-rabbitmq-'));
  const [amqpPort, distPort, managementPort, prometheusPort, mqttPort, stompPort, webStompPort, webMqttPort] =
    (await freePorts(8)) as [number, number, number, number, number, number, number, number];
  const nodeName = `${opts.nodeNamePrefix ?? 'warren-ref'}-${process.pid}-${Math.random().toString(36).slice(2, 8)}@localhost`;
  const plugins = opts.plugins ?? DEFAULT_PLUGINS;
  writeFileSync(path.join(dir, 'enabled_plugins'), `[${plugins.join(',')}].\n`);
  writeFileSync(
    path.join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `management.tcp.ip = 127.0.0.1`,
      `management.tcp.port = ${managementPort}`,
      `prometheus.tcp.ip = 127.0.0.1`,
      `prometheus.tcp.port = ${prometheusPort}`,
      `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
      `stomp.listeners.tcp.1 = 127.0.0.1:${stompPort}`,
      `web_stomp.tcp.ip = 127.0.0.1`,
      `web_stomp.tcp.port = ${webStompPort}`,
      `web_mqtt.tcp.ip = 127.0.0.1`,
      `web_mqtt.tcp.port = ${webMqttPort}`,
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'advanced.config'), '[].\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    // The default distribution port is NODE_PORT + 20000, which overflows for high ephemeral ports.
    RABBITMQ_DIST_PORT: String(distPort),
    // Keep Erlang distribution on loopback too (it listens on all interfaces by default).
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
  };
  const logFd = openSync(path.join(dir, 'startup.log'), 'a');
  const child = spawn(path.join(RABBITMQ_BIN, 'rabbitmq-server'), [], {
    env,
    stdio: ['ignore', logFd, logFd],
    detached: true, // its own process group, so stop() can reach the Erlang VM it spawns
  });
  closeSync(logFd);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const ctl = (args: readonly string[]): string => {
    const r = spawnSync(path.join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', nodeName, ...args], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      spawnSync(path.join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', nodeName, 'stop'], {
        env,
        stdio: 'ignore',
        timeout: 30_000,
      });
    }
    const pgid = child.pid;
    if (pgid !== undefined) {
      const signalGroup = (sig: NodeJS.Signals | 0): boolean => {
        try {
          process.kill(-pgid, sig);
          return true;
        } catch {
          return false; // the group is gone
        }
      };
      if (signalGroup('SIGTERM')) {
        for (let i = 0; i < 150 && signalGroup(0); i++) await sleep(100);
        signalGroup('SIGKILL');
      }
    }
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  };

  const listenerPorts = [amqpPort, prometheusPort, mqttPort, stompPort, webStompPort, webMqttPort].filter((p, i) =>
    [true, plugins.includes('rabbitmq_prometheus'), plugins.includes('rabbitmq_mqtt'), plugins.includes('rabbitmq_stomp'),
      plugins.includes('rabbitmq_web_stomp'), plugins.includes('rabbitmq_web_mqtt')][i],
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      const log = readTail(path.join(dir, 'startup.log'));
      await stop();
      throw new Error(`rabbitmq-server exited with code ${child.exitCode ?? 'null'} before answering:\n${log}`);
    }
    // The management API comes up before some plugin listeners (prometheus, web_*): wait for all of them.
    if (
      (!plugins.includes('rabbitmq_management') || (await managementAnswers(managementPort))) &&
      (await Promise.all(listenerPorts.map(portAccepts))).every(Boolean)
    ) {
      break;
    }
    if (Date.now() > deadline) {
      const log = readTail(path.join(dir, 'startup.log'));
      await stop();
      throw new Error(`RabbitMQ was not ready within ${timeoutMs} ms:\n${log}`);
    }
    await sleep(500);
  }

  return {
    amqpPort,
    managementPort,
    prometheusPort,
    mqttPort,
    stompPort,
    webStompPort,
    webMqttPort,
    nodeName,
    dir,
    env,
    ctl,
    stop,
  };
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-4_000);
  } catch {
    return '';
  }
}
