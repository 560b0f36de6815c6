/**
 * Memory per idle MQTT connection: opens N connections (CONNECT, keep-alive 0) to a broker and reports the growth of
 * the broker's RSS per connection. Usage: node bench/src/mqtt/idle-connections.mjs <mqtt-port> <broker-pid> <n>
 * (the broker must run on this machine; raise `ulimit -n` above n).
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
const [port, pid, n] = process.argv.slice(2).map(Number);
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const connect = (id) => new Promise((resolve, reject) => {
  const s = net.connect({ host: '127.0.0.1', port }, () => {
    const cid = Buffer.from(`idle-${id}`);
    const body = Buffer.concat([Buffer.from([0, 4, 77, 81, 84, 84, 4, 2, 0, 0, 0, cid.length]), cid]);
    s.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
  });
  s.once('data', () => resolve(s));
  s.once('error', reject);
});
global.gc?.();
await new Promise((r) => setTimeout(r, 1000));
const before = rss();
const socks = [];
for (let i = 0; i < n; i += 200) socks.push(...(await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, k) => connect(i + k)))));
await new Promise((r) => setTimeout(r, 3000));
const after = rss();
console.log(`${socks.length} idle connections: RSS ${before} KiB → ${after} KiB, ${((after - before) / socks.length).toFixed(2)} KiB per connection`);
for (const s of socks) s.destroy();
