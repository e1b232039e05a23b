// The self-check's logic without a GPU: the scalar CPU kernels stand in for the device's, so a
// correct "device" passes exactly and one with a kernel made wrong (or throwing) is refused, with
// the notice the page and the CLI show. The same check on real WGSL variants (lavapipe):
// test/full/gpu-self-check.test.ts.
import { describe, expect, it } from 'vitest';
import { CpuOps, type CpuTensor } from '../src/engine/cpu/ops.ts';
import { refusalNotice, selfCheck, SELF_CHECK_BOUNDS } from '../src/engine/gpu/self-check.ts';
import { MatmulPlanner } from '../src/engine/gpu/variants.ts';

const both = { f16: true, subgroups: true };

describe('self-check', () => {
  it('passes a device whose kernels are the CPU ones, and puts the planner back', async () => {
    const planner = new MatmulPlanner(32768, true);
    const verdicts = await selfCheck(new CpuOps(), both, planner);
    expect(verdicts.map((v) => [v.variant, v.ok, v.error])).toEqual([
      ['f16', true, 0],
      ['subgroups', true, 0],
    ]);
    expect(planner.force).toBeNull();
  });

  it('checks only the variants the device runs', async () => {
    expect(
      (await selfCheck(new CpuOps(), { f16: false, subgroups: true }, new MatmulPlanner(32768, false))).map(
        (v) => v.variant,
      ),
    ).toEqual(['subgroups']);
    expect(await selfCheck(new CpuOps(), { f16: false, subgroups: false }, new MatmulPlanner(32768, false))).toEqual(
      [],
    );
  });

  it('refuses a reduction 0.1% off and names it', async () => {
    class OffNorm extends CpuOps {
      override rmsnormForward(
        out: CpuTensor,
        rstd: CpuTensor,
        inp: CpuTensor,
        weight: CpuTensor,
        N: number,
        C: number,
        eps: number,
      ): void {
        super.rmsnormForward(out, rstd, inp, weight, N, C, eps);
        for (let i = 0; i < N * C; i++) out[i] *= 1.001;
      }
    }
    const [f16, sub] = await selfCheck(new OffNorm(), both, new MatmulPlanner(32768, true));
    expect(f16.ok).toBe(true);
    expect(sub).toMatchObject({
      variant: 'subgroups',
      ok: false,
      worst: 'rmsnorm + global norm',
      bound: SELF_CHECK_BOUNDS.subgroups,
    });
    expect(sub.error).toBeGreaterThan(1e-4); // the normed rows are about half of what the probe compares
    expect(refusalNotice(sub)).toMatch(
      /^self-check: the subgroups kernels differ from the f32 reference on this device \(rmsnorm \+ global norm: relative error [\d.]+e-4 > 0.00001\); switched off, running on plain reductions$/,
    );
  });

  it('refuses a matmul that fails or gives NaN, on the tile shape where it does', async () => {
    class BigTilesFail extends CpuOps {
      constructor(
        private planner: MatmulPlanner,
        private how: 'throw' | 'nan',
      ) {
        super();
      }
      override matmulForward(...args: Parameters<CpuOps['matmulForward']>): void {
        super.matmulForward(...args);
        if (this.planner.force !== 'big') return;
        if (this.how === 'throw') throw new Error('pipeline creation failed');
        args[0][0] = NaN;
      }
    }
    for (const how of ['throw', 'nan'] as const) {
      const planner = new MatmulPlanner(32768, true);
      const [f16] = await selfCheck(new BigTilesFail(planner, how), both, planner);
      expect(f16).toMatchObject({ variant: 'f16', ok: false, error: Infinity });
      expect(f16.worst).toBe(how === 'throw' ? 'matmul (big tiles): pipeline creation failed' : 'matmul (big tiles)');
      expect(planner.force).toBeNull();
    }
  });
});
