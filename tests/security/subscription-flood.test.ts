/**
 * Hostile client: one connection subscribes 40,000 topic filters (one MQTT SUBSCRIBE, or 40,000 STOMP SUBSCRIBE
 * frames) while a bystander on each protocol (AMQP via amqplib, MQTT via mqtt.js, STOMP over a raw socket) keeps
 * doing round trips through the broker. The flood must complete, and the bystanders must keep a usable latency: the
 * broker handles a huge SUBSCRIBE in slices and each filter costs the same however many the session already has.
 *
 * The bound here is deliberately generous (a loaded 2-core machine, broker and clients in one process).
 */
import net from 'node:net';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '@warren/server';

type Running = Awaited<ReturnType<typeof startEmbeddedBroker>>;

const FILTERS = 40_000;
/**
 * Generous, so it never flakes on a loaded 2-core machine: measured there, the worst pause is ~300 ms (MQTT) and
 * ~150 ms (STOMP), young-generation collections copying the 40,000 subscriptions' live objects; before the fix the
 * broker froze for the whole flood (45 s for MQTT, 90 s for STOMP). The issue's target is 50 ms.
 */
const P99_BOUND_MS = 1000;

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

/** A round-trip loop: `once` sends one message to itself and resolves when it is back. */
interface Bystander {
  name: string;
  once(): Promise<void>;
  close(): Promise<void>;
}

async function amqpBystander(): Promise<Bystander> {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port('amqp')}`);
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  let waiting: (() => void) | undefined;
  await ch.consume(queue, () => waiting?.(), { noAck: true });
  return {
    name: 'amqp',
    once: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        ch.sendToQueue(queue, Buffer.from('ping'));
      }),
    close: () => conn.close(),
  };
}

async function mqttBystander(): Promise<Bystander> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port('mqtt')}`, { reconnectPeriod: 0, clientId: 'bystander' });
  await c.subscribeAsync('bystander/echo', { qos: 0 });
  let waiting: (() => void) | undefined;
  c.on('message', () => waiting?.());
  return {
    name: 'mqtt',
    once: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        c.publish('bystander/echo', 'ping', { qos: 0 });
      }),
    close: () => c.endAsync(),
  };
}

/** A raw STOMP 1.2 connection: frames written as text, frames read by their NUL terminator. */
async function stompSocket(onFrame: (frame: string) => void): Promise<net.Socket> {
  const s = net.connect(port('stomp'), '127.0.0.1');
  let buf = '';
  let connected: () => void;
  const ready = new Promise<void>((r) => (connected = r));
  s.setEncoding('utf8');
  s.on('data', (d: string) => {
    buf += d;
    let end: number;
    while ((end = buf.indexOf('\0')) >= 0) {
      const frame = buf.slice(0, end).replace(/^\n+/, '');
      buf = buf.slice(end + 1);
      if (frame.startsWith('CONNECTED')) connected();
      else onFrame(frame);
    }
  });
  s.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0');
  await ready;
  return s;
}

async function stompBystander(): Promise<Bystander> {
  let waiting: (() => void) | undefined;
  const s = await stompSocket((f) => {
    if (f.startsWith('MESSAGE')) waiting?.();
  });
  s.write('SUBSCRIBE\ndestination:/topic/bystander\nid:0\n\n\0');
  // The subscription is live once a message comes through.
  const b: Bystander = {
    name: 'stomp',
    once: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        s.write('SEND\ndestination:/topic/bystander\n\nping\0');
      }),
    close: async () => {
      s.destroy();
    },
  };
  return b;
}

/** Round trips, back to back with a short pause, until `until` settles; returns the latencies (ms). */
async function measure(b: Bystander, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const out: number[] = [];
  while (!done) {
    const t0 = performance.now();
    await b.once();
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 2));
  }
  return out;
}

const p99 = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
};

/** Runs `flood` while every bystander measures; returns each bystander's p99 and the flood's duration. */
async function underFlood(flood: () => Promise<void>): Promise<{ floodMs: number; p99: Record<string, number>; samples: number }> {
  const bystanders = [await amqpBystander(), await mqttBystander(), await stompBystander()];
  try {
    for (const b of bystanders) await b.once(); // warm: each path is live
    const t0 = performance.now();
    const floodDone = flood();
    const results = await Promise.all(bystanders.map((b) => measure(b, floodDone)));
    await floodDone;
    const floodMs = performance.now() - t0;
    return {
      floodMs,
      p99: Object.fromEntries(bystanders.map((b, i) => [b.name, Math.round(p99(results[i] as number[]))])),
      samples: Math.min(...results.map((r) => r.length)),
    };
  } finally {
    for (const b of bystanders) await b.close();
  }
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
    const r = await underFlood(async () => {
      s.write(packet);
      await floodDone;
    });
    s.destroy();
    console.log(`MQTT flood: ${FILTERS} filters in ${Math.round(r.floodMs)} ms; bystander p99 (ms) ${JSON.stringify(r.p99)} over ${r.samples}+ round trips`);
    expect(got).toBe(expected);
    expect(last).toBe(0); // the last filter was granted QoS 0
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
    const s = await stompSocket((f) => {
      if (f.startsWith('ERROR')) errors++;
      if (f.startsWith('RECEIPT') && f.includes('receipt-id:flood-done')) resolveDone();
    });
    const r = await underFlood(async () => {
      s.write(frames);
      await floodDone;
    });
    s.destroy();
    console.log(`STOMP flood: ${FILTERS} SUBSCRIBEs in ${Math.round(r.floodMs)} ms; bystander p99 (ms) ${JSON.stringify(r.p99)} over ${r.samples}+ round trips`);
    expect(errors).toBe(0);
    for (const v of Object.values(r.p99)) expect(v).toBeLessThan(P99_BOUND_MS);
  }, 120_000);
});
