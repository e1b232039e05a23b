// Causal grouped-query attention with a key padding mask and a KV cache.
//   q, dq (B, T, NH, HD); k, v (B, SMAX, NKV, HD) in forward, (B, T, NKV, HD) with dk, dv in
//   backward; mask (B, SMAX) i32; out, dout (B, T, NH*HD); att, datt (B, NH, T, S).
// Query t sits at position S - T + t and sees keys s <= that position with mask 1; query head h
// reads KV head h / (NH / NKV). att keeps the softmax probabilities for the backward pass; a row
// with no visible key is all zeros, and so is its output.

struct Params { B: u32, T: u32, S: u32, SMAX: u32, NH: u32, NKV: u32, HD: u32, scale: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> att: array<f32>;
@group(0) @binding(3) var<storage, read_write> q: array<f32>;
@group(0) @binding(4) var<storage, read_write> k: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read_write> mask: array<i32>;
@group(0) @binding(7) var<storage, read_write> datt: array<f32>;
@group(0) @binding(8) var<storage, read_write> dout: array<f32>;
@group(0) @binding(9) var<storage, read_write> dq: array<f32>;
@group(0) @binding(10) var<storage, read_write> dk: array<f32>;
@group(0) @binding(11) var<storage, read_write> dv: array<f32>;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, 64>;


// One workgroup per query row: workgroup (x: t, y: b * NH + h).
@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wid.x;
  let b = wid.y / P.NH;
  let h = wid.y % P.NH;
  let kvh = h / (P.NH / P.NKV);
  let qpos = P.S - P.T + t;
  let qbase = ((b * P.T + t) * P.NH + h) * P.HD;
  let arow = ((b * P.NH + h) * P.T + t) * P.S;

  var local_max = NEG_BIG;
  for (var s = lid; s < P.S; s += WG) {
    var score = NEG_BIG;
    if (s <= qpos && mask[b * P.SMAX + s] != 0) {
      let kbase = ((b * P.SMAX + s) * P.NKV + kvh) * P.HD;
      var dot = 0.0;
      for (var d = 0u; d < P.HD; d++) { dot += q[qbase + d] * k[kbase + d]; }
      score = dot * P.scale;
    }
    att[arow + s] = score;
    local_max = max(local_max, score);
  }
  let row_max = workgroup_reduce(lid, local_max, true);

  var local_sum = 0.0;
  for (var s = lid; s < P.S; s += WG) {
    let score = att[arow + s];
    var p = 0.0;
    if (score > NEG_BIG) { p = exp(score - row_max); }
    att[arow + s] = p;
    local_sum += p;
  }
  let row_sum = workgroup_reduce(lid, local_sum, false);
  for (var s = lid; s < P.S; s += WG) {
    if (row_sum > 0.0) { att[arow + s] = att[arow + s] / row_sum; }
  }
  storageBarrier();
  workgroupBarrier();

  for (var d = lid; d < P.HD; d += WG) {
    var acc = 0.0;
    for (var s = 0u; s <= min(qpos, P.S - 1u); s++) {
      acc += att[arow + s] * v[((b * P.SMAX + s) * P.NKV + kvh) * P.HD + d];
    }
    out[qbase + d] = acc;
  }
}

// Training backward (S = SMAX = T), per query row: datt becomes dscore = att * (datt - sum(att * datt)),
// then dq = scale * dscore @ k. Workgroup (x: t, y: b * NH + h).
@compute @workgroup_size(64)
fn backward_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wid.x;
  let b = wid.y / P.NH;
  let h = wid.y % P.NH;
  let kvh = h / (P.NH / P.NKV);
  let qbase = ((b * P.T + t) * P.NH + h) * P.HD;
  let arow = ((b * P.NH + h) * P.T + t) * P.T;

  var local_dot = 0.0;
  for (var s = lid; s < P.T; s += WG) {
    var g = 0.0;
    if (s <= t) {
      let vbase = ((b * P.T + s) * P.NKV + kvh) * P.HD;
      for (var d = 0u; d < P.HD; d++) { g += dout[qbase + d] * v[vbase + d]; }
    }
    datt[arow + s] = g;
    local_dot += att[arow + s] * g;
  }
  let row_dot = workgroup_reduce(lid, local_dot, false);
  for (var s = lid; s < P.T; s += WG) {
    datt[arow + s] = att[arow + s] * (datt[arow + s] - row_dot);
  }
  storageBarrier();
  workgroupBarrier();

  for (var d = lid; d < P.HD; d += WG) {
    var acc = 0.0;
    for (var s = 0u; s <= t; s++) {
      acc += datt[arow + s] * k[((b * P.T + s) * P.NKV + kvh) * P.HD + d];
    }
    dq[qbase + d] = P.scale * acc;
  }
}

// dk, dv for one key element (b, s, kvh, d), summed over the query heads of its group and the
// queries t >= s that can see it. Runs after backward_rows.
@compute @workgroup_size(256)
fn backward_kv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid, 256u);
  if (idx >= P.B * P.T * P.NKV * P.HD) { return; }
  let d = idx % P.HD;
  let kvh = (idx / P.HD) % P.NKV;
  let s = (idx / (P.HD * P.NKV)) % P.T;
  let b = idx / (P.HD * P.NKV * P.T);
  let group = P.NH / P.NKV;
  var gk = 0.0;
  var gv = 0.0;
  for (var h = kvh * group; h < (kvh + 1u) * group; h++) {
    for (var t = s; t < P.T; t++) {
      let a = ((b * P.NH + h) * P.T + t) * P.T + s;
      let qi = ((b * P.T + t) * P.NH + h) * P.HD + d;
      gv += att[a] * dout[qi];
      gk += datt[a] * q[qi];
    }
  }
  dk[idx] = P.scale * gk;
  dv[idx] = gv;
}
