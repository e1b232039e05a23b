// Frozen projection: forward out = inp @ wᵀ + bias, backward dinp += dout @ w.
// One dispatch per weight chunk: wt holds rows w0 .. w0+rows of the chunk, which are output
// columns o0 .. o0+rows. O is the row stride of out/dout (a vocab slice in cross-entropy).
//   out, dout (N, O); inp, dinp (N, In); wt (rows, In) packed; bias (O) when hasBias = 1.
// 64x64 output tiles per workgroup of 16x16 threads, each thread a 4x4 block, K staged 16 at a
// time through workgroup memory; f32 accumulation.

struct Params { N: u32, In: u32, O: u32, o0: u32, w0: u32, rows: u32, hasBias: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> inp: array<f32>;
@group(0) @binding(3) var<storage, read_write> wt: array<u32>;
@group(0) @binding(4) var<storage, read_write> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(6) var<storage, read_write> dout: array<f32>;

const TM: u32 = 64u; // tile rows (tokens) and columns per workgroup
const TK: u32 = 16u; // reduction depth staged per barrier
var<workgroup> tile_a: array<f32, 1024>; // (TK, TM): tile_a[k * TM + row]
var<workgroup> tile_b: array<f32, 1024>; // (TK, TM): tile_b[k * TM + col]

// the 4x4 products of one staged depth slice, accumulated into acc (row-major 4x4)
fn accumulate_tile(ty: u32, tx: u32, acc: ptr<function, array<f32, 16>>) {
  for (var kk = 0u; kk < TK; kk++) {
    var a: array<f32, 4>;
    var b: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
      a[i] = tile_a[kk * TM + ty * 4u + i];
      b[i] = tile_b[kk * TM + tx * 4u + i];
    }
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) { (*acc)[i * 4u + j] += a[i] * b[j]; }
    }
  }
}

// workgroup (x: 64-column block of the chunk, y: 64-row block of inp)
@compute @workgroup_size(16, 16)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let n0 = wid.y * TM;
  let j0 = wid.x * TM;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < P.In; k0 += TK) {
    for (var s = 0u; s < 4u; s++) {
      let e = li + s * 256u;
      let r = e / TK; // row of the tile (token for inp, output column for w)
      let k = k0 + e % TK;
      var x = 0.0;
      if (n0 + r < P.N && k < P.In) { x = inp[(n0 + r) * P.In + k]; }
      tile_a[(e % TK) * TM + r] = x;
      var w = 0.0;
      if (j0 + r < P.rows && k < P.In) { w = wload((P.w0 + j0 + r) * P.In + k); }
      tile_b[(e % TK) * TM + r] = w;
    }
    workgroupBarrier();
    accumulate_tile(lid.y, lid.x, &acc);
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let n = n0 + lid.y * 4u + i;
    for (var jj = 0u; jj < 4u; jj++) {
      let j = j0 + lid.x * 4u + jj;
      if (n < P.N && j < P.rows) {
        let o = P.o0 + j;
        var y = acc[i * 4u + jj];
        if (P.hasBias == 1u) { y += bias[o]; }
        out[n * P.O + o] = y;
      }
    }
  }
}

// workgroup (x: 64-column block of dinp, y: 64-row block); the reduction runs over the chunk's rows
@compute @workgroup_size(16, 16)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let n0 = wid.y * TM;
  let i0 = wid.x * TM;
  var acc: array<f32, 16>;
  for (var j0 = 0u; j0 < P.rows; j0 += TK) {
    for (var s = 0u; s < 4u; s++) {
      let e = li + s * 256u;
      // dout tile: consecutive threads walk consecutive output columns j
      let r = e / TK;
      let ja = j0 + e % TK;
      var d = 0.0;
      if (n0 + r < P.N && ja < P.rows) { d = dout[(n0 + r) * P.O + P.o0 + ja]; }
      tile_a[(e % TK) * TM + r] = d;
      // weight tile: consecutive threads walk consecutive input columns i
      let kk = e / TM;
      let c = e % TM;
      var w = 0.0;
      if (j0 + kk < P.rows && i0 + c < P.In) { w = wload((P.w0 + j0 + kk) * P.In + i0 + c); }
      tile_b[kk * TM + c] = w;
    }
    workgroupBarrier();
    accumulate_tile(lid.y, lid.x, &acc);
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let n = n0 + lid.y * 4u + i;
    for (var jj = 0u; jj < 4u; jj++) {
      let c = i0 + lid.x * 4u + jj;
      if (n < P.N && c < P.In) { dinp[n * P.In + c] += acc[i * 4u + jj]; }
    }
  }
}
