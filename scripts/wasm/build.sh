#!/usr/bin/env bash
# Rebuilds src/engine/cpu/fast/kernels.wasm.ts from kernels.c (or writes the given path
# instead). Needs Debian's clang-19 and lld-19 (apt-get install -y clang-19 lld-19); the
# generated file is committed, so `npm ci` alone never needs a C toolchain.
# Four variants: {shared memory for the thread pool, private memory for one thread} x
# {relaxed SIMD (fused multiply-add), plain SIMD128}; the loader picks by feature detection.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=src/engine/cpu/fast/kernels.c
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
CLANG=${CLANG:-clang-19}
COMMON=(--target=wasm32 -O3 -nostdlib -msimd128 -fno-builtin -Wall -Wextra -Werror
  -Wl,--no-entry -Wl,--import-memory -Wl,--stack-first -Wl,-z,stack-size=65536 -Wl,--export=__heap_base)
SHARED=(-matomics -mbulk-memory -Wl,--shared-memory -Wl,--max-memory=4294967296)
PRIVATE=(-Wl,--max-memory=4294967296)
RELAXED=(-mrelaxed-simd -DRELAXED)
"$CLANG" "${COMMON[@]}" "${SHARED[@]}" "${RELAXED[@]}" -o "$OUT/shared-relaxed.wasm" "$SRC"
"$CLANG" "${COMMON[@]}" "${SHARED[@]}" -o "$OUT/shared-simd.wasm" "$SRC"
"$CLANG" "${COMMON[@]}" "${PRIVATE[@]}" "${RELAXED[@]}" -o "$OUT/private-relaxed.wasm" "$SRC"
"$CLANG" "${COMMON[@]}" "${PRIVATE[@]}" -o "$OUT/private-simd.wasm" "$SRC"
node scripts/wasm/embed.mjs "$OUT" "${1:-src/engine/cpu/fast/kernels.wasm.ts}"
