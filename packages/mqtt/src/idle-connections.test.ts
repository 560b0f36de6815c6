/**
 * Thousands of idle MQTT connections over real loopback sockets: each must make only what an idle connection needs.
 * Its writer makes no 'drain' listener and no batch array, and the connection no subscription, in-flight or alias map
 * and no session list of its own, until something uses them. Counted through the transport's writer counters and the
 * service's debugStats() (no timing, no memory figures: those are in bench/src/mqtt/idle-connections.ts).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { OutboundWriter } from '@warren/transport';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMqttTestServer, type MqttTestServer } from './testing/mqtt-test-server.js';

/** The soft limit on open descriptors: each connection takes two here (client and server side in one process). */
function openFileLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** 5,000 connections, or as many as the descriptor limit allows (with room for the test runner's own). */
const N = Math.min(5000, Math.floor((openFileLimit() - 300) / 2));

const connect = (id: string): Buffer => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: id, clean: true, keepalive: 60 });

/** A raw client: connects, sends CONNECT and resolves on a successful CONNACK. */
function open(port: number, id: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(connect(id)));
    s.once('data', (d: Buffer) => (d[0] === 0x20 && d[3] === 0 ? resolve(s) : reject(new Error(`CONNACK refused for ${id}`))));
    s.once('error', reject);
  });
}

describe(`${N} idle MQTT connections`, () => {
  let server: MqttTestServer;
  const clients: net.Socket[] = [];
  let writersBefore = OutboundWriter.counters();

  beforeAll(async () => {
    expect(N).toBeGreaterThanOrEqual(500);
    server = await startMqttTestServer();
    writersBefore = OutboundWriter.counters();
    for (let i = 0; i < N; i += 250) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(250, N - i) }, (_, k) => open(server.port, `idle-${i + k}`)))));
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
  });

  it('each has one writer, which made no drain listener and no batch array', () => {
    expect(server.service.connectionCount).toBe(N);
    const now = OutboundWriter.counters();
    expect(now.created - writersBefore.created).toBe(N);
    expect(now.drainListeners - writersBefore.drainListeners).toBe(0);
    expect(now.batchArrays - writersBefore.batchArrays).toBe(0);
  });

  it('none made subscription, in-flight or alias maps, nor session lists of its own', () => {
    expect(server.service.debugStats()).toEqual({ connections: N, subscriptionMaps: 0, inflightMaps: 0, aliasMaps: 0, sessionLists: 0 });
  });

  it('a SUBSCRIBE makes them for that connection only', async () => {
    const c = clients[0] as net.Socket;
    const suback = new Promise<Buffer>((resolve) => c.once('data', resolve));
    c.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'idle/#', qos: 1 }] }));
    expect((await suback)[0]).toBe(0x90);
    expect(server.service.debugStats()).toEqual({ connections: N, subscriptionMaps: 1, inflightMaps: 0, aliasMaps: 0, sessionLists: 1 });
  });
});
