/**
 * The brokers a bench run talks to, each in its own process: Warren (via @warren/server's startBroker, in a forked
 * child), the do-nothing server (forked child), and a private RabbitMQ node started from Debian's rabbitmq-server.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LoadConnection } from './client.js';

/** A broker the bench started; `stop` releases it and its temporary files. */
export interface StartedBroker {
  name: string;
  host: string;
  port: number;
  /** The STOMP port, when the broker has a STOMP listener. */
  stompPort?: number;
  /** The MQTT port, when the broker has an MQTT listener. */
  mqttPort?: number;
  /** STOMP and MQTT over WebSocket (ws://host:port/ws), when the broker has them (the private RabbitMQ). */
  webStompUrl?: string;
  webMqttUrl?: string;
  /** The management HTTP API and Prometheus ports (Warren children). */
  managementPort?: number;
  prometheusPort?: number;
  /** The broker's process id, when the bench started it (to read its CPU time). */
  pid?: number;
  stop(): Promise<void>;
}

/** Messages from a broker child (Warren or the null server) to the parent. */
export type BrokerChildMessage =
  | { type: 'listening'; port: number; stompPort?: number; mqttPort?: number; managementPort?: number; prometheusPort?: number }
  | { type: 'failed'; message: string };

function forkBrokerChild(script: string, args: string[], name: string, cleanup: () => void): Promise<StartedBroker> {
  const child: ChildProcess = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<StartedBroker>((resolve, reject) => {
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`${name} exited with code ${code ?? 'null'} before listening`));
    };
    child.once('exit', onExit);
    child.once('message', (m: BrokerChildMessage) => {
      if (m.type === 'failed') {
        child.off('exit', onExit);
        child.kill();
        cleanup();
        reject(new Error(`${name} failed to start: ${m.message}`));
        return;
      }
      child.off('exit', onExit);
      resolve({
        name,
        host: '127.0.0.1',
        port: m.port,
        ...(m.stompPort !== undefined ? { stompPort: m.stompPort } : {}),
        ...(m.mqttPort !== undefined ? { mqttPort: m.mqttPort } : {}),
        ...(m.managementPort !== undefined ? { managementPort: m.managementPort } : {}),
        ...(m.prometheusPort !== undefined ? { prometheusPort: m.prometheusPort } : {}),
        ...(child.pid !== undefined ? { pid: child.pid } : {}),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) {
              cleanup();
              done();
              return;
            }
            const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(t);
              cleanup();
              done();
            });
            if (child.connected) child.send({ type: 'stop' });
            else child.kill();
          }),
      });
    });
  });
}

/** Fork the bench script in 'warren' mode: it starts Warren with a temporary data dir and reports the AMQP port. */
export function startWarren(script: string): Promise<StartedBroker> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'warren-bench-'));
  return forkBrokerChild(script, ['warren', dataDir], 'Warren', () => rmSync(dataDir, { recursive: true, force: true }));
}

/** Fork the bench script in 'null-server' mode. */
export function startNullServerProcess(script: string): Promise<StartedBroker> {
  return forkBrokerChild(script, ['null-server'], 'null server', () => undefined);
}

/** Body of the 'warren' child: start the broker and report its port; stop on the parent's 'stop'. */
export async function runWarrenChild(dataDir: string): Promise<void> {
  const send = (m: BrokerChildMessage): void => void process.send?.(m);
  try {
    const { startBroker } = await import('@warren/server');
    const broker = await startBroker({
      amqp: { port: 0, tlsPort: null },
      stomp: { port: 0, tlsPort: null },
      mqtt: { port: 0, tlsPort: null },
      webStomp: { port: 0, tlsPort: null },
      webMqtt: { port: 0, tlsPort: null },
      // Never the standard 15672/15692: free ports, reported to the parent for the management scenario.
      management: { port: 0, tlsPort: null },
      prometheus: { port: 0 },
      dataDir,
      log: { level: 'warn' },
    });
    const port = broker.ports.amqp;
    if (port === undefined) throw new Error('startBroker returned no amqp port');
    process.on('message', (m: { type?: string }) => {
      if (m.type === 'stop') void broker.stop().finally(() => process.exit(0));
    });
    process.on('disconnect', () => void broker.stop().finally(() => process.exit(0)));
    send({
      type: 'listening',
      port,
      ...(broker.ports.stomp !== undefined ? { stompPort: broker.ports.stomp } : {}),
      ...(broker.ports.mqtt !== undefined ? { mqttPort: broker.ports.mqtt } : {}),
      ...(broker.ports.management !== undefined ? { managementPort: broker.ports.management } : {}),
      ...(broker.ports.prometheus !== undefined ? { prometheusPort: broker.ports.prometheus } : {}),
    });
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message });
    process.exitCode = 1;
  }
}

