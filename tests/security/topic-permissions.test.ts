/**
 * Topic permissions (RabbitMQ's topic authorisation) on AMQP 0-9-1 and STOMP: on a topic exchange with a topic
 * permission for the user and vhost, a publish's routing key must match the `write` pattern and a binding key the
 * `read` pattern; `{username}` and `{vhost}` expand, `{client_id}` only for MQTT (RabbitMQ's AMQP and STOMP
 * connections carry no variable map, so it stays as written). Every scenario runs against Warren and, where
 * RabbitMQ 3.10 is installed, against a private RabbitMQ node: the refusals must read the same. MQTT's side is in
 * packages/mqtt/src/session/auth-limits.test.ts and tests/interop/limits.test.ts.
 */
import net from 'node:net';
import type { Broker } from '@warren/core';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rabbitmqInstalled, startPrivateRabbitMQ, type PrivateRabbitMQ } from '../support/rabbitmq.js';

const USER = 'tp-user';
const PASS = 'tp-pass';
/** Own keys and the literal `{client_id}.` (unexpanded outside MQTT) may be written; own keys may be read. */
const WRITE = '^{username}\\.|^{client_id}\\.|^{vhost}-vhost\\.';
const READ = '^{username}\\.';

interface Target {
  amqpPort: number;
  stompPort: number;
}

/** What a client saw: 'ok', or the channel error / STOMP ERROR it got. */
type Outcome = string;

async function amqpPublish(t: Target, exchange: string, key: string): Promise<Outcome> {
  const conn = await amqp.connect(`amqp://${USER}:${PASS}@127.0.0.1:${t.amqpPort}`);
  try {
    const ch = await conn.createConfirmChannel();
    if (!exchange.startsWith('amq.')) await ch.assertExchange(exchange, 'topic', { autoDelete: true });
    const closed = new Promise<string>((resolve) => ch.on('error', (e: Error) => resolve(e.message)));
    const confirmed = new Promise<string>((resolve) => ch.publish(exchange, key, Buffer.from('x'), {}, (err) => resolve(err ? 'nack' : 'ok')));
    return await Promise.race([closed, confirmed]);
  } finally {
    await conn.close().catch(() => {});
  }
}

async function amqpBind(t: Target, exchange: string, key: string): Promise<Outcome> {
  const conn = await amqp.connect(`amqp://${USER}:${PASS}@127.0.0.1:${t.amqpPort}`);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    const { queue } = await ch.assertQueue('', { exclusive: true });
    return await ch.bindQueue(queue, exchange, key).then(
      () => 'ok',
      (e: Error) => e.message.replace(/amq\.gen-[\w-]+/g, 'amq.gen-*'),
    );
  } finally {
    await conn.close().catch(() => {});
  }
}

/** CONNECT, send `frame` (which asks for receipt 'r'), and report RECEIPT as 'ok' or the ERROR's message and body. */
function stomp(t: Target, frame: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: t.stompPort });
    let buf = '';
    socket.on('error', reject);
    socket.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      for (;;) {
        const end = buf.indexOf('\0');
        if (end < 0) return;
        const text = buf.slice(0, end).replace(/^\n+/, '');
        buf = buf.slice(end + 1);
        const [head = '', body = ''] = text.split('\n\n');
        const [command, ...headers] = head.split('\n');
        if (command === 'CONNECTED') {
          socket.write(frame);
          continue;
        }
        socket.destroy();
        if (command === 'RECEIPT') resolve('ok');
        else resolve(`${command} ${headers.find((h) => h.startsWith('message:')) ?? ''} ${body.trim()}`);
        return;
      }
    });
    socket.write(`CONNECT\naccept-version:1.2\nhost:/\nlogin:${USER}\npasscode:${PASS}\n\n\0`);
  });
}

