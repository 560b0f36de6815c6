/**
 * The UI's link to the management API: Basic credentials kept in sessionStorage (gone with the tab), JSON requests,
 * and event streams read with fetch() (EventSource cannot send the Authorization header).
 */

const KEY = 'warren.auth';

/** The logged-in user's credentials header, or undefined. */
export function credentials(): string | undefined {
  return sessionStorage.getItem(KEY) ?? undefined;
}

export function setCredentials(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  const header = `Basic ${btoa(bin)}`;
  sessionStorage.setItem(KEY, header);
  return header;
}

export function clearCredentials(): void {
  sessionStorage.removeItem(KEY);
}

/** An API error with RabbitMQ's reason. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Called when a request comes back 401 for the login itself (the session ended). */
let onUnauthorised: () => void = () => {};
export function whenUnauthorised(fn: () => void): void {
  onUnauthorised = fn;
}

/** Percent-encode one path segment (vhost '/' becomes %2F). */
export const enc = (s: string): string => encodeURIComponent(s);

/** Send a request; resolves with the JSON answer (undefined when empty). */
export async function api<T = unknown>(method: string, path: string, body?: unknown, auth = credentials()): Promise<T> {
  const headers: Record<string, string> = { 'x-warren-ui': '1' };
  if (auth !== undefined) headers['authorization'] = auth;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  if (!res.ok) {
    const reason = (json as { reason?: string } | undefined)?.reason ?? res.statusText;
    if (res.status === 401 && (reason === 'Login failed' || reason === 'Not_Authorized' || text === '')) onUnauthorised();
    throw new ApiError(res.status, `${res.status}: ${reason}`);
  }
  return json as T;
}

/** One server-sent event. */
export interface StreamEvent {
  event: string;
  data: unknown;
}

/**
 * Open an event stream on `path` and call `onEvent` for each event until `signal` aborts. Resolves when the stream
 * ends; rejects on an HTTP error (not on abort).
 */
export async function stream(path: string, signal: AbortSignal, onEvent: (e: StreamEvent) => void): Promise<void> {
  const headers: Record<string, string> = { accept: 'text/event-stream', 'x-warren-ui': '1' };
  const auth = credentials();
  if (auth !== undefined) headers['authorization'] = auth;
  let res: Response;
  try {
    res = await fetch(path, { headers, signal, cache: 'no-store' });
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }
  if (!res.ok || res.body === null) {
    const text = await res.text().catch(() => '');
    let reason = res.statusText;
    try {
      reason = (JSON.parse(text) as { reason?: string }).reason ?? reason;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, `${res.status}: ${reason}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) onEvent({ event, data: JSON.parse(data.join('\n')) });
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  } finally {
    reader.releaseLock();
  }
}

/**
 * The live subscription of the page on screen: one stream at a time, reopened when the view changes, closed while
 * the tab is hidden (Page Visibility) and reopened, with a fresh first answer, when it shows again.
 */
export class Live {
  #paths: string[] = [];
  #handler: (path: string, body: unknown, status: number) => void = () => {};
  #controller: AbortController | undefined;
  #status: (on: boolean, error?: string) => void = () => {};
  #generation = 0;

  constructor() {
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) this.#close();
      else this.#open();
    });
  }

  /** Show the stream's state (on, off, error) somewhere. */
  onStatus(fn: (on: boolean, error?: string) => void): void {
    this.#status = fn;
  }

  /** Watch these API paths (replacing the previous ones); `handler` gets each changed answer. */
  watch(paths: string[], handler: (path: string, body: unknown, status: number) => void): void {
    this.#close();
    this.#paths = paths;
    this.#handler = handler;
    this.#open();
  }

  /** Stop watching (leaving a page). */
  stop(): void {
    this.#close();
    this.#paths = [];
  }

  #open(): void {
    if (this.#paths.length === 0 || document.hidden || this.#controller !== undefined) return;
    const controller = new AbortController();
    this.#controller = controller;
    const gen = ++this.#generation;
    const qs = this.#paths.map((p) => `watch=${encodeURIComponent(p)}`).join('&');
    this.#status(true);
    stream(`/api/ui/stream?${qs}`, controller.signal, (e) => {
      if (gen !== this.#generation || e.event !== 'update') return;
      const u = e.data as { path: string; status: number; body: unknown };
      this.#handler(u.path, u.body, u.status);
    }).then(
      () => {
        if (gen === this.#generation && !controller.signal.aborted) {
          this.#controller = undefined;
          this.#status(false, 'stream ended');
        }
      },
      (err: unknown) => {
        if (gen !== this.#generation) return;
        this.#controller = undefined;
        this.#status(false, (err as Error).message);
      },
    );
  }

  #close(): void {
    this.#generation++;
    this.#controller?.abort();
    this.#controller = undefined;
    this.#status(false);
  }
}
