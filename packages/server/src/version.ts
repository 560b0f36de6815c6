import { readFileSync } from 'node:fs';

/** Warren's version, from the server package's package.json. */
export const WARREN_VERSION: string = (() => {
  try {
    // src/version.ts and dist/version.js both sit one level below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();
