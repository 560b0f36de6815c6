/**
 * HTTP errors as RabbitMQ's management plugin writes them: a status and a JSON body `{"error": ..., "reason": ...}`.
 * Core {@link BrokerError} codes map to a status at this edge (DESIGN.md §3).
 */
import { isBrokerError, type ErrorCode } from '@warren/core';

/** An error answered to the client as `status` with RabbitMQ's `{error, reason}` body. */
export class HttpError extends Error {
  readonly status: number;
  readonly error: string;
  readonly headers: Record<string, string>;
  /** Answer with no body at all (RabbitMQ's 401 without credentials and its 405s). */
  readonly empty: boolean;
  constructor(status: number, error: string, reason: string, headers: Record<string, string> = {}, empty = false) {
    super(reason);
    this.name = 'HttpError';
    this.status = status;
    this.error = error;
    this.headers = headers;
    this.empty = empty;
  }
}

/** 404 `{"error":"Object Not Found","reason":"Not Found"}`, RabbitMQ's answer for any missing object. */
export function notFound(): HttpError {
  return new HttpError(404, 'Object Not Found', 'Not Found');
}

/** 400 `{"error":"bad_request","reason":...}`. */
export function badRequest(reason: string): HttpError {
  return new HttpError(400, 'bad_request', reason);
}

const CHALLENGE = { 'www-authenticate': 'Basic realm="RabbitMQ Management"' };

/** 401 with the Basic challenge and no body: a request without credentials (RabbitMQ's answer). */
export function loginRequired(): HttpError {
  return new HttpError(401, 'not_authorized', 'Login required', CHALLENGE, true);
}

/** 401 `{"error":"not_authorized","reason":"Login failed"}` with the challenge: wrong user or password. */
export function loginFailed(): HttpError {
  return new HttpError(401, 'not_authorized', 'Login failed', CHALLENGE);
}

/** 405 with an empty body and the methods the path answers, as cowboy writes it. */
export function methodNotAllowed(allow: readonly string[]): HttpError {
  return new HttpError(405, 'method_not_allowed', 'Method Not Allowed', { allow: ['HEAD', ...allow, 'OPTIONS'].join(', ') }, true);
}

/** 401 without the login challenge: authenticated, but this user may not do that (RabbitMQ answers 401 too). */
export function notAuthorisedFor(reason: string): HttpError {
  return new HttpError(401, 'not_authorised', reason);
}

const STATUS: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  ACCESS_REFUSED: 401,
  RESOURCE_LOCKED: 400,
  PRECONDITION_FAILED: 400,
  NOT_ALLOWED: 401,
  RESOURCE_ERROR: 400,
  INVALID_ARGUMENT: 400,
  NOT_IMPLEMENTED: 501,
  COMMAND_INVALID: 400,
  INTERNAL_ERROR: 500,
};

/**
 * The HTTP error for anything a route threw: HttpError as is; a BrokerError by its code (RabbitMQ reports a refused
 * declare as 400 bad_request with the AMQP reply text as reason, and a permission failure as 401 not_authorised);
 * undefined for anything else (an internal error).
 */
export function toHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (isBrokerError(err)) {
    const status = STATUS[err.code];
    if (status === 404) return notFound();
    // RabbitMQ answers a refused operation with its generic texts, not the AMQP reply text.
    if (err.code === 'ACCESS_REFUSED') return notAuthorisedFor('Access refused.');
    if (err.code === 'NOT_ALLOWED') return notAuthorisedFor('User not authorised to access virtual host');
    if (status === 500) return undefined;
    return new HttpError(status, status === 501 ? 'not_implemented' : 'bad_request', err.message);
  }
  return undefined;
}
