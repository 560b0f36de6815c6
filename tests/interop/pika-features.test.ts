/**
 * Features, errors and cross-client property round trips through pika 1.2 (pika/features.py, pika/errors.py),
 * asserting the codes and texts RabbitMQ 3.10.8 sends as pika reports them.
 */
import { describe, expect, it } from 'vitest';
import { interopSuite, runPika, take } from './harness.js';

const env = interopSuite();
const feature = (name: string, ...args: string[]) => runPika('features', [env.broker.url, name, ...args]);
const error = (name: string) => runPika('errors', [env.broker.url, name]);

describe('pika features', () => {
  it('publisher confirms: ack, then nack from a reject-publish queue', async () => {
    expect(await feature('confirms')).toEqual({ outcomes: ['ack', 'nack'], count: 1 });
  });

  it('mandatory: basic.return 312 NO_ROUTE before the confirm', async () => {
    const r = (await feature('mandatory')) as { key: string };
    expect(r).toEqual({
      outcome: 'unroutable',
      returned: [{ reply_code: 312, reply_text: 'NO_ROUTE', exchange: 'amq.direct', routing_key: r.key, body: 'lost' }],
      key: r.key,
    });
  });

  it('dead-lettering: x-death as pika decodes it (count is a long, time a timestamp)', async () => {
    const r = (await feature('dead_letter')) as Record<string, unknown> & { queue: string; dlx: string };
    expect(r).toMatchObject({
      body: 'bad',
      exchange: r.dlx,
      routing_key: r.queue,
      keep: 'me',
      first_death_reason: 'rejected',
      first_death_queue: r.queue,
      deaths: 1,
      death: {
        count: 1,
        count_type: 'long',
        reason: 'rejected',
        queue: r.queue,
        exchange: '',
        routing_keys: [r.queue],
        time_type: 'datetime',
      },
    });
    expect((r['death'] as { time_age_s: number }).time_age_s).toBeLessThan(120);
  });

  it('transactions: commit publishes, rollback discards', async () => {
    expect(await feature('tx')).toEqual({ before: 0, after_commit: 1, after_rollback: 1 });
  });

  it('basic.get, get-empty, nack with requeue → redelivered', async () => {
    expect(await feature('get_and_nack')).toEqual({
      empty: true,
      first: { body: 'g1', message_count: 1, redelivered: false },
      again: { body: 'g1', message_count: 1, redelivered: true },
      purged: 1,
    });
  });
});

describe('pika ⇄ amqplib properties', () => {
  it('pika publishes every property; amqplib reads them back', async () => {
    const s = env.scope;
    const q = s.queue('from-pika');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false });
    expect(await feature('publish_props', q)).toEqual({ published: true });
    const [m] = await take(ch, q, 1);
    expect(m?.content.toString()).toBe('{"from":"pika"}');
    expect(m?.properties).toMatchObject({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      priority: 3,
      correlationId: 'corr',
      replyTo: 'replies',
      expiration: '60000',
      messageId: 'mid',
      timestamp: 1700000000,
      type: 'kind',
      userId: 'guest',
      appId: 'pika-app',
    });
    expect(m?.properties.headers).toMatchObject({
      str: 's',
      int: 42,
      neg: -7,
      bool: true,
      decimal: { '!': 'decimal', value: { places: 1, digits: 15 } },
      list: [1, 'two'],
      nested: { a: 'b' },
    });
  });

  it('amqplib publishes every property; pika reads them back', async () => {
    const s = env.scope;
    const q = s.queue('to-pika');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('from amqplib'), {
      contentType: 'text/plain',
      contentEncoding: 'identity',
      headers: { str: 's', int: 7, bool: false, list: ['a', 2], nested: { k: 'v' } },
      deliveryMode: 2,
      priority: 4,
      correlationId: 'c',
      replyTo: 'r',
      expiration: '60000',
      messageId: 'm',
      timestamp: 1700000001,
      type: 't',
      userId: 'guest',
      appId: 'amqplib-app',
    });
    await ch.waitForConfirms();
    expect(await feature('consume_props', q)).toEqual({
      body: 'from amqplib',
      props: {
        content_type: 'text/plain',
        content_encoding: 'identity',
        headers: { str: 's', int: 7, bool: false, list: ['a', 2], nested: { k: 'v' } },
        delivery_mode: 2,
        priority: 4,
        correlation_id: 'c',
        reply_to: 'r',
        expiration: '60000',
        message_id: 'm',
        timestamp: 1700000001,
        type: 't',
        user_id: 'guest',
        app_id: 'amqplib-app',
      },
      header_types: { str: 'str', int: 'int', bool: 'bool', list: 'list', nested: 'dict' },
    });
  });
  it('keeps field-table value types as pika distinguishes them (l, I, T, x, V, D)', async () => {
    const s = env.scope;
    const q = s.queue('types-to-pika');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('typed'), {
      headers: {
        long: { '!': 'long', value: 1234567890123 },
        int: { '!': 'int', value: -5 },
        ts: { '!': 'timestamp', value: 1700000000 },
        bytes: Buffer.from('raw'),
        none: null,
        dec: { '!': 'decimal', value: { places: 2, digits: 314 } },
      },
    });
    await ch.waitForConfirms();
    const r = (await feature('consume_props', q)) as { props: { headers: unknown }; header_types: unknown };
    expect(r.header_types).toEqual({
      long: 'long',
      int: 'int',
      ts: 'datetime',
      bytes: 'bytes',
      none: 'NoneType',
      dec: 'Decimal',
    });
    expect(r.props.headers).toEqual({
      long: 1234567890123,
      int: -5,
      ts: 1700000000,
      bytes: 'raw',
      none: null,
      dec: '3.14',
    });
  });
});

