/**
 * A resumable, pure STOMP frame decoder: feed it any split of the input (several frames in one chunk, a frame split
 * across chunks, heart-beat EOLs between frames) and it emits whole frames. Sizes are checked before anything is
 * kept: a frame larger than `maxFrameSize`, more than `maxHeaders` headers, or a header line longer than
 * `maxHeaderLength` is a {@link StompProtocolError}, never an allocation.
 *
 * Grammar (STOMP 1.2 §"Augmented BNF"):
 *   frame = command EOL *( header EOL ) EOL *OCTET NULL *( EOL )
 * A body is read up to `content-length` octets when that header is present (it may then contain NULs), else up to the
 * first NUL.
 */
import { StompProtocolError, type StompFrame, type StompVersion } from './frame.js';

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const EMPTY = Buffer.alloc(0);

/** Size limits of a {@link StompDecoder}. */
export interface DecoderLimits {
  /** Largest frame (command, headers and body), bytes. */
  maxFrameSize: number;
  /** Most headers in one frame. */
  maxHeaders: number;
  /** Longest header line (name, colon and value), bytes. */
  maxHeaderLength: number;
}

/**
 * Limits before CONNECT: small, so an unauthenticated peer cannot make the server buffer much, yet room for an
 * OAuth 2 access token (a JWT of several KiB) as the passcode.
 */
export const PRE_CONNECT_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxFrameSize: 16 * 1024,
  maxHeaders: 32,
  maxHeaderLength: 8192,
});

/** The head of the frame being read: parsed once, kept until its body is complete. */
interface Head {
  command: string;
  headers: Map<string, string>;
  /** Offset of the body from the frame start. */
  bodyStart: number;
  /** -1 when the frame has no content-length header. */
  contentLength: number;
}

/** Decodes a byte stream into {@link StompFrame}s. */
export class StompDecoder {
  /** Controls header unescaping: 1.0 none, 1.1 and 1.2 `\n \c \\` (and `\r` in 1.2). Set after CONNECT. */
  version: StompVersion = '1.0';
  limits: DecoderLimits;

  #buf: Buffer = EMPTY;
  /** Bytes of #buf already searched (relative to #buf), so a frame split over many chunks is scanned once. */
  #scan = 0;
  #head: Head | undefined;
  /**
   * Chunks of a frame whose head is parsed, not yet appended to #buf: they are joined once the body is complete,
   * so a large frame arriving in k chunks is copied once rather than k times.
   */
  #parts: Buffer[] = [];
  #partBytes = 0;
  #stopped = false;

  constructor(limits: DecoderLimits = PRE_CONNECT_LIMITS) {
    this.limits = { ...limits };
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.#buf.length + this.#partBytes;
  }

