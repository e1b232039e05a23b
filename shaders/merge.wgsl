// Merged weight for export: out = w + scale * b @ a, one dispatch per weight chunk (rows r0 ..).
//   out (O, In) f32; wt (rows, stride) packed; a (R, In); b (O, R).

struct Params { O: u32, In: u32, R: u32, r0: u32, rows: u32, scale: f32, stride: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> wt: array<vec4<u32>>;

@compute @workgroup_size(256)
fn merge(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid, 256u);
  if (e >= P.rows * P.In) { return; }
  let j = e / P.In;
  let i = e % P.In;
  let o = P.r0 + j;
  var acc = 0.0;
  for (var r = 0u; r < P.R; r++) { acc += b[o * P.R + r] * a[r * P.In + i]; }
  out[o * P.In + i] = wload1(j * P.stride + i) + P.scale * acc;
}
