/**
 * The one reader of an MQTT byte stream (MQTT 5 §2.1.1, 3.1.1 §2.2). It finds packet boundaries itself, refuses an
 * oversized packet from its fixed header (before its body is buffered), decodes the hot packets (PUBLISH and PUBACK
 * without properties) with the fast path and hands every other packet, whole and one at a time, to mqtt-packet,
 * which owns the error texts. Resumable: feed it any split of the input. Pure: no I/O, no clock.
 *
 *   packet := header-byte remaining-length(1-4 bytes, 7 bits each, high bit = more) body(remaining-length bytes)
 *
 * mqtt-packet's parsers are shared by every connection (one per protocol level): a parser that has parsed keeps
 * about 3 KiB, and since each is fed exactly one whole packet it is back at a boundary after every call, so no
 * connection holds one between packets. A partly read packet is held as views of its chunks until it is whole.
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { decodeFast, fastScratch, releaseScratch, type FastScratch } from './fast-path.js';

/** Where the reader hands what it read. */
export interface PacketSink {
  /**
   * One packet, in stream order. Return false to stop reading (the connection closed). A PUBLISH or PUBACK from the
   * fast path is a reused object, valid until this returns (see {@link PacketReader.retainable}).
   */
  onPacket(packet: Packet): boolean;
  /** mqtt-packet refused a packet (its message is the reason); reading stops. */
  onParseError(err: Error): void;
}

/** The framing verdicts of {@link PacketReader.read}. */
export const ReadResult = {
  Ok: 0,
  /** A packet's size (fixed header included) exceeds {@link PacketReader.maxPacketSize}; see `tooLargeSize`. */
  TooLarge: 1,
  /** A remaining length of more than four bytes (MQTT 5 §1.5.5). */
  MalformedLength: 2,
} as const;
/** One of {@link ReadResult}. */
export type ReadResult = (typeof ReadResult)[keyof typeof ReadResult];

/** mqtt-packet's Parser as the reader drives it (its settings are reset after a CONNECT replaced them). */
type SharedParser = mqttPacket.Parser & { settings: { protocolVersion?: number } };

const parsers: Array<SharedParser | undefined> = [];
/** What the shared parser emitted during the current parse() (parsing is synchronous and never re-entered). */
let parsed: Packet | undefined;
let parseError: Error | undefined;
function onParsed(packet: Packet): void {
  parsed = packet;
}
function onError(err: Error): void {
  parseError = err;
}

/** Each shared parser's settings: mqtt-packet swaps in a CONNECT packet as its settings, which is undone. */
const settings: Array<{ protocolVersion: number } | undefined> = [];

function sharedParser(version: number): SharedParser {
  let parser = parsers[version];
  if (parser === undefined) {
    const s = (settings[version] ??= { protocolVersion: version });
    parser = mqttPacket.parser(s) as SharedParser;
    parser.on('packet', onParsed);
    parser.on('error', onError);
    parsers[version] = parser;
  }
  return parser;
}

/**
 * Parse one whole packet (fixed header included) with mqtt-packet at protocol level `version`: the packet, or the
 * error mqtt-packet gave. Used by {@link PacketReader}; exported for the codec's tests and the fuzzer.
 */
export function parseWhole(packet: Buffer, version: number): Packet | Error {
  const parser = sharedParser(version);
  parsed = undefined;
  parseError = undefined;
  try {
    parser.parse(packet);
  } catch (err) {
    parsers[version] = undefined;
    throw err;
  }
  // Widened: the listeners set them during parse(), which control-flow analysis cannot see.
  const result = (parseError as Error | undefined) ?? (parsed as Packet | undefined);
  parsed = undefined;
  parseError = undefined;
  // A CONNECT replaced the settings with itself (mqtt-packet reads the protocol level from it): put them back, so
  // the shared parser neither keeps that packet nor parses other connections' packets at its level.
  const s = settings[version];
  if (parser.settings !== s && s !== undefined) parser.settings = s;
  // After an error the parser holds the rest of the packet: a new one is made (errors are rare and hostile); a whole
  // packet that yields neither a packet nor an error would leave it mid-packet.
  if (!(result instanceof Error) && result !== undefined) return result;
  parsers[version] = undefined;
  return result ?? new Error('Packet incomplete');
}

