import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from './embedded.js';
import type { RunningBroker } from './start.js';

const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
let running: RunningBroker | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe('the management listener', () => {
  it('serves the API on its port, lists every listener with its real port, and closes at stop', async () => {
    running = await startEmbeddedBroker();
    const port = running.ports.management!;
    expect(port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${port}/api/overview`, { headers: auth });
    expect(res.status).toBe(200);
    const overview = (await res.json()) as { listeners: { protocol: string; port: number }[] };
    const byProtocol = Object.fromEntries(overview.listeners.map((l) => [l.protocol, l.port]));
    expect(byProtocol).toMatchObject({ amqp: running.ports.amqp, mqtt: running.ports.mqtt, stomp: running.ports.stomp, http: port });
    await running.stop();
    running = undefined;
    await expect(fetch(`http://127.0.0.1:${port}/api/overview`, { headers: auth })).rejects.toThrow();
  });

  it('can be switched off', async () => {
    running = await startEmbeddedBroker({ management: { port: null } });
    expect(running.ports.management).toBeUndefined();
  });

  it('answers gzip when asked', async () => {
    running = await startEmbeddedBroker();
    for (let i = 0; i < 30; i++) {
      await fetch(`http://127.0.0.1:${running.ports.management!}/api/queues/%2F/q${i}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    }
    const res = await fetch(`http://127.0.0.1:${running.ports.management!}/api/queues`, { headers: { ...auth, 'accept-encoding': 'gzip' } });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(((await res.json()) as unknown[]).length).toBe(30);
  });
});
