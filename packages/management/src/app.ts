/**
 * The management HTTP application (fastify): authentication, RabbitMQ's error bodies, body parsing and limits, gzip,
 * and the resource table every route file registers into. Tests drive it with `app.inject()`, no socket needed.
 */
import compress from '@fastify/compress';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { authenticateRequest, type Principal } from './auth.js';
import type { ManagementContext } from './context.js';
import { badRequest, HttpError, methodNotAllowed, toHttpError } from './http-error.js';
import { JsonStream } from './json-stream.js';
import type { Query } from './list-query.js';
import { FormBody, multipartBoundary, parseMultipart, parseUrlEncoded } from './multipart.js';
import { registerBindingRoutes } from './routes/bindings.js';
import { registerConnectionRoutes } from './routes/connections.js';
import { registerDefinitionRoutes } from './routes/definitions.js';
import { registerExchangeRoutes } from './routes/exchanges.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerLiveRoutes } from './routes/live.js';
import { registerMqttViewRoutes } from './routes/mqtt-view.js';
import { registerTailRoutes } from './routes/tail.js';
import { registerOverviewRoutes } from './routes/overview.js';
import { registerPolicyRoutes } from './routes/policies.js';
import { registerQueueRoutes } from './routes/queues.js';
import { registerRuntimeRoutes } from './routes/runtime.js';
import { registerUserRoutes } from './routes/users.js';
import { registerVhostRoutes } from './routes/vhosts.js';
import { StatsSampler } from './stats/sampler.js';
import { endEventStreamsOnClose } from './sse.js';
import { registerUiAssets } from './ui-assets.js';

/** Options of {@link createManagementApp}. */
export interface ManagementAppOptions {
  /** Largest request body accepted, bytes (RabbitMQ's management.http_max_body_size, default 10 MiB). */
  bodyLimit?: number;
  /** Serve HTTPS with these TLS options (the 15671 listener). */
  https?: import('node:tls').TlsOptions;
}

/** One request as a route handler sees it. */
export interface ApiRequest {
  readonly principal: Principal;
  readonly params: Record<string, string>;
  readonly query: Query;
  /** The parsed JSON body, or undefined for an empty body. */
  readonly body: unknown;
  readonly headers: FastifyRequest['headers'];
  readonly raw: FastifyRequest;
}

/** What a handler returns: a JSON body (200), or a status with an optional body and headers. */
export type ApiResult =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | JsonStream
  | Record<string, unknown>
  | unknown[];

export type Handler = (req: ApiRequest, reply: FastifyReply) => ApiResult | undefined | Promise<ApiResult | undefined>;

/** The methods one path answers; every other method gets 405. */
export type Resource = Partial<Record<'GET' | 'PUT' | 'POST' | 'DELETE', Handler>>;

