// Register-tiled matmul main loops, prepended to the shaders that call mm_nt / mm_nn.
// A workgroup of 16x16 threads computes a BM x BN output tile (BM = 16*TM, BN = 16*TN); each
// thread owns TM x TN outputs in 4-wide groups spread BM/2 (BN/2) apart, so the vec4 reads of
// the inner loop are consecutive across threads (no bank conflicts). K is staged BK deep through
// workgroup memory, stored transposed (k-major) so both operands are read as vec4 along the
// tile; the next slice is fetched into registers while the current one is multiplied.
//
//   mm_nt: C[m, c] = sum_k A[m, k] * B[c, k]   (x @ wᵀ: B is a weight stored by output rows)
//   mm_nn: C[m, c] = sum_k A[m, k] * B[k, c]   (dy @ w: B is a weight stored by input columns)
//
// The including shader defines the loads it uses, which see global indices and return 0 outside:
//   fn load_a_nt(m: u32, k: u32, k_end: u32) -> f32                    // A[m, k] for mm_nt
//   fn load_a_nn(m: u32, k: u32, k_end: u32) -> f32                    // A[m, k] for mm_nn
//   fn load_b8_nt(c: u32, k: u32, k_end: u32) -> array<vec4<f32>, 2>  // B[c, k .. k+8], k % 8 == 0
//   fn load_b8_nn(k: u32, c: u32, k_end: u32) -> array<vec4<f32>, 2>  // B[k, c .. c+8], c % 8 == 0
// A split of K ([k_begin, k_end)) starts and ends on multiples of BK, except the end at K.

alias tile_t = f32; // the shader-f16 path stores the tiles as f16 (half the workgroup memory)

// the defaults (64x64 tiles, 16 deep: 8 KiB of workgroup memory) fit every device; the host
// compiles the larger shapes as variants where the device allows them (src/engine/gpu/variants.ts)
override TM: u32 = 4u; // output rows per thread (4 or 8)
override TN: u32 = 4u; // output columns per thread (4 or 8)
override BK: u32 = 16u; // depth of one staged slice (16 or 32)
const WX: u32 = 16u;
const WY: u32 = 16u;
override BM: u32 = WY * TM;
override BN: u32 = WX * TN;

var<workgroup> tile_a: array<vec4<tile_t>, BK * BM / 4u>; // [k][m / 4]
var<workgroup> tile_b: array<vec4<tile_t>, BK * BN / 4u>; // [k][c / 4]

// the next slice, held in registers while the current one is multiplied
var<private> pre_a: array<vec4<f32>, 4>;
var<private> pre_b: array<vec4<f32>, 4>;

fn fetch_a_nt(m0: u32, k0: u32, k_end: u32, lid: u32) {
  for (var q = lid; q < BM * BK / 4u; q += 256u) {
    let j = q / 256u;
    let m = m0 + q % BM; // consecutive threads take consecutive rows: conflict-free stores
    let k = k0 + (q / BM) * 4u;
    pre_a[j] = vec4<f32>(load_a_nt(m, k, k_end), load_a_nt(m, k + 1u, k_end), load_a_nt(m, k + 2u, k_end), load_a_nt(m, k + 3u, k_end));
  }
}

fn fetch_a_nn(m0: u32, k0: u32, k_end: u32, lid: u32) {
  for (var q = lid; q < BM * BK / 4u; q += 256u) {
    let j = q / 256u;
    let m = m0 + q % BM; // consecutive threads take consecutive rows: conflict-free stores
    let k = k0 + (q / BM) * 4u;
    pre_a[j] = vec4<f32>(load_a_nn(m, k, k_end), load_a_nn(m, k + 1u, k_end), load_a_nn(m, k + 2u, k_end), load_a_nn(m, k + 3u, k_end));
  }
}

fn store_a(lid: u32) {
  for (var q = lid; q < BM * BK / 4u; q += 256u) {
    let j = q / 256u;
    let m = q % BM;
    let k = (q / BM) * 4u;
    for (var i = 0u; i < 4u; i++) { tile_a[(k + i) * (BM / 4u) + m / 4u][m % 4u] = tile_t(pre_a[j][i]); }
  }
}

fn fetch_b_nt(c0: u32, k0: u32, k_end: u32, lid: u32) {
  for (var q = lid; q < BN * BK / 8u; q += 256u) {
    let j = q / 256u;
    let w = load_b8_nt(c0 + q % BN, k0 + (q / BN) * 8u, k_end);
    pre_b[2u * j] = w[0];
    pre_b[2u * j + 1u] = w[1];
  }
}

