/**
 * STOMP interop: stompit, @stomp/stompjs (over TCP through a minimal WebSocket-like wrapper) and stomp.py against
 * Warren's STOMP listener, plus AMQP (amqplib) ⇄ STOMP in both directions.
 *
 * Set STOMP_INTEROP_PORT (and AMQP_INTEROP_URL) to run the same tests against another broker, e.g. the reference
 * RabbitMQ: STOMP_INTEROP_PORT=61623 AMQP_INTEROP_URL=amqp://guest:guest@127.0.0.1:5682.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqp from 'amqplib';
import { Client, type IFrame, type IMessage, type StompConfig } from '@stomp/stompjs';
import { TcpWebSocket } from './tcp-websocket.js';

const require = createRequire(import.meta.url);

/** The parts of stompit these tests use (it ships no types). */
interface StompitMessage {
  headers: Record<string, string>;
  readString(encoding: string, cb: (err: Error | null, body?: string) => void): void;
}
interface StompitClient {
  send(headers: Record<string, string>, options?: { onReceipt?: () => void }): { write(s: string): void; end(): void };
  subscribe(headers: Record<string, string>, cb: (err: Error | null, message: StompitMessage) => void): unknown;
  ack(message: StompitMessage): void;
  nack(message: StompitMessage): void;
  disconnect(cb?: (err?: Error) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
const stompit = require('stompit') as {
  connect(options: object, cb: (err: Error | null, client: StompitClient) => void): void;
};

const host = '127.0.0.1';
let stompPort = Number(process.env['STOMP_INTEROP_PORT'] ?? 0);
/** Against another broker, Warren-only behaviour (typed headers as text, receipt-id on every ERROR) is not checked. */
const warren = stompPort === 0;
let amqpUrl = process.env['AMQP_INTEROP_URL'] ?? '';
let stompsPort = 0;
let stop: () => Promise<void> = async () => {};

beforeAll(async () => {
  if (stompPort !== 0) return;
  const { startEmbeddedBroker: startBroker, SETTINGS } = await import('@warren/server');
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-stomp-'));
  // Every listener on a free port (plain) or off (TLS), whichever protocols this build has: no fixed-port clashes.
  const config: Record<string, unknown> = { dataDir, log: { level: 'silent' } };
  for (const setting of SETTINGS) {
    const [section, field] = setting.path.split('.');
    if (setting.kind !== 'port' || section === undefined || field === undefined) continue;
    ((config[section] ??= {}) as Record<string, unknown>)[field] = field === 'port' ? 0 : null;
  }
  // STOMP over TLS too (61614's listener), with the generated self-signed certificate.
  (config['stomp'] as Record<string, unknown>)['tlsPort'] = 0;
  const running = await startBroker(config as Parameters<typeof startBroker>[0]);
  stompPort = running.ports.stomp ?? 0;
  stompsPort = running.ports.stomps ?? 0;
  amqpUrl = `amqp://guest:guest@${host}:${running.ports.amqp}`;
  stop = async () => {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
});
afterAll(() => stop());

const unique = (p: string): string => `stomp-${p}-${randomBytes(4).toString('hex')}`;

function within<T>(p: Promise<T>, ms = 5000, what = 'operation'): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out`)), ms))]);
}

function stompitConnect(): Promise<StompitClient> {
  return new Promise((resolve, reject) => {
    stompit.connect(
      { host, port: stompPort, connectHeaders: { host: '/', login: 'guest', passcode: 'guest', 'heart-beat': '0,0' } },
      (err, client) => (err ? reject(err) : resolve(client)),
    );
  });
}

const readString = (m: StompitMessage): Promise<string> =>
  new Promise((resolve, reject) => m.readString('utf-8', (err, body) => (err ? reject(err) : resolve(body ?? ''))));

function stompjsClient(extra: Partial<StompConfig> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new TcpWebSocket(stompPort, host),
      connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      onConnect: () => resolve(client),
      onStompError: (f) => reject(new Error(f.headers['message'])),
      ...extra,
    });
    client.activate();
  });
}

describe('stompit', () => {
  it('sends with a receipt and receives with client-individual acks, custom headers intact', async () => {
    const q = unique('stompit');
    const client = await stompitConnect();
    const received = new Promise<{ body: string; headers: Record<string, string> }>((resolve, reject) => {
      client.subscribe({ destination: `/queue/${q}`, ack: 'client-individual', id: 'sub-1' }, (err, m) => {
        if (err) return reject(err);
        void readString(m).then((body) => {
          client.ack(m);
          resolve({ body, headers: m.headers });
        });
      });
    });
    const receipt = new Promise<void>((resolve) => {
      const frame = client.send({ destination: `/queue/${q}`, 'x-colour': 'blue:green', 'content-type': 'text/plain' }, { onReceipt: resolve });
      frame.write('hello from stompit');
      frame.end();
    });
    await within(receipt, 5000, 'receipt');
    const m = await within(received, 5000, 'message');
    expect(m.body).toBe('hello from stompit');
    expect(m.headers).toMatchObject({ 'x-colour': 'blue:green', 'content-type': 'text/plain', subscription: 'sub-1', destination: `/queue/${q}` });
    await new Promise<void>((resolve) => client.disconnect(() => resolve()));
  });
});

describe('@stomp/stompjs over TCP', () => {
  it('publishes to a topic and receives on a wildcard subscription, binary body intact', async () => {
    const client = await stompjsClient();
    const key = unique('js');
    const got = new Promise<IMessage>((resolve) => {
      client.subscribe(`/topic/${key}.*`, resolve, { id: 'js-1' });
    });
    // A receipt on a later frame proves the subscription is in place first.
    await new Promise<void>((resolve) => {
      client.watchForReceipt('ready', () => resolve());
      client.publish({ destination: `/queue/${unique('noop')}`, body: '', headers: { receipt: 'ready' } });
    });
    const bytes = new Uint8Array([0, 1, 2, 255, 0, 10]);
    client.publish({ destination: `/topic/${key}.a`, binaryBody: bytes, headers: { 'content-type': 'application/octet-stream' } });
    const m = await within(got);
    expect([...m.binaryBody]).toEqual([...bytes]);
    expect(m.headers['destination']).toBe(`/topic/${key}.a`);
    expect(m.headers['subscription']).toBe('js-1');
    await client.deactivate();
  });

  it('gets an ERROR frame with RabbitMQ\'s text (and no receipt-id, as RabbitMQ) for an unknown destination', async () => {
    let onError: (f: IFrame) => void = () => {};
    const error = new Promise<IFrame>((resolve) => (onError = resolve));
    const client = await stompjsClient({ onStompError: (f) => onError(f) });
    client.publish({ destination: '/nowhere/x', body: 'x', headers: { receipt: 'bad-1' } });
    const f = await within(error);
    expect(f.headers['message']).toBe('Unknown destination');
    expect(f.headers['receipt-id']).toBeUndefined();
    expect(f.body).toBe(
      "'/nowhere/x' is not a valid destination.\nValid destination types are: /temp-queue, /exchange, /topic, /queue, /amq/queue, /reply-queue/.\n",
    );
    await client.deactivate();
  });

  it('NACK requeues (redelivered) and ACK settles, STOMP 1.2 ack ids', async () => {
    const client = await stompjsClient();
    const q = unique('nack');
    const seen: IMessage[] = [];
    const twice = new Promise<void>((resolve) => {
      client.subscribe(
        `/queue/${q}`,
        (m) => {
          seen.push(m);
          if (seen.length === 1) m.nack();
          else {
            m.ack();
            resolve();
          }
        },
        { ack: 'client-individual', id: 'n' },
      );
    });
    client.publish({ destination: `/queue/${q}`, body: 'again' });
    await within(twice);
    expect(seen.map((m) => [m.body, m.headers['redelivered']])).toEqual([
      ['again', 'false'],
      ['again', 'true'],
    ]);
    await client.deactivate();
  });
});

describe.skipIf(!warren)('STOMP over TLS', () => {
  it('CONNECT, SEND and MESSAGE over the stomps listener', async () => {
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ host, port: stompsPort, rejectUnauthorized: false }, () => resolve(c));
      c.once('error', reject);
    });
    let text = '';
    const seen = (re: RegExp): Promise<void> =>
      within(
        new Promise<void>((resolve) => {
          const check = (): void => (re.test(text) ? resolve() : void s.once('data', check));
          check();
        }),
      );
    s.on('data', (d: Buffer) => (text += d.toString()));
    const q = unique('tls');
    s.write('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0');
    await seen(/^CONNECTED\n/);
    s.write(`SUBSCRIBE\ndestination:/queue/${q}\nid:1\n\n\0SEND\ndestination:/queue/${q}\n\nover tls\0`);
    await seen(/MESSAGE\n[\s\S]*\n\nover tls\0/);
    expect(s.getPeerCertificate().subject.CN).toBe('localhost');
    s.destroy();
  });
});

describe('stomp.py', () => {
  it('round-trips with receipts, ack ids and transactions (abort drops, commit delivers)', async () => {
    const q = unique('py');
    const script = fileURLToPath(new URL('./stomppy/roundtrip.py', import.meta.url));
    const out = await new Promise<string>((resolve, reject) => {
      execFile('/usr/bin/python3', [script, host, String(stompPort), 'roundtrip', q], { timeout: 15000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toEqual([
      { event: 'message', body: 'héllo from python', custom: 'v:1', subscription: 'py1', destination: `/queue/${q}` },
      { event: 'tx', body: 'committed', count: 2 },
      { event: 'done', errors: [] },
    ]);
  });
});

describe('AMQP ⇄ STOMP', () => {
  it('an amqplib message reaches a STOMP subscriber with properties and typed headers as text', async () => {
    const q = unique('a2s');
    const client = await stompjsClient();
    const got = new Promise<IMessage>((resolve) => client.subscribe(`/queue/${q}`, resolve, { id: 'x' }));
    await new Promise<void>((resolve) => {
      client.watchForReceipt('r', () => resolve());
      client.publish({ destination: `/queue/${unique('noop')}`, body: '', headers: { receipt: 'r' } });
    });
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createChannel();
    ch.sendToQueue(q, Buffer.from('from amqp'), {
      persistent: true,
      contentType: 'text/plain',
      correlationId: 'corr-1',
      messageId: 'mid-1',
      priority: 4,
      replyTo: 'rpc-replies',
      headers: { 'x-str': 'text', 'x-int': 42, 'x-bool': true, 'x-float': 0.5, 'x-tbl': { a: 1 } },
    });
    const m = await within(got);
    expect(m.body).toBe('from amqp');
    expect(m.headers).toMatchObject({
      persistent: 'true',
      'content-type': 'text/plain',
      'correlation-id': 'corr-1',
      'amqp-message-id': 'mid-1',
      priority: '4',
      'x-str': 'text',
      'reply-to': '/reply-queue/rpc-replies',
      destination: `/queue/${q}`,
    });
    // RabbitMQ drops the headers amqplib types as byte/short/bool/double/table; Warren sends their text form.
    if (warren) expect(m.headers).toMatchObject({ 'x-int': '42', 'x-bool': 'true', 'x-float': '0.5', 'x-tbl': '{"a":1}' });
    await conn.close();
    await client.deactivate();
  });

  it('a STOMP SEND reaches an amqplib consumer with properties and headers', async () => {
    const q = unique('s2a');
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createChannel();
    await ch.assertQueue(q, { durable: true });
    const got = new Promise<amqp.ConsumeMessage>((resolve) => {
      void ch.consume(q, (m) => m && resolve(m), { noAck: true });
    });
    const client = await stompjsClient();
    client.publish({
      destination: `/queue/${q}`,
      body: 'from stomp',
      headers: { persistent: 'true', 'reply-to': 'replies', 'correlation-id': 'c7', 'x-trace': 'abc', 'app-id': 'tests' },
    });
    const m = await within(got);
    expect(m.content.toString()).toBe('from stomp');
    expect(m.properties).toMatchObject({ deliveryMode: 2, replyTo: 'replies', correlationId: 'c7', appId: 'tests' });
    expect(m.properties.headers).toMatchObject({ 'x-trace': 'abc' });
    expect(m.fields).toMatchObject({ exchange: '', routingKey: q });
    await client.deactivate();
    await ch.deleteQueue(q);
    await conn.close();
  });

  it('a STOMP /topic/ subscriber gets what AMQP publishes to amq.topic with a matching key', async () => {
    const key = unique('t').replace(/-/g, '_');
    const client = await stompjsClient();
    const got = new Promise<IMessage>((resolve) => client.subscribe(`/topic/sensors.${key}.*`, resolve, { id: 't' }));
    await new Promise<void>((resolve) => {
      client.watchForReceipt('r2', () => resolve());
      client.publish({ destination: `/queue/${unique('noop')}`, body: '', headers: { receipt: 'r2' } });
    });
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createChannel();
    ch.publish('amq.topic', `sensors.${key}.temp`, Buffer.from('21.5'));
    const m = await within(got);
    expect(m.body).toBe('21.5');
    expect(m.headers['destination']).toBe(`/topic/sensors.${key}.temp`);
    await conn.close();
    await client.deactivate();
  });
});
