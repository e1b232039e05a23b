// WebAssembly SIMD kernels of the fast CPU backend (built by scripts/wasm/build.sh into
// kernels.wasm.ts). One generic blocked GEMM serves every matmul of a LoRA step, plus
// dropout masks, attention, the cross-entropy softmax, SwiGLU and RMSNorm. The caller and
// each pool worker run the same job block, claiming units of it (see JobHeader).
// With RELAXED the multiply-adds are relaxed_madd: fused where the CPU has FMA, so results
// may differ from the plain build in the last bit, never by more than f32 rounding.
//
// Rules that keep the module safe to instantiate once per thread over one shared memory:
// no static data (no data segments to re-copy), no stack arrays (no shadow stack use): all
// scratch comes from the job block's per-thread scratch pointer.

#include <stdint.h>
#include <wasm_simd128.h>

typedef uint32_t u32;
typedef uint16_t u16;

#ifdef RELAXED
#define MADD(a, b, c) wasm_f32x4_relaxed_madd((a), (b), (c))
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#endif

// Micro-tile: MR rows of C by NR = 8 columns (two f32x4), accumulated over a K block.
#define MR 4
#define NR 8
// K block and column block of the packed B panel: KC*JB*4 bytes = 64 KiB, sized for L2;
// one NR-wide panel (KC*NR*4 = 8 KiB) stays in L1 while MR rows of A stream past it.
// A column block is also the unit threads claim when they split the columns.
#define KC 256
#define JB 64
// rows per claimed unit when threads split the rows (a multiple of MR)
#define MB 32
// elements per claimed unit of the elementwise jobs (a multiple of 4)
#define EB 4096

enum { JOB_GEMM = 1, JOB_DROPOUT = 2, JOB_MASKED_ADD = 3, JOB_ATTN_FWD = 4, JOB_ATTN_BWD = 5, JOB_SOFTMAX_CHUNK = 6,
       JOB_SWIGLU_FWD = 7, JOB_SWIGLU_BWD = 8, JOB_RMSNORM_FWD = 9, JOB_RMSNORM_BWD = 10 };
enum { DT_F32 = 0, DT_BF16 = 1, DT_F16 = 2, DT_NF4 = 3 };
enum { SPLIT_J = 0, SPLIT_M = 1 };

// Every job starts with this header. Threads claim units of work (column blocks, row
// blocks, heads, element ranges) from the shared `next` counter, so a thread the OS
// descheduled on a busy machine does not hold the others up: who computes a unit never
// changes its result, only who finishes first.
typedef struct {
  int kind;
  int nthreads;
  u32 scratch;       // byte address of thread 0's pack scratch
  int scratchStride; // bytes between threads' scratch
  int next;          // next unclaimed unit, zeroed by the caller
} JobHeader;

// Without the atomics feature (the single-thread build) LLVM lowers this to a plain add.
static inline int claim(JobHeader *h) { return __atomic_fetch_add(&h->next, 1, __ATOMIC_RELAXED); }

// C[m, j] = (accumulate ? C[m, j] : bias[j]) + alpha * sum_k A(m, k) * B(k, j)
// A(m, k) = A[m*sAm + k*sAk] (f32), B(k, j) = B[k*sBk + j*sBj] (f32, bf16, f16, or NF4 in the packed
// layout of src/core/nf4.ts, dequantized while packing), C row stride ldc.
typedef struct {
  JobHeader h;
  int M, J, K;
  u32 A;
  int sAm, sAk;
  u32 B;
  int bdtype, sBk, sBj;
  u32 C;
  int ldc;
  float alpha;
  int accumulate;
  u32 bias; // 0: none
  int split;
} GemmJob;

// dst[e] = src[e] * (hash32(seed, e0 + e) >= threshold ? keep : 0), or dst[e] += ... for the masked add.
typedef struct {
  JobHeader h;
  u32 dst, src;
  int n;
  u32 seed, e0, threshold;
  float keep;
} DropoutJob;

// Causal GQA attention, as CpuOps.attentionForward / attentionBackward (shapes in ops.ts).
typedef struct {
  JobHeader h;
  u32 out, att, q, k, v, mask;
  int B, T, S, SMAX, NH, NKV, HD;
} AttnFwdJob;

typedef struct {
  JobHeader h;
  u32 dq, dk, dv, datt, dout, q, k, v, att;
  int B, T, NH, NKV, HD;
} AttnBwdJob;

// One vocabulary chunk of the online softmax in the cross-entropy: per row m, the running
// max and sum absorb logits L[m, 0:nv], L becomes exp(L - max), and the accumulated
// gradient row dh[m, 0:C] is rescaled when the max moved.
typedef struct {
  JobHeader h;
  u32 L;
  int ldl, nv, M;
  u32 rowMax, rowSum, dh;
  int C;
} SoftmaxChunkJob;

// out = silu(gate) * up, and its backward (CpuOps.swigluForward / swigluBackward)
typedef struct {
  JobHeader h;
  u32 out, gate, up;
  int n;
  u32 dgate, dup; // backward: out is dout
} SwigluJob;

// CpuOps.rmsnormForward (out, rstd from inp) and rmsnormBackward (dinp += from dout)
typedef struct {
  JobHeader h;
  u32 out, rstd, inp, weight;
  int N, C;
  float eps;
  u32 dout; // backward: out is dinp
} RmsnormJob;

// rows per claimed unit of the row-wise jobs
#define RB 8

// ---- 16-bit widening

static inline float bf16_to_f32(u16 h) { return __builtin_bit_cast(float, (u32)h << 16); }

