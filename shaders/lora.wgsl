// LoRA adapter on a frozen projection, PEFT order: out += scale * (dropout(inp) @ aᵀ) @ bᵀ.
//   inp, dinp (N, In); out, dout (N, O); xa, dxa (N, R); a, da (R, In); b, db (O, R).
// Dropout keeps inp element e (flat index) iff hash32(seed, e) >= threshold, scaled by keepScale
// = 1 / (1 - p); dropOn = 0 skips the hash entirely (p = 0).
// Forward: xa_forward then out_forward. Backward: dxa, then db, da, dinp in any order.

struct Params { N: u32, In: u32, O: u32, R: u32, scale: f32, seed: u32, threshold: u32, keepScale: f32, dropOn: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> xa: array<f32>;
@group(0) @binding(3) var<storage, read_write> inp: array<f32>;
@group(0) @binding(4) var<storage, read_write> a: array<f32>;
@group(0) @binding(5) var<storage, read_write> b: array<f32>;
@group(0) @binding(6) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(7) var<storage, read_write> da: array<f32>;
@group(0) @binding(8) var<storage, read_write> db: array<f32>;
@group(0) @binding(9) var<storage, read_write> dxa: array<f32>;
@group(0) @binding(10) var<storage, read_write> dout: array<f32>;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, 64>;


// dropout(inp)[e], the value the adapter actually sees
fn dropped(e: u32) -> f32 {
  if (P.dropOn == 0u) { return inp[e]; }
  if (dropout_keep(P.seed, e, P.threshold)) { return inp[e] * P.keepScale; }
  return 0.0;
}

// xa[n, r] = dropout(inp[n]) . a[r]; workgroup (x: n, y: r)
@compute @workgroup_size(64)
fn xa_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.x;
  let r = wid.y;
  var acc = 0.0;
  for (var k = lid; k < P.In; k += WG) { acc += dropped(n * P.In + k) * a[r * P.In + k]; }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) { xa[n * P.R + r] = total; }
}

// out[n, o] += scale * xa[n] . b[o]
@compute @workgroup_size(256)
fn out_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid, 256u);
  if (idx >= P.N * P.O) { return; }
  let n = idx / P.O;
  let o = idx % P.O;
  var acc = 0.0;
  for (var r = 0u; r < P.R; r++) { acc += xa[n * P.R + r] * b[o * P.R + r]; }
  out[idx] += P.scale * acc;
}

// dxa[n, r] = scale * dout[n] . b[:, r]; workgroup (x: n, y: r)
@compute @workgroup_size(64)
fn dxa_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.x;
  let r = wid.y;
  var acc = 0.0;
  for (var o = lid; o < P.O; o += WG) { acc += dout[n * P.O + o] * b[o * P.R + r]; }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) { dxa[n * P.R + r] = P.scale * total; }
}

// db[o, r] += scale * sum_n dout[n, o] * xa[n, r]; one thread per (o, r), o-major so reads of dout coalesce
@compute @workgroup_size(256)
fn db_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid, 256u);
  if (idx >= P.O * P.R) { return; }
  let o = idx / P.R;
  let r = idx % P.R;
  var acc = 0.0;
  for (var n = 0u; n < P.N; n++) { acc += dout[n * P.O + o] * xa[n * P.R + r]; }
  db[idx] += P.scale * acc;
}

// da[r, i] += sum_n dxa[n, r] * dropout(inp)[n, i]
@compute @workgroup_size(256)
fn da_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid, 256u);
  if (idx >= P.R * P.In) { return; }
  let r = idx / P.In;
  let i = idx % P.In;
  var acc = 0.0;
  for (var n = 0u; n < P.N; n++) { acc += dxa[n * P.R + r] * dropped(n * P.In + i); }
  da[idx] += acc;
}

// dinp[n, i] += dropout'(dxa[n] . a[:, i]): the same mask and scale as the forward
@compute @workgroup_size(256)
fn dinp_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid, 256u);
  if (idx >= P.N * P.In) { return; }
  if (P.dropOn == 1u && !dropout_keep(P.seed, idx, P.threshold)) { return; }
  let n = idx / P.In;
  let i = idx % P.In;
  var acc = 0.0;
  for (var r = 0u; r < P.R; r++) { acc += dxa[n * P.R + r] * a[r * P.In + i]; }
  if (P.dropOn == 1u) { acc *= P.keepScale; }
  dinp[idx] += acc;
}
