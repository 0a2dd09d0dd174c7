#!/usr/bin/env bash
# Cross-builds HarmonyLite for an ARM gateway (docs/cross-building.md).
# Usage: scripts/cross-build.sh [--if-possible] ARCH DIR [TARGET...]
#   ARCH    arm64 or armhf
#   DIR     the cross build folder (make uses build-ARCH)
#   TARGET  what to build (default: everything the cross build has: the program and the
#           engine's unit tests)
#   --if-possible  (make test) when the cross packages cannot be installed, write why into
#           DIR/cross-unavailable.txt and exit 0: the `cross` tests then skip with that reason.
#           A build that fails still fails.
# Installs what it needs first (scripts/install-deps.sh --cross ARCH). The build is a Release
# (-O2, as Debian builds packages) in unity mode: it compiles the sources in batches of 16, so
# the Qt headers are parsed once per batch (about 3 minutes from an empty folder on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

if_possible=0
if [ "${1:-}" = "--if-possible" ]; then
  if_possible=1
  shift
fi
if [ $# -lt 2 ]; then
  echo "usage: scripts/cross-build.sh [--if-possible] arm64|armhf DIR [TARGET...]" >&2
  exit 2
fi
arch=$1
dir=$2
shift 2
case "$arch" in
  arm64 | armhf) ;;
  *)
    echo "cross-build: ARCH must be arm64 or armhf, not '$arch'" >&2
    exit 2
    ;;
esac

mkdir -p "$dir"
rm -f "$dir/cross-unavailable.txt"
# (HL_INSTALL_DEPS: another installer, for tests/cross/entry_points.sh's "cannot install".)
if ! ${HL_INSTALL_DEPS:-scripts/install-deps.sh} --cross "$arch"; then
  reason="the $arch cross packages could not be installed (scripts/install-deps.sh --cross $arch failed)"
  if [ $if_possible -eq 1 ]; then
    echo "cross-build: $reason; the cross tests will be skipped" >&2
    echo "$reason" >"$dir/cross-unavailable.txt"
    exit 0
  fi
  echo "cross-build: $reason" >&2
  exit 1
fi

start=$SECONDS
cmake -S . -B "$dir" -G Ninja --toolchain "cmake/toolchains/$arch.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 \
  -DHL_BUILD_BENCH=OFF >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$dir" -j "${JOBS:-$(nproc)}" "${targets[@]}"
echo "cross-build: $arch built in $dir in $((SECONDS - start)) s"
