#!/usr/bin/env bash
# Webtune GPU check kit (built by scripts/gpu-kit.sh). On a bare x86-64 Linux machine with a GPU,
# no Node and no network:
#
#   ./run.sh [RESULTS_DIR]          # default ./results beside this script
#
# unpacks Node, Dawn (dawn.node), the Vulkan loader and the bundled Webtune, then writes to
# RESULTS_DIR, one file per section (a failing section does not stop the others):
#   env.txt                 machine, driver, Vulkan ICDs, what was unpacked
#   adapter.txt             the adapter, its driver and the engine's self-check verdict per kernel variant
#                           (a software adapter is refused here unless KIT_ALLOW_EMULATION=1)
#   bench-gpu.md / .log     the bench-gpu table (train/decode tokens/s, matmul GFLOP/s, peak GPU memory)
#   bench-gpu-f16-off.md    the train and decode rows again on f32 matmul tiles (--f16 off)
#   golden/<case>.log       every golden case replayed with --engine webgpu (NF4 cases with --quant nf4)
#   train-export.log        3 training steps of the tiny model on WebGPU, exported as a PEFT adapter
#   peft-logits.txt         that adapter loaded by transformers + PEFT: logits against Webtune's
#   torch-lora-logits.txt   the same against a plain PyTorch LoRA forward (torch only)
#   job.txt                 three steps of the exported training job (train.py: PEFT + HF Trainer)
#   summary.txt             PASS / FAIL / SKIP per section; summary.jsonl the same as JSON lines
# It aims to finish within 10 minutes on a GPU (each section has a time limit). Knobs:
#   KIT_PYTHON=python3       the Python with torch / transformers / peft, if any
#   KIT_QUICK=1              bench-gpu --quick (a check of the kit itself, e.g. on SwiftShader)
#   KIT_TIMEOUT_SCALE=N      multiply every time limit (slow emulated GPUs)
#   KIT_ALLOW_EMULATION=1    run on a software adapter (llvmpipe, SwiftShader, WARP): refused otherwise
#   KIT_WORK=DIR             where to unpack (default ./work beside this script)
#   KIT_VULKAN_LOADER=kit    use the kit's libvulkan.so.1 even where the machine has one
#   VK_ICD_FILENAMES=...     pick the Vulkan driver yourself

set -u
KIT="$(cd "$(dirname "$0")" && pwd)"
RESULTS="$(mkdir -p "${1:-$KIT/results}" && cd "${1:-$KIT/results}" && pwd)"
WORK="${KIT_WORK:-$KIT/work}"
PY="${KIT_PYTHON:-python3}"
SCALE="${KIT_TIMEOUT_SCALE:-1}"
START=$(date +%s)
BUDGET=$((570 * SCALE)) # 9.5 minutes of sections, scaled
mkdir -p "$WORK" "$RESULTS/golden"
: >"$RESULTS/summary.txt"
: >"$RESULTS/summary.jsonl"

