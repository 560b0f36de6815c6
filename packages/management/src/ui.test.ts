/**
 * The UI's server side: the pages' files, the live stream (/api/ui/stream), the tail (/api/ui/tail) and the MQTT view
 * (/api/ui/mqtt/*). Streams are read over a real socket with fetch, as the page reads them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { makeMessage } from '@warren/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topicFilterToBindingKey } from './routes/tail.js';
import { basicAuth, managementHarness, type Harness } from './testing/harness.js';
import { registerUiAssets } from './ui-assets.js';

let h: Harness;
let base: string;
beforeEach(async () => {
  h = await managementHarness();
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const a = h.app.server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
});
afterEach(async () => {
  await h.close();
});

const GUEST = { authorization: basicAuth('guest', 'guest') };

type Ev = { event: string; data: any };

/** The events of one stream response, read as they arrive. */
function events(res: Response): { until(pred: (all: Ev[]) => boolean): Promise<Ev[]> } {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const all: Ev[] = [];
  let buf = '';
  return {
    async until(pred) {
      const from = all.length;
      const deadline = Date.now() + 10_000;
      while (!pred(all.slice(from)) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev !== undefined && data !== undefined) all.push({ event: ev, data: JSON.parse(data) });
        }
      }
      return all.slice(from);
    },
  };
}

