import type { Message } from '../contract.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

/** Fanout exchange: every binding matches, the routing key is ignored (AMQP 0-9-1 §3.1.3.2). */
export class FanoutExchange extends Exchange {
  readonly type = 'fanout';
  readonly #all: Destination[] = [];

  route(_message: Message, out: Destination[]): void {
    const all = this.#all;
    for (let i = 0; i < all.length; i++) out.push(all[i]!);
  }

  protected index(b: Binding): void {
    this.#all.push(b.destination);
  }

  protected unindex(b: Binding): void {
    const i = this.#all.indexOf(b.destination);
    if (i >= 0) this.#all.splice(i, 1);
  }
}
