// The GPU kit's one JS file (scripts/gpu-kit.sh bundles this with esbuild): `bench-gpu ...`
// (scripts/bench-gpu.ts), `logits ...` (scripts/kit/logits.ts), `adapter ...` (scripts/kit/adapter.ts), or any command of the CLI
// (golden, train, export, ...). The bundle defines import.meta.url, so neither the CLI's nor
// bench-gpu's run-when-main check fires and only this dispatch runs.

import { main as cliMain } from '../../src/cli/main.ts';
import { benchGpuMain } from '../bench-gpu.ts';
import { logitsMain } from './logits.ts';
import { adapterMain } from './adapter.ts';

const [command, ...rest] = process.argv.slice(2);
const run =
  command === 'bench-gpu'
    ? benchGpuMain(rest)
    : command === 'logits'
      ? logitsMain(rest)
      : command === 'adapter'
        ? adapterMain(rest)
        : cliMain(process.argv.slice(2));
run.then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    process.exit(1);
  },
);
