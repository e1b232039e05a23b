// Cross-entropy of the LM head, one vocabulary slice at a time, so no (M, V) buffer ever exists.
// Per slice the host runs: matmul forward (logits slice), update (online max / sum, turns the
// slice into exp(logit - running max)), rescale dh by exp(old max - new max), matmul backward
// (dh += slice @ w_slice). Then finalize (dh / sum, losses) and onehot (dh -= w[target]) per chunk.
//   h, dh (M, C); logits (M, vc) slice whose column 0 is vocab id v0; targets (M) i32;
//   losses (M); stats (4, M): running max, running sum, last rescale factor, target logit;
//   wt (rows, C): one weight chunk, vocab ids r0 .. r0+rows.
// A target outside [0, V) contributes neither loss nor gradient.

struct Params { M: u32, C: u32, V: u32, vc: u32, v0: u32, r0: u32, rows: u32, gradScale: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> targets: array<i32>;
@group(0) @binding(4) var<storage, read_write> dh: array<f32>;
@group(0) @binding(5) var<storage, read_write> losses: array<f32>;
@group(0) @binding(6) var<storage, read_write> wt: array<u32>;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;


fn valid_target(m: u32) -> bool {
  let t = targets[m];
  return t >= 0 && t < i32(P.V);
}

@compute @workgroup_size(256)
fn init(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let m = flat_index(wid, nwg, lid, 256u);
  if (m >= P.M) { return; }
  stats[m] = NEG_BIG;
  stats[P.M + m] = 0.0;
  stats[2u * P.M + m] = 1.0;
  stats[3u * P.M + m] = 0.0;
}

// One workgroup per row m.
@compute @workgroup_size(256)
fn update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let m = row_index(wid, nwg);
  if (m >= P.M) { return; }
  let base = m * P.vc;
  let target_col = targets[m] - i32(P.v0);
  var local_max = NEG_BIG;
  for (var j = lid; j < P.vc; j += WG) {
    let l = logits[base + j];
    local_max = max(local_max, l);
    if (i32(j) == target_col) { stats[3u * P.M + m] = l; }
  }
  let old_max = stats[m];
  let new_max = max(old_max, workgroup_reduce(lid, local_max, true));
  var local_sum = 0.0;
  for (var j = lid; j < P.vc; j += WG) {
    let e = exp(logits[base + j] - new_max);
    logits[base + j] = e;
    local_sum += e;
  }
  let slice_sum = workgroup_reduce(lid, local_sum, false);
  if (lid == 0u) {
    let f = exp(old_max - new_max);
    stats[m] = new_max;
    stats[P.M + m] = stats[P.M + m] * f + slice_sum;
    stats[2u * P.M + m] = f;
  }
}

@compute @workgroup_size(256)
fn rescale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.M * P.C) { return; }
  dh[e] *= stats[2u * P.M + e / P.C];
}

@compute @workgroup_size(256)
fn finalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.M * P.C) { return; }
  let m = e / P.C;
  let ok = valid_target(m);
  dh[e] = select(0.0, P.gradScale * dh[e] / stats[P.M + m], ok);
  if (e % P.C == 0u) {
    losses[m] = select(0.0, stats[m] + log(stats[P.M + m]) - stats[3u * P.M + m], ok);
  }
}

// dh[m] -= gradScale * w[target[m]] for the targets in this weight chunk
@compute @workgroup_size(256)
fn onehot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.M * P.C) { return; }
  let m = e / P.C;
  let row = targets[m] - i32(P.r0);
  if (valid_target(m) && row >= 0 && row < i32(P.rows)) {
    dh[e] -= P.gradScale * wload(u32(row) * P.C + e % P.C);
  }
}
