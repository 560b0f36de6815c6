import { BrokerError } from '../errors.js';
import { DirectExchange } from './direct.js';
import type { Exchange, ExchangeSettings } from './exchange.js';
import { FanoutExchange } from './fanout.js';
import { HeadersExchange } from './headers.js';
import { TopicExchange } from './topic.js';

/** The exchange types this broker knows. */
export const EXCHANGE_TYPES = ['direct', 'fanout', 'topic', 'headers'] as const;

/** Create an exchange of a named type; COMMAND_INVALID "invalid exchange type 'foo'" otherwise (RabbitMQ 503). */
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
      throw new BrokerError('COMMAND_INVALID', `invalid exchange type '${type}'`);
  }
}

export { DirectExchange, FanoutExchange, HeadersExchange, TopicExchange };
export type { Binding, Destination, ExchangeSettings } from './exchange.js';
export { Exchange, bindingId } from './exchange.js';
