#!/usr/bin/env node
/**
 * Record what real clients send, as seeds for the codec fuzzer (bench/src/fuzz).
 *
 *   npm run build && node scripts/capture-fuzz-seeds.mjs [outDir]      (default: tests/fixtures/fuzz-seeds)
 *
 * Starts an embedded Warren, puts a recording TCP proxy in front of each listener, and runs real client libraries
 * through it: amqplib (AMQP 0-9-1), mqtt.js at MQTT 3.1, 3.1.1 and 5, stompit and hand-written STOMP 1.0/1.1/1.2
 * sessions, and mqtt.js and @stomp/stompjs over WebSocket. Each client connection's bytes (client to server, as the
 * reads came) are written to `<protocol>-<name>.json`: { protocol, client, chunks: [base64] }. The fuzzer mutates
 * these; re-run this script when a client library changes what it sends.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client as StompJsClient } from '@stomp/stompjs';
import amqplib from 'amqplib';
import mqtt from 'mqtt';
import stompit from 'stompit';
import WebSocket from 'ws';
import { startEmbeddedBroker } from '../packages/server/dist/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'tests/fixtures/fuzz-seeds'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP proxy to `port` that records each accepted connection's client bytes under the current label. */
async function recordingProxy(port, protocol) {
  const conns = [];
  let label = 'unnamed';
  const server = net.createServer((client) => {
    const rec = { protocol, client: label, chunks: [] };
    conns.push(rec);
    const upstream = net.connect(port, '127.0.0.1');
    client.on('data', (d) => {
      rec.chunks.push(Buffer.from(d).toString('base64'));
      upstream.write(d);
    });
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    label(name) {
      label = name;
    },
    conns,
    close: () => new Promise((r) => server.close(r)),
  };
}

async function amqpSessions(port) {
  const c = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const ch = await c.createConfirmChannel();
  await ch.assertExchange('fz.topic', 'topic', { durable: false });
  const q = await ch.assertQueue('', { exclusive: true, arguments: { 'x-max-length': 100, 'x-message-ttl': 60000 } });
  await ch.bindQueue(q.queue, 'fz.topic', 'a.*.c', { 'x-match': 'any', k: 1 });
  await ch.prefetch(10);
  let got = 0;
  await ch.consume(q.queue, (m) => {
    got++;
    if (m !== null) ch.ack(m);
  });
  for (let i = 0; i < 3; i++) {
    ch.publish('fz.topic', 'a.b.c', Buffer.from(`body ${i}`), {
      persistent: i % 2 === 0,
      headers: { n: i, s: 'text', list: [1, 'two', { three: 3 }], f: 1.5, big: 2 ** 40, b: true },
      contentType: 'application/json',
      correlationId: `c${i}`,
      replyTo: 'fz.reply',
      expiration: '60000',
      priority: 3,
      messageId: `m${i}`,
      timestamp: 1700000000,
      type: 't',
      appId: 'fuzz',
    });
  }
  await ch.waitForConfirms();
  const big = Buffer.alloc(10_000, 7);
  ch.publish('', q.queue, big);
  await ch.waitForConfirms();
  while (got < 4) await sleep(10);
  const tx = await c.createChannel();
  await tx.assertQueue('fz.q', { durable: true });
  const txOk = await tx.checkQueue('fz.q');
  void txOk;
  await tx.purgeQueue('fz.q');
  await tx.get('fz.q');
  await tx.deleteQueue('fz.q');
  await tx.close();
  await ch.close();
  await c.close();
}

async function mqttSessions(port, protocolVersion) {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion,
    // MQTT 3.1 clients name the protocol MQIsdp.
    ...(protocolVersion === 3 ? { protocolId: 'MQIsdp' } : {}),
    clientId: `fz-${protocolVersion}`,
    clean: protocolVersion !== 5,
    username: 'guest',
    password: 'guest',
    keepalive: 30,
    will: { topic: 'fz/will', payload: Buffer.from('gone'), qos: 1, retain: false, ...(protocolVersion === 5 ? { properties: { willDelayInterval: 1 } } : {}) },
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 10, receiveMaximum: 20, topicAliasMaximum: 5, userProperties: { a: 'b' } } } : {}),
  });
  await c.subscribeAsync({ 'fz/+/t': { qos: 2 }, 'fz/#': { qos: 1 }, ...(protocolVersion === 5 ? { '$share/g/fz/s': { qos: 1 } } : {}) });
  for (const qos of [0, 1, 2]) {
    await c.publishAsync(`fz/${qos}/t`, Buffer.from(`qos ${qos}`), {
      qos,
      retain: qos === 1,
      ...(protocolVersion === 5 ? { properties: { messageExpiryInterval: 60, contentType: 'text/plain', userProperties: { k: 'v' }, responseTopic: 'fz/r', correlationData: Buffer.from('cd') } } : {}),
    });
  }
  await c.publishAsync('fz/1/t', Buffer.alloc(0), { qos: 1, retain: true });
  await sleep(50);
  await c.unsubscribeAsync(['fz/+/t']);
  await c.endAsync();
}

