import { mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerApi, BrokerOptions, ConnectionInfo } from '@warren/core';
import type { AmqpServiceContext } from '@warren/amqp';
import { createLogger } from './logger.js';
import { startBroker, type RunningBroker, type StartOptions } from './start.js';

/** A stand-in for the core broker: records its construction and close. */
class FakeBroker implements BrokerApi {
  closed = 0;
  readonly blocked = false;
  constructor(readonly options: BrokerOptions) {}
  authenticate(): never {
    throw new Error('not used');
  }
  openConnection(): never {
    throw new Error('not used');
  }
  close(): void {
    this.closed++;
  }
}

/** Collects pino's JSON lines. */
function logCapture(): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { lines, logger };
}

interface Accepted {
  socket: Duplex;
  info: ConnectionInfo;
  ctx: AmqpServiceContext;
}

let dataDir = '';
/** The STOMP listeners default to 61613/61614: tests that do not exercise them switch them off. */
const NO_STOMP = { port: null, tlsPort: null };
const NO_MQTT = { port: null, tlsPort: null };
/** The WebSocket listeners off (their fixed default ports would clash between parallel test files). */
const NO_WEB = { webStomp: { port: null, tlsPort: null }, webMqtt: { port: null, tlsPort: null } };
let running: RunningBroker | undefined;
let brokers: FakeBroker[] = [];
let accepted: Accepted[] = [];
let onAccept: (() => void) | undefined;

function hooks(extra: Partial<StartOptions> = {}): StartOptions {
  return {
    createBroker: (options) => {
      const broker = new FakeBroker(options);
      brokers.push(broker);
      return broker;
    },
    amqpHandler: (socket, info, ctx) => {
      accepted.push({ socket, info, ctx });
      onAccept?.();
    },
    ...extra,
  };
}

function nextAccepted(count: number): Promise<Accepted> {
  return new Promise((resolve) => {
    const check = (): void => {
      const a = accepted[count - 1];
      if (a) {
        onAccept = undefined;
        resolve(a);
      }
    };
    onAccept = check;
    check();
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
}

beforeEach(async () => {
  dataDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'warren-start-')), 'data');
  brokers = [];
  accepted = [];
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await rm(path.dirname(dataDir), { recursive: true, force: true });
});

