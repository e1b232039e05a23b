// Rotate-half rotary embedding in place (HF apply_rotary_pos_emb), forward and its transpose.
//   x (B, T, H, HD); table (2, positions, HD/2): cos then sin of pos * inv_freq[j], computed on
//   the host in f64 because GPU sin/cos lose accuracy on angles of hundreds of radians.
// Token (b, t) has position t + posOffset. One thread per rotated pair (b, t, h, j), j < HD/2.

struct Params { B: u32, T: u32, H: u32, HD: u32, posOffset: u32, positions: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;

fn rotate(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, sign: f32) {
  let half = P.HD / 2u;
  let idx = flat_index(wid, nwg, lid, 256u);
  if (idx >= P.B * P.T * P.H * half) { return; }
  let j = idx % half;
  let bth = idx / half; // (b, t, h) flat
  let t = (bth / P.H) % P.T;
  let pos = t + P.posOffset;
  let c = table[pos * half + j];
  let s = sign * table[(P.positions + pos) * half + j];
  let i1 = bth * P.HD + j;
  let i2 = i1 + half;
  let x1 = x[i1];
  let x2 = x[i2];
  x[i1] = x1 * c - x2 * s;
  x[i2] = x2 * c + x1 * s;
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  rotate(wid, nwg, lid, 1.0);
}

// The rotation is orthogonal, so the gradient rotates by the opposite angle.
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  rotate(wid, nwg, lid, -1.0);
}