fn store_b_nt(lid: u32) {
  for (var q = lid; q < BN * BK / 8u; q += 256u) {
    let j = q / 256u;
    let c = q % BN;
    let k = (q / BN) * 8u;
    for (var i = 0u; i < 8u; i++) { tile_b[(k + i) * (BN / 4u) + c / 4u][c % 4u] = tile_t(pre_b[2u * j + i / 4u][i % 4u]); }
  }
}

fn fetch_b_nn(c0: u32, k0: u32, k_end: u32, lid: u32) {
  for (var q = lid; q < BN * BK / 8u; q += 256u) {
    let j = q / 256u;
    let w = load_b8_nn(k0 + q / (BN / 8u), c0 + (q % (BN / 8u)) * 8u, k_end);
    pre_b[2u * j] = w[0];
    pre_b[2u * j + 1u] = w[1];
  }
}

fn store_b_nn(lid: u32) {
  for (var q = lid; q < BN * BK / 8u; q += 256u) {
    let j = q / 256u;
    let base = (q / (BN / 8u)) * (BN / 4u) + (q % (BN / 8u)) * 2u;
    tile_b[base] = vec4<tile_t>(pre_b[2u * j]);
    tile_b[base + 1u] = vec4<tile_t>(pre_b[2u * j + 1u]);
  }
}

// acc[(g * 4 + r) * (TN / 4) + h] holds row (g * BM/2 + ty * 4 + r), columns (h * BN/2 + tx * 4 .. +4)
fn mm_slice(tx: u32, ty: u32, acc: ptr<function, array<vec4<f32>, 16>>) {
  for (var k = 0u; k < BK; k++) {
    var b: array<vec4<f32>, 2>;
    for (var h = 0u; h < TN / 4u; h++) { b[h] = vec4<f32>(tile_b[k * (BN / 4u) + h * WX + tx]); }
    for (var g = 0u; g < TM / 4u; g++) {
      let a = vec4<f32>(tile_a[k * (BM / 4u) + g * WY + ty]);
      for (var r = 0u; r < 4u; r++) {
        for (var h = 0u; h < TN / 4u; h++) {
          let i = (g * 4u + r) * (TN / 4u) + h;
          (*acc)[i] = fma(vec4<f32>(a[r]), b[h], (*acc)[i]);
        }
      }
    }
  }
}

/** Row and column (within the tile) of accumulator i's first element. */
fn acc_row(i: u32, ty: u32) -> u32 {
  let g = i / (TN / 4u) / 4u;
  let r = (i / (TN / 4u)) % 4u;
  return g * (BM / 2u) + ty * 4u + r;
}

fn acc_col(i: u32, tx: u32) -> u32 {
  return (i % (TN / 4u)) * (BN / 2u) + tx * 4u;
}

fn mm_nt(m0: u32, c0: u32, k_begin: u32, k_end: u32, tx: u32, ty: u32, lid: u32) -> array<vec4<f32>, 16> {
  var acc: array<vec4<f32>, 16>;
  if (k_begin >= k_end) { return acc; }
  fetch_a_nt(m0, k_begin, k_end, lid);
  fetch_b_nt(c0, k_begin, k_end, lid);
  store_a(lid);
  store_b_nt(lid);
  workgroupBarrier();
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    let next = k0 + BK;
    if (next < k_end) {
      fetch_a_nt(m0, next, k_end, lid);
      fetch_b_nt(c0, next, k_end, lid);
    }
    mm_slice(tx, ty, &acc);
    workgroupBarrier();
    if (next < k_end) {
      store_a(lid);
      store_b_nt(lid);
      workgroupBarrier();
    }
  }
  return acc;
}

fn mm_nn(m0: u32, c0: u32, k_begin: u32, k_end: u32, tx: u32, ty: u32, lid: u32) -> array<vec4<f32>, 16> {
  var acc: array<vec4<f32>, 16>;
  if (k_begin >= k_end) { return acc; }
  fetch_a_nn(m0, k_begin, k_end, lid);
  fetch_b_nn(c0, k_begin, k_end, lid);
  store_a(lid);
  store_b_nn(lid);
  workgroupBarrier();
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    let next = k0 + BK;
    if (next < k_end) {
      fetch_a_nn(m0, next, k_end, lid);
      fetch_b_nn(c0, next, k_end, lid);
    }
    mm_slice(tx, ty, &acc);
    workgroupBarrier();
    if (next < k_end) {
      store_a(lid);
      store_b_nn(lid);
      workgroupBarrier();
    }
  }
  return acc;
}
