/**
 * A trie of MQTT topic names, one node per level, for matching a wildcard filter against many stored topics (the
 * retained messages of a vhost) in time proportional to the levels the filter can reach rather than to every topic.
 * Matching follows {@link topicMatches} exactly: `+` is one level (possibly empty), `#` is the parent level and every
 * level below, and topics starting with `$` are not matched by a filter starting with a wildcard ([MQTT-4.7.2-1]).
 */

interface TrieNode<V> {
  children: Map<string, TrieNode<V>> | undefined;
  value: V | undefined;
  /** Insertion number of `value`, so results come back in insertion order (like a Map's iteration). */
  seq: number;
}

const newNode = <V>(): TrieNode<V> => ({ children: undefined, value: undefined, seq: 0 });

/** Topic name → value, with wildcard-filter lookup. */
export class TopicTrie<V> {
  readonly #root: TrieNode<V> = newNode();
  #seq = 0;
  #size = 0;

  /** Number of topics stored. */
  get size(): number {
    return this.#size;
  }

  /** Store `value` under `topic`; an existing topic keeps its place in the order. */
  set(topic: string, value: V): void {
    let node = this.#root;
    for (const level of topic.split('/')) {
      node.children ??= new Map();
      let next = node.children.get(level);
      if (next === undefined) node.children.set(level, (next = newNode()));
      node = next;
    }
    if (node.value === undefined) {
      node.seq = ++this.#seq;
      this.#size++;
    }
    node.value = value;
  }

  /** Remove `topic`; true if it was there. Empty nodes on its path are pruned. */
  delete(topic: string): boolean {
    const path: Array<[TrieNode<V>, string]> = [];
    let node = this.#root;
    for (const level of topic.split('/')) {
      const next = node.children?.get(level);
      if (next === undefined) return false;
      path.push([node, level]);
      node = next;
    }
    if (node.value === undefined) return false;
    node.value = undefined;
    this.#size--;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i] as [TrieNode<V>, string];
      const child = parent.children?.get(level) as TrieNode<V>;
      if (child.value !== undefined || (child.children !== undefined && child.children.size > 0)) break;
      parent.children?.delete(level);
    }
    return true;
  }

  /** Values whose topic matches `filter` (a valid filter), in insertion order. */
  match(filter: string): V[] {
    const found: Array<TrieNode<V>> = [];
    this.#match(this.#root, filter.split('/'), 0, found);
    found.sort((a, b) => a.seq - b.seq);
    return found.map((n) => n.value as V);
  }

  #match(node: TrieNode<V>, levels: readonly string[], i: number, found: Array<TrieNode<V>>): void {
    if (i === levels.length) {
      if (node.value !== undefined) found.push(node);
      return;
    }
    const level = levels[i] as string;
    const atRoot = i === 0;
    if (level === '#') {
      // "a/#" also matches "a" itself (MQTT 3.1.1 §4.7.1.2).
      if (node.value !== undefined) found.push(node);
      if (node.children !== undefined) {
        for (const [key, child] of node.children) if (!(atRoot && key.startsWith('$'))) this.#collect(child, found);
      }
      return;
    }
    if (node.children === undefined) return;
    if (level === '+') {
      for (const [key, child] of node.children) if (!(atRoot && key.startsWith('$'))) this.#match(child, levels, i + 1, found);
      return;
    }
    const child = node.children.get(level);
    if (child !== undefined) this.#match(child, levels, i + 1, found);
  }

  #collect(node: TrieNode<V>, found: Array<TrieNode<V>>): void {
    if (node.value !== undefined) found.push(node);
    if (node.children !== undefined) for (const child of node.children.values()) this.#collect(child, found);
  }
}
