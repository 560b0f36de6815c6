/**
 * Topic routing by a trie of binding-key words (AMQP 0-9-1 §3.1.3.3, RabbitMQ's topic exchange semantics).
 *
 * Binding keys and routing keys are lists of words separated by '.'. The empty string is zero words (RabbitMQ's
 * `split_topic_key(<<>>) -> []`), so "a..b" has an empty middle word and "" has none. In a binding key '*' matches
 * exactly one word (possibly empty) and '#' matches zero or more words.
 *
 * Lookup cost depends on the routing key's length and the bindings that can match it, not on the total number of
 * bindings: literal words are map lookups, wildcards are followed only from nodes that have them. Keys bound without
 * any wildcard are also kept in a plain map (the literal fast path, used alone while no wildcard binding exists), and
 * results are kept in a bounded cache that every add/remove clears (the nats-server sublist idea).
 */

class TrieNode<T> {
  children: Map<string, TrieNode<T>> | undefined = undefined;
  star: TrieNode<T> | undefined = undefined;
  hash: TrieNode<T> | undefined = undefined;
  /** Values bound with a key ending at this node; duplicates allowed (one per binding). */
  values: T[] | undefined = undefined;
  /** Match stamp: the node's values were already collected in this match. */
  mark = 0;

  isEmpty(): boolean {
    return (
      this.values === undefined &&
      this.star === undefined &&
      this.hash === undefined &&
      (this.children === undefined || this.children.size === 0)
    );
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

/** Split a topic key into words; '' is zero words. */
export function topicWords(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

/** A topic-pattern → value index with a literal fast path and a bounded match cache. */
export class TopicTrie<T> {
  readonly #root = new TrieNode<T>();
  /** Keys without '*' or '#' words. */
  readonly #literal = new Map<string, T[]>();
  #wildcards = 0;
  #size = 0;
  #epoch = 0;
  readonly #cache = new Map<string, readonly T[]>();
  readonly #cacheMax: number;

  /** @param cacheMax most routing keys whose result is cached at once (the cache is cleared when full). */
  constructor(cacheMax = 4096) {
    this.#cacheMax = cacheMax;
  }

  /** Number of (pattern, value) entries. */
  get size(): number {
    return this.#size;
  }

  /** Add one entry. The same (pattern, value) may be added more than once; each add needs its own remove. */
  add(pattern: string, value: T): void {
    this.#cache.clear();
    this.#size++;
    const words = topicWords(pattern);
    if (!words.includes('*') && !words.includes('#')) {
      const list = this.#literal.get(pattern);
      if (list === undefined) this.#literal.set(pattern, [value]);
      else list.push(value);
      return;
    }
    this.#wildcards++;
    let node = this.#root;
    for (const w of words) {
      if (w === '*') node = node.star ??= new TrieNode<T>();
      else if (w === '#') node = node.hash ??= new TrieNode<T>();
      else {
        node.children ??= new Map();
        let next = node.children.get(w);
        if (next === undefined) {
          next = new TrieNode<T>();
          node.children.set(w, next);
        }
        node = next;
      }
    }
    (node.values ??= []).push(value);
  }

  /** Remove one entry; returns false when it was not there. */
  remove(pattern: string, value: T): boolean {
    const words = topicWords(pattern);
    if (!words.includes('*') && !words.includes('#')) {
      const list = this.#literal.get(pattern);
      if (list === undefined) return false;
      const i = list.indexOf(value);
      if (i < 0) return false;
      list.splice(i, 1);
      if (list.length === 0) this.#literal.delete(pattern);
      this.#cache.clear();
      this.#size--;
      return true;
    }
    const path: TrieNode<T>[] = [this.#root];
    let node: TrieNode<T> | undefined = this.#root;
    for (const w of words) {
      node = w === '*' ? node.star : w === '#' ? node.hash : node.children?.get(w);
      if (node === undefined) return false;
      path.push(node);
    }
    const values = node.values;
    const i = values === undefined ? -1 : values.indexOf(value);
    if (values === undefined || i < 0) return false;
    values.splice(i, 1);
    if (values.length === 0) node.values = undefined;
    // Prune empty nodes bottom-up so dead branches cost nothing at match time.
    for (let d = words.length; d > 0; d--) {
      const child = path[d]!;
      if (!child.isEmpty()) break;
      const parent = path[d - 1]!;
      const w = words[d - 1]!;
      if (w === '*') parent.star = undefined;
      else if (w === '#') parent.hash = undefined;
      else parent.children?.delete(w);
    }
    this.#wildcards--;
    this.#cache.clear();
    this.#size--;
    return true;
  }

  /**
   * Values whose pattern matches `routingKey`, each entry at most once (a value added under two matching patterns
   * appears twice). The returned array is shared: do not modify it.
   */
  match(routingKey: string): readonly T[] {
    if (this.#wildcards === 0) return this.#literal.get(routingKey) ?? EMPTY;
    const cached = this.#cache.get(routingKey);
    if (cached !== undefined) return cached;
    const out: T[] = [];
    const literal = this.#literal.get(routingKey);
    if (literal !== undefined) for (const v of literal) out.push(v);
    const words = topicWords(routingKey);
    this.#visit(this.#root, words, 0, out, ++this.#epoch);
    if (this.#cache.size >= this.#cacheMax) this.#cache.clear();
    this.#cache.set(routingKey, out);
    return out;
  }

  /** Depth-first walk; the `epoch` stamp makes each terminal node contribute once even when several '#' paths reach it. */
  #visit(node: TrieNode<T>, words: string[], i: number, out: T[], epoch: number): void {
    const hash = node.hash;
    if (hash !== undefined) {
      // '#' swallows words i..j-1 for every j; then matching continues from the '#' node at j.
      for (let j = i; j <= words.length; j++) this.#visit(hash, words, j, out, epoch);
    }
    if (i === words.length) {
      if (node.values !== undefined && node.mark !== epoch) {
        node.mark = epoch;
        for (const v of node.values) out.push(v);
      }
      return;
    }
    const child = node.children?.get(words[i]!);
    if (child !== undefined) this.#visit(child, words, i + 1, out, epoch);
    if (node.star !== undefined) this.#visit(node.star, words, i + 1, out, epoch);
  }
}
