// LoRA adapters of up to three projections ("parts") that share one input, PEFT order:
// out_p += scale * (dropout_p(inp) @ a_pᵀ) @ b_pᵀ. The base matmul (matmul.wgsl) adds the
// b-product in its epilogue and the a-product's input gradient in its backward epilogue; these
// kernels make the rank-R factors and the adapter gradients.
//   inp (N, In); a_p (R, In) and b_p (O_p, R) in `adapter` at a_p / b_p; xa: part p (N, R) at
//   x_p; dxa: part p (N, R) at x_p (dxa_backward) or d_p (grads); dy: part p (N, O_p) at y_p; da_p (R, In), db_p (O_p, R) in `grads` at ga_p / gb_p.
// Dropout keeps inp element e (flat index) of part p iff hash32(seed_p, e) >= threshold, scaled
// by keepScale = 1 / (1 - p); dropOn = 0 skips the hash (p = 0).
//
//   xa:    xa_p = dropout_p(inp) @ a_pᵀ; each input tile is read once for every part and rank
//          (the masks computed once per element and part); with subgroups 4 lanes per output
//   dxa:   dxa_p = scale * dy_p @ b_p
//   grads: db_p += scale * dy_pᵀ @ xa_p; da_p += dxa_pᵀ @ dropout_p(inp): tiled reductions over
//          the tokens, 32 columns of one gradient per workgroup (R <= 64)

struct Params {
  N: u32, In: u32, R: u32, nparts: u32, O0: u32, O1: u32, O2: u32,
  a0: u32, a1: u32, a2: u32, b0: u32, b1: u32, b2: u32, x0: u32, x1: u32, x2: u32,
  y0: u32, y1: u32, y2: u32, d0: u32, d1: u32, d2: u32, ga0: u32, ga1: u32, ga2: u32, gb0: u32, gb1: u32, gb2: u32,
  seed0: u32, seed1: u32, seed2: u32, threshold: u32, keepScale: f32, dropOn: u32, scale: f32,
  j1: u32, j2: u32, j3: u32, j4: u32, j5: u32, j6: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read> adapter: array<f32>;
@group(0) @binding(3) var<storage, read_write> xa: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dxa: array<f32>;
@group(0) @binding(6) var<storage, read_write> grads: array<f32>;

const ROWS: u32 = 16u; // token rows per workgroup (xa, dxa)
const KC: u32 = 64u; // reduction chunk staged at once (xa, dxa)
const MAXO: u32 = 16u; // outputs per thread: ROWS * parts * R <= 4096
var<workgroup> xs: array<f32, 3072>; // (part, ROWS, KC)
var<workgroup> xg: array<f32, 1024>; // grads: (32 tokens, 32 columns)
var<workgroup> ys: array<f32, 2048>; // grads: (32 tokens, R <= 64)

fn pick(p: u32, a: u32, b: u32, c: u32) -> u32 {
  return select(select(a, b, p == 1u), c, p == 2u);
}

fn seed_of(p: u32) -> u32 {
  return pick(p, P.seed0, P.seed1, P.seed2);
}

// dropout_p(inp)[e], the value part p's adapter sees
fn dropped(p: u32, e: u32, v: f32) -> f32 {
  if (P.dropOn == 0u) { return v; }
  return select(0.0, v * P.keepScale, dropout_keep(seed_of(p), e, P.threshold));
}

// one workgroup per ROWS tokens. Output q (row, part, rank) belongs to G neighbouring threads,
// thread `lane` of them summing the chunk's k = lane, lane + G, ...: G = 1 (plain), or 4 with
// subgroups where ROWS * parts * R <= 1024, so a subgroup reads runs of A's row and xs
// instead of one element of many rows, and the 4 partial sums meet in registers once, at the end.
@compute @workgroup_size(256)
fn xa_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let n0 = row_index(wid, nwg) * ROWS;
  let PR = P.nparts * P.R;
  let G = select(1u, 4u, SUBGROUPS && ROWS * PR * 4u <= 256u * MAXO);
  let lane = lid % G;
  let per = 256u / G; // outputs at once
  var acc: array<f32, MAXO>;
  for (var k0 = 0u; k0 < P.In; k0 += KC) {
    for (var e = lid; e < ROWS * KC; e += 256u) {
      let n = n0 + e / KC;
      let k = k0 + e % KC;
      let ok = n < P.N && k < P.In;
      let v = select(0.0, inp[min(n * P.In + k, arrayLength(&inp) - 1u)], ok);
      for (var p = 0u; p < P.nparts; p++) { xs[p * ROWS * KC + e] = dropped(p, n * P.In + k, v); }
    }
    workgroupBarrier();
    let kn = min(KC, P.In - k0);
    for (var j = 0u; j < MAXO; j++) {
      let q = lid / G + j * per;
      if (q >= ROWS * PR) { break; }
      let row = q / PR;
      let p = (q % PR) / P.R;
      let arow = pick(p, P.a0, P.a1, P.a2) + (q % P.R) * P.In + k0;
      let xrow = (p * ROWS + row) * KC;
      var s = 0.0;
      for (var kk = lane; kk < kn; kk += G) { s += xs[xrow + kk] * adapter[arow + kk]; }
      acc[j] += s;
    }
    workgroupBarrier();
  }
  for (var j = 0u; j < MAXO; j++) {
    let q = lid / G + j * per;
    if (q >= ROWS * PR) { break; }
    // the G threads of an output leave this loop together: their lanes are all active here
    var s = acc[j];
    for (var mask = 1u; mask < G; mask *= 2u) { s = lane_xor_add(s, mask); }
    let n = n0 + q / PR;
    let p = (q % PR) / P.R;
    if (n < P.N && lane == 0u) { xa[pick(p, P.x0, P.x1, P.x2) + n * P.R + q % P.R] = s; }
  }
}