static inline float f16_to_f32(u16 h) {
  u32 sign = (u32)(h & 0x8000) << 16;
  u32 em = h & 0x7fff;
  u32 bits;
  if (em >= 0x7c00) bits = 0x7f800000 | ((em & 0x3ff) << 13); // inf, nan
  else if (em >= 0x0400) bits = (em << 13) + ((127 - 15) << 23);
  else {
    float v = (float)em * 5.9604644775390625e-8f; // subnormal: em * 2^-24 exactly
    return sign ? -v : v;
  }
  return __builtin_bit_cast(float, sign | bits);
}

// ---- NF4 (layout in src/core/nf4.ts): 9 u32 per block of 64 elements, 8 words of codes (element
// e of the block in bits 4*(e&7) of word e>>3) then the block's absmax as f32 bits. The value is
// code * absmax in f32, bit for bit the reference's. The code book is looked up with byte
// swizzles over its four byte planes (no table in memory: the module has no data segment).

// byte q of lane l holds the code index of lane l, plus 16*(q - p) for plane p: only the plane
// whose bytes are wanted sees an index below 16, the others read 0 (swizzle's out-of-range rule)
static inline v128_t nf4_lookup(v128_t rep) {
  const v128_t P0 = wasm_u8x16_const(0x00, 0xb1, 0x30, 0xa0, 0x4d, 0x3f, 0x71, 0x00, 0xff, 0xe3, 0xdd, 0x3a, 0xb8, 0xab, 0xb3, 0x00);
  const v128_t P1 = wasm_u8x16_const(0x00, 0x39, 0x6b, 0x32, 0xa2, 0x35, 0x78, 0x00, 0xfa, 0xca, 0x04, 0x03, 0xa4, 0x07, 0x13, 0x00);
  const v128_t P2 = wasm_u8x16_const(0x80, 0x32, 0x06, 0xca, 0x91, 0x3d, 0xba, 0x00, 0xa2, 0x24, 0x7c, 0xad, 0xe1, 0x10, 0x39, 0x80);
  const v128_t P3 = wasm_u8x16_const(0xbf, 0xbf, 0xbf, 0xbe, 0xbe, 0xbe, 0xbd, 0x00, 0x3d, 0x3e, 0x3e, 0x3e, 0x3e, 0x3f, 0x3f, 0x3f);
  const v128_t O0 = wasm_i8x16_const(0, 16, 32, 48, 0, 16, 32, 48, 0, 16, 32, 48, 0, 16, 32, 48);
  const v128_t O1 = wasm_i8x16_const(-16, 0, 16, 32, -16, 0, 16, 32, -16, 0, 16, 32, -16, 0, 16, 32);
  const v128_t O2 = wasm_i8x16_const(-32, -16, 0, 16, -32, -16, 0, 16, -32, -16, 0, 16, -32, -16, 0, 16);
  const v128_t O3 = wasm_i8x16_const(-48, -32, -16, 0, -48, -32, -16, 0, -48, -32, -16, 0, -48, -32, -16, 0);
  v128_t b01 = wasm_v128_or(wasm_i8x16_swizzle(P0, wasm_i8x16_add(rep, O0)), wasm_i8x16_swizzle(P1, wasm_i8x16_add(rep, O1)));
  v128_t b23 = wasm_v128_or(wasm_i8x16_swizzle(P2, wasm_i8x16_add(rep, O2)), wasm_i8x16_swizzle(P3, wasm_i8x16_add(rep, O3)));
  return wasm_v128_or(b01, b23);
}

static inline const u32 *nf4_block(u32 B, long idx) { return (const u32 *)B + 9 * (idx >> 6); }

static inline float nf4_absmax(const u32 *blk) { return __builtin_bit_cast(float, blk[8]); }

static inline float nf4_load1(u32 B, long idx) {
  const u32 *blk = nf4_block(B, idx);
  int q = (blk[(idx & 63) >> 3] >> (4 * (idx & 7))) & 15;
  return wasm_f32x4_extract_lane(nf4_lookup(wasm_i8x16_splat((signed char)q)), 0) * nf4_absmax(blk);
}

// elements idx .. idx+3, idx a multiple of 4 (so one half of one code word)
static inline v128_t nf4_load4(u32 B, long idx) {
  const u32 *blk = nf4_block(B, idx);
  v128_t w = wasm_i32x4_splat((int)(blk[(idx & 63) >> 3] >> (4 * (idx & 7))));
  v128_t lo = wasm_v128_and(w, wasm_i8x16_const_splat(0x0f)), hi = wasm_u8x16_shr(w, 4);
  v128_t rep = wasm_i8x16_shuffle(lo, hi, 0, 0, 0, 0, 16, 16, 16, 16, 1, 1, 1, 1, 17, 17, 17, 17);
  return wasm_f32x4_mul(nf4_lookup(rep), wasm_f32x4_splat(nf4_absmax(blk)));
}

// elements idx .. idx+7, idx a multiple of 8 (one code word)
static inline void nf4_load8(u32 B, long idx, v128_t *lo8, v128_t *hi8) {
  const u32 *blk = nf4_block(B, idx);
  v128_t w = wasm_i32x4_splat((int)blk[(idx & 63) >> 3]);
  v128_t lo = wasm_v128_and(w, wasm_i8x16_const_splat(0x0f)), hi = wasm_u8x16_shr(w, 4);
  v128_t absmax = wasm_f32x4_splat(nf4_absmax(blk));
  *lo8 = wasm_f32x4_mul(nf4_lookup(wasm_i8x16_shuffle(lo, hi, 0, 0, 0, 0, 16, 16, 16, 16, 1, 1, 1, 1, 17, 17, 17, 17)), absmax);
  *hi8 = wasm_f32x4_mul(nf4_lookup(wasm_i8x16_shuffle(lo, hi, 2, 2, 2, 2, 18, 18, 18, 18, 3, 3, 3, 3, 19, 19, 19, 19)), absmax);
}

