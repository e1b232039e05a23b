// SwiGLU gate of the Qwen2 MLP: out = silu(gate) * up, silu(g) = g * sigmoid(g).
// out, dout, gate, up, dgate, dup (n) elementwise; the backward overwrites dgate and dup.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;
@group(0) @binding(6) var<storage, read> dout: array<f32>;

fn sigmoid(g: f32) -> f32 {
  return 1.0 / (1.0 + exp(-g));
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= P.n) { return; }
  let g = gate[i];
  out[i] = g * sigmoid(g) * up[i];
}

// d silu(g) / dg = sig * (1 + g * (1 - sig))
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= P.n) { return; }
  let g = gate[i];
  let sig = sigmoid(g);
  let d = dout[i];
  dgate[i] = d * up[i] * sig * (1.0 + g * (1.0 - sig));
  dup[i] = d * g * sig;
}