# record SECTION STATUS DETAIL: one line in summary.txt and one JSON line in summary.jsonl
record() {
  printf '%-5s %-28s %s\n' "$2" "$1" "$3" >>"$RESULTS/summary.txt"
  local detail=${3//\\/\\\\}
  detail=${detail//\"/\\\"}
  printf '{"section":"%s","status":"%s","detail":"%s"}\n' "$1" "$2" "$detail" >>"$RESULTS/summary.jsonl"
  printf '%-5s %-28s %s\n' "$2" "$1" "$3"
}

# limit SECONDS: the section's own limit, scaled, never past the kit's overall budget
limit() {
  local want=$(($1 * SCALE)) left=$((BUDGET - ($(date +%s) - START)))
  [ "$left" -lt 10 ] && left=10
  [ "$want" -gt "$left" ] && want=$left
  echo "$want"
}

# timed SECONDS CMD...: runs CMD under `timeout` where the machine has it
timed() {
  local s
  s=$(limit "$1")
  shift
  if command -v timeout >/dev/null; then timeout -k 10 "$s" "$@"; else "$@"; fi
}

unxz_to() { # FILE.xz OUT
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else "$PY" -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$2"; fi
}

untar_xz() { # FILE.tar.xz DIR
  if command -v xz >/dev/null && tar --version >/dev/null 2>&1; then tar -xJf "$1" -C "$2"; else "$PY" -c 'import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi
}

# ---------------------------------------------------------------- what the kit needs, one line each
# (before anything is unpacked: the kit's Node is Debian 12's build, which needs glibc 2.34)
GLIBC=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
[ -z "$GLIBC" ] && GLIBC=$(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$')
if [ -z "$GLIBC" ]; then
  record glibc FAIL "no glibc found (a musl system?): the kit's Node needs glibc >= 2.34"
  exit 1
elif [ "$(printf '%s\n2.34\n' "$GLIBC" | sort -V | head -1)" != 2.34 ]; then
  record glibc FAIL "glibc $GLIBC is older than 2.34, which the kit's Node needs: use a newer distribution (Debian 12, Ubuntu 22.04 or later)"
  exit 1
fi
record glibc PASS "glibc $GLIBC (>= 2.34)"
HAVE_PY=0
"$PY" -c 'import lzma' 2>/dev/null && HAVE_PY=1
if command -v xz >/dev/null; then
  record xz PASS "$(xz --version | head -1)"
elif [ $HAVE_PY = 1 ]; then
  record xz SKIP "xz is missing: $PY's lzma unpacks the kit instead (slower)"
else
  record xz FAIL "neither xz nor $PY is here, and one is needed to unpack the kit (apt-get install xz-utils)"
  exit 1
fi
if [ $HAVE_PY = 1 ]; then
  record python3 PASS "$PY $("$PY" -c 'import sys; print(sys.version.split()[0])')"
else
  record python3 SKIP "$PY is missing: the PEFT, PyTorch and training-job checks are skipped (KIT_PYTHON=... names another)"
fi

# ---------------------------------------------------------------- unpack
if [ ! -x "$WORK/node" ] || [ "$KIT/node.xz" -nt "$WORK/node" ]; then unxz_to "$KIT/node.xz" "$WORK/node.tmp" && chmod +x "$WORK/node.tmp" && mv "$WORK/node.tmp" "$WORK/node"; fi
if [ ! -f "$WORK/webtune-kit.mjs" ] || [ "$KIT/payload.tar.xz" -nt "$WORK/webtune-kit.mjs" ]; then untar_xz "$KIT/payload.tar.xz" "$WORK" && touch "$WORK/webtune-kit.mjs"; fi
NODE="$WORK/node"
KITJS="$WORK/webtune-kit.mjs"
if ! "$NODE" --version >/dev/null 2>&1 || [ ! -f "$KITJS" ]; then
  record unpack FAIL "Node or the bundle did not unpack into $WORK (xz or python3 is needed to unpack)"
  exit 1
fi

# Vulkan: the machine's loader if it has one, else the kit's (Debian's libvulkan1;
# KIT_VULKAN_LOADER=kit forces it); the machine's ICD files, else NVIDIA's driver library found
# directly (containers often lack the ICD json)
LDCONFIG=$(command -v ldconfig || echo /sbin/ldconfig)
if [ "${KIT_VULKAN_LOADER:-auto}" = kit ] || ! { "$LDCONFIG" -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; }; then
  export LD_LIBRARY_PATH="$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  LOADER="the kit's ($(ls "$WORK/lib" | tr '\n' ' '))"
else
  LOADER="the machine's"
fi
ICDS=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "$ICDS" ]; then
  NV=$("$LDCONFIG" -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}')
  [ -z "$NV" ] && NV=$(ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 2>/dev/null | head -1)
  if [ -n "$NV" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$NV" >"$WORK/nvidia_icd.json"
    export VK_ICD_FILENAMES="$WORK/nvidia_icd.json"
  fi
fi

# ---------------------------------------------------------------- the adapter: a GPU, or refused
# A software adapter (llvmpipe, SwiftShader, WARP, Microsoft Basic) passes every check but says
# nothing about a GPU, so the kit stops there unless KIT_ALLOW_EMULATION=1. Then the engine's
# self-check runs each kernel variant (f16 tiles, subgroups) against the CPU on this device.
timed 180 "$NODE" "$KITJS" adapter --self-check >"$RESULTS/adapter.txt" 2>"$RESULTS/adapter.log"
rc=$?
ADAPTER=$(sed -n 's/^adapter: //p' "$RESULTS/adapter.txt" | head -1)
DRIVER=$(sed -n 's/^driver: //p' "$RESULTS/adapter.txt" | head -1)
if [ $rc -eq 4 ]; then
  record adapter FAIL "REFUSED: ${ADAPTER} (${DRIVER}) is a software adapter, not a GPU; KIT_ALLOW_EMULATION=1 runs the kit on it anyway"
  exit 2
elif [ $rc -ne 0 ]; then
  record adapter FAIL "exit $rc: ${ADAPTER:-no adapter}; $(grep -v '^\s*$' "$RESULTS/adapter.log" | grep -v Warning | tail -1 | cut -c1-200)"
else
  record adapter PASS "${ADAPTER}; driver ${DRIVER}"
  while IFS= read -r l; do
    v=${l#self-check }
    v=${v%%:*}
    case "$l" in *': PASS '*) record "self-check $v" PASS "${l#*: PASS }" ;; *) record "self-check $v" FAIL "${l#*: }" ;; esac
  done < <(grep '^self-check .*: \(PASS\|FAIL\)' "$RESULTS/adapter.txt")
  sed -n 's/^kernels: /kernels in use: /p' "$RESULTS/adapter.txt" >>"$RESULTS/summary.txt"
fi

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "uname: $(uname -a)"
  [ -f /etc/os-release ] && grep PRETTY_NAME /etc/os-release
  echo "cpus: $(nproc 2>/dev/null)"
  echo "node: $("$NODE" --version)"
  echo "vulkan loader: $LOADER"
  echo "ICD files: ${ICDS:-none}"
  echo "VK_ICD_FILENAMES: ${VK_ICD_FILENAMES:-unset}"
  echo "python: $(command -v "$PY" 2>/dev/null || echo none) $("$PY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)"
  for m in torch transformers peft accelerate; do
    echo "  $m: $("$PY" -c "import $m; print($m.__version__)" 2>/dev/null || echo 'not installed')"
  done
  "$PY" -c 'import torch; print("  cuda:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>/dev/null
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  echo "dawn.node links:"
  ldd "$WORK/node_modules/webgpu/dist/linux-x64/dawn.node" 2>&1 | sed 's/^/  /'
} >"$RESULTS/env.txt" 2>&1
record env PASS "$(grep -E '^(node|vulkan loader|ICD files):' "$RESULTS/env.txt" | tr '\n' ';')"

