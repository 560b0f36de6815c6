/**
 * A minimal static file server for the pages a listener serves next to its WebSocket endpoint (the web-stomp and
 * web-mqtt example pages). GET and HEAD only; files directly in one directory; no directory listing.
 */
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { extname, join } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** File names that may be served: one path segment, no dot-files, so nothing outside `root` is reachable. */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * A request handler serving the files of `root` ('/' is index.html). Unknown files get 404; a missing `root`
 * (the pages were not built) gets 503 with `missingHint` as the body.
 */
export function serveStaticFiles(
  root: string,
  missingHint = 'These pages have not been built.',
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method Not Allowed\n');
      return;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let name = (q === -1 ? url : url.slice(0, q)).replace(/^\/+/, '');
    if (name === '') name = 'index.html';
    if (!SAFE_NAME.test(name)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
      return;
    }
    readFile(join(root, name)).then(
      (body) => {
        res.writeHead(200, {
          'content-type': CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
          'content-length': body.length,
          'cache-control': 'no-cache',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' && name === 'index.html') {
          res.writeHead(503, { 'content-type': 'text/plain' }).end(`${missingHint}\n`);
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
        }
      },
    );
  };
}
