/**
 * One side of a web load scenario, in its own process (forked by web-load.ts) so publisher, subscriber and broker
 * do not share an event loop: `sub` connects, subscribes and counts deliveries (reporting its count to the parent
 * so the publisher can keep a bounded window in flight); `pub` connects and sends pre-encoded batches of messages,
 * one protocol frame per WebSocket message as browser clients send them, many messages per socket write.
 *
 * Parent → peer: {@link PeerConfig}, then `{ cmd: 'go' }` (pub), `{ cmd: 'delivered', n }` (pub), `{ cmd: 'measure' }`,
 * `{ cmd: 'stop' }`. Peer → parent: `{ ready: true }`, `{ delivered: n }` (sub), `{ result: PeerResult }`,
 * `{ error: string }`.
 */
import type net from 'node:net';
import { Histogram } from '../histogram.js';
import {
  BatchTemplate,
  connectEndpoint,
  frameDecoder,
  mqttConnect,
  mqttPacket,
  mqttPublish,
  mqttReader,
  mqttString,
  nowMs,
  OP_BINARY,
  OP_TEXT,
  placeholderBody,
  readStamp,
  STOMP_CONNECT,
  stompReader,
  stompSend,
  encodeFrame,
  type Endpoint,
} from './ws-wire.js';

/** What a peer does. */
export interface PeerConfig {
  role: 'pub' | 'sub';
  protocol: 'stomp' | 'mqtt';
  endpoint: Endpoint;
  /** Topic / destination key, unique per run. */
  name: string;
  bodySize: number;
  /** Messages in flight between publisher and subscriber. */
  window: number;
  /** Messages per socket write (the publisher's batch). */
  batch: number;
  /** Publisher: at most this many messages per second (0: as fast as the window allows). */
  rate?: number;
  /** MQTT: publish and subscribe at this QoS (1: the subscriber acknowledges every delivery). Default 0. */
  qos?: 0 | 1;
}

/** What a peer measured between 'measure' and 'stop'. */
export interface PeerResult {
  /** Messages sent (pub) or received (sub) while measuring. */
  count: number;
  elapsedS: number;
  /** Whole run. */
  total: number;
  /** Latency quantiles (sub only), ms. */
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
}

/** Parent → peer messages after the config. */
export type PeerCommand = { cmd: 'go' | 'measure' | 'stop' } | { cmd: 'delivered'; n: number };
type ParentMessage = PeerConfig | PeerCommand;

/**
 * How a peer talks to its parent: process IPC in a child process, or direct calls when the peer runs in the
 * parent's process (tests run the TypeScript sources, which cannot be forked without a build).
 */
export interface PeerChannel {
  send(m: unknown): void;
  onCommand(listener: (m: PeerCommand) => void): void;
}

const MASK = Buffer.from([0x5a, 0x17, 0xc3, 0x8e]);
/** Bytes queued in the publisher's socket above which it waits for 'drain'. */
const HIGH_WATER = 1 << 20;
/** The subscriber reports its count after this many deliveries, or every REPORT_MS. */
const REPORT_EVERY = 128;
const REPORT_MS = 5;

async function open(send: (m: unknown) => void, cfg: PeerConfig, onData: (b: Buffer) => void): Promise<{ socket: net.Socket; write(b: Buffer): void }> {
  const { socket, head } = await connectEndpoint(cfg.endpoint);
  const isWs = cfg.endpoint.path !== undefined;
  const feed = isWs ? frameDecoder(onData) : onData;
  socket.on('data', feed);
  socket.on('error', (err) => send({ error: err.message }));
  socket.resume();
  if (head.length > 0) feed(head);
  // Control frames (STOMP CONNECT, SUBSCRIBE, ...) as text for STOMP, binary for MQTT ([MQTT-6.0.0-1]).
  const opcode = cfg.protocol === 'stomp' ? OP_TEXT : OP_BINARY;
  return { socket, write: (b) => void socket.write(isWs ? encodeFrame(opcode, b, MASK) : b) };
}