/** Registers paths into the app; route files take this. */
export interface Routes {
  readonly ctx: ManagementContext;
  /** Register a path (fastify syntax, `:vhost` parameters are percent-decoded) and the methods it answers. */
  resource(path: string, methods: Resource, options?: { public?: boolean }): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const ALL_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'] as const;

/** Status results are marked by this shape. */
function isStatusResult(r: Exclude<ApiResult, JsonStream>): r is { status: number; body?: unknown; headers?: Record<string, string> } {
  return !Array.isArray(r) && typeof (r as { status?: unknown }).status === 'number' && Object.keys(r).every((k) => k === 'status' || k === 'body' || k === 'headers');
}

/** Build the management app (not listening; call `listen` or `inject`). */
export async function createManagementApp(ctx: ManagementContext, options: ManagementAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.https !== undefined ? { https: options.https } : {}),
    logger: false,
    bodyLimit: options.bodyLimit ?? 10 * 1024 * 1024,
    // Names may contain any character; the router matches percent-encoded segments and decodes them afterwards.
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: false },
    return503OnClosing: true,
    // Errors fastify raises before routing (a path that is not valid percent-encoded UTF-8, a bad content type):
    // RabbitMQ's 400 body and a log line, like every other refusal.
    frameworkErrors: (err, req, reply: FastifyReply) => {
      const reason = err.message;
      ctx.logger.warn({ method: req.method, url: req.url, status: 400, reason }, 'management request refused');
      void reply.code(400).send({ error: 'bad_request', reason });
    },
  });
  // gzip level 1: JSON this repetitive compresses as well as at the default level 6 (63,132 vs 63,043 bytes for
  // 10,000 queues) for a quarter of the CPU (5 vs 18 ms per 8.7 MB), CPU the broker shares with message flow.
  await app.register(compress, { global: true, threshold: 1024, zlibOptions: { level: 1 } });

  // Every body is read as text and parsed here, whatever its content type (rabbitmqadmin sends application/json,
  // curl users often send none): a malformed body is RabbitMQ's 400 bad_request, an empty one is "no body".
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      // RabbitMQ's reason for any body that is not JSON.
      done(badRequest('not_json'), undefined);
    }
  });

  // Forms: the definitions upload of the management UI and `curl -F file=@defs.json` (routes that want JSON refuse them).
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (req, body, done) => {
    const boundary = multipartBoundary(req.headers['content-type']);
    if (boundary === undefined) return done(badRequest('multipart/form-data without a boundary'), undefined);
    try {
      done(null, new FormBody(parseMultipart(body as Buffer, boundary)));
    } catch (err) {
      done(badRequest(`Invalid multipart body: ${(err as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseUrlEncoded(typeof body === 'string' ? body : body.toString('utf8')));
  });

  app.setErrorHandler((err, req, reply) => {
    const http = toHttpError(err) ?? fastifyError(err);
    if (http !== undefined) {
      ctx.logger.warn(
        { method: req.method, url: req.url, status: http.status, user: req.principal?.name, reason: http.message },
        'management request refused',
      );
      void reply.code(http.status).headers(http.headers);
      // The UI's own requests (x-warren-ui) get no Basic challenge: the browser must not pop its login dialog over
      // the page's login form.
      if (req.headers['x-warren-ui'] !== undefined) void reply.removeHeader('www-authenticate');
      if (http.empty) void reply.send();
      else void reply.send({ error: http.error, reason: http.message });
      return;
    }
    ctx.logger.error({ err, method: req.method, url: req.url }, 'management request failed');
    void reply.code(500).send({ error: 'internal_server_error', reason: 'Internal Server Error' });
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ error: 'Object Not Found', reason: 'Not Found' });
  });

  const routes: Routes = {
    ctx,
    resource(path, methods, opts = {}) {
      const allowed = Object.keys(methods);
      for (const method of ALL_METHODS) {
        const handler = methods[method as keyof Resource];
        app.route({
          method,
          url: path,
          handler: async (request, reply) => {
            if (opts.public !== true) {
              request.principal = await authenticateRequest(ctx.broker, request.headers.authorization, request.socket.remoteAddress ?? '');
            }
            if (handler === undefined) {
              throw methodNotAllowed(allowed.filter((m) => m !== 'HEAD'));
            }
            const result = await handler(
              {
                principal: request.principal!,
                params: request.params as Record<string, string>,
                query: request.query as Query,
                body: request.body,
                headers: request.headers,
                raw: request,
              },
              reply,
            );
            if (reply.sent) return reply;
            if (result === undefined) return reply.code(204).send();
            if (result instanceof JsonStream) return reply.type('application/json; charset=utf-8').send(result.readable());
            if (isStatusResult(result)) {
              void reply.code(result.status);
              if (result.headers !== undefined) void reply.headers(result.headers);
              return result.body === undefined ? reply.send() : reply.send(result.body);
            }
            return result;
          },
        });
      }
    },
  };

  registerOverviewRoutes(routes);
  registerVhostRoutes(routes);
  registerUserRoutes(routes);
  registerQueueRoutes(routes);
  registerExchangeRoutes(routes);
  registerBindingRoutes(routes);
  registerConnectionRoutes(routes);
  registerHealthRoutes(routes);
  registerPolicyRoutes(routes);
  registerRuntimeRoutes(routes);
  // One sampler per broker feeds every `*_details.rate`, shared by the HTTP and HTTPS apps.
  const sampler = StatsSampler.acquire(ctx.broker);
  app.addHook('onClose', async () => sampler.release());
  registerDefinitionRoutes(routes);
  // The management UI: its pages at '/', and the push endpoints it reads (beyond RabbitMQ's API, under /api/ui/).
  endEventStreamsOnClose(app);
  registerLiveRoutes(routes, app);
  registerTailRoutes(routes);
  registerMqttViewRoutes(routes);
  registerUiAssets(app);
  return app;
}

/** Fastify's own errors (body too large, bad content) as RabbitMQ-style answers. */
function fastifyError(err: unknown): HttpError | undefined {
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return new HttpError(413, 'bad_request', 'Request body is too large');
    return badRequest(e.message ?? 'Bad Request');
  }
  return undefined;
}

/** Read a JSON object body, or 400 (an absent body is `{}`). */
export function objectBody(req: ApiRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined) return {};
  if (b === null || typeof b !== 'object' || Array.isArray(b) || b instanceof FormBody) throw badRequest('Request body must be a JSON object');
  return b as Record<string, unknown>;
}

export { HttpError };
