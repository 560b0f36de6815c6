import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topicMatches } from './topic.js';
import { TopicTrie } from './topic-trie.js';

// Small alphabets so that random filters and topics actually meet; '' and '$x' levels exercise the edge rules.
const level = fc.constantFrom('', 'a', 'b', 'c', '$x');
const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/')).filter((t) => t.length > 0);
const filter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'))
  .filter((f) => f.length > 0);
const ops = fc.array(fc.tuple(topic, fc.boolean()), { maxLength: 60 });

describe('TopicTrie', () => {
  it('matches exactly what a scan with topicMatches finds, in insertion order, after random sets and deletes', () => {
    fc.assert(
      fc.property(ops, fc.array(filter, { minLength: 1, maxLength: 8 }), (operations, filters) => {
        const trie = new TopicTrie<string>();
        const map = new Map<string, string>();
        for (const [t, keep] of operations) {
          if (keep) {
            trie.set(t, t);
            map.set(t, t);
          } else {
            expect(trie.delete(t)).toBe(map.delete(t));
          }
        }
        expect(trie.size).toBe(map.size);
        for (const f of [...filters, '#', '+']) {
          const scan = [...map.values()].filter((t) => topicMatches(f, t));
          expect(trie.match(f)).toEqual(scan);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('follows the spec examples: # includes the parent level, $ topics need an explicit first level', () => {
    const trie = new TopicTrie<string>();
    for (const t of ['sport', 'sport/tennis', 'sport/tennis/player1', '/finance', '$SYS/uptime']) trie.set(t, t);
    expect(trie.match('sport/#')).toEqual(['sport', 'sport/tennis', 'sport/tennis/player1']);
    expect(trie.match('sport/+')).toEqual(['sport/tennis']);
    expect(trie.match('+/+')).toEqual(['sport/tennis', '/finance']);
    expect(trie.match('#')).toEqual(['sport', 'sport/tennis', 'sport/tennis/player1', '/finance']);
    expect(trie.match('$SYS/#')).toEqual(['$SYS/uptime']);
    expect(trie.delete('sport/tennis')).toBe(true);
    expect(trie.match('sport/#')).toEqual(['sport', 'sport/tennis/player1']);
  });
});
