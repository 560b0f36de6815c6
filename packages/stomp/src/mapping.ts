/**
 * STOMP headers ⇄ AMQP properties and headers (DESIGN.md §4, RabbitMQ's rabbit_stomp_util).
 *
 * Twelve headers map to AMQP properties: content-type, content-encoding, persistent (delivery mode 2), priority,
 * correlation-id, reply-to, expiration, amqp-message-id, timestamp, type, user-id, app-id. Every other header of a
 * SEND becomes an AMQP header (a long string). On the way out, AMQP headers become STOMP headers; where RabbitMQ
 * drops typed values (booleans, floats, tables, arrays, ...) Warren sends the text form of {@link headerText}.
 */
import { headerText, type FieldTable, type MessageProperties } from '@warren/core';
import type { HeaderList } from './codec/encoder.js';

/**
 * Headers that belong to the frame, not to the message: never copied into AMQP headers. RabbitMQ copies `receipt`
 * and `transaction` into the message (its subscribers see them), and so does Warren.
 */
const FRAME_HEADERS = new Set(['destination', 'content-length']);

/** Headers the server sets on MESSAGE: they win over a publisher's headers of the same name. */
const SERVER_HEADERS = new Set(['subscription', 'destination', 'message-id', 'redelivered', 'ack', 'content-length']);

/** Property header names (also never copied into AMQP headers). */
const PROPERTY_HEADERS = new Set([
  'content-type',
  'content-encoding',
  'persistent',
  'priority',
  'correlation-id',
  'reply-to',
  'expiration',
  'amqp-message-id',
  'timestamp',
  'type',
  'user-id',
  'app-id',
]);

/** A header value that is not a valid integer: the SEND is refused. */
export class HeaderValueError extends Error {
  constructor(
    readonly header: string,
    readonly value: string,
  ) {
    super(`Invalid value for header "${header}": "${value}"`);
    this.name = 'HeaderValueError';
  }
}

function intHeader(name: string, value: string): number {
  if (!/^-?\d{1,15}$/.test(value.trim())) throw new HeaderValueError(name, value);
  return Number(value.trim());
}

/**
 * AMQP properties for a SEND's headers. `replyTo` is the already-translated reply-to (a temp-queue becomes the
 * bare name of its reply queue), or undefined to copy the header as is.
 */
export function propertiesFromHeaders(headers: ReadonlyMap<string, string>, replyTo: string | undefined): MessageProperties {
  const p: MessageProperties = {};
  let amqpHeaders: FieldTable | undefined;
  for (const [name, value] of headers) {
    switch (name) {
      case 'content-type':
        p.contentType = value;
        break;
      case 'content-encoding':
        p.contentEncoding = value;
        break;
      case 'persistent':
        if (value === 'true') p.deliveryMode = 2;
        break;
      case 'priority':
        p.priority = intHeader(name, value);
        break;
      case 'correlation-id':
        p.correlationId = value;
        break;
      case 'reply-to':
        p.replyTo = replyTo ?? value;
        break;
      case 'expiration':
        p.expiration = value;
        break;
      case 'amqp-message-id':
        p.messageId = value;
        break;
      case 'timestamp':
        p.timestamp = intHeader(name, value);
        break;
      case 'type':
        p.type = value;
        break;
      case 'user-id':
        p.userId = value;
        break;
      case 'app-id':
        p.appId = value;
        break;
      default:
        if (FRAME_HEADERS.has(name)) break;
        (amqpHeaders ??= {})[name] = value;
    }
  }
  if (amqpHeaders !== undefined) p.headers = amqpHeaders;
  return p;
}

/**
 * The text form of a typed AMQP header value on a MESSAGE: the core's one rule for text headers, shared with MQTT 5
 * user properties (documented in the package README).
 */
export { headerText };

/**
 * Append a MESSAGE's message headers (after the server headers): AMQP headers first, then properties, skipping
 * names the server already set (server headers always win).
 */
export function appendMessageHeaders(out: Array<[string, string]>, props: MessageProperties): void {
  const h = props.headers;
  if (h !== undefined) {
    for (const name in h) {
      if (SERVER_HEADERS.has(name) || PROPERTY_HEADERS.has(name)) continue;
      const v = h[name];
      if (v === undefined) continue;
      out.push([name, headerText(v)]);
    }
  }
  if (props.contentType !== undefined) out.push(['content-type', props.contentType]);
  if (props.contentEncoding !== undefined) out.push(['content-encoding', props.contentEncoding]);
  if (props.deliveryMode === 2) out.push(['persistent', 'true']);
  if (props.priority !== undefined) out.push(['priority', String(props.priority)]);
  if (props.correlationId !== undefined) out.push(['correlation-id', props.correlationId]);
  if (props.replyTo !== undefined) {
    // RabbitMQ: an AMQP reply-to that is a bare queue name reads as /reply-queue/<name> in STOMP.
    out.push(['reply-to', props.replyTo.startsWith('/') ? props.replyTo : '/reply-queue/' + props.replyTo]);
  }
  if (props.expiration !== undefined) out.push(['expiration', props.expiration]);
  if (props.messageId !== undefined) out.push(['amqp-message-id', props.messageId]);
  if (props.timestamp !== undefined) out.push(['timestamp', String(props.timestamp)]);
  if (props.type !== undefined) out.push(['type', props.type]);
  if (props.userId !== undefined) out.push(['user-id', props.userId]);
  if (props.appId !== undefined) out.push(['app-id', props.appId]);
}

/** Integer-valued queue arguments (RabbitMQ's rabbit_stomp_util / rabbit_routing_util list). */
const INT_ARGS = new Set([
  'x-expires',
  'x-max-length',
  'x-max-length-bytes',
  'x-max-priority',
  'x-message-ttl',
  'x-delivery-limit',
  'x-max-age-seconds',
  'x-stream-max-segment-size-bytes',
]);
const BOOL_ARGS = new Set(['x-single-active-consumer']);
const STRING_ARGS = new Set([
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-overflow',
  'x-queue-type',
  'x-queue-mode',
  'x-queue-master-locator',
  'x-max-age',
  'x-queue-version',
]);

/** Queue arguments from `x-*` headers of a SUBSCRIBE or SEND (typed as RabbitMQ types them). */
export function queueArguments(headers: ReadonlyMap<string, string>): FieldTable | undefined {
  let args: FieldTable | undefined;
  for (const [name, value] of headers) {
    if (!name.startsWith('x-')) continue;
    if (INT_ARGS.has(name)) (args ??= {})[name] = intHeader(name, value);
    else if (BOOL_ARGS.has(name)) (args ??= {})[name] = value === 'true';
    else if (STRING_ARGS.has(name)) (args ??= {})[name] = value;
  }
  return args;
}

/**
 * The consumer argument of a SUBSCRIBE's `x-stream-offset` header, as RabbitMQ's STOMP plugin reads it: `first`,
 * `last` and `next` as they are, `offset=<n>` an offset, `timestamp=<seconds>` a point in time; anything else is
 * ignored (the stream is read from `next`).
 */
export function streamOffsetArgument(value: string | undefined): string | number | Date | undefined {
  if (value === undefined) return undefined;
  if (value === 'first' || value === 'last' || value === 'next') return value;
  let m = /^offset=(\d{1,15})$/.exec(value);
  if (m !== null) return Number(m[1]);
  m = /^timestamp=(\d{1,12})$/.exec(value);
  if (m !== null) return new Date(Number(m[1]) * 1000);
  return undefined;
}

/** Re-export for callers that build header lists. */
export type { HeaderList };
