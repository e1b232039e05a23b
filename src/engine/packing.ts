// Padding-free micro-batches (FlashAttention varlen, HF DataCollatorWithFlattening): the real
// tokens of a right-padded (B, T) micro-batch laid end to end as one row of N tokens, so no
// matmul, norm or loss runs on a pad. Every kernel that mixes tokens learns the row boundaries
// from the attention mask itself: a packed token's mask value is 1 + the index of its row's
// first token, and a query sees only keys with its own mask value (causal within its row). A
// padded batch's mask (1 real, 0 pad) is the same rule with every row starting at 0, so decoding
// and padded training read the mask as before. RoPE takes the positions (restarting at 0 per row)
// from the host, since the host built them.
//
// The packed batch computes the same function as the padded one: pads never influence a real
// token (they are masked keys and carry no label), and every per-token kernel is row-independent.
// LoRA dropout hashes the element's flat index, so its masks are a different (equally
// distributed) draw in the packed layout; with dropout 0 losses and gradients match.

import { EngineError } from '../core/errors.ts';
import type { MicroBatch } from './engine.ts';

export interface PackedBatch {
  /** Real tokens (N), rows end to end. */
  ids: Int32Array;
  /** (N): 1 + the flat index of the token's row start. */
  mask: Int32Array;
  /** (N): the token's position in its row. */
  positions: Int32Array;
  /** Flat packed index of each padded (b, t) real token, -1 on pads: maps label positions. */
  packedIndex: Int32Array;
  /** (start, length) of each row. */
  rows: [number, number][];
}

/** Length of row b when its mask is a prefix of ones (right padded), else -1. */
function rightPaddedLength(mask: Int32Array, b: number, T: number): number {
  let n = 0;
  while (n < T && mask[b * T + n] === 1) n++;
  for (let t = n; t < T; t++) if (mask[b * T + t] !== 0) return -1;
  return n;
}

/**
 * The packed layout of a micro-batch, or null when packing would not be exact or would save
 * nothing: one row, no padding, a row that is not right padded (mask 1s then 0s), or an empty row.
 */
export function packMicroBatch(mb: MicroBatch): PackedBatch | null {
  const { B, T } = mb;
  if (B < 2) return null;
  const lengths: number[] = [];
  for (let b = 0; b < B; b++) {
    const n = rightPaddedLength(mb.attentionMask, b, T);
    if (n <= 0) return null;
    lengths.push(n);
  }
  const N = lengths.reduce((a, n) => a + n, 0);
  if (N === B * T) return null;
  const ids = new Int32Array(N),
    mask = new Int32Array(N),
    positions = new Int32Array(N);
  const packedIndex = new Int32Array(B * T).fill(-1);
  const rows: [number, number][] = [];
  let at = 0;
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    rows.push([at, n]);
    ids.set(mb.inputIds.subarray(b * T, b * T + n), at);
    mask.fill(at + 1, at, at + n);
    for (let t = 0; t < n; t++) {
      positions[at + t] = t;
      packedIndex[b * T + t] = at + t;
    }
    at += n;
  }
  return { ids, mask, positions, packedIndex, rows };
}

/**
 * The rows of a packed attention call from its mask (T tokens, one batch row, no cache), or null
 * for an ordinary mask (values 0 and 1). Backends that keep per-row state (the CPU's (T, S)
 * probabilities) attend row by row so that state stays within the padded batch's size.
 */
export function packedRows(mask: Int32Array, B: number, T: number, S: number, SMAX: number): [number, number][] | null {
  if (B !== 1 || S !== T || SMAX !== T) return null;
  let packed = false;
  for (let t = 0; t < T; t++)
    if (mask[t] > 1) {
      packed = true;
      break;
    }
  if (!packed) return null;
  const rows: [number, number][] = [];
  let t = 0;
  while (t < T) {
    if (mask[t] !== t + 1)
      throw new EngineError(`packed attention mask: token ${t} has ${mask[t]}, a row start's ${t + 1} expected`);
    let end = t + 1;
    while (end < T && mask[end] === t + 1) end++;
    rows.push([t, end - t]);
    t = end;
  }
  return rows;
}
