// Cross-entropy of the LM head, one vocabulary slice at a time, so no (M, V) buffer ever exists.
// Per slice the host runs:
//   logits  the slice's logits h @ w_sliceᵀ (mm_core tiles); the epilogue also writes, per row and
//           column block, the block's max and sum of exp(logit - max), and the target's logit
//   stats   folds the slice's block partials into the running max and sum (online softmax) and
//           keeps the factor exp(old max - new max) that rescales what dh holds so far
//   dh      dh = rescale * dh + exp(logits - max) @ w_slice, split over the slice (split-K) into
//           `partial` when the output tile grid is small, then dh_reduce adds the splits
// and at the end finalize (dh / sum, minus the target row, times gradScale; the losses) and, for
// each further weight chunk, onehot.
//   h, dh (M, C); logits (M, vc) with column 0 = vocab id v0; part (M, ncb) pairs; stats (4, M):
//   running max, running sum, last rescale factor, target logit; targets (M) i32; losses (M);
//   wt: one weight chunk, vocab ids r0 .. r0+rows, rows `stride` apart; the slice starts at its
//   element wrow0. A target outside [0, V) contributes neither loss nor gradient.

struct Params {
  M: u32, C: u32, V: u32, vc: u32, v0: u32, wrow0: u32, stride: u32, ncb: u32, first: u32,
  gradScale: f32, kSplit: u32, kChunk: u32, r0: u32, rows: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> h: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;
@group(0) @binding(4) var<storage, read_write> part: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<storage, read> targets: array<i32>;
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;
@group(0) @binding(8) var<storage, read_write> dh: array<f32>;
@group(0) @binding(9) var<storage, read_write> losses: array<f32>;

var<workgroup> red: array<vec2<f32>, BM * WX>; // (row, thread column): max, sum

fn valid_target(m: u32) -> bool {
  let t = targets[m];
  return t >= 0 && t < i32(P.V);
}

fn load_a_nt(m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= P.M || k >= k_end) { return 0.0; }
  return h[m * P.C + k];
}

fn load_b8_nt(c: u32, k: u32, k_end: u32) -> array<vec4<f32>, 2> {
  if (c >= P.vc || k >= k_end) { return array<vec4<f32>, 2>(); }
  return wload8(P.wrow0 + c * P.stride + k);
}

fn load_a_nn(m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= P.M || k >= k_end) { return 0.0; }
  return exp(logits[m * P.vc + k] - stats[m]);
}

fn load_b8_nn(k: u32, c: u32, k_end: u32) -> array<vec4<f32>, 2> {
  if (k >= k_end || c >= P.C) { return array<vec4<f32>, 2>(); }
  return wload8(P.wrow0 + k * P.stride + c);
}

// workgroup (x: column block of the slice, y: row block)
@compute @workgroup_size(16, 16)
fn logits_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let m0 = wid.y * BM;
  let c0 = wid.x * BN;
  let acc = mm_nt(m0, c0, 0u, P.C, l.x, l.y, lid);
  let w = min(WX, lane_width()); // 1 on the plain build
  for (var g = 0u; g < TM; g++) {
    let i0 = g * (TN / 4u);
    let row = acc_row(i0, l.y);
    let m = m0 + row;
    var mx = NEG_BIG;
    for (var i = i0; i < i0 + TN / 4u; i++) {
      for (var c = 0u; c < 4u; c++) {
        let j = c0 + acc_col(i, l.x) + c;
        if (m < P.M && j < P.vc) {
          let v = acc[i][c];
          logits[m * P.vc + j] = v;
          if (targets[m] == i32(P.v0 + j)) { stats[3u * P.M + m] = v; }
          mx = max(mx, v);
        }
      }
    }
    var s = 0.0;
    for (var i = i0; i < i0 + TN / 4u; i++) {
      for (var c = 0u; c < 4u; c++) {
        if (m < P.M && c0 + acc_col(i, l.x) + c < P.vc) { s += exp(acc[i][c] - mx); }
      }
    }
    // subgroups: the row's `w` neighbouring column threads (lid = l.y * WX + l.x) fold their
    // (max, sum) pairs in registers, and one of them writes: WX / w partials per row to fold below
    var pair = vec2<f32>(mx, s);
    for (var mask = 1u; mask < w; mask *= 2u) { pair = fold_max_sum(pair, lane_xor(pair, mask)); }
    if (l.x % w == 0u) { red[row * WX + l.x] = pair; }
  }
  workgroupBarrier();
  if (lid < BM && m0 + lid < P.M) {
    var mx = NEG_BIG;
    for (var t = 0u; t < WX; t += w) { mx = max(mx, red[lid * WX + t].x); }
    var s = 0.0;
    for (var t = 0u; t < WX; t += w) {
      let e = red[lid * WX + t];
      if (e.y > 0.0) { s += e.y * exp(e.x - mx); }
    }
    part[(m0 + lid) * P.ncb + wid.x] = vec2<f32>(mx, s);
  }
}

