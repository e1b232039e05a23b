// RMSNorm (Qwen2RMSNorm): out = inp * rstd * weight, rstd = 1 / sqrt(mean(inp^2) + eps).
// out, dinp, dout, inp (N, C); weight (C); rstd (N). One workgroup per row.
// backward_dxa also makes the LoRA factor gradient of the projection that reads dinp next (the
// o or down projection, whose output gradient is this residual stream): dxa (N, R) = scale *
// dinp @ adapter, adapter that projection's B (C, R). A row's dinp is whole in its workgroup,
// so this saves the projection's lora.dxa_backward launch.
// forward_xa likewise makes xa_p (N, R) = dropout_p(out) @ a_pᵀ for the (up to three) adapted
// projections that read out, as lora.xa_forward does: a_p at a_p in `adapter`, xa_p at x_p in
// `xa`, the same dropout mask (element e = row * C + c of part p kept iff hash32(seed_p, e) >=
// threshold, scaled by keepScale).

struct Params {
  N: u32, C: u32, eps: f32, R: u32, scale: f32, nparts: u32, a0: u32, a1: u32, a2: u32, x0: u32, x1: u32, x2: u32,
  seed0: u32, seed1: u32, seed2: u32, threshold: u32, keepScale: f32, dropOn: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(6) var<storage, read> dout: array<f32>;
@group(0) @binding(7) var<storage, read> adapter: array<f32>;
@group(0) @binding(8) var<storage, read_write> dxa: array<f32>;
@group(0) @binding(9) var<storage, read_write> xa: array<f32>;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;


fn forward_row(row: u32, lid: u32) {
  let base = row * P.C;
  var ss = 0.0;
  for (var c = lid; c < P.C; c += WG) { let x = inp[base + c]; ss += x * x; }
  let r = 1.0 / sqrt(workgroup_sum(lid, ss) / f32(P.C) + P.eps);
  for (var c = lid; c < P.C; c += WG) { out[base + c] = inp[base + c] * r * weight[c]; }
  if (lid == 0u) { rstd[row] = r; }
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  forward_row(row, lid);
}

fn pick(p: u32, a: u32, b: u32, c: u32) -> u32 {
  return select(select(a, b, p == 1u), c, p == 2u);
}

@compute @workgroup_size(256)
fn forward_xa(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  forward_row(row, lid);
  // each invocation reads back only the out elements it wrote itself: no barrier needed
  let base = row * P.C;
  for (var p = 0u; p < P.nparts; p++) {
    let seed = pick(p, P.seed0, P.seed1, P.seed2);
    let abase = pick(p, P.a0, P.a1, P.a2);
    for (var j = 0u; j < P.R; j++) {
      var s = 0.0;
      for (var c = lid; c < P.C; c += WG) {
        var v = out[base + c];
        if (P.dropOn != 0u) { v = select(0.0, v * P.keepScale, dropout_keep(seed, base + c, P.threshold)); }
        s += v * adapter[abase + j * P.C + c];
      }
      let t = workgroup_sum(lid, s);
      if (lid == 0u) { xa[pick(p, P.x0, P.x1, P.x2) + row * P.R + j] = t; }
    }
  }
}

// dinp += rstd * w * dout - inp * rstd^3 / C * sum(dout * w * inp) for one row (every
// invocation of the workgroup calls it; the row index is uniform).
fn backward_row(row: u32, lid: u32) {
  let base = row * P.C;
  let r = rstd[row];
  var dot = 0.0;
  for (var c = lid; c < P.C; c += WG) { dot += dout[base + c] * weight[c] * inp[base + c]; }
  let k = workgroup_sum(lid, dot) * r * r * r / f32(P.C);
  for (var c = lid; c < P.C; c += WG) {
    dinp[base + c] += r * weight[c] * dout[base + c] - inp[base + c] * k;
  }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  backward_row(row, lid);
}

@compute @workgroup_size(256)
fn backward_dxa(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  backward_row(row, lid);
  // each invocation reads back only the dinp elements it wrote itself: no barrier needed
  let base = row * P.C;
  for (var j = 0u; j < P.R; j++) {
    var s = 0.0;
    for (var c = lid; c < P.C; c += WG) { s += dinp[base + c] * adapter[c * P.R + j]; }
    let t = workgroup_sum(lid, s);
    if (lid == 0u) { dxa[row * P.R + j] = P.scale * t; }
  }
}
