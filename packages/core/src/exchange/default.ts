import type { Message } from '../contract.js';
import type { Queue } from '../queue/queue.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

/**
 * The default exchange '' (AMQP 0-9-1 §3.1.3.1): a direct exchange implicitly bound to every queue by its name.
 * It cannot be bound to, declared or deleted.
 */
export class DefaultExchange extends Exchange {
  readonly type = 'direct';
  readonly #queues: ReadonlyMap<string, Queue>;

  constructor(queues: ReadonlyMap<string, Queue>) {
    super('', { durable: true, autoDelete: false, internal: false, arguments: {} });
    this.#queues = queues;
  }

  route(message: Message, out: Destination[]): void {
    const q = this.#queues.get(message.routingKey);
    if (q !== undefined) out.push(q);
  }

  protected index(_b: Binding): void {
    throw new Error('the default exchange has no explicit bindings');
  }

  protected unindex(_b: Binding): void {}
}
