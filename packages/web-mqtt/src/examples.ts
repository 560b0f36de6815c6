/**
 * The example page served at the web-mqtt listener's '/', bundled with mqtt.js, its browser MQTT client,
 * at build time by transport's {@link bundleExamplePage}.
 */
import { fileURLToPath } from 'node:url';
import { bundleExamplePage } from '@warren/transport';

/** Where the built page lives (dist/www of this package, from either src/ or dist/). */
export const EXAMPLES_DIR: string = fileURLToPath(new URL('../dist/www/', import.meta.url));

/** Bundle the example page into `outDir` (default {@link EXAMPLES_DIR}). Needs the esbuild dev dependency. */
export function bundleExamples(outDir: string = EXAMPLES_DIR): Promise<void> {
  return bundleExamplePage(fileURLToPath(new URL('../src/www/', import.meta.url)), outDir);
}