// one workgroup per ROWS tokens, the parts one after another
@compute @workgroup_size(256)
fn dxa_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let n0 = row_index(wid, nwg) * ROWS;
  for (var p = 0u; p < P.nparts; p++) {
    let O = pick(p, P.O0, P.O1, P.O2);
    let ybase = pick(p, P.y0, P.y1, P.y2);
    let bbase = pick(p, P.b0, P.b1, P.b2);
    // zeroed by hand: a var declared in a loop body kept its last value under SwiftShader
    var acc: array<f32, MAXO>;
    for (var j = 0u; j < MAXO; j++) { acc[j] = 0.0; }
    for (var o0 = 0u; o0 < O; o0 += KC) {
      for (var e = lid; e < ROWS * KC; e += 256u) {
        let n = n0 + e / KC;
        let o = o0 + e % KC;
        xs[e] = select(0.0, dy[min(ybase + n * O + o, arrayLength(&dy) - 1u)], n < P.N && o < O);
      }
      workgroupBarrier();
      let on = min(KC, O - o0);
      for (var j = 0u; j < MAXO; j++) {
        let q = lid + j * 256u;
        if (q >= ROWS * P.R) { break; }
        let r = q % P.R;
        let xrow = (q / P.R) * KC;
        var s = 0.0;
        for (var kk = 0u; kk < on; kk++) { s += xs[xrow + kk] * adapter[bbase + (o0 + kk) * P.R + r]; }
        acc[j] += s;
      }
      workgroupBarrier();
    }
    for (var j = 0u; j < MAXO; j++) {
      let q = lid + j * 256u;
      if (q >= ROWS * P.R) { break; }
      let n = n0 + q / P.R;
      if (n < P.N) { dxa[pick(p, P.x0, P.x1, P.x2) + n * P.R + q % P.R] = P.scale * acc[j]; }
    }
  }
}

// Blocks of 32 columns of one gradient: jobs db_0, db_1, db_2, da_0, da_1, da_2 end at block
// j1 .. j6. out[c, r] += sum_n X[n, c] * Y[n, r], 32 tokens staged at a time.
@compute @workgroup_size(256)
fn grads_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let blk = row_index(wid, nwg);
  if (blk >= P.j6) { return; }
  let ends = array<u32, 6>(P.j1, P.j2, P.j3, P.j4, P.j5, P.j6);
  var job = 0u;
  for (var i = 0u; i < 5u; i++) { job += select(0u, 1u, blk >= ends[i]); }
  let start = select(0u, ends[max(job, 1u) - 1u], job > 0u);
  let p = job % 3u;
  let isA = job >= 3u;
  let c0 = (blk - start) * 32u;
  let cols = select(pick(p, P.O0, P.O1, P.O2), P.In, isA);
  let c = lid % 32u;
  let rg = lid / 32u;
  var acc: array<f32, 8>;
  for (var n0 = 0u; n0 < P.N; n0 += 32u) {
    for (var e = lid; e < 1024u; e += 256u) {
      let n = n0 + e / 32u;
      let col = c0 + e % 32u;
      var v = 0.0;
      if (n < P.N && col < cols) {
        if (isA) { v = dropped(p, n * P.In + col, inp[n * P.In + col]); }
        else { v = dy[pick(p, P.y0, P.y1, P.y2) + n * cols + col]; }
      }
      xg[e] = v;
    }
    for (var e = lid; e < 32u * P.R; e += 256u) {
      let n = n0 + e / P.R;
      var v = 0.0;
      if (n < P.N) {
        if (isA) { v = dxa[pick(p, P.d0, P.d1, P.d2) + n * P.R + e % P.R]; }
        else { v = xa[pick(p, P.x0, P.x1, P.x2) + n * P.R + e % P.R]; }
      }
      ys[e] = v;
    }
    workgroupBarrier();
    for (var nn = 0u; nn < 32u; nn++) {
      let xv = xg[nn * 32u + c];
      for (var t = 0u; t < 8u; t++) {
        let r = rg + 8u * t;
        if (r < P.R) { acc[t] += xv * ys[nn * P.R + r]; }
      }
    }
    workgroupBarrier();
  }
  let col = c0 + c;
  if (col >= cols) { return; }
  for (var t = 0u; t < 8u; t++) {
    let r = rg + 8u * t;
    if (r >= P.R) { continue; }
    if (isA) { grads[pick(p, P.ga0, P.ga1, P.ga2) + r * P.In + col] += acc[t]; }
    else { grads[pick(p, P.gb0, P.gb1, P.gb2) + col * P.R + r] += P.scale * acc[t]; }
  }
}
