/**
 * A do-nothing AMQP 0-9-1 server, used to measure the load tool's own ceiling: it completes the handshake, answers
 * every synchronous method the bench uses with its -ok, swallows publishes (confirming them in one multiple-ack per
 * read batch when the channel is in confirm mode), and feeds every consumer an endless stream of pre-encoded
 * deliveries, stamped with the send time, as fast as the socket drains (and within the prefetch window in manual-ack
 * mode). It keeps no queues, no bindings and no messages.
 */
import net from 'node:net';
import {
  ArgWriter,
  FrameReader,
  M,
  PROTOCOL_HEADER,
  deliverTemplate,
  methodFrame,
  readShortstr,
  writeAck,
  writeU64,
  ACK_FRAME_SIZE,
} from './wire.js';
import { nowUs } from './worker.js';

/** Bytes queued on a socket above which the delivery pump waits for 'drain'. */
const HIGH_WATER = 256 * 1024;
/** Deliveries per write burst. */
const BURST = 256;

/** A started do-nothing server. */
export interface NullServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Start the do-nothing server on `port` (0 = any free port) on loopback. */
export async function startNullServer(port = 0, bodySize = 100): Promise<NullServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket, bodySize);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface ChannelState {
  confirm: boolean;
  published: number;
  confirmedUpTo: number;
  prefetch: number;
}

interface Consumer {
  channel: number;
  noAck: boolean;
  prefetch: number;
  nextTag: number;
  ackedUpTo: number;
  template: ReturnType<typeof deliverTemplate>;
}