  /**
   * Feed bytes. `onFrame` runs for every complete frame, in order; returning false stops decoding for good (the
   * session is closing). Throws {@link StompProtocolError} on malformed input; the decoder is then unusable.
   */
  push(chunk: Buffer, onFrame: (frame: StompFrame) => boolean | void): void {
    if (this.#stopped) return;
    try {
      if (this.#head !== undefined && this.#buf.length > 0) {
        if (!this.#collect(chunk)) return;
      } else {
        this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
      }
      this.#drain(onFrame);
    } catch (err) {
      this.#stopped = true;
      this.#buf = EMPTY;
      this.#parts = [];
      this.#partBytes = 0;
      throw err;
    }
  }

  /**
   * More of a frame whose head is parsed (#buf starts at that frame): keep `chunk` aside until the body can be
   * complete (its content-length reached, or a NUL arrived), then join everything into #buf once. True when joined.
   */
  #collect(chunk: Buffer): boolean {
    const head = this.#head as Head;
    this.#parts.push(chunk);
    this.#partBytes += chunk.length;
    const have = this.#buf.length + this.#partBytes;
    if (head.contentLength >= 0) {
      if (have <= head.bodyStart + head.contentLength) return false;
    } else if (chunk.indexOf(NUL) < 0) {
      if (have > this.limits.maxFrameSize) throw this.#tooLarge(have);
      return false;
    }
    this.#buf = Buffer.concat([this.#buf, ...this.#parts], have);
    this.#parts = [];
    this.#partBytes = 0;
    return true;
  }

  #drain(onFrame: (frame: StompFrame) => boolean | void): void {
    let buf = this.#buf;
    let pos = 0;
    for (;;) {
      if (this.#head === undefined) {
        // Heart-beats and the optional EOLs after a frame's NUL (STOMP 1.2 §"Heart-beating").
        while (pos < buf.length) {
          const b = buf[pos];
          if (b === LF) pos++;
          else if (b === CR && pos + 1 < buf.length && buf[pos + 1] === LF) pos += 2;
          else break;
        }
        if (pos >= buf.length || (buf[pos] === CR && pos + 1 === buf.length)) break;
        const head = this.#readHead(buf, pos);
        if (head === undefined) break;
        this.#head = head;
        this.#scan = head.bodyStart;
      }
      const head = this.#head;
      const bodyStart = pos + head.bodyStart;
      let bodyEnd: number;
      if (head.contentLength >= 0) {
        bodyEnd = bodyStart + head.contentLength;
        if (bodyEnd >= buf.length) break;
        if (buf[bodyEnd] !== NUL) {
          throw new StompProtocolError('Bad frame', 'The frame body is not followed by a NUL octet where content-length says it ends');
        }
      } else {
        const from = pos + Math.max(this.#scan, head.bodyStart);
        bodyEnd = buf.indexOf(NUL, from);
        if (bodyEnd < 0) {
          if (buf.length - pos > this.limits.maxFrameSize) throw this.#tooLarge(buf.length - pos);
          this.#scan = buf.length - pos;
          break;
        }
      }
      if (bodyEnd + 1 - pos > this.limits.maxFrameSize) throw this.#tooLarge(bodyEnd + 1 - pos);
      // Copy: the body outlives the socket chunk (it is shared by every queue it is routed to).
      const body = bodyEnd > bodyStart ? Buffer.from(buf.subarray(bodyStart, bodyEnd)) : EMPTY;
      const frame: StompFrame = { command: head.command, headers: head.headers, body };
      this.#head = undefined;
      this.#scan = 0;
      pos = bodyEnd + 1;
      if (onFrame(frame) === false) {
        this.#stopped = true;
        this.#buf = EMPTY;
        return;
      }
      if (this.#stopped) return;
      buf = this.#buf; // unchanged; onFrame cannot feed us re-entrantly
    }
    // A view of the unconsumed tail; the next push copies it (bounded by maxFrameSize) when more arrives.
    this.#buf = pos >= buf.length ? EMPTY : buf.subarray(pos);
  }

  #tooLarge(size: number): StompProtocolError {
    return new StompProtocolError(
      'Frame too large',
      `Frame of at least ${size} bytes exceeds the maximum frame size of ${this.limits.maxFrameSize} bytes`,
    );
  }

  /** Parse the command and headers of the frame at `start`, or undefined when its blank line has not arrived yet. */
  #readHead(buf: Buffer, start: number): Head | undefined {
    const limits = this.limits;
    let i = buf.indexOf(LF, start + this.#scan);
    let end = -1;
    let bodyStart = -1;
    while (i >= 0) {
      if (i + 1 >= buf.length) break;
      if (buf[i + 1] === LF) {
        end = i;
        bodyStart = i + 2;
        break;
      }
      if (buf[i + 1] === CR) {
        if (i + 2 >= buf.length) break;
        if (buf[i + 2] === LF) {
          end = i;
          bodyStart = i + 3;
          break;
        }
      }
      i = buf.indexOf(LF, i + 1);
    }
    if (end < 0) {
      const held = buf.length - start;
      const headLimit = Math.min(limits.maxFrameSize, (limits.maxHeaders + 1) * (limits.maxHeaderLength + 2));
      if (held > headLimit) throw this.#tooLarge(held);
      // Resume the search at the last LF seen (it may be the first half of the blank line).
      const lastLf = buf.lastIndexOf(LF);
      this.#scan = lastLf >= start ? lastLf - start : Math.max(0, held - 1);
      return undefined;
    }
    if (bodyStart - start > limits.maxFrameSize) throw this.#tooLarge(bodyStart - start);
    const text = buf.toString('utf8', start, end);
    const lines = text.split('\n');
    const commandLine = lines[0] ?? '';
    const command = commandLine.endsWith('\r') ? commandLine.slice(0, -1) : commandLine;
    if (command.includes('\0')) throw new StompProtocolError('Bad frame', 'NUL octet in the frame command');
    if (lines.length - 1 > limits.maxHeaders) {
      throw new StompProtocolError('Too many headers', `Frame has ${lines.length - 1} headers; at most ${limits.maxHeaders} are allowed`);
    }
    // STOMP 1.2 §"Value Encoding": CONNECT and CONNECTED frames are never escaped.
    const unescape = this.version !== '1.0' && command !== 'CONNECT' && command !== 'STOMP';
    const headers = new Map<string, string>();
    for (let n = 1; n < lines.length; n++) {
      let line = lines[n] ?? '';
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > limits.maxHeaderLength) {
        throw new StompProtocolError('Header too long', `A header line is longer than ${limits.maxHeaderLength} bytes`);
      }
      const colon = line.indexOf(':');
      if (colon < 0) throw new StompProtocolError('Bad header', `Header line without a colon: "${line.slice(0, 100)}"`);
      const name = unescape ? unescapeHeader(line.slice(0, colon), this.version) : line.slice(0, colon);
      // STOMP 1.2 §"Repeated Header Entries": only the first occurrence counts.
      if (headers.has(name)) continue;
      const value = unescape ? unescapeHeader(line.slice(colon + 1), this.version) : line.slice(colon + 1);
      headers.set(name, value);
    }
    let contentLength = -1;
    const cl = headers.get('content-length');
    if (cl !== undefined) {
      const t = cl.trim();
      if (!/^\d{1,15}$/.test(t)) throw new StompProtocolError('Bad content-length', `Invalid content-length header: "${cl.slice(0, 100)}"`);
      contentLength = Number(t);
      if (bodyStart - start + contentLength + 1 > limits.maxFrameSize) {
        throw this.#tooLarge(bodyStart - start + contentLength + 1);
      }
    }
    return { command, headers, bodyStart: bodyStart - start, contentLength };
  }
}

/** Undo STOMP 1.1/1.2 header escaping (STOMP 1.2 §"Value Encoding"); an undefined escape is a protocol error. */
export function unescapeHeader(s: string, version: StompVersion): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[++i];
    if (e === 'n') out += '\n';
    else if (e === 'c') out += ':';
    else if (e === '\\') out += '\\';
    else if (e === 'r' && version === '1.2') out += '\r';
    else throw new StompProtocolError('Bad header', `Undefined escape sequence "\\${e ?? ''}" in a header`);
  }
  return out;
}
