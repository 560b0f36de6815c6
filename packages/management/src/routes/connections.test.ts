import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ChannelDetails,
  type ConnectionDetails,
  type ConnectionInfo,
  type CoreConnection,
} from '@warren/core';
import { FakeChannelHost, FakeConnectionHost, fakeConnectionInfo } from '@warren/core/testing';
import { managementHarness, type Harness } from '../testing/harness.js';

const FIXTURES = fileURLToPath(new URL('../../../../tests/fixtures/rabbitmq-3.10/', import.meta.url));
function fixture(name: string): { status: number; body: unknown } {
  return JSON.parse(readFileSync(`${FIXTURES}${name}.json`, 'utf8')) as { status: number; body: unknown };
}
/** Erlang VM figures RabbitMQ reports per process; Warren has no such processes. */
const ERLANG_ONLY = ['garbage_collection', 'idle_since', 'message_stats'];
function keysOf(o: unknown): string[] {
  return Object.keys(o as object).filter((k) => !ERLANG_ONLY.includes(k)).sort();
}

/** A connection host like an adapter's, reporting the details it is given. */
class AdapterHost extends FakeConnectionHost {
  closedWith: string | undefined;
  constructor(readonly details: ConnectionDetails) {
    super();
  }
  connectionDetails(): ConnectionDetails {
    return this.details;
  }
  close(reason: string): void {
    this.closedWith = reason;
  }
}
class AdapterChannelHost extends FakeChannelHost {
  constructor(readonly details: ChannelDetails) {
    super();
  }
  channelDetails(): ChannelDetails {
    return this.details;
  }
}

const AMQP: ConnectionDetails = {
  protocol: 'AMQP 0-9-1',
  type: 'network',
  clientProperties: { product: 'amqplib', connection_name: 'orders-service', capabilities: { publisher_confirms: true } },
  frameMax: 131072,
  channelMax: 2047,
  timeout: 60,
  authMechanism: 'PLAIN',
  userProvidedName: 'orders-service',
  traffic: { recvOct: 4196, recvCnt: 55, sendOct: 2789, sendCnt: 54, sendPend: 0 },
};
const MQTT: ConnectionDetails = {
  protocol: 'MQTT 3.1.1',
  type: 'direct',
  clientProperties: { client_id: 'sensor-1', product: 'MQTT client' },
  variableMap: { client_id: 'sensor-1' },
  frameMax: 0,
  channelMax: 1,
};
const STOMP: ConnectionDetails = { protocol: 'STOMP 1.2', type: 'direct', clientProperties: { product: 'STOMP client' }, frameMax: 0, channelMax: 1, timeout: 0 };
const channelDetails = (number: number, confirm = false): ChannelDetails => ({
  number, confirm, transactional: false, messagesUncommitted: 0, acksUncommitted: 0, messagesUnconfirmed: 0,
});

let h: Harness;
beforeEach(async () => {
  h = await managementHarness();
});
afterEach(async () => {
  await h.close();
});

function open(details: ConnectionDetails, info: Partial<ConnectionInfo> = {}, user = 'guest', vhost = '/'): { conn: CoreConnection; host: AdapterHost; name: string } {
  const i = fakeConnectionInfo({ localAddress: '127.0.0.1', localPort: 5672, ...info });
  const host = new AdapterHost(details);
  const conn = h.broker.openConnection(i, h.broker.users.get(user)!.user, vhost, host);
  return { conn, host, name: `${i.remoteAddress}:${i.remotePort} -> 127.0.0.1:${i.localPort}` };
}

