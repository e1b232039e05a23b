// Token embedding lookup, one weight chunk (rows r0 .. r0+rows of wte) per dispatch.
// out (N, C) f32; ids (N) i32; wt (rows, stride) packed weight chunk.
// No backward: the embedding is frozen.

struct Params { N: u32, C: u32, r0: u32, rows: u32, stride: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read> wt: array<vec4<u32>>;

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid, 256u);
  if (idx >= P.N * P.C) { return; }
  let n = idx / P.C;
  let c = idx % P.C;
  let row = ids[n] - i32(P.r0);
  if (row >= 0 && row < i32(P.rows)) {
    out[idx] = wload1(u32(row) * P.stride + c);
  }
}