/** The scenarios, each a name and what the client saw. */
async function run(t: Target): Promise<Record<string, Outcome>> {
  return {
    'AMQP publish, own key': await amqpPublish(t, 'amq.topic', `${USER}.a`),
    'AMQP publish, {vhost} expanded': await amqpPublish(t, 'amq.topic', '/-vhost.a'),
    'AMQP publish, {client_id} as written': await amqpPublish(t, 'amq.topic', '{client_id}.a'),
    "AMQP publish, another's key": await amqpPublish(t, 'amq.topic', 'other.a'),
    'AMQP publish, other topic exchange (no topic permission)': await amqpPublish(t, 'tp-other', 'other.a'),
    'AMQP publish, direct exchange': await amqpPublish(t, 'amq.direct', 'other.a'),
    'AMQP bind, own key': await amqpBind(t, 'amq.topic', `${USER}.#`),
    "AMQP bind, another's key": await amqpBind(t, 'amq.topic', 'other.#'),
    'AMQP bind, {client_id} not expanded for read': await amqpBind(t, 'amq.topic', '{client_id}.#'),
    'STOMP SEND, own key': await stomp(t, `SEND\ndestination:/topic/${USER}.a\nreceipt:r\n\nx\0`),
    "STOMP SEND, another's key": await stomp(t, 'SEND\ndestination:/topic/other.a\nreceipt:r\n\nx\0'),
    'STOMP SUBSCRIBE, own key': await stomp(t, `SUBSCRIBE\nid:1\ndestination:/topic/${USER}.*\nreceipt:r\n\n\0`),
    "STOMP SUBSCRIBE, another's key": await stomp(t, 'SUBSCRIBE\nid:1\ndestination:/topic/other.*\nreceipt:r\n\n\0'),
  };
}

const refusal = (key: string, op = 'Channel closed by server:'): string =>
  `${op} 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - access to topic '${key}' in exchange 'amq.topic' in vhost '/' refused for user '${USER}'"`;

describe('topic permissions on AMQP and STOMP', () => {
  let running: RunningBroker;
  let warren: Record<string, Outcome>;
  beforeAll(async () => {
    running = await startEmbeddedBroker({ mqtt: { port: null }, webStomp: { port: null }, webMqtt: { port: null } });
    const broker = running.broker as Broker;
    broker.addUser(USER, PASS);
    broker.setPermissions(USER, '/', { configure: '.*', write: '.*', read: '.*' });
    broker.setTopicPermission(USER, '/', 'amq.topic', { write: WRITE, read: READ });
    warren = await run({ amqpPort: running.ports.amqp!, stompPort: running.ports.stomp! });
  }, 60_000);
  afterAll(async () => {
    await running?.stop();
  });

  it('check the write pattern on publish: 403 ACCESS_REFUSED closes the AMQP channel; STOMP gets ERROR access_refused', () => {
    expect(warren['AMQP publish, own key']).toBe('ok');
    expect(warren['AMQP publish, {vhost} expanded']).toBe('ok');
    expect(warren['AMQP publish, {client_id} as written']).toBe('ok');
    expect(warren["AMQP publish, another's key"]).toBe(refusal('other.a'));
    expect(warren['AMQP publish, other topic exchange (no topic permission)']).toBe('ok');
    expect(warren['AMQP publish, direct exchange']).toBe('ok');
    expect(warren['STOMP SEND, own key']).toBe('ok');
    expect(warren["STOMP SEND, another's key"]).toBe(
      `ERROR message:access_refused ACCESS_REFUSED - access to topic 'other.a' in exchange 'amq.topic' in vhost '/' refused for user '${USER}'`,
    );
  });

  it('check the read pattern on bind and subscribe (a STOMP /topic/ subscription is checked before its queue exists)', () => {
    expect(warren['AMQP bind, own key']).toBe('ok');
    expect(warren["AMQP bind, another's key"]).toBe(refusal('other.#', 'Operation failed: QueueBind;'));
    expect(warren['AMQP bind, {client_id} not expanded for read']).toBe(refusal('{client_id}.#', 'Operation failed: QueueBind;'));
    expect(warren['STOMP SUBSCRIBE, own key']).toBe('ok');
    expect(warren["STOMP SUBSCRIBE, another's key"]).toBe(
      `ERROR message:access_refused access to topic 'other.*' in exchange 'amq.topic' in vhost '/' refused for user '${USER}'`,
    );
  });

  describe.skipIf(!rabbitmqInstalled())('as RabbitMQ 3.10', () => {
    let rmq: PrivateRabbitMQ | undefined;
    beforeAll(async () => {
      rmq = await startPrivateRabbitMQ({ plugins: ['rabbitmq_management', 'rabbitmq_stomp'], nodeNamePrefix: 'warren-topic-perm' });
    }, 180_000);
    afterAll(async () => {
      await rmq?.stop();
    }, 60_000);

    it('every scenario ends the same way', async () => {
      const r = rmq!;
      r.ctl(['add_user', USER, PASS]);
      r.ctl(['set_permissions', '-p', '/', USER, '.*', '.*', '.*']);
      r.ctl(['set_topic_permissions', '-p', '/', USER, 'amq.topic', WRITE, READ]);
      const theirs = await run({ amqpPort: r.amqpPort, stompPort: r.stompPort });
      expect(warren).toEqual(theirs);
    }, 120_000);
  });
});
