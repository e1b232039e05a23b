// Frozen base weights stay in their stored precision: 16-bit values packed two per u32
// (element 2k in the low half), or plain f32 bits. The pipeline is specialised through the
// WDTYPE override, so the same shader runs with or without the shader-f16 feature.
// Each including shader declares `wt: array<u32>` (one weight chunk of whole rows).

override WDTYPE: u32 = 0u; // 0 bf16, 1 f16, 2 f32

fn wload(i: u32) -> f32 {
  if (WDTYPE == 2u) {
    return bitcast<f32>(wt[i]);
  }
  let word = wt[i >> 1u];
  if (WDTYPE == 1u) {
    return unpack2x16float(word)[i & 1u];
  }
  // bf16 is the top half of an f32
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));
}
