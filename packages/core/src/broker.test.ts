import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from './broker.js';
import { isLoopbackAddress } from './auth/users.js';
import { hashPassword, checkPassword } from './auth/password.js';
import { BrokerError } from './errors.js';
import { FakeConnectionHost, fakeConnectionInfo, makeMessage } from './testing/fake-host.js';
import { TestBroker } from './testing/setup.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BrokerError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

let tb: TestBroker;
afterEach(() => tb?.close());

describe('authentication', () => {
  it('accepts guest/guest from loopback and refuses it elsewhere', () => {
    const b = new Broker();
    expect(b.authenticate('guest', 'guest', '127.0.0.1')).toEqual({ name: 'guest', tags: ['administrator'] });
    expect(b.authenticate('guest', 'guest', '::1').name).toBe('guest');
    expect(b.authenticate('guest', 'guest', '::ffff:127.0.0.5').name).toBe('guest');
    expect(codeOf(() => b.authenticate('guest', 'guest', '10.0.0.1'))).toMatch(/^ACCESS_REFUSED/);
    expect(codeOf(() => b.authenticate('guest', 'wrong', '127.0.0.1'))).toMatch(/^ACCESS_REFUSED/);
    expect(codeOf(() => b.authenticate('nobody', 'guest', '127.0.0.1'))).toMatch(/^ACCESS_REFUSED/);
  });

  it('bootstrap users get full permissions on the startup vhosts', () => {
    const b = new Broker({ users: [{ name: 'admin', password: 'pw' }], vhosts: ['/', 'v'] });
    expect(b.permissionsOf('admin', 'v')?.spec).toEqual({ configure: '.*', write: '.*', read: '.*' });
    expect(b.permissionsOf('admin', '/')?.spec).toEqual({ configure: '.*', write: '.*', read: '.*' });
    expect(codeOf(() => b.authenticate('guest', 'guest', '127.0.0.1'))).toMatch(/^ACCESS_REFUSED/);
  });

  it('lets other users connect from anywhere; loopbackUsers is configurable', () => {
    const b = new Broker({ loopbackUsers: [] });
    b.addUser('bob', 'secret', ['monitoring']);
    expect(b.authenticate('bob', 'secret', '10.1.2.3')).toEqual({ name: 'bob', tags: ['monitoring'] });
    expect(b.authenticate('guest', 'guest', '10.1.2.3').name).toBe('guest');
    b.deleteUser('bob');
    expect(codeOf(() => b.authenticate('bob', 'secret', '10.1.2.3'))).toMatch(/^ACCESS_REFUSED/);
  });

  it('hashes passwords with a random salt (RabbitMQ sha256 format)', () => {
    const h1 = hashPassword('pw');
    const h2 = hashPassword('pw');
    expect(h1).not.toBe(h2);
    expect(Buffer.from(h1, 'base64')).toHaveLength(36);
    expect(checkPassword('pw', h1)).toBe(true);
    expect(checkPassword('px', h1)).toBe(false);
    // A known RabbitMQ hash layout: salt 0x908dc60a, password "test12".
    const salt = Buffer.from('908dc60a', 'hex');
    expect(checkPassword('test12', hashPassword('test12', salt))).toBe(true);
  });

  it('classifies loopback addresses', () => {
    expect(isLoopbackAddress('127.255.0.1')).toBe(true);
    expect(isLoopbackAddress('128.0.0.1')).toBe(false);
    expect(isLoopbackAddress('::ffff:10.0.0.1')).toBe(false);
    expect(isLoopbackAddress('::2')).toBe(false);
  });
});

describe('vhost access', () => {
  it('refuses a missing vhost or a vhost without permissions with NOT_ALLOWED', () => {
    const b = new Broker();
    b.addVhost('other');
    const guest = b.authenticate('guest', 'guest', '127.0.0.1');
    const host = new FakeConnectionHost();
    expect(codeOf(() => b.openConnection(fakeConnectionInfo(), guest, 'nope', host))).toBe(
      "NOT_ALLOWED: vhost nope not found",
    );
    expect(codeOf(() => b.openConnection(fakeConnectionInfo(), guest, 'other', host))).toBe(
      "NOT_ALLOWED: access to vhost 'other' refused for user 'guest'",
    );
    b.setPermissions('guest', 'other', { configure: '', write: '', read: '' });
    expect(b.openConnection(fakeConnectionInfo(), guest, 'other', host).vhost).toBe('other');
    b.close();
  });

  it('keeps vhosts apart', () => {
    tb = new TestBroker({ vhosts: ['/', 'v2'] });
    tb.broker.setPermissions('guest', 'v2', { configure: '.*', write: '.*', read: '.*' });
    const a = tb.channel();
    const b = tb.channel(tb.connect('guest', 'guest', 'v2').conn);
    a.ch.declareQueue('q', {});
    expect(codeOf(() => b.ch.declareQueue('q', { passive: true }))).toBe("NOT_FOUND: no queue 'q' in vhost 'v2'");
  });

  it('lists queues in name order, following declares and deletes (the order is cached between them)', () => {
    tb = new TestBroker();
    const { ch } = tb.channel();
    const v = tb.broker.vhost('/')!;
    const names = (): string[] => v.queuesByName().map((q) => q.name);
    for (const n of ['b', 'a', 'c']) ch.declareQueue(n, {});
    expect(names()).toEqual(['a', 'b', 'c']);
    expect(v.queuesByName()).toBe(v.queuesByName());
    ch.declareQueue('B', {});
    expect(names()).toEqual(['B', 'a', 'b', 'c']);
    ch.deleteQueue('a', {});
    expect(names()).toEqual(['B', 'b', 'c']);
    ch.declareQueue('a', {});
    expect(names()).toEqual(['B', 'a', 'b', 'c']);
    expect(v.queuesByName()[1]).toBe(v.queues.get('a'));
  });
});

