/**
 * Browser test harness: a headless Chromium (Debian's, driven by playwright-core) and a broker exposing the
 * web-stomp and web-mqtt example pages.
 *
 * By default the broker is an embedded Warren (startBroker, every port 0). With `WARREN_BROWSER_REFERENCE=1` the
 * pages are served by Warren's WebSocket listeners but each WebSocket is bridged byte for byte to the reference
 * RabbitMQ's STOMP (61623) and MQTT (1893) TCP ports, and AMQP goes to 5682: that checks the pages, the bundles, the
 * WebSocket transport and the test's expectations against RabbitMQ itself.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium package. */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium: boolean = existsSync(CHROMIUM);
export const REFERENCE: boolean = process.env['WARREN_BROWSER_REFERENCE'] === '1';

/** Screenshots go here (gitignored). */
export const ARTIFACTS: string = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');

/** The broker under test, as the browser test sees it. */
export interface WebTarget {
  /** http://host:port of the web-stomp listener (the page at '/', the WebSocket at /ws). */
  webStompUrl: string;
  webMqttUrl: string;
  amqpUrl: string;
  /** mqtt:// URL of the MQTT TCP listener (the "device"). */
  mqttUrl: string;
  stop(): Promise<void>;
}

function bridge(port: number): (stream: Duplex) => void {
  return (stream) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => stream.destroy());
    stream.on('error', () => socket.destroy());
    stream.pipe(socket).pipe(stream);
  };
}

/** Start the broker under test (see the module comment); `undefined` when Warren does not serve both yet. */
export async function startWebTarget(): Promise<WebTarget | undefined> {
  const [webStomp, webMqtt] = await Promise.all([import('@warren/web-stomp'), import('@warren/web-mqtt')]);
  // The pages as the build would produce them.
  await Promise.all([webStomp.bundleExamples(), webMqtt.bundleExamples()]);
  if (REFERENCE) {
    const s = await webStomp.listenWebStomp({ handleConnection: bridge(61623) }, { port: 0, maxPayload: 1 << 20 });
    const m = await webMqtt.listenWebMqtt({ handleConnection: bridge(1893) }, { port: 0, maxPayload: 1 << 20 });
    return {
      webStompUrl: `http://127.0.0.1:${s.port}`,
      webMqttUrl: `http://127.0.0.1:${m.port}`,
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5682',
      mqttUrl: 'mqtt://127.0.0.1:1893',
      stop: async () => {
        await Promise.all([s.close(), m.close()]);
      },
    };
  }
  const { startEmbeddedBroker: startBroker } = await import('@warren/server');
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-browser-'));
  const config: Record<string, unknown> = {
    dataDir,
    log: { level: 'silent' },
    amqp: { port: 0, tlsPort: null },
    mqtt: { port: 0, tlsPort: null },
    stomp: { port: 0, tlsPort: null },
    webStomp: { port: 0, tlsPort: null },
    webMqtt: { port: 0, tlsPort: null },
  };
  let running;
  try {
    running = await startBroker(config as Parameters<typeof startBroker>[0]);
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    if (/Unknown setting|not implemented/.test((err as Error).message)) return undefined;
    throw err;
  }
  const ports = running.ports as Record<string, number | undefined>;
  const { webStomp: ws, webMqtt: wm, amqp, mqtt } = ports;
  if (ws === undefined || wm === undefined || amqp === undefined || mqtt === undefined) {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
    return undefined;
  }
  return {
    webStompUrl: `http://127.0.0.1:${ws}`,
    webMqttUrl: `http://127.0.0.1:${wm}`,
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqp}`,
    mqttUrl: `mqtt://127.0.0.1:${mqtt}`,
    stop: async () => {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A headless Chromium with a fresh profile; `close()` removes the profile. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'warren-chromium-'));
  await mkdir(ARTIFACTS, { recursive: true });
  // launchPersistentContext is how playwright takes a --user-data-dir of our choosing.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
