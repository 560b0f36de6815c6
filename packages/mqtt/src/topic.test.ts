import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopicTrie } from '@warren/core';
import {
  checkTopicFilter,
  checkTopicName,
  filterToBindingKey,
  parseSharedFilter,
  routingKeyToTopic,
  topicMatches,
  topicToRoutingKey,
} from './topic.js';

describe('topic translation (RabbitMQ mapping)', () => {
  it('swaps / and . and maps + to *', () => {
    expect(topicToRoutingKey('sensors/kitchen/temp')).toBe('sensors.kitchen.temp');
    expect(topicToRoutingKey('a.b/c')).toBe('a/b.c');
    expect(routingKeyToTopic('cmd.kitchen')).toBe('cmd/kitchen');
    expect(filterToBindingKey('cmd/+/x/#')).toBe('cmd.*.x.#');
  });

  it('round-trips any topic', () => {
    fc.assert(fc.property(fc.string(), (t) => {
        expect(routingKeyToTopic(topicToRoutingKey(t))).toBe(t);
      }),
    );
  });
});

describe('topic translation memo', () => {
  it('stays right for repeated, mixed and more unique topics than it remembers', () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 20_000; i++) {
        const t = i % 3 === 0 ? `dev/${i}/t` : i % 3 === 1 ? `dev.${i}.t` : `a.${i}/b`;
        const expected = i % 3 === 0 ? `dev.${i}.t` : i % 3 === 1 ? `dev/${i}/t` : `a/${i}.b`;
        expect(topicToRoutingKey(t)).toBe(expected);
        expect(routingKeyToTopic(expected)).toBe(t);
      }
    }
    // A topic past the remembered length is swapped all the same.
    const long = `${'x/'.repeat(300)}y`;
    expect(topicToRoutingKey(long)).toBe(`${'x.'.repeat(300)}y`);
  });
});

describe('topic rules', () => {
  it('[MQTT-3.3.2-2] names carry no wildcards; [MQTT-4.7.3-1] are not empty; no NUL', () => {
    expect(checkTopicName('a/b')).toBeUndefined();
    expect(checkTopicName('a/+')).toBe('wildcard-in-name');
    expect(checkTopicName('')).toBe('empty');
    expect(checkTopicName('a\u0000')).toBe('nul');
  });

  it('[MQTT-4.7.1-2] # only last and alone; [MQTT-4.7.1-3] + a whole level', () => {
    for (const ok of ['#', 'a/#', '+', '+/+', 'a/+/b', '/', 'a//b']) expect(checkTopicFilter(ok)).toBeUndefined();
    for (const bad of ['a#', 'a/#/b', 'a+', 'a/b+', '#/a']) expect(checkTopicFilter(bad)).toBe('bad-wildcard');
  });

  it('shared filters', () => {
    expect(parseSharedFilter('$share/g/a/+')).toEqual({ group: 'g', filter: 'a/+' });
    expect(parseSharedFilter('a/b')).toBeUndefined();
    expect(parseSharedFilter('$share/g')).toBeNull();
    expect(parseSharedFilter('$share//a')).toBeNull();
  });

  it('[MQTT-4.7.2-1] leading wildcards do not match $ topics', () => {
    expect(topicMatches('#', '$SYS/x')).toBe(false);
    expect(topicMatches('+/x', '$SYS/x')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/x')).toBe(true);
    expect(topicMatches('sport/#', 'sport')).toBe(true);
    expect(topicMatches('sport/+', 'sport')).toBe(false);
    expect(topicMatches('sport/+', 'sport/')).toBe(true);
  });

  it('topicMatches agrees with the core topic trie on translated keys (no $ topics, no empty levels)', () => {
    // Levels that are prefixes of each other ('a', 'ab', 'abc') or differ only in a later character ('ab'/'ac',
    // 'abc'/'abd'), so a level compared by length or first character alone fails.
    const level = fc.constantFrom('a', 'b', 'c', 'ab', 'ac', 'abc', 'abd', 'ba');
    const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
    const filter = fc.array(fc.constantFrom('a', 'b', 'ab', 'ac', 'abc', 'abd', '+', '#'), { minLength: 1, maxLength: 4 }).map((l) => {
      const i = l.indexOf('#');
      return (i >= 0 ? l.slice(0, i + 1) : l).join('/');
    });
    fc.assert(
      fc.property(filter, topic, (f, t) => {
        const trie = new TopicTrie<string>();
        trie.add(filterToBindingKey(f), 'x');
        const viaTrie = trie.match(topicToRoutingKey(t)).length > 0;
        expect(topicMatches(f, t)).toBe(viaTrie);
      }),
      { numRuns: 2000 },
    );
  });
});