// two (max, sum of exp(x - max)) pairs as one; an empty pair is (NEG_BIG, 0)
fn fold_max_sum(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// one thread per row: the slice's blocks folded into the running max and sum
@compute @workgroup_size(256)
fn stats_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let m = flat_index(wid, nwg, lid, 256u);
  if (m >= P.M) { return; }
  var old_max = NEG_BIG;
  var old_sum = 0.0;
  if (P.first == 0u) {
    old_max = stats[m];
    old_sum = stats[P.M + m];
  }
  var mx = old_max;
  for (var b = 0u; b < P.ncb; b++) { mx = max(mx, part[m * P.ncb + b].x); }
  var s = 0.0;
  for (var b = 0u; b < P.ncb; b++) {
    let e = part[m * P.ncb + b];
    if (e.y > 0.0) { s += e.y * exp(e.x - mx); }
  }
  let f = exp(old_max - mx);
  stats[m] = mx;
  stats[P.M + m] = old_sum * f + s;
  stats[2u * P.M + m] = f;
}

fn dh_update(m: u32, c: u32, add: f32) {
  let e = m * P.C + c;
  if (P.first == 1u) { dh[e] = add; } else { dh[e] = dh[e] * stats[2u * P.M + m] + add; }
}

// workgroup (x: column block of C, y: row block, z: split of the slice)
@compute @workgroup_size(16, 16)
fn dh_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let m0 = wid.y * BM;
  let c0 = wid.x * BN;
  let kb = wid.z * P.kChunk;
  let acc = mm_nn(m0, c0, kb, min(P.vc, kb + P.kChunk), l.x, l.y, lid);
  for (var i = 0u; i < TM * TN / 4u; i++) {
    let m = m0 + acc_row(i, l.y);
    for (var c = 0u; c < 4u; c++) {
      let j = c0 + acc_col(i, l.x) + c;
      if (m >= P.M || j >= P.C) { continue; }
      if (P.kSplit > 1u) { partial[(wid.z * P.M + m) * P.C + j] = acc[i][c]; } else { dh_update(m, j, acc[i][c]); }
    }
  }
}

@compute @workgroup_size(256)
fn dh_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.M * P.C) { return; }
  var s = 0.0;
  for (var z = 0u; z < P.kSplit; z++) { s += partial[z * P.M * P.C + e]; }
  dh_update(e / P.C, e % P.C, s);
}

// dh[m] -= gradScale * w[target[m]] where the target lies in this weight chunk
fn subtract_target(e: u32, m: u32) {
  let row = targets[m] - i32(P.r0);
  if (valid_target(m) && row >= 0 && row < i32(P.rows)) {
    dh[e] -= P.gradScale * wload1(u32(row) * P.stride + e % P.C);
  }
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
  subtract_target(e, m);
}

@compute @workgroup_size(256)
fn onehot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.M * P.C) { return; }
  subtract_target(e, e / P.C);
}
