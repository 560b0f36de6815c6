import { afterEach, describe, expect, it } from 'vitest';
import { Broker, type RuntimeDefinitions } from './broker.js';
import { BrokerError } from './errors.js';
import { MemoryDefinitionsStore } from './store/definitions.js';

let broker: Broker;
afterEach(() => broker?.close());

function fresh(): Broker {
  broker = new Broker();
  broker.addVhost('v');
  broker.addUser('u', 'p');
  return broker;
}

const defs = (): RuntimeDefinitions => ({
  user_limits: [{ user: 'u', limits: { 'max-channels': 3 } }],
  topic_permissions: [{ user: 'u', vhost: 'v', exchange: 'amq.topic', write: '^a\\.', read: '.*' }],
  parameters: [
    { value: { pattern: '^q', definition: { 'max-length': 5 }, priority: 0, 'apply-to': 'queues' }, vhost: 'v', component: 'operator_policy', name: 'op' },
    { value: { 'max-queues': 7 }, vhost: 'v', component: 'vhost-limits', name: 'limits' },
    { value: { uri: 'amqp://x' }, vhost: 'v', component: 'federation-upstream', name: 'up' },
  ],
  global_parameters: [{ name: 'cluster_name', value: 'c1' }],
  policies: [{ vhost: 'v', name: 'pol', pattern: '^q', 'apply-to': 'queues', definition: { 'message-ttl': 10 }, priority: 1 }],
});

function thrown(fn: () => void): BrokerError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BrokerError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('Broker.importRuntimeDefinitions', () => {
  it('applies every runtime setting, and queues declared afterwards are under the policies', () => {
    const b = fresh();
    b.importRuntimeDefinitions(defs());
    const v = b.vhost('v')!;
    expect(b.runtime.userLimits.get('u')).toEqual({ 'max-channels': 3 });
    expect(b.topicPermission('u', 'v', 'amq.topic')).toEqual({ write: '^a\\.', read: '.*' });
    expect([...v.operatorPolicies.keys()]).toEqual(['op']);
    expect([...v.policies.keys()]).toEqual(['pol']);
    expect(v.limits).toEqual({ 'max-queues': 7 });
    expect([...b.runtime.parameters.values()]).toEqual([{ component: 'federation-upstream', vhost: 'v', name: 'up', value: { uri: 'amqp://x' } }]);
    expect(b.runtime.global.get('cluster_name')).toBe('c1');
    const { queue } = v.declareQueue('q1', { durable: true }, '');
    expect([queue.policy, queue.operatorPolicy]).toEqual(['pol', 'op']);
  });

  it('checks everything first: a bad last item throws a BrokerError naming it, and nothing has changed', () => {
    const b = fresh();
    const bad = defs();
    bad.policies!.push({ vhost: 'v', name: 'broken', pattern: '(', definition: { 'max-length': 1 } });
    const e = thrown(() => b.importRuntimeDefinitions(bad));
    expect(e.code).toBe('PRECONDITION_FAILED');
    expect(e.message).toMatch(/^cannot import policy 'broken' in vhost 'v': validation failed: pattern should be regular expression/);
    const v = b.vhost('v')!;
    expect([v.policies.size, v.operatorPolicies.size, b.runtime.parameters.size, b.runtime.global.size, b.runtime.userLimits.size, b.runtime.topicPermissions.size]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(v.limits).toEqual({});

    const missing = defs();
    missing.parameters![2]!['vhost'] = 'gone';
    const e2 = thrown(() => b.importRuntimeDefinitions(missing));
    expect([e2.code, e2.message]).toEqual(['NOT_FOUND', "cannot import parameter 'up' of component 'federation-upstream': no vhost 'gone'"]);
    expect(thrown(() => b.importRuntimeDefinitions({ user_limits: [{ user: 'nobody', limits: {} }] })).message).toContain("no user 'nobody'");
    expect(b.runtime.userLimits.size).toBe(0);
  });

  it('what it applied is written with the durable definitions and restored', async () => {
    const store = new MemoryDefinitionsStore();
    const b1 = new Broker({ definitions: store });
    b1.addVhost('v');
    b1.addUser('u', 'p');
    b1.importRuntimeDefinitions(defs());
    await b1.close();
    broker = new Broker({ definitions: store });
    expect(broker.vhost('v')!.limits).toEqual({ 'max-queues': 7 });
    expect([...broker.vhost('v')!.policies.keys()]).toEqual(['pol']);
    expect(broker.runtime.global.get('cluster_name')).toBe('c1');
    expect(broker.runtime.userLimits.get('u')).toEqual({ 'max-channels': 3 });
    expect(broker.topicPermission('u', 'v', 'amq.topic')).toBeDefined();
  });
});
