/**
 * Bystander latency while one client floods the broker with subscriptions (the security issue's target: p99 of a
 * bystander round trip under 50 ms during the flood).
 *
 *   npm run build && node bench/dist/security/flood-bench.js [--filters N] [--rounds R]
 *
 * Warren runs in a child process of its own, as in production; this process sends the flood (one MQTT SUBSCRIBE with
 * N filters, then N STOMP SUBSCRIBE frames, each precomputed so that sending costs nothing here) and, meanwhile, an
 * MQTT and a STOMP bystander do round trips through the broker (a QoS 0 PUBLISH to their own subscription, a SEND to
 * their own queue). Each round uses fresh topic names; the broker keeps the earlier rounds' subscriptions.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { runWarrenChild, startWarren } from '../brokers.js';

/** Latencies of one bystander during one flood. */
export interface FloodResult {
  flood: 'mqtt' | 'stomp';
  filters: number;
  floodMs: number;
  bystander: 'mqtt' | 'stomp';
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface Bystander {
  name: 'mqtt' | 'stomp';
  once(): Promise<void>;
  close(): void;
}

function connectSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
    s.setNoDelay(true);
  });
}

async function mqttBystander(port: number, id: string): Promise<Bystander> {
  const s = await connectSocket(port);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let waiting: ((cmd: string) => void) | undefined;
  parser.on('packet', (p) => waiting?.(p.cmd));
  s.on('data', (d: Buffer) => parser.parse(d));
  const next = (cmd: string): Promise<void> =>
    new Promise((resolve) => {
      waiting = (c) => {
        if (c === cmd) resolve();
      };
    });
  const topic = `bystander/${id}`;
  let acked = next('connack');
  s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `bystander-${id}`, clean: true, keepalive: 0 }));
  await acked;
  acked = next('suback');
  s.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }));
  await acked;
  const publish = mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('ping'), qos: 0, retain: false, dup: false });
  return {
    name: 'mqtt',
    once: () => {
      const back = next('publish');
      s.write(publish);
      return back;
    },
    close: () => s.destroy(),
  };
}

async function stompBystander(port: number, id: string): Promise<Bystander> {
  const s = await connectSocket(port);
  let waiting: ((frame: string) => void) | undefined;
  let buf = '';
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (let i = buf.indexOf('\0'); i >= 0; i = buf.indexOf('\0')) {
      const frame = buf.slice(0, i).replace(/^\n+/, '');
      buf = buf.slice(i + 1);
      waiting?.(frame);
    }
  });
  const next = (command: string): Promise<void> =>
    new Promise((resolve) => {
      waiting = (f) => {
        if (f.startsWith(command)) resolve();
      };
    });
  const queue = `/queue/bystander-${id}`;
  let ready = next('CONNECTED');
  s.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0');
  await ready;
  ready = next('RECEIPT');
  s.write(`SUBSCRIBE\ndestination:${queue}\nid:0\nreceipt:r\n\n\0`);
  await ready;
  const send = `SEND\ndestination:${queue}\n\nping\0`;
  return {
    name: 'stomp',
    once: () => {
      const back = next('MESSAGE');
      s.write(send);
      return back;
    },
    close: () => s.destroy(),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** Round trips back to back (1 ms apart) until `done` settles. */
async function measure(b: Bystander, done: Promise<unknown>): Promise<number[]> {
  let over = false;
  void done.finally(() => (over = true));
  const out: number[] = [];
  while (!over) {
    const t0 = performance.now();
    await b.once();
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 1));
  }
  return out;
}

