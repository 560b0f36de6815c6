import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashPassword, FileDefinitionsStore, MemoryDefinitionsStore, Broker } from '@warren/core';
import { managementHarness, type Harness } from './testing/harness.js';

const FIXTURES = new URL('../../../tests/fixtures/rabbitmq-3.10/', import.meta.url);
function fixture(name: string): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
}
type Obj = Record<string, unknown>;

/**
 * RabbitMQ's recorded export, with the parts the recorder truncated put back (it kept 6 items per list, so a few
 * permissions and bindings name users and queues that were cut). The runtime lists are whole.
 */
function recordedExport(): Obj {
  const body = structuredClone(fixture('definitions.json').body);
  const users = body['users'] as Obj[];
  users.push({ name: 'ref-none', password_hash: hashPassword('secret'), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [], limits: {} });
  const queues = body['queues'] as Obj[];
  queues.push({ name: 'ref-stream', vhost: 'ref', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'stream' } });
  queues.push({ name: 'ref-e2e-q', vhost: 'ref', durable: true, auto_delete: false, arguments: {} });
  return body;
}
const RUNTIME_LISTS = ['topic_permissions', 'parameters', 'global_parameters', 'policies'] as const;

let h: Harness;
beforeEach(async () => {
  h = await managementHarness();
});
afterEach(async () => {
  await h.close();
});

async function declare(): Promise<void> {
  await h.request('PUT', '/api/vhosts/ref');
  await h.request('PUT', '/api/exchanges/ref/ref-direct', { type: 'direct', durable: true, arguments: { 'alternate-exchange': 'ref-ae' } });
  await h.request('PUT', '/api/exchanges/ref/ref-transient', { type: 'fanout', durable: false });
  await h.request('PUT', '/api/queues/ref/ref-classic', { durable: true, arguments: { 'x-max-length': 1000 } });
  await h.request('PUT', '/api/queues/ref/ref-get', { durable: false });
  await h.request('POST', '/api/bindings/ref/e/ref-direct/q/ref-classic', { routing_key: 'classic' });
  await h.request('POST', '/api/bindings/ref/e/amq.topic/q/ref-get', { routing_key: 'x.#' });
}