describe('connections', () => {
  it('lists each protocol with the keys RabbitMQ 3.10 writes, and its name "peer -> local"', async () => {
    const amqp = open(AMQP);
    amqp.conn.openChannel(new AdapterChannelHost(channelDetails(1)));
    const mqtt = open(MQTT, { protocol: 'mqtt', localPort: 1883 });
    mqtt.conn.openChannel(new AdapterChannelHost(channelDetails(1)));
    const stomp = open(STOMP, { protocol: 'stomp', localPort: 61613 });
    const webMqtt = open({ ...MQTT, protocol: 'Web MQTT 3.1.1' }, { protocol: 'mqtt', localPort: 15675, websocket: true });
    const { timeout: _none, ...noTimeout } = STOMP;
    const webStomp = open({ ...noTimeout, protocol: 'Web STOMP 1.2' }, { protocol: 'stomp', localPort: 15674, websocket: true });

    const one = (await h.request('GET', `/api/connections/${encodeURIComponent(amqp.name)}`)).json();
    expect(keysOf(one)).toEqual(keysOf(fixture('connection-amqp').body));
    expect(one).toMatchObject({
      name: amqp.name, protocol: 'AMQP 0-9-1', user: 'guest', vhost: '/', peer_host: '127.0.0.1', host: '127.0.0.1', port: 5672,
      channels: 1, frame_max: 131072, channel_max: 2047, timeout: 60, recv_oct: 4196, send_oct: 2789, ssl: false, state: 'running',
      type: 'network', user_provided_name: 'orders-service', auth_mechanism: 'PLAIN', ssl_protocol: '',
      client_properties: { product: 'amqplib', connection_name: 'orders-service', capabilities: { publisher_confirms: true } },
    });
    for (const [c, f] of [[mqtt, 'connection-mqtt'], [stomp, 'connection-stomp'], [webMqtt, 'connection-web-mqtt'], [webStomp, 'connection-web-stomp']] as const) {
      const body = (await h.request('GET', `/api/connections/${encodeURIComponent(c.name)}`)).json();
      expect(keysOf(body), f).toEqual(keysOf(fixture(f).body));
      expect(body.protocol).toBe(c.host.details.protocol);
    }
    expect((await h.request('GET', `/api/connections/${encodeURIComponent(mqtt.name)}`)).json()).toMatchObject({
      client_properties: { client_id: 'sensor-1', product: 'MQTT client' }, variable_map: { client_id: 'sensor-1' }, type: 'direct',
    });

    const list = (await h.request('GET', '/api/connections')).json() as Record<string, unknown>[];
    expect(list.map((c) => c['name'])).toEqual([amqp.name, mqtt.name, stomp.name, webMqtt.name, webStomp.name].sort());
    // Lists write the TLS fields of a plain AMQP connection as null, as RabbitMQ does.
    const listed = list.find((c) => c['name'] === amqp.name)!;
    expect(keysOf(listed)).toEqual(keysOf((fixture('connections-vhost').body as unknown[])[0]));
    expect(listed['ssl_protocol']).toBeNull();
  });

  it('per vhost, paged, and 404 for an unknown vhost or connection', async () => {
    h.broker.addVhost('other');
    h.broker.setPermissions('guest', 'other', { configure: '.*', write: '.*', read: '.*' });
    const a = open(AMQP);
    const b = open(AMQP, {}, 'guest', 'other');
    expect(((await h.request('GET', '/api/vhosts/other/connections')).json() as { name: string }[]).map((c) => c.name)).toEqual([b.name]);
    const page = (await h.request('GET', '/api/connections?page=1&page_size=1&pagination=true')).json();
    expect(keysOf(page)).toEqual(keysOf(fixture('connections-paged').body));
    expect(page).toMatchObject({ total_count: 2, item_count: 1, page_count: 2 });
    expect((await h.request('GET', '/api/vhosts/nowhere/connections')).statusCode).toBe(404);
    expect((await h.request('GET', `/api/connections/${encodeURIComponent('1.2.3.4:1 -> 127.0.0.1:5672')}`)).statusCode).toBe(404);
    expect(a.name).not.toBe(b.name);
  });

  it('non-monitor users see only their own connections and channels; monitors see all', async () => {
    h.broker.addUser('alice', 'pw', ['management']);
    h.broker.addUser('watcher', 'pw', ['monitoring']);
    h.broker.setPermissions('alice', '/', { configure: '.*', write: '.*', read: '.*' });
    const mine = open(AMQP, {}, 'alice');
    mine.conn.openChannel(new AdapterChannelHost(channelDetails(1)));
    const guests = open(AMQP);
    guests.conn.openChannel(new AdapterChannelHost(channelDetails(1)));
    const alice = { user: 'alice', password: 'pw' };
    expect(((await h.request('GET', '/api/connections', undefined, alice)).json() as { name: string }[]).map((c) => c.name)).toEqual([mine.name]);
    expect(((await h.request('GET', '/api/channels', undefined, alice)).json() as { name: string }[]).map((c) => c.name)).toEqual([`${mine.name} (1)`]);
    expect((await h.request('GET', `/api/connections/${encodeURIComponent(guests.name)}`, undefined, alice)).statusCode).toBe(401);
    expect((await h.request('GET', '/api/connections', undefined, { user: 'watcher', password: 'pw' })).json()).toHaveLength(2);
  });

  it('DELETE closes through the adapter with X-Reason or RabbitMQ\'s default text; only admins close others\' connections', async () => {
    h.broker.addUser('alice', 'pw', ['management']);
    h.broker.setPermissions('alice', '/', { configure: '.*', write: '.*', read: '.*' });
    const a = open(AMQP);
    const b = open(MQTT);
    const mine = open(STOMP, {}, 'alice');
    expect((await h.request('DELETE', `/api/connections/${encodeURIComponent(a.name)}`)).statusCode).toBe(204);
    expect(a.host.closedWith).toBe('Closed via management plugin');
    expect((await h.request('DELETE', `/api/connections/${encodeURIComponent(b.name)}`, undefined, undefined, { 'x-reason': 'maintenance' })).statusCode).toBe(204);
    expect(b.host.closedWith).toBe('maintenance');
    const alice = { user: 'alice', password: 'pw' };
    h.broker.addUser('watcher', 'pw', ['monitoring']);
    const c = open(AMQP);
    expect((await h.request('DELETE', `/api/connections/${encodeURIComponent(c.name)}`, undefined, { user: 'watcher', password: 'pw' })).statusCode).toBe(401);
    expect(c.host.closedWith).toBeUndefined();
    expect((await h.request('DELETE', `/api/connections/${encodeURIComponent(mine.name)}`, undefined, alice)).statusCode).toBe(204);
    expect(mine.host.closedWith).toBe('Closed via management plugin');
  });
});

