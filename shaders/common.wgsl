// Prepended to every kernel. The hash must match hash32/dropoutThreshold in src/engine/ops.ts
// bit for bit, so that the CPU and GPU drop the same LoRA inputs for the same seed.

const NEG_BIG: f32 = -3.0e38; // stands for -inf: WGSL has no infinity literal

fn hash32(a: u32, b: u32) -> u32 {
  var h = ((a ^ 0x9e3779b9u) * 0x85ebca6bu) ^ ((b + 0x7f4a7c15u) * 0xc2b2ae35u);
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h;
}

// Element e of a dropout input survives iff its hash clears the threshold (threshold 0 keeps all).
fn dropout_keep(seed: u32, e: u32, threshold: u32) -> bool {
  return hash32(seed, e) >= threshold;
}

// 1-D kernels are launched on a 2-D grid because one dimension stops at 65535 workgroups.
fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, wg_size: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg_size + lid;
}

// Row-per-workgroup kernels use the same 2-D grid, one workgroup per row.
fn row_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.y * nwg.x + wid.x;
}
