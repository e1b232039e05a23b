// vitest globalSetup (vitest.config.ts): one folder per run where test/helpers/tiny-models.ts
// keeps each random test model it builds, so ~20 files share a handful of builds. The workers are
// forked after this runs and inherit the variable.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  // Several files read the built-in tiny model (public/models/tiny), as `npm start` makes it;
  // --if-missing makes this a no-op when scripts/test.mjs or a build already did.
  execFileSync(
    'npx',
    ['tsx', 'scripts/make-tiny-model.ts', '--preset', 'tiny', '--out', 'public/models/tiny', '--if-missing'],
    { stdio: 'ignore' },
  );
  const dir = mkdtempSync(join(tmpdir(), 'webtune-test-models-'));
  process.env.WEBTUNE_TEST_MODELS = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
