/**
 * STOMP frame encoder: one allocation per frame (head, body and NUL written into a single Buffer).
 */
import type { StompVersion } from './frame.js';

/** A header list in wire order. */
export type HeaderList = ReadonlyArray<readonly [string, string]>;

const ESC_11 = /[\\\n:]/g;
const ESC_12 = /[\\\n:\r]/g;
const REPLACEMENTS: Record<string, string> = { '\\': '\\\\', '\n': '\\n', ':': '\\c', '\r': '\\r' };
const replace = (c: string): string => REPLACEMENTS[c] ?? c;

/** Escape a header name or value for `version` (STOMP 1.2 §"Value Encoding"; 1.0 has no escaping). */
export function escapeHeader(s: string, version: StompVersion): string {
  if (version === '1.0') return s;
  const re = version === '1.2' ? ESC_12 : ESC_11;
  re.lastIndex = 0;
  return re.test(s) ? s.replace(re, replace) : s;
}

/**
 * Encode a frame. `escape` is the version whose escaping applies (pass '1.0' for none: CONNECTED frames are never
 * escaped). When `body` is given a content-length header is appended.
 */
export function encodeFrame(command: string, headers: HeaderList, body: Buffer | undefined, escape: StompVersion): Buffer {
  let head = command + '\n';
  for (const [name, value] of headers) head += escapeHeader(name, escape) + ':' + escapeHeader(value, escape) + '\n';
  if (body !== undefined) head += 'content-length:' + body.length + '\n';
  head += '\n';
  const headLen = Buffer.byteLength(head);
  const bodyLen = body === undefined ? 0 : body.length;
  const out = Buffer.allocUnsafe(headLen + bodyLen + 1);
  out.write(head, 0, 'utf8');
  if (body !== undefined) body.copy(out, headLen);
  out[headLen + bodyLen] = 0;
  return out;
}
