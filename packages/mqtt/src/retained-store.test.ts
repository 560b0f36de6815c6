import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStateLog, MemoryStateLog, type Message } from '@warren/core';
import { afterEach, describe, expect, it } from 'vitest';
import { RetainedStore } from './retained-store.js';

const msg = (body: string): Message => ({
  exchange: 'amq.topic',
  routingKey: 'x',
  properties: {},
  rawProperties: undefined,
  body: Buffer.from(body),
});
const topics = (rs: ReturnType<RetainedStore['match']>): string[] => rs.map((r) => r.topic);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('RetainedStore wildcard lookups (topic trie)', () => {
  it('finds wildcard matches per vhost, forgets cleared topics, and keeps first-retained order on update', () => {
    const rs = new RetainedStore();
    rs.set('/', 'home/kitchen/temp', 0, msg('20'));
    rs.set('/', 'home/hall/temp', 1, msg('18'));
    rs.set('/', 'home/kitchen/hum', 0, msg('40'));
    rs.set('other', 'home/cellar/temp', 0, msg('12'));
    rs.set('/', 'home/kitchen/temp', 0, msg('21'));
    expect(topics(rs.match('/', 'home/+/temp'))).toEqual(['home/kitchen/temp', 'home/hall/temp']);
    expect(rs.match('/', 'home/+/temp')[0]?.message.body.toString()).toBe('21');
    expect(topics(rs.match('other', 'home/#'))).toEqual(['home/cellar/temp']);
    rs.set('/', 'home/hall/temp', 0, msg(''));
    expect(topics(rs.match('/', 'home/#'))).toEqual(['home/kitchen/temp', 'home/kitchen/hum']);
    expect(rs.size('/')).toBe(2);
  });

  it('a store loaded from its log answers wildcard filters too, with bodies, properties and QoS intact', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-retained-'));
    dirs.push(dir);
    const log = new FileStateLog({ dir, name: 'mqtt-state' });
    const rs = new RetainedStore(log);
    rs.set('/', 'a/b', 0, msg('1'));
    rs.set('/', 'a/c', 1, { ...msg('2'), properties: { contentType: 'text/plain', headers: { k: 'v' } } });
    rs.set('/', 'a/d', 1, msg('3'));
    rs.set('/', 'a/d', 1, msg('')); // cleared
    log.close();
    const again = new RetainedStore(new FileStateLog({ dir, name: 'mqtt-state' }));
    expect(topics(again.match('/', 'a/+'))).toEqual(['a/b', 'a/c']);
    const c = again.get('/', 'a/c');
    expect(c?.qos).toBe(1);
    expect(c?.message.body.toString()).toBe('2');
    expect(c?.message.properties).toEqual({ contentType: 'text/plain', headers: { k: 'v' } });
  });

  it('counts a Message Expiry Interval down from when the message was retained, across a restart, then drops it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-retained-'));
    dirs.push(dir);
    const log = new FileStateLog({ dir, name: 'mqtt-state' });
    const rs = new RetainedStore(log);
    const t0 = 1_000_000;
    rs.set('/', 'e/short', 1, { ...msg('s'), properties: { expiration: '10000' } }, t0);
    rs.set('/', 'e/none', 1, msg('n'), t0);
    expect(rs.match('/', 'e/#', t0 + 4000).map((r) => [r.topic, r.expiresAt])).toEqual([
      ['e/short', t0 + 10_000],
      ['e/none', undefined],
    ]);
    log.close();
    const log2 = new FileStateLog({ dir, name: 'mqtt-state' });
    const again = new RetainedStore(log2);
    expect(again.get('/', 'e/short')?.expiresAt).toBe(t0 + 10_000);
    expect(again.get('/', 'e/short')?.qos).toBe(1);
    expect(again.get('/', 'e/short')?.message.body.toString()).toBe('s');
    // Exact and wildcard lookups both stop returning it once the interval has run out, and it leaves the log.
    expect(topics(again.match('/', 'e/short', t0 + 10_000))).toEqual([]);
    expect(topics(again.match('/', 'e/+', t0 + 10_000))).toEqual(['e/none']);
    expect(again.size('/')).toBe(1);
    log2.close();
    expect(new RetainedStore(new FileStateLog({ dir, name: 'mqtt-state' })).get('/', 'e/short')).toBeUndefined();
  });

  it('writes one record per retained message, not the whole set', () => {
    const log = new MemoryStateLog();
    const rs = new RetainedStore(log);
    for (let i = 0; i < 1000; i++) rs.set('/', `t/${i}`, 0, msg('x'));
    const before = log.changes;
    rs.set('/', 't/new', 1, msg('y'));
    expect(log.changes - before).toBe(1);
    expect(log.get('r/\u0000t/new')?.[0]).toBe(1);
  });
});
