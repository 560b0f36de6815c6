import { describe, expect, it } from 'vitest';
import { headerText, type FieldTable, type Message } from '@warren/core';
import { messageToProperties } from './mapping.js';

const withHeaders = (headers: FieldTable): Message => ({
  exchange: 'amq.topic',
  routingKey: 'a.b',
  properties: { headers },
  rawProperties: undefined,
  body: Buffer.from('x'),
});

describe('MQTT 5 user properties use the core text form of typed AMQP headers', () => {
  it('byte arrays as base64, timestamps as epoch seconds, tables and arrays as JSON with the same rules inside', () => {
    const xDeath = [{ count: 2n, reason: 'expired', queue: 'q', time: new Date(1_700_000_000_000), 'routing-keys': ['q'] }];
    const props = messageToProperties(
      withHeaders({
        bin: Buffer.from([0xff, 0x00, 0x41]),
        at: new Date(1_700_000_000_500),
        dec: { value: 314, scale: 2, $decimal: true },
        big: 2n ** 60n,
        'x-death': xDeath,
        tbl: { b: Buffer.from('hi'), n: 2n ** 60n },
      }),
    );
    expect(props?.userProperties).toEqual({
      bin: '/wBB',
      at: '1700000000',
      dec: '3.14',
      big: '1152921504606846976',
      'x-death': '[{"count":2,"reason":"expired","queue":"q","time":1700000000,"routing-keys":["q"]}]',
      tbl: '{"b":"aGk=","n":"1152921504606846976"}',
    });
    expect(props?.userProperties?.['x-death']).toBe(headerText(xDeath));
  });
});
