// Frozen base weights stay in their stored precision: 16-bit values packed two per u32
// (element 2k in the low half), or plain f32 bits, or NF4 blocks (QLoRA; the layout is stated
// in src/core/nf4.ts: 9 words per 64 values, 8 of 4-bit codes, low nibble first, then the
// block's absmax as f32 bits). The pipeline is specialised through the WDTYPE override, so
// the same shader runs with or without the shader-f16 feature.
// Each including shader declares `wt: array<u32>` (one weight chunk of whole rows; an NF4 chunk
// starts on a block, so chunk-local element i is in block i / 64 of the chunk).

override WDTYPE: u32 = 0u; // 0 bf16, 1 f16, 2 f32, 3 nf4

// The NF4 code book by its f32 bits, so the values are exactly src/core/nf4.ts NF4_CODES.
var<private> NF4_CODES: array<f32, 16> = array<f32, 16>(
  bitcast<f32>(0xbf800000u), bitcast<f32>(0xbf3239b1u), bitcast<f32>(0xbf066b30u), bitcast<f32>(0xbeca32a0u),
  bitcast<f32>(0xbe91a24du), bitcast<f32>(0xbe3d353fu), bitcast<f32>(0xbdba7871u), bitcast<f32>(0x00000000u),
  bitcast<f32>(0x3da2faffu), bitcast<f32>(0x3e24cae3u), bitcast<f32>(0x3e7c04ddu), bitcast<f32>(0x3ead033au),
  bitcast<f32>(0x3ee1a4b8u), bitcast<f32>(0x3f1007abu), bitcast<f32>(0x3f3913b3u), bitcast<f32>(0x3f800000u));

fn wload(i: u32) -> f32 {
  if (WDTYPE == 3u) {
    // code * absmax: one f32 multiplication, the reference's dequantized value bit for bit
    let blk = (i >> 6u) * 9u;
    let q = (wt[blk + ((i & 63u) >> 3u)] >> ((i & 7u) * 4u)) & 15u;
    return NF4_CODES[q] * bitcast<f32>(wt[blk + 8u]);
  }
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
