// Frozen projection: forward out = inp @ wᵀ + bias, backward dinp += dout @ w.
// One dispatch per weight chunk: wt holds rows w0 .. w0+rows of the chunk, which are output
// columns o0 .. o0+rows. O is the row stride of out/dout (a vocab slice in cross-entropy).
//   out, dout (N, O); inp, dinp (N, In); wt (rows, In) packed; bias (O) when hasBias = 1.
// Plain 16x16 tiles staged through workgroup memory, f32 accumulation.

struct Params { N: u32, In: u32, O: u32, o0: u32, w0: u32, rows: u32, hasBias: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> inp: array<f32>;
@group(0) @binding(3) var<storage, read_write> wt: array<u32>;
@group(0) @binding(4) var<storage, read_write> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(6) var<storage, read_write> dout: array<f32>;

const TS: u32 = 16u;
var<workgroup> tile_a: array<array<f32, 16>, 16>;
var<workgroup> tile_b: array<array<f32, 16>, 16>;

// workgroup (x: column block of the chunk, y: row block of inp)
@compute @workgroup_size(16, 16)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.y * TS + lid.y;
  let j = wid.x * TS + lid.x;
  let wrow = wid.x * TS + lid.y; // the weight row this thread stages
  var acc = 0.0;
  for (var k0 = 0u; k0 < P.In; k0 += TS) {
    let k = k0 + lid.x;
    var a = 0.0;
    if (n < P.N && k < P.In) { a = inp[n * P.In + k]; }
    tile_a[lid.y][lid.x] = a;
    var w = 0.0;
    if (wrow < P.rows && k < P.In) { w = wload((P.w0 + wrow) * P.In + k); }
    tile_b[lid.y][lid.x] = w;
    workgroupBarrier();
    for (var kk = 0u; kk < TS; kk++) { acc += tile_a[lid.y][kk] * tile_b[lid.x][kk]; }
    workgroupBarrier();
  }
  if (n < P.N && j < P.rows) {
    let o = P.o0 + j;
    if (P.hasBias == 1u) { acc += bias[o]; }
    out[n * P.O + o] = acc;
  }
}

// workgroup (x: column block of dinp, y: row block)
@compute @workgroup_size(16, 16)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.y * TS + lid.y;
  let i = wid.x * TS + lid.x;
  var acc = 0.0;
  for (var j0 = 0u; j0 < P.rows; j0 += TS) {
    let ja = j0 + lid.x;
    var d = 0.0;
    if (n < P.N && ja < P.rows) { d = dout[n * P.O + P.o0 + ja]; }
    tile_a[lid.y][lid.x] = d;
    let jb = j0 + lid.y;
    var w = 0.0;
    if (jb < P.rows && i < P.In) { w = wload((P.w0 + jb) * P.In + i); }
    tile_b[lid.y][lid.x] = w;
    workgroupBarrier();
    for (var kk = 0u; kk < TS; kk++) { acc += tile_a[lid.y][kk] * tile_b[kk][lid.x]; }
    workgroupBarrier();
  }
  if (n < P.N && i < P.In) {
    dinp[n * P.In + i] += acc;
  }
}
