/**
 * Interop test harness: a broker to talk to, plus small helpers for real clients (amqplib, pika, amqp-tools).
 *
 * By default `startTestBroker()` embeds Warren in-process on free ports. With `WARREN_INTEROP_URL` set (for example
 * `amqp://guest:guest@localhost:5682`) every suite targets that external broker instead, which is how the suite is
 * checked against a reference RabbitMQ: each assertion encodes what RabbitMQ really does.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

/** The URL of an external broker to target instead of an embedded Warren, or undefined. */
export const EXTERNAL_URL: string | undefined = process.env['WARREN_INTEROP_URL'] || undefined;

/** True when the suite targets an external broker (tests that need Warren's internals skip). */
export const isExternal: boolean = EXTERNAL_URL !== undefined;

/** A broker the tests talk to. */
export interface TestBroker {
  /** amqp:// URL with guest credentials and the default vhost. */
  url: string;
  host: string;
  port: number;
  /** Port of the amqps listener, when one was asked for and the broker is embedded. */
  tlsPort?: number;
  /** True when this is an external broker (WARREN_INTEROP_URL). */
  external: boolean;
  stop(): Promise<void>;
  /**
   * Stop and start again on the same data directory (embedded Warren only; ports may change, so re-read `url` and
   * `port` afterwards). Undefined for an external broker.
   */
  restart?: () => Promise<void>;
}

/** Options of {@link startTestBroker}. */
export interface StartOptions {
  /** Also start an amqps listener with a self-signed certificate (embedded Warren only). */
  tls?: boolean;
}

