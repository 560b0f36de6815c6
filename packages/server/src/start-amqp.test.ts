/**
 * startBroker with the real parts (core Broker, AMQP adapter) and a real client: proves the composition, not the
 * protocol (tests/interop covers that).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from './start.js';
import { selfSignedPaths } from './tls.js';

let dataDir = '';
let running: RunningBroker | undefined;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'warren-e2e-'));
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

async function roundTrip(connection: amqp.ChannelModel, text: string): Promise<string | undefined> {
  const channel = await connection.createConfirmChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  channel.sendToQueue(queue, Buffer.from(text));
  await channel.waitForConfirms();
  const message = await channel.get(queue, { noAck: true });
  return message === false ? undefined : message.content.toString();
}

describe('startBroker with the real core and AMQP adapter', () => {
  it('serves amqplib over AMQP and AMQPS (verifying the generated certificate), with the configured user', async () => {
    running = await startBroker({
      dataDir,
      log: { level: 'silent' },
      amqp: { port: 0, tlsPort: 0 },
      stomp: { port: null, tlsPort: null },
      mqtt: { port: null, tlsPort: null },
      webStomp: { port: null, tlsPort: null },
      webMqtt: { port: null, tlsPort: null },
      defaultUser: { username: 'alice', password: 'wonderland' },
    });
    const plain = await amqp.connect(`amqp://alice:wonderland@127.0.0.1:${running.ports.amqp}`);
    expect(await roundTrip(plain, 'over tcp')).toBe('over tcp');
    await plain.close();

    const ca = await readFile(selfSignedPaths(dataDir).certFile);
    const secure = await amqp.connect(`amqps://alice:wonderland@localhost:${running.ports.amqps}`, { ca: [ca] });
    expect(await roundTrip(secure, 'over tls')).toBe('over tls');
    await secure.close();

    await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${running.ports.amqp}`)).rejects.toThrow(
      /ACCESS_REFUSED|403/,
    );
  });

  it('stop() closes open client connections', async () => {
    running = await startBroker({
      dataDir,
      log: { level: 'silent' },
      amqp: { port: 0, tlsPort: null },
      stomp: { port: null, tlsPort: null },
      mqtt: { port: null, tlsPort: null },
      webStomp: { port: null, tlsPort: null },
      webMqtt: { port: null, tlsPort: null },
    });
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${running.ports.amqp}`);
    connection.on('error', () => {});
    const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    await running.stop();
    await closed;
  });
});