static inline float load_b(u32 B, int dtype, long idx) {
  if (dtype == DT_F32) return ((const float *)B)[idx];
  if (dtype == DT_NF4) return nf4_load1(B, idx);
  u16 h = ((const u16 *)B)[idx];
  return dtype == DT_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

static inline void widen_bf16x8(v128_t h, v128_t *lo, v128_t *hi) {
  v128_t z = wasm_i32x4_const_splat(0);
  *lo = wasm_i16x8_shuffle(z, h, 0, 8, 0, 9, 0, 10, 0, 11);
  *hi = wasm_i16x8_shuffle(z, h, 0, 12, 0, 13, 0, 14, 0, 15);
}

// f16 -> f32 on four lanes holding the 16-bit pattern in their low half.
static inline v128_t widen_f16x4(v128_t h) {
  v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_const_splat(0x8000)), 16);
  v128_t em = wasm_v128_and(h, wasm_i32x4_const_splat(0x7fff));
  v128_t normal = wasm_i32x4_add(wasm_i32x4_shl(em, 13), wasm_i32x4_const_splat((127 - 15) << 23));
  v128_t special = wasm_v128_or(wasm_i32x4_const_splat(0x7f800000), wasm_i32x4_shl(wasm_v128_and(em, wasm_i32x4_const_splat(0x3ff)), 13));
  // subnormals: em * 2^-24 exactly (em < 1024 converts exactly)
  v128_t sub = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(em), wasm_f32x4_const_splat(5.9604644775390625e-8f));
  v128_t isSpecial = wasm_i32x4_ge(em, wasm_i32x4_const_splat(0x7c00));
  v128_t isSub = wasm_i32x4_lt(em, wasm_i32x4_const_splat(0x0400));
  v128_t bits = wasm_v128_bitselect(special, normal, isSpecial);
  bits = wasm_v128_bitselect(sub, bits, isSub);
  return wasm_v128_or(bits, sign);
}

static inline void widen_f16x8(v128_t h, v128_t *lo, v128_t *hi) {
  *lo = widen_f16x4(wasm_u32x4_extend_low_u16x8(h));
  *hi = widen_f16x4(wasm_u32x4_extend_high_u16x8(h));
}

