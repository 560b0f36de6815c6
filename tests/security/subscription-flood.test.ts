/**
 * Hostile client: one connection subscribes 40,000 topic filters (one MQTT SUBSCRIBE, or 40,000 STOMP SUBSCRIBE
 * frames) while a bystander on each protocol (AMQP via amqplib, MQTT via mqtt.js, STOMP over a raw socket) keeps
 * doing round trips through the broker. The flood must complete, and the bystanders must keep a usable latency: the
 * broker handles a huge SUBSCRIBE in slices and each filter costs the same however many the session already has.
 *
 * The bound (P99_BOUND_MS in bystanders.ts) is deliberately generous: a loaded 2-core machine, broker and clients in
 * one process.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '@warren/server';
import { P99_BOUND_MS, stompSocket, withBystanders } from './bystanders.js';

type Running = Awaited<ReturnType<typeof startEmbeddedBroker>>;

const FILTERS = 40_000;

let broker: Running;
beforeAll(async () => {
  broker = await startEmbeddedBroker({
    mqtt: { port: 0, tlsPort: null, maxSubscriptions: FILTERS },
    stomp: { port: 0, tlsPort: null, maxSubscriptions: FILTERS },
  });
});
afterAll(async () => {
  await broker?.stop();
});

function port(name: 'amqp' | 'mqtt' | 'stomp'): number {
  const p = broker.ports[name];
  if (p === undefined) throw new Error(`no ${name} port`);
  return p;
}

describe('subscription flood: a bystander on each protocol keeps its latency', () => {
  it(`one MQTT SUBSCRIBE with ${FILTERS} filters`, async () => {
    const packet = mqttPacket.generate(
      {
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: Array.from({ length: FILTERS }, (_, i) => ({ topic: `flood/${i}/+`, qos: 0 as const })),
      },
      { protocolVersion: 4 },
    );
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'flooder', clean: true, keepalive: 0 });
    // CONNACK (4 bytes), then SUBACK: 1 + 3 (remaining length 40,002) + 2 (packet id) + one code per filter.
    const expected = 4 + 1 + 3 + 2 + FILTERS;
    const s = net.connect(port('mqtt'), '127.0.0.1');
    let got = 0;
    let last = 0;
    const floodDone = new Promise<void>((resolve, reject) => {
      s.on('data', (d: Buffer) => {
        got += d.length;
        last = d[d.length - 1] ?? -1;
        if (got >= expected) resolve();
      });
      s.on('close', () => reject(new Error(`flooder closed after ${got} bytes`)));
    });
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(connect);
    const r = await withBystanders(broker.ports, async () => {
      s.write(packet);
      await floodDone;
    });
    s.destroy();
    console.log(`MQTT flood: ${FILTERS} filters in ${Math.round(r.attackMs)} ms; bystander p99 (ms) ${JSON.stringify(r.p99)} over ${r.samples}+ round trips`);
    expect(got).toBe(expected);
    expect(last).toBe(0); // the last filter was granted QoS 0
    expect(r.samples).toBeGreaterThan(0);
    for (const v of Object.values(r.p99)) expect(v).toBeLessThan(P99_BOUND_MS);
  }, 120_000);

  it(`${FILTERS} STOMP SUBSCRIBE frames`, async () => {
    let frames = '';
    for (let i = 0; i < FILTERS; i++) {
      frames += `SUBSCRIBE\ndestination:/topic/flood.${i}\nid:sub-${i}${i === FILTERS - 1 ? '\nreceipt:flood-done' : ''}\n\n\0`;
    }
    let errors = 0;
    let resolveDone: () => void;
    const floodDone = new Promise<void>((r) => (resolveDone = r));
    const s = await stompSocket(port('stomp'), (f) => {
      if (f.startsWith('ERROR')) errors++;
      if (f.startsWith('RECEIPT') && f.includes('receipt-id:flood-done')) resolveDone();
    });
    const r = await withBystanders(broker.ports, async () => {
      s.write(frames);
      await floodDone;
    });
    s.destroy();
    console.log(`STOMP flood: ${FILTERS} SUBSCRIBEs in ${Math.round(r.attackMs)} ms; bystander p99 (ms) ${JSON.stringify(r.p99)} over ${r.samples}+ round trips`);
    expect(errors).toBe(0);
    expect(r.samples).toBeGreaterThan(0);
    for (const v of Object.values(r.p99)) expect(v).toBeLessThan(P99_BOUND_MS);
  }, 120_000);
});