/** One connection's packet reader. */
export class PacketReader {
  /** Largest whole packet (fixed header included) accepted; the connection raises it after CONNECT. */
  maxPacketSize: number;
  /** The protocol level mqtt-packet parses with; a CONNECT sets it as mqtt-packet itself would. */
  version = 4;
  /** Decode PUBLISH and PUBACK with the fast path (once connected). */
  fast = false;
  /** The size of the packet refused with {@link ReadResult.TooLarge}. */
  tooLargeSize = 0;
  readonly #sink: PacketSink;
  /** The reused PUBLISH and PUBACK objects (made on the first fast packet: idle connections that never publish have none). */
  #scratch: FastScratch | undefined;
  /** The chunks of a packet partly read (views), or its first bytes while its fixed header is incomplete. */
  #parts: Buffer[] | undefined;
  #have = 0;
  /** The partly read packet's whole size; 0 while its fixed header is incomplete. */
  #size = 0;

  constructor(maxPacketSize: number, sink: PacketSink) {
    this.maxPacketSize = maxPacketSize;
    this.#sink = sink;
  }

  /**
   * True when `packet` is one of this reader's reused objects: valid only until the next packet, so whoever keeps it
   * longer must copy it ({@link retainable}); its PUBLISH payload is already a copy of the read buffer.
   */
  isScratch(packet: Packet): boolean {
    const s = this.#scratch;
    return s !== undefined && (packet === s.publish || packet === s.puback);
  }

  /** `packet`, or a copy of it when it is one of the reader's reused objects, to keep past the current packet. */
  retainable(packet: Packet): Packet {
    return this.isScratch(packet) ? { ...packet } : packet;
  }

  /** True between packets (no packet partly read). */
  get atBoundary(): boolean {
    return this.#parts === undefined;
  }

  /** Read one chunk: every whole packet in it goes to the sink, the rest is held for the next chunk. */
  read(chunk: Buffer): ReadResult {
    let i = 0;
    const parts = this.#parts;
    if (parts !== undefined) {
      if (this.#size === 0) {
        // The fixed header was cut (at most 4 bytes held): read it again from the joined bytes.
        this.#parts = undefined;
        chunk = Buffer.concat([parts[0] as Buffer, chunk]);
      } else {
        const need = this.#size - this.#have;
        if (chunk.length < need) {
          parts.push(chunk);
          this.#have += chunk.length;
          return ReadResult.Ok;
        }
        parts.push(need === chunk.length ? chunk : chunk.subarray(0, need));
        const whole = Buffer.concat(parts, this.#size);
        this.#parts = undefined;
        this.#have = 0;
        this.#size = 0;
        let lengthBytes = 1;
        while (((whole[lengthBytes] as number) & 0x80) !== 0) lengthBytes++;
        if (!this.#packet(whole, 0, whole.length, 1 + lengthBytes)) return ReadResult.Ok;
        i = need;
      }
    }
    const n = chunk.length;
    while (i < n) {
      // Remaining length: 1 to 4 bytes after the header byte.
      let length = 0;
      let multiplier = 1;
      let j = i + 1;
      for (;;) {
        if (j >= n) {
          // Copied: these few bytes must not pin the whole socket chunk.
          this.#parts = [Buffer.from(chunk.subarray(i))];
          return ReadResult.Ok;
        }
        const b = chunk[j++] as number;
        length += (b & 0x7f) * multiplier;
        if ((b & 0x80) === 0) break;
        if (j - i > 4) return ReadResult.MalformedLength;
        multiplier *= 128;
      }
      const size = j - i + length;
      if (size > this.maxPacketSize) {
        this.tooLargeSize = size;
        return ReadResult.TooLarge;
      }
      const end = i + size;
      if (end > n) {
        this.#parts = [chunk.subarray(i)];
        this.#have = n - i;
        this.#size = size;
        return ReadResult.Ok;
      }
      if (!this.#packet(chunk, i, end, j)) return ReadResult.Ok;
      i = end;
    }
    return ReadResult.Ok;
  }

  /** Decode the whole packet at `buf[start..end)` and hand it on; false to stop reading. */
  #packet(buf: Buffer, start: number, end: number, bodyStart: number): boolean {
    if (this.fast) {
      const scratch = (this.#scratch ??= fastScratch());
      const p = decodeFast(buf, start, end, bodyStart, this.version, scratch);
      if (p !== undefined) {
        const more = this.#sink.onPacket(p);
        releaseScratch(scratch);
        return more;
      }
    }
    const result = parseWhole(start === 0 && end === buf.length ? buf : buf.subarray(start, end), this.version);
    if (result instanceof Error) {
      this.#sink.onParseError(result);
      return false;
    }
    // mqtt-packet parses the packets after a CONNECT at the level the CONNECT gave.
    if (result.cmd === 'connect' && result.protocolVersion !== undefined) this.version = result.protocolVersion;
    return this.#sink.onPacket(result);
  }
}
