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
  constructor(status: number, error: string, reason: string, headers: Record<string, string> = {}) {
    super(reason);
    this.name = 'HttpError';
    this.status = status;
    this.error = error;
    this.headers = headers;
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

/** 401 with `www-authenticate`, as RabbitMQ answers a missing or failed login. */
export function notAuthorised(reason = 'Login failed'): HttpError {
  return new HttpError(401, 'not_authorised', reason, { 'www-authenticate': 'Basic realm="RabbitMQ Management"' });
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
    if (status === 401) return notAuthorisedFor(err.message);
    if (status === 500) return undefined;
    return new HttpError(status, status === 501 ? 'not_implemented' : 'bad_request', err.message);
  }
  return undefined;
}
