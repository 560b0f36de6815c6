import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDefinitionsStore } from '../store/definitions.js';
import { Broker } from '../broker.js';
import { FakeConnectionHost, fakeConnectionInfo, makeMessage } from '../testing/fake-host.js';
import { err, TestBroker } from '../testing/setup.js';
import { erlangTerm, matchPolicy, mergePolicyDefinitions, PolicyValidationError, validatePolicy, type Policy } from './policy.js';

let tb: TestBroker;
afterEach(() => tb?.close());

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PolicyValidationError) return e.message;
    throw e;
  }
  return 'valid';
}

const p = (name: string, pattern: string, priority: number, definition: Record<string, unknown>, applyTo = 'all'): Policy =>
  validatePolicy('/', name, { pattern, priority, definition, 'apply-to': applyTo }, false);

describe('policy validation (rabbit_policy texts)', () => {
  it('quotes the bad value as Erlang prints it', () => {
    // The recorded RabbitMQ 3.10 answer: "<<\"lots\">> is not a valid maximum length".
    expect(reason(() => p('x', '^x$', 0, { 'max-length': 'lots' }))).toBe('<<"lots">> is not a valid maximum length');
    expect(reason(() => p('x', '^x$', 0, { expires: 0 }))).toBe('0 is not a valid queue expiry');
    expect(reason(() => p('x', '^x$', 0, { 'message-ttl': -1 }))).toBe('-1 is not a valid message TTL');
    expect(reason(() => p('x', '^x$', 0, { overflow: 'drop' }))).toBe('<<"drop">> is not a valid overflow value');
    expect(reason(() => p('x', '^x$', 0, { 'alternate-exchange': 1 }))).toBe('1 is not a valid alternate exchange name');
  });

  it('refuses unknown keys, an empty definition, a bad apply-to, pattern or priority', () => {
    expect(reason(() => p('x', '^x$', 0, { 'max-lenght': 1 }))).toBe('[{<<"max-lenght">>,1}] are not recognised policy settings');
    expect(reason(() => p('x', '^x$', 0, {}))).toBe('no policy provided');
    expect(reason(() => p('x', '^x$', 0, { 'max-length': 1 }, 'streams'))).toBe(
      "apply-to 'streams' unrecognised; should be 'queues', 'exchanges' or 'all'",
    );
    expect(reason(() => p('x', '(', 0, { 'max-length': 1 }))).toMatch(/^pattern should be regular expression but is invalid/);
    expect(reason(() => validatePolicy('/', 'x', { definition: { 'max-length': 1 } }, false))).toBe('Key "pattern" not found in x');
    expect(reason(() => validatePolicy('/', 'x', { pattern: '.', priority: 'high', definition: { 'max-length': 1 } }, false))).toBe(
      'priority should be a number, actually was <<"high">>',
    );
  });

  it('operator policies accept only the numeric limits', () => {
    expect(reason(() => validatePolicy('/', 'op', { pattern: '.', definition: { 'max-length': 5, expires: 1000 } }, true))).toBe('valid');
    expect(reason(() => validatePolicy('/', 'op', { pattern: '.', definition: { 'dead-letter-exchange': 'dlx' } }, true))).toBe(
      '[{<<"dead-letter-exchange">>,<<"dlx">>}] are not recognised policy settings',
    );
  });

  it('erlangTerm prints JSON as ~p does', () => {
    expect(erlangTerm(['a', 1, true, null])).toBe('[<<"a">>,1,true,null]');
  });
});

describe('policy matching', () => {
  it('the highest priority wins; equal priorities go by name; apply-to filters', () => {
    const a = p('a', '^q', 1, { 'max-length': 1 });
    const b = p('b', '^q1$', 5, { 'max-length': 2 }, 'exchanges');
    const c = p('c', '^q1', 1, { 'max-length': 3 }, 'queues');
    expect(matchPolicy([c, a, b], 'queue', 'q1')?.name).toBe('a');
    expect(matchPolicy([c, a, b], 'exchange', 'q1')?.name).toBe('b');
    expect(matchPolicy([c, a, b], 'queue', 'x')).toBeUndefined();
    const d = p('d', '^q1$', 9, { 'max-length': 4 }, 'queues');
    expect(matchPolicy([a, b, c, d], 'queue', 'q1')?.name).toBe('d');
  });

  it('an operator policy caps the numeric limits; other keys merge', () => {
    const pol = p('p', '.', 0, { 'max-length': 100, 'message-ttl': 1000, 'dead-letter-exchange': 'dlx' });
    const op = validatePolicy('/', 'op', { pattern: '.', definition: { 'max-length': 10, 'message-ttl': 5000, expires: 60000 } }, true);
    expect(mergePolicyDefinitions(pol, op)).toEqual({ 'max-length': 10, 'message-ttl': 1000, 'dead-letter-exchange': 'dlx', expires: 60000 });
    expect(mergePolicyDefinitions(undefined, undefined)).toEqual({});
  });
});