static inline float hsum(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

static inline v128_t load4(u32 B, int dtype, long idx);

static inline void load8(u32 B, int dtype, long idx, v128_t *lo, v128_t *hi) {
  if (dtype == DT_NF4) {
    if (idx & 7) {
      *lo = load4(B, dtype, idx);
      *hi = load4(B, dtype, idx + 4);
    } else nf4_load8(B, idx, lo, hi);
  } else if (dtype == DT_F32) {
    const float *p = (const float *)B + idx;
    *lo = wasm_v128_load(p);
    *hi = wasm_v128_load(p + 4);
  } else {
    v128_t h = wasm_v128_load((const u16 *)B + idx);
    if (dtype == DT_BF16) widen_bf16x8(h, lo, hi);
    else widen_f16x8(h, lo, hi);
  }
}

// four consecutive B values along k as f32x4
static inline v128_t load4(u32 B, int dtype, long idx) {
  if (dtype == DT_F32) return wasm_v128_load((const float *)B + idx);
  if (dtype == DT_NF4) {
    if (!(idx & 3)) return nf4_load4(B, idx);
    return wasm_f32x4_make(nf4_load1(B, idx), nf4_load1(B, idx + 1), nf4_load1(B, idx + 2), nf4_load1(B, idx + 3));
  }
  v128_t h = wasm_u32x4_load16x4((const u16 *)B + idx);
  if (dtype == DT_BF16) return wasm_i32x4_shl(h, 16);
  return widen_f16x4(h);
}

static inline void transpose4(v128_t *a, v128_t *b, v128_t *c, v128_t *d) {
  v128_t t0 = wasm_i32x4_shuffle(*a, *b, 0, 4, 1, 5);
  v128_t t1 = wasm_i32x4_shuffle(*a, *b, 2, 6, 3, 7);
  v128_t t2 = wasm_i32x4_shuffle(*c, *d, 0, 4, 1, 5);
  v128_t t3 = wasm_i32x4_shuffle(*c, *d, 2, 6, 3, 7);
  *a = wasm_i64x2_shuffle(t0, t2, 0, 2);
  *b = wasm_i64x2_shuffle(t0, t2, 1, 3);
  *c = wasm_i64x2_shuffle(t1, t3, 0, 2);
  *d = wasm_i64x2_shuffle(t1, t3, 1, 3);
}

// ---- packing: B[k0:k0+kc, j0:j0+jn] -> NR-wide panels, panel p at dst + p*kc*NR, zero padded
static void pack_b(float *dst, const GemmJob *g, int k0, int kc, int j0, int jn) {
  for (int p = 0; p * NR < jn; p++) {
    float *d = dst + (long)p * kc * NR;
    int jp = j0 + p * NR, nj = jn - p * NR < NR ? jn - p * NR : NR;
    if (nj == NR && g->sBj == 1) {
      // rows of B along j are contiguous: widen eight at a time
      for (int k = 0; k < kc; k++) {
        v128_t lo, hi;
        load8(g->B, g->bdtype, (long)(k0 + k) * g->sBk + jp, &lo, &hi);
        wasm_v128_store(d + k * NR, lo);
        wasm_v128_store(d + k * NR + 4, hi);
      }
    } else if (nj == NR && g->sBk == 1) {
      // columns of B are contiguous along k (a weight row): 4x4 transposes
      int k = 0;
      for (; k + 4 <= kc; k += 4) {
        long base = (long)(k0 + k) + (long)jp * g->sBj;
        v128_t r0 = load4(g->B, g->bdtype, base), r1 = load4(g->B, g->bdtype, base + g->sBj);
        v128_t r2 = load4(g->B, g->bdtype, base + 2L * g->sBj), r3 = load4(g->B, g->bdtype, base + 3L * g->sBj);
        v128_t r4 = load4(g->B, g->bdtype, base + 4L * g->sBj), r5 = load4(g->B, g->bdtype, base + 5L * g->sBj);
        v128_t r6 = load4(g->B, g->bdtype, base + 6L * g->sBj), r7 = load4(g->B, g->bdtype, base + 7L * g->sBj);
        transpose4(&r0, &r1, &r2, &r3);
        transpose4(&r4, &r5, &r6, &r7);
        wasm_v128_store(d + (k + 0) * NR, r0);
        wasm_v128_store(d + (k + 0) * NR + 4, r4);
        wasm_v128_store(d + (k + 1) * NR, r1);
        wasm_v128_store(d + (k + 1) * NR + 4, r5);
        wasm_v128_store(d + (k + 2) * NR, r2);
        wasm_v128_store(d + (k + 2) * NR + 4, r6);
        wasm_v128_store(d + (k + 3) * NR, r3);
        wasm_v128_store(d + (k + 3) * NR + 4, r7);
      }
      for (; k < kc; k++)
        for (int j = 0; j < NR; j++) d[k * NR + j] = load_b(g->B, g->bdtype, (long)(k0 + k) * g->sBk + (long)(jp + j) * g->sBj);
    } else {
      for (int k = 0; k < kc; k++)
        for (int j = 0; j < NR; j++)
          d[k * NR + j] = j < nj ? load_b(g->B, g->bdtype, (long)(k0 + k) * g->sBk + (long)(jp + j) * g->sBj) : 0.f;
    }
  }
}

// ---- micro-kernels over one packed panel (kc, NR)

static inline void store_row(float *c, v128_t lo, v128_t hi, int nj, int first, const GemmJob *g, int j) {
  // first K block of a non-accumulating call: C = bias + alpha*acc; later: C += alpha*acc
  v128_t alpha = wasm_f32x4_splat(g->alpha);
  lo = wasm_f32x4_mul(lo, alpha);
  hi = wasm_f32x4_mul(hi, alpha);
  if (nj == NR) {
    v128_t c0, c1;
    if (first && !g->accumulate) {
      if (g->bias) {
        c0 = wasm_v128_load((const float *)g->bias + j);
        c1 = wasm_v128_load((const float *)g->bias + j + 4);
      } else {
        c0 = c1 = wasm_f32x4_const_splat(0.f);
      }
    } else {
      c0 = wasm_v128_load(c);
      c1 = wasm_v128_load(c + 4);
    }
    wasm_v128_store(c, wasm_f32x4_add(c0, lo));
    wasm_v128_store(c + 4, wasm_f32x4_add(c1, hi));
    return;
  }
  for (int x = 0; x < nj; x++) {
    float v;
    switch (x) {
      case 0: v = wasm_f32x4_extract_lane(lo, 0); break;
      case 1: v = wasm_f32x4_extract_lane(lo, 1); break;
      case 2: v = wasm_f32x4_extract_lane(lo, 2); break;
      case 3: v = wasm_f32x4_extract_lane(lo, 3); break;
      case 4: v = wasm_f32x4_extract_lane(hi, 0); break;
      case 5: v = wasm_f32x4_extract_lane(hi, 1); break;
      case 6: v = wasm_f32x4_extract_lane(hi, 2); break;
      default: v = wasm_f32x4_extract_lane(hi, 3); break;
    }
    float base = first && !g->accumulate ? (g->bias ? ((const float *)g->bias)[j + x] : 0.f) : c[x];
    c[x] = base + v;
  }
}

static void kernel_4x8(const float *a, int sAm, int sAk, const float *b, int kc, float *c, int ldc, int nj, int first,
                       const GemmJob *g, int j) {
  v128_t c00 = wasm_f32x4_const_splat(0.f), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const float *a0 = a, *a1 = a + sAm, *a2 = a + 2 * sAm, *a3 = a + 3 * sAm;
  for (int k = 0; k < kc; k++) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t x;
    // one row of the 4x8 tile: a[i][k] broadcast times the 8 b values of k
#define ROW(ai, ci0, ci1) x = wasm_v128_load32_splat(ai); ci0 = MADD(x, b0, ci0); ci1 = MADD(x, b1, ci1)
    ROW(a0, c00, c01);
    ROW(a1, c10, c11);
    ROW(a2, c20, c21);
    ROW(a3, c30, c31);
#undef ROW
    a0 += sAk, a1 += sAk, a2 += sAk, a3 += sAk;
    b += NR;
  }
  store_row(c, c00, c01, nj, first, g, j);
  store_row(c + ldc, c10, c11, nj, first, g, j);
  store_row(c + 2 * ldc, c20, c21, nj, first, g, j);
  store_row(c + 3 * ldc, c30, c31, nj, first, g, j);
}

