/**
 * The UI's live views: GET /api/ui/stream?watch=<api path>[&watch=...] opens an event stream on which the server
 * re-reads each watched API path as the stream's user (through the app itself, so every rule of the API applies),
 * at most once per {@link LIVE_INTERVAL_MS}, and pushes it only when its answer changed. The page opens one stream
 * per view, closes it when the view or the tab goes away, and never polls.
 */
import type { FastifyInstance } from 'fastify';
import type { Routes } from '../app.js';
import { badRequest } from '../http-error.js';
import { openEventStream } from '../sse.js';

/** How often a watched path is re-read: the throttle of every live view. */
export const LIVE_INTERVAL_MS = 1000;
/** Paths one stream may watch. */
export const MAX_WATCHES = 8;

/** The watch parameters of a stream request: API GET paths, never the UI's own event streams. */
export function watchedPaths(raw: string | string[] | undefined): string[] {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw badRequest('watch: at least one API path is required');
  if (list.length > MAX_WATCHES) throw badRequest(`watch: at most ${MAX_WATCHES} paths`);
  for (const p of list) {
    if (!p.startsWith('/api/') || p.startsWith('/api/ui/stream') || p.startsWith('/api/ui/tail')) throw badRequest(`watch: not an API path: ${p}`);
  }
  return list;
}

export function registerLiveRoutes(r: Routes, app: FastifyInstance): void {
  r.resource('/api/ui/stream', {
    GET: (req, reply) => {
      const paths = watchedPaths(req.query['watch']);
      const headers = { authorization: req.headers.authorization ?? '' };
      const remoteAddress = req.raw.socket.remoteAddress ?? '127.0.0.1';
      const stream = openEventStream(req.raw, reply);
      const last = new Map<string, string>();
      let timer: NodeJS.Timeout | undefined;
      const round = async (): Promise<void> => {
        for (const path of paths) {
          if (stream.closed) return;
          const res = await app.inject({ method: 'GET', url: path, headers, remoteAddress });
          if (stream.closed) return;
          const key = `${res.statusCode} ${res.payload}`;
          if (last.get(path) === key) continue;
          last.set(path, key);
          let body: unknown = null;
          try {
            body = res.payload === '' ? null : JSON.parse(res.payload);
          } catch {
            body = res.payload;
          }
          stream.send('update', { path, status: res.statusCode, body });
        }
        // The next round starts a full interval after this one ended, so a slow view never piles up rounds.
        if (!stream.closed) timer = setTimeout(() => void round().catch(fail), LIVE_INTERVAL_MS);
      };
      const fail = (err: unknown): void => {
        r.ctx.logger.warn({ err }, 'live view failed');
        stream.end();
      };
      stream.onClose(() => clearTimeout(timer));
      void round().catch(fail);
      return undefined;
    },
  });
}
