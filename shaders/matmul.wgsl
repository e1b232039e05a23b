// Frozen projections of one input, fused with their bias, LoRA and residual (mm_core.wgsl loops).
// A call covers up to three projections ("parts") whose weights lie in one buffer and whose
// outputs (forward) or output gradients (backward) lie in one buffer: q|k|v and gate|up are one
// launch each. Part p covers columns [e_p, e_{p+1}) of the concatenated output (e_0 = 0,
// e_3 = cols); its data starts at element off_p of `out` / `dy` with row stride ld_p, its
// weight rows at element w_p of `wt` (row stride wstride, a multiple of 8).
//
// forward:  out_p = x @ w_pᵀ (+ bias_p) (+ scale * xa_p @ b_pᵀ) (+ resid)
//   x (N, K) row stride ldx; wt (rows, wstride); bias: part p at bias_p; xa: part p (N, R) at
//   xa_p; adapter: b_p (O_p, R) at lo_p; resid: column j of row m at m * rld + roff + j.
// backward: dinp = sum_p dy_p @ w_p + sum_p dropout_p'(dxa_p @ a_p)   (K = sum of part widths)
//   dy: part p (N, O_p) at off_p; dinp (N, cols) overwritten, or accumulated with flag 4;
//   dxa: part p (N, R) at xa_p; adapter: a_p (R, cols) at lo_p. The dropout mask is the
//   forward's: element n*cols + i of part p is kept iff hash32(seed_p, n*cols+i) >= threshold.
// Split-K (kSplit > 1, grid z = split): each split writes raw sums to partial (kSplit, N, cols)
// and the *_reduce entry adds them up and applies the epilogue.
// flags: 1 bias, 2 resid, 4 accumulate into out / dinp. lmask bit p: part p has LoRA.

struct Params {
  N: u32, K: u32, cols: u32, ldx: u32, wstride: u32, e1: u32, e2: u32,
  off0: u32, off1: u32, off2: u32, ld0: u32, ld1: u32, ld2: u32, w0: u32, w1: u32, w2: u32,
  bias0: u32, bias1: u32, bias2: u32, lo0: u32, lo1: u32, lo2: u32, xa0: u32, xa1: u32, xa2: u32,
  lmask: u32, R: u32, scale: f32, flags: u32, seed0: u32, seed1: u32, seed2: u32,
  threshold: u32, keepScale: f32, dropOn: u32, kSplit: u32, kChunk: u32, rld: u32, roff: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> xa: array<f32>;
@group(0) @binding(7) var<storage, read> adapter: array<f32>;
@group(0) @binding(8) var<storage, read> resid: array<f32>;
@group(0) @binding(9) var<storage, read> dy: array<f32>;
@group(0) @binding(10) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(11) var<storage, read> dxa: array<f32>;

fn pick(p: u32, a: u32, b: u32, c: u32) -> u32 {
  return select(select(a, b, p == 1u), c, p == 2u);
}

fn part_of(j: u32) -> u32 {
  return select(select(0u, 1u, j >= P.e1), 2u, j >= P.e2);
}

fn part_start(p: u32) -> u32 {
  return pick(p, 0u, P.e1, P.e2);
}

// ---- forward loads: A = x, B = the weight rows of the output columns

fn load_a_nt(m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= P.N || k >= k_end) { return 0.0; }
  return x[m * P.ldx + k];
}

fn load_b8_nt(c: u32, k: u32, k_end: u32) -> array<vec4<f32>, 2> {
  if (c >= P.cols || k >= k_end) { return array<vec4<f32>, 2>(); }
  let p = part_of(c);
  return wload8(pick(p, P.w0, P.w1, P.w2) + (c - part_start(p)) * P.wstride + k);
}

// ---- backward loads: A = dy (columns = concatenated parts), B = the weight rows

fn load_a_nn(m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= P.N || k >= k_end) { return 0.0; }
  let p = part_of(k);
  return dy[pick(p, P.off0, P.off1, P.off2) + m * pick(p, P.ld0, P.ld1, P.ld2) + k - part_start(p)];
}

fn load_b8_nn(k: u32, c: u32, k_end: u32) -> array<vec4<f32>, 2> {
  if (k >= k_end || c >= P.cols) { return array<vec4<f32>, 2>(); }
  let p = part_of(k);
  return wload8(pick(p, P.w0, P.w1, P.w2) + (k - part_start(p)) * P.wstride + c);
}

// ---- epilogues: one output element with its full sum

fn finish_fwd(m: u32, j: u32, sum: f32) {
  let p = part_of(j);
  let jc = j - part_start(p);
  var y = sum;
  if ((P.flags & 1u) != 0u) { y += bias[pick(p, P.bias0, P.bias1, P.bias2) + jc]; }
  if (((P.lmask >> p) & 1u) != 0u) {
    let xr = pick(p, P.xa0, P.xa1, P.xa2) + m * P.R;
    let br = pick(p, P.lo0, P.lo1, P.lo2) + jc * P.R;
    var s = 0.0;
    for (var r = 0u; r < P.R; r++) { s += xa[xr + r] * adapter[br + r]; }
    y += P.scale * s;
  }
  if ((P.flags & 2u) != 0u) { y += resid[m * P.rld + P.roff + j]; }
  let o = pick(p, P.off0, P.off1, P.off2) + m * pick(p, P.ld0, P.ld1, P.ld2) + jc;
  if ((P.flags & 4u) != 0u) { y += out[o]; }
  out[o] = y;
}