describe('alarms', () => {
  it('blocks and unblocks every connection once per transition', () => {
    tb = new TestBroker();
    const c1 = tb.connect();
    const c2 = tb.connect();
    tb.broker.setAlarm('memory', true);
    tb.broker.setAlarm('disk', true);
    expect(tb.broker.blocked).toBe(true);
    tb.broker.setAlarm('memory', false);
    expect(c1.host.events).toEqual(['blocked:low on memory']);
    tb.broker.setAlarm('disk', false);
    expect(tb.broker.blocked).toBe(false);
    expect(c1.host.events).toEqual(['blocked:low on memory', 'unblocked']);
    expect(c2.host.events).toEqual(['blocked:low on memory', 'unblocked']);
    c2.conn.close();
    tb.broker.setAlarm('disk', true);
    expect(c2.host.events).toHaveLength(2);
    expect(c1.host.events).toEqual(['blocked:low on memory', 'unblocked', 'blocked:low on disk']);
    tb.broker.setAlarm('memory', true);
    expect(tb.connect().host.events).toEqual(['blocked:low on memory & disk']);
  });
});

describe('permissions', () => {
  function bobChannel(perms: { configure: string; write: string; read: string }) {
    tb = new TestBroker();
    tb.broker.addUser('bob', 'pw');
    tb.broker.setPermissions('bob', '/', perms);
    const admin = tb.channel();
    return { admin, bob: tb.channel(tb.connect('bob', 'pw').conn) };
  }

  it('declare needs configure', () => {
    const { bob } = bobChannel({ configure: '^bob\\.', write: '.*', read: '.*' });
    expect(bob.ch.declareQueue('bob.q', {}).queue).toBe('bob.q');
    expect(codeOf(() => bob.ch.declareQueue('other', {}))).toBe(
      "ACCESS_REFUSED: access to queue 'other' in vhost '/' refused for user 'bob'",
    );
    expect(codeOf(() => bob.ch.declareExchange('x', 'direct', {}))).toBe(
      "ACCESS_REFUSED: access to exchange 'x' in vhost '/' refused for user 'bob'",
    );
  });

  it('publish needs write on the exchange (the default exchange is amq.default)', () => {
    const { admin, bob } = bobChannel({ configure: '.*', write: '^amq\\.topic$', read: '.*' });
    admin.ch.declareQueue('q', {});
    bob.ch.publish(makeMessage('amq.topic', 'k', 'x'), {});
    expect(codeOf(() => bob.ch.publish(makeMessage('', 'q', 'x'), {}))).toBe(
      "ACCESS_REFUSED: access to exchange 'amq.default' in vhost '/' refused for user 'bob'",
    );
  });

  it('bind needs write on the queue and read on the exchange', () => {
    const { admin, bob } = bobChannel({ configure: '.*', write: '^q$', read: '^amq\\.direct$' });
    admin.ch.declareQueue('q', {});
    admin.ch.declareQueue('r', {});
    bob.ch.bindQueue('q', 'amq.direct', 'k');
    expect(codeOf(() => bob.ch.bindQueue('r', 'amq.direct', 'k'))).toBe(
      "ACCESS_REFUSED: access to queue 'r' in vhost '/' refused for user 'bob'",
    );
    expect(codeOf(() => bob.ch.bindQueue('q', 'amq.fanout', 'k'))).toBe(
      "ACCESS_REFUSED: access to exchange 'amq.fanout' in vhost '/' refused for user 'bob'",
    );
  });

  it('consume, get and purge need read on the queue; changes apply to open channels', () => {
    const { admin, bob } = bobChannel({ configure: '.*', write: '.*', read: '^mine$' });
    admin.ch.declareQueue('mine', {});
    admin.ch.declareQueue('theirs', {});
    expect(bob.ch.get('mine', true)).toBeUndefined();
    expect(bob.ch.purgeQueue('mine')).toBe(0);
    for (const f of [() => bob.ch.consume('theirs', {}), () => bob.ch.get('theirs', true), () => bob.ch.purgeQueue('theirs')]) {
      expect(codeOf(f)).toBe("ACCESS_REFUSED: access to queue 'theirs' in vhost '/' refused for user 'bob'");
    }
    bob.ch.publish(makeMessage('', 'mine', 'x'), {});
    tb.broker.setPermissions('bob', '/', { configure: '.*', write: '', read: '.*' });
    expect(codeOf(() => bob.ch.publish(makeMessage('', 'mine', 'x'), {}))).toMatch(/^ACCESS_REFUSED/);
  });
});
