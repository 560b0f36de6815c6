/**
 * Vhost and user limits, and topic permissions, as each protocol's real client sees them: amqplib (connection.open
 * refused with 530, channel.open closing the connection with 530, queue.declare closing the channel with 406),
 * mqtt.js (CONNACK refusal) and a raw STOMP 1.2 client (ERROR frame). Limits are set on the core, as the management API does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '@warren/core';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';


let running: RunningBroker;
let dataDir: string;
let broker: Broker;
let ports: RunningBroker['ports'];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'warren-limits-'));
  running = await startEmbeddedBroker({
    dataDir,
    host: '127.0.0.1',
    log: { level: 'silent' },
    amqp: { port: 0, tlsPort: null },
    stomp: { port: 0, tlsPort: null },
    mqtt: { port: 0, tlsPort: null },
  } as Parameters<typeof startEmbeddedBroker>[0]);
  broker = running.broker as Broker;
  ports = running.ports;
});
afterAll(async () => {
  await running.stop();
  await rm(dataDir, { recursive: true, force: true });
});
afterEach(() => {
  broker.setVhostLimits('/', {});
  broker.setUserLimits('guest', {});
  broker.clearTopicPermissions('guest', '/');
});

const amqpUrl = (): string => `amqp://guest:guest@127.0.0.1:${ports.amqp}`;

/** Send a STOMP 1.2 CONNECT over a raw socket and return the first frame the broker answers with. */
function stompConnectFrame(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: ports.stomp as number });
    let buf = '';
    socket.on('error', reject);
    socket.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      const end = buf.indexOf('\0');
      if (end >= 0) {
        resolve(buf.slice(0, end));
        socket.destroy();
      }
    });
    socket.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0');
  });
}

describe('vhost max-connections', () => {
  it('AMQP: connection.open is answered with connection.close (code and text: packages/amqp limits.test.ts)', async () => {
    broker.setVhostLimits('/', { 'max-connections': 1 });
    const first = await amqp.connect(amqpUrl());
    const err = await amqp.connect(amqpUrl()).then(
      () => undefined,
      (e: Error) => e,
    );
    // amqplib drops the reply text of a close during the handshake.
    expect(String(err)).toContain('Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
    await first.close();
    // The limit counts client connections only: with the first closed, a new one is accepted.
    const again = await amqp.connect(amqpUrl());
    await again.close();
  });

  it('MQTT: CONNACK refuses the connection; STOMP: an ERROR frame', async () => {
    broker.setVhostLimits('/', { 'max-connections': 0 });
    const mqttErr = await mqtt
      .connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { username: 'guest', password: 'guest', reconnectPeriod: 0, protocolVersion: 4 })
      .then(
        async (c) => {
          await c.endAsync();
          return undefined;
        },
        (e: Error & { code?: number }) => e,
      );
    expect(mqttErr).toBeDefined();
    // MQTT 3.1.1 has no "quota" code: RabbitMQ answers 5 (not authorized), mqtt.js reports it as code 5.
    expect(mqttErr?.code).toBe(5);
    // RabbitMQ's STOMP plugin reports a refused vhost access (limits included) as ERROR "Bad CONNECT".
    const frame = await stompConnectFrame();
    expect(frame).toMatch(/^ERROR\n/);
    expect(frame).toMatch(/\nmessage:Bad CONNECT\n/);
  });
});

describe('user limits', () => {
  it('AMQP: max-connections refuses the next connection; max-channels closes the connection with 530', async () => {
    broker.setUserLimits('guest', { 'max-connections': 1 });
    const c1 = await amqp.connect(amqpUrl());
    const err = await amqp.connect(amqpUrl()).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(String(err)).toContain('Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
    await c1.close();
    broker.setUserLimits('guest', { 'max-channels': 1 });
    const c2 = await amqp.connect(amqpUrl());
    const closed = new Promise<Error>((resolve) => c2.on('error', resolve));
    await c2.createChannel();
    await expect(c2.createChannel()).rejects.toThrow();
    expect((await closed).message).toContain(
      "530 (NOT-ALLOWED) with message \"NOT_ALLOWED - number of channels opened for user 'guest' has reached the maximum allowed user limit of (1)\"",
    );
  });
});

describe('vhost max-queues', () => {
  it('AMQP: queue.declare of a new queue closes the channel with 406', async () => {
    const conn = await amqp.connect(amqpUrl());
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue('limits-existing', { autoDelete: true });
    broker.setVhostLimits('/', { 'max-queues': broker.vhost('/')!.queues.size });
    await ch.assertQueue('limits-existing', { autoDelete: true });
    const err = await ch.assertQueue('limits-new').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain("406 (PRECONDITION-FAILED) with message \"PRECONDITION_FAILED - cannot declare queue 'limits-new': queue limit in vhost '/'");
    await conn.close();
  });
});

describe('topic permissions', () => {
  it('AMQP publish and MQTT publish are refused outside the write pattern', async () => {
    broker.setTopicPermission('guest', '/', 'amq.topic', { write: '^allowed\\.', read: '.*' });
    const conn = await amqp.connect(amqpUrl());
    const ch = await conn.createChannel();
    const closed = new Promise<Error>((resolve) => ch.on('error', resolve));
    ch.publish('amq.topic', 'forbidden.x', Buffer.from('x'));
    expect((await closed).message).toContain(
      "403 (ACCESS-REFUSED) with message \"ACCESS_REFUSED - access to topic 'forbidden.x' in exchange 'amq.topic' in vhost '/' refused for user 'guest'\"",
    );
    await conn.close();
    // MQTT topic a/b is routing key a.b on amq.topic: refused, RabbitMQ closes the MQTT 3.1.1 connection.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { username: 'guest', password: 'guest', reconnectPeriod: 0 });
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('forbidden/x', 'x', { qos: 1 });
    await gone;
    await client.endAsync(true);
  });
});