describe('channels and consumers', () => {
  it('channels carry prefetch, unacked, confirm and consumers; names end with the protocol\'s channel number', async () => {
    h.broker.addVhost('ref');
    h.broker.setPermissions('guest', 'ref', { configure: '.*', write: '.*', read: '.*' });
    const a = open(AMQP, {}, 'guest', 'ref');
    const c1 = a.conn.openChannel(new AdapterChannelHost(channelDetails(1, true)));
    const host2 = new AdapterChannelHost(channelDetails(2));
    const c2 = a.conn.openChannel(host2);
    c2.declareQueue('ref-consumed', {});
    c2.qos(10, false);
    const tag = c2.consume('ref-consumed', { consumerTag: 'ref-consumer-tag', arguments: { 'x-priority': 3 } });
    for (let i = 0; i < 3; i++) c1.publish({ exchange: '', routingKey: 'ref-consumed', properties: {}, rawProperties: undefined, body: Buffer.from('m') }, {});
    expect(host2.deliveries).toHaveLength(3);

    const list = (await h.request('GET', `/api/connections/${encodeURIComponent(a.name)}/channels`)).json() as Record<string, unknown>[];
    expect(list.map((c) => c['name'])).toEqual([`${a.name} (1)`, `${a.name} (2)`]);
    const f = fixture('connection-amqp-channels').body as Record<string, unknown>[];
    expect(keysOf(list[0])).toEqual(keysOf(f[0]));
    expect(list[0]).toMatchObject({ confirm: true, number: 1, consumer_count: 0 });
    expect(list[1]).toMatchObject({ confirm: false, number: 2, consumer_count: 1, prefetch_count: 10, messages_unacknowledged: 3, vhost: 'ref', user: 'guest' });
    expect(list[1]!['connection_details']).toEqual({ name: a.name, peer_host: '127.0.0.1', peer_port: expect.any(Number) });

    const one = (await h.request('GET', `/api/channels/${encodeURIComponent(`${a.name} (2)`)}`)).json();
    expect(keysOf(one)).toEqual(keysOf(fixture('channel').body));
    const consumer = (one as { consumer_details: Record<string, unknown>[] }).consumer_details[0]!;
    const fc = (fixture('channel').body as { consumer_details: Record<string, unknown>[] }).consumer_details[0]!;
    expect(keysOf(consumer)).toEqual(keysOf(fc));
    expect(consumer).toMatchObject({
      consumer_tag: tag, ack_required: true, prefetch_count: 10, exclusive: false, active: true, activity_status: 'up',
      arguments: { 'x-priority': 3 }, queue: { name: 'ref-consumed', vhost: 'ref' },
      channel_details: { connection_name: a.name, name: `${a.name} (2)`, number: 2, node: 'warren@test', user: 'guest' },
    });
    expect(Object.keys((consumer['channel_details'] as object))).toEqual(Object.keys(fc['channel_details'] as object).sort());

    const all = (await h.request('GET', '/api/consumers')).json() as Record<string, unknown>[];
    expect(all).toEqual([consumer]);
    expect((await h.request('GET', '/api/consumers/ref')).json()).toEqual([consumer]);
    expect((await h.request('GET', '/api/consumers/%2F')).json()).toEqual([]);
    expect(((await h.request('GET', '/api/vhosts/ref/channels')).json() as unknown[]).length).toBe(2);
    expect(((await h.request('GET', '/api/vhosts/%2F/channels')).json() as unknown[]).length).toBe(0);
    expect((await h.request('GET', `/api/channels/${encodeURIComponent(`${a.name} (9)`)}`)).statusCode).toBe(404);
  });
});
