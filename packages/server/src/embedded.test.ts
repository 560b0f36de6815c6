import { existsSync } from 'node:fs';
import net from 'node:net';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { listenersOff, startEmbeddedBroker } from './embedded.js';

/** Resolves true when something accepts a TCP connection on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('startEmbeddedBroker', () => {
  it('starts every plain listener on a free port, no TLS, and removes its temporary data directory at stop', async () => {
    const running = await startEmbeddedBroker();
    const { ports } = running;
    const standard = { amqp: 5672, mqtt: 1883, stomp: 61613, webStomp: 15674, webMqtt: 15675 } as const;
    for (const [name, port] of Object.entries(standard) as [keyof typeof standard, number][]) {
      expect(ports[name], name).toBeGreaterThan(0);
      expect(ports[name], name).not.toBe(port);
    }
    expect(ports.amqps).toBeUndefined();
    expect(ports.mqtts).toBeUndefined();
    expect(ports.stomps).toBeUndefined();
    const dataDir = running.config.dataDir;
    expect(existsSync(dataDir)).toBe(true);

    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${ports.amqp}`);
    const ch = await conn.createChannel();
    const q = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(q.queue, Buffer.from('hi'));
    await expect.poll(async () => (await ch.get(q.queue, { noAck: true })) !== false).toBe(true);
    await conn.close();

    await running.stop();
    expect(existsSync(dataDir)).toBe(false);
    expect(await accepts(ports.amqp!)).toBe(false);
  });

  it('lets the caller override a section field by field', async () => {
    const running = await startEmbeddedBroker({ mqtt: { port: null }, amqp: { tlsPort: 0 } });
    try {
      expect(running.ports.mqtt).toBeUndefined();
      expect(running.ports.amqp).toBeGreaterThan(0); // port 0 from the defaults survives the override of tlsPort
      expect(running.ports.amqps).toBeGreaterThan(0);
      expect(running.config.log.level).toBe('silent');
    } finally {
      await running.stop();
    }
  });

  it('listenersOff() switches off every listener, so only the ones named after it start', async () => {
    const running = await startEmbeddedBroker({ ...listenersOff(), stomp: { port: 0 } });
    try {
      expect(Object.keys(running.ports)).toEqual(['stomp']);
    } finally {
      await running.stop();
    }
  });
});
