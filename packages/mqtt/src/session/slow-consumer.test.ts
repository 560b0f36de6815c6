/**
 * Slow consumers: a client that stops reading while deliveries pile up is closed once its output has stayed over
 * the writer's high-water mark for `slowConsumerTimeoutMs`, with one warn line and no DISCONNECT (it would not be
 * read); its unacknowledged messages go back to the queue.
 */
import { Duplex } from 'node:stream';
import { Broker, silentLogger, type Logger } from '@warren/core';
import { fakeConnectionInfo } from '@warren/core/testing';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMqttService, type MqttService } from '../index.js';
import { RawClient } from '../testing/mqtt-test-server.js';

let broker: Broker;
let service: MqttService;
const lines: string[] = [];
const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (_o, m) => void lines.push(`warn: ${m ?? ''}`),
  error: (_o, m) => void lines.push(`error: ${m ?? ''}`),
  child: () => logger,
};

beforeEach(() => {
  lines.length = 0;
  broker = new Broker({ logger: silentLogger });
  service = createMqttService({ broker, logger, dataDir: '', options: { maxFrameSize: 1 << 20, slowConsumerTimeoutMs: 100 } });
});
afterEach(async () => {
  await service.close();
  broker.close();
});

/** The server's end of a client that never reads: nothing written to it ever completes. */
function deafClient(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _enc, _done) {
      // Never done: the bytes stay in the stream's buffer, as in a socket whose peer stopped reading.
    },
  });
}

describe('slow consumers', () => {
  it('a subscriber that never reads is closed after the slow-consumer timeout, with one warn line; others are served', async () => {
    const deaf = deafClient();
    service.handleConnection(deaf, fakeConnectionInfo({ protocol: 'mqtt', listener: 'mqtt', localPort: 1883 }));
    deaf.push(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'deaf', clean: true, keepalive: 0 }));
    deaf.push(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'slow/#', qos: 1 }] }));
    await vi.waitFor(() => expect(broker.vhost('/')?.queues.get('mqtt-subscription-deafqos1')?.consumerCount ?? 0).toBe(1));
    const reader = new RawClient(service);
    await reader.connect({ clientId: 'reader' });
    reader.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'slow/#', qos: 0 }] });
    await reader.next('suback');
    const pub = new RawClient(service);
    await pub.connect({ clientId: 'pub' });
    // 3 MiB of deliveries: far over the writer's 1 MiB high-water mark.
    const payload = Buffer.alloc(64 * 1024, 1);
    for (let i = 1; i <= 48; i++) pub.send({ cmd: 'publish', topic: 'slow/x', payload, qos: 1, messageId: i, retain: false, dup: false });
    for (let i = 1; i <= 48; i++) await pub.next('puback');
    await vi.waitFor(() => expect(deaf.destroyed).toBe(true), { timeout: 5000 });
    expect(lines).toEqual(['warn: MQTT client closed: it did not read its deliveries within the slow-consumer timeout']);
    // The bystander got everything.
    for (let i = 0; i < 48; i++) await reader.next('publish');
    await vi.waitFor(() => expect(service.connectionCount).toBe(2));
    reader.close();
    pub.close();
  });
});
