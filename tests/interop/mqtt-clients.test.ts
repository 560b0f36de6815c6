/**
 * Interop: Debian's mosquitto_pub/mosquitto_sub and paho-mqtt (python3) against Warren's MQTT adapter.
 */
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMqttTestServer, type MqttTestServer } from '../../packages/mqtt/src/testing/mqtt-test-server.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
let server: MqttTestServer;

beforeAll(async () => {
  server = await startMqttTestServer();
});
afterAll(async () => {
  await server.stop();
});

/** Start mosquitto_sub for `count` messages and resolve with its output lines. */
function mosquittoSub(args: string[]): { ready: Promise<void>; output: Promise<string[]>; raw: () => string } {
  // stdbuf: mosquitto_sub's stdout is block-buffered on a pipe, and readiness is read from its debug lines.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(server.port), '-d', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let debug = '';
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    debug += c.toString();
    if (/received SUBACK/i.test(debug)) readyResolve();
  });
  const output = new Promise<string[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve(out.split('\n').filter((l) => l !== '' && !l.startsWith('Client ') && !l.startsWith('Subscribed'))));
  });
  return { ready, output, raw: () => debug };
}

describe('mosquitto clients', () => {
  it.each(['mqttv311', 'mqttv5', 'mqttv31'])('mosquitto_pub → mosquitto_sub with %s, QoS 0/1/2', async (version) => {
    const topic = `mosq/${version}`;
    const sub = mosquittoSub(['-V', version, '-t', `${topic}/#`, '-q', '2', '-C', '3', '-v', '-W', '10']);
    await sub.ready;
    for (const qos of ['0', '1', '2']) {
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(server.port), '-V', version, '-t', `${topic}/q${qos}`, '-q', qos, '-m', `m${qos}`]);
    }
    const all = await sub.output;
    const lines = all.filter((l) => l.startsWith(topic));
    expect(lines.sort()).toEqual([`${topic}/q0 m0`, `${topic}/q1 m1`, `${topic}/q2 m2`]);
  });

  it('retained message is delivered to a later wildcard subscriber (mosquitto_sub -R skips it)', async () => {
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(server.port), '-t', 'mosqret/a/b', '-r', '-q', '1', '-m', 'kept']);
    const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(server.port), '-t', 'mosqret/+/b', '-C', '1', '-v', '-W', '5']);
    expect(stdout.trim()).toBe('mosqret/a/b kept');
  });

  it('wrong credentials are refused (not authorised)', async () => {
    await expect(
      run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(server.port), '-u', 'guest', '-P', 'wrong', '-t', 'x', '-m', 'y']),
    ).rejects.toThrow(/bad user name or password|not authori[sz]ed/i);
  });
});

describe('paho-mqtt (python3)', () => {
  const paho = async (scenario: string): Promise<Record<string, unknown>> => {
    const { stdout } = await run('/usr/bin/python3', [join(here, 'paho', 'scenarios.py'), String(server.port), scenario], { timeout: 15000 });
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  it.each(['pubsub311', 'pubsub5'])('%s: QoS 0, 1 and 2 delivered at the publish QoS', async (scenario) => {
    const r = await paho(scenario);
    expect(r['messages']).toEqual([
      { topic: expect.stringMatching(/\/q0$/), payload: 'm0', qos: 0 },
      { topic: expect.stringMatching(/\/q1$/), payload: 'm1', qos: 1 },
      { topic: expect.stringMatching(/\/q2$/), payload: 'm2', qos: 2 },
    ]);
  });

  it('persistent session: queued QoS 1 message after reconnect, session present', async () => {
    const r = await paho('persistent');
    expect(r).toEqual({ sessionPresent: 1, messages: ['queued'] });
  });

  it('MQTT 5: a refused CONNECT carries a Reason String; Request Response Information is answered', async () => {
    const r = await paho('problem_response_info');
    expect(r['refusedReason']).toBe('Bad user name or password');
    expect(r['refusedString']).toBe("authentication failed for user 'guest'");
    expect(r['responseInformation']).toBe(r['expectedResponseInformation']);
  });

  it('retained message with RETAIN=1 and a will on abnormal disconnect', async () => {
    const r = await paho('retained_will');
    expect(r['messages']).toEqual([
      { topic: expect.stringMatching(/\/state$/), payload: 'on', retain: 1 },
      { topic: expect.stringMatching(/\/will$/), payload: 'dead', retain: 0 },
    ]);
  });
});
