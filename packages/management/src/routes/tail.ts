/**
 * The UI's live tail: GET /api/ui/tail?vhost=&exchange=&key= (a binding key) or &topic= (an MQTT topic filter)
 * opens an event stream of the messages routed there. Server side it is an AMQP client's tail: an internal connection
 * opened as the request's user, a private exclusive auto-delete queue bound as asked, consumed without acks; the
 * connection closes (and the queue goes) when the page goes. The queue is capped (x-max-length, oldest dropped) and
 * the page gets batches at most every {@link TAIL_FLUSH_MS}; what cannot be sent while the socket is full is dropped
 * and counted.
 */
import type { ChannelHost, ConnectionHost, ConnectionInfo, Delivery, Message } from '@warren/core';
import type { Routes } from '../app.js';
import { jsonToTable } from '../format.js';
import { notFound, toHttpError } from '../http-error.js';
import { param } from '../list-query.js';
import { openEventStream } from '../sse.js';
import { formatProperties } from './queues.js';

/** Messages held for the page between flushes (and while its socket is full); more are dropped and counted. */
export const TAIL_BUFFER = 500;
/** Batching interval of the tail. */
export const TAIL_FLUSH_MS = 100;
/** Payload bytes shown per message. */
export const TAIL_PAYLOAD_BYTES = 4096;

/** An MQTT topic filter as the binding key MQTT subscriptions use on amq.topic: `/`→`.`, `+`→`*`, `#` stays. */
export function topicFilterToBindingKey(filter: string): string {
  return filter
    .split('/')
    .map((level) => (level === '+' ? '*' : level.replace(/\./g, '/')))
    .join('.');
}

/** One tailed message as the page gets it. */
export function tailEntry(m: Message, at: number): Record<string, unknown> {
  const body = m.body.length > TAIL_PAYLOAD_BYTES ? m.body.subarray(0, TAIL_PAYLOAD_BYTES) : m.body;
  const text = body.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(body);
  return {
    at,
    exchange: m.exchange,
    routing_key: m.routingKey,
    properties: formatProperties(m.properties),
    payload: isText ? text : body.toString('base64'),
    payload_encoding: isText ? 'string' : 'base64',
    payload_bytes: m.body.length,
    truncated: body.length < m.body.length,
  };
}

const NO_ALARMS: ConnectionHost = { blocked() {}, unblocked() {} };
let nextTail = 0;

export function registerTailRoutes(r: Routes): void {
  const { ctx } = r;
  r.resource('/api/ui/tail', {
    GET: (req, reply) => {
      const vhost = param(req.query, 'vhost') ?? '/';
      const exchange = param(req.query, 'exchange') ?? 'amq.topic';
      const topic = param(req.query, 'topic');
      const key = topic !== undefined ? topicFilterToBindingKey(topic) : (param(req.query, 'key') ?? '#');
      if (ctx.broker.vhost(vhost) === undefined) throw notFound();
      req.principal.requireVhostAccess(vhost);
      const info: ConnectionInfo = {
        id: `management-tail-${++nextTail}`,
        protocol: 'http',
        remoteAddress: req.raw.socket.remoteAddress ?? '127.0.0.1',
        remotePort: req.raw.socket.remotePort ?? 0,
        localPort: req.raw.socket.localPort ?? 0,
        tls: false,
        listener: 'management',
        internal: true,
      };
      const buffer: Record<string, unknown>[] = [];
      let dropped = 0;
      let full = false;
      let timer: NodeJS.Timeout | undefined;
      const host: ChannelHost = {
        writable: true,
        deliver(d: Delivery) {
          if (buffer.length >= TAIL_BUFFER) {
            dropped++;
            return;
          }
          buffer.push(tailEntry(d.message, Date.now()));
          timer ??= setTimeout(flush, TAIL_FLUSH_MS);
        },
        confirm() {},
        returned() {},
        consumerCancelled() {
          stream.send('cancelled', { reason: 'the tail queue was deleted' });
          stream.end();
        },
      };
      const connection = ctx.broker.openConnection(info, req.principal.user, vhost, NO_ALARMS);
      const ch = connection.openChannel(host);
      let queue: string;
      try {
        // x-max-length keeps the core's side bounded too when the page reads slower than messages arrive.
        queue = ch.declareQueue('', { exclusive: true, autoDelete: true, arguments: jsonToTable({ 'x-max-length': 10_000 }) }).queue;
        ch.bindQueue(queue, exchange, key);
        ch.consume(queue, { noAck: true });
      } catch (err) {
        connection.close();
        throw toHttpError(err) ?? err;
      }
      const stream = openEventStream(req.raw, reply);
      const flush = (): void => {
        timer = undefined;
        if (stream.closed || full || buffer.length === 0) return;
        const batch = buffer.splice(0);
        full = !stream.send('messages', { messages: batch, dropped });
      };
      stream.onDrain(() => {
        full = false;
        flush();
      });
      stream.onClose(() => {
        clearTimeout(timer);
        connection.close();
      });
      stream.send('ready', { vhost, exchange, binding_key: key, queue, ...(topic !== undefined ? { topic } : {}) });
      return undefined;
    },
  });
}
