/**
 * Harness of the WebSocket suites (web-stomp, web-mqtt): an embedded Warren with every listener on a free port, or
 * with `WARREN_INTEROP_WEB_REFERENCE=1` the reference RabbitMQ's web plugins (15684 web_stomp, 15685 web_mqtt,
 * AMQP 5682, MQTT 1893), against which every expectation here was checked.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { createWebSocketStream } from 'ws';

// mqtt.js's Node build calls `require('ws').createWebSocketStream`, a static that only ws's CommonJS entry attaches
// to the WebSocket class. Under vitest, mqtt.js is transformed and its require('ws') lands on ws's ESM wrapper, whose
// default export lacks it; give it back so mqtt.js over ws:// works in the test runner as it does in plain Node.
const WebSocketWithStream = WebSocket as unknown as { createWebSocketStream?: typeof createWebSocketStream };
WebSocketWithStream.createWebSocketStream ??= createWebSocketStream;

export const WEB_REFERENCE: boolean = process.env['WARREN_INTEROP_WEB_REFERENCE'] === '1';

/** The broker the WebSocket suites talk to. */
export interface WebBroker {
  amqpUrl: string;
  /** ws://host:port/ws of the STOMP WebSocket endpoint. */
  webStompUrl: string;
  /** ws://host:port/ws of the MQTT WebSocket endpoint. */
  webMqttUrl: string;
  /** mqtt://host:port of the MQTT TCP listener. */
  mqttUrl: string;
  /** True for the reference RabbitMQ (tests of Warren-only limits skip). */
  reference: boolean;
  stop(): Promise<void>;
}

/** Start an embedded Warren (or point at the reference RabbitMQ). */
export async function startWebBroker(extra: Record<string, unknown> = {}): Promise<WebBroker> {
  if (WEB_REFERENCE) {
    return {
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5682',
      webStompUrl: 'ws://127.0.0.1:15684/ws',
      webMqttUrl: 'ws://127.0.0.1:15685/ws',
      mqttUrl: 'mqtt://127.0.0.1:1893',
      reference: true,
      stop: async () => {},
    };
  }
  const { startEmbeddedBroker: startBroker } = await import('@warren/server');
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-web-'));
  const config = {
    dataDir,
    log: { level: 'silent' },
    amqp: { port: 0, tlsPort: null },
    stomp: { port: null, tlsPort: null },
    mqtt: { port: 0, tlsPort: null },
    webStomp: { port: 0, tlsPort: null },
    webMqtt: { port: 0, tlsPort: null },
    ...extra,
  };
  const running = await startBroker(config as Parameters<typeof startBroker>[0]);
  const ports = running.ports as Record<string, number | undefined>;
  const url = (port: number | undefined, scheme: string, path = ''): string =>
    port === undefined ? '' : `${scheme}://127.0.0.1:${port}${path}`;
  return {
    amqpUrl: url(ports['amqp'], 'amqp').replace('amqp://', 'amqp://guest:guest@'),
    webStompUrl: url(ports['webStomp'], 'ws', '/ws'),
    webMqttUrl: url(ports['webMqtt'], 'ws', '/ws'),
    mqttUrl: url(ports['mqtt'], 'mqtt'),
    reference: false,
    stop: async () => {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A raw WebSocket client (for frames split or packed by hand, and bad input). */
export async function rawWebSocket(url: string, protocols: string[]): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols);
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

/** Everything the server sends until it closes, and the close code. */
export function untilClosed(ws: WebSocket): Promise<{ code: number; data: string }> {
  const chunks: Buffer[] = [];
  ws.on('message', (d: Buffer) => chunks.push(Buffer.from(d)));
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve({ code: 1006, data: '' });
    ws.once('close', (code) => resolve({ code, data: Buffer.concat(chunks).toString('latin1') }));
  });
}

/** Collect bytes from a raw WebSocket until `predicate` holds for their concatenation. */
export function receiveUntil(ws: WebSocket, predicate: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onMessage = (d: Buffer): void => {
      text += Buffer.from(d).toString('latin1');
      if (predicate(text)) {
        ws.off('message', onMessage);
        resolve(text);
      }
    };
    ws.on('message', onMessage);
    ws.once('close', () => reject(new Error(`closed before the expected data; got ${JSON.stringify(text)}`)));
  });
}
