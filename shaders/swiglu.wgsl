// SwiGLU gate of the Qwen2 MLP: out = silu(gate) * up, silu(g) = g * sigmoid(g).
// out, dout, gate, up, dgate, dup (n) elementwise; the backward overwrites dgate and dup.
// forward_xa / backward_dxa run a workgroup per row of N rows of I and also make the LoRA factor
// of the neighbouring projections, as shaders/lora.wgsl does, so each saves that launch:
//   forward_xa:   xa (N, R) at x0 = dropout(out) @ aᵀ, the down projection's A (R, I) at a0
//                 (element e = row * I + c kept iff hash32(seed0, e) >= threshold, scaled by keepScale)
//   backward_dxa: dxa_p (N, R) at x_p = scale * d_p @ b_p, d_0 = dgate and d_1 = dup, the gate and
//                 up projections' B (I, R) at b_p

struct Params {
  n: u32, N: u32, I: u32, R: u32, nparts: u32, a0: u32, x0: u32, x1: u32, b0: u32, b1: u32,
  seed0: u32, threshold: u32, keepScale: f32, dropOn: u32, scale: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;
@group(0) @binding(6) var<storage, read> dout: array<f32>;
@group(0) @binding(7) var<storage, read> adapter: array<f32>;
@group(0) @binding(8) var<storage, read_write> xa: array<f32>;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;

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

@compute @workgroup_size(256)
fn forward_xa(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  let base = row * P.I;
  for (var c = lid; c < P.I; c += WG) { let g = gate[base + c]; out[base + c] = g * sigmoid(g) * up[base + c]; }
  // each invocation reads back only the out elements it wrote itself: no barrier needed
  for (var j = 0u; j < P.R; j++) {
    var s = 0.0;
    for (var c = lid; c < P.I; c += WG) {
      var v = out[base + c];
      if (P.dropOn != 0u) { v = select(0.0, v * P.keepScale, dropout_keep(P.seed0, base + c, P.threshold)); }
      s += v * adapter[P.a0 + j * P.I + c];
    }
    let t = workgroup_sum(lid, s);
    if (lid == 0u) { xa[P.x0 + row * P.R + j] = t; }
  }
}

@compute @workgroup_size(256)
fn backward_dxa(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  let base = row * P.I;
  for (var c = lid; c < P.I; c += WG) {
    let g = gate[base + c];
    let sig = sigmoid(g);
    let d = dout[base + c];
    dgate[base + c] = d * up[base + c] * sig * (1.0 + g * (1.0 - sig));
    dup[base + c] = d * g * sig;
  }
  for (var p = 0u; p < P.nparts; p++) {
    let bbase = select(P.b0, P.b1, p == 1u);
    for (var j = 0u; j < P.R; j++) {
      var s = 0.0;
      for (var c = lid; c < P.I; c += WG) {
        let d = select(dgate[base + c], dup[base + c], p == 1u);
        s += d * adapter[bbase + (c * P.R + j)];
      }
      let t = workgroup_sum(lid, s);
      if (lid == 0u) { xa[select(P.x0, P.x1, p == 1u) + row * P.R + j] = P.scale * t; }
    }
  }
}
