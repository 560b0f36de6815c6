/**
 * Server-Sent Events over a hijacked fastify reply: the live views and the tail of the management UI. The page reads
 * them with fetch() (not EventSource, which cannot send the Authorization header the API's Basic auth needs).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** One open event stream. */
export interface EventStream {
  /** Send one event; returns false when the socket's buffer is full (the caller decides what to drop). */
  send(event: string, data: unknown): boolean;
  /** Called once the socket has drained after a `send` returned false. */
  onDrain(fn: () => void): void;
  /** Called once when the client goes away (or the server ends the stream). */
  onClose(fn: () => void): void;
  readonly closed: boolean;
  end(): void;
}

/** Keep-alive comments, so proxies and the page notice a dead stream. */
const HEARTBEAT_MS = 15_000;

const openStreams = new WeakMap<FastifyInstance, Set<EventStream>>();

/**
 * End every open event stream when `app` closes: they never go idle, so the server's close would otherwise wait for
 * every open page to leave.
 */
export function endEventStreamsOnClose(app: FastifyInstance): void {
  const set = new Set<EventStream>();
  openStreams.set(app, set);
  app.addHook('preClose', (done) => {
    for (const s of [...set]) s.end();
    done();
  });
}

/** Turn `reply` into an event stream (status 200, text/event-stream, no compression, no caching). */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): EventStream {
  void reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': warren\n\n');
  const closers: Array<() => void> = [];
  let closed = false;
  const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const fn of closers.splice(0)) fn();
  };
  request.raw.on('close', close);
  res.on('close', close);
  const registry = openStreams.get(request.server);
  const stream: EventStream = {
    send(event, data) {
      if (closed) return false;
      return res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    onDrain(fn) {
      res.on('drain', fn);
    },
    onClose(fn) {
      if (closed) fn();
      else closers.push(fn);
    },
    get closed() {
      return closed;
    },
    end() {
      close();
      res.end();
    },
  };
  registry?.add(stream);
  closers.push(() => registry?.delete(stream));
  return stream;
}
