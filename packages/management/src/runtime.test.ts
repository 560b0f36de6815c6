import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, FileDefinitionsStore, FileMessageStore } from '@warren/core';
import { managementHarness, type Harness } from './testing/harness.js';

const FIXTURES = new URL('../../../tests/fixtures/rabbitmq-3.10/', import.meta.url);
/** A recorded RabbitMQ 3.10 answer, when the fixtures are present in this checkout. */
function fixture(name: string): { status: number; body: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as { status: number; body: unknown };
  } catch {
    return undefined;
  }
}

let h: Harness;
beforeEach(async () => {
  h = await managementHarness();
});
afterEach(async () => {
  await h.close();
});

const policymaker = { user: 'pm', password: 'pw' };

describe('policies', () => {
  it('PUT creates (201) then updates (204); GET lists and shows it in RabbitMQ’s shape; DELETE 204 then 404', async () => {
    const body = { pattern: '^x$', definition: { 'max-length': 1 }, 'apply-to': 'queues' };
    expect((await h.request('PUT', '/api/policies/%2F/p1', body)).statusCode).toBe(201);
    expect((await h.request('PUT', '/api/policies/%2F/p1', { ...body, definition: { 'max-length': 2 } })).statusCode).toBe(204);
    const one = { vhost: '/', name: 'p1', pattern: '^x$', 'apply-to': 'queues', definition: { 'max-length': 2 }, priority: 0 };
    expect((await h.request('GET', '/api/policies/%2F/p1')).json()).toEqual(one);
    expect((await h.request('GET', '/api/policies')).json()).toEqual([one]);
    expect((await h.request('GET', '/api/policies/%2F')).json()).toEqual([one]);
    expect((await h.request('DELETE', '/api/policies/%2F/p1')).statusCode).toBe(204);
    expect((await h.request('DELETE', '/api/policies/%2F/p1')).statusCode).toBe(404);
    expect((await h.request('GET', '/api/policies/%2F/p1')).statusCode).toBe(404);
    expect((await h.request('GET', '/api/policies/nope')).statusCode).toBe(404);
  });

  it('an invalid definition is 400 with RabbitMQ’s recorded reason', async () => {
    const res = await h.request('PUT', '/api/policies/%2F/bad', { pattern: '^x$', definition: { 'max-length': 'lots' } });
    expect(res.statusCode).toBe(400);
    const recorded = fixture('policy-put-invalid.json');
    const expected = recorded?.body ?? { error: 'bad_request', reason: 'Validation failed\n\n&lt;&lt;"lots"&gt;&gt; is not a valid maximum length\n' };
    expect(res.json()).toEqual(expected);
    const unknown = await h.request('PUT', '/api/policies/%2F/bad', { pattern: '^x$', definition: { 'max-lenght': 1 } });
    expect(unknown.json().reason).toBe('Validation failed\n\n[{&lt;&lt;"max-lenght"&gt;&gt;,1}] are not recognised policy settings\n');
    expect(h.broker.vhost('/')!.policies.size).toBe(0);
  });

  it('queues and exchanges show their policy, operator policy and effective definition', async () => {
    await h.request('PUT', '/api/queues/%2F/q1', { arguments: { 'x-max-length': 1000 } });
    await h.request('PUT', '/api/exchanges/%2F/x1', { type: 'fanout' });
    await h.request('PUT', '/api/policies/%2F/pol', { pattern: '^(q1|x1)$', definition: { 'max-length': 500, 'message-ttl': 600000 }, priority: 1 });
    await h.request('PUT', '/api/operator-policies/%2F/op', { pattern: '^q', definition: { 'max-length-bytes': 100000000 }, 'apply-to': 'queues' });
    const q = (await h.request('GET', '/api/queues/%2F/q1')).json();
    expect(q).toMatchObject({
      policy: 'pol',
      operator_policy: 'op',
      effective_policy_definition: { 'max-length': 500, 'max-length-bytes': 100000000, 'message-ttl': 600000 },
    });
    expect((await h.request('GET', '/api/exchanges/%2F/x1')).json().policy).toBe('pol');
    expect((await h.request('GET', '/api/exchanges/%2F/amq.direct')).json()).not.toHaveProperty('policy');
    expect((await h.request('GET', '/api/operator-policies')).json()).toEqual([
      { vhost: '/', name: 'op', pattern: '^q', 'apply-to': 'queues', definition: { 'max-length-bytes': 100000000 }, priority: 0 },
    ]);
    // An operator policy may only set the numeric limits.
    const bad = await h.request('PUT', '/api/operator-policies/%2F/op2', { pattern: '.', definition: { 'dead-letter-exchange': 'd' } });
    expect(bad.statusCode).toBe(400);
  });

  it('policies need policymaker with access to the vhost; operator policies need administrator', async () => {
    h.broker.addUser('pm', 'pw', ['policymaker']);
    h.broker.addUser('mgmt', 'pw', ['management']);
    h.broker.setPermissions('mgmt', '/', { configure: '.*', write: '.*', read: '.*' });
    const body = { pattern: '.', definition: { 'max-length': 1 } };
    expect((await h.request('PUT', '/api/policies/%2F/p', body, policymaker)).json()).toEqual({
      error: 'not_authorised',
      reason: 'User not authorised to access virtual host',
    });
    h.broker.setPermissions('pm', '/', { configure: '.*', write: '.*', read: '.*' });
    expect((await h.request('PUT', '/api/policies/%2F/p', body, policymaker)).statusCode).toBe(201);
    expect((await h.request('GET', '/api/policies', undefined, policymaker)).json()).toHaveLength(1);
    expect((await h.request('PUT', '/api/policies/%2F/p', body, { user: 'mgmt', password: 'pw' })).json().reason).toBe('Not policymaker user');
    expect((await h.request('PUT', '/api/operator-policies/%2F/o', body, policymaker)).statusCode).toBe(401);
  });
});

