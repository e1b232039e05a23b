// Causal grouped-query attention with a key padding mask and a KV cache, flash style: keys and
// values pass through workgroup memory a tile at a time under an online softmax, so no (T, S)
// score matrix is ever stored; backward recomputes the scores from the saved log-sum-exp.
//   q, dq (B, T, NH, HD); k, v (B, SMAX, NKV, HD) in forward, (B, T, NKV, HD) with dk, dv in
//   backward; mask (B, SMAX) i32; out, dout (B, T, NH*HD);
//   stats (B, NH, T, 2): per query row the log-sum-exp of its scores (forward) and
//   D = dout . out (written by backward_dq for backward_dkv).
// Query t sits at position S - T + t and sees keys s <= that position with a nonzero mask, and
// when its own mask is nonzero, only keys with its own mask value: a packed batch (B = 1, rows
// end to end, src/engine/packing.ts) marks each token with 1 + its row's first index, so each row
// attends within itself; a padded batch's 1s are one row from 0. Loops start at the first row's
// start and backward_dkv stops at the first query tile past its keys' rows (starts only grow
// along a packed row). Query head h reads KV head h / (NH / NKV). A row with no visible key
// outputs zeros (and gets no gradient).
// Forward and backward_dq: one workgroup per KV head and 64 query rows (t, g) of its G = NH/NKV
// heads, one thread per row, so each K/V tile is loaded once for every head of the group.
// backward_dkv: one workgroup per KV head and KB keys; four threads per key, thread c taking the
// head dim's vec4s c, c+4, ...; query tiles (all G heads) through workgroup memory.
// The head dim is a multiple of 4, at most 128.

struct Params { B: u32, T: u32, S: u32, SMAX: u32, NH: u32, NKV: u32, HD: u32, scale: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> mask: array<i32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;
@group(0) @binding(7) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dq: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> dv: array<vec4<f32>>;

const ROWS: u32 = 64u; // query rows per workgroup (forward, backward_dq)
const KT: u32 = 14u; // keys per tile: the two tiles and their mask fit 16 KiB at head dim 128
const D4: u32 = 32u; // vec4s of the largest head dim (128)
var<workgroup> k_tile: array<vec4<f32>, 448>; // (KT, D4)
var<workgroup> v_tile: array<vec4<f32>, 448>;
var<workgroup> key_ok: array<u32, 14>; // the key's mask value, 0: not a key
var<workgroup> wg_at: u32; // a workgroup-uniform loop bound read from the mask

// The head dim as a pipeline constant (64 and 128 are compiled as variants), so the per-row
// loops over it unroll and q, the output and the gradients stay in registers; 0: read P.HD.
override HDV: u32 = 0u;

fn vec4s() -> u32 {
  return select(P.HD / 4u, HDV / 4u, HDV > 0u);
}

// the row's place: query position t, head h; false for the padding rows of the last workgroup
struct Row { t: u32, h: u32, live: bool }

// the mask value of position pos of batch row b (clamped into the row)
fn seg_at(b: u32, pos: u32) -> u32 {
  return u32(max(mask[b * P.SMAX + min(pos, P.SMAX - 1u)], 0));
}

// whether key s (mask value kseg) is visible to a query at qpos with mask value qseg
fn visible(kseg: u32, qseg: u32, s: u32, qpos: u32) -> bool {
  return kseg != 0u && (qseg == 0u || kseg == qseg) && s <= qpos;
}

// first key tile of a workgroup whose first query sits at qpos: its row's start, rounded down to a
// tile (0 for an unpacked row); workgroup uniform
fn first_tile(b: u32, qpos: u32, lid: u32) -> u32 {
  if (lid == 0u) { wg_at = max(seg_at(b, qpos), 1u) - 1u; }
  return (workgroupUniformLoad(&wg_at) / KT) * KT;
}

fn row_of(r: u32, kvh: u32) -> Row {
  let G = P.NH / P.NKV;
  return Row(r / G, kvh * G + r % G, r < P.T * G);
}

// keys s0 .. s0+KT of KV head kvh into the tiles (zeros past S), with their mask bits
fn load_kv_tile(b: u32, kvh: u32, s0: u32, lid: u32, rows: u32) {
  let D = vec4s();
  for (var e = lid; e < KT * D; e += rows) {
    let j = e / D;
    let s = s0 + j;
    var kk = vec4<f32>();
    var vv = vec4<f32>();
    if (s < P.S) {
      let at = ((b * P.SMAX + s) * P.NKV + kvh) * D + e % D;
      kk = k[at];
      vv = v[at];
    }
    k_tile[j * D4 + e % D] = kk;
    v_tile[j * D4 + e % D] = vv;
  }
  for (var j = lid; j < KT; j += rows) {
    let s = s0 + j;
    key_ok[j] = select(0u, u32(max(mask[b * P.SMAX + min(s, P.SMAX - 1u)], 0)), s < P.S);
  }
}

// workgroup (x: block of 64 query rows, y: b * NKV + kvh)
@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y / P.NKV;
  let kvh = wid.y % P.NKV;
  let G = P.NH / P.NKV;
  let D = vec4s();
  let row = row_of(wid.x * ROWS + lid, kvh);
  let qpos = P.S - P.T + row.t;
  let qrow = ((b * P.T + row.t) * P.NH + row.h) * D;
  var qv: array<vec4<f32>, D4>;
  var o: array<vec4<f32>, D4>;
  if (row.live) { for (var d = 0u; d < D; d++) { qv[d] = q[qrow + d] * P.scale; } }
  var m = NEG_BIG;
  var l = 0.0;
  // keys up to the last position any row of this workgroup can see
  let last_t = min(P.T - 1u, (wid.x * ROWS + ROWS - 1u) / G);
  let s_end = min(P.S, P.S - P.T + last_t + 1u);
  let qseg = seg_at(b, qpos);
  for (var s0 = first_tile(b, P.S - P.T + (wid.x * ROWS) / G, lid); s0 < s_end; s0 += KT) {
    load_kv_tile(b, kvh, s0, lid, ROWS);
    workgroupBarrier();
    if (row.live) {
      for (var j = 0u; j < KT; j++) {
        let s = s0 + j;
        if (!visible(key_ok[j], qseg, s, qpos)) { continue; }
        var dot = 0.0;
        for (var d = 0u; d < D; d++) { dot += dot4(qv[d], k_tile[j * D4 + d]); }
        if (dot > m) {
          let c = exp(m - dot);
          l *= c;
          for (var d = 0u; d < D; d++) { o[d] *= c; }
          m = dot;
        }
        let p = exp(dot - m);
        l += p;
        for (var d = 0u; d < D; d++) { o[d] += p * v_tile[j * D4 + d]; }
      }
    }
    workgroupBarrier();
  }
  if (!row.live) { return; }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var d = 0u; d < D; d++) { out[qrow + d] = o[d] * inv; }
  stats[((b * P.NH + row.h) * P.T + row.t) * 2u] = select(NEG_BIG, m + log(l), l > 0.0);
}