static void kernel_1x8(const float *a, int sAk, const float *b, int kc, float *c, int nj, int first, const GemmJob *g, int j) {
  v128_t c0 = wasm_f32x4_const_splat(0.f), c1 = c0;
  for (int k = 0; k < kc; k++) {
    v128_t x = wasm_v128_load32_splat(a);
    c0 = MADD(x, wasm_v128_load(b), c0);
    c1 = MADD(x, wasm_v128_load(b + 4), c1);
    a += sAk;
    b += NR;
  }
  store_row(c, c0, c1, nj, first, g, j);
}

// Fewer rows than a micro-tile (token-by-token generation): packing B would cost as much
// as the product, so outputs are dot products straight from the weight rows, four rows of
// B at a time so each load of A serves four of them.
static inline void gemv_store(const GemmJob *g, int m, int j, float v) {
  float *c = (float *)g->C + (long)m * g->ldc + j;
  const float *bias = (const float *)g->bias;
  *c = (g->accumulate ? *c : bias ? bias[j] : 0.f) + g->alpha * v;
}

static void gemv_block(const GemmJob *g, int m0, int m1, int j0, int j1) {
  int K = g->K, dt = g->bdtype;
  for (int m = m0; m < m1; m++) {
    const float *a = (const float *)g->A + (long)m * g->sAm;
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
      long c0 = (long)j * g->sBj, c1 = c0 + g->sBj, c2 = c1 + g->sBj, c3 = c2 + g->sBj;
      v128_t s0 = wasm_f32x4_const_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
      int k = 0;
      for (; k + 4 <= K; k += 4) {
        v128_t x = wasm_v128_load(a + k);
        s0 = MADD(x, load4(g->B, dt, c0 + k), s0);
        s1 = MADD(x, load4(g->B, dt, c1 + k), s1);
        s2 = MADD(x, load4(g->B, dt, c2 + k), s2);
        s3 = MADD(x, load4(g->B, dt, c3 + k), s3);
      }
      float r0 = hsum(s0), r1 = hsum(s1), r2 = hsum(s2), r3 = hsum(s3);
      for (; k < K; k++) {
        r0 += a[k] * load_b(g->B, dt, c0 + k);
        r1 += a[k] * load_b(g->B, dt, c1 + k);
        r2 += a[k] * load_b(g->B, dt, c2 + k);
        r3 += a[k] * load_b(g->B, dt, c3 + k);
      }
      gemv_store(g, m, j, r0);
      gemv_store(g, m, j + 1, r1);
      gemv_store(g, m, j + 2, r2);
      gemv_store(g, m, j + 3, r3);
    }
    for (; j < j1; j++) {
      long c0 = (long)j * g->sBj;
      v128_t s0 = wasm_f32x4_const_splat(0.f);
      int k = 0;
      for (; k + 4 <= K; k += 4) s0 = MADD(wasm_v128_load(a + k), load4(g->B, dt, c0 + k), s0);
      float r0 = hsum(s0);
      for (; k < K; k++) r0 += a[k] * load_b(g->B, dt, c0 + k);
      gemv_store(g, m, j, r0);
    }
  }
}

// C[m0:m1, j0:j1] of the product, B packed block by block into this thread's scratch
static void gemm_block(const GemmJob *g, float *pack, int m0, int m1, int j0, int j1) {
  const float *A = (const float *)g->A;
  float *C = (float *)g->C;
  if (m1 - m0 < MR && g->sBk == 1 && g->sAk == 1) {
    gemv_block(g, m0, m1, j0, j1);
    return;
  }
  for (int jc = j0; jc < j1; jc += JB) {
    int jn = j1 - jc < JB ? j1 - jc : JB;
    for (int kc0 = 0; kc0 < g->K; kc0 += KC) {
      int kc = g->K - kc0 < KC ? g->K - kc0 : KC;
      int first = kc0 == 0;
      pack_b(pack, g, kc0, kc, jc, jn);
      int m = m0;
      for (; m + MR <= m1; m += MR) {
        const float *a = A + (long)m * g->sAm + (long)kc0 * g->sAk;
        for (int p = 0; p * NR < jn; p++) {
          int nj = jn - p * NR < NR ? jn - p * NR : NR;
          kernel_4x8(a, g->sAm, g->sAk, pack + (long)p * kc * NR, kc, C + (long)m * g->ldc + jc + p * NR, g->ldc, nj, first, g,
                     jc + p * NR);
        }
      }
      for (; m < m1; m++) {
        const float *a = A + (long)m * g->sAm + (long)kc0 * g->sAk;
        for (int p = 0; p * NR < jn; p++) {
          int nj = jn - p * NR < NR ? jn - p * NR : NR;
          kernel_1x8(a, g->sAk, pack + (long)p * kc * NR, kc, C + (long)m * g->ldc + jc + p * NR, nj, first, g, jc + p * NR);
        }
      }
    }
  }
}

static int gemm(GemmJob *g, int tid) {
  float *pack = (float *)(g->h.scratch + (u32)tid * (u32)g->h.scratchStride);
  int done = 0;
  if (g->split == SPLIT_J) {
    int units = (g->J + JB - 1) / JB;
    for (int u = claim(&g->h); u < units; u = claim(&g->h), done++)
      gemm_block(g, pack, 0, g->M, u * JB, (u + 1) * JB < g->J ? (u + 1) * JB : g->J);
  } else {
    int units = (g->M + MB - 1) / MB;
    for (int u = claim(&g->h); u < units; u = claim(&g->h), done++)
      gemm_block(g, pack, u * MB, (u + 1) * MB < g->M ? (u + 1) * MB : g->M, 0, g->J);
  }
  return done;
}

// ---- dropout: the same counter hash as ops.ts hash32, four lanes at a time