fn finish_bwd(m: u32, i: u32, sum: f32) {
  let e = m * P.cols + i;
  var y = sum;
  for (var p = 0u; p < 3u; p++) {
    if (((P.lmask >> p) & 1u) == 0u) { continue; }
    if (P.dropOn == 1u && !dropout_keep(pick(p, P.seed0, P.seed1, P.seed2), e, P.threshold)) { continue; }
    let dr = pick(p, P.xa0, P.xa1, P.xa2) + m * P.R;
    let ar = pick(p, P.lo0, P.lo1, P.lo2) + i;
    var s = 0.0;
    for (var r = 0u; r < P.R; r++) { s += dxa[dr + r] * adapter[ar + r * P.cols]; }
    y += select(s, s * P.keepScale, P.dropOn == 1u);
  }
  if ((P.flags & 4u) != 0u) { y += dinp[e]; }
  dinp[e] = y;
}

// workgroup (x: BN-column block, y: BM-row block, z: K split)
@compute @workgroup_size(16, 16)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let m0 = wid.y * BM;
  let c0 = wid.x * BN;
  let kb = wid.z * P.kChunk;
  let acc = mm_nt(m0, c0, kb, min(P.K, kb + P.kChunk), l.x, l.y, lid);
  for (var i = 0u; i < TM * TN / 4u; i++) {
    let m = m0 + acc_row(i, l.y);
    for (var c = 0u; c < 4u; c++) {
      let j = c0 + acc_col(i, l.x) + c;
      if (m >= P.N || j >= P.cols) { continue; }
      if (P.kSplit > 1u) { partial[(wid.z * P.N + m) * P.cols + j] = acc[i][c]; } else { finish_fwd(m, j, acc[i][c]); }
    }
  }
}

@compute @workgroup_size(16, 16)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let m0 = wid.y * BM;
  let c0 = wid.x * BN;
  let kb = wid.z * P.kChunk;
  let acc = mm_nn(m0, c0, kb, min(P.K, kb + P.kChunk), l.x, l.y, lid);
  for (var i = 0u; i < TM * TN / 4u; i++) {
    let m = m0 + acc_row(i, l.y);
    for (var c = 0u; c < 4u; c++) {
      let j = c0 + acc_col(i, l.x) + c;
      if (m >= P.N || j >= P.cols) { continue; }
      if (P.kSplit > 1u) { partial[(wid.z * P.N + m) * P.cols + j] = acc[i][c]; } else { finish_bwd(m, j, acc[i][c]); }
    }
  }
}

// one thread per output element: the sum over the K splits, then the epilogue
@compute @workgroup_size(256)
fn forward_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.N * P.cols) { return; }
  var s = 0.0;
  for (var z = 0u; z < P.kSplit; z++) { s += partial[z * P.N * P.cols + e]; }
  finish_fwd(e / P.cols, e % P.cols, s);
}

@compute @workgroup_size(256)
fn backward_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.N * P.cols) { return; }
  var s = 0.0;
  for (var z = 0u; z < P.kSplit; z++) { s += partial[z * P.N * P.cols + e]; }
  finish_bwd(e / P.cols, e % P.cols, s);
}

// Decode (a few rows, N <= 8): out = x @ wᵀ with the forward's epilogue, each weight row read
// once. A workgroup takes GR output columns, 32 threads per column walking its row 8 values (one
// 16-byte load) at a time, 256 apart, so a column's loads are contiguous across its threads.
const GR: u32 = 8u;
var<workgroup> gemv_part: array<f32, 2048>; // (GR, N <= 8, 32 threads)

@compute @workgroup_size(256)
fn gemv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let c0 = row_index(wid, nwg) * GR;
  let r = lid / 32u;
  let lane = lid % 32u;
  let c = c0 + r;
  var acc: array<f32, 8>;
  for (var i = 0u; i < 8u; i++) { acc[i] = 0.0; }
  if (c < P.cols) {
    for (var k = lane * 8u; k < P.K; k += 256u) {
      let w = load_b8_nt(c, k, P.K);
      for (var m = 0u; m < P.N; m++) {
        let xa4 = vec4<f32>(load_a_nt(m, k, P.K), load_a_nt(m, k + 1u, P.K), load_a_nt(m, k + 2u, P.K), load_a_nt(m, k + 3u, P.K));
        let xb4 = vec4<f32>(load_a_nt(m, k + 4u, P.K), load_a_nt(m, k + 5u, P.K), load_a_nt(m, k + 6u, P.K), load_a_nt(m, k + 7u, P.K));
        acc[m] += dot(w[0], xa4) + dot(w[1], xb4);
      }
    }
  }
  for (var m = 0u; m < 8u; m++) { gemv_part[(r * 8u + m) * 32u + lane] = acc[m]; }
  workgroupBarrier();
  let rr = lid / 8u;
  let m = lid % 8u;
  if (lid < GR * 8u && m < P.N && c0 + rr < P.cols) {
    var s = 0.0;
    for (var t = 0u; t < 32u; t++) { s += gemv_part[(rr * 8u + m) * 32u + t]; }
    finish_fwd(m, c0 + rr, s);
  }
}