fn dot4(a: vec4<f32>, b: vec4<f32>) -> f32 {
  return dot(a, b);
}

// dq = scale * sum_s p (dp - D) k_s, with p = exp(q.k * scale - lse), dp = dout . v_s, and
// D = dout . out stored for backward_dkv. Training only (S = SMAX = T). Grid as forward.
@compute @workgroup_size(64)
fn backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y / P.NKV;
  let kvh = wid.y % P.NKV;
  let G = P.NH / P.NKV;
  let D = vec4s();
  let row = row_of(wid.x * ROWS + lid, kvh);
  let qrow = ((b * P.T + row.t) * P.NH + row.h) * D;
  let srow = ((b * P.NH + row.h) * P.T + row.t) * 2u;
  var qv: array<vec4<f32>, D4>;
  var dov: array<vec4<f32>, D4>;
  var acc: array<vec4<f32>, D4>;
  var lse = NEG_BIG;
  var dd = 0.0;
  if (row.live) {
    for (var d = 0u; d < D; d++) {
      qv[d] = q[qrow + d] * P.scale;
      dov[d] = dout[qrow + d];
      dd += dot(dov[d], out[qrow + d]);
    }
    lse = stats[srow];
    stats[srow + 1u] = dd;
  }
  let last_t = min(P.T - 1u, (wid.x * ROWS + ROWS - 1u) / G);
  let qseg = seg_at(b, row.t);
  for (var s0 = first_tile(b, (wid.x * ROWS) / G, lid); s0 <= last_t; s0 += KT) {
    load_kv_tile(b, kvh, s0, lid, ROWS);
    workgroupBarrier();
    if (row.live && lse > NEG_BIG) {
      for (var j = 0u; j < KT; j++) {
        let s = s0 + j;
        if (!visible(key_ok[j], qseg, s, row.t)) { continue; }
        var dot = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < D; d++) {
          dot += dot4(qv[d], k_tile[j * D4 + d]);
          dp += dot4(dov[d], v_tile[j * D4 + d]);
        }
        let ds = exp(dot - lse) * (dp - dd);
        for (var d = 0u; d < D; d++) { acc[d] += ds * k_tile[j * D4 + d]; }
      }
    }
    workgroupBarrier();
  }
  if (!row.live) { return; }
  for (var d = 0u; d < D; d++) { dq[qrow + d] = acc[d] * P.scale; }
}

const KB: u32 = 16u; // keys per workgroup (backward_dkv)
const QT: u32 = 8u; // query rows per staged tile (backward_dkv)
var<workgroup> q_tile: array<vec4<f32>, 256>; // (QT, D4)
var<workgroup> do_tile: array<vec4<f32>, 256>;
var<workgroup> row_stat: array<vec3<f32>, 8>; // lse, D, query position (as f32); lse NEG_BIG: no row
var<workgroup> row_seg: array<u32, 8>; // the query row's mask value
var<workgroup> part: array<vec2<f32>, 512>; // (QT, KB, 4 quarters): partial q.k, dout.v

