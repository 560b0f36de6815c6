import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeMessage } from '@warren/core/testing';
import { managementHarness, type Harness } from './testing/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await managementHarness();
});
afterEach(async () => {
  await h.close();
});

describe('authentication and errors', () => {
  it('401 with a Basic challenge without credentials or with a wrong password', async () => {
    const none = await h.request('GET', '/api/overview', undefined, null);
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="RabbitMQ Management"');
    expect(none.body).toBe('');
    for (const as of [{ user: 'guest', password: 'nope' }, { user: 'ghost', password: 'guest' }]) {
      const res = await h.request('GET', '/api/overview', undefined, as);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="RabbitMQ Management"');
      expect(res.json()).toEqual({ error: 'not_authorized', reason: 'Login failed' });
    }
  });

  it('401 for a user without a management tag; the guest loopback rule applies', async () => {
    h.broker.addUser('plain', 'pw', []);
    expect((await h.request('GET', '/api/overview', undefined, { user: 'plain', password: 'pw' })).statusCode).toBe(401);
    const remote = await h.app.inject({
      method: 'GET',
      url: '/api/overview',
      remoteAddress: '10.1.2.3',
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    });
    expect(remote.statusCode).toBe(401);
  });

  it('404 Object Not Found for unknown paths and objects; 405 for a method a path does not answer', async () => {
    expect((await h.request('GET', '/api/nothing-here')).json()).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    expect((await h.request('GET', '/api/queues/%2F/missing')).statusCode).toBe(404);
    expect((await h.request('GET', '/api/queues/no-such-vhost')).statusCode).toBe(404);
    const res = await h.request('POST', '/api/overview', {});
    expect(res.statusCode).toBe(405);
    expect(res.headers['allow']).toBe('HEAD, GET, OPTIONS');
    expect(res.body).toBe('');
  });

  it('400 bad_request for malformed JSON and wrong types, and nothing is declared', async () => {
    const bad = await h.request('PUT', '/api/queues/%2F/q', '{"durable": tru');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: 'bad_request', reason: 'not_json' });
    expect((await h.request('PUT', '/api/queues/%2F/q', { durable: 'yes' })).statusCode).toBe(400);
    expect((await h.request('PUT', '/api/queues/%2F/q', { arguments: [1] })).statusCode).toBe(400);
    expect(h.broker.vhost('/')!.queues.has('q')).toBe(false);
  });

  it('413 for a body over the limit', async () => {
    const small = await managementHarness({ app: { bodyLimit: 1024 } });
    try {
      const res = await small.request('PUT', '/api/queues/%2F/q', { arguments: { pad: 'x'.repeat(2000) } });
      expect(res.statusCode).toBe(413);
      expect(small.broker.vhost('/')!.queues.has('q')).toBe(false);
    } finally {
      await small.close();
    }
  });
});

