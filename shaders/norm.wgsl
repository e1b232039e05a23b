// Global L2 norm of all LoRA gradients: a fixed grid of `parts` workgroups writes partial sums
// of squares, one workgroup adds them up, so the result does not depend on timing.
//   x (P); partials (parts); out (1).

struct Params { P: u32, parts: u32 }

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;


@compute @workgroup_size(256)
fn partial_sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = wid.x * WG + lid; i < U.P; i += U.parts * WG) { acc += x[i] * x[i]; }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) { partials[wid.x] = total; }
}

@compute @workgroup_size(256)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < U.parts; i += WG) { acc += partials[i]; }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) { out[0] = sqrt(total); }
}
