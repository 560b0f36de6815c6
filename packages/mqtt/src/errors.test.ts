/** The core-refusal → MQTT code table. */
import { BrokerError } from '@warren/core';
import { describe, expect, it } from 'vitest';
import { reasonCodeFor, wireCodeFor } from './errors.js';

describe('core refusals as MQTT codes', () => {
  const refused = new BrokerError('ACCESS_REFUSED', 'no');
  const limit = new BrokerError('NOT_ALLOWED', 'limit', { limit: true });
  const other = new BrokerError('NOT_FOUND', 'gone');
  it('MQTT 5: permissions 0x87, limits 0x97 (a PUBLISH has no quota code), anything else 0x80; CONNECT refusals 0x87', () => {
    expect([reasonCodeFor(refused, 'publish'), reasonCodeFor(limit, 'publish'), reasonCodeFor(other, 'publish')]).toEqual([0x87, 0x80, 0x80]);
    expect([reasonCodeFor(refused, 'subscribe'), reasonCodeFor(limit, 'subscribe'), reasonCodeFor(other, 'subscribe')]).toEqual([0x87, 0x97, 0x80]);
    expect([reasonCodeFor(refused, 'connect'), reasonCodeFor(limit, 'connect'), reasonCodeFor(other, 'connect')]).toEqual([0x87, 0x97, 0x87]);
    expect(reasonCodeFor(refused, 'authenticate')).toBe(0x86);
  });
  it('MQTT 3.1.1: CONNACK 5 or 4, SUBACK 0x80', () => {
    expect([wireCodeFor(limit, 'connect', false), wireCodeFor(refused, 'authenticate', false), wireCodeFor(refused, 'subscribe', false)]).toEqual([5, 4, 0x80]);
  });
});
