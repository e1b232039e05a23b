// Workgroup reductions, prepended to the shaders that call them. The including shader declares
//   const WG: u32            its workgroup size (a power of two)
//   var<workgroup> partial: array<f32, WG>
// Every invocation of the workgroup must call these in uniform control flow.

fn workgroup_reduce(lid: u32, x: f32, take_max: bool) -> f32 {
  partial[lid] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let other = partial[lid + stride];
      partial[lid] = select(partial[lid] + other, max(partial[lid], other), take_max);
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

fn workgroup_sum(lid: u32, x: f32) -> f32 {
  return workgroup_reduce(lid, x, false);
}
