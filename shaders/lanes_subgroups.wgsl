// Lane helpers with subgroup operations: prepended instead of lanes.wgsl (same names) on a device
// with the `subgroups` feature. Like reduce_subgroups.wgsl this takes subgroups to be runs of
// consecutive local indices, aligned to their width; a driver where that is false gives wrong
// rows, which the device's self-check (src/engine/gpu/self-check.ts) sees before the first step
// and answers by using the plain build. The kernels call these where every lane of a subgroup is
// active (the WGSL uniformity analysis cannot see subgroup uniformity: pipelines.ts turns its
// subgroup_uniformity diagnostic off for these builds).

const SUBGROUPS: bool = true;

// lanes in this subgroup (a power of two, at least 4 in WebGPU)
fn lane_width() -> u32 {
  return subgroupAdd(1u);
}

// the value of the lane whose index differs from this one's in the bits of `mask`
fn lane_xor(x: vec2<f32>, mask: u32) -> vec2<f32> {
  return subgroupShuffleXor(x, mask);
}

// x plus the x of the lane whose index differs from this one's in the bits of `mask`
fn lane_xor_add(x: f32, mask: u32) -> f32 {
  return x + subgroupShuffleXor(x, mask);
}
