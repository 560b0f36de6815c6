/**
 * The Prometheus endpoint (rabbitmq_prometheus, port 15692): plain node:http rather than fastify, because it is three
 * unauthenticated GET paths whose answer is a stream: writing the generator's chunks straight to the response, waiting
 * for 'drain' when the socket is full, is all it needs, and it stays clear of the management app's auth hooks.
 */
import { once, type EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ManagementContext } from '../context.js';
import { DETAILED_FAMILIES, renderExposition, type ExpositionView } from './exposition.js';

/** A listening Prometheus endpoint. */
export interface PrometheusServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The exposition of a request path, or undefined (404). */
export function viewOf(url: URL): ExpositionView | undefined {
  switch (url.pathname) {
    case '/metrics':
      return { kind: 'aggregated' };
    case '/metrics/per-object':
      return { kind: 'per-object' };
    case '/metrics/detailed': {
      const families = url.searchParams.getAll('family').filter((f) => (DETAILED_FAMILIES as readonly string[]).includes(f));
      const vhosts = url.searchParams.getAll('vhost');
      return { kind: 'detailed', families, vhosts: vhosts.length > 0 ? vhosts : undefined };
    }
    default:
      return undefined;
  }
}

async function answer(ctx: ManagementContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const view = viewOf(new URL(req.url ?? '/', 'http://localhost'));
  if (view === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(view === undefined ? 404 : 405, { 'content-type': 'text/plain' }).end(view === undefined ? 'Not Found\n' : 'Method Not Allowed\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  for await (const chunk of renderExposition(ctx, view)) {
    if (res.destroyed) return;
    if (!res.write(chunk)) await drainOrClose(res);
  }
  res.end();
}

/**
 * Wait until `res` drains or closes. The listener of the event that did not happen is removed: a scrape of 100,000
 * queues waits for drain hundreds of times, and leftover listeners would pile up on the response.
 */
export async function drainOrClose(res: http.ServerResponse | EventEmitter): Promise<void> {
  const ac = new AbortController();
  // The loser rejects with AbortError once aborted; an 'error' ends the wait too (the caller sees res.destroyed).
  const event = (name: string): Promise<unknown> => once(res, name, { signal: ac.signal }).catch(() => undefined);
  await Promise.race([event('drain'), event('close')]);
  ac.abort();
}

/** Listen on `port` (0 = any free port) at `host` and serve the exposition. */
export async function startPrometheusServer(ctx: ManagementContext, options: { port: number; host?: string }): Promise<PrometheusServer> {
  const server = http.createServer((req, res) => {
    answer(ctx, req, res).catch((err: unknown) => {
      ctx.logger.error({ err }, 'prometheus scrape failed');
      res.destroy();
    });
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
