/**
 * The retained-message cap (--mqtt-max-retained-bytes): past it a retained PUBLISH is refused whole (MQTT 5 QoS 1:
 * PUBACK 0x97 Quota exceeded; MQTT 5 QoS 0: DISCONNECT 0x97; MQTT 3.1.1: the connection is closed), replacing or
 * clearing a retained topic frees room; and a large volume of retained messages (WARREN_RETAINED_TEST_MB, default 200
 * MiB of 1 MiB messages) is stored without stalling a bystander's round trips and recovered after a restart. During
 * the refusals and the volume a bystander on AMQP, MQTT and STOMP keeps its round trips under the bound of
 * bystanders.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { expectBystandersUnhurt, logReport, withBystanders } from './bystanders.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function client(port: number, clientId: string, protocolVersion: 4 | 5): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'guest', password: 'guest', clientId, protocolVersion, reconnectPeriod: 0 });
}

function closed(c: MqttClient): Promise<void> {
  return new Promise((r) => c.once('close', () => r()));
}

describe('retained-message cap', () => {
  let b: RunningBroker;
  beforeAll(async () => {
    b = await startEmbeddedBroker({ mqtt: { maxRetainedBytes: 100 * KiB } });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('MQTT 5: a retained PUBLISH past the cap gets PUBACK 0x97; replacing and clearing topics free room', async () => {
    const c = await client(b.ports.mqtt!, 'cap-5', 5);
    let got: string[] = [];
    const r = await withBystanders(b.ports, async () => {
      const body = Buffer.alloc(30 * KiB, 1);
      for (let i = 0; i < 3; i++) await c.publishAsync(`cap/${i}`, body, { qos: 1, retain: true });
      await expect(c.publishAsync('cap/3', body, { qos: 1, retain: true })).rejects.toMatchObject({ code: 0x97 });
      // Same topic, same size: a replacement adds nothing.
      await c.publishAsync('cap/0', body, { qos: 1, retain: true });
      // A non-retained PUBLISH is not affected.
      await c.publishAsync('cap/3', body, { qos: 1 });
      await c.publishAsync('cap/1', Buffer.alloc(0), { qos: 1, retain: true });
      await c.publishAsync('cap/3', body, { qos: 1, retain: true });
      // The refused one was not retained: a subscriber gets cap/0, cap/2 and cap/3.
      c.on('message', (t) => got.push(t));
      await c.subscribeAsync('cap/+', { qos: 1 });
      await new Promise((r) => setTimeout(r, 300));
    }).finally(() => c.endAsync());
    logReport('retained PUBLISHes past the cap (MQTT 5 QoS 1)', r);
    expect(got.sort()).toEqual(['cap/0', 'cap/2', 'cap/3']);
    expectBystandersUnhurt(r);
  });

  it('MQTT 5 QoS 0 gets DISCONNECT 0x97; MQTT 3.1.1 is disconnected', async () => {
    // Ten rounds, so the bystanders get round trips in while the refused clients come and go. Each body is over
    // the cap by itself, so this test does not depend on what the one before left retained.
    const r = await withBystanders(b.ports, async () => {
      for (let i = 0; i < 10; i++) {
        const c5 = await client(b.ports.mqtt!, 'cap-5-q0', 5);
        const reason = new Promise<number | undefined>((r) => c5.once('disconnect', (p) => r(p.reasonCode)));
        c5.publish('cap/q0', Buffer.alloc(110 * KiB), { qos: 0, retain: true });
        expect(await reason).toBe(0x97);
        await c5.endAsync(true);

        const c4 = await client(b.ports.mqtt!, 'cap-4', 4);
        const gone = closed(c4);
        c4.publish('cap/v4', Buffer.alloc(110 * KiB), { qos: 1, retain: true });
        await gone;
        await c4.endAsync(true);
      }
    });
    logReport('retained PUBLISHes past the cap (MQTT 5 QoS 0, MQTT 3.1.1)', r);
    expectBystandersUnhurt(r);
  });
});

describe('retained messages in volume', () => {
  const total = Number(process.env.WARREN_RETAINED_TEST_MB ?? 200);
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-retained-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`stores ${total} MiB of 1 MiB retained messages without stalling a bystander, and recovers them after a restart`, async () => {
    const config = { dataDir: join(dir, 'data'), mqtt: { maxRetainedBytes: (total + 64) * MiB } };
    let b = await startEmbeddedBroker(config);
    try {
      const publisher = await client(b.ports.mqtt!, 'retainer', 5);
      const body = Buffer.alloc(MiB, 7);
      const r = await withBystanders(b.ports, async () => {
        const window: Promise<unknown>[] = [];
        for (let i = 0; i < total; i++) {
          window.push(publisher.publishAsync(`big/${i}`, body, { qos: 1, retain: true }));
          if (window.length >= 8) await window.shift();
        }
        await Promise.all(window);
      });
      logReport(`retained ${total} MiB`, r);
      expectBystandersUnhurt(r);
      await publisher.endAsync();
    } finally {
      await b.stop();
    }

    b = await startEmbeddedBroker(config);
    try {
      const reader = await client(b.ports.mqtt!, 'reader', 5);
      let n = 0;
      let bytes = 0;
      const all = new Promise<void>((resolve) =>
        reader.on('message', (_t, payload, packet) => {
          if (packet.retain) {
            n++;
            bytes += payload.length;
          }
          if (n === total) resolve();
        }),
      );
      await reader.subscribeAsync('big/+', { qos: 0 });
      await all;
      expect(bytes).toBe(total * MiB);
      await reader.endAsync();
    } finally {
      await b.stop();
    }
  }, 600_000);
});