describe('pika errors', () => {
  it('404 on a passive declare: the channel closes, the connection stays open', async () => {
    const r = (await error('passive_missing_queue')) as { queue: string };
    expect(r).toEqual({
      code: 404,
      text: `NOT_FOUND - no queue '${r.queue}' in vhost '/'`,
      connection_open: true,
      channel_open: false,
      queue: r.queue,
    });
  });

  it('406 on a redeclare with different arguments', async () => {
    const r = (await error('redeclare_different_args')) as { queue: string };
    expect(r).toEqual({
      code: 406,
      text: `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '${r.queue}' in vhost '/': received '2000' but current is '1000'`,
      connection_open: true,
      channel_open: false,
      queue: r.queue,
    });
  });

  it('405 on consuming another connection’s exclusive queue', async () => {
    const r = (await error('exclusive_other_connection')) as { queue: string };
    expect(r).toMatchObject({ code: 405, connection_open: true, channel_open: false });
    expect((r as unknown as { text: string }).text).toBe(
      `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${r.queue}' in vhost '/'. ` +
        'It could be originally declared on another connection or the exclusive property value does not match ' +
        'that of the original declaration.',
    );
  });

  it("403 on the reserved 'amq.' prefix", async () => {
    expect(await error('reserved_prefix')).toEqual({
      code: 403,
      text: "ACCESS_REFUSED - exchange name 'amq.pika-test' contains reserved prefix 'amq.*'",
      connection_open: true,
      channel_open: false,
    });
  });

  it('403 on publishing to an internal exchange', async () => {
    const r = (await error('internal_exchange')) as { exchange: string };
    expect(r).toEqual({
      code: 403,
      text: `ACCESS_REFUSED - cannot publish to internal exchange '${r.exchange}' in vhost '/'`,
      connection_open: true,
      channel_open: false,
      exchange: r.exchange,
    });
  });

  it('406 on an unknown delivery tag', async () => {
    expect(await error('unknown_delivery_tag')).toEqual({
      code: 406,
      text: 'PRECONDITION_FAILED - unknown delivery tag 99',
      connection_open: true,
      channel_open: false,
    });
  });

  it('406 on an unknown exchange type closes the channel only (as RabbitMQ 4)', async () => {
    expect(await error('unknown_exchange_type')).toEqual({
      scope: 'channel',
      code: 406,
      text: "PRECONDITION_FAILED - unknown exchange type 'no-such-type'",
    });
  });

  it('530 on an unknown vhost', async () => {
    expect(await error('unknown_vhost')).toEqual({
      exception: 'ProbableAccessDeniedError',
      detail: "ConnectionClosedByBroker: (530) 'NOT_ALLOWED - vhost no-such-vhost not found'",
    });
  });

  it('403 on a wrong password (pika: ProbableAuthenticationError)', async () => {
    expect(await error('wrong_password')).toEqual({
      exception: 'ProbableAuthenticationError',
      detail:
        "ConnectionClosedByBroker: (403) 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. " +
        "For details see the broker logfile.'",
    });
  });
});
