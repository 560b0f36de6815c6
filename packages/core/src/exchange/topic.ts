import type { Message } from '../contract.js';
import { TopicTrie } from '../routing/topic-trie.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

/** Topic exchange: binding keys with '*' and '#' wildcards, matched by a {@link TopicTrie} (AMQP 0-9-1 §3.1.3.3). */
export class TopicExchange extends Exchange {
  readonly type = 'topic';
  readonly #trie = new TopicTrie<Destination>();

  route(message: Message, out: Destination[]): void {
    const list = this.#trie.match(message.routingKey);
    for (let i = 0; i < list.length; i++) out.push(list[i]!);
  }

  protected index(b: Binding): void {
    this.#trie.add(b.routingKey, b.destination);
  }

  protected unindex(b: Binding): void {
    this.#trie.remove(b.routingKey, b.destination);
  }
}
