/**
 * Keeps the WebSocket load tool (bench/src/web) from rotting: each scenario runs very briefly against an embedded
 * Warren and must deliver. No timing assertions.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_SCENARIOS, formatWebResults, runWebScenario, type WebTarget } from '../../bench/src/web/web-load.js';

let stop: () => Promise<void> = async () => {};
let target: WebTarget;
beforeAll(async () => {
  const { startEmbeddedBroker: startBroker } = await import('@warren/server');
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-web-load-'));
  const running = await startBroker({
    dataDir,
    host: '127.0.0.1',
    log: { level: 'silent' },
    amqp: { port: null, tlsPort: null },
    stomp: { port: 0, tlsPort: null },
    mqtt: { port: 0, tlsPort: null },
    webStomp: { port: 0, tlsPort: null },
    webMqtt: { port: 0, tlsPort: null },
  });
  const p = running.ports;
  target = {
    name: 'Warren',
    host: '127.0.0.1',
    stompPort: p.stomp!,
    mqttPort: p.mqtt!,
    webStompUrl: `ws://127.0.0.1:${p.webStomp}/ws`,
    webMqttUrl: `ws://127.0.0.1:${p.webMqtt}/ws`,
  };
  stop = async () => {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
});
afterAll(() => stop());

describe('bench/src/web load tool', () => {
  it.each(WEB_SCENARIOS.map((s) => [s.id, s] as const))('%s delivers end to end', async (_id, spec) => {
    const r = await runWebScenario(spec, target, { durationS: 0.3, warmupS: 0.1, bodySize: 100, window: 200 });
    expect(r.error).toBeUndefined();
    expect(r.totalDelivered).toBeGreaterThan(0);
    expect(r.deliveredPerS).toBeGreaterThan(0);
    expect(r.p50Ms).toBeGreaterThanOrEqual(0);
    expect(formatWebResults(new Map([['Warren', [r]]]))).toContain(spec.id);
  });
});