// this thread's quarter of (q_i . k_s, dout_i . v_s): its vec4s c, c + 4, ... of the head dim
fn quarter_dots(i: u32, c: u32, Q: u32, kq: ptr<function, array<vec4<f32>, 8>>, vq: ptr<function, array<vec4<f32>, 8>>) -> vec2<f32> {
  var sd = 0.0;
  var pd = 0.0;
  for (var d = 0u; d < Q; d++) {
    sd += dot((*kq)[d], q_tile[i * D4 + c + 4u * d]);
    pd += dot((*vq)[d], do_tile[i * D4 + c + 4u * d]);
  }
  return vec2<f32>(sd, pd);
}

// dk_s = scale * sum_i ds_is q_i, dv_s = sum_i p_is dout_i over the query rows i of every head
// of the group. Workgroup (x: block of KB keys, y: b * NKV + kvh); thread (key j, quarter c).
@compute @workgroup_size(64)
fn backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y / P.NKV;
  let kvh = wid.y % P.NKV;
  let G = P.NH / P.NKV;
  let D = vec4s();
  let j = lid / 4u;
  let c = lid % 4u;
  let s = wid.x * KB + j;
  let kseg = seg_at(b, min(s, P.T - 1u));
  let live = s < P.T && kseg != 0u;
  let s_last = min(wid.x * KB + KB - 1u, P.T - 1u);
  let krow = ((b * P.T + min(s, P.T - 1u)) * P.NKV + kvh) * D;
  // this thread's vec4s of the head dim: c, c + 4, ...
  let Q = (D + 3u - c) / 4u;
  var kq: array<vec4<f32>, 8>;
  var vq: array<vec4<f32>, 8>;
  var gk: array<vec4<f32>, 8>;
  var gv: array<vec4<f32>, 8>;
  for (var d = 0u; d < Q; d++) {
    kq[d] = k[krow + c + 4u * d] * P.scale;
    vq[d] = v[krow + c + 4u * d];
  }
  // query rows (t, g) with t >= the block's first key, in tiles of QT
  let r_begin = wid.x * KB * G;
  for (var r0 = r_begin; r0 < P.T * G; r0 += QT) {
    // a packed row's later rows start past this block's keys: no query from here on sees them
    if (lid == 0u) { wg_at = max(seg_at(b, r0 / G), 1u) - 1u; }
    if (workgroupUniformLoad(&wg_at) > s_last) { break; }
    for (var e = lid; e < QT * D; e += 64u) {
      let ri = r0 + e / D;
      var qq = vec4<f32>();
      var dd = vec4<f32>();
      if (ri < P.T * G) {
        let at = ((b * P.T + ri / G) * P.NH + kvh * G + ri % G) * D + e % D;
        qq = q[at];
        dd = dout[at];
      }
      q_tile[(e / D) * D4 + e % D] = qq;
      do_tile[(e / D) * D4 + e % D] = dd;
    }
    if (lid < QT) {
      let ri = r0 + lid;
      var st = vec3<f32>(NEG_BIG, 0.0, 0.0);
      var sg = 0u;
      if (ri < P.T * G) {
        let at = ((b * P.NH + kvh * G + ri % G) * P.T + ri / G) * 2u;
        st = vec3<f32>(stats[at], stats[at + 1u], f32(ri / G));
        sg = seg_at(b, ri / G);
      }
      row_stat[lid] = st;
      row_seg[lid] = sg;
    }
    workgroupBarrier();
    // the four quarters of a key's q.k and dout.v: added through `part` (plain), or across the
    // key's four neighbouring lanes in registers (subgroups: no store, load or barrier)
    if (!SUBGROUPS) {
      for (var i = 0u; i < QT; i++) { part[(i * KB + j) * 4u + c] = quarter_dots(i, c, Q, &kq, &vq); }
      workgroupBarrier();
    }
    for (var i = 0u; i < QT; i++) {
      var tot: vec2<f32>;
      if (SUBGROUPS) {
        tot = quarter_dots(i, c, Q, &kq, &vq);
        tot += lane_xor(tot, 1u);
        tot += lane_xor(tot, 2u);
      } else {
        let base = (i * KB + j) * 4u;
        tot = part[base] + part[base + 1u] + part[base + 2u] + part[base + 3u];
      }
      let st = row_stat[i];
      if (live && st.x > NEG_BIG && f32(s) <= st.z && (row_seg[i] == 0u || row_seg[i] == kseg)) {
        let p = exp(tot.x - st.x);
        let ds = p * (tot.y - st.y);
        for (var d = 0u; d < Q; d++) {
          gv[d] += p * do_tile[i * D4 + c + 4u * d];
          gk[d] += ds * q_tile[i * D4 + c + 4u * d];
        }
      }
    }
    workgroupBarrier();
  }
  if (s >= P.T) { return; }
  for (var d = 0u; d < Q; d++) {
    dk[krow + c + 4u * d] = gk[d] * P.scale;
    dv[krow + c + 4u * d] = gv[d];
  }
}