async function runSub(cfg: PeerConfig, channel: PeerChannel): Promise<void> {
  const send = (m: unknown): void => channel.send(m);
  const histogram = new Histogram();
  let delivered = 0;
  let reported = 0;
  let measuring = false;
  let measured = 0;
  let t0 = 0;
  let step: (() => void) | undefined;
  const onDelivery = (sentMs: number): void => {
    delivered++;
    if (measuring) {
      measured++;
      histogram.record((nowMs() - sentMs) * 1000);
    }
    if (delivered - reported >= REPORT_EVERY) {
      reported = delivered;
      send({ delivered });
    }
  };
  let io: { socket: net.Socket; write(b: Buffer): void };
  if (cfg.protocol === 'stomp') {
    io = await open(
      send,
      cfg,
      stompReader((frame) => {
        const c = frame[0];
        if (c === 0x4d /* MESSAGE */) onDelivery(readStamp(frame, frame.indexOf('\n\n') + 2));
        else if (c === 0x52 /* RECEIPT */ || c === 0x43 /* CONNECTED */) step?.();
        else if (c === 0x45 /* ERROR */) send({ error: `ERROR frame: ${frame.toString()}` });
      }),
    );
    await new Promise<void>((resolve) => {
      step = resolve;
      io.write(STOMP_CONNECT);
    });
    await new Promise<void>((resolve) => {
      step = resolve;
      io.write(Buffer.from(`SUBSCRIBE\nid:0\ndestination:/topic/${cfg.name}\nack:auto\nreceipt:s\n\n\0`));
    });
  } else {
    const qos = cfg.qos ?? 0;
    // QoS 1: the PUBACKs of one read go out in one socket write.
    const acks: Buffer[] = [];
    const reader = mqttReader((type, b) => {
      if (type === 3) {
        const topicEnd = 2 + b.readUInt16BE(0);
        if (qos === 1) {
          acks.push(Buffer.from([0x40, 2, b[topicEnd]!, b[topicEnd + 1]!]));
          onDelivery(readStamp(b, topicEnd + 2));
        } else onDelivery(readStamp(b, topicEnd));
      } else if (type === 2 /* CONNACK */ || type === 9 /* SUBACK */) step?.();
    });
    io = await open(send, cfg, (chunk) => {
      reader(chunk);
      if (acks.length > 0) {
        const all = acks.length === 1 ? acks[0]! : Buffer.concat(acks);
        acks.length = 0;
        io.write(all);
      }
    });
    await new Promise<void>((resolve) => {
      step = resolve;
      io.write(mqttConnect(`${cfg.name}-sub`));
    });
    await new Promise<void>((resolve) => {
      step = resolve;
      io.write(mqttPacket(0x82, Buffer.concat([Buffer.from([0, 1]), mqttString(`bench/${cfg.name}`), Buffer.from([qos])])));
    });
  }
  step = undefined;
  const timer = setInterval(() => {
    if (delivered !== reported) {
      reported = delivered;
      send({ delivered });
    }
  }, REPORT_MS);
  channel.onCommand((m) => {
    if (m.cmd === 'measure') {
      measuring = true;
      t0 = performance.now();
    } else if (m.cmd === 'stop') {
      measuring = false;
      clearInterval(timer);
      const result: PeerResult = {
        count: measured,
        elapsedS: (performance.now() - t0) / 1000,
        total: delivered,
        p50Ms: histogram.quantile(0.5) / 1000,
        p99Ms: histogram.quantile(0.99) / 1000,
        p999Ms: histogram.quantile(0.999) / 1000,
      };
      send({ result });
      io.socket.destroy();
    }
  });
  send({ ready: true });
}

