/**
 * The management UI's files: bundled at build time from src/ui/ by esbuild (scripts/bundle-ui.mjs, as the web-stomp
 * example page is), served at '/' (index.html) and '/ui/*' with no external references (the Content-Security-Policy
 * forbids any), so the UI works offline and needs no build step from its user.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** Where the built UI lives (dist/ui of this package, from either src/ or dist/). */
export const UI_DIR: string = fileURLToPath(new URL('../dist/ui/', import.meta.url));
const SOURCE_DIR = fileURLToPath(new URL('../src/ui/', import.meta.url));

/** Bundle the UI into `outDir` (default {@link UI_DIR}). Needs the esbuild dev dependency. */
export async function bundleUi(outDir: string = UI_DIR): Promise<void> {
  const esbuild = await import('esbuild');
  await mkdir(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(SOURCE_DIR, 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110'],
    minify: true,
    sourcemap: true,
    logLevel: 'silent',
  });
  await Promise.all(['index.html', 'style.css'].map((f) => copyFile(join(SOURCE_DIR, f), join(outDir, f))));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
const FILES = new Set(['app.js', 'app.js.map', 'style.css']);
/** Nothing but this origin: no fonts, scripts or connections elsewhere. */
const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/** Serve the UI from `dir` (read once, then from memory). */
export function registerUiAssets(app: FastifyInstance, dir: string = UI_DIR): void {
  const cache = new Map<string, Buffer>();
  const load = async (file: string): Promise<Buffer | undefined> => {
    let b = cache.get(file);
    if (b === undefined) {
      try {
        b = await readFile(join(dir, file));
      } catch {
        return undefined;
      }
      cache.set(file, b);
    }
    return b;
  };
  const serve = (file: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const body = await load(file);
    if (body === undefined) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The management UI is not built: run `npm run build` (it bundles packages/management/src/ui).\n');
    }
    return reply
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .send(body);
  };
  app.get('/', serve('index.html'));
  for (const f of FILES) app.get(`/ui/${f}`, serve(f));
}
