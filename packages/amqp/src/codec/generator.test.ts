/** methods.gen.ts is reproducible: running scripts/gen-amqp-spec.mjs again yields the committed file byte for byte. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

it('the committed methods.gen.ts equals the generator output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-gen-'));
  try {
    const out = join(dir, 'methods.gen.ts');
    execFileSync(process.execPath, [join(repoRoot, 'scripts/gen-amqp-spec.mjs'), '--out', out], { cwd: dir });
    const committed = readFileSync(join(repoRoot, 'packages/amqp/src/codec/methods.gen.ts'), 'utf8');
    expect(readFileSync(out, 'utf8')).toBe(committed);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
