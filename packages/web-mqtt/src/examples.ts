/**
 * The example page served at the web-mqtt listener's '/', bundled with mqtt.js
 * by esbuild at build time (the broker may run offline: no CDN).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the built page lives (dist/www of this package, from either src/ or dist/). */
export const EXAMPLES_DIR: string = fileURLToPath(new URL('../dist/www/', import.meta.url));
const SOURCE_DIR = fileURLToPath(new URL('../src/www/', import.meta.url));

/** Bundle the example page into `outDir` (default {@link EXAMPLES_DIR}). Needs the esbuild dev dependency. */
export async function bundleExamples(outDir: string = EXAMPLES_DIR): Promise<void> {
  const esbuild = await import('esbuild');
  await mkdir(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(SOURCE_DIR, 'app.js')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: true,
    logLevel: 'silent',
  });
  await copyFile(join(SOURCE_DIR, 'index.html'), join(outDir, 'index.html'));
}
