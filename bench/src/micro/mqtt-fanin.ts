/**
 * Micro-benchmark of the MQTT fan-in shape in one process: many QoS 1 publishers → one `devices/#` QoS 1 subscriber,
 * over in-memory stream pairs (no sockets), reporting heap bytes allocated per message and messages per second.
 *
 * Run after a build: `node --expose-gc bench/dist/micro/mqtt-fanin.js [publishers] [messages] [batch]`
 * (defaults 50, 500000 and 10: each publisher writes `batch` PUBLISHes in one chunk per round, and a round ends when
 * the subscriber has them all and every publisher has its PUBACKs).
 *
 * CPU time per message is reported too (steadier than msgs/s when the machine is shared).
 *
 * Allocation is measured with v8's GCProfiler: the heap growth between collections plus the growth after the last
 * one. It counts the whole process (the bench's own clients too, which do the same work in every version measured).
 */
import { GCProfiler } from 'node:v8';
import type { Duplex } from 'node:stream';
import { Broker, silentLogger } from '@warren/core';
import { fakeConnectionInfo } from '@warren/core/testing';
import { createMqttService } from '@warren/mqtt';
import { streamPair } from '@warren/transport';
import mqttPacket from 'mqtt-packet';

const publishers = Number(process.argv[2] ?? 50);
const total = Number(process.argv[3] ?? 500_000);
const batch = Number(process.argv[4] ?? 10);
const gc = (globalThis as { gc?: () => void }).gc;

const broker = new Broker({ logger: silentLogger });
const service = createMqttService({ broker, logger: silentLogger, dataDir: '', options: { maxFrameSize: 268435455, sysInterval: 0 } });

let received = 0;
let acked = 0;
let wake: (() => void) | undefined;
function check(): void {
  if (wake !== undefined && received >= target && acked >= target) {
    const w = wake;
    wake = undefined;
    w();
  }
}
let target = 0;

function connect(clientId: string): Duplex {
  const [client, server] = streamPair();
  service.handleConnection(server, fakeConnectionInfo({ protocol: 'mqtt', listener: 'mqtt', localPort: 1883 }));
  client.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 }));
  return client;
}

/**
 * The subscriber's PUBACKs are written on the next turn, as a socket's reader would: a stream pair delivers
 * synchronously, and a PUBACK written from inside the delivery's own write loses deliveries (a re-entrancy that
 * sockets never produce; see the report of this change).
 */
function later(acks: Buffer): void {
  setImmediate(() => sub.write(acks));
}

// The subscriber: counts PUBLISHes and answers each chunk's QoS 1 ones with one write of PUBACKs.
const sub = connect('sub');
let held: Buffer | undefined;
sub.on('data', (chunk: Buffer) => {
  let buf = held === undefined ? chunk : Buffer.concat([held, chunk]);
  held = undefined;
  let i = 0;
  let acks: Buffer | undefined;
  let nAcks = 0;
  while (i < buf.length) {
    let len = 0;
    let mul = 1;
    let j = i + 1;
    let done = false;
    while (j < buf.length) {
      const b = buf[j++] as number;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        done = true;
        break;
      }
    }
    if (!done || j + len > buf.length) break;
    const first = buf[i] as number;
    if (first >> 4 === 3) {
      received++;
      if (((first >> 1) & 3) > 0) {
        const topicLen = buf.readUInt16BE(j);
        const id = buf.readUInt16BE(j + 2 + topicLen);
        acks ??= Buffer.allocUnsafe(4 * 1024);
        if (nAcks * 4 >= acks.length) {
          later(acks.subarray(0, nAcks * 4));
          acks = Buffer.allocUnsafe(4 * 1024);
          nAcks = 0;
        }
        acks[nAcks * 4] = 0x40;
        acks[nAcks * 4 + 1] = 2;
        acks.writeUInt16BE(id, nAcks * 4 + 2);
        nAcks++;
      }
    }
    i = j + len;
  }
  if (i < buf.length) held = Buffer.from(buf.subarray(i));
  buf = Buffer.alloc(0);
  if (acks !== undefined && nAcks > 0) later(acks.subarray(0, nAcks * 4));
  check();
});
sub.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/#', qos: 1 }] }));

// The publishers: each has its round's PUBLISHes encoded once (packet ids repeat each round, after their PUBACKs).
const pubs: Array<{ stream: Duplex; round: Buffer }> = [];
const payload = Buffer.alloc(64, 0x61);
for (let p = 0; p < publishers; p++) {
  const stream = connect(`pub-${p}`);
  const packets: Buffer[] = [];
  for (let k = 0; k < batch; k++) {
    packets.push(mqttPacket.generate({ cmd: 'publish', topic: `devices/${p}/telemetry`, payload, qos: 1, messageId: k + 1, retain: false, dup: false }));
  }
  // PUBACKs are 4 bytes each; CONNACK (4 bytes) too.
  stream.on('data', (c: Buffer) => {
    acked += c.length / 4;
    check();
  });
  pubs.push({ stream, round: Buffer.concat(packets) });
}
// CONNACKs of the publishers count as 4-byte packets: start from there.
await new Promise((r) => setTimeout(r, 200));
acked = 0;
received = 0;

async function run(messages: number): Promise<void> {
  const rounds = Math.ceil(messages / (publishers * batch));
  for (let r = 0; r < rounds; r++) {
    target += publishers * batch;
    const done = new Promise<void>((resolve) => (wake = resolve));
    for (const p of pubs) p.stream.write(p.round);
    await done;
  }
}

await run(Math.min(50_000, total / 4));
gc?.();
const profiler = new GCProfiler();
profiler.start();
const used0 = process.memoryUsage().heapUsed;
const start = received;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await run(total);
const cpu = process.cpuUsage(cpu0);
const ms = performance.now() - t0;
const used1 = process.memoryUsage().heapUsed;
const stats = profiler.stop().statistics;
let allocated = 0;
let last = used0;
for (const s of stats) {
  allocated += s.beforeGC.heapStatistics.usedHeapSize - last;
  last = s.afterGC.heapStatistics.usedHeapSize;
}
allocated += used1 - last;
const n = received - start;
console.log(
  JSON.stringify({
    publishers,
    batch,
    messages: n,
    msgsPerSec: Math.round((n / ms) * 1000),
    bytesAllocatedPerMessage: Math.round(allocated / n),
    // CPU time of the process per message: steadier than msgs/s on a shared machine.
    cpuMicrosPerMessage: Number(((cpu.user + cpu.system) / n).toFixed(2)),
    gcs: stats.length,
  }),
);
await service.close();
process.exit(0);