async function runPub(cfg: PeerConfig, channel: PeerChannel): Promise<void> {
  const send = (m: unknown): void => channel.send(m);
  let step: (() => void) | undefined;
  const io = await open(
    send,
    cfg,
    cfg.protocol === 'stomp'
      ? stompReader((frame) => {
          if (frame[0] === 0x43) step?.();
          else if (frame[0] === 0x45) send({ error: `ERROR frame: ${frame.toString()}` });
        })
      : mqttReader((type) => {
          if (type === 2) step?.();
        }),
  );
  await new Promise<void>((resolve) => {
    step = resolve;
    io.write(cfg.protocol === 'stomp' ? STOMP_CONNECT : mqttConnect(`${cfg.name}-pub`));
  });
  const body = placeholderBody(cfg.bodySize);
  const isWs = cfg.endpoint.path !== undefined;
  const one =
    cfg.protocol === 'stomp'
      ? (() => {
          const f = stompSend(`/topic/${cfg.name}`, body);
          return { frame: f.frame, stampOffset: f.bodyOffset, idOffset: -1 };
        })()
      : (() => {
          const p = mqttPublish(`bench/${cfg.name}`, body, cfg.qos ?? 0);
          return { frame: p.packet, stampOffset: p.bodyOffset, idOffset: p.idOffset };
        })();
  const template = new BatchTemplate(
    one.frame,
    one.stampOffset,
    cfg.batch,
    isWs ? { opcode: cfg.protocol === 'stomp' ? OP_TEXT : OP_BINARY, mask: MASK } : undefined,
    one.idOffset,
  );
  const socket = io.socket;
  let published = 0;
  let delivered = 0;
  let running = false;
  let scheduled = false;
  let measuring = false;
  let measured = 0;
  let t0 = 0;
  let awaitingDrain = false;
  const rate = cfg.rate ?? 0;
  let startedAt = 0;
  let rateTimer = false;
  const fill = (): void => {
    scheduled = false;
    while (running && socket.writableLength < HIGH_WATER) {
      let room = cfg.window - (published - delivered);
      if (rate > 0) {
        // A fixed offered load: the broker's CPU per message is then comparable between runs and transports.
        const allowed = Math.floor(((performance.now() - startedAt) / 1000) * rate) - published;
        if (allowed <= 0) {
          if (!rateTimer) {
            rateTimer = true;
            setTimeout(() => {
              rateTimer = false;
              topUp();
            }, 1);
          }
          return;
        }
        room = Math.min(room, allowed);
      }
      if (room <= 0) return;
      const n = Math.min(room, cfg.batch);
      // QoS 1 packet identifiers run on with `published`: the window (< 65535) keeps each unique while in flight.
      socket.write(template.stamped(n, nowMs(), (published % 65535) + 1));
      published += n;
      if (measuring) measured += n;
    }
    if (running && !awaitingDrain) {
      awaitingDrain = true;
      socket.once('drain', () => {
        awaitingDrain = false;
        topUp();
      });
    }
  };
  const topUp = (): void => {
    if (!running || scheduled) return;
    scheduled = true;
    setImmediate(fill);
  };
  channel.onCommand((m) => {
    if (m.cmd === 'delivered') {
      // A count past what was sent is a do-nothing server's endless stream: no window to keep.
      delivered = Math.min(m.n, published);
      if (published - delivered <= cfg.window / 2) topUp();
    } else if (m.cmd === 'go') {
      running = true;
      startedAt = performance.now();
      topUp();
    } else if (m.cmd === 'measure') {
      measuring = true;
      t0 = performance.now();
    } else if (m.cmd === 'stop') {
      measuring = false;
      running = false;
      send({ result: { count: measured, elapsedS: (performance.now() - t0) / 1000, total: published } });
      socket.destroy();
    }
  });
  send({ ready: true });
}

/** Run one peer; errors are reported on `channel` as `{ error }`. */
export function runPeer(cfg: PeerConfig, channel: PeerChannel): void {
  const run = cfg.role === 'sub' ? runSub(cfg, channel) : runPub(cfg, channel);
  run.catch((err: unknown) => channel.send({ error: (err as Error).message }));
}

// Forked by web-load.ts: the first message is the config, the rest are commands.
if (process.send !== undefined && process.argv[2] === 'peer') {
  process.once('message', (cfg: ParentMessage) => {
    if ('cmd' in cfg) return;
    runPeer(cfg, {
      send: (m) => process.send?.(m),
      onCommand: (listener) =>
        process.on('message', (m: ParentMessage) => {
          if ('cmd' in m) listener(m);
        }),
    });
  });
  process.once('disconnect', () => process.exit(0));
}
