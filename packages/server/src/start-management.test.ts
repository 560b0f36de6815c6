import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
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

  it('serves HTTPS on the TLS port when a certificate is configured, and not without one', async () => {
    running = await startEmbeddedBroker({ management: { port: null, tlsPort: 0 } });
    expect(running.ports.managementTls).toBeUndefined(); // the self-signed AMQPS certificate is not used, as RabbitMQ
    await running.stop();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'warren-mgmt-tls-'));
    try {
      const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, notAfterDate: new Date(Date.now() + 86_400_000) });
      const certFile = path.join(dir, 'cert.pem');
      const keyFile = path.join(dir, 'key.pem');
      await writeFile(certFile, pems.cert);
      await writeFile(keyFile, pems.private);
      running = await startEmbeddedBroker({ management: { port: null, tlsPort: 0 }, tls: { certFile, keyFile } });
      const port = running.ports.managementTls!;
      expect(port).toBeGreaterThan(0);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.get(
          { host: '127.0.0.1', port, path: '/api/whoami', servername: 'localhost', ca: pems.cert, headers: auth },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
      });
      expect(answer).toEqual({ status: 200, body: JSON.stringify({ name: 'guest', tags: ['administrator'] }) });
      const overview = await new Promise<string>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port, path: '/api/overview?columns=listeners', servername: 'localhost', ca: pems.cert, headers: auth }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      expect(JSON.parse(overview).listeners).toContainEqual(expect.objectContaining({ protocol: 'https', port }));
    } finally {
      await running?.stop();
      running = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
