// Residual stream: x += y, and the element copy behind Ops.copy (a kernel rather than
// copyBufferToBuffer because source and destination may share one arena buffer).
//   x, y (n); dst, src at element offsets dstOffset, srcOffset, n elements.

struct Params { n: u32, dstOffset: u32, srcOffset: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
@group(0) @binding(4) var<storage, read> src: array<u32>;

@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= P.n) { return; }
  x[i] += y[i];
}

// u32 words, so f32 and i32 tensors copy bit for bit
@compute @workgroup_size(256)
fn copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= P.n) { return; }
  dst[P.dstOffset + i] = src[P.srcOffset + i];
}
