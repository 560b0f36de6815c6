/**
 * The management HTTP API client warrenctl uses for everything: Node's fetch with Basic auth. Failures are turned into
 * {@link CtlError}s carrying rabbitmqctl's exit codes, so the command layer only decides the wording.
 */
import { EX_NOPERM, EX_SOFTWARE, EX_UNAVAILABLE, CtlError } from './errors.js';

/** Where the management API is and who to log in as. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Request timeout in ms (rabbitmqctl's --timeout is in seconds). */
  readonly timeoutMs: number;
}

/** An HTTP answer: status and parsed JSON body (undefined when empty or not JSON). */
export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/** Percent-encode one path segment (vhost `/` becomes `%2F`, as the API expects). */
export const seg = (s: string): string => encodeURIComponent(s);

/** A thin client over the management API. */
export class ManagementClient {
  readonly #endpoint: Endpoint;
  readonly #auth: string;

  constructor(endpoint: Endpoint) {
    this.#endpoint = endpoint;
    this.#auth = `Basic ${Buffer.from(`${endpoint.user}:${endpoint.password}`).toString('base64')}`;
  }

  /** The user the client logs in as. */
  get user(): string {
    return this.#endpoint.user;
  }

  /** The base URL, for messages. */
  get base(): string {
    const h = this.#endpoint.host.includes(':') ? `[${this.#endpoint.host}]` : this.#endpoint.host;
    return `http://${h}:${this.#endpoint.port}`;
  }

  /**
   * Send one request. Answers with any status come back to the caller (which knows what a 404 means for it), except
   * 401 (wrong credentials or not an administrator), which ends the command.
   */
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: this.#auth,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#endpoint.timeoutMs),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new CtlError(
        EX_UNAVAILABLE,
        `Error: unable to perform an operation on node '${this.base}'. Please see diagnostics information and suggestions below.\n\n` +
          `Most common reasons for this are:\n\n` +
          ` * Target node is unreachable (e.g. due to hostname resolution, TCP connection or firewall issues)\n` +
          ` * Target node is not running\n` +
          ` * The management API is not enabled on the target node (warrenctl talks to it, not to Erlang distribution)\n\n` +
          `DIAGNOSTICS\n===========\n\nattempted to contact: ${this.base}\n\n${cause}\n`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.status === 401) {
      throw new CtlError(
        EX_NOPERM,
        `Error: the management API at ${this.base} refused user '${this.#endpoint.user}' (401): wrong credentials or not an administrator`,
      );
    }
    return { status: res.status, body: parsed, text };
  }

  /** GET a resource that must exist: a non-2xx answer is an internal error (callers map expected 404s first). */
  async get(path: string): Promise<unknown> {
    const a = await this.request('GET', path);
    if (a.status >= 300) throw unexpected('GET', path, a);
    return a.body;
  }
}

/** An answer nothing above expected: exit 70 with the API's reason. */
export function unexpected(method: string, path: string, a: HttpAnswer): CtlError {
  const reason =
    a.body !== null && typeof a.body === 'object' && 'reason' in a.body ? String((a.body as { reason: unknown }).reason) : a.text;
  return new CtlError(EX_SOFTWARE, `Error:\n${method} ${path} answered ${a.status}: ${reason}`);
}

/** The API's `reason` for an error answer. */
export function reasonOf(a: HttpAnswer): string {
  return a.body !== null && typeof a.body === 'object' && 'reason' in a.body ? String((a.body as { reason: unknown }).reason) : a.text;
}
