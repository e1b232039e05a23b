// RMSNorm (Qwen2RMSNorm): out = inp * rstd * weight, rstd = 1 / sqrt(mean(inp^2) + eps).
// out, dinp, dout, inp (N, C); weight (C); rstd (N). One workgroup per row.

struct Params { N: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(6) var<storage, read> dout: array<f32>;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;


@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  let base = row * P.C;
  var ss = 0.0;
  for (var c = lid; c < P.C; c += WG) { let x = inp[base + c]; ss += x * x; }
  let r = 1.0 / sqrt(workgroup_sum(lid, ss) / f32(P.C) + P.eps);
  for (var c = lid; c < P.C; c += WG) { out[base + c] = inp[base + c] * r * weight[c]; }
  if (lid == 0u) { rstd[row] = r; }
}

// dinp += rstd * w * dout - inp * rstd^3 / C * sum(dout * w * inp)
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  let base = row * P.C;
  let r = rstd[row];
  var dot = 0.0;
  for (var c = lid; c < P.C; c += WG) { dot += dout[base + c] * weight[c] * inp[base + c]; }
  let k = workgroup_sum(lid, dot) * r * r * r / f32(P.C);
  for (var c = lid; c < P.C; c += WG) {
    dinp[base + c] += r * weight[c] * dout[base + c] - inp[base + c] * k;
  }
}
