#!/usr/bin/env node
/**
 * Capture what a real RabbitMQ 3.10 management API (and its Prometheus endpoint and rabbitmqadmin) answers, as a shape
 * reference for Warren's RabbitMQ-compatible management API.
 *
 *   npm run build && node scripts/capture-rabbitmq-reference.mjs [outDir]     (default: tests/fixtures/rabbitmq-3.10)
 *
 * Starts a private RabbitMQ node (Debian's rabbitmq-server; own node name, own temp dir, every listener on a free
 * loopback port; bench/src/rabbitmq-node.ts, as the differential tests), builds a known state through the HTTP API and real
 * AMQP/MQTT/STOMP/Web STOMP/Web MQTT clients, then writes one JSON file per answer: { request, status, headers, body }.
 * Volatile values (timestamps, pids, ports, node names, rates, memory) are left as they are. Long lists are cut to a
 * few items (the record says how many there were). The node is stopped and its temp dir removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import mqtt from 'mqtt';
import stompit from 'stompit';
import WebSocket from 'ws';
// Built by `npm run build` (the bench package): run that once before this script.
import { startPrivateRabbitMQ } from '../bench/dist/rabbitmq-node.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'tests/fixtures/rabbitmq-3.10'));
const LIST_CAP = 6;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error('[capture]', ...a);

// ---------------------------------------------------------------------------------------------------------------------
// The private node: the one the differential tests and the bench start (bench/src/rabbitmq-node.ts, built copy).

const startNode = () => startPrivateRabbitMQ();

// ---------------------------------------------------------------------------------------------------------------------
// HTTP and recording

function basic(u, p) {
  return `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
}

const KEPT_HEADERS = ['content-type', 'location', 'www-authenticate', 'allow', 'content-disposition', 'vary', 'cache-control'];

let rmq; // the started node
const index = []; // what was recorded

async function http(method, urlPath, { body, rawBody, auth = ['guest', 'guest'], headers = {}, base } = {}) {
  const h = { ...headers };
  if (auth) h.authorization = basic(auth[0], auth[1]);
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
    h['content-type'] ??= 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base ?? `http://127.0.0.1:${rmq.managementPort}`}${urlPath}`, { method, headers: h, body: payload });
  const text = await res.text();
  const kept = {};
  for (const k of KEPT_HEADERS) {
    const v = res.headers.get(k);
    if (v !== null) kept[k] = v;
  }
  let parsed;
  if (text === '') parsed = null;
  else {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: kept, body: parsed, text };
}

/** Cut long lists (at any depth) to LIST_CAP items; returns the note of what was cut. */
function cap(value, at = '$', notes = []) {
  if (Array.isArray(value)) {
    if (value.length > LIST_CAP) {
      notes.push(`${at}: ${value.length} items, kept ${LIST_CAP}`);
      value.splice(LIST_CAP);
    }
    value.forEach((v, i) => cap(v, `${at}[${i}]`, notes));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // Samples lists are the shape under test: keep them whole (they are bounded by lengths_age / incr anyway).
      if (k === 'samples') continue;
      cap(v, `${at}.${k}`, notes);
    }
  }
  return notes;
}

function write(name, obj) {
  writeFileSync(path.join(OUT, name), typeof obj === 'string' ? obj : `${JSON.stringify(obj, null, 2)}\n`);
}

/** Do a request and record it as <name>.json. */
async function rec(name, method, urlPath, opts = {}) {
  const r = await http(method, urlPath, opts);
  const body = r.body;
  const notes = cap(body);
  const request = { method, path: urlPath };
  if (opts.headers && Object.keys(opts.headers).length) request.headers = opts.headers;
  if (opts.body !== undefined) request.body = opts.body;
  if (opts.rawBody !== undefined) request.raw_body = opts.rawBody;
  request.auth = opts.auth === null ? 'none' : opts.auth ? `${opts.auth[0]}:${opts.auth[1]}` : 'guest:guest';
  const record = { request, status: r.status, headers: r.headers, body };
  if (opts.note) record.note = opts.note;
  if (notes.length) record.truncated = notes;
  write(`${name}.json`, record);
  index.push({ file: `${name}.json`, method, path: urlPath, status: r.status });
  log(`${r.status} ${method} ${urlPath} -> ${name}.json`);
  return r;
}

/** Must-succeed setup request. */
async function setup(method, urlPath, body, auth) {
  const r = await http(method, urlPath, { body, ...(auth ? { auth } : {}) });
  if (r.status >= 300) throw new Error(`${method} ${urlPath} -> ${r.status} ${r.text}`);
  return r;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------------------------------------
// Clients

function stompConnect(port, vhost = '/') {
  return new Promise((resolve, reject) => {
    stompit.connect(
      { host: '127.0.0.1', port, connectHeaders: { host: vhost, login: 'guest', passcode: 'guest', 'heart-beat': '0,0' } },
      (err, client) => (err ? reject(err) : resolve(client)),
    );
  });
}

function mqttConnect(url, opts) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username: 'guest', password: 'guest', reconnectPeriod: 0, connectTimeout: 10000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** Web STOMP over a raw ws client; returns { ws, frames } (frames: every text frame received). */
function webStompConnect(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['v12.stomp']);
    const frames = [];
    ws.on('message', (d) => {
      frames.push(d.toString());
      if (frames.length === 1) resolve({ ws, frames });
    });
    ws.once('error', reject);
    ws.once('open', () => ws.send('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0'));
  });
}

/** A raw STOMP TCP socket (to see the exact bytes on a forced close). */
function rawStomp(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const seen = { data: '', events: [] };
    s.on('data', (d) => {
      seen.data += d.toString('utf8');
      if (seen.data.startsWith('CONNECTED')) resolve({ s, seen });
    });
    s.on('end', () => seen.events.push('end'));
    s.on('close', (hadError) => seen.events.push(`close(hadError=${hadError})`));
    s.on('error', (e) => {
      seen.events.push(`error(${e.code ?? e.message})`);
      reject(e);
    });
    s.once('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0'));
  });
}

// ---------------------------------------------------------------------------------------------------------------------

async function main() {
  mkdirSync(OUT, { recursive: true });
  log('starting a private RabbitMQ node…');
  rmq = await startNode();
  log(`node ${rmq.nodeName} amqp=${rmq.amqpPort} mgmt=${rmq.managementPort} prom=${rmq.prometheusPort}`);
  const closers = [];
  try {
    await capture(closers);
  } finally {
    for (const c of closers.reverse()) {
      try {
        await Promise.race([c(), sleep(3000)]); // a client that never confirms its close must not hold the run
      } catch {
        // best effort
      }
    }
    log('stopping the node…');
    await rmq.stop();
  }
  write('_index.json', { rabbitmq: '3.10.8 (Debian package)', files: index });
  log(`done: ${index.length} answers in ${OUT}`);
}