static inline u32 hash32(u32 a, u32 b) {
  u32 h = ((a ^ 0x9e3779b9u) * 0x85ebca6bu) ^ ((b + 0x7f4a7c15u) * 0xc2b2ae35u);
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return h;
}

static inline v128_t hash32x4(u32 seedTerm, v128_t b) {
  v128_t h = wasm_v128_xor(wasm_i32x4_splat(seedTerm), wasm_i32x4_mul(wasm_i32x4_add(b, wasm_i32x4_const_splat(0x7f4a7c15)),
                                                                        wasm_i32x4_const_splat((int)0xc2b2ae35u)));
  h = wasm_v128_xor(h, wasm_u32x4_shr(h, 16));
  h = wasm_i32x4_mul(h, wasm_i32x4_const_splat(0x7feb352d));
  h = wasm_v128_xor(h, wasm_u32x4_shr(h, 15));
  h = wasm_i32x4_mul(h, wasm_i32x4_const_splat((int)0x846ca68bu));
  return wasm_v128_xor(h, wasm_u32x4_shr(h, 16));
}

static void dropout_range(const DropoutJob *d, int e0, int e1, int add) {
  float *dst = (float *)d->dst;
  const float *src = (const float *)d->src;
  u32 seedTerm = (d->seed ^ 0x9e3779b9u) * 0x85ebca6bu;
  v128_t thr = wasm_i32x4_splat((int)d->threshold), keep = wasm_f32x4_splat(d->keep);
  int e = e0;
  for (; e + 4 <= e1; e += 4) {
    u32 c = d->e0 + (u32)e;
    v128_t idx = wasm_i32x4_make((int)c, (int)(c + 1), (int)(c + 2), (int)(c + 3));
    v128_t kept = wasm_u32x4_ge(hash32x4(seedTerm, idx), thr);
    v128_t v = wasm_v128_and(wasm_f32x4_mul(wasm_v128_load(src + e), keep), kept);
    if (add) v = wasm_f32x4_add(wasm_v128_load(dst + e), v);
    wasm_v128_store(dst + e, v);
  }
  for (; e < e1; e++) {
    float v = hash32(d->seed, d->e0 + (u32)e) >= d->threshold ? src[e] * d->keep : 0.f;
    dst[e] = add ? dst[e] + v : v;
  }
}

static int dropout(DropoutJob *d, int add) {
  int units = (d->n + EB - 1) / EB, done = 0;
  for (int u = claim(&d->h); u < units; u = claim(&d->h), done++) dropout_range(d, u * EB, (u + 1) * EB < d->n ? (u + 1) * EB : d->n, add);
  return done;
}

// ---- attention

// exp on four lanes: Cephes' expf polynomial after reduction by ln 2 (about 1 ulp);
// lanes at -inf give exactly 0 (masked scores).
static inline v128_t exp4(v128_t x) {
  v128_t isNegInf = wasm_f32x4_eq(x, wasm_f32x4_splat(-__builtin_inff()));
  x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-87.3f)), wasm_f32x4_splat(88.3f));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), wasm_f32x4_add(r, wasm_f32x4_splat(1.f)));
  v128_t pow2n = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_v128_andnot(wasm_f32x4_mul(p, pow2n), isNegInf);
}

static inline float dot(const float *a, const float *b, int n) {
  v128_t acc = wasm_f32x4_const_splat(0.f);
  int i = 0;
  for (; i + 4 <= n; i += 4) acc = MADD(wasm_v128_load(a + i), wasm_v128_load(b + i), acc);
  float s = hsum(acc);
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

// y += alpha * x
static inline void axpy(float *y, const float *x, float alpha, int n) {
  v128_t a = wasm_f32x4_splat(alpha);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, MADD(a, wasm_v128_load(x + i), wasm_v128_load(y + i)));
  for (; i < n; i++) y[i] += alpha * x[i];
}

// threads take whole (b, h) rows of the output
static int attention_forward(AttnFwdJob *j) {
  int done = 0;
  int units = j->B * j->NH;
  int group = j->NH / j->NKV, HD = j->HD, S = j->S, T = j->T;
  float scale = 1.f / __builtin_sqrtf((float)HD);
  const float *Q = (const float *)j->q, *K = (const float *)j->k, *V = (const float *)j->v;
  const int *mask = (const int *)j->mask;
  float *P = (float *)j->att, *Y = (float *)j->out;
  for (int u = claim(&j->h); u < units; u = claim(&j->h), done++) {
    int b = u / j->NH, h = u % j->NH, kvh = h / group;
    for (int t = 0; t < T; t++) {
      const float *q = Q + ((long)(b * T + t) * j->NH + h) * HD;
      float *p = P + ((long)(b * j->NH + h) * T + t) * S;
      int last = S - T + t;
      float mx = -__builtin_inff();
      for (int s = 0; s < S; s++) {
        if (s > last || !mask[b * j->SMAX + s]) {
          p[s] = -__builtin_inff();
          continue;
        }
        float d = dot(q, K + ((long)(b * j->SMAX + s) * j->NKV + kvh) * HD, HD) * scale;
        p[s] = d;
        if (d > mx) mx = d;
      }
      float sum = 0.f;
      if (mx != -__builtin_inff()) {
        v128_t vmx = wasm_f32x4_splat(mx), vs = wasm_f32x4_const_splat(0.f);
        int s = 0;
        for (; s + 4 <= S; s += 4) {
          v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(p + s), vmx));
          wasm_v128_store(p + s, e);
          vs = wasm_f32x4_add(vs, e);
        }
        sum = hsum(vs);
        for (; s < S; s++) {
          v128_t e = exp4(wasm_f32x4_splat(p[s] - mx));
          p[s] = wasm_f32x4_extract_lane(e, 0);
          sum += p[s];
        }
      }
      float inv = sum > 0.f ? 1.f / sum : 0.f;
      for (int s = 0; s < S; s++) p[s] = sum > 0.f ? p[s] * inv : 0.f;
      float *y = Y + (long)(b * T + t) * j->NH * HD + h * HD;
      for (int d = 0; d < HD; d++) y[d] = 0.f;
      int end = last < S - 1 ? last : S - 1;
      for (int s = 0; s <= end; s++) {
        if (p[s] == 0.f) continue;
        axpy(y, V + ((long)(b * j->SMAX + s) * j->NKV + kvh) * HD, p[s], HD);
      }
    }
  }
  return done;
}

