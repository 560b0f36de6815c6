import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { managementHarness, type Harness } from '../testing/harness.js';

const FIXTURES = fileURLToPath(new URL('../../../../tests/fixtures/rabbitmq-3.10/', import.meta.url));
function fixture(name: string): { request: { path: string }; status: number; body: Record<string, unknown> } {
  return JSON.parse(readFileSync(`${FIXTURES}${name}.json`, 'utf8')) as { request: { path: string }; status: number; body: Record<string, unknown> };
}

let h: Harness;
beforeEach(async () => {
  h = await managementHarness();
});
afterEach(async () => {
  await h.close();
});

/** The same request as the fixture's answers the same status and body (ports and protocols made ours). */
async function same(name: string, path: string, adjust: (body: Record<string, unknown>) => Record<string, unknown> = (b) => b): Promise<void> {
  const f = fixture(name);
  const res = await h.request('GET', path);
  expect(res.statusCode, name).toBe(f.status);
  expect(res.json(), name).toEqual(adjust(f.body));
}

describe('health checks', () => {
  it('answer as RabbitMQ 3.10 when healthy', async () => {
    await same('aliveness-test', '/api/aliveness-test/%2F');
    expect(h.broker.vhost('/')!.queues.get('aliveness-test')?.messageCount).toBe(0);
    await same('health-alarms', '/api/health/checks/alarms');
    await same('health-local-alarms', '/api/health/checks/local-alarms');
    await same('health-virtual-hosts', '/api/health/checks/virtual-hosts');
    await same('health-node-is-quorum-critical', '/api/health/checks/node-is-quorum-critical');
    await same('health-node-is-mirror-sync-critical', '/api/health/checks/node-is-mirror-sync-critical');
    await same('health-certificate-expiration', '/api/health/checks/certificate-expiration/1/months');
    await same('health-certificate-expiration-bad', '/api/health/checks/certificate-expiration/1/fortnights');
  });

  it('aliveness-test: 404 for an unknown vhost, 401 without access to it', async () => {
    expect((await h.request('GET', '/api/aliveness-test/nowhere')).statusCode).toBe(404);
    h.broker.addVhost('private');
    h.broker.addUser('alice', 'pw', ['management']);
    expect((await h.request('GET', '/api/aliveness-test/private', undefined, { user: 'alice', password: 'pw' })).statusCode).toBe(401);
  });

  it('alarms: 503 failed with the alarms in effect', async () => {
    h.broker.setAlarm('memory', true);
    const res = await h.request('GET', '/api/health/checks/alarms');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'failed', reason: 'There are alarms in effect in the cluster', alarms: [{ node: 'warren@test', resource: 'memory' }] });
    const local = await h.request('GET', '/api/health/checks/local-alarms');
    expect(local.statusCode).toBe(503);
    expect(local.json()).toMatchObject({ status: 'failed', alarms: [{ resource: 'memory' }] });
  });

  it('port and protocol listeners: ok with the listener, 503 with the list otherwise; RabbitMQ\'s protocol spellings', async () => {
    // The recorded node's AMQP port, whatever the recording picked.
    const amqpPort = Number(fixture('health-port-listener').request.path.split('/').pop());
    (h.ctx as { listeners: () => unknown }).listeners = () => [
      { protocol: 'amqp', port: amqpPort, ipAddress: '::' },
      { protocol: 'mqtt', port: 34475, ipAddress: '::' },
      { protocol: 'http/web-stomp', port: 41593, ipAddress: '::' },
    ];
    await same('health-port-listener', `/api/health/checks/port-listener/${amqpPort}`);
    await same('health-protocol-listener-amqp', '/api/health/checks/protocol-listener/amqp');
    await same('health-protocol-listener-mqtt', '/api/health/checks/protocol-listener/mqtt');
    const fail = fixture('health-port-listener-fail');
    const res = await h.request('GET', '/api/health/checks/port-listener/1');
    expect(res.statusCode).toBe(fail.status);
    expect(Object.keys(res.json()).sort()).toEqual(Object.keys(fail.body).sort());
    expect(res.json()).toEqual({ status: 'failed', reason: 'No active listener', missing: 1, ports: [amqpPort, 34475, 41593] });
    const pfail = await h.request('GET', '/api/health/checks/protocol-listener/nosuch');
    expect(pfail.statusCode).toBe(503);
    expect(pfail.json()).toEqual({ status: 'failed', reason: 'No active listener', missing: 'nosuch', protocols: ['amqp', 'mqtt', 'http/web-stomp'] });
    for (const alias of ['amqp091', 'AMQP0-9-1', 'mqtt311', 'web-stomp']) {
      expect((await h.request('GET', `/api/health/checks/protocol-listener/${alias}`)).json().status, alias).toBe('ok');
    }
    expect((await h.request('GET', '/api/health/checks/protocol-listener/stomp')).statusCode).toBe(503);
  });

  it('certificate-expiration: 503 when a served certificate expires within the period', async () => {
    const now = Date.now();
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 1024,
      notBeforeDate: new Date(now - 60_000),
      notAfterDate: new Date(now + 20 * 86_400_000),
    });
    h.ctx.certificates = () => [{ protocol: 'amqp/ssl', port: 5671, ipAddress: '::', cert: pems.cert, certFile: '/etc/warren/cert.pem' }];
    expect((await h.request('GET', '/api/health/checks/certificate-expiration/1/weeks')).json()).toEqual({ status: 'ok' });
    const res = await h.request('GET', '/api/health/checks/certificate-expiration/1/months');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'failed', reason: 'Certificates expiring', expired: [{ port: 5671, protocol: 'amqp/ssl', certfile: '/etc/warren/cert.pem' }] });
    expect((await h.request('GET', '/api/health/checks/certificate-expiration/x/days')).statusCode).toBe(400);
  });
});
