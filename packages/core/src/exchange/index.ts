import { BrokerError } from '../errors.js';
import { DirectExchange } from './direct.js';
import type { Exchange, ExchangeSettings } from './exchange.js';
import { FanoutExchange } from './fanout.js';
import { HeadersExchange } from './headers.js';
import { TopicExchange } from './topic.js';

/** The exchange types this broker knows. */
export const EXCHANGE_TYPES = ['direct', 'fanout', 'topic', 'headers'] as const;

/**
 * Names RabbitMQ reports as "invalid" rather than "unknown". RabbitMQ's rabbit_exchange:check_type says "unknown
 * exchange type" when the name is not an existing Erlang atom and "invalid exchange type" when it is an atom but not
 * a registered type; this is the part of that atom table that clients and tutorials actually send.
 */
const KNOWN_ATOMS = new Set(['foo', 'bar', 'baz', 'test', 'invalid', 'undefined', 'true', 'false', 'error', 'ok', 'none', 'all', 'any', 'queue', 'exchange', 'binding', 'local', 'global']);

/**
 * The error for an exchange type this broker does not have, worded as RabbitMQ does: a 406 PRECONDITION_FAILED
 * channel error, as RabbitMQ 4 answers (3.x closed the whole connection with 503 COMMAND_INVALID).
 */
export function invalidExchangeType(type: string): BrokerError {
  return new BrokerError('PRECONDITION_FAILED', `${KNOWN_ATOMS.has(type) ? 'invalid' : 'unknown'} exchange type '${type}'`);
}

/** Create an exchange of a named type; PRECONDITION_FAILED (a 406 channel error) otherwise. */
export function createExchange(name: string, type: string, settings: ExchangeSettings): Exchange {
  switch (type) {
    case 'direct':
      return new DirectExchange(name, settings);
    case 'fanout':
      return new FanoutExchange(name, settings);
    case 'topic':
      return new TopicExchange(name, settings);
    case 'headers':
      return new HeadersExchange(name, settings);
    default:
      throw invalidExchangeType(type);
  }
}

export { DirectExchange, FanoutExchange, HeadersExchange, TopicExchange };
export type { Binding, Destination, ExchangeSettings } from './exchange.js';
export { Exchange, bindingId } from './exchange.js';