describe('GET /api/definitions', () => {
  it("has RabbitMQ 3.10's keys in its order, and each object's keys in RabbitMQ's order", async () => {
    await declare();
    const res = await h.request('GET', '/api/definitions');
    expect(res.statusCode).toBe(200);
    const body = res.json() as Obj;
    const ref = fixture('definitions.json').body;
    expect(Object.keys(body)).toEqual(Object.keys(ref));
    for (const key of ['users', 'vhosts', 'permissions', 'queues', 'exchanges', 'bindings']) {
      const mine = (body[key] as Obj[])[0]!;
      expect(Object.keys(mine), key).toEqual(Object.keys((ref[key] as Obj[])[0]!));
    }
    expect(body['global_parameters']).toEqual([{ name: 'cluster_name', value: 'warren@test' }]);
    expect(body['product_name']).toBe('Warren');
  });

  it('lists every exchange and queue no connection owns (transient ones too, as RabbitMQ does), not amq.* or exclusive ones', async () => {
    await declare();
    const ch = h.broker.openConnection(
      { id: 'c1', protocol: 'amqp', remoteAddress: '127.0.0.1', remotePort: 1, localPort: 2, tls: false, listener: 'amqp' },
      h.broker.users.get('guest')!.user,
      'ref',
      { blocked() {}, unblocked() {} },
    );
    const { FakeChannelHost } = await import('@warren/core/testing');
    ch.openChannel(new FakeChannelHost()).declareQueue('ref-exclusive', { exclusive: true, durable: false, autoDelete: false, arguments: {} });
    const body = (await h.request('GET', '/api/definitions')).json() as Obj;
    const queues = (body['queues'] as Obj[]).map((q) => q['name']).sort();
    expect(queues).toEqual(['ref-classic', 'ref-get']);
    expect(body['queues']).toContainEqual({ name: 'ref-get', vhost: 'ref', durable: false, auto_delete: false, arguments: {} });
    expect(body['queues']).toContainEqual({ name: 'ref-classic', vhost: 'ref', durable: true, auto_delete: false, arguments: { 'x-max-length': 1000 } });
    expect((body['exchanges'] as Obj[]).map((x) => x['name']).sort()).toEqual(['ref-direct', 'ref-transient']);
    expect(body['bindings']).toEqual(
      expect.arrayContaining([
        { source: 'ref-direct', vhost: 'ref', destination: 'ref-classic', destination_type: 'queue', routing_key: 'classic', arguments: {} },
        { source: 'amq.topic', vhost: 'ref', destination: 'ref-get', destination_type: 'queue', routing_key: 'x.#', arguments: {} },
      ]),
    );
    expect(body['users']).toContainEqual({
      name: 'guest',
      password_hash: h.broker.users.get('guest')!.passwordHash,
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: ['administrator'],
      limits: {},
    });
    expect(body['vhosts']).toEqual([{ name: '/' }, { name: 'ref' }]);
    ch.close();
  });

  it('?download= answers an attachment; administrators only', async () => {
    const res = await h.request('GET', '/api/definitions?download=defs.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe(fixture('definitions-download.json').headers['content-disposition']);
    expect((await h.request('GET', '/api/definitions?download=a%0D%0Ab')).statusCode).toBe(400);
    h.broker.addUser('mgmt', 'pw', ['management']);
    expect((await h.request('GET', '/api/definitions', undefined, { user: 'mgmt', password: 'pw' })).statusCode).toBe(401);
    expect((await h.request('POST', '/api/definitions', {}, { user: 'mgmt', password: 'pw' })).statusCode).toBe(401);
  });

  it('/api/definitions/{vhost}: the single-vhost shape, entities without their vhost field; 404 for a missing vhost', async () => {
    await declare();
    const body = (await h.request('GET', '/api/definitions/ref')).json() as Obj;
    const ref = fixture('definitions-vhost.json').body;
    expect(Object.keys(body)).toEqual(Object.keys(ref));
    for (const key of ['queues', 'exchanges', 'bindings']) {
      expect(Object.keys((body[key] as Obj[])[0]!), key).toEqual(Object.keys((ref[key] as Obj[])[0]!));
    }
    expect((body['queues'] as Obj[]).map((q) => q['name']).sort()).toEqual(['ref-classic', 'ref-get']);
    expect((await h.request('GET', '/api/definitions/nope')).statusCode).toBe(404);
    expect((await h.request('GET', '/api/definitions/%2F')).json()).toMatchObject({ queues: [], exchanges: [], bindings: [] });
  });
});

describe('POST /api/definitions', () => {
  it("imports RabbitMQ's recorded export: every user, vhost, permission, queue, exchange and binding arrives", async () => {
    const doc = recordedExport();
    const res = await h.request('POST', '/api/definitions', doc);
    expect(res.statusCode, res.body).toBe(204);
    const out = (await h.request('GET', '/api/definitions')).json() as Obj;
    const byKey = (o: Obj, ...keys: string[]) => keys.map((k) => JSON.stringify(o[k])).join('|');
    for (const u of doc['users'] as Obj[]) expect(out['users']).toContainEqual(u);
    for (const v of doc['vhosts'] as Obj[]) expect(out['vhosts']).toContainEqual(v);
    for (const p of doc['permissions'] as Obj[]) expect(out['permissions']).toContainEqual(p);
    for (const q of doc['queues'] as Obj[]) expect(out['queues']).toContainEqual(q);
    for (const x of doc['exchanges'] as Obj[]) expect(out['exchanges']).toContainEqual(x);
    for (const b of doc['bindings'] as Obj[]) {
      expect((out['bindings'] as Obj[]).map((o) => byKey(o, 'source', 'vhost', 'destination', 'destination_type', 'routing_key', 'arguments'))).toContain(
        byKey(b, 'source', 'vhost', 'destination', 'destination_type', 'routing_key', 'arguments'),
      );
    }
    // The hashes RabbitMQ made log in here (ref-admin's password is 'secret', guest's 'guest').
    expect(h.broker.users.verify('ref-admin', 'secret')?.name).toBe('ref-admin');
    expect(h.broker.users.verify('guest', 'guest')?.name).toBe('guest');
    expect(h.broker.users.verify('ref-admin', 'wrong')).toBeUndefined();
    // A second import of the same document changes nothing and succeeds.
    expect((await h.request('POST', '/api/definitions', doc)).statusCode).toBe(204);
  });

  it("imports RabbitMQ's runtime settings whole, and exports them back with RabbitMQ's field names and order", async () => {
    const doc = recordedExport();
    const res = await h.request('POST', '/api/definitions', doc);
    expect(res.statusCode, res.body).toBe(204);
    const out = (await h.request('GET', '/api/definitions')).json() as Obj;
    // Every policy, operator policy, vhost limit, parameter, global parameter and topic permission, in the recorded
    // order, each object with the recorded keys in the recorded order (toEqual ignores key order: checked apart).
    for (const key of RUNTIME_LISTS) {
      expect(out[key], key).toEqual(doc[key]);
      (doc[key] as Obj[]).forEach((item, i) => expect(Object.keys((out[key] as Obj[])[i]!), key).toEqual(Object.keys(item)));
    }
    // User limits, with the users.
    const limitsOf = (name: string) => (out['users'] as Obj[]).find((u) => u['name'] === name)!['limits'];
    expect(limitsOf('ref-management')).toEqual({ 'max-channels': 20, 'max-connections': 10 });
    expect(Object.keys(limitsOf('ref-management') as Obj)).toEqual(['max-channels', 'max-connections']);
    // They are in force in the core, not only listed.
    const ref = h.broker.vhost('ref')!;
    expect(ref.limits).toEqual({ 'max-queues': 200, 'max-connections': 100 });
    expect(ref.queues.get('ref-classic')!.policy).toBe('ref-policy');
    expect(ref.queues.get('ref-classic')!.operatorPolicy).toBe('ref-op-policy');
    expect(ref.exchanges.get('ref-fanout')!.policy).toBe('ref-ex-policy');
    expect(h.broker.runtime.userLimits.get('ref-management')).toEqual({ 'max-channels': 20, 'max-connections': 10 });
    expect(h.broker.topicPermission('ref-management', 'ref', 'amq.topic')).toEqual({ write: '^ref\\.', read: '.*' });
    // cluster_name has one home, the core's global parameter, which the management API reads.
    expect((await h.request('GET', '/api/cluster-name')).json()).toEqual({ name: 'warren-ref-cluster' });
    expect((await h.request('GET', '/api/overview')).json().cluster_name).toBe('warren-ref-cluster');
    // The same lists through their own endpoints.
    expect((await h.request('GET', '/api/policies/ref')).json()).toEqual([...(doc['policies'] as Obj[])].reverse()); // sorted by name
    expect((await h.request('GET', '/api/operator-policies/ref')).json()).toEqual([
      { vhost: 'ref', name: 'ref-op-policy', pattern: '^ref-', 'apply-to': 'queues', definition: { 'max-length-bytes': 100000000 }, priority: 0 },
    ]);
    expect((await h.request('GET', '/api/vhost-limits/ref')).json()).toEqual([{ vhost: 'ref', value: { 'max-queues': 200, 'max-connections': 100 } }]);
    expect((await h.request('GET', '/api/user-limits/ref-management')).json()).toEqual([{ user: 'ref-management', value: { 'max-channels': 20, 'max-connections': 10 } }]);
    expect((await h.request('GET', '/api/topic-permissions')).json()).toEqual([...(doc['topic_permissions'] as Obj[])].reverse()); // sorted by user
    // The single-vhost export has them too, as RabbitMQ's does.
    const vhostOut = (await h.request('GET', '/api/definitions/ref')).json() as Obj;
    const vref = fixture('definitions-vhost.json').body;
    expect(vhostOut['parameters']).toEqual(vref['parameters']);
    expect(vhostOut['policies']).toEqual(vref['policies']);
  });

  it('stores parameters of components Warren does not implement (logged), and global parameters it does not act on', async () => {
    const lines: string[] = [];
    const logger = h.broker.logger as unknown as { info: (o: unknown, m: string) => void };
    const orig = logger.info;
    logger.info = (_o, m) => lines.push(m);
    const upstream = { value: { uri: 'amqp://elsewhere', 'ack-mode': 'on-confirm' }, vhost: '/', component: 'federation-upstream', name: 'up1' };
    try {
      const res = await h.request('POST', '/api/definitions', { parameters: [upstream], global_parameters: [{ name: 'internal_cluster_id', value: 'rabbitmq-cluster-id-x' }] });
      expect(res.statusCode, res.body).toBe(204);
    } finally {
      logger.info = orig;
    }
    expect(lines.join('\n')).toMatch(/runtime parameter stored: Warren does not implement this component/);
    expect(lines.join('\n')).toMatch(/global parameter stored: Warren does not act on it/);
    const out = (await h.request('GET', '/api/definitions')).json() as Obj;
    expect(out['parameters']).toEqual([upstream]);
    expect(out['global_parameters']).toEqual([
      { name: 'cluster_name', value: 'warren@test' },
      { name: 'internal_cluster_id', value: 'rabbitmq-cluster-id-x' },
    ]);
    expect((await h.request('GET', '/api/parameters/federation-upstream/%2F/up1')).json()).toEqual(upstream);
  });

  it('refuses the first runtime setting the core cannot apply, by name, and leaves nothing half-applied', async () => {
    const cases: [(doc: Obj) => void, RegExp][] = [
      [(d) => ((d['policies'] as Obj[])[1]!['definition'] = { 'max-length': 'lots' }), /policy 'ref-ex-policy' in vhost 'ref'.*not a valid maximum length/],
      [(d) => ((d['policies'] as Obj[])[0]!['vhost'] = 'nowhere'), /policy 'ref-policy'.*no vhost 'nowhere'/],
      [(d) => ((d['policies'] as Obj[])[0]!['apply-to'] = 'streams'), /policy 'ref-policy'.*apply-to 'streams' unrecognised/],
      [(d) => (((d['parameters'] as Obj[])[0]!['value'] as Obj)['definition'] = { 'alternate-exchange': 'x' }), /operator policy 'ref-op-policy'.*not recognised policy settings/],
      [(d) => ((d['parameters'] as Obj[])[1]!['value'] = { 'max-queues': 'many' }), /limits of vhost 'ref'.*max-queues should be a number/],
      [(d) => ((d['parameters'] as Obj[])[1]!['value'] = { 'max-exchanges': 1 }), /limits of vhost 'ref'.*unrecognised limit 'max-exchanges'/],
      [(d) => ((d['topic_permissions'] as Obj[])[0]!['user'] = 'ghost'), /topic_permissions\[0\].*no user 'ghost'/],
      [(d) => ((d['topic_permissions'] as Obj[])[1]!['write'] = '('), /topic_permissions\[1\].*invalid regular expression in 'write'/],
      [(d) => ((d['global_parameters'] as Obj[])[0]!['value'] = 42), /global parameter 'cluster_name'.*must be a string/],
      [(d) => (((d['users'] as Obj[])[3]!['limits'] as Obj)['max-channels'] = -1.5), /limits of user 'ref-management'.*max-channels should be a number/],
      [(d) => ((d['parameters'] as Obj[])[0]!['colour'] = 'red'), /parameters\[0\].*unknown field 'colour'/],
    ];
    for (const [spoil, reason] of cases) {
      const doc = recordedExport();
      spoil(doc);
      const res = await h.request('POST', '/api/definitions', doc);
      expect(res.statusCode, String(reason)).toBe(400);
      expect(res.json()).toMatchObject({ error: 'bad_request' });
      expect(res.json().reason).toMatch(reason);
      expect(h.broker.vhost('ref')).toBeUndefined();
      expect(h.broker.users.get('ref-admin')).toBeUndefined();
      expect(h.broker.runtime.global.size).toBe(0);
      expect(h.broker.runtime.topicPermissions.size).toBe(0);
    }
  });

  it('round trip: export, import into a fresh broker, export gives the same document', async () => {
    expect((await h.request('POST', '/api/definitions', recordedExport())).statusCode).toBe(204);
    await h.request('PUT', '/api/parameters/shovel/ref/sh1', { value: { 'src-uri': 'amqp://', 'src-queue': 'a', 'dest-uri': 'amqp://', 'dest-queue': 'b' } });
    await h.request('PUT', '/api/policies/%2F/all-ttl', { pattern: '.*', definition: { 'message-ttl': 1000 }, 'apply-to': 'all', priority: 3 });
    await h.request('PUT', '/api/user-limits/ref-admin/max-channels', { value: 5 });
    const first = (await h.request('GET', '/api/definitions')).json() as Obj;
    const h2 = await managementHarness();
    try {
      const res = await h2.request('POST', '/api/definitions', first);
      expect(res.statusCode, res.body).toBe(204);
      const second = (await h2.request('GET', '/api/definitions')).json() as Obj;
      const { rabbit_version: _a, rabbitmq_version: _b, product_version: _c, ...rest1 } = first;
      const { rabbit_version: _d, rabbitmq_version: _e, product_version: _f, ...rest2 } = second;
      expect(JSON.stringify(rest2)).toBe(JSON.stringify(rest1));
      // The single-vhost document, imported into another vhost of a third broker, comes back the same but for vhost.
      const vdoc = (await h.request('GET', '/api/definitions/ref')).json() as Obj;
      const h3 = await managementHarness();
      try {
        await h3.request('PUT', '/api/vhosts/copy');
        const r3 = await h3.request('POST', '/api/definitions/copy', vdoc);
        expect(r3.statusCode, r3.body).toBe(204);
        const back = (await h3.request('GET', '/api/definitions/copy')).json() as Obj;
        expect(JSON.stringify(back)).toBe(JSON.stringify(vdoc).replace(/"vhost":"ref"/g, '"vhost":"copy"'));
      } finally {
        await h3.close();
      }
    } finally {
      await h2.close();
    }
  });

  it('a restart keeps what an import brought: vhost metadata, policies, limits, parameters, topic permissions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-import-'));
    try {
      const b1 = new Broker({ definitions: new FileDefinitionsStore(dir) });
      const h1 = await managementHarness({ broker: b1 });
      const doc = { ...recordedExport(), vhosts: [{ name: 'ref', metadata: { description: 'the reference', tags: ['a', 'b'], default_queue_type: 'quorum' } }, { name: '/' }] };
      expect((await h1.request('POST', '/api/definitions', doc)).statusCode).toBe(204);
      const before = (await h1.request('GET', '/api/definitions')).json() as Obj;
      await h1.close();

      const b2 = new Broker({ definitions: new FileDefinitionsStore(dir) });
      const h2 = await managementHarness({ broker: b2 });
      try {
        const v = b2.vhost('ref')!;
        expect([v.description, v.tags, v.defaultQueueType]).toEqual(['the reference', ['a', 'b'], 'quorum']);
        expect((await h2.request('GET', '/api/vhosts/ref')).json()).toMatchObject({ description: 'the reference', tags: ['a', 'b'], default_queue_type: 'quorum' });
        const after = (await h2.request('GET', '/api/definitions')).json() as Obj;
        for (const key of ['users', 'vhosts', 'permissions', ...RUNTIME_LISTS, 'exchanges']) expect(after[key], key).toEqual(before[key]);
        // Transient queues are gone after a restart, as in RabbitMQ; durable ones stay, under their policies.
        expect((after['queues'] as Obj[]).map((q) => q['name'])).not.toContain('ref-get');
        expect(v.queues.get('ref-classic')!.policy).toBe('ref-policy');
        expect(v.limits).toEqual({ 'max-queues': 200, 'max-connections': 100 });
      } finally {
        await h2.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a document the core refuses late (a binding to a missing queue) changes nothing', async () => {
    const doc = {
      vhosts: [{ name: 'v1' }],
      users: [{ name: 'u1', password_hash: hashPassword('x'), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: '' }],
      queues: [{ name: 'q1', vhost: 'v1', durable: true, auto_delete: false, arguments: {} }],
      exchanges: [{ name: 'x1', vhost: 'v1', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} }],
      bindings: [{ source: 'x1', vhost: 'v1', destination: 'missing', destination_type: 'queue', routing_key: '', arguments: {} }],
    };
    const res = await h.request('POST', '/api/definitions', doc);
    expect(res.statusCode).toBe(400);
    expect(res.json().reason).toContain("'missing'");
    expect(h.broker.vhost('v1')).toBeUndefined();
    expect(h.broker.users.get('u1')).toBeUndefined();
    // A bad exchange type and an unknown queue type are refused by name as well.
    const badType = await h.request('POST', '/api/definitions', { ...doc, bindings: [], exchanges: [{ ...doc.exchanges[0], type: 'x-consistent-hash' }] });
    expect(badType.statusCode).toBe(400);
    expect(badType.json().reason).toContain("exchange 'x1'");
    const badQueue = await h.request('POST', '/api/definitions', { ...doc, bindings: [], queues: [{ ...doc.queues[0], arguments: { 'x-queue-type': 'mystery' } }] });
    expect(badQueue.statusCode).toBe(400);
    expect(badQueue.json().reason).toContain("unknown queue type 'mystery'");
    expect(h.broker.vhost('v1')).toBeUndefined();
  });

  it("accepts rabbitmqctl's shape: vhost metadata, clear-text passwords, queue type, tags as a string", async () => {
    const doc = {
      rabbitmq_version: '3.10.8',
      vhosts: [{ name: 'meta', metadata: { description: 'described', tags: ['a', 'b'], default_queue_type: 'quorum' }, limits: {} }],
      users: [{ name: 'clear', password: 'pw', tags: 'management,monitoring', limits: {} }],
      permissions: [{ user: 'clear', vhost: 'meta', configure: '.*', write: '.*', read: '.*' }],
      queues: [{ name: 'qq', vhost: 'meta', durable: true, auto_delete: false, arguments: {}, type: 'quorum' }],
    };
    const res = await h.request('POST', '/api/definitions', doc);
    expect(res.statusCode, res.body).toBe(204);
    const v = h.broker.vhost('meta')!;
    expect([v.description, v.tags, v.defaultQueueType]).toEqual(['described', ['a', 'b'], 'quorum']);
    expect(h.broker.users.verify('clear', 'pw')?.tags).toEqual(['management', 'monitoring']);
    expect(v.queues.get('qq')!.arguments['x-queue-type']).toBe('quorum');
  });

  it("vhost and user limits in rabbitmqctl's shape arrive; an import's own queues do not count against its own limits", async () => {
    const queues = ['q1', 'q2', 'q3'].map((name) => ({ name, vhost: 'lim', durable: true, auto_delete: false, arguments: {} }));
    const res = await h.request('POST', '/api/definitions', {
      vhosts: [{ name: 'lim', limits: { 'max-queues': 1 } }],
      users: [{ name: 'l', password: 'p', tags: [], limits: { 'max-connections': 1 } }],
      permissions: [{ user: 'guest', vhost: 'lim', configure: '.*', write: '.*', read: '.*' }],
      queues,
    });
    expect(res.statusCode, res.body).toBe(204);
    expect(h.broker.vhost('lim')!.limits).toEqual({ 'max-queues': 1 });
    expect(h.broker.vhost('lim')!.queues.size).toBe(3);
    expect(h.broker.runtime.userLimits.get('l')).toEqual({ 'max-connections': 1 });
    // The limit is in force for what comes after: a client declaration, and a later import adding queues.
    expect((await h.request('PUT', '/api/queues/lim/q4', { durable: true })).statusCode).toBe(400);
    const more = await h.request('POST', '/api/definitions', { queues: [{ name: 'q5', vhost: 'lim', durable: true, auto_delete: false, arguments: {} }] });
    expect(more.statusCode).toBe(400);
    expect(more.json().reason).toContain("queue 'q5' in vhost 'lim'");
    expect(h.broker.vhost('lim')!.queues.has('q5')).toBe(false);
    // Re-importing the same queues adds none and passes.
    expect((await h.request('POST', '/api/definitions', { queues })).statusCode).toBe(204);
  });

  it('password hashes: SHA-256, SHA-512 and MD5 log in; unknown algorithms and malformed hashes are refused by name', async () => {
    const users = ['sha256', 'sha512', 'md5'].map((a) => ({
      name: `u-${a}`,
      password_hash: hashPassword(`pw-${a}`, undefined, `rabbit_password_hashing_${a}`),
      hashing_algorithm: `rabbit_password_hashing_${a}`,
      tags: [],
    }));
    expect((await h.request('POST', '/api/definitions', { users })).statusCode).toBe(204);
    for (const a of ['sha256', 'sha512', 'md5']) {
      expect(h.broker.users.verify(`u-${a}`, `pw-${a}`)?.name).toBe(`u-${a}`);
      expect(h.broker.users.verify(`u-${a}`, 'nope')).toBeUndefined();
    }
    // The export says which algorithm each hash is in, and a round trip through the definitions store keeps it.
    const out = (await h.request('GET', '/api/definitions')).json() as Obj;
    expect(out['users']).toContainEqual({ ...users[1], limits: {} });
    const store = new MemoryDefinitionsStore();
    const b1 = new Broker({ definitions: store });
    b1.addUserWithHash('x', users[1]!.password_hash, [], 'rabbit_password_hashing_sha512');
    await b1.close();
    const b2 = new Broker({ definitions: store });
    expect(b2.users.verify('x', 'pw-sha512')?.name).toBe('x');
    await b2.close();

    const bad = await h.request('POST', '/api/definitions', { users: [{ name: 'b', password_hash: 'abc', hashing_algorithm: 'rabbit_password_hashing_bcrypt' }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().reason).toContain("unsupported hashing algorithm 'rabbit_password_hashing_bcrypt'");
    const short = await h.request('POST', '/api/definitions', { users: [{ name: 'b', password_hash: 'abc=' }] });
    expect(short.statusCode).toBe(400);
    expect(short.json().reason).toContain("users[0] 'b'");
    expect(h.broker.users.get('b')).toBeUndefined();
  });

  it('skips amq.* names and keeps existing objects, logging them by name (as RabbitMQ skips them)', async () => {
    const lines: string[] = [];
    const logger = h.broker.logger as unknown as { warn: (o: unknown, m: string) => void };
    const orig = logger.warn;
    logger.warn = (_o, m) => lines.push(m);
    try {
      await h.request('PUT', '/api/queues/%2F/kept', { durable: true, arguments: { 'x-max-length': 1 } });
      const res = await h.request('POST', '/api/definitions', {
        queues: [
          { name: 'amq.q', vhost: '/', durable: true, auto_delete: false, arguments: {} },
          { name: 'kept', vhost: '/', durable: true, auto_delete: false, arguments: { 'x-max-length': 2 } },
        ],
        exchanges: [{ name: 'amq.custom', vhost: '/', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} }],
      });
      expect(res.statusCode).toBe(204);
    } finally {
      logger.warn = orig;
    }
    expect(h.broker.vhost('/')!.queues.has('amq.q')).toBe(false);
    expect(h.broker.vhost('/')!.queues.get('kept')!.arguments['x-max-length']).toBe(1);
    expect(lines.join('\n')).toMatch(/queue 'amq\.q'[^\n]*skipped/);
    expect(lines.join('\n')).toMatch(/queue 'kept'[^\n]*existing queue is kept/);
    expect(lines.join('\n')).toMatch(/exchange 'amq\.custom'[^\n]*skipped/);
  });

  it('/api/definitions/{vhost}: entities land in that vhost; users and vhosts of a full export are skipped', async () => {
    await h.request('PUT', '/api/vhosts/target');
    const res = await h.request('POST', '/api/definitions/target', {
      users: [{ name: 'ignored', password: 'x', tags: [] }],
      queues: [{ name: 'vq', durable: true, auto_delete: false, arguments: {} }],
      exchanges: [{ name: 'vx', vhost: 'elsewhere', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} }],
      bindings: [{ source: 'vx', destination: 'vq', destination_type: 'queue', routing_key: 'a.*', arguments: {} }],
    });
    expect(res.statusCode, res.body).toBe(204);
    expect(h.broker.users.get('ignored')).toBeUndefined();
    expect(h.broker.vhost('target')!.queues.has('vq')).toBe(true);
    expect(h.broker.vhost('target')!.exchanges.get('vx')!.bindings.size).toBe(1);
    expect((await h.request('POST', '/api/definitions/nope', { queues: [] })).statusCode).toBe(404);
  });

  it('multipart/form-data with a file field (the UI, curl -F) and form-encoded uploads', async () => {
    const doc = JSON.stringify({ vhosts: [{ name: 'from-form' }] });
    const boundary = '----warren-test';
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="defs.json"\r\nContent-Type: application/json\r\n\r\n${doc}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="redirect"\r\n\r\n../../#/\r\n--${boundary}--\r\n`;
    const res = await h.request('POST', '/api/definitions', body, undefined, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers['location']).toBe('../../#/');
    expect(h.broker.vhost('from-form')).toBeDefined();
    const offsite = body.replace('../../#/', 'https://elsewhere.example/');
    expect((await h.request('POST', '/api/definitions', offsite, undefined, { 'content-type': `multipart/form-data; boundary=${boundary}` })).statusCode).toBe(204);
    const form = await h.request('POST', '/api/definitions', `file=${encodeURIComponent(JSON.stringify({ vhosts: [{ name: 'urlenc' }] }))}`, undefined, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.statusCode).toBe(204);
    expect(h.broker.vhost('urlenc')).toBeDefined();
    const noFile = await h.request('POST', '/api/definitions', `--${boundary}\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--${boundary}--\r\n`, undefined, {
      'content-type': `multipart/form-data; boundary=${boundary}`,
    });
    expect(noFile.statusCode).toBe(400);
    const broken = await h.request('POST', '/api/definitions', 'garbage', undefined, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    expect(broken.statusCode).toBe(400);
    // A form body is not a JSON object for the other routes.
    expect((await h.request('PUT', '/api/queues/%2F/formq', 'durable=true', undefined, { 'content-type': 'application/x-www-form-urlencoded' })).statusCode).toBe(400);
  });

  it('bad documents: wrong types, unknown keys and fields, bad names are 400 naming the problem', async () => {
    const cases: [unknown, string][] = [
      [[], 'must be a JSON object'],
      [{ queues: {} }, "'queues' must be a list"],
      [{ queues: [1] }, 'queues[0] must be an object'],
      [{ surprise: [] }, "unknown key 'surprise'"],
      [{ queues: [{ name: 'q', vhost: '/', durable: 'maybe' }] }, "queues[0]: 'durable' must be true or false"],
      [{ queues: [{ name: 'q', vhost: '/', colour: 'red' }] }, "queues[0]: unknown field 'colour'"],
      [{ queues: [{ name: 'x'.repeat(256), vhost: '/' }] }, 'too long'],
      [{ queues: [{ name: 'q' }] }, "'vhost' is required"],
      [{ vhosts: [{ name: 'a\u0000b' }] }, 'NUL'],
      [{ permissions: [{ user: 'guest', vhost: '/', configure: '(', write: '', read: '' }] }, 'invalid regular expression'],
      [{ bindings: [{ source: 'a', vhost: '/', destination: 'b', destination_type: 'topic' }] }, 'destination_type'],
      [{ rabbit_version: 3 }, "'rabbit_version' must be a string"],
    ];
    for (const [doc, reason] of cases) {
      const res = await h.request('POST', '/api/definitions', doc);
      expect(res.statusCode, JSON.stringify(doc)).toBe(400);
      expect(res.json().reason, JSON.stringify(doc)).toContain(reason);
    }
    expect((await h.request('POST', '/api/definitions', '{"vhosts": [')).statusCode).toBe(400);
    expect((await h.request('POST', '/api/definitions')).statusCode).toBe(400);
  });
});
