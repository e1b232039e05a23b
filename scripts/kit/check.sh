#!/usr/bin/env bash
# End-to-end check of the GPU kit on this machine (`npm run kit:check`; 25 minutes on two busy
# cores with SwiftShader, so not part of npm test): builds it with scripts/gpu-kit.sh, copies it to an empty
# temporary folder, runs its run.sh there on SwiftShader with a `node` on PATH that refuses to
# run (the kit must bring its own), and checks the results folder: every golden case passed, the
# bench table was printed with its adapter (and again with --f16 off), the preflight and adapter
# lines came first, train + PEFT export + logits worked, and each Python
# section passed or was skipped with its reason.
#
#   scripts/kit/check.sh [KIT_DIR]     # KIT_DIR: check an already built kit instead of building one
#   KIT_PYTHON=/usr/bin/python3 (default where that one has torch)

set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ICD=/usr/lib/chromium/vk_swiftshader_icd.json
[ -f "$ICD" ] || { echo "kit check: needs SwiftShader's Vulkan driver ($ICD, Debian's chromium)" >&2; exit 1; }
if [ $# -ge 1 ]; then KITDIR="$(cd "$1" && pwd)"; else
  "$ROOT/scripts/gpu-kit.sh" || exit 1
  KITDIR="$ROOT/.gpu-kit"
fi
if [ -z "${KIT_PYTHON:-}" ]; then
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then KIT_PYTHON=/usr/bin/python3; else KIT_PYTHON=python3; fi
fi

T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
cp -r "$KITDIR" "$T/kit"
mkdir "$T/bin"
printf '#!/bin/sh\necho "the kit ran the machine'"'"'s node" >&2\nexit 127\n' >"$T/bin/node"
chmod +x "$T/bin/node"

echo "kit check: running $T/kit/run.sh on SwiftShader (python: $KIT_PYTHON)" >&2
START=$(date +%s)
env PATH="$T/bin:/usr/bin:/bin" VK_ICD_FILENAMES="$ICD" KIT_VULKAN_LOADER=kit KIT_QUICK=1 KIT_TIMEOUT_SCALE="${KIT_TIMEOUT_SCALE:-10}" KIT_ALLOW_EMULATION=1 KIT_PYTHON="$KIT_PYTHON" \
  "$T/kit/run.sh" "$T/results"
echo "run.sh exit $?, $(($(date +%s) - START)) s" >&2
R="$T/results"

fails=0
expect() { # DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
status() { awk -v s="$1" '$2 == s {print $1; exit}' "$R/summary.txt"; }
has() { grep -q -- "$2" "$R/$1"; }

echo
cat "$R/summary.txt"
echo
expect "summary names every section" test -n "$(status env)" -a -n "$(status bench-gpu)" -a -n "$(status train-export)" -a -n "$(status peft-logits)" -a -n "$(status torch-lora-logits)" -a -n "$(status job)"
expect "glibc, xz and python3 checked first, one line each" sh -c "head -3 '$R/summary.txt' | awk '{print \$2}' | tr '\n' ' ' | grep -qx 'glibc xz python3 '"
expect "the adapter line passed (KIT_ALLOW_EMULATION=1) and names its driver" has summary.txt '^PASS  adapter .*; driver '
expect "bench-gpu passed" test "$(status bench-gpu)" = PASS
expect "bench-gpu ran again with --f16 off" has summary.txt '^PASS  bench-gpu --f16 off .*f32 tiles'
expect "bench-gpu.md has the table, its adapter and the emulation warning" has bench-gpu.md '^| train | tiny |'
expect "bench-gpu.md names SwiftShader as the adapter" has bench-gpu.md '^adapter: .*[Ss]wift[Ss]hader'
expect "bench-gpu.md says it is CPU emulation" has bench-gpu.md '^CPU EMULATION'
expect "bench-gpu.md ends with the JSON line" sh -c "tail -1 '$R/bench-gpu.md' | grep -q '^{\"bench\":\"bench-gpu\"'"
for c in "$ROOT"/test/fixtures/golden/*/; do
  n=$(basename "$c")
  expect "golden $n passed on WebGPU" test "$(awk -v s="$n" '$2 == "golden" && $3 == s {print $1; exit}' "$R/summary.txt")" = PASS
  expect "golden $n log ends ok" sh -c "tail -1 '$R/golden/$n.log' | grep -q '\"engine\":\"webgpu\".*\"ok\":true'"
done
expect "NF4 cases ran with --quant nf4" has summary.txt 'golden qlora-nf4 .*--quant nf4'
expect "train-export passed" test "$(status train-export)" = PASS
if "$KIT_PYTHON" -c 'import transformers, peft' 2>/dev/null; then
  expect "peft-logits passed" test "$(status peft-logits)" = PASS
else
  expect "peft-logits skipped because peft is not installed" sh -c "grep -q '^SKIP  *peft-logits .*peft not installed' '$R/summary.txt'"
fi
if "$KIT_PYTHON" -c 'import torch' 2>/dev/null; then
  expect "torch-lora-logits passed" test "$(status torch-lora-logits)" = PASS
else
  expect "torch-lora-logits skipped because torch is not installed" sh -c "grep -q '^SKIP  *torch-lora-logits .*torch not installed' '$R/summary.txt'"
fi
if "$KIT_PYTHON" -c 'import transformers, peft, accelerate' 2>/dev/null; then
  expect "job passed" test "$(status job)" = PASS
else
  expect "job skipped with the missing packages named" sh -c "grep -q '^SKIP  *job .*not installed' '$R/summary.txt'"
fi
expect "env.txt shows the kit's Node" has env.txt '^node: v'

if [ $fails -gt 0 ]; then
  echo "kit check: $fails check(s) failed; results kept in $R.kept" >&2
  cp -r "$R" "$R.kept" 2>/dev/null && trap - EXIT
  exit 1
fi
echo "kit check: all passed" >&2