# ---------------------------------------------------------------- bench-gpu
BENCH_ARGS=()
[ "${KIT_QUICK:-0}" = 1 ] && BENCH_ARGS+=(--quick)
timed 300 "$NODE" "$KITJS" bench-gpu "${BENCH_ARGS[@]}" >"$RESULTS/bench-gpu.md" 2>"$RESULTS/bench-gpu.log"
rc=$?
ADAPTER=$(sed -n 's/^adapter: \([^[]*\).*/\1/p' "$RESULTS/bench-gpu.md" | head -1)
if [ $rc -ne 0 ] || ! grep -q '^| train |' "$RESULTS/bench-gpu.md"; then
  record bench-gpu FAIL "exit $rc on ${ADAPTER:-no adapter}: $(grep -v '^\s*$' "$RESULTS/bench-gpu.log" | tail -1)"
elif grep -q '^CPU EMULATION' "$RESULTS/bench-gpu.md" && [ "${KIT_ALLOW_EMULATION:-0}" != 1 ]; then
  record bench-gpu FAIL "ran on a CPU emulation (${ADAPTER}), not the GPU: see env.txt for the Vulkan driver"
else
  record bench-gpu PASS "adapter ${ADAPTER% }; $(sed -n 's/^kernels: //p' "$RESULTS/bench-gpu.md" | head -1); train tokens/s: $(grep '^| train |' "$RESULTS/bench-gpu.md" | awk -F' [|] ' '{printf "%s %s; ", $2, $4}')"
fi
# the same steps on f32 tiles: what the f16 tiles gain on this GPU (no matmul table the second time)
timed 240 "$NODE" "$KITJS" bench-gpu "${BENCH_ARGS[@]}" --f16 off --matmul-preset none >"$RESULTS/bench-gpu-f16-off.md" 2>"$RESULTS/bench-gpu-f16-off.log"
rc=$?
if [ $rc -ne 0 ] || ! grep -q '^| train |' "$RESULTS/bench-gpu-f16-off.md"; then
  record "bench-gpu --f16 off" FAIL "exit $rc: $(grep -v '^\s*$' "$RESULTS/bench-gpu-f16-off.log" | tail -1)"
else
  record "bench-gpu --f16 off" PASS "$(sed -n 's/^kernels: //p' "$RESULTS/bench-gpu-f16-off.md" | head -1); train tokens/s: $(grep '^| train |' "$RESULTS/bench-gpu-f16-off.md" | awk -F' [|] ' '{printf "%s %s; ", $2, $4}')"
fi