describe('policies applied to queues and exchanges', () => {
  it('a new max-length trims an existing queue at once and is lifted when the policy goes', () => {
    tb = new TestBroker();
    const { ch } = tb.channel();
    ch.declareQueue('q', {});
    for (let i = 0; i < 5; i++) ch.publish(makeMessage('', 'q', `m${i}`), {});
    const q = tb.broker.vhost('/')!.queues.get('q')!;
    expect(tb.broker.setPolicy('/', 'len', { pattern: '^q$', definition: { 'max-length': 2 }, 'apply-to': 'queues' })).toBe(true);
    expect(q.messageCount).toBe(2);
    expect(q.policy).toBe('len');
    expect(q.effectivePolicyDefinition).toEqual({ 'max-length': 2 });
    expect(ch.get('q', true)?.delivery.message.body.toString()).toBe('m3');
    tb.broker.clearPolicy('/', 'len');
    expect(q.policy).toBeUndefined();
    expect(q.settings.maxLength).toBeUndefined();
    for (let i = 0; i < 5; i++) ch.publish(makeMessage('', 'q', `n${i}`), {});
    expect(q.messageCount).toBe(6);
  });

  it('applies to queues declared later; the lower of argument and policy wins for limits, the argument for the rest', () => {
    tb = new TestBroker();
    const { ch } = tb.channel();
    tb.broker.setPolicy('/', 'p', { pattern: '^q', definition: { 'max-length': 3, overflow: 'reject-publish', 'dead-letter-exchange': 'pdlx' } });
    ch.declareQueue('q1', {});
    ch.declareQueue('q2', { arguments: { 'x-max-length': 10, 'x-overflow': 'drop-head', 'x-dead-letter-exchange': 'adlx' } });
    ch.declareQueue('q3', { arguments: { 'x-max-length': 1 } });
    const v = tb.broker.vhost('/')!;
    expect(v.queues.get('q1')!.settings).toMatchObject({ maxLength: 3, overflow: 'reject-publish', deadLetterExchange: 'pdlx' });
    expect(v.queues.get('q2')!.settings).toMatchObject({ maxLength: 3, overflow: 'drop-head', deadLetterExchange: 'adlx' });
    expect(v.queues.get('q3')!.settings.maxLength).toBe(1);
  });

  it('an operator policy caps a policy on existing queues; priorities choose between policies', () => {
    tb = new TestBroker();
    const { ch } = tb.channel();
    ch.declareQueue('orders', {});
    const q = tb.broker.vhost('/')!.queues.get('orders')!;
    tb.broker.setPolicy('/', 'low', { pattern: '.*', priority: 0, definition: { 'message-ttl': 100 } });
    tb.broker.setPolicy('/', 'high', { pattern: '^orders$', priority: 10, definition: { 'message-ttl': 60000, 'max-length': 50 } });
    expect(q.policy).toBe('high');
    expect(q.settings.messageTtl).toBe(60000);
    tb.broker.setPolicy('/', 'cap', { pattern: '.*', definition: { 'max-length': 5, 'message-ttl': 90000 } }, true);
    expect(q.operatorPolicy).toBe('cap');
    expect(q.settings).toMatchObject({ maxLength: 5, messageTtl: 60000 });
    tb.broker.clearPolicy('/', 'high');
    expect(q.policy).toBe('low');
    expect(q.settings).toMatchObject({ maxLength: 5, messageTtl: 100 });
  });

  it('dead-letter-exchange from a policy dead-letters rejected messages', () => {
    tb = new TestBroker();
    const { ch } = tb.channel();
    ch.declareQueue('work', {});
    ch.declareQueue('dead', {});
    ch.declareExchange('dlx', 'fanout', {});
    ch.bindQueue('dead', 'dlx', '');
    tb.broker.setPolicy('/', 'dl', { pattern: '^work$', definition: { 'dead-letter-exchange': 'dlx' } });
    ch.publish(makeMessage('', 'work', 'x'), {});
    const got = ch.get('work', false)!;
    ch.reject(got.delivery.deliveryTag, false);
    expect(tb.broker.vhost('/')!.queues.get('dead')!.messageCount).toBe(1);
  });

  it('alternate-exchange from a policy routes unroutable messages; the argument wins over it', () => {
    tb = new TestBroker();
    const { ch } = tb.channel();
    ch.declareExchange('main', 'direct', {});
    ch.declareExchange('ae', 'fanout', {});
    ch.declareQueue('unrouted', {});
    ch.bindQueue('unrouted', 'ae', '');
    tb.broker.setPolicy('/', 'aep', { pattern: '^main$', definition: { 'alternate-exchange': 'ae' }, 'apply-to': 'exchanges' });
    const x = tb.broker.vhost('/')!.exchanges.get('main')!;
    expect(x.policy).toBe('aep');
    ch.publish(makeMessage('main', 'nowhere', 'x'), {});
    expect(tb.broker.vhost('/')!.queues.get('unrouted')!.messageCount).toBe(1);
    tb.broker.clearPolicy('/', 'aep');
    expect(x.alternateExchange).toBeUndefined();
  });

  it('expires from a policy deletes an idle queue', async () => {
    tb = new TestBroker();
    const { ch } = tb.channel();
    ch.declareQueue('idle', {});
    tb.broker.setPolicy('/', 'exp', { pattern: '^idle$', definition: { expires: 1 } });
    await new Promise((r) => setTimeout(r, 30));
    expect(tb.broker.vhost('/')!.queues.has('idle')).toBe(false);
  });
});