async function mqttFlood(port: number, filters: number, tag: string): Promise<() => Promise<void>> {
  const s = await connectSocket(port);
  const packet = mqttPacket.generate(
    { cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: filters }, (_, i) => ({ topic: `flood/${tag}/${i}/+`, qos: 0 as const })) },
    { protocolVersion: 4 },
  );
  let got = 0;
  let connacked: () => void = () => {};
  const connack = new Promise<void>((r) => (connacked = r));
  let subacked: () => void = () => {};
  const suback = new Promise<void>((r) => (subacked = r));
  // CONNACK is 4 bytes; the SUBACK has one code per filter after its header and packet id.
  const remaining = 2 + filters;
  const subackSize = 1 + (remaining < 128 ? 1 : remaining < 16384 ? 2 : 3) + remaining;
  s.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= 4) connacked();
    if (got >= 4 + subackSize) subacked();
  });
  s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `flooder-${tag}`, clean: true, keepalive: 0 }));
  await connack;
  return async () => {
    s.write(packet);
    await suback;
    s.destroy();
  };
}

async function stompFlood(port: number, filters: number, tag: string): Promise<() => Promise<void>> {
  const s = await connectSocket(port);
  const parts: string[] = [];
  for (let i = 0; i < filters; i++) parts.push(`SUBSCRIBE\ndestination:/topic/flood.${tag}.${i}\nid:${i}${i === filters - 1 ? '\nreceipt:done' : ''}\n\n\0`);
  const frames = Buffer.from(parts.join(''));
  let buf = '';
  let connected: () => void = () => {};
  const ready = new Promise<void>((r) => (connected = r));
  let finished: () => void = () => {};
  const done = new Promise<void>((r) => (finished = r));
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    if (buf.startsWith('CONNECTED')) connected();
    if (buf.includes('receipt-id:done')) finished();
    if (buf.length > 4096) buf = buf.slice(-64);
  });
  s.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0');
  await ready;
  return async () => {
    s.write(frames);
    await done;
    s.destroy();
  };
}

/** One MQTT flood then one STOMP flood, each with both bystanders measuring. */
export async function runFloodBench(ports: { mqtt: number; stomp: number }, filters: number, round = 0): Promise<FloodResult[]> {
  const out: FloodResult[] = [];
  for (const kind of ['mqtt', 'stomp'] as const) {
    const tag = `${round}${kind}`;
    const bystanders = [await mqttBystander(ports.mqtt, tag), await stompBystander(ports.stomp, tag)];
    try {
      for (const b of bystanders) for (let i = 0; i < 20; i++) await b.once(); // warm the paths
      const flood = kind === 'mqtt' ? await mqttFlood(ports.mqtt, filters, tag) : await stompFlood(ports.stomp, filters, tag);
      const t0 = performance.now();
      const done = flood();
      const lat = await Promise.all(bystanders.map((b) => measure(b, done)));
      await done;
      const floodMs = performance.now() - t0;
      bystanders.forEach((b, i) => {
        const sorted = [...(lat[i] as number[])].sort((x, y) => x - y);
        out.push({
          flood: kind,
          filters,
          floodMs,
          bystander: b.name,
          samples: sorted.length,
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
          maxMs: sorted[sorted.length - 1] ?? 0,
        });
      });
    } finally {
      for (const b of bystanders) b.close();
    }
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'warren') {
    await runWarrenChild(args[1] as string);
    return;
  }
  const num = (flag: string, dflt: number): number => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const filters = num('--filters', 40_000);
  const rounds = num('--rounds', 3);
  const broker = await startWarren(fileURLToPath(import.meta.url));
  try {
    const ports = { mqtt: broker.mqttPort as number, stomp: broker.stompPort as number };
    console.log('flood   filters  flood ms  bystander  samples  p50 ms  p99 ms  max ms   (target: p99 < 50 ms)');
    for (let r = 0; r < rounds; r++) {
      for (const x of await runFloodBench(ports, filters, r)) {
        console.log(
          `${x.flood.padEnd(6)} ${String(x.filters).padStart(8)} ${x.floodMs.toFixed(0).padStart(9)}  ${x.bystander.padEnd(9)} ${String(x.samples).padStart(8)} ${x.p50Ms.toFixed(1).padStart(7)} ${x.p99Ms.toFixed(1).padStart(7)} ${x.maxMs.toFixed(1).padStart(7)}`,
        );
      }
    }
  } finally {
    await broker.stop();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