async function capture(closers) {
  const V = 'ref';
  // ---- the known state ----------------------------------------------------------------------------------------------
  await setup('PUT', '/api/cluster-name', { name: 'warren-ref-cluster' });
  await setup('PUT', `/api/vhosts/${V}`, { description: 'Warren reference vhost', tags: 'ref,test' });
  const users = {
    'ref-admin': 'administrator',
    'ref-monitoring': 'monitoring',
    'ref-policymaker': 'policymaker',
    'ref-management': 'management',
    'ref-none': '',
    'ref-noperm': 'management',
  };
  for (const [u, tags] of Object.entries(users)) await setup('PUT', `/api/users/${u}`, { password: 'secret', tags });
  // A user created with a password hash instead of a password.
  await setup('PUT', '/api/users/ref-hashed', {
    password_hash: 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR',
    hashing_algorithm: 'rabbit_password_hashing_sha256',
    tags: 'management',
  });
  for (const u of ['guest', 'ref-admin', 'ref-monitoring', 'ref-policymaker', 'ref-management', 'ref-none', 'ref-hashed']) {
    await setup('PUT', `/api/permissions/${V}/${u}`, { configure: '.*', write: '.*', read: '.*' });
  }
  await setup('PUT', `/api/permissions/%2F/ref-management`, { configure: '^ref-.*', write: '.*', read: '^amq\\.' });
  await setup('PUT', `/api/topic-permissions/${V}/ref-management`, { exchange: 'amq.topic', write: '^ref\\.', read: '.*' });
  await setup('PUT', `/api/topic-permissions/%2F/guest`, { exchange: 'amq.topic', write: '.*', read: '.*' });

  // Exchanges of each type, one with an alternate exchange, an internal one.
  await setup('PUT', `/api/exchanges/${V}/ref-ae`, { type: 'fanout', durable: true });
  await setup('PUT', `/api/exchanges/${V}/ref-direct`, {
    type: 'direct',
    durable: true,
    auto_delete: false,
    internal: false,
    arguments: { 'alternate-exchange': 'ref-ae' },
  });
  await setup('PUT', `/api/exchanges/${V}/ref-fanout`, { type: 'fanout', durable: true });
  await setup('PUT', `/api/exchanges/${V}/ref-topic`, { type: 'topic', durable: true });
  await setup('PUT', `/api/exchanges/${V}/ref-headers`, { type: 'headers', durable: true });
  await setup('PUT', `/api/exchanges/${V}/ref-internal`, { type: 'topic', durable: true, internal: true });
  await setup('PUT', `/api/exchanges/${V}/ref-transient`, { type: 'direct', durable: false, auto_delete: true });

  // Queues: classic with arguments, quorum, stream, plus queues for the ae and bindings.
  const classicQ = await rec('queue-put-created', 'PUT', `/api/queues/${V}/ref-classic`, {
    body: {
      durable: true,
      auto_delete: false,
      arguments: { 'x-message-ttl': 3600000, 'x-max-length': 1000, 'x-dead-letter-exchange': 'ref-ae', 'x-queue-mode': 'lazy' },
    },
  });
  if (classicQ.status !== 201) throw new Error('classic queue not created');
  await rec('queue-put-updated', 'PUT', `/api/queues/${V}/ref-classic`, {
    body: {
      durable: true,
      auto_delete: false,
      arguments: { 'x-message-ttl': 3600000, 'x-max-length': 1000, 'x-dead-letter-exchange': 'ref-ae', 'x-queue-mode': 'lazy' },
    },
    note: 'Same declaration again: 204, no body.',
  });
  await rec('queue-put-inequivalent', 'PUT', `/api/queues/${V}/ref-classic`, {
    body: { durable: true, arguments: { 'x-message-ttl': 5 } },
    note: 'Re-declaring with different arguments.',
  });
  await setup('PUT', `/api/queues/${V}/ref-quorum`, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 },
  });
  await setup('PUT', `/api/queues/${V}/ref-stream`, {
    durable: true,
    arguments: { 'x-queue-type': 'stream', 'x-max-length-bytes': 10000000 },
  });
  await setup('PUT', `/api/queues/${V}/ref-ae-q`, { durable: true });
  await setup('PUT', `/api/queues/${V}/ref-headers-q`, { durable: true });
  await setup('PUT', `/api/queues/${V}/ref-consumed`, { durable: true });
  await setup('PUT', `/api/queues/${V}/ref-get`, { durable: false });
  await setup('PUT', `/api/queues/${V}/ref-e2e-q`, { durable: true });
  await setup('PUT', '/api/queues/%2F/root-q', { durable: true });

  // Bindings.
  await setup('POST', `/api/bindings/${V}/e/ref-ae/q/ref-ae-q`, { routing_key: '', arguments: {} });
  await setup('POST', `/api/bindings/${V}/e/ref-direct/q/ref-classic`, { routing_key: 'classic' });
  await setup('POST', `/api/bindings/${V}/e/ref-direct/q/ref-quorum`, { routing_key: 'quorum' });
  await setup('POST', `/api/bindings/${V}/e/ref-direct/q/ref-stream`, { routing_key: 'stream' });
  await setup('POST', `/api/bindings/${V}/e/ref-topic/q/ref-classic`, { routing_key: 'ref.#' });
  await setup('POST', `/api/bindings/${V}/e/ref-topic/e/ref-fanout`, { routing_key: 'fan.*' });
  await setup('POST', `/api/bindings/${V}/e/ref-fanout/q/ref-e2e-q`, { routing_key: '' });

  // Policies, operator policies, limits.
  await setup('PUT', `/api/policies/${V}/ref-policy`, {
    pattern: '^ref-classic$',
    definition: { 'max-length': 500, 'message-ttl': 600000 },
    priority: 1,
    'apply-to': 'queues',
  });
  await setup('PUT', `/api/policies/${V}/ref-ex-policy`, {
    pattern: '^ref-fanout$',
    definition: { 'alternate-exchange': 'ref-ae' },
    priority: 0,
    'apply-to': 'exchanges',
  });
  await setup('PUT', `/api/operator-policies/${V}/ref-op-policy`, {
    pattern: '^ref-',
    definition: { 'max-length-bytes': 100000000 },
    priority: 0,
    'apply-to': 'queues',
  });
  await setup('PUT', `/api/vhost-limits/${V}/max-connections`, { value: 100 });
  await setup('PUT', `/api/vhost-limits/${V}/max-queues`, { value: 200 });
  await setup('PUT', '/api/user-limits/ref-management/max-connections', { value: 10 });
  await setup('PUT', '/api/user-limits/ref-management/max-channels', { value: 20 });

  // ---- clients ------------------------------------------------------------------------------------------------------
  const amqpUrl = `amqp://guest:guest@127.0.0.1:${rmq.amqpPort}/${V}`;
  const conn = await amqplib.connect(amqpUrl, { clientProperties: { connection_name: 'ref-amqp-connection' } });
  closers.push(() => conn.close());
  const pubCh = await conn.createConfirmChannel();
  const publish = (ex, rk, body, props = {}) =>
    new Promise((res, rej) => pubCh.publish(ex, rk, Buffer.from(body), props, (e) => (e ? rej(e) : res())));
  for (let i = 0; i < 5; i++) {
    await publish('ref-direct', 'classic', `classic message ${i}`, {
      persistent: true,
      contentType: 'text/plain',
      headers: { 'x-ref': i },
      messageId: `m${i}`,
    });
  }
  for (let i = 0; i < 3; i++) await publish('ref-direct', 'quorum', `quorum message ${i}`, { persistent: true });
  for (let i = 0; i < 3; i++) await publish('ref-direct', 'stream', `stream message ${i}`);
  await publish('ref-direct', 'nowhere', 'to the alternate exchange');
  await publish('ref-topic', 'fan.out', 'exchange to exchange');
  for (let i = 0; i < 4; i++) await publish('', 'ref-get', `get message ${i}`, { contentType: 'text/plain' });
  await publish('', 'ref-get', Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('latin1'));
  for (let i = 0; i < 20; i++) await publish('', 'ref-consumed', `consumed message ${i}`);

  // A consumer with prefetch that leaves messages unacknowledged.
  const consCh = await conn.createChannel();
  await consCh.prefetch(10, false);
  await consCh.consume('ref-consumed', () => undefined, { consumerTag: 'ref-consumer-tag', noAck: false, arguments: { 'x-priority': 3 } });
  // An exclusive, server-named queue and an auto-delete queue with a consumer.
  const exCh = await conn.createChannel();
  const exclusive = await exCh.assertQueue('', { exclusive: true, durable: false });
  await exCh.assertQueue('ref-autodelete', { autoDelete: true, durable: false });
  await exCh.bindQueue('ref-autodelete', 'ref-headers', '', { 'x-match': 'any', format: 'pdf', type: 'report' });
  await exCh.bindQueue('ref-headers-q', 'ref-headers', '', { 'x-match': 'all', format: 'pdf' });
  await exCh.consume('ref-autodelete', (m) => m && exCh.ack(m), { consumerTag: 'ref-autodelete-consumer' });
  await publish('ref-headers', '', 'headers routed', { headers: { format: 'pdf', type: 'report' } });

  // MQTT: clean and persistent sessions.
  const mqttClean = await mqttConnect(`mqtt://127.0.0.1:${rmq.mqttPort}`, { clientId: 'ref-mqtt-clean', clean: true });
  closers.push(() => mqttClean.endAsync());
  await mqttClean.subscribeAsync('ref/clean/#', { qos: 0 });
  const mqttPersistent = await mqttConnect(`mqtt://127.0.0.1:${rmq.mqttPort}`, { clientId: 'ref-mqtt-persistent', clean: false });
  closers.push(() => mqttPersistent.endAsync());
  await mqttPersistent.subscribeAsync('ref/persistent/+', { qos: 1 });
  await mqttClean.publishAsync('ref/persistent/x', 'from mqtt', { qos: 1 });
  // STOMP.
  const stomp = await stompConnect(rmq.stompPort);
  closers.push(() => new Promise((r) => stomp.disconnect(() => r())));
  stomp.subscribe({ destination: '/queue/ref-stomp', ack: 'client-individual' }, () => undefined);
  const sf = stomp.send({ destination: '/queue/ref-stomp', 'content-type': 'text/plain' });
  sf.end('from stomp');
  // Web STOMP, Web MQTT.
  const webStomp = await webStompConnect(rmq.webStompPort);
  closers.push(() => webStomp.ws.close());
  webStomp.ws.send('SUBSCRIBE\nid:sub-0\ndestination:/topic/ref.web\nack:auto\n\n\0');
  const webMqtt = await mqttConnect(`ws://127.0.0.1:${rmq.webMqttPort}/ws`, { clientId: 'ref-web-mqtt', clean: true });
  closers.push(() => webMqtt.endAsync());
  await webMqtt.subscribeAsync('ref/web/#', { qos: 0 });

  log('waiting for the stats to be collected…');
  await sleep(12000);

  // ---- GET endpoints ------------------------------------------------------------------------------------------------
  const node = rmq.nodeName;
  await rec('overview', 'GET', '/api/overview');
  await rec('overview-lengths-age', 'GET', '/api/overview?lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5');
  await rec('nodes', 'GET', '/api/nodes');
  await rec('node', 'GET', `/api/nodes/${enc(node)}`);
  await rec('node-memory', 'GET', `/api/nodes/${enc(node)}?memory=true&binary=true`);
  await rec('whoami', 'GET', '/api/whoami');
  await rec('whoami-monitoring', 'GET', '/api/whoami', { auth: ['ref-monitoring', 'secret'] });
  await rec('auth', 'GET', '/api/auth', { auth: null });
  await rec('extensions', 'GET', '/api/extensions');
  await rec('cluster-name', 'GET', '/api/cluster-name');
  await rec('vhosts', 'GET', '/api/vhosts');
  await rec('vhost', 'GET', `/api/vhosts/${V}`);
  await rec('vhost-root', 'GET', '/api/vhosts/%2F');
  await rec('users', 'GET', '/api/users');
  await rec('user', 'GET', '/api/users/ref-management');
  await rec('user-hashed', 'GET', '/api/users/ref-hashed');
  await rec('users-without-permissions', 'GET', '/api/users/without-permissions');
  await rec('permissions', 'GET', '/api/permissions');
  await rec('permission', 'GET', `/api/permissions/${V}/ref-management`);
  await rec('topic-permissions', 'GET', '/api/topic-permissions');
  await rec('topic-permission', 'GET', `/api/topic-permissions/${V}/ref-management`);
  await rec('user-permissions', 'GET', '/api/users/ref-management/permissions');
  await rec('user-topic-permissions', 'GET', '/api/users/ref-management/topic-permissions');
  await rec('vhost-permissions', 'GET', `/api/vhosts/${V}/permissions`);
  await rec('vhost-topic-permissions', 'GET', `/api/vhosts/${V}/topic-permissions`);
  await rec('vhost-limits', 'GET', '/api/vhost-limits');
  await rec('vhost-limits-vhost', 'GET', `/api/vhost-limits/${V}`);
  await rec('user-limits', 'GET', '/api/user-limits');
  await rec('user-limits-user', 'GET', '/api/user-limits/ref-management');
  await rec('policies', 'GET', '/api/policies');
  await rec('policies-vhost', 'GET', `/api/policies/${V}`);
  await rec('policy', 'GET', `/api/policies/${V}/ref-policy`);
  await rec('operator-policies', 'GET', '/api/operator-policies');
  await rec('operator-policy', 'GET', `/api/operator-policies/${V}/ref-op-policy`);
  await rec('parameters', 'GET', '/api/parameters');
  await rec('global-parameters', 'GET', '/api/global-parameters');
  await rec('global-parameter', 'GET', '/api/global-parameters/cluster_name');
  await rec('feature-flags', 'GET', '/api/feature-flags');
  await rec('queues', 'GET', '/api/queues');
  await rec('queues-vhost', 'GET', `/api/queues/${V}`);
  await rec('queue-classic', 'GET', `/api/queues/${V}/ref-classic`);
  await rec('queue-classic-lengths-age', 'GET', `/api/queues/${V}/ref-classic?lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5`);
  await rec('queue-consumed', 'GET', `/api/queues/${V}/ref-consumed`);
  await rec('queue-quorum', 'GET', `/api/queues/${V}/ref-quorum`);
  await rec('queue-stream', 'GET', `/api/queues/${V}/ref-stream`);
  await rec('queue-exclusive', 'GET', `/api/queues/${V}/${enc(exclusive.queue)}`);
  await rec('queue-autodelete', 'GET', `/api/queues/${V}/ref-autodelete`);
  await rec('queue-mqtt-persistent', 'GET', `/api/queues/%2F/${enc('mqtt-subscription-ref-mqtt-persistentqos1')}`);
  await rec('queue-bindings', 'GET', `/api/queues/${V}/ref-classic/bindings`);
  await rec('queues-paged', 'GET', `/api/queues/${V}?page=1&page_size=2&name=${enc('^ref-')}&use_regex=true&pagination=true`);
  await rec('queues-paged-page2', 'GET', `/api/queues?page=2&page_size=2&name=ref&pagination=true`);
  await rec('queues-columns', 'GET', `/api/queues/${V}?columns=name,messages`);
  await rec('queues-sorted', 'GET', `/api/queues/${V}?sort=messages&sort_reverse=true&columns=name,messages`);
  await rec('queues-disable-stats', 'GET', `/api/queues/${V}?disable_stats=true&enable_queue_totals=true`);
  await rec('queues-lengths-age', 'GET', `/api/queues/${V}?lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5`);
  await rec('exchanges', 'GET', '/api/exchanges');
  await rec('exchanges-vhost', 'GET', `/api/exchanges/${V}`);
  await rec('exchange-direct', 'GET', `/api/exchanges/${V}/ref-direct`);
  await rec('exchange-topic', 'GET', `/api/exchanges/${V}/ref-topic`);
  await rec('exchange-headers', 'GET', `/api/exchanges/${V}/ref-headers`);
  await rec('exchange-default', 'GET', `/api/exchanges/${V}/amq.default`);
  await rec('exchange-bindings-source', 'GET', `/api/exchanges/${V}/ref-topic/bindings/source`);
  await rec('exchange-bindings-destination', 'GET', `/api/exchanges/${V}/ref-fanout/bindings/destination`);
  await rec('exchanges-paged', 'GET', `/api/exchanges/${V}?page=1&page_size=3&pagination=true`);
  await rec('bindings', 'GET', '/api/bindings');
  await rec('bindings-vhost', 'GET', `/api/bindings/${V}`);
  await rec('bindings-e-q', 'GET', `/api/bindings/${V}/e/ref-headers/q/ref-autodelete`);
  await rec('bindings-e-e', 'GET', `/api/bindings/${V}/e/ref-topic/e/ref-fanout`);

  const conns = (await http('GET', '/api/connections')).body;
  const byProto = (re) => conns.find((c) => re.test(c.protocol ?? ''));
  await rec('connections', 'GET', '/api/connections');
  await rec('connections-vhost', 'GET', `/api/vhosts/${V}/connections`);
  await rec('connections-paged', 'GET', '/api/connections?page=1&page_size=2&pagination=true');
  const amqpC = conns.find((c) => c.client_properties?.connection_name === 'ref-amqp-connection');
  const connByProto = {
    amqp: amqpC,
    mqtt: conns.find((c) => /^MQTT/.test(c.protocol) && c.client_properties?.client_id === 'ref-mqtt-persistent') ?? byProto(/^MQTT/),
    'mqtt-clean': conns.find((c) => /^MQTT/.test(c.protocol) && c.client_properties?.client_id === 'ref-mqtt-clean'),
    stomp: byProto(/^STOMP/),
    'web-stomp': byProto(/Web STOMP|^Web.*STOMP/i),
    'web-mqtt': byProto(/Web MQTT|^Web.*MQTT/i),
  };
  for (const [k, c] of Object.entries(connByProto)) {
    if (!c) {
      log(`no ${k} connection found; protocols: ${conns.map((x) => x.protocol).join(', ')}`);
      continue;
    }
    await rec(`connection-${k}`, 'GET', `/api/connections/${enc(c.name)}`);
  }
  await rec('connection-amqp-channels', 'GET', `/api/connections/${enc(amqpC.name)}/channels`);
  const chans = (await http('GET', '/api/channels')).body;
  await rec('channels', 'GET', '/api/channels');
  await rec('channels-vhost', 'GET', `/api/vhosts/${V}/channels`);
  const consChan = chans.find((c) => c.connection_details?.name === amqpC.name && c.prefetch_count === 10) ?? chans[0];
  await rec('channel', 'GET', `/api/channels/${enc(consChan.name)}`);
  await rec('consumers', 'GET', '/api/consumers');
  await rec('consumers-vhost', 'GET', `/api/consumers/${V}`);
  await rec('definitions', 'GET', '/api/definitions');
  await rec('definitions-vhost', 'GET', `/api/definitions/${V}`);
  await rec('definitions-download', 'GET', '/api/definitions?download=defs.json');
  await rec('aliveness-test', 'GET', `/api/aliveness-test/${V}`);
  await rec('health-alarms', 'GET', '/api/health/checks/alarms');
  await rec('health-local-alarms', 'GET', '/api/health/checks/local-alarms');
  await rec('health-virtual-hosts', 'GET', '/api/health/checks/virtual-hosts');
  await rec('health-port-listener', 'GET', `/api/health/checks/port-listener/${rmq.amqpPort}`);
  await rec('health-port-listener-fail', 'GET', '/api/health/checks/port-listener/1');
  await rec('health-protocol-listener-amqp', 'GET', '/api/health/checks/protocol-listener/amqp');
  await rec('health-protocol-listener-mqtt', 'GET', '/api/health/checks/protocol-listener/mqtt');
  await rec('health-protocol-listener-fail', 'GET', '/api/health/checks/protocol-listener/nosuch');
  await rec('health-node-is-quorum-critical', 'GET', '/api/health/checks/node-is-quorum-critical');
  await rec('health-node-is-mirror-sync-critical', 'GET', '/api/health/checks/node-is-mirror-sync-critical');
  await rec('health-certificate-expiration', 'GET', '/api/health/checks/certificate-expiration/1/months');
  await rec('health-certificate-expiration-bad', 'GET', '/api/health/checks/certificate-expiration/1/fortnights');

  // ---- errors -------------------------------------------------------------------------------------------------------
  await rec('error-404-queue', 'GET', `/api/queues/${V}/nosuch`);
  await rec('error-404-vhost', 'GET', '/api/vhosts/nosuch');
  await rec('error-404-queue-in-unknown-vhost', 'GET', '/api/queues/nosuch/q');
  await rec('error-404-queues-unknown-vhost', 'GET', '/api/queues/nosuch');
  await rec('error-404-unknown-path', 'GET', '/api/nosuch');
  await rec('error-401-no-auth', 'GET', '/api/overview', { auth: null });
  await rec('error-401-bad-password', 'GET', '/api/overview', { auth: ['guest', 'wrong'] });
  await rec('error-401-no-management-tag', 'GET', '/api/overview', { auth: ['ref-none', 'secret'] });
  await rec('error-401-not-admin', 'GET', '/api/users', { auth: ['ref-management', 'secret'] });
  await rec('error-401-monitoring-users', 'GET', '/api/users', { auth: ['ref-monitoring', 'secret'] });
  await rec('error-401-vhost-access', 'GET', `/api/queues/${V}`, { auth: ['ref-noperm', 'secret'] });
  await rec('policymaker-queues', 'GET', `/api/policies/${V}`, { auth: ['ref-policymaker', 'secret'] });
  await rec('error-405-post-overview', 'POST', '/api/overview', { body: {} });
  await rec('error-405-delete-overview', 'DELETE', '/api/overview');
  await rec('error-400-bad-json', 'PUT', `/api/queues/${V}/ref-badjson`, { rawBody: '{"durable": tru' });
  await rec('error-400-bad-page', 'GET', `/api/queues?page=0&page_size=2&pagination=true`);
  await rec('error-400-page-not-number', 'GET', `/api/queues?page=abc&pagination=true`);
  await rec('error-400-page-too-far', 'GET', `/api/queues?page=50&page_size=2&pagination=true`);
  await rec('error-400-page-size-too-big', 'GET', `/api/queues?page=1&page_size=1000&pagination=true`);
  await rec('error-400-queue-bad-type', 'PUT', `/api/queues/${V}/ref-badtype`, { body: { durable: true, arguments: { 'x-queue-type': 'nosuch' } } });
  await rec('error-400-exchange-bad-type', 'PUT', `/api/exchanges/${V}/ref-badtype`, { body: { type: 'nosuch' } });
  await rec('error-amq-prefix', 'PUT', `/api/exchanges/${V}/amq.mine`, { body: { type: 'direct' } });
  await rec('queue-put-vhost-in-body-ignored', 'PUT', `/api/queues/${V}/ref-vhostbody`, { body: { durable: true, vhost: 'other' } });
  await rec('queue-put-text-plain-content-type', 'PUT', `/api/queues/${V}/ref-text`, { rawBody: '{}', headers: { 'content-type': 'text/plain' } });
  await rec('queue-delete-if-empty-nonempty', 'DELETE', `/api/queues/${V}/ref-classic?if-empty=true`);
  await rec('queue-delete-if-unused-used', 'DELETE', `/api/queues/${V}/ref-consumed?if-unused=true`);
  await setup('PUT', `/api/queues/${V}/ref-todelete`, { durable: false });
  await rec('queue-delete', 'DELETE', `/api/queues/${V}/ref-todelete`);
  await rec('queue-delete-missing', 'DELETE', `/api/queues/${V}/ref-todelete`);
  await rec('queue-purge', 'DELETE', `/api/queues/${V}/ref-e2e-q/contents`);
  await rec('queue-action-sync', 'POST', `/api/queues/${V}/ref-classic/actions`, { body: { action: 'sync' } });
  await rec('exchange-put-created', 'PUT', `/api/exchanges/${V}/ref-new`, { body: { type: 'direct', durable: true } });
  await rec('exchange-put-updated', 'PUT', `/api/exchanges/${V}/ref-new`, { body: { type: 'direct', durable: true } });
  await rec('exchange-put-inequivalent', 'PUT', `/api/exchanges/${V}/ref-new`, { body: { type: 'fanout', durable: true } });
  await rec('exchange-delete', 'DELETE', `/api/exchanges/${V}/ref-new`);
  await rec('exchange-delete-default', 'DELETE', `/api/exchanges/${V}/amq.default`);
  await rec('vhost-put-created', 'PUT', '/api/vhosts/ref-tmp', { body: { description: 'tmp' } });
  await rec('vhost-put-updated', 'PUT', '/api/vhosts/ref-tmp', { body: { description: 'tmp2' } });
  await rec('vhost-delete', 'DELETE', '/api/vhosts/ref-tmp');
  await rec('user-put-created', 'PUT', '/api/users/ref-tmp', { body: { password: 'x', tags: 'management' } });
  await rec('user-put-updated', 'PUT', '/api/users/ref-tmp', { body: { password: 'y', tags: 'monitoring' } });
  await rec('user-put-no-password', 'PUT', '/api/users/ref-tmp2', { body: { tags: '' } });
  await rec('user-delete', 'DELETE', '/api/users/ref-tmp');
  await rec('users-bulk-delete', 'POST', '/api/users/bulk-delete', { body: { users: ['ref-tmp2', 'nobody'] } });
  await rec('permission-put-created', 'PUT', `/api/permissions/${V}/ref-noperm`, { body: { configure: '', write: '', read: '.*' } });
  await rec('permission-put-updated', 'PUT', `/api/permissions/${V}/ref-noperm`, { body: { configure: '', write: '.*', read: '.*' } });
  await rec('permission-delete', 'DELETE', `/api/permissions/${V}/ref-noperm`);
  await rec('policy-put-created', 'PUT', `/api/policies/${V}/ref-tmp-policy`, {
    body: { pattern: '^x$', definition: { 'max-length': 1 }, 'apply-to': 'queues' },
  });
  await rec('policy-put-updated', 'PUT', `/api/policies/${V}/ref-tmp-policy`, {
    body: { pattern: '^x$', definition: { 'max-length': 2 }, 'apply-to': 'queues' },
  });
  await rec('policy-put-invalid', 'PUT', `/api/policies/${V}/ref-bad-policy`, {
    body: { pattern: '^x$', definition: { 'max-length': 'lots' } },
  });
  await rec('policy-delete', 'DELETE', `/api/policies/${V}/ref-tmp-policy`);
  await rec('vhost-limit-put', 'PUT', `/api/vhost-limits/${V}/max-channels`, { body: { value: 50 } });
  await rec('vhost-limit-delete', 'DELETE', `/api/vhost-limits/${V}/max-channels`);
  await rec('cluster-name-put', 'PUT', '/api/cluster-name', { body: { name: 'warren-ref-cluster' } });
  await rec('global-parameter-put', 'PUT', '/api/global-parameters/ref-global', { body: { name: 'ref-global', value: { a: 1 } } });

  // get in each ackmode and encoding.
  const G = `/api/queues/${V}/ref-get/get`;
  await rec('queue-get-ack-requeue-true', 'POST', G, { body: { count: 2, ackmode: 'ack_requeue_true', encoding: 'auto' } });
  await rec('queue-get-reject-requeue-true', 'POST', G, { body: { count: 1, ackmode: 'reject_requeue_true', encoding: 'auto' } });
  await rec('queue-get-base64', 'POST', G, { body: { count: 1, ackmode: 'ack_requeue_true', encoding: 'base64' } });
  await rec('queue-get-truncate', 'POST', G, { body: { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 5 } });
  await rec('queue-get-ack-requeue-false', 'POST', G, { body: { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' } });
  await rec('queue-get-reject-requeue-false', 'POST', G, { body: { count: 1, ackmode: 'reject_requeue_false', encoding: 'auto' } });
  await rec('queue-get-binary-auto', 'POST', G, { body: { count: 10, ackmode: 'ack_requeue_true', encoding: 'auto' } });
  await rec('queue-get-properties', 'POST', `/api/queues/${V}/ref-classic/get`, {
    body: { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' },
  });
  await rec('queue-get-empty', 'POST', `/api/queues/${V}/ref-e2e-q/get`, { body: { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' } });
  await rec('queue-get-bad-ackmode', 'POST', G, { body: { count: 1, ackmode: 'nosuch', encoding: 'auto' } });
  await rec('queue-get-missing-fields', 'POST', G, { body: { count: 1 } });

  // publish routed true/false.
  await rec('exchange-publish-routed', 'POST', `/api/exchanges/${V}/amq.default/publish`, {
    body: { properties: { delivery_mode: 2, headers: { h: 'v' }, content_type: 'text/plain' }, routing_key: 'ref-get', payload: 'via http', payload_encoding: 'string' },
  });
  await rec('exchange-publish-unrouted', 'POST', `/api/exchanges/${V}/ref-transient/publish`, {
    body: { properties: {}, routing_key: 'nowhere', payload: 'aGVsbG8=', payload_encoding: 'base64' },
  });
  await rec('exchange-publish-missing-exchange', 'POST', `/api/exchanges/${V}/nosuch/publish`, {
    body: { properties: {}, routing_key: 'x', payload: 'x', payload_encoding: 'string' },
  });
  await rec('exchange-publish-bad-body', 'POST', `/api/exchanges/${V}/amq.default/publish`, { body: { routing_key: 'x' } });

  // bindings: create (201 + Location), get by props, delete by props.
  await rec('binding-post-e-q', 'POST', `/api/bindings/${V}/e/ref-headers/q/ref-get`, {
    body: { routing_key: 'rk/with space', arguments: { 'x-match': 'all', format: 'pdf' } },
  });
  await rec('binding-post-e-q-noargs', 'POST', `/api/bindings/${V}/e/ref-direct/q/ref-get`, { body: { routing_key: 'plain' } });
  await rec('binding-post-e-q-empty', 'POST', `/api/bindings/${V}/e/ref-fanout/q/ref-get`, { body: {} });
  await rec('binding-post-e-e', 'POST', `/api/bindings/${V}/e/ref-topic/e/ref-direct`, { body: { routing_key: 'e2e.#', arguments: { k: 1 } } });
  await rec('binding-post-missing-queue', 'POST', `/api/bindings/${V}/e/ref-direct/q/nosuch`, { body: { routing_key: 'x' } });
  const bl = (await http('GET', `/api/bindings/${V}/e/ref-headers/q/ref-get`)).body;
  await rec('bindings-e-q-with-args', 'GET', `/api/bindings/${V}/e/ref-headers/q/ref-get`);
  const pk = bl[0]?.properties_key;
  if (pk) {
    await rec('binding-get-by-props', 'GET', `/api/bindings/${V}/e/ref-headers/q/ref-get/${enc(pk)}`);
    await rec('binding-get-by-props-raw', 'GET', `/api/bindings/${V}/e/ref-headers/q/ref-get/${pk}`, {
      note: 'properties_key put in the path as it is (not percent-encoded again).',
    });
    await rec('binding-delete-by-props', 'DELETE', `/api/bindings/${V}/e/ref-headers/q/ref-get/${enc(pk)}`);
  }
  await rec('binding-get-by-props-missing', 'GET', `/api/bindings/${V}/e/ref-headers/q/ref-get/nosuch~abc`);
  await rec('binding-get-tilde', 'GET', `/api/bindings/${V}/e/ref-fanout/q/ref-get/~`);
  await rec('binding-get-plain', 'GET', `/api/bindings/${V}/e/ref-direct/q/ref-get/plain`);
  const ee = (await http('GET', `/api/bindings/${V}/e/ref-topic/e/ref-direct`)).body;
  if (ee[0]) await rec('binding-get-e-e-by-props', 'GET', `/api/bindings/${V}/e/ref-topic/e/ref-direct/${enc(ee[0].properties_key)}`);
  // A few more props keys to pin the algorithm down.
  const pkSamples = [];
  const samples = [
    { routing_key: '', arguments: {} },
    { routing_key: 'a', arguments: {} },
    { routing_key: 'a b/c%d~e', arguments: {} },
    { routing_key: '', arguments: { x: 1 } },
    { routing_key: 'a', arguments: { x: 1 } },
    { routing_key: 'a', arguments: { x: 2 } },
    { routing_key: 'a', arguments: { x: '1' } },
    { routing_key: 'a', arguments: { y: 1, x: 1 } },
  ];
  await setup('PUT', `/api/queues/${V}/ref-pk`, { durable: false });
  for (const s of samples) {
    await setup('POST', `/api/bindings/${V}/e/ref-topic/q/ref-pk`, s);
  }
  for (const b of (await http('GET', `/api/bindings/${V}/e/ref-topic/q/ref-pk`)).body) {
    pkSamples.push({ routing_key: b.routing_key, arguments: b.arguments, properties_key: b.properties_key });
  }
  write('binding-properties-keys.json', { note: 'Bindings ref-topic -> ref-pk with these routing keys and arguments, and the properties_key RabbitMQ made for each.', bindings: pkSamples });

  // ---- rabbitmqadmin ------------------------------------------------------------------------------------------------
  rabbitmqadmin();

  // ---- Prometheus ---------------------------------------------------------------------------------------------------
  await prometheus();

  // ---- forced close via management ----------------------------------------------------------------------------------
  await forcedClose();
}

function rabbitmqadmin() {
  const base = ['--host=127.0.0.1', `--port=${rmq.managementPort}`, '--username=guest', '--password=guest'];
  const exportFile = path.join(tmpdir(), `warren-ref-export-${process.pid}.json`);
  const cmds = [
    ['list-queues', ['--vhost=ref', 'list', 'queues']],
    ['list-queues-columns', ['--vhost=ref', 'list', 'queues', 'name', 'messages', 'type']],
    ['list-exchanges', ['--vhost=ref', 'list', 'exchanges']],
    ['list-bindings', ['--vhost=ref', 'list', 'bindings']],
    ['list-connections', ['list', 'connections']],
    ['list-vhosts', ['list', 'vhosts']],
    ['list-users', ['list', 'users']],
    ['show-overview', ['show', 'overview']],
    ['declare-queue', ['--vhost=ref', 'declare', 'queue', 'name=ref-admin-q', 'durable=true', 'arguments={"x-max-length":10}']],
    ['declare-exchange', ['--vhost=ref', 'declare', 'exchange', 'name=ref-admin-x', 'type=topic']],
    ['declare-binding', ['--vhost=ref', 'declare', 'binding', 'source=ref-admin-x', 'destination=ref-admin-q', 'routing_key=admin.#']],
    ['publish', ['--vhost=ref', 'publish', 'exchange=ref-admin-x', 'routing_key=admin.one', 'payload=hello from rabbitmqadmin', 'properties={"content_type":"text/plain"}']],
    ['publish-unrouted', ['--vhost=ref', 'publish', 'exchange=ref-admin-x', 'routing_key=nowhere', 'payload=lost']],
    ['get', ['--vhost=ref', 'get', 'queue=ref-admin-q', 'ackmode=ack_requeue_true', 'count=1']],
    ['get-json', ['--vhost=ref', '--format=raw_json', 'get', 'queue=ref-admin-q', 'ackmode=ack_requeue_false']],
    ['list-queues-json', ['--vhost=ref', '--format=raw_json', 'list', 'queues', 'name', 'messages']],
    ['list-queues-tsv', ['--vhost=ref', '--format=tsv', 'list', 'queues', 'name', 'messages']],
    ['export', ['export', exportFile]],
    ['delete-queue', ['--vhost=ref', 'delete', 'queue', 'name=ref-admin-q']],
    ['get-missing-queue', ['--vhost=ref', 'get', 'queue=nosuch']],
  ];
  for (const [name, args] of cmds) {
    const full = [...base, ...args];
    const r = spawnSync('/usr/bin/rabbitmqadmin', full, { encoding: 'utf8', timeout: 30000 });
    const shown = ['rabbitmqadmin', ...full].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
    let out = `$ ${shown}\n# exit status: ${r.status}\n# --- stdout ---\n${r.stdout}`;
    if (r.stderr) out += `# --- stderr ---\n${r.stderr}`;
    if (name === 'export' && existsSync(exportFile)) {
      const exported = JSON.parse(readFileSync(exportFile, 'utf8'));
      cap(exported);
      out += `# --- ${path.basename(exportFile)} (lists cut to ${LIST_CAP} items) ---\n${JSON.stringify(exported, null, 2)}\n`;
      rmSync(exportFile, { force: true });
    }
    write(`rabbitmqadmin-${name}.txt`, out);
    index.push({ file: `rabbitmqadmin-${name}.txt`, command: shown, exit: r.status });
    log(`rabbitmqadmin ${args.join(' ')} -> ${r.status}`);
  }
}

/** Keep the first `perFamily` sample lines of each metric family (HELP/TYPE and comments kept). */
function truncateProm(text, perFamily = 400) {
  const out = [];
  let count = 0;
  let cut = 0;
  let family = null;
  const flush = () => {
    if (cut) out.push(`# [capture] ${cut} more sample lines of ${family} cut`);
    cut = 0;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      flush();
      family = line.split(' ')[2];
      count = 0;
      out.push(line);
    } else if (line.startsWith('#') || line === '') out.push(line);
    else if (count++ < perFamily) out.push(line);
    else cut++;
  }
  flush();
  return out.join('\n');
}

async function prometheus() {
  const base = `http://127.0.0.1:${rmq.prometheusPort}`;
  const targets = [
    ['prometheus-metrics', '/metrics'],
    ['prometheus-per-object', '/metrics/per-object'],
    ['prometheus-detailed', '/metrics/detailed?family=queue_coarse_metrics&family=queue_metrics'],
    ['prometheus-detailed-vhost', '/metrics/detailed?vhost=ref&family=queue_coarse_metrics&family=connection_churn_metrics'],
  ];
  for (const [name, p] of targets) {
    const res = await fetch(base + p);
    const text = await res.text();
    const headers = {};
    for (const k of ['content-type', 'content-encoding', 'vary']) if (res.headers.get(k)) headers[k] = res.headers.get(k);
    write(`${name}.txt`, truncateProm(text, 400));
    const check = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    index.push({
      file: `${name}.txt`,
      method: 'GET',
      path: p,
      status: res.status,
      headers,
      lines: text.split('\n').length,
      promtool_check_metrics: { exit: check.status, output: (check.stdout + check.stderr).trim().split('\n').slice(0, 20) },
    });
    log(`${res.status} GET ${p} -> ${name}.txt`);
  }
}

async function forcedClose() {
  const results = {};
  const V = 'ref';
  const findConn = async (pred) => {
    for (let i = 0; i < 40; i++) {
      const list = (await http('GET', '/api/connections')).body;
      const c = list.find(pred);
      if (c) return c;
      await sleep(500);
    }
    throw new Error('connection not listed');
  };
  // AMQP with and without X-Reason.
  for (const [label, headers] of [
    ['amqp-with-reason', { 'X-Reason': 'Closed by the Warren reference capture' }],
    ['amqp-without-reason', {}],
  ]) {
    const c = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${rmq.amqpPort}/${V}`, {
      clientProperties: { connection_name: `ref-close-${label}` },
    });
    const ch = await c.createChannel();
    const seen = { events: [] };
    const closed = new Promise((resolve) => {
      c.on('error', (e) => seen.events.push({ event: 'connection error', message: e.message, code: e.code, classId: e.classId, methodId: e.methodId }));
      ch.on('error', (e) => seen.events.push({ event: 'channel error', message: e.message, code: e.code }));
      ch.on('close', () => seen.events.push({ event: 'channel close' }));
      c.on('close', (e) => {
        seen.events.push({ event: 'connection close', message: e?.message, code: e?.code });
        resolve();
      });
    });
    const info = await findConn((x) => x.client_properties?.connection_name === `ref-close-${label}`);
    const r = await http('DELETE', `/api/connections/${enc(info.name)}`, { headers });
    await Promise.race([closed, sleep(5000)]);
    results[label] = { request: { method: 'DELETE', path: `/api/connections/${info.name}`, headers }, status: r.status, body: r.body, client_saw: seen };
  }
  // MQTT (mqtt.js).
  {
    const seen = { events: [] };
    const c = await mqttConnect(`mqtt://127.0.0.1:${rmq.mqttPort}`, { clientId: 'ref-close-mqtt', clean: true });
    c.on('packetreceive', (p) => seen.events.push({ event: 'packetreceive', cmd: p.cmd, reasonCode: p.reasonCode }));
    c.on('error', (e) => seen.events.push({ event: 'error', message: e.message }));
    c.on('offline', () => seen.events.push({ event: 'offline' }));
    const closed = new Promise((resolve) => c.on('close', () => (seen.events.push({ event: 'close' }), resolve())));
    const info = await findConn((x) => /MQTT/.test(x.protocol) && x.client_properties?.client_id === 'ref-close-mqtt');
    const headers = { 'X-Reason': 'Closed by the Warren reference capture' };
    const r = await http('DELETE', `/api/connections/${enc(info.name)}`, { headers });
    await Promise.race([closed, sleep(5000)]);
    c.end(true);
    results.mqtt = { request: { method: 'DELETE', path: `/api/connections/${info.name}`, headers }, status: r.status, body: r.body, client_saw: seen };
  }
  // STOMP (raw TCP, to see the bytes) and stompit.
  {
    const { s, seen } = await rawStomp(rmq.stompPort);
    const before = seen.data.length;
    const info = await findConn((x) => /^STOMP/.test(x.protocol) && x.peer_port === s.localPort);
    const headers = { 'X-Reason': 'Closed by the Warren reference capture' };
    const closed = new Promise((resolve) => s.once('close', resolve));
    const r = await http('DELETE', `/api/connections/${enc(info.name)}`, { headers });
    await Promise.race([closed, sleep(5000)]);
    results['stomp-raw'] = {
      request: { method: 'DELETE', path: `/api/connections/${info.name}`, headers },
      status: r.status,
      body: r.body,
      client_saw: { bytes_after_delete: seen.data.slice(before).replace(/\0/g, '\\0'), events: seen.events },
    };
  }
  {
    const seen = { events: [] };
    const client = await stompConnect(rmq.stompPort);
    client.on('error', (e) => seen.events.push({ event: 'error', message: e.message }));
    client.on('end', () => seen.events.push({ event: 'end' }));
    const sock = client.getTransportSocket();
    sock.on('close', () => seen.events.push({ event: 'transport socket close' }));
    const info = await findConn((x) => /^STOMP/.test(x.protocol) && x.peer_port === sock.localPort);
    // stompit re-emits the ERROR frame on a frame stream nobody listens to: catch it here.
    const onUncaught = (e) => seen.events.push({ event: 'uncaught error (stompit frame stream)', message: e.message, longMessage: e.longMessage });
    process.on('uncaughtException', onUncaught);
    const r = await http('DELETE', `/api/connections/${enc(info.name)}`, {});
    await sleep(2000);
    process.off('uncaughtException', onUncaught);
    results['stomp-stompit-without-reason'] = { request: { method: 'DELETE', path: `/api/connections/${info.name}` }, status: r.status, body: r.body, client_saw: seen };
  }
  // Web STOMP.
  {
    const { ws, frames } = await webStompConnect(rmq.webStompPort);
    const n = frames.length;
    const seen = { events: [] };
    const closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        seen.events.push({ event: 'ws close', code, reason: reason.toString() });
        resolve();
      }),
    );
    const info = await findConn((x) => /Web STOMP/i.test(x.protocol) && x.peer_port === ws._socket?.localPort);
    const headers = { 'X-Reason': 'Closed by the Warren reference capture' };
    const r = await http('DELETE', `/api/connections/${enc(info.name)}`, { headers });
    await Promise.race([closed, sleep(5000)]);
    seen.frames_after_delete = frames.slice(n).map((f) => f.replace(/\0/g, '\\0'));
    results['web-stomp'] = { request: { method: 'DELETE', path: `/api/connections/${info.name}`, headers }, status: r.status, body: r.body, client_saw: seen };
  }
  // Web MQTT.
  {
    const seen = { events: [] };
    const c = await mqttConnect(`ws://127.0.0.1:${rmq.webMqttPort}/ws`, { clientId: 'ref-close-web-mqtt', clean: true });
    c.on('error', (e) => seen.events.push({ event: 'error', message: e.message }));
    const closed = new Promise((resolve) => c.on('close', () => (seen.events.push({ event: 'close' }), resolve())));
    const info = await findConn((x) => /Web MQTT/i.test(x.protocol) && x.client_properties?.client_id === 'ref-close-web-mqtt');
    const headers = { 'X-Reason': 'Closed by the Warren reference capture' };
    const r = await http('DELETE', `/api/connections/${enc(info.name)}`, { headers });
    await Promise.race([closed, sleep(5000)]);
    c.end(true);
    results['web-mqtt'] = { request: { method: 'DELETE', path: `/api/connections/${info.name}`, headers }, status: r.status, body: r.body, client_saw: seen };
  }
  write('connection-close-via-management.json', results);
  index.push({ file: 'connection-close-via-management.json' });
  log('forced closes recorded');
}

process.on('uncaughtException', async (err) => {
  if (process.listenerCount('uncaughtException') > 1) return; // a step is catching its own
  console.error('uncaught:', err);
  process.exitCode = 1;
  if (rmq) await rmq.stop().catch(() => undefined);
  process.exit(1);
});

main().catch(async (err) => {
  console.error(err);
  process.exitCode = 1;
  if (rmq) await rmq.stop().catch(() => undefined);
});