/** Body of the 'null-server' child. */
export async function runNullServerChild(): Promise<void> {
  const { startNullServer } = await import('./null-server.js');
  const server = await startNullServer(0);
  const stop = (): void => void server.close().finally(() => process.exit(0));
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') stop();
  });
  process.on('disconnect', stop);
  process.send?.({ type: 'listening', port: server.port } satisfies BrokerChildMessage);
}

/** A free TCP port on loopback (bound and released; good enough for a bench). */
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

/** Where Debian's package puts the real (non-wrapper) server script. */
const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

/** True when Debian's rabbitmq-server package is installed. */
export function rabbitmqInstalled(): boolean {
  return existsSync(path.join(RABBITMQ_BIN, 'rabbitmq-server'));
}

/**
 * Start a private RabbitMQ node: free AMQP and distribution ports, its own mnesia/log directories in a temp dir, a
 * unique node name, and the STOMP, MQTT, web_stomp and web_mqtt plugins on free loopback ports. Resolves once it
 * completes an AMQP handshake as guest/guest.
 */
export async function startRabbitMQ(timeoutMs = 90_000): Promise<StartedBroker> {
  if (!rabbitmqInstalled()) throw new Error('rabbitmq-server is not installed');
  const dir = mkdtempSync(path.join(tmpdir(), 'warren-bench-rabbitmq-'));
  const port = await freePort();
  const distPort = await freePort();
  const node = `warrenbench${process.pid}@localhost`;
  // The STOMP plugin for the s scenarios, on a free loopback port (rabbitmq.conf, the new-style format).
  const stompPort = await freePort();
  // The MQTT plugin for the m scenarios, web_stomp and web_mqtt for the w scenarios.
  const mqttPort = await freePort();
  const webStompPort = await freePort();
  const webMqttPort = await freePort();
  writeFileSync(path.join(dir, 'enabled_plugins'), '[rabbitmq_stomp,rabbitmq_mqtt,rabbitmq_web_stomp,rabbitmq_web_mqtt].\n');
  writeFileSync(
    path.join(dir, 'rabbitmq.conf'),
    [
      `stomp.listeners.tcp.1 = 127.0.0.1:${stompPort}`,
      `mqtt.listeners.tcp.1 = 127.0.0.1:${mqttPort}`,
      `web_stomp.tcp.ip = 127.0.0.1`,
      `web_stomp.tcp.port = ${webStompPort}`,
      `web_mqtt.tcp.ip = 127.0.0.1`,
      `web_mqtt.tcp.port = ${webMqttPort}`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    // The default distribution port is NODE_PORT + 20000, which overflows for high ephemeral ports.
    RABBITMQ_DIST_PORT: String(distPort),
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
  const stop = async (): Promise<void> => {
    spawnSync(path.join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', node, 'stop'], { env, stdio: 'ignore', timeout: 30_000 });
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`rabbitmq-server exited with code ${child.exitCode} (log was in ${dir})`);
    }
    try {
      const c = await LoadConnection.open({ host: '127.0.0.1', port });
      await c.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`RabbitMQ did not accept connections within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return {
    name: 'RabbitMQ',
    host: '127.0.0.1',
    port,
    stompPort,
    mqttPort,
    webStompUrl: `ws://127.0.0.1:${webStompPort}/ws`,
    webMqttUrl: `ws://127.0.0.1:${webMqttPort}/ws`,
    stop,
  };
}
