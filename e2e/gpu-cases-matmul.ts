// The parity cases of the matrix products: the base matmul per stored format, NF4, the fused
// projection groups (LoRA, dropout, biases, residual, decode rows, K split), the vocabulary
// cross-entropy and the LoRA merge. Split from gpu-cases.ts, which lists them first, by family.

import { DTYPES, readAll, tensors, uniform, weight, type AddCase } from './gpu-case-kit.ts';

export function addMatmulCases(add: AddCase): void {
  for (const dtype of DTYPES) {
    add(`embedding ${dtype}`, 0, async (ops) => {
      const N = 11,
        C = 13,
        V = 37;
      const ids = Int32Array.from({ length: N }, (_, i) => (i * 17 + 3) % V);
      const t = tensors(ops, { out: N * C, ids }, 'emb');
      ops.embeddingForward(t.out, t.ids, weight(ops, dtype, V, C, 1), N, C);
      return readAll(ops, t, ['out']);
    });
    add(`matmul ${dtype}`, 1e-5, async (ops) => {
      const N = 19,
        In = 37,
        O = 23;
      const t = tensors(
        ops,
        {
          out: N * O,
          out2: N * O,
          inp: uniform(N * In, 2),
          bias: uniform(O, 3),
          dout: uniform(N * O, 4),
          dinp: uniform(N * In, 5),
        },
        'mm',
      );
      const w = weight(ops, dtype, O, In, 6);
      ops.matmulForward(t.out, t.inp, w, t.bias, N, In, O);
      ops.matmulForward(t.out2, t.inp, w, null, N, In, O);
      ops.matmulBackward(t.dinp, t.dout, w, N, In, O);
      return readAll(ops, t, ['out', 'out2', 'dinp']);
    });
    add(`cross-entropy ${dtype}`, 1e-5, async (ops) => {
      const M = 7,
        C = 13,
        V = 101;
      const targets = Int32Array.from({ length: M }, (_, i) => (i * 29 + 5) % V);
      const t = tensors(ops, { losses: M, dh: uniform(M * C, 7), h: uniform(M * C, 8, 2), targets }, 'ce');
      ops.crossEntropyForwardBackward(t.losses, t.dh, t.h, weight(ops, dtype, V, C, 9), t.targets, M, C, V, 0.37);
      return readAll(ops, t, ['losses', 'dh']);
    });
    add(`mergeLora ${dtype}`, 1e-6, async (ops) => {
      const O = 13,
        In = 11,
        R = 3;
      const t = tensors(ops, { out: O * In, a: uniform(R * In, 10), b: uniform(O * R, 11) }, 'merge');
      ops.mergeLora(t.out, weight(ops, dtype, O, In, 12), t.a, t.b, O, In, R, 4);
      return readAll(ops, t, ['out']);
    });
  }

  // NF4 (the projections only): rows * cols a multiple of the 64-value block, cols not (blocks straddle rows)
  add('matmul nf4', 1e-5, async (ops) => {
    await ops.prepareWeights?.('nf4');
    const N = 19,
      In = 48,
      O = 20;
    const t = tensors(
      ops,
      {
        out: N * O,
        out2: N * O,
        inp: uniform(N * In, 2),
        bias: uniform(O, 3),
        dout: uniform(N * O, 4),
        dinp: uniform(N * In, 5),
      },
      'mm',
    );
    const w = weight(ops, 'nf4', O, In, 6);
    ops.matmulForward(t.out, t.inp, w, t.bias, N, In, O);
    ops.matmulForward(t.out2, t.inp, w, null, N, In, O);
    ops.matmulBackward(t.dinp, t.dout, w, N, In, O);
    return readAll(ops, t, ['out', 'out2', 'dinp']);
  });
  add('mergeLora nf4', 0, async (ops) => {
    await ops.prepareWeights?.('nf4');
    const O = 12,
      In = 16,
      R = 3;
    const t = tensors(ops, { out: O * In, a: uniform(R * In, 10), b: uniform(O * R, 11) }, 'merge');
    ops.mergeLora(t.out, weight(ops, 'nf4', O, In, 12), t.a, t.b, O, In, R, 0);
    return readAll(ops, t, ['out']);
  });

  add('matmul bf16, several 64x64 tiles', 1e-5, async (ops) => {
    const N = 70,
      In = 45,
      O = 131;
    const t = tensors(
      ops,
      {
        out: N * O,
        inp: uniform(N * In, 17),
        bias: uniform(O, 18),
        dout: uniform(N * O, 19),
        dinp: uniform(N * In, 20),
      },
      'mm2',
    );
    const w = weight(ops, 'bf16', O, In, 21);
    ops.matmulForward(t.out, t.inp, w, t.bias, N, In, O);
    ops.matmulBackward(t.dinp, t.dout, w, N, In, O);
    return readAll(ops, t, ['out', 'dinp']);
  });

  // q|k|v as the model runs it: one input, three projections with biases, LoRA on two of them,
  // outputs / factors / gradients as views of one buffer each (so the GPU fuses the group);
  // sizes fit no tile. Then a single projection with a residual and no bias.
  for (const p of [0, 0.1]) {
    add(`linear group forward+backward dropout ${p}`, 1e-5, async (ops) => {
      const N = 37,
        In = 36,
        R = 3,
        scale = 2,
        widths = [52, 20, 20];
      const stride = (n: number) => Math.ceil(n / 64) * 64;
      const t = tensors(
        ops,
        {
          inp: uniform(N * In, 100),
          outs: widths.reduce((a, o) => a + stride(N * o), 0),
          douts: widths.reduce((a, o) => a + stride(N * o), 0),
          dinp: uniform(N * In, 101),
          xa: 3 * stride(N * R),
          dxa: 3 * stride(N * R),
          params: 3 * stride(R * In) + widths.reduce((a, o) => a + stride(o * R), 0),
          grads: uniform(3 * stride(R * In) + widths.reduce((a, o) => a + stride(o * R), 0), 102),
          bq: uniform(52, 103),
          bv: uniform(20, 104),
        },
        'lin',
      );
      let po = 0,
        oo = 0;
      const projs = widths.map((O, i) => {
        const w = weight(ops, i === 1 ? 'f32' : 'bf16', O, In, 110 + i);
        const aOff = po;
        po += stride(R * In);
        const bOff = po;
        po += stride(O * R);
        ops.upload(t.params, uniform(R * In, 120 + i), aOff);
        ops.upload(t.params, uniform(O * R, 130 + i), bOff);
        const out = ops.view(t.outs, oo, N * O),
          dout = ops.view(t.douts, oo, N * O);
        ops.upload(t.douts, uniform(N * O, 140 + i), oo);
        oo += stride(N * O);
        const lora =
          i === 1
            ? null
            : {
                a: ops.view(t.params, aOff, R * In),
                b: ops.view(t.params, bOff, O * R),
                da: ops.view(t.grads, aOff, R * In),
                db: ops.view(t.grads, bOff, O * R),
                xa: ops.view(t.xa, i * stride(N * R), N * R),
                dxa: ops.view(t.dxa, i * stride(N * R), N * R),
                dropout: { p, seed: 77 + i },
              };
        return { proj: { w, O, bias: i === 0 ? t.bq : i === 2 ? t.bv : null, lora }, out, dout };
      });
      // the f32 weight cannot share the bf16 ones' buffer: the group runs projection by projection
      const bf16Only = [projs[0], projs[2]];
      ops.linearForward(
        bf16Only.map((x) => x.out),
        t.inp,
        bf16Only.map((x) => x.proj),
        null,
        N,
        In,
        R,
        scale,
      );
      ops.linearForward([projs[1].out], t.inp, [projs[1].proj], null, N, In, R, scale);
      ops.linearBackward(
        t.dinp,
        bf16Only.map((x) => x.dout),
        t.inp,
        bf16Only.map((x) => x.proj),
        N,
        In,
        R,
        scale,
      );
      const all = await readAll(ops, t, ['outs', 'xa', 'dxa', 'grads', 'dinp']);
      ops.linearBackward(
        t.dinp,
        projs.map((x) => x.dout),
        t.inp,
        projs.map((x) => x.proj),
        N,
        In,
        R,
        scale,
      );
      return { ...all, dinp3: await ops.read(t.dinp), grads3: await ops.read(t.grads) };
    });
  }

  add('linear with residual, no bias, dropout 0.1', 1e-5, async (ops) => {
    const N = 19,
      In = 36,
      O = 28,
      R = 4,
      scale = 4;
    const t = tensors(
      ops,
      {
        inp: uniform(N * In, 150),
        out: uniform(N * O, 151),
        resid: uniform(N * O, 152),
        a: uniform(R * In, 153),
        b: uniform(O * R, 154),
        da: R * In,
        db: O * R,
        xa: N * R,
        dxa: N * R,
        dout: uniform(N * O, 155),
        dinp: uniform(N * In, 156),
      },
      'linr',
    );
    const lora = { a: t.a, b: t.b, da: t.da, db: t.db, xa: t.xa, dxa: t.dxa, dropout: { p: 0.1, seed: 9 } };
    const proj = { w: weight(ops, 'bf16', O, In, 157), O, bias: null, lora };
    ops.linearForward([t.out], t.inp, [proj], t.resid, N, In, R, scale);
    ops.linearBackward(t.dinp, [t.dout], t.inp, [proj], N, In, R, scale);
    return readAll(ops, t, ['out', 'xa', 'dxa', 'da', 'db', 'dinp']);
  });

  // a decode step's shapes: 3 rows, where the GPU runs matrix-vector products, with a bias, LoRA
  // with dropout, a residual, and In not a multiple of the 8-value loads
  add('linear decode rows (N = 3): group with bias and LoRA, then a residual', 1e-5, async (ops) => {
    const N = 3,
      In = 37,
      R = 2,
      widths = [40, 12];
    const t = tensors(
      ops,
      {
        inp: uniform(N * In, 170),
        outs: 256,
        xa: 128,
        dxa: 128,
        params: 512,
        grads: 512,
        bq: uniform(40, 171),
        res: uniform(N * 40, 172),
        out2: uniform(N * 40, 173),
      },
      'dec',
    );
    ops.upload(t.params, uniform(512, 174, 0.3));
    const projs = widths.map((O, i) => ({
      w: weight(ops, 'bf16', O, In, 175 + i),
      O,
      bias: i === 0 ? t.bq : null,
      lora: {
        a: ops.view(t.params, i * 256, R * In),
        b: ops.view(t.params, i * 256 + 128, O * R),
        da: ops.view(t.grads, i * 256, R * In),
        db: ops.view(t.grads, i * 256 + 128, O * R),
        xa: ops.view(t.xa, i * 64, N * R),
        dxa: ops.view(t.dxa, i * 64, N * R),
        dropout: { p: 0.1, seed: 5 + i },
      },
    }));
    ops.linearForward([ops.view(t.outs, 0, N * 40), ops.view(t.outs, 128, N * 12)], t.inp, projs, null, N, In, R, 2);
    ops.linearForward([t.out2], t.inp, [projs[0]], t.res, N, In, R, 2);
    return readAll(ops, t, ['outs', 'xa', 'out2']);
  });

  // NF4 through the fused projection kernels: q|k|v of 36 columns (64-value blocks straddle rows
  // and rows do not start on the 8-value loads), N = 37 fitting no tile, biases, LoRA with dropout
  // on q and v only (the backward's dropout seeds go by part, not by LoRA); then decode rows (matrix-vector products) and a long K split over workgroups (K = 700)
  add('NF4 projections: q|k|v group forward+backward, decode rows, K split', 1e-5, async (ops) => {
    await ops.prepareWeights?.('nf4');
    const N = 37,
      In = 36,
      R = 3,
      widths = [48, 16, 16],
      D = 3;
    const t = tensors(
      ops,
      {
        inp: uniform(N * In, 180),
        outs: 3 * 1792,
        douts: uniform(3 * 1792, 181),
        dinp: uniform(N * In, 182),
        xa: 3 * 128,
        dxa: 3 * 128,
        params: uniform(3 * 512, 183, 0.3),
        grads: uniform(3 * 512, 184),
        bq: uniform(48, 185),
        dec: 3 * 192,
        out7: 20 * 16,
        x7: uniform(20 * 700, 186),
        dinp7: uniform(20 * 16, 187),
        dout7: uniform(20 * 700, 188),
      },
      'nf4lin',
    );
    const projs = widths.map((O, i) => ({
      w: weight(ops, 'nf4', O, In, 190 + i),
      O,
      bias: i === 0 ? t.bq : null,
      lora:
        i === 1
          ? null
          : {
              a: ops.view(t.params, i * 512, R * In),
              b: ops.view(t.params, i * 512 + 192, O * R),
              da: ops.view(t.grads, i * 512, R * In),
              db: ops.view(t.grads, i * 512 + 192, O * R),
              xa: ops.view(t.xa, i * 128, N * R),
              dxa: ops.view(t.dxa, i * 128, N * R),
              dropout: { p: 0.1, seed: 40 + i },
            },
    }));
    ops.linearForward(
      widths.map((O, i) => ops.view(t.outs, i * 1792, N * O)),
      t.inp,
      projs,
      null,
      N,
      In,
      R,
      2,
    );
    ops.linearBackward(
      t.dinp,
      widths.map((O, i) => ops.view(t.douts, i * 1792, N * O)),
      t.inp,
      projs,
      N,
      In,
      R,
      2,
    );
    const train = await readAll(ops, t, ['outs', 'xa', 'dxa', 'grads', 'dinp']);
    ops.linearForward(
      widths.map((O, i) => ops.view(t.dec, i * 192, D * O)),
      t.inp,
      projs,
      null,
      D,
      In,
      R,
      2,
    );
    ops.matmulForward(t.out7, t.x7, weight(ops, 'nf4', 16, 700, 196), null, 20, 700, 16);
    // dinp (20, 16) += dout (20, 700) @ w (700, 16): the K split of the backward
    ops.matmulBackward(t.dinp7, t.dout7, weight(ops, 'nf4', 700, 16, 197), 20, 16, 700);
    return { ...train, ...(await readAll(ops, t, ['dec', 'out7', 'dinp7'])) };
  });

  add('K split over workgroups (forward and backward, K = 700)', 1e-5, async (ops) => {
    const N = 20,
      In = 700,
      O = 24;
    const t = tensors(
      ops,
      {
        out: N * O,
        inp: uniform(N * In, 160),
        bias: uniform(O, 161),
        x2: uniform(N * O, 162),
        w2out: N * In,
        dout: uniform(N * In, 163),
      },
      'splitk',
    );
    ops.matmulForward(t.out, t.inp, weight(ops, 'bf16', O, In, 164), t.bias, N, In, O);
    // backward through a (700, 24) weight: dinp (N, 24) += dout (N, 700) @ w
    const back = tensors(ops, { dinp: uniform(N * O, 165) }, 'splitk2');
    ops.matmulBackward(back.dinp, t.dout, weight(ops, 'f16', In, O, 166), N, O, In);
    return { ...(await readAll(ops, t, ['out'])), dinp: await ops.read(back.dinp) };
  });
}
