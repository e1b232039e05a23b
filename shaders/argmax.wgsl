// Greedy decoding's pick on the GPU, so a decoded token reads back 8 bytes per row instead of
// its (V) logits: per row the arg max (the first index on ties, as sampling.ts) and the margin,
// top-1 minus the largest other logit (0 when the maximum repeats).
//   logits (B, V); out (B, 2): the index (as f32: exact below 2^24) and the margin.
// One workgroup per row; each thread scans a strided slice, then a tree merges (best, index, second).

struct Params { B: u32, V: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WGA: u32 = 256u;
var<workgroup> best_v: array<f32, 256>;
var<workgroup> best_i: array<u32, 256>;
var<workgroup> second_v: array<f32, 256>;

// a beats b: larger, or equal with the smaller index
fn beats(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  return va > vb || (va == vb && ia < ib);
}

@compute @workgroup_size(256)
fn rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.B) { return; } // whole workgroups leave together: no barrier is split
  var bv = NEG_BIG;
  var bi = 0xffffffffu;
  var sv = NEG_BIG;
  for (var i = lid; i < P.V; i += WGA) {
    let x = logits[row * P.V + i];
    if (beats(x, i, bv, bi)) {
      sv = max(sv, bv);
      bv = x;
      bi = i;
    } else {
      sv = max(sv, x);
    }
  }
  best_v[lid] = bv;
  best_i[lid] = bi;
  second_v[lid] = sv;
  workgroupBarrier();
  for (var stride = WGA / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let ov = best_v[lid + stride];
      let oi = best_i[lid + stride];
      let os = second_v[lid + stride];
      if (beats(ov, oi, best_v[lid], best_i[lid])) {
        second_v[lid] = max(os, best_v[lid]);
        best_v[lid] = ov;
        best_i[lid] = oi;
      } else {
        second_v[lid] = max(second_v[lid], ov);
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[row * 2u] = f32(best_i[0]);
    out[row * 2u + 1u] = best_v[0] - second_v[0];
  }
}
