/**
 * The little of multipart/form-data (RFC 7578) the definitions upload needs: the management UI and `curl -F` send the
 * file as a part named `file`, plus small text fields (`redirect`, `auth`). Parsed here rather than with a dependency
 * because only whole, already size-limited bodies are read and no part is streamed to disk.
 */

/** The parts of a form: field name → content (the raw bytes; text fields as UTF-8). */
export type FormParts = Map<string, Buffer>;

/** The boundary of a multipart content type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/** Split a multipart body into its named parts; throws Error with a reason when it is malformed. */
export function parseMultipart(body: Buffer, boundary: string): FormParts {
  const parts: FormParts = new Map();
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new Error('multipart body without its boundary');
  for (;;) {
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString('latin1') === '--') return parts;
    // Skip the CRLF after the delimiter; the headers end at the first empty line.
    if (body.subarray(pos, pos + 2).toString('latin1') === '\r\n') pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw new Error('multipart part without a header end');
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) throw new Error('multipart body without its closing boundary');
    const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(headers)?.[1];
    if (name !== undefined && !parts.has(name)) parts.set(name, body.subarray(headerEnd + 4, next));
    pos = next + 2;
  }
}

/** A form body (multipart/form-data or application/x-www-form-urlencoded), as the body parser hands it to routes. */
export class FormBody {
  readonly parts: FormParts;
  constructor(parts: FormParts) {
    this.parts = parts;
  }
  /** A field as UTF-8 text, or undefined. */
  text(name: string): string | undefined {
    return this.parts.get(name)?.toString('utf8');
  }
}

/** Parse an application/x-www-form-urlencoded body into a {@link FormBody}. */
export function parseUrlEncoded(body: string): FormBody {
  const parts: FormParts = new Map();
  for (const [k, v] of new URLSearchParams(body)) if (!parts.has(k)) parts.set(k, Buffer.from(v, 'utf8'));
  return new FormBody(parts);
}
