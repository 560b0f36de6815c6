/**
 * startBroker with the WebSocket listeners: web-stomp and web-mqtt on the shared STOMP and MQTT services, their
 * example pages, the wss:// variants when a certificate is configured, and the origin allow-list from the config.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bundleExamples as bundleStomp } from '@warren/web-stomp';
import { bundleExamples as bundleMqtt } from '@warren/web-mqtt';
import { startBroker, type RunningBroker } from './start.js';

const OFF = { port: null, tlsPort: null };
const CONNECT = 'CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0';
/** MQTT 3.1.1 CONNECT, clean session, guest/guest, client id "w". */
const MQTT_CONNECT = Buffer.from([
  0x10, 0x1b, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0xc2, 0x00, 0x00, 0x00, 0x01, 0x77,
  0x00, 0x05, 0x67, 0x75, 0x65, 0x73, 0x74, 0x00, 0x05, 0x67, 0x75, 0x65, 0x73, 0x74,
]);

let dataDir = '';
let running: RunningBroker | undefined;
beforeAll(async () => {
  await Promise.all([bundleStomp(), bundleMqtt()]);
});
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'warren-web-'));
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

/** Open a WebSocket, send `first`, resolve with the first message back. */
function exchange(url: string, protocol: string, first: string | Buffer, options: WebSocket.ClientOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [protocol], options);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('open', () => ws.send(first));
    ws.once('message', (data: Buffer) => {
      resolve(data);
      ws.close();
    });
  });
}

describe('startBroker with web-stomp and web-mqtt', () => {
  it('serves STOMP and MQTT over WebSocket and the example pages, reported in ports', async () => {
    running = await startBroker({
      dataDir,
      host: '127.0.0.1',
      log: { level: 'silent' },
      amqp: OFF,
      stomp: OFF,
      mqtt: OFF,
      webStomp: { port: 0, tlsPort: null },
      webMqtt: { port: 0, tlsPort: null },
    });
    const { webStomp, webMqtt, webStompTls, webMqttTls, stomp, mqtt } = running.ports;
    expect(webStomp).toBeGreaterThan(0);
    expect(webMqtt).toBeGreaterThan(0);
    // TCP listeners off: the services exist for the WebSocket listeners alone.
    expect([stomp, mqtt, webStompTls, webMqttTls]).toEqual([undefined, undefined, undefined, undefined]);

    const connected = await exchange(`ws://127.0.0.1:${webStomp}/ws`, 'v12.stomp', CONNECT);
    expect(connected.toString()).toMatch(/^CONNECTED\n/);
    const connack = await exchange(`ws://127.0.0.1:${webMqtt}/ws`, 'mqtt', MQTT_CONNECT);
    expect([...connack]).toEqual([0x20, 0x02, 0x00, 0x00]);

    const stompPage = await fetch(`http://127.0.0.1:${webStomp}/`);
    expect(stompPage.status).toBe(200);
    expect(await stompPage.text()).toContain('STOMP over WebSocket');
    const app = await fetch(`http://127.0.0.1:${webMqtt}/app.js`);
    expect(app.headers.get('content-type')).toMatch(/javascript/);
    expect(await (await fetch(`http://127.0.0.1:${webMqtt}/`)).text()).toContain('MQTT over WebSocket');
  });

  it('applies the path and the origin allow-list from the configuration', async () => {
    running = await startBroker({
      dataDir,
      host: '127.0.0.1',
      log: { level: 'silent' },
      amqp: OFF,
      stomp: OFF,
      mqtt: OFF,
      webStomp: { port: 0, tlsPort: null, path: '/stomp', allowedOrigins: ['http://app.example'] },
      webMqtt: OFF,
    });
    const url = `ws://127.0.0.1:${running.ports.webStomp}/stomp`;
    await expect(exchange(url, 'v12.stomp', CONNECT, { origin: 'http://evil.example' })).rejects.toThrow(/403/);
    expect((await exchange(url, 'v12.stomp', CONNECT, { origin: 'http://app.example' })).toString()).toMatch(/^CONNECTED/);
    await expect(exchange(`ws://127.0.0.1:${running.ports.webStomp}/ws`, 'v12.stomp', CONNECT)).rejects.toThrow(/404/);
  });

  it('starts wss:// listeners only when a certificate is configured', async () => {
    running = await startBroker({
      dataDir,
      host: '127.0.0.1',
      log: { level: 'silent' },
      amqp: OFF,
      stomp: OFF,
      mqtt: OFF,
      webStomp: { port: 0, tlsPort: 0 },
      webMqtt: { port: 0, tlsPort: 0 },
    });
    // Only the generated self-signed certificate (for AMQPS and friends): no wss://, as RabbitMQ's web plugins.
    expect(running.ports.webStompTls).toBeUndefined();
    expect(running.ports.webMqttTls).toBeUndefined();
    await running.stop();

    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, notAfterDate: new Date(Date.now() + 86_400_000) });
    const certFile = path.join(dataDir, 'cert.pem');
    const keyFile = path.join(dataDir, 'key.pem');
    await writeFile(certFile, pems.cert);
    await writeFile(keyFile, pems.private);
    running = await startBroker({
      dataDir,
      host: '127.0.0.1',
      log: { level: 'silent' },
      amqp: OFF,
      stomp: OFF,
      mqtt: OFF,
      webStomp: { port: 0, tlsPort: 0 },
      webMqtt: { port: 0, tlsPort: 0 },
      tls: { certFile, keyFile },
    });
    const { webStompTls, webMqttTls } = running.ports;
    expect(webStompTls).toBeGreaterThan(0);
    expect(webMqttTls).toBeGreaterThan(0);
    const tlsOptions = { ca: pems.cert, servername: 'localhost' };
    const connected = await exchange(`wss://localhost:${webStompTls}/ws`, 'v12.stomp', CONNECT, tlsOptions);
    expect(connected.toString()).toMatch(/^CONNECTED\n/);
    const connack = await exchange(`wss://localhost:${webMqttTls}/ws`, 'mqtt', MQTT_CONNECT, tlsOptions);
    expect([...connack]).toEqual([0x20, 0x02, 0x00, 0x00]);
  });
});
