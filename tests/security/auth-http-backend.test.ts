/**
 * RabbitMQ's HTTP auth backend contract (rabbitmq_auth_backend_http) with the cache in front (rabbitmq_auth_backend_cache),
 * against a small node:http backend on port 0: user_path, vhost_path, resource_path and topic_path asked with
 * RabbitMQ's parameters and obeyed on AMQP (amqplib), MQTT (mqtt.js) and STOMP; answers cached for the TTL; a backend
 * that is down refuses, with a log line. Internal users keep working when the chain is 'internal,http', and keep their
 * round trips under the bound of bystanders.ts while the backend is slow.
 */
import { createServer, type Server } from 'node:http';
import { connect as netConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, startEmbeddedBroker, type RunningBroker } from '@warren/server';
import { expectBystandersUnhurt, logReport, withBystanders } from './bystanders.js';

interface Asked {
  path: string;
  method: string;
  params: Record<string, string>;
}

/** The backend: users dev/devpw (tags management) and ro/ropw; ro may not write to amq.topic; 'secret' queues are off limits. */
function decide(path: string, p: Record<string, string>): string {
  switch (path) {
    case '/auth/user':
      if (p.username === 'dev' && p.password === 'devpw') return 'allow management monitoring';
      if (p.username === 'ro' && p.password === 'ropw') return 'allow';
      return 'deny';
    case '/auth/vhost':
      return p.vhost === '/' ? 'allow' : 'deny';
    case '/auth/resource':
      if (p.name?.startsWith('secret') === true) return 'deny';
      if (p.username === 'ro' && p.resource === 'exchange' && p.name === 'amq.topic' && p.permission === 'write') return 'deny';
      return 'allow';
    case '/auth/topic':
      return p.routing_key?.startsWith('forbidden') === true ? 'deny' : 'allow';
    default:
      return 'nonsense';
  }
}

let backend: Server;
let base: string;
const asked: Asked[] = [];

beforeAll(async () => {
  backend = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const params = Object.fromEntries(new URLSearchParams(req.method === 'POST' ? body : url.search));
      asked.push({ path: url.pathname, method: req.method ?? '', params });
      res.end(decide(url.pathname, params));
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => backend.close(r));
});

function authConfig(method: 'get' | 'post', ttl = 15000): Record<string, unknown> {
  return {
    backends: ['internal', 'http'], httpMethod: method, cacheTtlMs: ttl,
    httpUserPath: `${base}/auth/user`, httpVhostPath: `${base}/auth/vhost`,
    httpResourcePath: `${base}/auth/resource`, httpTopicPath: `${base}/auth/topic`,
  };
}

const askedOn = (path: string): Asked[] => asked.filter((a) => a.path === path);

/** A STOMP exchange over raw TCP: send `frames`, return what came back until a frame whose command is `until`. */
async function stomp(port: number, frames: string[], until: RegExp): Promise<string> {
  const s = netConnect(port, '127.0.0.1');
  let got = '';
  return new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`STOMP: no ${until} in ${JSON.stringify(got)}`)), 10_000);
    s.on('data', (d: Buffer) => {
      got += d.toString('utf8');
      if (until.test(got)) {
        clearTimeout(t);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('connect', () => {
      for (const f of frames) s.write(f + '\0');
    });
  });
}

