/**
 * The brokers a bench run talks to, each in its own process: Warren (via @warren/server's startBroker, in a forked
 * child), the do-nothing server (forked child), and a private RabbitMQ node started from Debian's rabbitmq-server.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPrivateRabbitMQ } from './rabbitmq-node.js';

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

export { freePort, rabbitmqInstalled } from './rabbitmq-node.js';

/**
 * Start a private RabbitMQ node (bench/src/rabbitmq-node.ts: its own node name, temp dir and loopback ports) with the
 * STOMP, MQTT, web_stomp and web_mqtt plugins the s, m and w scenarios use; ready once every listener accepts.
 */
export async function startRabbitMQ(timeoutMs = 90_000): Promise<StartedBroker> {
  const node = await startPrivateRabbitMQ({
    timeoutMs,
    plugins: ['rabbitmq_stomp', 'rabbitmq_mqtt', 'rabbitmq_web_stomp', 'rabbitmq_web_mqtt'],
    nodeNamePrefix: 'warrenbench',
  });
  return {
    name: 'RabbitMQ',
    host: '127.0.0.1',
    port: node.amqpPort,
    stompPort: node.stompPort,
    mqttPort: node.mqttPort,
    webStompUrl: `ws://127.0.0.1:${node.webStompPort}/ws`,
    webMqttUrl: `ws://127.0.0.1:${node.webMqttPort}/ws`,
    ...rabbitPid(node.dir),
    stop: node.stop,
  };
}

/** The Erlang VM's pid from the node's pid file (for its /proc/<pid>/io), when it can be read. */
function rabbitPid(dir: string): { pid?: number } {
  try {
    const pid = Number(readFileSync(path.join(dir, 'rabbitmq.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? { pid } : {};
  } catch {
    return {};
  }
}
