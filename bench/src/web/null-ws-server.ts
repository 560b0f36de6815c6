/**
 * A do-nothing STOMP / MQTT server over WebSocket (and over plain TCP), to measure the web load tool's own ceiling:
 * it completes the WebSocket handshake, answers CONNECT (CONNECTED / CONNACK) and SUBSCRIBE (RECEIPT / SUBACK),
 * swallows SEND / PUBLISH, and feeds every subscriber an endless stream of pre-encoded MESSAGE / PUBLISH frames,
 * stamped with the send time, as fast as its socket drains. No queues, no routing, no `ws`.
 */
import net from 'node:net';
import {
  acceptKey,
  BatchTemplate,
  encodeFrame,
  frameDecoder,
  mqttPacket,
  mqttPublish,
  mqttReader,
  OP_BINARY,
  OP_TEXT,
  placeholderBody,
  stompReader,
} from './ws-wire.js';

/** A started do-nothing server. */
export interface NullWebServer {
  readonly port: number;
  close(): Promise<void>;
}

const HIGH_WATER = 256 * 1024;
const BURST = 64;
/** Socket writes per pump turn, so the pump cannot monopolise the event loop. */
const WRITES_PER_TURN = 16;

/** Start on loopback, any free port. `ws` false: plain TCP (no handshake, no framing). */
export async function startNullWebServer(protocol: 'stomp' | 'mqtt', ws: boolean, bodySize: number): Promise<NullWebServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    serve(socket, protocol, ws, bodySize);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serve(socket: net.Socket, protocol: 'stomp' | 'mqtt', ws: boolean, bodySize: number): void {
  const opcode = protocol === 'stomp' ? OP_TEXT : OP_BINARY;
  const out = (b: Buffer): void => void socket.write(ws ? encodeFrame(opcode, b) : b);
  const body = placeholderBody(bodySize);
  let template: BatchTemplate;
  if (protocol === 'stomp') {
    const head = Buffer.from(
      `MESSAGE\nsubscription:0\ndestination:/topic/x\nmessage-id:T_0@@session@@1\nredelivered:false\ncontent-length:${body.length}\n\n`,
    );
    template = new BatchTemplate(Buffer.concat([head, body, Buffer.from([0])]), head.length, BURST, ws ? { opcode } : undefined);
  } else {
    const p = mqttPublish('bench/x', body);
    template = new BatchTemplate(p.packet, p.bodyOffset, BURST, ws ? { opcode } : undefined);
  }
  let pumping = false;
  const pump = (): void => {
    for (let i = 0; i < WRITES_PER_TURN; i++) {
      if (socket.destroyed) return;
      if (socket.writableLength >= HIGH_WATER) {
        socket.once('drain', pump);
        return;
      }
      socket.write(template.stamped(BURST, performance.timeOrigin + performance.now()));
    }
    setImmediate(pump);
  };
  const startPump = (): void => {
    if (pumping) return;
    pumping = true;
    setImmediate(pump);
  };
  const onProtocolBytes =
    protocol === 'stomp'
      ? stompReader((frame) => {
          const command = frame.toString('latin1', 0, Math.min(frame.length, 10));
          if (command.startsWith('CONNECT') || command.startsWith('STOMP')) {
            out(Buffer.from('CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0'));
          } else if (command.startsWith('SUBSCRIBE')) {
            out(Buffer.from('RECEIPT\nreceipt-id:s\n\n\0'));
            startPump();
          }
        })
      : mqttReader((type) => {
          if (type === 1) out(Buffer.from([0x20, 2, 0, 0]));
          else if (type === 8) {
            out(mqttPacket(0x90, Buffer.concat([Buffer.from([0, 1]), Buffer.from([0])])));
            startPump();
          }
        });
  if (!ws) {
    socket.on('data', onProtocolBytes);
    return;
  }
  const decode = frameDecoder(onProtocolBytes);
  let handshake: Buffer | undefined = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    if (handshake === undefined) {
      decode(d);
      return;
    }
    handshake = Buffer.concat([handshake, d]);
    const end = handshake.indexOf('\r\n\r\n');
    if (end < 0) return;
    const request = handshake.subarray(0, end).toString('latin1');
    const rest = handshake.subarray(end + 4);
    handshake = undefined;
    const key = /sec-websocket-key:\s*(\S+)/i.exec(request)?.[1] ?? '';
    const sub = /sec-websocket-protocol:\s*([^,\r\n]+)/i.exec(request)?.[1];
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
        (sub !== undefined ? `Sec-WebSocket-Protocol: ${sub.trim()}\r\n` : '') +
        '\r\n',
    );
    if (rest.length > 0) decode(rest);
  });
}
