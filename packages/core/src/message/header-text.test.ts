import { describe, expect, it } from 'vitest';
import type { FieldValue } from '../contract.js';
import { headerText } from '../index.js';

const decimal = (value: number, scale: number): FieldValue => ({ value, scale, $decimal: true });

describe('headerText: one text form of a typed header value for STOMP and MQTT 5', () => {
  it.each<[string, FieldValue, string]>([
    ['a string as it is', 'héllo: world', 'héllo: world'],
    ['an empty string', '', ''],
    ['an integer in decimal', 42, '42'],
    ['a negative integer', -7, '-7'],
    ['a 64-bit integer beyond 2^53', 2n ** 60n, '1152921504606846976'],
    ['a negative bigint', -5n, '-5'],
    ['a double in its shortest round-trip form', 0.1, '0.1'],
    ['a large double', 1e21, '1e+21'],
    ['NaN', Number.NaN, 'NaN'],
    ['infinity', Number.POSITIVE_INFINITY, 'Infinity'],
    ['true', true, 'true'],
    ['false', false, 'false'],
    ['void as the empty string', null, ''],
    ['a byte array as base64', Buffer.from([0x00, 0xff, 0x80, 0x41]), 'AP+AQQ=='],
    ['an empty byte array', Buffer.alloc(0), ''],
    ['a timestamp as whole seconds since the epoch', new Date('2023-11-14T22:13:20.999Z'), '1700000000'],
    ['a decimal with its scale', decimal(314, 2), '3.14'],
    ['a decimal below one', decimal(5, 3), '0.005'],
    ['a negative decimal', decimal(-314, 2), '-3.14'],
    ['a decimal of scale 0', decimal(12, 0), '12'],
    ['an empty array', [], '[]'],
    ['an empty table', {}, '{}'],
  ])('%s', (_name, value, text) => {
    expect(headerText(value)).toBe(text);
  });

  it('an array is JSON with the same rules inside', () => {
    const value: FieldValue = [
      'x',
      1,
      2n,
      2n ** 60n,
      0.5,
      Number.NaN,
      true,
      null,
      Buffer.from('hi'),
      new Date(1_700_000_000_000),
      decimal(15, 1),
      ['nested'],
      { k: 'v' },
    ];
    expect(JSON.parse(headerText(value))).toEqual([
      'x',
      1,
      2,
      '1152921504606846976',
      0.5,
      'NaN',
      true,
      null,
      'aGk=',
      1_700_000_000,
      '1.5',
      ['nested'],
      { k: 'v' },
    ]);
  });

  it('a table such as x-death is JSON with the same rules inside, keys in order', () => {
    const xDeath: FieldValue = [
      {
        count: 3n,
        reason: 'expired',
        queue: 'work',
        time: new Date(1_700_000_000_000),
        exchange: '',
        'routing-keys': ['work'],
      },
    ];
    expect(headerText(xDeath)).toBe(
      '[{"count":3,"reason":"expired","queue":"work","time":1700000000,"exchange":"","routing-keys":["work"]}]',
    );
    expect(headerText({ b: Buffer.from([1]), t: { d: decimal(1, 2) }, n: null })).toBe('{"b":"AQ==","t":{"d":"0.01"},"n":null}');
  });
});