# ---------------------------------------------------------------- golden cases
for case in "$WORK"/golden/*/; do
  name=$(basename "$case")
  args=(golden "$case" --engine webgpu)
  grep -q '"type": *"nf4"' "$case/case.json" && args+=(--quant nf4)
  timed 90 "$NODE" "$KITJS" "${args[@]}" >"$RESULTS/golden/$name.log" 2>&1
  rc=$?
  last=$(tail -1 "$RESULTS/golden/$name.log")
  if [ $rc -eq 0 ] && [[ "$last" == *'"ok":true'* ]]; then
    record "golden $name" PASS "$(grep -c '^ok ' "$RESULTS/golden/$name.log") checks${args[4]:+ (--quant nf4)}"
  else
    record "golden $name" FAIL "exit $rc: $(grep '^FAIL' "$RESULTS/golden/$name.log" | awk '{print $2}' | head -5 | tr '\n' ' ')$(tail -1 "$RESULTS/golden/$name.log" | cut -c1-200)"
  fi
done

# ---------------------------------------------------------------- train, export PEFT, Webtune's logits
TINY="$WORK/model/tiny"
T="$WORK/train"
rm -rf "$T"
mkdir -p "$T"
{
  timed 240 "$NODE" "$KITJS" train --model "$TINY" --data "$WORK/data/meeting-train.json" --out "$T/adapter" --engine webgpu \
    --epochs 1 --batch 2 --accum 1 --lr 2e-2 --schedule constant --stop-after 3 --quiet &&
    timed 60 "$NODE" "$KITJS" export --model "$TINY" --adapter "$T/adapter" --format peft --out "$T/peft" --quiet &&
    timed 120 "$NODE" "$KITJS" logits --model "$TINY" --adapter "$T/peft" --engine webgpu --out "$T/webtune-logits.safetensors"
} >"$RESULTS/train-export.log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
  record train-export PASS "3 steps on WebGPU, PEFT folder $(ls "$T/peft" | tr '\n' ' ')"
else
  record train-export FAIL "exit $rc: $(tail -1 "$RESULTS/train-export.log" | cut -c1-200)"
fi

# check NAME FILE CMD...: a Python check's first line is its verdict; exit 3 means skipped
check() {
  local name=$1 file=$2 rc
  shift 2
  if ! command -v "$PY" >/dev/null; then
    echo "skipped: no $PY on this machine" >"$RESULTS/$file"
    rc=3
  elif [ ! -f "$T/webtune-logits.safetensors" ] && [ "$name" != job ]; then
    echo "skipped: train-export failed, so there is no adapter to compare" >"$RESULTS/$file"
    rc=3
  else
    timed "$LIMIT" "$PY" "$@" >"$RESULTS/$file" 2>&1
    rc=$?
  fi
  local verdict
  verdict=$(grep -m1 -E '^(pass|FAIL|skipped)' "$RESULTS/$file" || tail -1 "$RESULTS/$file")
  case $rc in
    0) record "$name" PASS "$verdict" ;;
    3) record "$name" SKIP "$verdict" ;;
    *) record "$name" FAIL "exit $rc: $verdict" ;;
  esac
}

LIMIT=120 check peft-logits peft-logits.txt "$WORK/py/peft_check.py" peft "$TINY" "$T/peft" "$T/webtune-logits.safetensors"
LIMIT=120 check torch-lora-logits torch-lora-logits.txt "$WORK/py/peft_check.py" torch "$TINY" "$T/peft" "$T/webtune-logits.safetensors" "$WORK/py"

# ---------------------------------------------------------------- the exported training job
J="$WORK/job"
rm -rf "$J"
mkdir -p "$J"
if [ -d "$T/peft" ] && timed 60 "$NODE" "$KITJS" export --model "$TINY" --adapter "$T/peft" --format job --data "$WORK/data/job-rows.json" --out "$J/job.zip" --quiet >"$J/export.log" 2>&1; then
  LIMIT=240 check job job.txt "$WORK/py/job_check.py" "$J/job.zip" "$TINY" "$J/run"
  [ -f "$J/run/train.log" ] && cp "$J/run/train.log" "$RESULTS/job-train.log"
else
  record job FAIL "export --format job failed: $(tail -1 "$J/export.log" 2>/dev/null || echo 'no adapter from train-export')"
fi

echo "elapsed: $(($(date +%s) - START)) s" >>"$RESULTS/summary.txt"
echo "results in $RESULTS"
grep -q '^FAIL' "$RESULTS/summary.txt" && exit 1
exit 0