describe('startBroker', () => {
  it('binds port 0 to real ports, hands connections to the AMQP handler, and stop() frees them', async () => {
    const { logger } = logCapture();
    running = await startBroker(
      { dataDir, amqp: { port: 0, tlsPort: 0, frameMax: 8192, heartbeat: 5 }, stomp: NO_STOMP, mqtt: NO_MQTT, ...NO_WEB },
      hooks({ logger }),
    );
    const { amqp, amqps } = running.ports;
    expect(amqp).toBeGreaterThan(0);
    expect(amqps).toBeGreaterThan(0);
    expect(amqps).not.toBe(amqp);
    expect((await stat(dataDir)).isDirectory()).toBe(true);

    // Plain AMQP: the handler gets the socket, its info and the broker context built from the config.
    const client = await connect(amqp as number);
    const first = await nextAccepted(1);
    expect(first.info).toMatchObject({ protocol: 'amqp', listener: 'amqp', tls: false, remoteAddress: '127.0.0.1' });
    expect(first.ctx.broker).toBe(brokers[0]);
    expect(first.ctx.options).toEqual({
      frameMax: 8192,
      channelMax: 2047,
      heartbeat: 5,
      maxMessageSize: 134217728,
      handshakeTimeoutMs: 10000,
      slowConsumerTimeoutMs: 60000,
      consumerMaxPerChannel: 50000,
      certLoginFrom: 'distinguished_name',
    });

    // AMQPS: a TLS handshake with the generated self-signed certificate, then the same handler.
    const tlsClient = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port: amqps as number, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    const second = await nextAccepted(2);
    expect(second.info).toMatchObject({ protocol: 'amqp', listener: 'amqps', tls: true });
    expect(tlsClient.getPeerCertificate().subject.CN).toBe('localhost');

    await running.stop();
    await closed(client); // open connections are destroyed
    await expect(connect(amqp as number)).rejects.toThrow(/ECONNREFUSED/);
    await expect(connect(amqps as number)).rejects.toThrow(/ECONNREFUSED/);
    expect(brokers[0]?.closed).toBe(1);
    await running.stop(); // idempotent
    expect(brokers[0]?.closed).toBe(1);
  });

  it('creates the core broker with the default user (administrator) and the loopback users', async () => {
    running = await startBroker(
      {
        dataDir,
        log: { level: 'silent' },
        amqp: { port: 0, tlsPort: null }, stomp: NO_STOMP, mqtt: NO_MQTT, ...NO_WEB,
        defaultUser: { username: 'admin', password: 's3cret' },
        loopbackUsers: ['admin', 'other'],
      },
      hooks(),
    );
    expect(brokers[0]?.options.users).toEqual([{ name: 'admin', password: 's3cret', tags: ['administrator'] }]);
    expect(brokers[0]?.options.loopbackUsers).toEqual(['admin', 'other']);
    expect(brokers[0]?.options.logger).toBeDefined();
    expect(running.ports).toEqual({ amqp: expect.any(Number) });
  });

  it("logs one line per listener and a 'Warren started' line", async () => {
    const { lines, logger } = logCapture();
    running = await startBroker({ dataDir, host: '127.0.0.1', amqp: { port: 0, tlsPort: 0 }, stomp: NO_STOMP, mqtt: NO_MQTT, ...NO_WEB }, hooks({ logger }));
    const started = lines.filter((l) => l['msg'] === 'listener started');
    expect(started).toEqual([
      expect.objectContaining({ level: 'info', listener: 'amqp', host: '127.0.0.1', port: running.ports.amqp }),
      expect.objectContaining({ level: 'info', listener: 'amqps', host: '127.0.0.1', port: running.ports.amqps }),
    ]);
    expect(lines.filter((l) => l['msg'] === 'Warren started')).toEqual([
      expect.objectContaining({ ports: running.ports }),
    ]);
  });

  it('disabled listeners (null) are not started', async () => {
    running = await startBroker({ dataDir, log: { level: 'silent' }, amqp: { port: null, tlsPort: 0 }, stomp: NO_STOMP, mqtt: NO_MQTT, ...NO_WEB }, hooks());
    expect(running.ports.amqp).toBeUndefined();
    expect(running.ports.amqps).toBeGreaterThan(0);
  });

  it('a connection whose handler throws is dropped; the broker keeps serving', async () => {
    const { lines, logger } = logCapture();
    let calls = 0;
    running = await startBroker(
      { dataDir, amqp: { port: 0, tlsPort: null }, stomp: NO_STOMP, mqtt: NO_MQTT, ...NO_WEB },
      hooks({
        logger,
        amqpHandler: () => {
          calls++;
          throw new Error('adapter bug');
        },
      }),
    );
    const port = running.ports.amqp as number;
    await closed(await connect(port));
    await closed(await connect(port));
    expect(calls).toBe(2);
    expect(lines.filter((l) => l['msg'] === 'listener error')).toHaveLength(2);
  });

  it('starts the MQTT listeners (TCP and TLS) with one service, reported in ports and logs', async () => {
    const { lines, logger } = logCapture();
    running = await startBroker(
      { dataDir, host: '127.0.0.1', amqp: { port: null, tlsPort: null }, stomp: NO_STOMP, mqtt: { port: 0, tlsPort: 0 }, ...NO_WEB },
      hooks({ logger }),
    );
    const { mqtt, mqtts } = running.ports;
    expect(mqtt).toBeGreaterThan(0);
    expect(mqtts).toBeGreaterThan(0);
    const started = lines
      .filter((l) => l['msg'] === 'listener started' && l['protocol'] === 'mqtt')
      .map((l) => [l['listener'], l['protocol'], l['tls']]);
    expect(started).toEqual([
      ['mqtt', 'mqtt', false],
      ['mqtts', 'mqtt', true],
    ]);
    await running.stop();
    await expect(connect(mqtt as number)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('starts the STOMP listeners (TCP and TLS) with one service, reported in ports and logs', async () => {
    const { lines, logger } = logCapture();
    running = await startBroker(
      { dataDir, host: '127.0.0.1', amqp: { port: null, tlsPort: null }, stomp: { port: 0, tlsPort: 0 }, mqtt: NO_MQTT, ...NO_WEB },
      hooks({ logger }),
    );
    const { stomp, stomps } = running.ports;
    expect(stomp).toBeGreaterThan(0);
    expect(stomps).toBeGreaterThan(0);
    const started = lines.filter((l) => l['msg'] === 'listener started').map((l) => [l['listener'], l['protocol'], l['tls']]);
    expect(started).toEqual([
      ['stomp', 'stomp', false],
      ['stomps', 'stomp', true],
    ]);
    // A frame before CONNECT gets RabbitMQ's ERROR, served by the STOMP adapter.
    const client = await connect(stomp as number);
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      client.on('data', (d: Buffer) => (text += d.toString()));
      client.on('close', () => resolve(text));
      client.write('SEND\ndestination:/queue/a\n\n\0');
    });
    expect(reply).toMatch(/^ERROR\nmessage:Illegal command\n/);
    await running.stop();
    await expect(connect(stomp as number)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a failed start releases what it had started and closes the broker', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const { lines, logger } = logCapture();
    try {
      await expect(
        startBroker({ dataDir, host: '127.0.0.1', amqp: { port: 0, tlsPort: taken }, stomp: NO_STOMP, mqtt: NO_MQTT, ...NO_WEB }, hooks({ logger })),
      ).rejects.toThrow(/EADDRINUSE/);
      const amqpPort = lines.find((l) => l['listener'] === 'amqp' && l['msg'] === 'listener started')?.['port'];
      expect(amqpPort).toEqual(expect.any(Number));
      await expect(connect(amqpPort as number)).rejects.toThrow(/ECONNREFUSED/);
      expect(brokers[0]?.closed).toBe(1);
    } finally {
      blocker.close();
    }
  });

  it('rejects an invalid configuration with a clear error before binding anything', async () => {
    await expect(startBroker({ dataDir, amqp: { port: 99999 }, stomp: NO_STOMP, mqtt: NO_MQTT, ...NO_WEB }, hooks())).rejects.toThrow(
      /Invalid amqp\.port from startBroker options/,
    );
    expect(brokers).toHaveLength(0);
  });
});
