// torch.optim.AdamW (single-tensor path) after clip_grad_norm_: the clip factor is computed here
// from the norm on the device, so no read-back sits between backward and update.
//   param, grad, m, v (P); norm (1). stepSize = lr / (1 - beta1^step), bc2sqrt = sqrt(1 - beta2^step).

struct Params { P: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, stepSize: f32, bc2sqrt: f32, maxGradNorm: f32 }

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> norm: array<f32>;

@compute @workgroup_size(256)
fn step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= U.P) { return; }
  var clip = 1.0;
  if (U.maxGradNorm > 0.0) { clip = min(U.maxGradNorm / (norm[0] + 1e-6), 1.0); }
  let g = grad[i] * clip;
  let p = param[i] * (1.0 - U.lr * U.weightDecay);
  let mi = m[i] + (g - m[i]) * (1.0 - U.beta1); // torch lerp_(grad, 1 - beta1)
  let vi = v[i] * U.beta2 + (1.0 - U.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = p - U.stepSize * mi / (sqrt(vi) / U.bc2sqrt + U.eps);
}