// threads take whole (b, kv head) groups: dk and dv sum over the query heads of a group
static int attention_backward(AttnBwdJob *j) {
  int done = 0;
  int units = j->B * j->NKV;
  int group = j->NH / j->NKV, HD = j->HD, T = j->T;
  float scale = 1.f / __builtin_sqrtf((float)HD);
  const float *Q = (const float *)j->q, *K = (const float *)j->k, *V = (const float *)j->v;
  const float *P = (const float *)j->att, *dY = (const float *)j->dout;
  float *dQ = (float *)j->dq, *dK = (float *)j->dk, *dV = (float *)j->dv, *dP = (float *)j->datt;
  for (int u = claim(&j->h); u < units; u = claim(&j->h), done++) {
    int b = u / j->NKV, kvh = u % j->NKV;
    for (int t = 0; t < T; t++) {
      float *dk = dK + ((long)(b * T + t) * j->NKV + kvh) * HD, *dv = dV + ((long)(b * T + t) * j->NKV + kvh) * HD;
      for (int d = 0; d < HD; d++) dk[d] = dv[d] = 0.f;
    }
    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
      for (int t = 0; t < T; t++) {
        float *dq = dQ + ((long)(b * T + t) * j->NH + h) * HD;
        for (int d = 0; d < HD; d++) dq[d] = 0.f;
      }
      for (int t = 0; t < T; t++) {
        long po = ((long)(b * j->NH + h) * T + t) * T;
        const float *dy = dY + (long)(b * T + t) * j->NH * HD + h * HD;
        const float *q = Q + ((long)(b * T + t) * j->NH + h) * HD;
        float *dq = dQ + ((long)(b * T + t) * j->NH + h) * HD;
        float dotp = 0.f;
        for (int s = 0; s <= t; s++) {
          long vo = ((long)(b * T + s) * j->NKV + kvh) * HD;
          float g = dot(dy, V + vo, HD);
          axpy(dV + vo, dy, P[po + s], HD);
          dP[po + s] = g;
          dotp += g * P[po + s];
        }
        for (int s = 0; s <= t; s++) {
          float ds = P[po + s] * (dP[po + s] - dotp) * scale;
          if (ds == 0.f) continue;
          long ko = ((long)(b * T + s) * j->NKV + kvh) * HD;
          axpy(dq, K + ko, ds, HD);
          axpy(dK + ko, q, ds, HD);
        }
      }
    }
  }
  return done;
}

// ---- cross-entropy chunk and SwiGLU

static inline float exp1(float x) { return wasm_f32x4_extract_lane(exp4(wasm_f32x4_splat(x)), 0); }

static int softmax_chunk(SoftmaxChunkJob *j) {
  int done = 0;
  float *rowMax = (float *)j->rowMax, *rowSum = (float *)j->rowSum;
  for (int m = claim(&j->h); m < j->M; m = claim(&j->h), done++) {
    float *l = (float *)j->L + (long)m * j->ldl;
    v128_t vmax = wasm_f32x4_splat(-__builtin_inff());
    int v = 0;
    for (; v + 4 <= j->nv; v += 4) vmax = wasm_f32x4_max(vmax, wasm_v128_load(l + v));
    float cmax = wasm_f32x4_extract_lane(vmax, 0);
    for (int x = 1; x < 4; x++) {
      float e = x == 1 ? wasm_f32x4_extract_lane(vmax, 1) : x == 2 ? wasm_f32x4_extract_lane(vmax, 2) : wasm_f32x4_extract_lane(vmax, 3);
      if (e > cmax) cmax = e;
    }
    for (; v < j->nv; v++)
      if (l[v] > cmax) cmax = l[v];
    float old = rowMax[m], nmax = cmax > old ? cmax : old;
    float sum = rowSum[m];
    if (nmax > old && old != -__builtin_inff()) {
      float f = exp1(old - nmax);
      sum *= f;
      float *dh = (float *)j->dh + (long)m * j->C;
      v128_t vf = wasm_f32x4_splat(f);
      int c = 0;
      for (; c + 4 <= j->C; c += 4) wasm_v128_store(dh + c, wasm_f32x4_mul(wasm_v128_load(dh + c), vf));
      for (; c < j->C; c++) dh[c] *= f;
    }
    v128_t vn = wasm_f32x4_splat(nmax), acc = wasm_f32x4_const_splat(0.f);
    for (v = 0; v + 4 <= j->nv; v += 4) {
      v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(l + v), vn));
      wasm_v128_store(l + v, e);
      acc = wasm_f32x4_add(acc, e);
    }
    float s = hsum(acc);
    for (; v < j->nv; v++) {
      l[v] = exp1(l[v] - nmax);
      s += l[v];
    }
    rowMax[m] = nmax;
    rowSum[m] = sum + s;
  }
  return done;
}