describe.each(['get', 'post'] as const)('http auth backend (%s)', (method) => {
  let b: RunningBroker;
  beforeAll(async () => {
    b = await startEmbeddedBroker({ auth: authConfig(method) } as never);
  });
  afterAll(async () => {
    await b?.stop();
  });
  afterEach(() => {
    asked.length = 0;
  });

  it('AMQP: user_path with username and password, vhost_path with ip and tags; deny refuses the login', async () => {
    const conn = await amqp.connect(`amqp://dev:devpw@127.0.0.1:${b.ports.amqp!}`);
    await conn.close();
    const user = askedOn('/auth/user');
    expect(user).toHaveLength(1);
    expect(user[0]!.method).toBe(method.toUpperCase());
    expect(user[0]!.params).toEqual({ username: 'dev', password: 'devpw' });
    expect(askedOn('/auth/vhost')[0]!.params).toEqual({ username: 'dev', vhost: '/', ip: '127.0.0.1', tags: 'management monitoring' });
    await expect(amqp.connect(`amqp://dev:wrong@127.0.0.1:${b.ports.amqp!}`)).rejects.toThrow(/ACCESS_REFUSED|403/);
    // Internal users are tried first and never reach the backend.
    const before = asked.length;
    await (await amqp.connect(`amqp://guest:guest@127.0.0.1:${b.ports.amqp!}`)).close();
    expect(asked.length).toBe(before);
  });

  it('AMQP: resource_path decides queue.declare (configure) and topic_path the routing key of a publish', async () => {
    const conn = await amqp.connect(`amqp://dev:devpw@127.0.0.1:${b.ports.amqp!}`);
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => {});
      await ch.assertQueue('open-q', { autoDelete: true });
      const configure = askedOn('/auth/resource').find((a) => a.params.name === 'open-q')!;
      expect(configure.params).toEqual({
        username: 'dev', vhost: '/', resource: 'queue', name: 'open-q', permission: 'configure', tags: 'management monitoring',
      });
      await expect(ch.assertQueue('secret-q')).rejects.toThrow(/403.*access to queue 'secret-q' in vhost '\/' refused for user 'dev'/);

      const pub = await conn.createConfirmChannel();
      pub.publish('amq.topic', 'fine.key', Buffer.from('x'));
      await pub.waitForConfirms();
      const topic = askedOn('/auth/topic').find((a) => a.params.routing_key === 'fine.key')!;
      expect(topic.params).toMatchObject({ username: 'dev', vhost: '/', resource: 'topic', name: 'amq.topic', permission: 'write',
        'variable_map.username': 'dev', 'variable_map.vhost': '/' });
      const closed = new Promise<Error>((r) => pub.once('error', r));
      pub.publish('amq.topic', 'forbidden.key', Buffer.from('x'));
      expect((await closed).message).toMatch(/403.*access to topic 'forbidden.key' in exchange 'amq.topic'/);
    } finally {
      await conn.close().catch(() => {});
    }
  });

  it('MQTT: user_path gets client_id and vhost; resource_path refuses a publish (MQTT 5 PUBACK 0x87)', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports.mqtt!}`, {
      username: 'ro', password: 'ropw', clientId: 'dev-device-1', protocolVersion: 5, reconnectPeriod: 0,
    });
    try {
      expect(askedOn('/auth/user')[0]!.params).toEqual({ username: 'ro', password: 'ropw', client_id: 'dev-device-1', vhost: '/' });
      await expect(c.publishAsync('a/b', 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
      expect(askedOn('/auth/resource').some((a) => a.params.name === 'amq.topic' && a.params.permission === 'write')).toBe(true);
    } finally {
      await c.endAsync();
    }
    const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports.mqtt!}`, {
      username: 'dev', password: 'devpw', clientId: 'dev-device-2', protocolVersion: 5, reconnectPeriod: 0,
    });
    try {
      await d.publishAsync('a/b', 'x', { qos: 1 });
      const topic = askedOn('/auth/topic').find((a) => a.params.routing_key === 'a.b')!;
      expect(topic.params['variable_map.client_id']).toBe('dev-device-2');
    } finally {
      await d.endAsync();
    }
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports.mqtt!}`, {
      username: 'dev', password: 'nope', clientId: 'x', reconnectPeriod: 0,
    })).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it('STOMP: CONNECT asks user_path; a SEND the resource_path refuses gets an ERROR', async () => {
    const ok = await stomp(b.ports.stomp!, ['CONNECT\naccept-version:1.2\nhost:/\nlogin:dev\npasscode:devpw\n\n'], /CONNECTED/);
    expect(ok).toMatch(/^CONNECTED/);
    const bad = await stomp(b.ports.stomp!, ['CONNECT\naccept-version:1.2\nhost:/\nlogin:dev\npasscode:bad\n\n'], /ERROR/);
    expect(bad).toMatch(/Access refused for user 'dev'/);
    const refused = await stomp(b.ports.stomp!, [
      'CONNECT\naccept-version:1.2\nhost:/\nlogin:ro\npasscode:ropw\n\n',
      'SEND\ndestination:/topic/a.b\nreceipt:r1\n\nhello',
    ], /ERROR[^\0]*\0/);
    expect(refused).toMatch(/^CONNECTED/);
    expect(refused).toMatch(/access to exchange 'amq.topic' in vhost '\/' refused for user 'ro'/);
  });

  it('management: the HTTP API authenticates through the backend too', async () => {
    const res = await fetch(`http://127.0.0.1:${b.ports.management!}/api/whoami`, {
      headers: { authorization: `Basic ${Buffer.from('dev:devpw').toString('base64')}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'dev', tags: ['management', 'monitoring'] });
  });
});

describe('http auth backend: cache and failures', () => {
  afterEach(() => {
    asked.length = 0;
  });

  it('answers are cached for the TTL, then asked again', async () => {
    const b = await startEmbeddedBroker({ auth: authConfig('post', 1500) } as never);
    try {
      const url = `amqp://dev:devpw@127.0.0.1:${b.ports.amqp!}`;
      for (let i = 0; i < 3; i++) await (await amqp.connect(url)).close();
      expect(askedOn('/auth/user')).toHaveLength(1);
      expect(askedOn('/auth/vhost')).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1800));
      await (await amqp.connect(url)).close();
      expect(askedOn('/auth/user')).toHaveLength(2);
    } finally {
      await b.stop();
    }
  });

  it('a backend that is down refuses the login, with a log line', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    const b = await startEmbeddedBroker(
      { auth: { backends: ['http'], httpUserPath: `http://127.0.0.1:${deadPort}/auth/user` } } as never, { logger },
    );
    try {
      await expect(amqp.connect(`amqp://dev:devpw@127.0.0.1:${b.ports.amqp!}`)).rejects.toThrow(/ACCESS_REFUSED|403|closed/i);
      const said = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('auth backend request failed'));
      expect(said.length).toBeGreaterThanOrEqual(1);
      expect(said[0]).toMatchObject({ level: 'warn', backend: 'http' });
      // With 'http' alone, internal users are not consulted.
      await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${b.ports.amqp!}`)).rejects.toThrow();
    } finally {
      await b.stop();
    }
  });

  it('a slow backend holds up only its own logins: internal users keep their round trips', async () => {
    const DELAY_MS = 500;
    const slowAsked: string[] = [];
    const slow = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      slowAsked.push(url.searchParams.get('username') ?? '');
      setTimeout(() => res.end('allow'), DELAY_MS);
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const slowBase = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const b = await startEmbeddedBroker({
      auth: {
        backends: ['internal', 'http'], httpMethod: 'get',
        httpUserPath: `${slowBase}/auth/user`, httpVhostPath: `${slowBase}/auth/vhost`,
        httpResourcePath: `${slowBase}/auth/resource`, httpTopicPath: `${slowBase}/auth/topic`,
      },
    } as never);
    try {
      // Backend users logging in, each waiting for user_path then vhost_path, while guest (internal) does round trips.
      const r = await withBystanders(b.ports, async () => {
        await Promise.all([0, 1, 2, 3].map(async (i) => {
          const conn = await amqp.connect(`amqp://slow-${i}:pw@127.0.0.1:${b.ports.amqp!}`);
          await conn.close();
        }));
      });
      logReport(`backend answering after ${DELAY_MS} ms`, r);
      expect(r.attackMs).toBeGreaterThanOrEqual(DELAY_MS);
      expect(new Set(slowAsked)).toEqual(new Set(['slow-0', 'slow-1', 'slow-2', 'slow-3']));
      expectBystandersUnhurt(r);
    } finally {
      await b.stop();
      await new Promise((r) => slow.close(r));
    }
  });
});
