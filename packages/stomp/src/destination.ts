/**
 * RabbitMQ's STOMP destinations (rabbit_routing_parser): `/queue/q`, `/amq/queue/q`, `/topic/key`,
 * `/exchange/x[/key]`, `/temp-queue/n` and `/reply-queue/q`.
 */

/** A parsed destination. */
export type Destination =
  | { readonly kind: 'queue'; readonly name: string }
  | { readonly kind: 'amq-queue'; readonly name: string }
  | { readonly kind: 'topic'; readonly key: string }
  | { readonly kind: 'exchange'; readonly exchange: string; readonly key: string }
  | { readonly kind: 'temp-queue'; readonly name: string }
  | { readonly kind: 'reply-queue'; readonly name: string };

/** RabbitMQ's list, in its order, for the "Unknown destination" ERROR body. */
export const VALID_DESTINATION_TYPES = '/temp-queue, /exchange, /topic, /queue, /amq/queue, /reply-queue/';

/** Percent-decode as RabbitMQ does (so `%2F` can put a slash in a name); undefined on a bad escape. */
function unquote(s: string): string | undefined {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Parse a destination header; undefined when it is not one of RabbitMQ's forms. */
export function parseDestination(dest: string): Destination | undefined {
  const rest = (prefix: string): string | undefined => {
    if (!dest.startsWith(prefix)) return undefined;
    const r = dest.slice(prefix.length);
    return r === '' ? undefined : unquote(r);
  };
  let r: string | undefined;
  if ((r = rest('/queue/')) !== undefined) return r.includes('/') ? undefined : { kind: 'queue', name: r };
  if ((r = rest('/amq/queue/')) !== undefined) return r.includes('/') ? undefined : { kind: 'amq-queue', name: r };
  if ((r = rest('/topic/')) !== undefined) return { kind: 'topic', key: r };
  if ((r = rest('/temp-queue/')) !== undefined) return r.includes('/') ? undefined : { kind: 'temp-queue', name: r };
  if ((r = rest('/reply-queue/')) !== undefined) return { kind: 'reply-queue', name: r };
  if (dest.startsWith('/exchange/')) {
    const body = dest.slice('/exchange/'.length);
    const slash = body.indexOf('/');
    const exchange = unquote(slash < 0 ? body : body.slice(0, slash));
    const key = slash < 0 ? '' : unquote(body.slice(slash + 1));
    if (exchange === undefined || exchange === '' || key === undefined) return undefined;
    return { kind: 'exchange', exchange, key };
  }
  return undefined;
}

/** The destination types whose malformed forms RabbitMQ names in its "Invalid destination" ERROR. */
const TYPE_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['/queue', 'queue'],
  ['/amq/queue', 'amqqueue'],
  ['/topic', 'topic'],
  ['/exchange', 'exchange'],
  ['/temp-queue', 'temp_queue'],
  ['/reply-queue', 'reply_queue'],
];

/**
 * RabbitMQ's ERROR body for a destination that starts with a known type but is malformed (`/queue/`, `/queue/a/b`,
 * `/exchange/`): `'<rest>' is not a valid <type> destination`, the rest being what follows the type; undefined when
 * the destination names no known type (then it is an "Unknown destination").
 */
export function invalidDestinationDetail(dest: string): string | undefined {
  for (const [prefix, name] of TYPE_NAMES) {
    if (dest.startsWith(prefix + '/')) return `'${dest.slice(prefix.length)}' is not a valid ${name} destination\n`;
  }
  return undefined;
}

/** The `destination` header of a MESSAGE for a message published to `exchange` with `routingKey` (RabbitMQ's form). */
export function destinationOf(exchange: string, routingKey: string): string {
  if (exchange === '') return '/queue/' + routingKey;
  if (exchange === 'amq.topic') return '/topic/' + routingKey;
  // No routing key (a fanout publish to `/exchange/amq.fanout`): no trailing slash, as RabbitMQ writes it.
  return routingKey === '' ? '/exchange/' + exchange : '/exchange/' + exchange + '/' + routingKey;
}