static inline v128_t sigmoid4(v128_t g) {
  return wasm_f32x4_div(wasm_f32x4_const_splat(1.f), wasm_f32x4_add(wasm_f32x4_const_splat(1.f), exp4(wasm_f32x4_neg(g))));
}

static void swiglu_range(const SwigluJob *j, int e0, int e1, int backward) {
  const float *G = (const float *)j->gate, *U = (const float *)j->up;
  float *O = (float *)j->out, *dG = (float *)j->dgate, *dU = (float *)j->dup;
  v128_t one = wasm_f32x4_const_splat(1.f);
  int e = e0;
  for (; e + 4 <= e1; e += 4) {
    v128_t g = wasm_v128_load(G + e), u = wasm_v128_load(U + e), sig = sigmoid4(g);
    if (!backward) {
      wasm_v128_store(O + e, wasm_f32x4_mul(wasm_f32x4_mul(g, sig), u));
    } else {
      v128_t dy = wasm_v128_load(O + e);
      wasm_v128_store(dU + e, wasm_f32x4_mul(wasm_f32x4_mul(dy, g), sig));
      v128_t dsilu = wasm_f32x4_mul(sig, wasm_f32x4_add(one, wasm_f32x4_mul(g, wasm_f32x4_sub(one, sig))));
      wasm_v128_store(dG + e, wasm_f32x4_mul(wasm_f32x4_mul(dy, u), dsilu));
    }
  }
  for (; e < e1; e++) {
    float g = G[e], sig = 1.f / (1.f + exp1(-g));
    if (!backward) {
      O[e] = g * sig * U[e];
    } else {
      dU[e] = O[e] * g * sig;
      dG[e] = O[e] * U[e] * sig * (1.f + g * (1.f - sig));
    }
  }
}

static int swiglu(SwigluJob *j, int backward) {
  int units = (j->n + EB - 1) / EB, done = 0;
  for (int u = claim(&j->h); u < units; u = claim(&j->h), done++) swiglu_range(j, u * EB, (u + 1) * EB < j->n ? (u + 1) * EB : j->n, backward);
  return done;
}

// ---- RMSNorm

static int rmsnorm(RmsnormJob *j, int backward) {
  int units = (j->N + RB - 1) / RB, done = 0, C = j->C;
  const float *w = (const float *)j->weight;
  float *rstd = (float *)j->rstd;
  for (int u = claim(&j->h); u < units; u = claim(&j->h), done++) {
    int n1 = (u + 1) * RB < j->N ? (u + 1) * RB : j->N;
    for (int n = u * RB; n < n1; n++) {
      const float *x = (const float *)j->inp + (long)n * C;
      float *y = (float *)j->out + (long)n * C;
      if (!backward) {
        float r = 1.f / __builtin_sqrtf(dot(x, x, C) / (float)C + j->eps);
        rstd[n] = r;
        v128_t vr = wasm_f32x4_splat(r);
        int c = 0;
        for (; c + 4 <= C; c += 4) wasm_v128_store(y + c, wasm_f32x4_mul(wasm_v128_load(w + c), wasm_f32x4_mul(wasm_v128_load(x + c), vr)));
        for (; c < C; c++) y[c] = w[c] * (x[c] * r);
      } else {
        // y is dinp (+=); dy = dout
        const float *dy = (const float *)j->dout + (long)n * C;
        float r = rstd[n];
        v128_t acc = wasm_f32x4_const_splat(0.f);
        int c = 0;
        for (; c + 4 <= C; c += 4) acc = MADD(wasm_f32x4_mul(wasm_v128_load(w + c), wasm_v128_load(dy + c)), wasm_v128_load(x + c), acc);
        float d = hsum(acc);
        for (; c < C; c++) d += w[c] * dy[c] * x[c];
        float k = d * r * r * r / (float)C;
        v128_t vr = wasm_f32x4_splat(r), vk = wasm_f32x4_splat(k);
        for (c = 0; c + 4 <= C; c += 4) {
          v128_t g = wasm_f32x4_sub(wasm_f32x4_mul(vr, wasm_f32x4_mul(wasm_v128_load(w + c), wasm_v128_load(dy + c))),
                                    wasm_f32x4_mul(vk, wasm_v128_load(x + c)));
          wasm_v128_store(y + c, wasm_f32x4_add(wasm_v128_load(y + c), g));
        }
        for (; c < C; c++) y[c] += r * w[c] * dy[c] - k * x[c];
      }
    }
  }
  return done;
}

// Returns the units this thread computed (the pool counts the workers' share).
__attribute__((export_name("run_job"))) int run_job(u32 job, int tid) {
  int kind = *(const int *)job;
  if (kind == JOB_GEMM) return gemm((GemmJob *)job, tid);
  if (kind == JOB_DROPOUT) return dropout((DropoutJob *)job, 0);
  if (kind == JOB_MASKED_ADD) return dropout((DropoutJob *)job, 1);
  if (kind == JOB_ATTN_FWD) return attention_forward((AttnFwdJob *)job);
  if (kind == JOB_ATTN_BWD) return attention_backward((AttnBwdJob *)job);
  if (kind == JOB_SOFTMAX_CHUNK) return softmax_chunk((SoftmaxChunkJob *)job);
  if (kind == JOB_SWIGLU_FWD) return swiglu((SwigluJob *)job, 0);
  if (kind == JOB_SWIGLU_BWD) return swiglu((SwigluJob *)job, 1);
  if (kind == JOB_RMSNORM_FWD) return rmsnorm((RmsnormJob *)job, 0);
  if (kind == JOB_RMSNORM_BWD) return rmsnorm((RmsnormJob *)job, 1);
  return 0;
}
