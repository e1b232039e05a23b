// Row gather and scatter-add by an index list (label positions for the LM head).
//   gather: out (M, C) = inp (N, C)[idx]; scatter: dinp (N, C)[idx] += dout (M, C); idx (M) i32, distinct.

struct Params { M: u32, C: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;
@group(0) @binding(4) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;

@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.M * P.C) { return; }
  let m = e / P.C;
  let c = e % P.C;
  out[e] = inp[u32(idx[m]) * P.C + c];
}

// idx entries are distinct, so no two threads add into the same element
@compute @workgroup_size(256)
fn scatter_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.M * P.C) { return; }
  let m = e / P.C;
  let c = e % P.C;
  dinp[u32(idx[m]) * P.C + c] += dout[e];
}