describe('queues', () => {
  it('PUT creates (201), re-PUT with the same properties answers 204, a different one 400 with the AMQP text', async () => {
    expect((await h.request('PUT', '/api/queues/%2F/orders', { durable: true, arguments: { 'x-max-length': 10 } })).statusCode).toBe(201);
    expect((await h.request('PUT', '/api/queues/%2F/orders', { durable: true, arguments: { 'x-max-length': 10 } })).statusCode).toBe(204);
    const res = await h.request('PUT', '/api/queues/%2F/orders', { durable: false });
    expect(res.statusCode).toBe(400);
    expect(res.json().reason).toContain("inequivalent arg 'durable'");
    const q = (await h.request('GET', '/api/queues/%2F/orders')).json();
    expect(q).toMatchObject({ name: 'orders', vhost: '/', durable: true, arguments: { 'x-max-length': 10 }, type: 'classic', messages: 0 });
  });

  it('names with slashes and spaces travel percent-encoded', async () => {
    expect((await h.request('PUT', '/api/queues/%2F/a%2Fb%20c', {})).statusCode).toBe(201);
    expect(h.broker.vhost('/')!.queues.has('a/b c')).toBe(true);
    expect((await h.request('GET', '/api/queues/%2F/a%2Fb%20c')).json().name).toBe('a/b c');
  });

  it('counts are right in the very next response after publish, get and purge', async () => {
    await h.request('PUT', '/api/queues/%2F/q', {});
    for (let i = 0; i < 3; i++) {
      const pub = await h.request('POST', '/api/exchanges/%2F/amq.default/publish', { routing_key: 'q', payload: `m${i}`, properties: {} });
      expect(pub.json()).toEqual({ routed: true });
    }
    expect((await h.request('GET', '/api/queues/%2F/q')).json()).toMatchObject({ messages: 3, messages_ready: 3 });
    const got = (await h.request('POST', '/api/queues/%2F/q/get', { count: 2, ackmode: 'ack_requeue_false', encoding: 'auto' })).json();
    expect(got.map((m: { payload: string }) => m.payload)).toEqual(['m0', 'm1']);
    expect(got[0]).toMatchObject({ payload_encoding: 'string', routing_key: 'q', exchange: '', redelivered: false, message_count: 2 });
    expect((await h.request('GET', '/api/queues/%2F/q')).json().messages).toBe(1);
    expect((await h.request('DELETE', '/api/queues/%2F/q/contents')).statusCode).toBe(204);
    expect((await h.request('GET', '/api/queues/%2F/q')).json().messages).toBe(0);
    expect((await h.request('GET', '/api/overview')).json().queue_totals.messages).toBe(0);
  });

  it('get with ack_requeue_true leaves the messages, marked redelivered; base64 and truncate', async () => {
    await h.request('PUT', '/api/queues/%2F/q', {});
    await h.request('POST', '/api/exchanges/%2F/amq.default/publish', { routing_key: 'q', payload: Buffer.from([0xff, 0, 1]).toString('base64'), payload_encoding: 'base64' });
    const first = (await h.request('POST', '/api/queues/%2F/q/get', { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' })).json();
    expect(first[0]).toMatchObject({ payload: '/wAB', payload_encoding: 'base64', payload_bytes: 3 });
    const again = (await h.request('POST', '/api/queues/%2F/q/get', { count: 1, ackmode: 'reject_requeue_true', encoding: 'base64', truncate: 1 })).json();
    expect(again[0]).toMatchObject({ payload: '/w==', redelivered: true, payload_bytes: 3 });
    expect((await h.request('GET', '/api/queues/%2F/q')).json().messages).toBe(1);
    expect((await h.request('POST', '/api/queues/%2F/q/get', { count: 1, ackmode: 'nonsense' })).statusCode).toBe(400);
  });

  it('DELETE honours if-empty and if-unused', async () => {
    await h.request('PUT', '/api/queues/%2F/q', {});
    await h.request('POST', '/api/exchanges/%2F/amq.default/publish', { routing_key: 'q', payload: 'x' });
    const res = await h.request('DELETE', '/api/queues/%2F/q?if-empty=true');
    expect(res.statusCode).toBe(400);
    expect(res.json().reason).toBe("queue 'q' in vhost '/' not empty");
    expect((await h.request('DELETE', '/api/queues/%2F/q')).statusCode).toBe(204);
    expect((await h.request('DELETE', '/api/queues/%2F/q')).statusCode).toBe(404);
  });

  it('lists sort, page and project', async () => {
    for (const n of ['b', 'a', 'c']) await h.request('PUT', `/api/queues/%2F/${n}`, {});
    h.broker.vhost('/')!.queues.get('c')!.enqueue(makeMessage('', 'c', 'x'), -1, Date.now());
    expect((await h.request('GET', '/api/queues?columns=name')).json()).toEqual([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect((await h.request('GET', '/api/queues?columns=name&sort=name&sort_reverse=true')).json()).toEqual([{ name: 'c' }, { name: 'b' }, { name: 'a' }]);
    expect((await h.request('GET', '/api/queues?columns=name,messages&sort=messages&sort_reverse=true')).json()[0]).toEqual({ name: 'c', messages: 1 });
    const page = (await h.request('GET', '/api/queues?page=2&page_size=2&columns=name')).json();
    expect(page).toEqual({ filtered_count: 3, item_count: 1, items: [{ name: 'c' }], page: 2, page_count: 2, page_size: 2, total_count: 3 });
    const filtered = (await h.request('GET', '/api/queues?page=1&name=^[ab]$&use_regex=true&columns=name')).json();
    expect(filtered).toMatchObject({ filtered_count: 2, total_count: 3 });
    expect((await h.request('GET', '/api/queues?page=1&page_size=501')).json()).toEqual({
      error: 'invalid_pagination_parameters',
      reason: 'Invalid pagination parameters: page number 1, page size 501',
    });
    expect((await h.request('GET', '/api/queues?page=x')).json()).toEqual({ error: 'bad_request', reason: 'Pagination parameters are invalid' });
    expect((await h.request('GET', '/api/queues?page=3&page_size=2')).json()).toEqual({
      error: 'page_out_of_range',
      reason: 'Page out of range, page: 3 page size: 2, len: 3',
    });
  });
});

describe('exchanges and bindings', () => {
  it('declares, binds with a Location, routes through the binding and deletes it by properties_key', async () => {
    expect((await h.request('PUT', '/api/exchanges/%2F/ev', { type: 'topic', durable: true })).statusCode).toBe(201);
    await h.request('PUT', '/api/queues/%2F/q', {});
    const bind = await h.request('POST', '/api/bindings/%2F/e/ev/q/q', { routing_key: 'a.*', arguments: {} });
    expect(bind.statusCode).toBe(201);
    // RabbitMQ's relative Location: the destination, then the properties_key (a.%2A) percent-encoded once more.
    expect(bind.headers['location']).toBe('q/a.%252A');
    expect((await h.request('POST', '/api/exchanges/%2F/ev/publish', { routing_key: 'a.b', payload: 'hi' })).json()).toEqual({ routed: true });
    expect((await h.request('POST', '/api/exchanges/%2F/ev/publish', { routing_key: 'z', payload: 'hi' })).json()).toEqual({ routed: false });
    const listed = (await h.request('GET', '/api/bindings/%2F/e/ev/q/q')).json();
    expect(listed).toEqual([{ source: 'ev', vhost: '/', destination: 'q', destination_type: 'queue', routing_key: 'a.*', arguments: {}, properties_key: 'a.%2A' }]);
    expect((await h.request('GET', '/api/exchanges/%2F/ev/bindings/source')).json()).toHaveLength(1);
    expect((await h.request('GET', '/api/queues/%2F/q/bindings')).json().map((b: { source: string }) => b.source)).toEqual(['', 'ev']);
    expect((await h.request('GET', '/api/bindings/%2F/e/ev/q/q/a.%252A')).json().routing_key).toBe('a.*');
    expect((await h.request('DELETE', '/api/bindings/%2F/e/ev/q/q/a.*')).statusCode).toBe(204);
    expect((await h.request('GET', '/api/bindings/%2F/e/ev/q/q')).json()).toEqual([]);
  });

  it('an empty routing key is ~, and bindings with arguments get a distinct key', async () => {
    await h.request('PUT', '/api/queues/%2F/q', {});
    await h.request('POST', '/api/bindings/%2F/e/amq.headers/q/q', { routing_key: '', arguments: { 'x-match': 'all', a: '1' } });
    await h.request('POST', '/api/bindings/%2F/e/amq.direct/q/q', {});
    const keys = (await h.request('GET', '/api/bindings/%2F')).json().map((b: { properties_key: string }) => b.properties_key);
    expect(keys).toContain('~');
    // RabbitMQ 3.10's key for these arguments (empty routing key: nothing before the `~`).
    const withArgs = '~CHJYCA';
    expect(keys).toContain(withArgs);
    expect((await h.request('DELETE', `/api/bindings/%2F/e/amq.headers/q/q/${encodeURIComponent(withArgs)}`)).statusCode).toBe(204);
  });

  it('refuses an unknown exchange type and the default exchange as AMQP does', async () => {
    expect((await h.request('PUT', '/api/exchanges/%2F/x', { type: 'nope' })).statusCode).toBe(400);
    expect((await h.request('DELETE', '/api/exchanges/%2F/amq.direct')).statusCode).toBe(401);
    expect((await h.request('GET', '/api/exchanges/%2F/amq.default')).json()).toMatchObject({ name: '', type: 'direct' });
  });
});

describe('vhosts, users and permissions', () => {
  it('vhost PUT 201 then 204, the creator gets permissions, DELETE removes it', async () => {
    expect((await h.request('PUT', '/api/vhosts/dev', { description: 'for testing', tags: 'a,b' })).statusCode).toBe(201);
    expect((await h.request('PUT', '/api/vhosts/dev', { description: 'changed' })).statusCode).toBe(204);
    expect((await h.request('GET', '/api/vhosts/dev')).json()).toMatchObject({ name: 'dev', description: 'changed', tags: ['a', 'b'] });
    expect((await h.request('GET', '/api/permissions/dev/guest')).json()).toEqual({ user: 'guest', vhost: 'dev', configure: '.*', write: '.*', read: '.*' });
    expect((await h.request('DELETE', '/api/vhosts/dev')).statusCode).toBe(204);
    expect((await h.request('GET', '/api/vhosts/dev')).statusCode).toBe(404);
  });

  it('users: password, password_hash and tags as string or array; non-admins are refused', async () => {
    expect((await h.request('PUT', '/api/users/bob', { password: 'pw', tags: 'management,policymaker' })).statusCode).toBe(201);
    expect((await h.request('GET', '/api/users/bob')).json()).toMatchObject({ name: 'bob', tags: ['management', 'policymaker'], hashing_algorithm: 'rabbit_password_hashing_sha256' });
    expect((await h.request('GET', '/api/whoami', undefined, { user: 'bob', password: 'pw' })).json()).toEqual({ name: 'bob', tags: ['management', 'policymaker'] });
    expect((await h.request('GET', '/api/users', undefined, { user: 'bob', password: 'pw' })).statusCode).toBe(401);
    // A hash copied from another user logs in with that user's password.
    const hash = (await h.request('GET', '/api/users/bob')).json().password_hash as string;
    expect((await h.request('PUT', '/api/users/carol', { password_hash: hash, tags: ['monitoring'] })).statusCode).toBe(201);
    expect((await h.request('GET', '/api/overview', undefined, { user: 'carol', password: 'pw' })).statusCode).toBe(200);
    expect((await h.request('PUT', '/api/users/dan', { password_hash: 'not-a-hash', tags: '' })).statusCode).toBe(400);
    expect((await h.request('PUT', '/api/users/bob', { tags: 'administrator' })).statusCode).toBe(204);
    expect((await h.request('GET', '/api/users', undefined, { user: 'bob', password: 'pw' })).statusCode).toBe(200);
  });

  it('a management user sees only the vhosts it has permissions on', async () => {
    await h.request('PUT', '/api/vhosts/secret', {});
    await h.request('PUT', '/api/queues/secret/hidden', {});
    await h.request('PUT', '/api/users/m', { password: 'pw', tags: 'management' });
    await h.request('PUT', '/api/permissions/%2F/m', { configure: '.*', write: '.*', read: '.*' });
    const as = { user: 'm', password: 'pw' };
    expect((await h.request('GET', '/api/vhosts?columns=name', undefined, as)).json()).toEqual([{ name: '/' }]);
    expect((await h.request('GET', '/api/queues/secret/hidden', undefined, as)).statusCode).toBe(404);
    expect((await h.request('PUT', '/api/queues/secret/mine', {}, as)).statusCode).toBe(401);
    expect((await h.request('PUT', '/api/queues/%2F/mine', {}, as)).statusCode).toBe(201);
  });

  it('permissions need an existing user and vhost and valid regular expressions', async () => {
    expect((await h.request('PUT', '/api/permissions/%2F/ghost', { configure: '', write: '', read: '' })).statusCode).toBe(400);
    expect((await h.request('PUT', '/api/permissions/nope/guest', { configure: '', write: '', read: '' })).statusCode).toBe(400);
    expect((await h.request('PUT', '/api/permissions/%2F/guest', { configure: '(', write: '', read: '' })).statusCode).toBe(400);
    expect((await h.request('PUT', '/api/permissions/%2F/guest', { configure: '^a', write: '', read: '' })).statusCode).toBe(204);
    expect((await h.request('GET', '/api/users/guest/permissions')).json()).toEqual([{ user: 'guest', vhost: '/', configure: '^a', write: '', read: '' }]);
  });
});

describe('overview and node', () => {
  it('object totals follow declares at once', async () => {
    const before = (await h.request('GET', '/api/overview')).json().object_totals;
    await h.request('PUT', '/api/queues/%2F/q', {});
    await h.request('PUT', '/api/exchanges/%2F/x', { type: 'fanout' });
    const after = (await h.request('GET', '/api/overview')).json().object_totals;
    expect(after.queues).toBe(before.queues + 1);
    expect(after.exchanges).toBe(before.exchanges + 1);
    expect((await h.request('GET', '/api/overview?columns=rabbitmq_version,node')).json()).toEqual({ rabbitmq_version: '3.10.8', node: 'warren@test' });
  });

  it('cluster-name GET and PUT; nodes for monitors', async () => {
    expect((await h.request('PUT', '/api/cluster-name', { name: 'prod' })).statusCode).toBe(204);
    expect((await h.request('GET', '/api/cluster-name')).json()).toEqual({ name: 'prod' });
    const nodes = (await h.request('GET', '/api/nodes')).json();
    expect(nodes[0]).toMatchObject({ name: 'warren@test', running: true, type: 'disc' });
    expect((await h.request('GET', '/api/nodes/warren@test')).json().name).toBe('warren@test');
    expect((await h.request('GET', '/api/nodes/other')).statusCode).toBe(404);
  });
});