describe('live stream', () => {
  it('refuses a request without credentials (401) and watch paths that are missing or not API paths (400)', async () => {
    expect((await fetch(`${base}/api/ui/stream?watch=/api/queues`)).status).toBe(401);
    expect((await fetch(`${base}/api/ui/stream`, { headers: GUEST })).status).toBe(400);
    expect((await fetch(`${base}/api/ui/stream?watch=/etc/passwd`, { headers: GUEST })).status).toBe(400);
    expect((await fetch(`${base}/api/ui/stream?watch=${encodeURIComponent('/api/ui/stream?watch=/api/queues')}`, { headers: GUEST })).status).toBe(400);
  });

  it('pushes the watched answer at once, then again when it changes (a queue declared), as the stream\'s user', async () => {
    const ac = new AbortController();
    const path = '/api/queues?page=1&page_size=10&columns=name';
    const res = await fetch(`${base}/api/ui/stream?watch=${encodeURIComponent(path)}&watch=/api/users`, { headers: GUEST, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = events(res);
    const first = await stream.until((e) => e.length >= 2);
    expect(first.map((e) => e.data.path).sort()).toEqual([path, '/api/users'].sort());
    expect(first.find((e) => e.data.path === path)!.data.body.items).toEqual([]);
    await h.request('PUT', '/api/queues/%2F/pushed', {});
    const next = await stream.until((e) => e.some((x) => x.data.path === path));
    // Only the path whose answer changed is pushed again.
    expect(next.map((e) => e.data.path)).toEqual([path]);
    expect(next[0]!.data.body.items).toEqual([{ name: 'pushed' }]);
    ac.abort();
  });

  it('a watched path the user may not read arrives as its error status', async () => {
    h.broker.addUser('mgmt', 'pw', ['management']);
    const ac = new AbortController();
    const res = await fetch(`${base}/api/ui/stream?watch=/api/users`, { headers: { authorization: basicAuth('mgmt', 'pw') }, signal: ac.signal });
    const [e] = await events(res).until((ev) => ev.length >= 1);
    expect(e!.data.status).toBe(401);
    ac.abort();
  });

  it('UI requests (x-warren-ui) get no Basic challenge, so the browser shows no login dialog; others keep it', async () => {
    const ui = await h.request('GET', '/api/whoami', undefined, { user: 'guest', password: 'bad' }, { 'x-warren-ui': '1' });
    expect(ui.statusCode).toBe(401);
    expect(ui.headers['www-authenticate']).toBeUndefined();
    const api = await h.request('GET', '/api/whoami', undefined, { user: 'guest', password: 'bad' });
    expect(api.headers['www-authenticate']).toBe('Basic realm="RabbitMQ Management"');
  });
});

describe('tail', () => {
  it('MQTT topic filters become amq.topic binding keys', () => {
    expect(topicFilterToBindingKey('home/+/temp')).toBe('home.*.temp');
    expect(topicFilterToBindingKey('a/#')).toBe('a.#');
    expect(topicFilterToBindingKey('v1.2/x')).toBe('v1/2.x');
  });

  it('binds a private queue as asked, streams what is routed there, and removes the queue when the page goes', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/api/ui/tail?vhost=%2F&exchange=amq.topic&topic=${encodeURIComponent('s/+/t')}`, { headers: GUEST, signal: ac.signal });
    expect(res.status).toBe(200);
    const stream = events(res);
    const [ready] = await stream.until((e) => e.length >= 1);
    expect(ready!.event).toBe('ready');
    expect(ready!.data.binding_key).toBe('s.*.t');
    const queue = ready!.data.queue as string;
    expect((await h.request('GET', '/api/connections')).json()).toEqual([]);
    await h.request('POST', '/api/exchanges/%2F/amq.topic/publish', { routing_key: 's.a.t', payload: 'hello', payload_encoding: 'string', properties: {} });
    await h.request('POST', '/api/exchanges/%2F/amq.topic/publish', { routing_key: 's.a.u', payload: 'not me', payload_encoding: 'string', properties: {} });
    await h.request('POST', '/api/exchanges/%2F/amq.topic/publish', { routing_key: 's.b.t', payload: 'world', payload_encoding: 'string', properties: {} });
    const got = await stream.until((e) => e.flatMap((x) => x.data.messages ?? []).length >= 2);
    const msgs = got.flatMap((e) => e.data.messages ?? []);
    expect(msgs.map((m: any) => [m.routing_key, m.payload])).toEqual([['s.a.t', 'hello'], ['s.b.t', 'world']]);
    expect(got.at(-1)!.data.dropped).toBe(0);
    ac.abort();
    for (let i = 0; i < 100 && h.broker.vhost('/')!.queues.has(queue); i++) await new Promise((r) => setTimeout(r, 20));
    expect(h.broker.vhost('/')!.queues.has(queue)).toBe(false);
  });

  it('404 for an unknown vhost or exchange, 401 without access to the vhost', async () => {
    expect((await fetch(`${base}/api/ui/tail?vhost=nope`, { headers: GUEST })).status).toBe(404);
    expect((await fetch(`${base}/api/ui/tail?vhost=%2F&exchange=nope`, { headers: GUEST })).status).toBe(404);
    h.broker.addUser('mgmt', 'pw', ['management']);
    expect((await fetch(`${base}/api/ui/tail?vhost=%2F`, { headers: { authorization: basicAuth('mgmt', 'pw') } })).status).toBe(401);
  });
});

describe('MQTT view', () => {
  it('lists sessions with subscriptions and offline queue depth, and retained messages, as the user may see them', async () => {
    h.broker.addVhost('other');
    await h.request('PUT', '/api/queues/%2F/mqtt-subscription-dev1qos1', { durable: true });
    h.broker.vhost('/')!.queues.get('mqtt-subscription-dev1qos1')!.enqueue(makeMessage('amq.topic', 'a.b', 'x'), -1, Date.now());
    h.ctx.mqtt = {
      sessions: () => [
        { vhost: '/', clientId: 'dev1', user: 'guest', connected: false, expiry: 3600, disconnectedAt: 5, subscriptions: [{ filter: 'a/+', qos: 1 }], queues: ['mqtt-subscription-dev1qos0', 'mqtt-subscription-dev1qos1'] },
        { vhost: 'other', clientId: 'dev2', user: 'guest', connected: true, expiry: 0, subscriptions: [], queues: [] },
      ],
      retained: () => [
        { vhost: '/', topic: 'a/b', qos: 1, body: Buffer.from('21.5'), contentType: 'text/plain' },
        { vhost: 'other', topic: 'z', qos: 0, body: Buffer.from([0xff, 0xfe]) },
      ],
    };
    const sessions = (await h.request('GET', '/api/ui/mqtt/sessions?page=1&page_size=10')).json();
    expect(sessions.total_count).toBe(2);
    expect(sessions.items[0]).toEqual({
      vhost: '/', client_id: 'dev1', user: 'guest', connected: false, clean_session: false, expiry: 3600, disconnected_at: 5,
      subscriptions: [{ filter: 'a/+', qos: 1 }], queues: ['mqtt-subscription-dev1qos0', 'mqtt-subscription-dev1qos1'], messages: 1, messages_unacknowledged: 0,
    });
    const retained = (await h.request('GET', '/api/ui/mqtt/retained?page=1&name=z')).json();
    expect(retained.items).toEqual([{ vhost: 'other', topic: 'z', qos: 0, payload_bytes: 2, payload: '//4=', payload_encoding: 'base64' }]);
    // A management user with permissions on '/' only sees '/'.
    h.broker.addUser('mgmt', 'pw', ['management']);
    h.broker.setPermissions('mgmt', '/', { configure: '.*', write: '.*', read: '.*' });
    const mine = (await h.request('GET', '/api/ui/mqtt/sessions', undefined, { user: 'mgmt', password: 'pw' })).json();
    expect(mine.map((s: any) => s.client_id)).toEqual(['dev1']);
  });

  it('closing the app ends open streams (a page left open does not hold the shutdown)', async () => {
    const res = await fetch(`${base}/api/ui/stream?watch=/api/overview`, { headers: GUEST });
    await events(res).until((e) => e.length >= 1);
    await h.app.close();
  });

  it('without an MQTT service both lists are empty', async () => {
    expect((await h.request('GET', '/api/ui/mqtt/sessions')).json()).toEqual([]);
    expect((await h.request('GET', '/api/ui/mqtt/retained')).json()).toEqual([]);
  });
});

describe('UI files', () => {
  it('serves index.html at / and the bundle under /ui/ with a same-origin-only CSP; 503 with a hint when not built', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warren-ui-'));
    try {
      await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>');
      await writeFile(join(dir, 'app.js'), 'console.log(1)');
      const app = Fastify();
      registerUiAssets(app, dir);
      const page = await app.inject({ method: 'GET', url: '/' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      expect((await app.inject({ method: 'GET', url: '/ui/app.js' })).headers['content-type']).toBe('text/javascript; charset=utf-8');
      const missing = await app.inject({ method: 'GET', url: '/ui/style.css' });
      expect(missing.statusCode).toBe(503);
      expect(missing.body).toContain('npm run build');
      expect((await app.inject({ method: 'GET', url: '/ui/../package.json' })).statusCode).toBe(404);
      await app.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
