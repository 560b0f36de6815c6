/**
 * RabbitMQ's HTTP auth backend contract (rabbitmq_auth_backend_http), as an {@link AuthBackend} for the core. It
 * lives in the server, the composition root that may do I/O: the core only defines the interface and caches the
 * answers, so it imports no HTTP (DESIGN.md §1), and brokers that keep internal users never load this file's client.
 *
 * Requests: GET with a query string (RabbitMQ's default) or POST with an application/x-www-form-urlencoded body:
 * - user_path: username, password, plus the protocol's other credentials (MQTT: client_id, vhost);
 * - vhost_path: username, vhost, ip, tags;
 * - resource_path: username, vhost, resource (queue | exchange), name, permission (configure | write | read), tags;
 * - topic_path: username, vhost, resource=topic, name (the exchange), permission (write | read), tags, routing_key,
 *   variable_map.username, variable_map.vhost, variable_map.client_id.
 * Answers: status 200 or 201 with a body (trimmed, case-insensitive) of `allow`, `allow tag1 tag2` (user_path only),
 * `deny` or `deny <reason>`. Anything else is an error, which the cache logs and counts as a refusal.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AuthCache, type AccessLevel, type AuthBackend, type Logger, type LoginRequest, type ResourceKind, type User } from '@warren/core';
import type { WarrenConfig } from './config.js';

/** Options of {@link HttpAuthBackend}. */
export interface HttpAuthBackendOptions {
  userPath: string;
  vhostPath?: string | undefined;
  resourcePath?: string | undefined;
  topicPath?: string | undefined;
  method: 'get' | 'post';
  timeoutMs: number;
}

/** The answer of one request: allowed (with the words after `allow`) or denied. */
type Answer = { allow: true; words: string[] } | { allow: false };

/** An external backend asked over HTTP(S). */
export class HttpAuthBackend implements AuthBackend {
  readonly name = 'http';
  readonly #o: HttpAuthBackendOptions;

  constructor(options: HttpAuthBackendOptions) {
    for (const [what, url] of Object.entries({ user_path: options.userPath, vhost_path: options.vhostPath,
      resource_path: options.resourcePath, topic_path: options.topicPath })) {
      if (url !== undefined && !/^https?:\/\//.test(url)) throw new Error(`auth ${what} must be an http(s) URL: ${url}`);
    }
    this.#o = options;
  }

  async authenticate(req: LoginRequest): Promise<string[] | undefined> {
    const params: [string, string][] = [['username', req.username], ['password', req.password]];
    for (const [k, v] of Object.entries(req.extra ?? {})) if (k !== 'username' && k !== 'password') params.push([k, v]);
    const a = await this.#ask(this.#o.userPath, params);
    return a.allow ? a.words : undefined;
  }

  async vhostAccess(user: User, vhost: string, ip: string): Promise<boolean> {
    if (this.#o.vhostPath === undefined) return true;
    return (await this.#ask(this.#o.vhostPath, [['username', user.name], ['vhost', vhost], ['ip', ip], ['tags', user.tags.join(' ')]])).allow;
  }

  async resourceAccess(user: User, vhost: string, kind: ResourceKind, name: string, level: AccessLevel): Promise<boolean> {
    if (this.#o.resourcePath === undefined) return true;
    return (await this.#ask(this.#o.resourcePath, [
      ['username', user.name], ['vhost', vhost], ['resource', kind], ['name', name], ['permission', level],
      ['tags', user.tags.join(' ')],
    ])).allow;
  }

  async topicAccess(
    user: User, vhost: string, exchange: string, level: 'write' | 'read', routingKey: string,
    variables: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    if (this.#o.topicPath === undefined) return true;
    const params: [string, string][] = [
      ['username', user.name], ['vhost', vhost], ['resource', 'topic'], ['name', exchange], ['permission', level],
      ['tags', user.tags.join(' ')], ['routing_key', routingKey],
    ];
    for (const [k, v] of Object.entries(variables)) params.push([`variable_map.${k}`, v]);
    return (await this.#ask(this.#o.topicPath, params)).allow;
  }

  #ask(url: string, params: [string, string][]): Promise<Answer> {
    const form = new URLSearchParams(params).toString();
    const post = this.#o.method === 'post';
    const target = new URL(url);
    if (!post) target.search = target.search === '' ? form : `${target.search.slice(1)}&${form}`;
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      const req = request(
        target,
        {
          method: post ? 'POST' : 'GET',
          timeout: this.#o.timeoutMs,
          headers: post ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            // An answer is one word and a few tags: a large body is a misconfigured URL, not an answer.
            size += c.length;
            if (size > 64 * 1024) req.destroy(new Error('auth backend answer larger than 64 KiB'));
            else chunks.push(c);
          });
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8').trim();
            if (res.statusCode !== 200 && res.statusCode !== 201) {
              reject(new Error(`auth backend answered ${res.statusCode ?? '?'} ${JSON.stringify(body.slice(0, 200))}`));
              return;
            }
            const words = body.split(/\s+/);
            const verdict = (words[0] ?? '').toLowerCase();
            if (verdict === 'allow') resolve({ allow: true, words: words.slice(1) });
            else if (verdict === 'deny') resolve({ allow: false });
            else reject(new Error(`auth backend answered neither allow nor deny: ${JSON.stringify(body.slice(0, 200))}`));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`auth backend did not answer within ${this.#o.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(post ? form : undefined);
    });
  }
}

/** The auth section of the configuration (documented there). */
export type AuthSettings = WarrenConfig['auth'];

/**
 * The broker's authBackends from the settings: 'internal' as is, 'http' as an {@link HttpAuthBackend} behind an
 * {@link AuthCache}. Throws on an unknown backend, a missing user_path or an unknown method.
 */
export function createAuthBackends(auth: AuthSettings, logger: Logger): ('internal' | AuthCache)[] {
  if (auth.backends.length === 0) throw new Error('auth.backends: at least one backend is needed');
  return auth.backends.map((name) => {
    if (name === 'internal') return 'internal';
    if (name !== 'http') throw new Error(`auth.backends: unknown backend '${name}' (expected internal or http)`);
    if (auth.httpUserPath === undefined) throw new Error('auth.backends: the http backend needs auth.httpUserPath');
    const method = auth.httpMethod.toLowerCase();
    if (method !== 'get' && method !== 'post') throw new Error(`auth.httpMethod: expected get or post, got '${auth.httpMethod}'`);
    const backend = new HttpAuthBackend({
      userPath: auth.httpUserPath, vhostPath: auth.httpVhostPath, resourcePath: auth.httpResourcePath,
      topicPath: auth.httpTopicPath, method, timeoutMs: auth.httpTimeoutMs,
    });
    return new AuthCache(backend, auth.cacheTtlMs, logger);
  });
}