describe('limits', () => {
  it('vhost max-connections, then user max-connections (rabbit_reader texts); internal connections do not count', () => {
    tb = new TestBroker();
    tb.broker.setVhostLimits('/', { 'max-connections': 1 });
    const internal = tb.broker.openConnection(fakeConnectionInfo({ internal: true }), tb.broker.users.get('guest')!.user, '/', new FakeConnectionHost());
    tb.connect();
    expect(err(() => tb.connect())).toBe("NOT_ALLOWED: access to vhost '/' refused for user 'guest': connection limit (1) is reached");
    internal.close();
    tb.broker.setVhostLimits('/', {});
    tb.broker.setUserLimits('guest', { 'max-connections': 1 });
    expect(err(() => tb.connect())).toBe("NOT_ALLOWED: connection refused for user 'guest': user connection limit (1) is reached");
    tb.broker.setUserLimits('guest', { 'max-connections': -1 });
    expect(err(() => tb.connect())).toBe('no error');
  });

  it('user max-channels counts channels across the user’s connections', () => {
    tb = new TestBroker();
    tb.broker.setUserLimits('guest', { 'max-channels': 2 });
    const a = tb.connect().conn;
    const b = tb.connect().conn;
    tb.channel(a);
    tb.channel(b);
    expect(err(() => tb.channel(a))).toBe(
      "NOT_ALLOWED: number of channels opened for user 'guest' has reached the maximum allowed user limit of (2)",
    );
  });

  it('vhost max-queues refuses a new queue (rabbit_channel text), not a redeclare', () => {
    tb = new TestBroker();
    const { ch } = tb.channel();
    ch.declareQueue('q1', {});
    tb.broker.setVhostLimits('/', { 'max-queues': 1 });
    expect(err(() => ch.declareQueue('q1', {}))).toBe('no error');
    expect(err(() => ch.declareQueue('q2', {}))).toBe("PRECONDITION_FAILED: cannot declare queue 'q2': queue limit in vhost '/' (1) is reached");
  });
});