async function stompSessions(port) {
  // stompit: STOMP 1.1 (its default) with a subscription, sends, acks and a transaction.
  await new Promise((resolve, reject) => {
    stompit.connect({ host: '127.0.0.1', port, connectHeaders: { host: '/', login: 'guest', passcode: 'guest', 'heart-beat': '5000,5000' } }, (err, client) => {
      if (err) return reject(err);
      client.subscribe({ destination: '/queue/fz', ack: 'client-individual' }, (e, message) => {
        if (e) return reject(e);
        message.readString('utf-8', () => {
          client.ack(message);
          client.disconnect(() => resolve());
        });
      });
      const tx = client.begin();
      tx.send({ destination: '/queue/fz', 'content-type': 'text/plain', custom: 'x:y\\z' }).end('in a transaction');
      tx.commit();
      const f = client.send({ destination: '/topic/fz.t', persistent: 'true' });
      f.end('to a topic');
    });
  });
  // Hand-written sessions for what stompit does not send: 1.0 and 1.2 framing, CRLF, escapes, content-length, NACK.
  const raw = (frames) =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        for (const f of frames) s.write(f);
        setTimeout(() => s.end(), 100);
      });
      s.on('data', () => {});
      s.on('close', resolve);
      s.on('error', resolve);
    });
  const body = Buffer.from([0, 1, 2, 255]);
  await raw([
    'CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0',
    'SUBSCRIBE\r\nid:0\r\ndestination:/exchange/amq.topic/fz.#\r\nack:client\r\nx-queue-name:fz-named\r\n\r\n\0',
    Buffer.concat([Buffer.from(`SEND\ndestination:/exchange/amq.topic/fz.bin\ncontent-length:${body.length}\nh\\c:v\\n\\r\\\\\n\n`), body, Buffer.from([0])]),
    'SEND\ndestination:/amq/queue/fz-named\nreceipt:r1\n\nhello\0\n\n',
    'NACK\nid:nothing\nrequeue:false\n\n\0',
    'BEGIN\ntransaction:t1\n\n\0ABORT\ntransaction:t1\n\n\0',
    'UNSUBSCRIBE\nid:0\n\n\0',
    'DISCONNECT\nreceipt:bye\n\n\0',
  ]);
  await raw(['CONNECT\nlogin:guest\npasscode:guest\n\n\0', 'SEND\ndestination:/queue/fz10\n\nstomp 1.0\0', 'DISCONNECT\n\n\0']);
  await raw(['STOMP\naccept-version:1.0,1.1,1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0', '\n', 'SUBSCRIBE\nid:1\ndestination:/temp-queue/fz\n\n\0', 'DISCONNECT\n\n\0']);
}

async function webStompSession(port) {
  await new Promise((resolve, reject) => {
    const client = new StompJsClient({
      brokerURL: `ws://127.0.0.1:${port}/ws`,
      connectHeaders: { login: 'guest', passcode: 'guest' },
      webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${port}/ws`, ['v12.stomp', 'v11.stomp']),
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      onConnect: () => {
        client.subscribe('/topic/fz.web', (m) => {
          m.ack?.();
          void client.deactivate().then(resolve, reject);
        });
        client.publish({ destination: '/topic/fz.web', body: 'from the browser', headers: { 'content-type': 'text/plain' } });
        client.publish({ destination: '/topic/fz.web.bin', binaryBody: new Uint8Array([1, 2, 3, 0, 255]) });
      },
      onStompError: (f) => reject(new Error(f.headers.message)),
    });
    client.activate();
  });
}

async function webMqttSession(port) {
  const c = await mqtt.connectAsync(`ws://127.0.0.1:${port}/ws`, { protocolVersion: 4, clientId: 'fz-ws', username: 'guest', password: 'guest' });
  await c.subscribeAsync('fz/ws/#', { qos: 1 });
  await c.publishAsync('fz/ws/a', 'over a websocket', { qos: 1 });
  await c.publishAsync('fz/ws/b', Buffer.alloc(3_000, 1), { qos: 0 });
  await c.endAsync();
}

async function main() {
  const broker = await startEmbeddedBroker({ management: { port: null }, prometheus: { port: null } });
  const p = broker.ports;
  const proxies = {
    amqp: await recordingProxy(p.amqp, 'amqp'),
    mqtt: await recordingProxy(p.mqtt, 'mqtt'),
    stomp: await recordingProxy(p.stomp, 'stomp'),
    'web-stomp': await recordingProxy(p.webStomp, 'web-stomp'),
    'web-mqtt': await recordingProxy(p.webMqtt, 'web-mqtt'),
  };
  try {
    proxies.amqp.label('amqplib');
    await amqpSessions(proxies.amqp.port);
    for (const [v, name] of [
      [3, 'mqttjs-v31'],
      [4, 'mqttjs-v311'],
      [5, 'mqttjs-v5'],
    ]) {
      proxies.mqtt.label(name);
      await mqttSessions(proxies.mqtt.port, v);
    }
    proxies.stomp.label('stomp');
    await stompSessions(proxies.stomp.port);
    proxies['web-stomp'].label('stompjs');
    await webStompSession(proxies['web-stomp'].port);
    proxies['web-mqtt'].label('mqttjs-ws');
    await webMqttSession(proxies['web-mqtt'].port);
    await sleep(200);
  } finally {
    for (const x of Object.values(proxies)) await x.close();
    await broker.stop();
  }
  mkdirSync(OUT, { recursive: true });
  const counts = {};
  for (const proxy of Object.values(proxies)) {
    for (const rec of proxy.conns) {
      if (rec.chunks.length === 0) continue;
      const n = (counts[`${rec.protocol}-${rec.client}`] = (counts[`${rec.protocol}-${rec.client}`] ?? 0) + 1);
      const file = path.join(OUT, `${rec.protocol}-${rec.client}-${n}.json`);
      writeFileSync(file, JSON.stringify(rec, null, 1) + '\n');
      console.error(`[seeds] ${path.relative(ROOT, file)}: ${rec.chunks.length} reads, ${rec.chunks.reduce((a, c) => a + Buffer.from(c, 'base64').length, 0)} bytes`);
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
