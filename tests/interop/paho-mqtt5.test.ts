/**
 * Interop: MQTT 5 as the specification says, through paho's Python MQTT 5 client (Debian
 * python3-paho-mqtt 1.6): session resumption, Message Expiry Interval, Server Keep Alive, Receive Maximum,
 * Authentication Method and `$SYS` statistics. The scenarios are in paho/mqtt5.py.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMqttTestServer, type MqttTestServer } from '../../packages/mqtt/src/testing/mqtt-test-server.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
let server: MqttTestServer;

beforeAll(async () => {
  server = await startMqttTestServer({ receiveMaximum: 2, maxKeepAlive: 30 });
});
afterAll(async () => {
  await server.stop();
});

async function paho(scenario: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('/usr/bin/python3', [join(here, 'paho', 'mqtt5.py'), String(server.port), scenario], { timeout: 15000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('paho MQTT 5', () => {
  it('Clean Start 0 after a connection with Session Expiry 0: Session Present 0', async () => {
    expect(await paho('session_expiry_zero')).toEqual({ sessionPresent: 0 });
  });

  it('Session Expiry 60: every message queued at QoS 0, 1 and 2 comes on resumption (Receive Maximum 2 on the way)', async () => {
    const r = await paho('resume_queued');
    expect(r).toEqual({ sessionPresent: 1, messages: Array.from({ length: 12 }, (_, i) => `m${i}`) });
  });

  it('a kept session resumed with Session Expiry 0 delivers what was queued, then ends with the connection', async () => {
    expect(await paho('resume_with_expiry_zero')).toEqual({ sessionPresent: 1, messages: ['kept'], afterwards: 0 });
  });

  it('Message Expiry Interval: a queued message has less left; an expired one is not sent', async () => {
    const r = await paho('message_expiry');
    const messages = r['messages'] as Array<{ payload: string; expiry: number | null }>;
    expect(messages.map((m) => m.payload)).toEqual(['kept', 'sentinel']);
    expect(messages[0]?.expiry).toBeLessThanOrEqual(59);
    expect(messages[0]?.expiry).toBeGreaterThan(0);
    expect(messages[1]?.expiry).toBeNull();
  });

  it('Server Keep Alive: 0 and 600 get 30 (the maximum); 20 gets none', async () => {
    expect(await paho('server_keep_alive')).toEqual({ '0': 30, '600': 30, '20': null });
  });

  it('more unacknowledged QoS 2 PUBLISHes than Receive Maximum 2: DISCONNECT 0x93', async () => {
    expect(await paho('receive_maximum')).toEqual({ receiveMaximum: 2, disconnect: 0x93 });
  });

  it('an unsupported Authentication Method: CONNACK 0x8C', async () => {
    expect(await paho('auth_method')).toEqual({ rc: 0x8c, name: 'Bad authentication method' });
  });

  it('$SYS/# gets the statistics (retained at once); # and +/broker/# never do', async () => {
    const r = await paho('sys_topics');
    expect(r['sys']).toEqual(
      expect.arrayContaining([
        '$SYS/broker/version',
        '$SYS/broker/uptime',
        '$SYS/broker/clients/connected',
        '$SYS/broker/messages/received',
        '$SYS/broker/messages/sent',
        '$SYS/broker/bytes/received',
        '$SYS/broker/bytes/sent',
        '$SYS/broker/retained messages/count',
        '$SYS/broker/subscriptions/count',
      ]),
    );
    expect(r['retain']).toEqual([1]);
    expect(Number(r['connected'])).toBeGreaterThanOrEqual(2);
    expect(r['wildSys']).toEqual([]);
  });
});
