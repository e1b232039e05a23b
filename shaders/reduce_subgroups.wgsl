// Workgroup reductions with subgroup operations: prepended instead of reduce.wgsl (same functions,
// same contract) on a device with the `subgroups` feature. The including shader declares
//   const WG: u32            its workgroup size (a power of two)
//   var<workgroup> partial: array<f32, WG>
// Every invocation of the workgroup must call these in uniform control flow.
//
// Each subgroup reduces in registers, its first lane writes one partial, and every invocation
// adds the few partials up: 2 barriers instead of the tree's log2(WG) + 2. This takes subgroups
// to be runs of consecutive local indices, as on every driver we know; where one is not, the
// device's self-check (src/engine/gpu/self-check.ts) sees wrong sums and uses reduce.wgsl.

fn workgroup_reduce(lid: u32, x: f32, take_max: bool) -> f32 {
  let s = select(subgroupAdd(x), subgroupMax(x), take_max);
  let n = subgroupAdd(1u); // lanes in this subgroup
  if (lid % n == 0u) { partial[lid / n] = s; }
  workgroupBarrier();
  var total = partial[0];
  for (var i = 1u; i < (WG + n - 1u) / n; i++) {
    let other = partial[i];
    total = select(total + other, max(total, other), take_max);
  }
  workgroupBarrier();
  return total;
}

fn workgroup_sum(lid: u32, x: f32) -> f32 {
  return workgroup_reduce(lid, x, false);
}
