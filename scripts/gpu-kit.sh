#!/usr/bin/env bash
# Builds the GPU check kit: one folder (default .gpu-kit/, git-ignored, under 60 MiB) to copy to a
# bare x86-64 Linux machine with a GPU but no Node and no network, where `./run.sh` writes the
# bench-gpu table, every golden case on the GPU and the PEFT / training-job checks to results/
# (scripts/kit/run.sh says what each section does).
#
#   scripts/gpu-kit.sh [OUT_DIR]
#
# The folder: run.sh, node.xz (this machine's Node binary, xz), payload.tar.xz (the bundled
# bench + golden + CLI runner, the linux-x64 dawn.node, Debian's Vulkan loader, the golden
# cases, the tiny model and its data, the Python checks) and MANIFEST.txt. Needs: this repo's
# node_modules, xz, and apt's network for `apt-get download libvulkan1` (kept between builds).

set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/.gpu-kit}" && cd "${1:-$ROOT/.gpu-kit}" && pwd)"
LIMIT_BYTES=$((60 * 1024 * 1024))
cd "$ROOT"

die() { echo "gpu-kit: $*" >&2; exit 1; }
# OUT is replaced as a whole: only ever an empty folder or an earlier kit
if [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/MANIFEST.txt" ]; then die "$OUT holds files and is not a kit built here; pick another folder"; fi
[ "$(node -p 'process.platform + "-" + process.arch')" = linux-x64 ] || die "the kit's Node is this machine's, which must be linux-x64"
command -v xz >/dev/null || die "xz is needed (apt-get install xz-utils)"
DAWN="$ROOT/node_modules/webgpu/dist/linux-x64/dawn.node"
[ -f "$DAWN" ] || die "$DAWN missing: run npm ci"
[ -f public/models/tiny/model.safetensors ] || npm run -s tiny

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
P="$STAGE/payload"
mkdir -p "$P/node_modules/webgpu/dist/linux-x64" "$P/lib" "$P/debs" "$P/golden" "$P/model" "$P/data" "$P/py"

echo "gpu-kit: bundling the runner" >&2
npx tsx scripts/kit/bundle.ts "$P/webtune-kit.mjs"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/LICENSE.md "$P/node_modules/webgpu/"
cp "$DAWN" "$P/node_modules/webgpu/dist/linux-x64/"

# Debian's Vulkan loader, downloaded once and kept in OUT/debs; unpacked here so the target
# needs no dpkg (run.sh uses it only where the machine has no libvulkan.so.1)
DEB=$(ls "$OUT"/debs/libvulkan1_*_amd64.deb 2>/dev/null | head -1 || true)
if [ -z "$DEB" ]; then
  for _ in $(seq 60); do pgrep -x apt-get >/dev/null || pgrep -x apt >/dev/null || pgrep -x dpkg >/dev/null || break; sleep 5; done
  (cd "$STAGE" && apt-get download libvulkan1:amd64 >&2) || die "apt-get download libvulkan1:amd64 failed (apt needs its network; or put the .deb in $OUT/debs/)"
  DEB=$(ls "$STAGE"/libvulkan1_*_amd64.deb | head -1)
fi
cp "$DEB" "$P/debs/"
dpkg-deb -x "$DEB" "$STAGE/deb"
cp -a "$STAGE"/deb/usr/lib/x86_64-linux-gnu/libvulkan.so.1* "$P/lib/"
cp "$STAGE"/deb/usr/share/doc/libvulkan1/copyright "$P/debs/libvulkan1.copyright" 2>/dev/null || true

# every golden case: the repo's, plus any of ../shared/golden the repo does not hold as is
for c in test/fixtures/golden/*/; do cp -r "$c" "$P/golden/"; done
if [ -d ../shared/golden ]; then
  for c in ../shared/golden/*/; do
    n=$(basename "$c")
    [ -f "$c/case.json" ] || continue
    if [ -d "$P/golden/$n" ]; then diff -rq "$c" "$P/golden/$n" >/dev/null || cp -r "$c" "$P/golden/shared-$n"; else cp -r "$c" "$P/golden/$n"; fi
  done
  cp ../shared/golden/make_golden.py "$P/py/"
fi
cp -r public/models/tiny "$P/model/"
cp public/samples/meeting-train.json "$P/data/"
# 48 rows: one epoch at batch 4 x accumulation 4 is exactly the three steps job_check.py runs
node -e 'const fs=require("fs"); const rows=JSON.parse(fs.readFileSync(process.argv[1],"utf8")).slice(0,48); if(rows.length!==48) throw new Error("need 48 rows"); fs.writeFileSync(process.argv[2], JSON.stringify(rows,null,1))' public/samples/meeting-train.json "$P/data/job-rows.json"
cp scripts/kit/peft_check.py scripts/kit/job_check.py "$P/py/"

echo "gpu-kit: compressing" >&2
# Node's binary is compressed once per binary (the slow part), kept in OUT across builds
NODE_BIN="$(node -p process.execPath)"
NODE_SUM="$(sha256sum "$NODE_BIN" | cut -d' ' -f1)"
if [ -f "$OUT/node.xz" ] && [ "$(cat "$OUT/node.sha256" 2>/dev/null)" = "$NODE_SUM" ]; then
  cp "$OUT/node.xz" "$STAGE/node.xz"
else
  xz -9e -T0 -c "$NODE_BIN" >"$STAGE/node.xz"
fi
tar -C "$P" -cf - . | xz -9e -T0 -c >"$STAGE/payload.tar.xz"

rm -rf "$OUT.new"
mkdir -p "$OUT.new/debs"
mv "$STAGE/node.xz" "$STAGE/payload.tar.xz" "$OUT.new/"
echo "$NODE_SUM" >"$OUT.new/node.sha256"
cp "$P"/debs/*.deb "$OUT.new/debs/"
cp scripts/kit/run.sh "$OUT.new/run.sh"
chmod +x "$OUT.new/run.sh"
{
  echo "Webtune GPU check kit, built $(date -u '+%Y-%m-%d %H:%M UTC') from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
  echo "node $(node --version) linux-x64, webgpu $(node -p 'require("./node_modules/webgpu/package.json").version'), $(basename "$DEB")"
  echo "golden cases: $(ls "$P/golden" | tr '\n' ' ')"
  echo "copy this folder to the GPU machine and run ./run.sh (results in ./results)"
  echo
  (cd "$P" && find . -type f -printf '%s\t%p\n' | sort -k2) | awk -F'\t' '{printf "payload %10d  %s\n", $1, $2}'
  (cd "$OUT.new" && find . -type f ! -name MANIFEST.txt -printf '%s\t%p\n' | sort -k2) | awk -F'\t' '{printf "kit     %10d  %s\n", $1, $2}'
} >"$OUT.new/MANIFEST.txt"

TOTAL=$(du -sb "$OUT.new" | cut -f1)
[ "$TOTAL" -le "$LIMIT_BYTES" ] || die "the kit is $TOTAL bytes, over the 60 MiB bound"
echo "total $TOTAL bytes (bound $LIMIT_BYTES)" >>"$OUT.new/MANIFEST.txt"
rm -rf "$OUT"
mv "$OUT.new" "$OUT"
echo "gpu-kit: $OUT, $((TOTAL / 1024)) KiB: $(ls "$OUT" | tr '\n' ' ')" >&2
