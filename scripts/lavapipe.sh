#!/usr/bin/env bash
# Mesa >= 25 lavapipe (a Vulkan driver on the CPU) for Dawn in Node, without touching the
# system's drivers: Debian 12's own lavapipe 22.3 is refused by Dawn, while 25.x from
# bookworm-backports gives it shader-f16, subgroups, subgroup-size-control and timestamps, so
# the f16 and subgroup kernel paths real GPUs take can run in the tests.
#
#   scripts/lavapipe.sh            prints the ICD json path (fetches on first use)
#   scripts/lavapipe.sh --check    prints the path if already fetched, else exits 1 (no network)
#
# How: a temporary apt source list for bookworm-backports in a private apt state folder,
# `apt-get download mesa-vulkan-drivers`, `dpkg -x` into the cache, and an ICD json whose
# library_path is absolute. The cache is $WEBTUNE_LAVAPIPE_DIR, else ~/.cache/webtune/lavapipe.
# libLLVM-15 (the driver's one library Debian 12 may lack) is installed with apt when missing.
set -euo pipefail

CACHE="${WEBTUNE_LAVAPIPE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/webtune/lavapipe}"
ICD="$CACHE/lvp_icd.json"
LIB="$CACHE/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
VERSION_PREFIX="25."

if [ -f "$ICD" ] && [ -f "$LIB" ]; then
  echo "$ICD"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "lavapipe: not fetched yet (run scripts/lavapipe.sh)" >&2
  exit 1
fi

say() { echo "lavapipe: $*" >&2; }
command -v apt-get >/dev/null || { say "needs apt-get and dpkg (Debian or Ubuntu)"; exit 1; }
[ "$(uname -m)" = x86_64 ] || { say "only x86_64 is packaged here, this is $(uname -m)"; exit 1; }

mkdir -p "$CACHE"
apt_dir="$(mktemp -d "$CACHE/apt.XXXXXX")"
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb http://deb.debian.org/debian bookworm-backports main" >"$apt_dir/sources.list"
opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root"
  -o "Debug::NoLocking=1")
say "fetching mesa-vulkan-drivers from bookworm-backports into $CACHE"
apt-get "${opts[@]}" -qq update >&2
version="$(apt-cache "${opts[@]}" madison mesa-vulkan-drivers | awk -v p="$VERSION_PREFIX" '$3 ~ "^"p {print $3; exit}')"
[ -n "$version" ] || { say "no mesa-vulkan-drivers ${VERSION_PREFIX}x in bookworm-backports"; exit 1; }
(cd "$apt_dir" && apt-get "${opts[@]}" -qq download "mesa-vulkan-drivers=$version" >&2)
rm -rf "$CACHE/root"
dpkg -x "$apt_dir"/mesa-vulkan-drivers_*.deb "$CACHE/root"
[ -f "$LIB" ] || { say "the package has no libvulkan_lvp.so"; exit 1; }

# Libraries the driver links against that this machine lacks (libLLVM-15 on a bare Debian 12).
missing="$(ldd "$LIB" | awk '/not found/ {print $1}')"
if echo "$missing" | grep -q 'libLLVM-15'; then
  say "installing libllvm15"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libllvm15 >&2
  missing="$(ldd "$LIB" | awk '/not found/ {print $1}')"
fi
[ -z "$missing" ] || { say "the driver needs libraries this machine lacks: $missing"; exit 1; }

api="$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$CACHE/root/usr/share/vulkan/icd.d/lvp_icd.json")"
printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "%s"}}\n' "$LIB" "${api:-1.3.0}" >"$ICD.tmp"
mv "$ICD.tmp" "$ICD"
echo "$version" >"$CACHE/version"
say "Mesa $version lavapipe ready"
echo "$ICD"