function serve(socket: net.Socket, bodySize: number): void {
  socket.setNoDelay(true);
  const channels = new Map<number, ChannelState>();
  const consumers = new Map<number, Consumer>();
  let out: Buffer[] = [];
  let header = Buffer.alloc(0);
  let closed = false;
  let consumerSeq = 0;

  const send = (ch: number, method: readonly [number, number], args?: ArgWriter): void => {
    out.push(methodFrame(ch, method, args));
  };

  const pump = (c: Consumer): void => {
    if (closed || consumers.get(c.channel) !== c) return;
    for (let burst = 0; burst < 4; burst++) {
      if (socket.writableLength > HIGH_WATER) {
        socket.once('drain', () => pump(c));
        return;
      }
      let n = BURST;
      if (!c.noAck && c.prefetch > 0) n = Math.min(n, c.prefetch - (c.nextTag - 1 - c.ackedUpTo));
      if (n <= 0) return; // resumed by the client's acks
      const t = c.template;
      const len = t.bytes.length;
      const buf = Buffer.allocUnsafe(len * n);
      const stamp = nowUs();
      for (let i = 0; i < n; i++) {
        const off = i * len;
        t.bytes.copy(buf, off);
        writeU64(buf, off + t.deliveryTagOffset, c.nextTag++);
        buf.writeDoubleLE(stamp, off + t.timestampOffset);
      }
      socket.write(buf);
    }
    setImmediate(() => pump(c)); // yield to reads (acks, close) between bursts
  };

  const reader = new FrameReader({
    method(ch, cls, mth, p) {
      const key = cls * 65536 + mth;
      switch (key) {
        case 10 * 65536 + 11: // connection.start-ok
          send(0, M.connectionTune, new ArgWriter().u16(2047).u32(131072).u16(0));
          break;
        case 10 * 65536 + 31: // connection.tune-ok
          break;
        case 10 * 65536 + 40: // connection.open
          send(0, M.connectionOpenOk, new ArgWriter().shortstr(''));
          break;
        case 10 * 65536 + 50: // connection.close
          send(0, M.connectionCloseOk);
          closed = true;
          break;
        case 20 * 65536 + 10: // channel.open
          channels.set(ch, { confirm: false, published: 0, confirmedUpTo: 0, prefetch: 0 });
          send(ch, M.channelOpenOk, new ArgWriter().longstr(''));
          break;
        case 20 * 65536 + 40: // channel.close
          channels.delete(ch);
          consumers.delete(ch);
          send(ch, M.channelCloseOk);
          break;
        case 40 * 65536 + 10:
          send(ch, M.exchangeDeclareOk);
          break;
        case 40 * 65536 + 20:
          send(ch, M.exchangeDeleteOk);
          break;
        case 50 * 65536 + 10: {
          // queue.declare: reserved u16, queue shortstr; a server-named queue gets a name.
          let [queue] = readShortstr(p, 6);
          if (queue === '') queue = `amq.gen-null-${++consumerSeq}`;
          send(ch, M.queueDeclareOk, new ArgWriter().shortstr(queue).u32(0).u32(0));
          break;
        }
        case 50 * 65536 + 20:
          send(ch, M.queueBindOk);
          break;
        case 50 * 65536 + 40:
          send(ch, M.queueDeleteOk, new ArgWriter().u32(0));
          break;
        case 60 * 65536 + 10: {
          const st = channels.get(ch);
          if (st) st.prefetch = p.readUInt16BE(8);
          send(ch, M.basicQosOk);
          break;
        }
        case 60 * 65536 + 20: {
          // basic.consume: reserved u16, queue shortstr, consumer-tag shortstr, bits (no-local, no-ack, ...).
          const [queue, o1] = readShortstr(p, 6);
          let [tag, o2] = readShortstr(p, o1);
          if (tag === '') tag = `amq.ctag-null-${++consumerSeq}`;
          const noAck = ((p[o2] ?? 0) & 2) !== 0;
          send(ch, M.basicConsumeOk, new ArgWriter().shortstr(tag));
          const c: Consumer = {
            channel: ch,
            noAck,
            prefetch: channels.get(ch)?.prefetch ?? 0,
            nextTag: 1,
            ackedUpTo: 0,
            template: deliverTemplate(ch, tag, '', queue, bodySize),
          };
          consumers.set(ch, c);
          setImmediate(() => pump(c));
          break;
        }
        case 60 * 65536 + 40: {
          const st = channels.get(ch);
          if (st) st.published++;
          break;
        }
        case 85 * 65536 + 10: {
          const st = channels.get(ch);
          if (st) st.confirm = true;
          send(ch, M.confirmSelectOk);
          break;
        }
        default:
          break; // anything else is swallowed
      }
    },
    ack(ch, tag, multiple) {
      const c = consumers.get(ch);
      if (!c) return;
      const before = c.nextTag - 1 - c.ackedUpTo;
      // The bench consumer acks in delivery order, so "everything up to tag" is exact for single and multiple acks.
      void multiple;
      c.ackedUpTo = Math.max(c.ackedUpTo, tag);
      if (before >= c.prefetch && c.nextTag - 1 - c.ackedUpTo < c.prefetch) setImmediate(() => pump(c));
    },
    batchEnd() {
      let acks = 0;
      for (const st of channels.values()) if (st.confirm && st.published > st.confirmedUpTo) acks++;
      if (acks > 0) {
        const buf = Buffer.allocUnsafe(acks * ACK_FRAME_SIZE);
        let off = 0;
        for (const [ch, st] of channels) {
          if (st.confirm && st.published > st.confirmedUpTo) {
            off = writeAck(buf, off, ch, st.published, true);
            st.confirmedUpTo = st.published;
          }
        }
        out.push(buf);
      }
      if (out.length > 0) {
        socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
        out = [];
      }
      if (closed) socket.end();
    },
  });

  socket.on('data', (chunk: Buffer) => {
    try {
      if (header.length < PROTOCOL_HEADER.length) {
        const need = PROTOCOL_HEADER.length - header.length;
        header = Buffer.concat([header, chunk.subarray(0, need)]);
        chunk = chunk.subarray(need);
        if (header.length < PROTOCOL_HEADER.length) return;
        if (!header.equals(PROTOCOL_HEADER)) {
          socket.end(PROTOCOL_HEADER);
          return;
        }
        send(
          0,
          M.connectionStart,
          new ArgWriter()
            .u8(0)
            .u8(9)
            .table({ product: 'warren-bench-null', capabilities: { publisher_confirms: true } })
            .longstr('PLAIN')
            .longstr('en_US'),
        );
        if (chunk.length === 0) {
          socket.write(Buffer.concat(out));
          out = [];
          return;
        }
      }
      reader.push(chunk);
    } catch {
      socket.destroy();
    }
  });
  socket.on('close', () => {
    closed = true;
    consumers.clear();
  });
  socket.on('error', () => undefined);
}
