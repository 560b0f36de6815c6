/**
 * Bystanders for the hostile-client tests: one well-behaved client per protocol (AMQP via amqplib, MQTT via mqtt.js,
 * STOMP over a raw socket) that keeps doing round trips through the broker while a test's attack runs, so each test
 * shows that the attack does not stall everyone else.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { expect } from 'vitest';

/**
 * The p99 round-trip bound the tests assert. Generous, so it never flakes on a loaded 2-core CI machine with the
 * broker and every client in one process: measured there during a 40,000-filter subscription flood, the worst pause
 * is ~300 ms (MQTT) and ~150 ms (STOMP), young-generation collections copying the subscriptions' live objects; a
 * stalled broker is seconds to minutes. The 50 ms target is measured in bench/src/security/flood-bench.ts, with
 * Warren in a process of its own.
 */
export const P99_BOUND_MS = 1000;

/**
 * The fewest round trips each bystander must complete during an attack for its p99 to mean something. A short attack
 * keeps its pressure on (sockets held open, requests pending) a little longer (`hold`) so the bystanders get them.
 */
export const MIN_SAMPLES = 3;

export type BystanderProtocol = 'amqp' | 'mqtt' | 'stomp';

/** The login the bystanders use: an internal user, so they never depend on what the attack targets. */
export interface BystanderLogin {
  username: string;
  password: string;
}

const GUEST: BystanderLogin = { username: 'guest', password: 'guest' };

/** A round-trip loop: `once` sends one message to itself and resolves when it is back. */
export interface Bystander {
  name: BystanderProtocol;
  once(): Promise<void>;
  close(): Promise<void>;
}

/** An AMQP bystander: publishes to its own exclusive queue and consumes it. */
export async function amqpBystander(port: number, login: BystanderLogin = GUEST): Promise<Bystander> {
  const user = encodeURIComponent(login.username);
  const pass = encodeURIComponent(login.password);
  const conn = await amqp.connect(`amqp://${user}:${pass}@127.0.0.1:${port}`);
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  let waiting: (() => void) | undefined;
  await ch.consume(queue, () => waiting?.(), { noAck: true });
  return {
    name: 'amqp',
    once: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        ch.sendToQueue(queue, Buffer.from('ping'));
      }),
    close: () => conn.close(),
  };
}

/** An MQTT bystander: subscribes to a topic of its own and publishes to it at QoS 0. */
export async function mqttBystander(port: number, login: BystanderLogin = GUEST): Promise<Bystander> {
  const id = `bystander-${randomUUID()}`;
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    reconnectPeriod: 0, clientId: id, username: login.username, password: login.password,
  });
  const topic = `${id}/echo`;
  await c.subscribeAsync(topic, { qos: 0 });
  let waiting: (() => void) | undefined;
  c.on('message', () => waiting?.());
  return {
    name: 'mqtt',
    once: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        c.publish(topic, 'ping', { qos: 0 });
      }),
    close: () => c.endAsync(),
  };
}

/**
 * A raw STOMP 1.2 connection, logged in: frames written as text, frames read by their NUL terminator; every frame but
 * CONNECTED goes to `onFrame`.
 */
export async function stompSocket(port: number, onFrame: (frame: string) => void, login: BystanderLogin = GUEST): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  let buf = '';
  let connected: () => void;
  let failed: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    connected = resolve;
    failed = reject;
  });
  s.setEncoding('utf8');
  s.on('error', (e) => failed(e));
  s.on('data', (d: string) => {
    buf += d;
    let end: number;
    while ((end = buf.indexOf('\0')) >= 0) {
      const frame = buf.slice(0, end).replace(/^\n+/, '');
      buf = buf.slice(end + 1);
      if (frame.startsWith('CONNECTED')) connected();
      else {
        if (frame.startsWith('ERROR')) failed(new Error(`STOMP: ${frame}`)); // before CONNECTED: the login failed
        onFrame(frame);
      }
    }
  });
  s.write(`CONNECT\naccept-version:1.2\nhost:/\nlogin:${login.username}\npasscode:${login.password}\n\n\0`);
  await ready;
  return s;
}

