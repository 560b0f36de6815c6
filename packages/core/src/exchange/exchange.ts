import type { FieldTable, Message } from '../contract.js';
import { tableKey } from '../message/message.js';
import type { Queue } from '../queue/queue.js';
import type { SampleRing } from '../stats/sample-ring.js';

/** Where a binding leads: a queue, or another exchange (exchange-to-exchange binding). */
export type Destination = Queue | Exchange;

/** One binding from an exchange to a destination. */
export interface Binding {
  readonly source: Exchange;
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable | undefined;
  /** Identity within the source: destination + routing key + arguments (RabbitMQ's binding key). */
  readonly id: string;
}

/** Identity of a binding within its source exchange. */
export function bindingId(destination: Destination, routingKey: string, args: FieldTable | undefined): string {
  return `${destination.kind[0]}${destination.name}\u0001${routingKey}\u0001${tableKey(args)}`;
}

/** Declared properties of an exchange. */
export interface ExchangeSettings {
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

/**
 * An exchange: a named router. Each type (one file each) indexes its bindings its own way and implements
 * {@link Exchange.route}, which appends matching destinations to a scratch array without allocating.
 */
export abstract class Exchange {
  readonly kind = 'exchange' as const;
  readonly name: string;
  abstract readonly type: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  /** The alternate-exchange: its argument, else the one its policy names (rabbit_policy:get_arg), or undefined. */
  alternateExchange: string | undefined;
  /** Names of the policy and operator policy applied now (management lists them). */
  policy: string | undefined = undefined;
  operatorPolicy: string | undefined = undefined;
  /** All bindings with this exchange as source, by id. */
  readonly bindings = new Map<string, Binding>();
  /** Bindings with this exchange as destination (exchange-to-exchange), to remove when it is deleted. */
  readonly incoming = new Set<Binding>();
  /** Routing epoch stamp: set when visited during one route, so cycles and diamonds are walked once. */
  routeMark = 0;
  /** Messages published into this exchange by clients (management's publish_in). */
  publishIn = 0;
  /** Of those, the ones routed to at least one queue (publish_out). */
  publishOut = 0;
  /** Rates; allocated by the sampler once the exchange has had traffic. */
  samples: SampleRing | undefined = undefined;

  constructor(name: string, settings: ExchangeSettings) {
    this.name = name;
    this.durable = settings.durable;
    this.autoDelete = settings.autoDelete;
    this.internal = settings.internal;
    this.arguments = settings.arguments;
    const ae = settings.arguments['alternate-exchange'];
    this.alternateExchange = typeof ae === 'string' ? ae : undefined;
  }

  /** Append the destinations of every binding matching the message to `out` (duplicates allowed). */
  abstract route(message: Message, out: Destination[]): void;

  /**
   * Check binding arguments before a bind (e.g. the headers exchange's x-match); throws BrokerError.
   * The default accepts anything.
   */
  validateBinding(_routingKey: string, _args: FieldTable | undefined): void {}

  protected abstract index(binding: Binding): void;
  protected abstract unindex(binding: Binding): void;

  /** Add a binding; false when an identical one exists (binding is idempotent in AMQP). */
  addBinding(binding: Binding): boolean {
    if (this.bindings.has(binding.id)) return false;
    this.bindings.set(binding.id, binding);
    this.index(binding);
    return true;
  }

  /** Remove a binding by id; returns it, or undefined when there was none. */
  removeBinding(id: string): Binding | undefined {
    const b = this.bindings.get(id);
    if (b === undefined) return undefined;
    this.bindings.delete(id);
    this.unindex(b);
    return b;
  }
}
