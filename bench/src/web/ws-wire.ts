/**
 * The web load tool's own wire layer, shared by its client peers and its do-nothing server: a bare RFC 6455
 * WebSocket (handshake and frame codec) over node:net, and pre-encoded STOMP / MQTT 3.1.1 frames. No `ws` here: the
 * tool must cost as little per message as possible, so frames are built once as templates and only the send time is
 * patched in per batch. Nothing is shared with the broker's code.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** WebSocket opcodes (RFC 6455 §5.2). */
export const OP_TEXT = 1;
export const OP_BINARY = 2;

/**
 * One WebSocket frame header (FIN set) for `length` payload bytes; `mask` present for client frames (RFC 6455 §5.3:
 * a client masks every frame it sends).
 */
export function frameHeader(opcode: number, length: number, mask?: Buffer): Buffer {
  const maskLen = mask === undefined ? 0 : 4;
  const ext = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const h = Buffer.alloc(2 + ext + maskLen);
  h[0] = 0x80 | opcode;
  const maskBit = mask === undefined ? 0 : 0x80;
  if (ext === 0) h[1] = maskBit | length;
  else if (ext === 2) {
    h[1] = maskBit | 126;
    h.writeUInt16BE(length, 2);
  } else {
    h[1] = maskBit | 127;
    h.writeBigUInt64BE(BigInt(length), 2);
  }
  if (mask !== undefined) mask.copy(h, 2 + ext);
  return h;
}

/** A whole frame: header plus (masked, when `mask` is given) payload. */
export function encodeFrame(opcode: number, payload: Buffer, mask?: Buffer): Buffer {
  const header = frameHeader(opcode, payload.length, mask);
  const out = Buffer.concat([header, payload]);
  if (mask !== undefined) for (let i = 0; i < payload.length; i++) out[header.length + i]! ^= mask[i & 3]!;
  return out;
}

/**
 * Incremental frame decoder: feeds data-frame payloads (text, binary, continuation) to `onPayload` as one byte
 * stream, skips control frames, unmasks when the peer masked (client frames, seen by the do-nothing server).
 */
export function frameDecoder(onPayload: (b: Buffer) => void): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let pos = 0;
    for (;;) {
      if (pos + 2 > buf.length) break;
      const b1 = buf[pos + 1]!;
      let len = b1 & 0x7f;
      let off = pos + 2;
      if (len === 126) {
        if (off + 2 > buf.length) break;
        len = buf.readUInt16BE(off);
        off += 2;
      } else if (len === 127) {
        if (off + 8 > buf.length) break;
        len = Number(buf.readBigUInt64BE(off));
        off += 8;
      }
      const masked = (b1 & 0x80) !== 0;
      const maskOff = off;
      if (masked) off += 4;
      if (off + len > buf.length) break;
      const opcode = buf[pos]! & 0x0f;
      if (opcode < 8) {
        const payload = buf.subarray(off, off + len);
        if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskOff + (i & 3)]!;
        onPayload(payload);
      }
      pos = off + len;
    }
    rest = pos < buf.length ? buf.subarray(pos) : undefined;
  };
}

/** Where a peer connects. `path` present: WebSocket with `subprotocol`; absent: plain TCP. */
export interface Endpoint {
  host: string;
  port: number;
  path?: string;
  subprotocol?: string;
}

/**
 * Connect; for a WebSocket endpoint, complete the opening handshake (RFC 6455 §4.1). Resolves with the socket and
 * whatever bytes followed the handshake response.
 */