describe('topic permissions', () => {
  it('write is checked on publish and read on bind, for topic exchanges only', () => {
    tb = new TestBroker();
    tb.broker.setTopicPermission('guest', '/', 'amq.topic', { write: '^{username}\\.', read: '^public\\.' });
    const { ch } = tb.channel();
    ch.declareQueue('q', {});
    expect(err(() => ch.publish(makeMessage('amq.topic', 'guest.a', 'x'), {}))).toBe('no error');
    const other = tb.channel();
    expect(err(() => other.ch.publish(makeMessage('amq.topic', 'other.a', 'x'), {}))).toBe(
      "ACCESS_REFUSED: access to topic 'other.a' in exchange 'amq.topic' in vhost '/' refused for user 'guest'",
    );
    const third = tb.channel();
    expect(err(() => third.ch.bindQueue('q', 'amq.topic', 'public.#'))).toBe('no error');
    expect(err(() => third.ch.bindQueue('q', 'amq.topic', 'secret.#'))).toMatch(/^ACCESS_REFUSED: access to topic 'secret.#'/);
    // No topic permission on another exchange: everything allowed.
    const fourth = tb.channel();
    expect(err(() => fourth.ch.publish(makeMessage('amq.direct', 'anything', 'x'), {}))).toBe('no error');
    tb.broker.clearTopicPermissions('guest', '/');
    expect(err(() => fourth.ch.publish(makeMessage('amq.topic', 'other.a', 'x'), {}))).toBe('no error');
  });
});

describe('durability', () => {
  it('policies, operator policies, limits, parameters, topic permissions and vhost metadata survive a restart', async () => {
    const store = new MemoryDefinitionsStore();
    const b1 = new Broker({ definitions: store });
    b1.addVhost('v');
    const v = b1.vhost('v')!;
    v.description = 'described';
    v.tags = ['a'];
    v.defaultQueueType = 'quorum';
    b1.vhostChanged();
    b1.setPolicy('v', 'pol', { pattern: '^q$', definition: { 'max-length': 1 }, 'apply-to': 'queues', priority: 3 });
    b1.setPolicy('v', 'op', { pattern: '.*', definition: { 'message-ttl': 500 } }, true);
    b1.setVhostLimits('v', { 'max-queues': 1, 'max-connections': 7 });
    b1.setUserLimits('guest', { 'max-channels': 9 });
    b1.setParameter('federation-upstream', 'v', 'up', { uri: 'amqp://x' });
    b1.setGlobalParameter('cluster_name', 'my-cluster');
    b1.setTopicPermission('guest', 'v', 'amq.topic', { write: 'w', read: 'r' });
    b1.setPermissions('guest', 'v', { configure: '.*', write: '.*', read: '.*' });
    const c = b1.openConnection(fakeConnectionInfo(), b1.users.get('guest')!.user, 'v', new FakeConnectionHost());
    c.openChannel(new (await import('../testing/fake-host.js')).FakeChannelHost()).declareQueue('q', { durable: true });
    c.close();
    await b1.close();

    const b2 = new Broker({ definitions: store });
    const v2 = b2.vhost('v')!;
    expect([v2.description, v2.tags, v2.defaultQueueType]).toEqual(['described', ['a'], 'quorum']);
    expect(v2.policies.get('pol')).toMatchObject({ pattern: '^q$', priority: 3, applyTo: 'queues', definition: { 'max-length': 1 } });
    expect(v2.operatorPolicies.get('op')?.definition).toEqual({ 'message-ttl': 500 });
    expect(v2.queues.get('q')).toMatchObject({ policy: 'pol', operatorPolicy: 'op' });
    expect(v2.queues.get('q')!.settings).toMatchObject({ maxLength: 1, messageTtl: 500 });
    expect(v2.limits).toEqual({ 'max-queues': 1, 'max-connections': 7 });
    expect(b2.runtime.userLimits.get('guest')).toEqual({ 'max-channels': 9 });
    expect([...b2.runtime.parameters.values()]).toEqual([{ component: 'federation-upstream', vhost: 'v', name: 'up', value: { uri: 'amqp://x' } }]);
    expect(b2.runtime.global.get('cluster_name')).toBe('my-cluster');
    expect(b2.runtime.topicPermission('guest', 'v', 'amq.topic')).toEqual({ write: 'w', read: 'r' });
    // RabbitMQ's export layout: operator policies and vhost limits are runtime parameters.
    const stored = store.load()!;
    expect(stored.parameters?.map((x) => x.component).sort()).toEqual(['federation-upstream', 'operator_policy', 'vhost-limits']);
    expect(stored.users.find((u) => u.name === 'guest')?.limits).toEqual({ 'max-channels': 9 });
    await b2.close();
  });
});
