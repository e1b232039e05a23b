// Frozen base weights stay in their stored precision: 16-bit values packed two per u32
// (element 2k in the low half), or plain f32 bits, or NF4 blocks (QLoRA; the layout is stated
// in src/core/nf4.ts: 9 words per 64 values, 8 of 4-bit codes, low nibble first, then the
// block's absmax as f32 bits). 16-bit and f32 rows start on a multiple of 8 elements (rows are
// padded with zeros to `stride`), so eight values are one 16-byte load. NF4 blocks run across
// rows unpadded (stride = cols; a chunk starts on a block): eight values starting on a multiple
// of 8 are one code word and the block's absmax. The pipeline is specialised through the WDTYPE
// override, so the same shader runs with or without the shader-f16 feature. Each including
// shader declares `wt: array<vec4<u32>>` (one weight chunk of whole rows).

override WDTYPE: u32 = 0u; // 0 bf16, 1 f16, 2 f32, 3 nf4

// The NF4 code book by its f32 bits, so the values are exactly src/core/nf4.ts NF4_CODES.
var<private> NF4_CODES: array<f32, 16> = array<f32, 16>(
  bitcast<f32>(0xbf800000u), bitcast<f32>(0xbf3239b1u), bitcast<f32>(0xbf066b30u), bitcast<f32>(0xbeca32a0u),
  bitcast<f32>(0xbe91a24du), bitcast<f32>(0xbe3d353fu), bitcast<f32>(0xbdba7871u), bitcast<f32>(0x00000000u),
  bitcast<f32>(0x3da2faffu), bitcast<f32>(0x3e24cae3u), bitcast<f32>(0x3e7c04ddu), bitcast<f32>(0x3ead033au),
  bitcast<f32>(0x3ee1a4b8u), bitcast<f32>(0x3f1007abu), bitcast<f32>(0x3f3913b3u), bitcast<f32>(0x3f800000u));

// word w of the chunk
fn wword(w: u32) -> u32 {
  return wt[w >> 2u][w & 3u];
}

// NF4 element e: code * absmax, one f32 multiplication, the reference's dequantized value bit for
// bit. A load past the binding (the tile overhang of a chunk's last row, whose products are
// multiplied by zero or dropped) gives 0, never a code word read as an absmax.
fn nf4_1(e: u32) -> f32 {
  let blk = (e >> 6u) * 9u;
  if (blk + 8u >= arrayLength(&wt) * 4u) { return 0.0; }
  let q = (wword(blk + ((e & 63u) >> 3u)) >> ((e & 7u) * 4u)) & 15u;
  return NF4_CODES[q] * bitcast<f32>(wword(blk + 8u));
}

// NF4 elements e .. e+8: one code word when e % 8 == 0 (rows of a multiple of 8), else one by one
fn nf4_8(e: u32) -> array<vec4<f32>, 2> {
  if ((e & 7u) != 0u) {
    return array<vec4<f32>, 2>(vec4<f32>(nf4_1(e), nf4_1(e + 1u), nf4_1(e + 2u), nf4_1(e + 3u)),
                               vec4<f32>(nf4_1(e + 4u), nf4_1(e + 5u), nf4_1(e + 6u), nf4_1(e + 7u)));
  }
  let blk = (e >> 6u) * 9u;
  if (blk + 8u >= arrayLength(&wt) * 4u) { return array<vec4<f32>, 2>(); }
  let w = wword(blk + ((e & 63u) >> 3u));
  let s = bitcast<f32>(wword(blk + 8u));
  return array<vec4<f32>, 2>(
    vec4<f32>(NF4_CODES[w & 15u], NF4_CODES[(w >> 4u) & 15u], NF4_CODES[(w >> 8u) & 15u], NF4_CODES[(w >> 12u) & 15u]) * s,
    vec4<f32>(NF4_CODES[(w >> 16u) & 15u], NF4_CODES[(w >> 20u) & 15u], NF4_CODES[(w >> 24u) & 15u], NF4_CODES[w >> 28u]) * s);
}

fn bf16x2(w: u32) -> vec2<f32> {
  // bf16 is the top half of an f32
  return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));
}

fn half2(w: u32) -> vec2<f32> {
  if (WDTYPE == 1u) { return unpack2x16float(w); }
  return bf16x2(w);
}

// elements e .. e+8 (e % 8 == 0 for 16-bit and f32 rows)
fn wload8(e: u32) -> array<vec4<f32>, 2> {
  if (WDTYPE == 3u) { return nf4_8(e); }
  if (WDTYPE == 2u) {
    let q = e / 4u;
    return array<vec4<f32>, 2>(bitcast<vec4<f32>>(wt[q]), bitcast<vec4<f32>>(wt[q + 1u]));
  }
  let w = wt[e / 8u];
  return array<vec4<f32>, 2>(vec4<f32>(half2(w.x), half2(w.y)), vec4<f32>(half2(w.z), half2(w.w)));
}

// element e
fn wload1(e: u32) -> f32 {
  if (WDTYPE == 3u) { return nf4_1(e); }
  if (WDTYPE == 2u) { return bitcast<f32>(wt[e / 4u][e % 4u]); }
  return half2(wt[e / 8u][(e / 2u) % 4u])[e % 2u];
}
