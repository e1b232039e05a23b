// Lane helpers of the kernels that have a subgroup path (cross-entropy row max/sum, attention
// backward's split dot products, LoRA x @ A), prepended to a shader that calls a lane_ function:
// this plain build, or lanes_subgroups.wgsl on a device with the `subgroups` feature (the same
// names). Here SUBGROUPS is false and lane_width() is 1, so each kernel takes its workgroup-memory
// path; the lane functions below are never reached on it and only keep that text compiling.

const SUBGROUPS: bool = false;

fn lane_width() -> u32 {
  return 1u;
}

fn lane_xor(x: vec2<f32>, mask: u32) -> vec2<f32> {
  return x;
}

fn lane_xor_add(x: f32, mask: u32) -> f32 {
  return x;
}
