/**
 * Micro-benchmark: mqtt-packet's generate() (one Buffer per packet) against writeToStream() (several small writes
 * into a stream) for a QoS 1 PUBLISH with a 100-byte payload. Usage: node bench/src/mqtt/codec-generate.mjs
 */
import { Writable } from 'node:stream';
import mqttPacket from 'mqtt-packet';

const packet = { cmd: 'publish', topic: 'devices/42/temp', payload: Buffer.alloc(100, 0x61), qos: 1, messageId: 7, retain: false, dup: false };
const N = 300_000;
const run = (label, fn) => {
  for (let i = 0; i < 20_000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${label}: ${ns.toFixed(0)} ns/packet (${Math.round(1e9 / ns).toLocaleString('en-US')} packets/s)`);
};
run('generate()', () => mqttPacket.generate(packet));
// A sink that collects the pieces as the outbound writer would (an array push per write).
let pieces = [];
const sink = new Writable({ write(c, _e, cb) { pieces.push(c); cb(); } });
sink.write = (c) => { pieces.push(typeof c === 'string' ? Buffer.from(c) : c); return true; };
run('writeToStream() + concat', () => {
  mqttPacket.writeToStream(packet, sink);
  Buffer.concat(pieces);
  pieces = [];
});