describe('limits', () => {
  it('vhost limits: PUT, GET in RabbitMQ’s shape, unknown name refused with the recorded reason, DELETE', async () => {
    expect((await h.request('PUT', '/api/vhost-limits/%2F/max-connections', { value: 100 })).statusCode).toBe(204);
    expect((await h.request('PUT', '/api/vhost-limits/%2F/max-queues', { value: 200 })).statusCode).toBe(204);
    const rows = [{ vhost: '/', value: { 'max-connections': 100, 'max-queues': 200 } }];
    expect((await h.request('GET', '/api/vhost-limits')).json()).toEqual(rows);
    expect((await h.request('GET', '/api/vhost-limits/%2F')).json()).toEqual(rows);
    const bad = await h.request('PUT', '/api/vhost-limits/%2F/max-channels', { value: 50 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual(
      fixture('vhost-limit-put.json')?.body ?? { error: 'bad_request', reason: 'Validation failed\n\nUnrecognised terms [{<<"max-channels">>,50}] in limits\n' },
    );
    expect((await h.request('PUT', '/api/vhost-limits/%2F/max-queues', { value: 'x' })).statusCode).toBe(400);
    expect((await h.request('DELETE', '/api/vhost-limits/%2F/max-channels')).statusCode).toBe(204);
    expect((await h.request('DELETE', '/api/vhost-limits/%2F/max-connections')).statusCode).toBe(204);
    expect(h.broker.vhost('/')!.limits).toEqual({ 'max-queues': 200 });
    expect((await h.request('PUT', '/api/vhost-limits/nope/max-queues', { value: 1 })).statusCode).toBe(404);
  });

  it('a vhost max-queues limit refuses a queue declared through the API', async () => {
    await h.request('PUT', '/api/vhost-limits/%2F/max-queues', { value: 0 });
    const res = await h.request('PUT', '/api/queues/%2F/q', {});
    expect(res.statusCode).toBe(400);
    expect(res.json().reason).toBe("cannot declare queue 'q': queue limit in vhost '/' (0) is reached");
  });

  it('user limits: PUT, GET, shown on the user, DELETE; admin only', async () => {
    h.broker.addUser('u', 'pw', ['management']);
    expect((await h.request('PUT', '/api/user-limits/u/max-connections', { value: 10 })).statusCode).toBe(204);
    expect((await h.request('PUT', '/api/user-limits/u/max-channels', { value: 20 })).statusCode).toBe(204);
    const rows = [{ user: 'u', value: { 'max-connections': 10, 'max-channels': 20 } }];
    expect((await h.request('GET', '/api/user-limits')).json()).toEqual(rows);
    expect((await h.request('GET', '/api/user-limits/u')).json()).toEqual(rows);
    expect((await h.request('GET', '/api/users/u')).json().limits).toEqual({ 'max-connections': 10, 'max-channels': 20 });
    expect((await h.request('PUT', '/api/user-limits/u/max-queues', { value: 1 })).statusCode).toBe(400);
    expect((await h.request('GET', '/api/user-limits', undefined, { user: 'u', password: 'pw' })).statusCode).toBe(401);
    expect((await h.request('DELETE', '/api/user-limits/u/max-channels')).statusCode).toBe(204);
    expect((await h.request('GET', '/api/user-limits/u')).json()).toEqual([{ user: 'u', value: { 'max-connections': 10 } }]);
    expect((await h.request('GET', '/api/user-limits/ghost')).statusCode).toBe(404);
  });
});

describe('runtime and global parameters, feature flags', () => {
  it('stores parameters of unimplemented components and lists operator policies and vhost limits among them', async () => {
    expect((await h.request('PUT', '/api/parameters/federation-upstream/%2F/up', { value: { uri: 'amqp://remote' } })).statusCode).toBe(201);
    expect((await h.request('PUT', '/api/parameters/federation-upstream/%2F/up', { value: { uri: 'amqp://other' } })).statusCode).toBe(204);
    await h.request('PUT', '/api/vhost-limits/%2F/max-queues', { value: 5 });
    const all = (await h.request('GET', '/api/parameters')).json();
    expect(all).toEqual([
      { value: { uri: 'amqp://other' }, vhost: '/', component: 'federation-upstream', name: 'up' },
      { value: { 'max-queues': 5 }, vhost: '/', component: 'vhost-limits', name: 'limits' },
    ]);
    expect((await h.request('GET', '/api/parameters/federation-upstream/%2F/up')).json()).toEqual(all[0]);
    expect((await h.request('GET', '/api/parameters/federation-upstream')).json()).toHaveLength(1);
    expect((await h.request('GET', '/api/parameters/shovel/%2F')).json()).toEqual([]);
    expect((await h.request('DELETE', '/api/parameters/federation-upstream/%2F/up')).statusCode).toBe(204);
    expect((await h.request('GET', '/api/parameters/federation-upstream/%2F/up')).statusCode).toBe(404);
    expect((await h.request('PUT', '/api/parameters/shovel/%2F/s', {})).statusCode).toBe(400);
  });

  it('global parameters; /api/cluster-name is the cluster_name global parameter', async () => {
    expect((await h.request('PUT', '/api/global-parameters/ref-global', { name: 'ref-global', value: { a: 1 } })).statusCode).toBe(201);
    expect((await h.request('GET', '/api/global-parameters/ref-global')).json()).toEqual({ name: 'ref-global', value: { a: 1 } });
    expect((await h.request('PUT', '/api/cluster-name', { name: 'my-cluster' })).statusCode).toBe(204);
    expect((await h.request('GET', '/api/global-parameters/cluster_name')).json()).toEqual({ name: 'cluster_name', value: 'my-cluster' });
    await h.request('PUT', '/api/global-parameters/cluster_name', { value: 'renamed' });
    expect((await h.request('GET', '/api/cluster-name')).json()).toEqual({ name: 'renamed' });
    expect((await h.request('GET', '/api/global-parameters')).json()).toEqual([
      { name: 'cluster_name', value: 'renamed' },
      { name: 'ref-global', value: { a: 1 } },
    ]);
    expect((await h.request('DELETE', '/api/global-parameters/ref-global')).statusCode).toBe(204);
    expect((await h.request('DELETE', '/api/global-parameters/ref-global')).statusCode).toBe(404);
  });

  it('feature flags are RabbitMQ 3.10’s recorded list, all enabled', async () => {
    const res = (await h.request('GET', '/api/feature-flags')).json();
    const recorded = fixture('feature-flags.json');
    if (recorded !== undefined) expect(res).toEqual(recorded.body);
    expect(res.every((f: { state: string }) => f.state === 'enabled')).toBe(true);
    expect(res.map((f: { name: string }) => f.name)).toContain('quorum_queue');
  });
});

describe('topic permissions', () => {
  it('PUT, list by all, vhost/user, user and vhost; DELETE', async () => {
    h.broker.addUser('u', 'pw', ['management']);
    const body = { exchange: 'amq.topic', write: '^ref\\.', read: '.*' };
    expect((await h.request('PUT', '/api/topic-permissions/%2F/u', body)).statusCode).toBe(201);
    expect((await h.request('PUT', '/api/topic-permissions/%2F/u', body)).statusCode).toBe(204);
    const row = { user: 'u', vhost: '/', exchange: 'amq.topic', write: '^ref\\.', read: '.*' };
    expect((await h.request('GET', '/api/topic-permissions')).json()).toEqual([row]);
    expect((await h.request('GET', '/api/topic-permissions/%2F/u')).json()).toEqual([row]);
    expect((await h.request('GET', '/api/users/u/topic-permissions')).json()).toEqual([row]);
    expect((await h.request('GET', '/api/vhosts/%2F/topic-permissions')).json()).toEqual([row]);
    expect((await h.request('PUT', '/api/topic-permissions/%2F/u', { write: '.*', read: '.*' })).statusCode).toBe(400);
    expect((await h.request('PUT', '/api/topic-permissions/%2F/ghost', body)).statusCode).toBe(400);
    expect((await h.request('DELETE', '/api/topic-permissions/%2F/u')).statusCode).toBe(204);
    expect((await h.request('GET', '/api/topic-permissions/%2F/u')).statusCode).toBe(404);
  });
});

describe('durability', () => {
  it('everything set through the API is on disk before the answer and survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-runtime-'));
    try {
      const make = () => new Broker({ definitions: new FileDefinitionsStore(dir), store: new FileMessageStore({ dir: join(dir, 'messages') }) });
      const h1 = await managementHarness({ broker: make() });
      await h1.request('PUT', '/api/vhosts/v', { description: 'desc', tags: 'a,b', default_queue_type: 'quorum' });
      await h1.request('PUT', '/api/policies/v/pol', { pattern: '^q$', definition: { 'max-length': 3 }, priority: 2 });
      await h1.request('PUT', '/api/operator-policies/v/op', { pattern: '.', definition: { expires: 3600000 } });
      await h1.request('PUT', '/api/vhost-limits/v/max-queues', { value: 9 });
      await h1.request('PUT', '/api/user-limits/guest/max-channels', { value: 99 });
      await h1.request('PUT', '/api/parameters/shovel/v/s', { value: { 'src-uri': 'amqp://' } });
      await h1.request('PUT', '/api/cluster-name', { name: 'durable-cluster' });
      await h1.request('PUT', '/api/topic-permissions/v/guest', { exchange: 'amq.topic', write: 'w', read: 'r' });
      await h1.request('PUT', '/api/queues/v/q', { durable: true });
      // Written before the answers: the file already holds them while the broker still runs.
      const onDisk = JSON.parse(readFileSync(join(dir, 'definitions.json'), 'utf8'));
      expect(onDisk.topic_permissions).toHaveLength(1);
      await h1.close();

      const h2 = await managementHarness({ broker: make() });
      try {
        expect((await h2.request('GET', '/api/vhosts/v')).json()).toMatchObject({ description: 'desc', tags: ['a', 'b'] });
        expect(h2.broker.vhost('v')!.defaultQueueType).toBe('quorum');
        expect((await h2.request('GET', '/api/policies/v/pol')).json()).toMatchObject({ priority: 2, definition: { 'max-length': 3 } });
        expect((await h2.request('GET', '/api/operator-policies/v/op')).statusCode).toBe(200);
        expect((await h2.request('GET', '/api/queues/v/q')).json()).toMatchObject({ policy: 'pol', operator_policy: 'op' });
        expect((await h2.request('GET', '/api/vhost-limits/v')).json()).toEqual([{ vhost: 'v', value: { 'max-queues': 9 } }]);
        expect((await h2.request('GET', '/api/user-limits/guest')).json()).toEqual([{ user: 'guest', value: { 'max-channels': 99 } }]);
        expect((await h2.request('GET', '/api/parameters/shovel/v/s')).json().value).toEqual({ 'src-uri': 'amqp://' });
        expect((await h2.request('GET', '/api/cluster-name')).json()).toEqual({ name: 'durable-cluster' });
        expect((await h2.request('GET', '/api/topic-permissions/v/guest')).json()).toHaveLength(1);
      } finally {
        await h2.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