/** Start (or point at) the broker under test. */
export async function startTestBroker(options: StartOptions = {}): Promise<TestBroker> {
  if (EXTERNAL_URL !== undefined) {
    const u = new URL(EXTERNAL_URL);
    return {
      url: EXTERNAL_URL,
      host: u.hostname,
      port: u.port === '' ? 5672 : Number(u.port),
      external: true,
      stop: async () => {},
    };
  }
  // Imported lazily so that targeting an external broker does not depend on the server package loading.
  const { startEmbeddedBroker: startBroker } = await import('@warren/server');
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-interop-'));
  const config = {
    dataDir,
    log: { level: 'silent' },
    amqp: { port: 0, tlsPort: options.tls === true ? 0 : null },
    // STOMP defaults to the fixed ports 61613/61614: any free port here, so parallel test files never clash.
    stomp: { port: 0, tlsPort: null },
    mqtt: { port: 0, tlsPort: null },
    webStomp: { port: null, tlsPort: null },
    webMqtt: { port: null, tlsPort: null },
    ...(options.tls === true ? { tls: { selfSigned: true } } : {}),
  };
  let running = await startBroker(config);
  const host = '127.0.0.1';
  const broker: TestBroker = { url: '', host, port: 0, external: false, stop: async () => {} };
  const adopt = () => {
    const port = running.ports.amqp;
    if (port === undefined) throw new Error('Warren started without an amqp port');
    broker.port = port;
    broker.url = `amqp://guest:guest@${host}:${port}`;
    if (running.ports.amqps !== undefined) broker.tlsPort = running.ports.amqps;
  };
  adopt();
  broker.stop = async () => {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  broker.restart = async () => {
    await running.stop();
    running = await startBroker(config);
    adopt();
  };
  return broker;
}

/** A unique entity name for this run, so runs against a shared external broker never collide. */
export function uniqueName(prefix: string): string {
  return `interop-${prefix}-${randomBytes(5).toString('hex')}`;
}

/** What a server-initiated channel.close or connection.close carried. */
export interface CloseInfo {
  code: number;
  text: string;
  classId?: number;
  methodId?: number;
}

/** Parse amqplib's `... 404 (NOT-FOUND) with message "NOT_FOUND - ..."` error into its parts. */
export function closeInfo(err: unknown): CloseInfo {
  const e = err as { code?: unknown; message?: unknown; classId?: unknown; methodId?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const m = /with message "([\s\S]*)"$/.exec(message);
  // Handshake errors carry the code only in the message: "Handshake terminated by server: 403 (ACCESS-REFUSED) ...".
  const codeInMessage = /: (\d{3}) \([A-Z-]+\) with message/.exec(message);
  const code = typeof e.code === 'number' ? e.code : codeInMessage ? Number(codeInMessage[1]) : -1;
  const info: CloseInfo = { code, text: m?.[1] ?? message };
  if (typeof e.classId === 'number') info.classId = e.classId;
  if (typeof e.methodId === 'number') info.methodId = e.methodId;
  return info;
}

/** A channel plus a promise of how it ended: a {@link CloseInfo} when the server closed it, null otherwise. */
export interface Watched<C extends Channel> {
  ch: C;
  closed: Promise<CloseInfo | null>;
}

function watch<C extends Channel>(ch: C): Watched<C> {
  let last: CloseInfo | null = null;
  // amqplib throws from its frame handler when 'error' has no listener; always listen.
  ch.on('error', (err: unknown) => {
    last = closeInfo(err);
  });
  const closed = new Promise<CloseInfo | null>((resolve) => ch.once('close', () => resolve(last)));
  return { ch, closed };
}

/** A connection plus a promise of how it ended (server-sent close → {@link CloseInfo}; client close → null). */
export interface WatchedConnection {
  conn: ChannelModel;
  closed: Promise<CloseInfo | null>;
  channel(): Promise<Watched<Channel>>;
  confirmChannel(): Promise<Watched<ConfirmChannel>>;
}

/** Open an amqplib connection that never throws from unhandled 'error' events. */
export async function connect(url: string, socketOptions?: object): Promise<WatchedConnection> {
  const conn = await amqp.connect(url, socketOptions);
  let last: CloseInfo | null = null;
  conn.on('error', (err: unknown) => {
    last = closeInfo(err);
  });
  const closed = new Promise<CloseInfo | null>((resolve) => conn.once('close', () => resolve(last)));
  return {
    conn,
    closed,
    channel: async () => watch(await conn.createChannel()),
    confirmChannel: async () => watch(await conn.createConfirmChannel()),
  };
}

/**
 * Per-test resources: connections to close and entities to delete afterwards, so nothing leaks into the next test
 * or lingers on a shared external broker.
 */
export class Scope {
  readonly broker: TestBroker;
  #connections: WatchedConnection[] = [];
  #queues = new Set<string>();
  #exchanges = new Set<string>();

  constructor(broker: TestBroker) {
    this.broker = broker;
  }

  /** A unique queue name, deleted at the end of the test. */
  queue(prefix = 'q'): string {
    const n = uniqueName(prefix);
    this.#queues.add(n);
    return n;
  }

  /** A unique exchange name, deleted at the end of the test. */
  exchange(prefix = 'x'): string {
    const n = uniqueName(prefix);
    this.#exchanges.add(n);
    return n;
  }

  /** A tracked connection to the broker (guest, default vhost unless `url` says otherwise). */
  async connect(url = this.broker.url): Promise<WatchedConnection> {
    const c = await connect(url);
    this.#connections.push(c);
    return c;
  }

  /** A channel on a fresh tracked connection. */
  async channel(): Promise<Watched<Channel>> {
    return (await this.connect()).channel();
  }

  /** A confirm channel on a fresh tracked connection. */
  async confirmChannel(): Promise<Watched<ConfirmChannel>> {
    return (await this.connect()).confirmChannel();
  }

  /** Close every connection and delete every named entity. Never throws. */
  async dispose(): Promise<void> {
    if (this.#queues.size + this.#exchanges.size > 0) {
      try {
        const c = await connect(this.broker.url);
        for (const q of this.#queues) {
          const { ch, closed } = await c.channel();
          await ch.deleteQueue(q).catch(() => {});
          await Promise.race([ch.close().catch(() => {}), closed]);
        }
        for (const x of this.#exchanges) {
          const { ch, closed } = await c.channel();
          await ch.deleteExchange(x).catch(() => {});
          await Promise.race([ch.close().catch(() => {}), closed]);
        }
        await c.conn.close().catch(() => {});
      } catch {
        // The broker may be gone (resilience tests); nothing left to clean.
      }
    }
    // Bounded: a connection whose socket was destroyed under it may never answer close.
    await Promise.all(this.#connections.map((c) => within(c.conn.close(), 2000, 'close').catch(() => {})));
    this.#connections = [];
    this.#queues.clear();
    this.#exchanges.clear();
  }
}

/** The usual suite wiring: one broker per test file, one {@link Scope} per test. */
export function interopSuite(options: StartOptions = {}): { readonly broker: TestBroker; readonly scope: Scope } {
  let broker: TestBroker | undefined;
  let scope: Scope | undefined;
  beforeAll(async () => {
    broker = await startTestBroker(options);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  beforeEach(() => {
    if (broker !== undefined) scope = new Scope(broker);
  });
  afterEach(async () => {
    await scope?.dispose();
    scope = undefined;
  });
  return {
    get broker(): TestBroker {
      if (broker === undefined) throw new Error('broker not started');
      return broker;
    },
    get scope(): Scope {
      if (scope === undefined) throw new Error('no scope outside a test');
      return scope;
    },
  };
}

/** Reject after `ms` with a message naming what we waited for (so a hang fails with a reason, not a timeout). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Poll `check` until it returns a non-undefined value (poll-until, not sleep-as-sync). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Consume `n` messages from `queue`, then cancel the consumer; returns them in delivery order. */
export async function take(
  ch: Channel,
  queue: string,
  n: number,
  options: Options.Consume & { timeoutMs?: number } = {},
): Promise<ConsumeMessage[]> {
  const { timeoutMs = 5000, ...consumeOptions } = options;
  const got: ConsumeMessage[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const { consumerTag } = await ch.consume(
    queue,
    (msg) => {
      if (msg === null) return;
      got.push(msg);
      if (got.length === n) done();
    },
    { noAck: true, ...consumeOptions },
  );
  try {
    await within(finished, timeoutMs, `${n} message(s) from ${queue} (got ${got.length})`);
  } finally {
    await ch.cancel(consumerTag).catch(() => {});
  }
  return got;
}

/** Bodies as strings. */
export function bodies(msgs: readonly { content: Buffer }[]): string[] {
  return msgs.map((m) => m.content.toString());
}

const here = dirname(fileURLToPath(import.meta.url));

/** Run `tests/interop/pika/<script>.py <url> ...args` with Debian's python3 and parse the JSON it prints last. */
export function runPika(script: string, args: readonly string[], timeoutMs = 15_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/python3',
      [join(here, 'pika', `${script}.py`), ...args],
      { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`pika ${script} ${args.join(' ')} failed: ${err.message}\n${stderr}\n${stdout}`));
          return;
        }
        const lines = stdout.trim().split('\n');
        const last = lines[lines.length - 1] ?? '';
        try {
          resolve(JSON.parse(last));
        } catch {
          reject(new Error(`pika ${script} printed no JSON: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** Run a command line tool; resolves with stdout/stderr/exit code (never rejects on a non-zero exit). */
export function runTool(
  file: string,
  args: readonly string[],
  timeoutMs = 10_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}
