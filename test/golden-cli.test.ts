// The parity command as a user runs it: output lines, JSON summary, exit code, --dump names.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, encodeSafetensors, concatParts, type TensorToWrite } from '../src/core/safetensors.ts';

function cli(...args: string[]) {
  return spawnSync('npx', ['tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
}

describe('npm run cli -- golden', () => {
  it('passes a shared case, prints one line per check and dumps every expected tensor name', async () => {
    const dump = join(mkdtempSync(join(tmpdir(), 'golden-')), 'dump.safetensors');
    const r = cli('golden', 'test/fixtures/golden/tiny-f32', '--engine', 'cpu', '--dump', dump);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const summary = JSON.parse(lines.at(-1)!);
    expect(summary).toMatchObject({ ok: true, engine: 'cpu', failed: [] });
    expect(lines.filter((l) => l.startsWith('ok   ')).length).toBe(summary.checks);
    const expected = await SafetensorsFile.open(
      new Uint8Array(readFileSync('test/fixtures/golden/tiny-f32/expected.safetensors')),
    );
    const dumped = await SafetensorsFile.open(new Uint8Array(readFileSync(dump)));
    expect([...dumped.tensors.keys()].sort()).toEqual([...expected.tensors.keys()].sort());
    for (const [name, t] of expected.tensors) expect(dumped.info(name).shape, name).toEqual(t.shape);
  }, 120_000);

  it('exits 1 and names the check when the engine disagrees with the case', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'golden-bad-'));
    cpSync('test/fixtures/golden/tiny-f32', dir, { recursive: true });
    const exp = await SafetensorsFile.open(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))));
    const tensors: TensorToWrite[] = [];
    for (const [name, info] of exp.tensors) {
      const data = (await exp.read(name)).slice() as Float32Array | Int32Array;
      if (name === 'grad.base_model.model.model.layers.1.mlp.up_proj.lora_B.weight') (data as Float32Array)[3] += 0.05;
      tensors.push({ name, dtype: info.dtype as 'F32' | 'I32', shape: info.shape, data });
    }
    writeFileSync(join(dir, 'expected.safetensors'), concatParts(encodeSafetensors(tensors)));
    const r = cli('golden', dir, '--engine', 'cpu');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAIL grad\.base_model\.model\.model\.layers\.1\.mlp\.up_proj\.lora_B\.weight/);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).failed).toEqual([
      'grad.base_model.model.model.layers.1.mlp.up_proj.lora_B.weight',
    ]);
  }, 120_000);
});