/** A STOMP bystander: subscribes to a topic of its own and SENDs to it. */
export async function stompBystander(port: number, login: BystanderLogin = GUEST): Promise<Bystander> {
  let waiting: (() => void) | undefined;
  const destination = `/topic/bystander.${randomUUID()}`;
  const s = await stompSocket(port, (f) => {
    if (f.startsWith('MESSAGE')) waiting?.();
  }, login);
  s.write(`SUBSCRIBE\ndestination:${destination}\nid:0\n\n\0`);
  return {
    name: 'stomp',
    // The subscription is live once a message comes through (the warm-up round trip).
    once: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        s.write(`SEND\ndestination:${destination}\n\nping\0`);
      }),
    close: async () => {
      s.destroy();
    },
  };
}

/** Round trips, back to back with a short pause, until `until` settles; returns the latencies (ms). */
async function measure(b: Bystander, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.then(
    () => (done = true),
    () => (done = true),
  );
  const out: number[] = [];
  while (!done) {
    const t0 = performance.now();
    await b.once();
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 2));
  }
  return out;
}

/** Resolves after `ms`: an attack awaits it to keep its sockets or requests pending while the bystanders measure. */
export function hold(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The 99th percentile of `xs` (0 for none). */
export function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
}

/** What `withBystanders` measured. */
export interface BystanderReport {
  /** Each bystander's p99 round trip (ms, rounded) while the attack ran. */
  p99: Record<BystanderProtocol, number>;
  /** The fewest round trips any bystander completed. */
  samples: number;
  /** How long the attack took (ms). */
  attackMs: number;
}

/** Asserts every bystander got at least `MIN_SAMPLES` round trips with a p99 under `P99_BOUND_MS`. */
export function expectBystandersUnhurt(r: BystanderReport): void {
  expect(r.samples).toBeGreaterThanOrEqual(MIN_SAMPLES);
  for (const [name, v] of Object.entries(r.p99)) expect(v, `${name} bystander p99`).toBeLessThan(P99_BOUND_MS);
}

/** Prints the report under `label` (the figures the security issue asks for). */
export function logReport(label: string, r: BystanderReport): void {
  console.log(`${label}: attack ${Math.round(r.attackMs)} ms; bystander p99 (ms) ${JSON.stringify(r.p99)} over ${r.samples}+ round trips`);
}

/** Options of `withBystanders`. */
export interface BystanderOptions {
  /** The bystanders' login (default guest/guest). */
  login?: BystanderLogin;
}

/**
 * Connects a bystander on each protocol (to the broker's `amqp`, `mqtt` and `stomp` ports), warms each with one
 * round trip, runs `attack` while all three keep doing round trips, then closes them. A rejected attack rejects.
 */
export async function withBystanders(
  ports: Partial<Record<BystanderProtocol, number>>,
  attack: () => Promise<void>,
  options: BystanderOptions = {},
): Promise<BystanderReport> {
  const portOf = (name: BystanderProtocol): number => {
    const p = ports[name];
    if (p === undefined) throw new Error(`bystanders need the ${name} listener on`);
    return p;
  };
  const login = options.login ?? GUEST;
  const bystanders = [
    await amqpBystander(portOf('amqp'), login),
    await mqttBystander(portOf('mqtt'), login),
    await stompBystander(portOf('stomp'), login),
  ];
  try {
    for (const b of bystanders) await b.once();
    const t0 = performance.now();
    const attackDone = attack();
    const results = await Promise.all(bystanders.map((b) => measure(b, attackDone)));
    await attackDone;
    const attackMs = performance.now() - t0;
    const byName = (name: BystanderProtocol): number => Math.round(p99(results[bystanders.findIndex((b) => b.name === name)] ?? []));
    return {
      p99: { amqp: byName('amqp'), mqtt: byName('mqtt'), stomp: byName('stomp') },
      samples: Math.min(...results.map((r) => r.length)),
      attackMs,
    };
  } finally {
    for (const b of bystanders) await b.close();
  }
}