export async function connectEndpoint(ep: Endpoint): Promise<{ socket: net.Socket; head: Buffer }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(ep.port, ep.host, () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  if (ep.path === undefined) return { socket, head: Buffer.alloc(0) };
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${ep.path} HTTP/1.1\r\nHost: ${ep.host}:${ep.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (ep.subprotocol !== undefined ? `Sec-WebSocket-Protocol: ${ep.subprotocol}\r\n` : '') +
      '\r\n',
  );
  const head = await new Promise<Buffer>((resolve, reject) => {
    let acc = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      acc = Buffer.concat([acc, d]);
      const end = acc.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const response = acc.subarray(0, end).toString('latin1');
      if (!/^HTTP\/1\.1 101/.test(response) || !response.includes(acceptKey(key))) {
        reject(new Error(`WebSocket handshake refused: ${response.split('\r\n')[0] ?? ''}`));
        return;
      }
      socket.pause();
      resolve(acc.subarray(end + 4));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  return { socket, head };
}

/** Width of the send-time field at the start of each body: wall-clock ms with 3 decimals, space-padded. */
export const STAMP_WIDTH = 20;

/** The send time written into bodies: ms since the epoch (comparable across processes on this machine). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The send time read back from a body at `offset`. */
export function readStamp(b: Buffer, offset: number): number {
  return Number.parseFloat(b.toString('latin1', offset, offset + STAMP_WIDTH));
}

/**
 * `count` copies of one message, pre-encoded (protocol frame, then WebSocket framing and masking when `ws` is set),
 * with the offsets of each copy's send-time field, so a batch is one copy plus a patch of the stamps.
 */
export class BatchTemplate {
  readonly bytes: Buffer;
  readonly messageLength: number;
  /** Offset of the stamp inside one message and the mask index (0..3) its first byte is XORed with. */
  readonly #stampOffset: number;
  readonly #maskPhase: number;
  readonly #mask: Buffer | undefined;
  /** Offset of a QoS 1 PUBLISH's packet identifier inside one message (-1: none) and its mask index. */
  readonly #idOffset: number;
  readonly #idMaskPhase: number;

  /**
   * @param frame The protocol frame (STOMP SEND, MQTT PUBLISH) with a placeholder stamp at `stampOffset`.
   * @param ws WebSocket opcode and mask, or undefined for TCP.
   */
  constructor(
    frame: Buffer,
    stampOffset: number,
    count: number,
    ws?: { opcode: number; mask?: Buffer },
    idOffset = -1,
  ) {
    let one = frame;
    let stampOffset2 = stampOffset;
    let idOffset2 = idOffset;
    this.#mask = ws?.mask;
    if (ws !== undefined) {
      one = encodeFrame(ws.opcode, frame, ws.mask);
      stampOffset2 += one.length - frame.length;
      if (idOffset >= 0) idOffset2 += one.length - frame.length;
    }
    this.#stampOffset = stampOffset2;
    this.#maskPhase = stampOffset & 3;
    this.#idOffset = idOffset2;
    this.#idMaskPhase = idOffset & 3;
    this.messageLength = one.length;
    this.bytes = Buffer.concat(Array.from({ length: count }, () => one));
  }

  /**
   * A fresh buffer holding the first `n` messages, each stamped with `ms`; with a packet identifier field, the
   * messages get identifiers `firstId`, `firstId + 1`, ... (1..65535, wrapping).
   */
  stamped(n: number, ms: number, firstId = 1): Buffer {
    const out = Buffer.from(this.bytes.subarray(0, n * this.messageLength));
    const stamp = Buffer.from(ms.toFixed(3).padEnd(STAMP_WIDTH, ' '), 'latin1');
    const mask = this.#mask;
    for (let m = 0; m < n; m++) {
      const at = m * this.messageLength + this.#stampOffset;
      if (mask === undefined) stamp.copy(out, at);
      else for (let j = 0; j < STAMP_WIDTH; j++) out[at + j] = stamp[j]! ^ mask[(this.#maskPhase + j) & 3]!;
      if (this.#idOffset >= 0) {
        const id = ((firstId - 1 + m) % 65535) + 1;
        const idAt = m * this.messageLength + this.#idOffset;
        const hi = id >> 8;
        const lo = id & 0xff;
        out[idAt] = mask === undefined ? hi : hi ^ mask[this.#idMaskPhase & 3]!;
        out[idAt + 1] = mask === undefined ? lo : lo ^ mask[(this.#idMaskPhase + 1) & 3]!;
      }
    }
    return out;
  }
}

/** A body of `size` bytes (at least the stamp) with a placeholder stamp at 0. */
export function placeholderBody(size: number): Buffer {
  return Buffer.alloc(Math.max(size, STAMP_WIDTH + 4), 'x');
}

/** STOMP: frames end with NUL; bodies carry none. Calls onFrame with each frame (command through body). */
export function stompReader(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let pos = 0;
    for (;;) {
      // Heart-beats and the EOL some brokers send after each NUL (RabbitMQ) precede the next command.
      while (pos < buf.length && (buf[pos] === 0x0a || buf[pos] === 0x0d)) pos++;
      const nul = buf.indexOf(0, pos);
      if (nul < 0) break;
      onFrame(buf.subarray(pos, nul));
      pos = nul + 1;
    }
    rest = pos < buf.length ? buf.subarray(pos) : undefined;
  };
}

/** MQTT: fixed header, remaining length (varint), body. Calls onPacket(type, packet body). */
export function mqttReader(onPacket: (type: number, body: Buffer) => void): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let pos = 0;
    for (;;) {
      if (pos + 2 > buf.length) break;
      let len = 0;
      let mul = 1;
      let i = pos + 1;
      let complete = false;
      for (; i < buf.length && i < pos + 5; i++) {
        const byte = buf[i]!;
        len += (byte & 0x7f) * mul;
        mul *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      const start = i + 1;
      if (start + len > buf.length) break;
      onPacket(buf[pos]! >> 4, buf.subarray(start, start + len));
      pos = start + len;
    }
    rest = pos < buf.length ? buf.subarray(pos) : undefined;
  };
}

/** An MQTT UTF-8 string: 2-byte length then bytes. */
export function mqttString(s: string): Buffer {
  const b = Buffer.from(s);
  const out = Buffer.alloc(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/** An MQTT packet: first byte, remaining length, body. */
export function mqttPacket(first: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}

/** MQTT 3.1.1 CONNECT with clean session, username and password guest, no keep-alive. */
export function mqttConnect(clientId: string): Buffer {
  const header = Buffer.concat([mqttString('MQTT'), Buffer.from([4, 0xc2, 0, 0])]);
  return mqttPacket(0x10, Buffer.concat([header, mqttString(clientId), mqttString('guest'), mqttString('guest')]));
}

/**
 * MQTT PUBLISH of `body` to `topic` at QoS 0 or 1, the offset of the body inside the packet, and (QoS 1) the offset
 * of its packet identifier (a placeholder 1, for {@link BatchTemplate} to number).
 */
export function mqttPublish(topic: string, body: Buffer, qos: 0 | 1 = 0): { packet: Buffer; bodyOffset: number; idOffset: number } {
  const id = qos === 1 ? Buffer.from([0, 1]) : Buffer.alloc(0);
  const packet = mqttPacket(qos === 1 ? 0x32 : 0x30, Buffer.concat([mqttString(topic), id, body]));
  const bodyOffset = packet.length - body.length;
  return { packet, bodyOffset, idOffset: qos === 1 ? bodyOffset - 2 : -1 };
}

/** STOMP 1.2 CONNECT as guest, no heart-beats. */
export const STOMP_CONNECT = Buffer.from('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0');

/** STOMP SEND of `body` to `destination`, and the offset of the body inside the frame. */
export function stompSend(destination: string, body: Buffer): { frame: Buffer; bodyOffset: number } {
  const head = Buffer.from(`SEND\ndestination:${destination}\ncontent-length:${body.length}\n\n`);
  return { frame: Buffer.concat([head, body, Buffer.from([0])]), bodyOffset: head.length };
}
