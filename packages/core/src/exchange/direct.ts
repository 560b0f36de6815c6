import type { Message } from '../contract.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

/** Direct exchange: routing key equals binding key, by hash lookup (AMQP 0-9-1 §3.1.3.1). */
export class DirectExchange extends Exchange {
  readonly type = 'direct';
  readonly #byKey = new Map<string, Destination[]>();

  route(message: Message, out: Destination[]): void {
    const list = this.#byKey.get(message.routingKey);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) out.push(list[i]!);
  }

  protected index(b: Binding): void {
    const list = this.#byKey.get(b.routingKey);
    if (list === undefined) this.#byKey.set(b.routingKey, [b.destination]);
    else list.push(b.destination);
  }

  protected unindex(b: Binding): void {
    const list = this.#byKey.get(b.routingKey);
    if (list === undefined) return;
    const i = list.indexOf(b.destination);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byKey.delete(b.routingKey);
  }
}
