// Rotate-half RoPE of a layer's q and k in one launch (shaders/rope.wgsl does one tensor): the
// same rotation, table and positions, over q (B, T, HQ, HD) then k (B, T, HK, HD), so training
// launches one kernel per layer each way instead of two.
// One thread per rotated pair (b, t, head, j) of the HQ + HK heads, j < HD/2.

struct Params { B: u32, T: u32, HQ: u32, HK: u32, HD: u32, posOffset: u32, positions: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;

fn rotate_qk(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, sign: f32) {
  let half = P.HD / 2u;
  let heads = P.HQ + P.HK;
  let idx = flat_index(wid, nwg, lid, 256u);
  if (idx >= P.B * P.T * heads * half) { return; }
  let j = idx % half;
  let r = idx / half; // (b, t, head) flat over the HQ + HK heads
  let bt = r / heads;
  let h = r % heads;
  let pos = bt % P.T + P.posOffset;
  let c = table[pos * half + j];
  let s = sign * table[(P.positions + pos) * half + j];
  if (h < P.HQ) {
    let i1 = (bt * P.HQ + h) * P.HD + j;
    let x1 = q[i1];
    let x2 = q[i1 + half];
    q[i1] = x1 * c - x2 * s;
    q[i1 + half] = x2 * c + x1 * s;
  } else {
    let i1 = (bt * P.HK + h - P.HQ) * P.HD + j;
    let x1 = k[i1];
    let x2 = k[i1 + half];
    k[i1] = x1 * c - x2 * s;
    k[i1 + half] = x2 * c + x1 * s;
  }
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  rotate_qk(wid, nwg, lid, 1.0);
}

// The rotation is orthogonal, so the gradient rotates by the opposite angle.
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  rotate_qk(wid, nwg, lid, -1.0);
}
