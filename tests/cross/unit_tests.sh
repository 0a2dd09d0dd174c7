#!/usr/bin/env bash
# The engine's unit tests cross-built for ARCH, run under qemu user-mode emulation (ctest label
# `cross`, docs/cross-building.md#tests): ctest in the cross build folder, whose tests the
# toolchain file (CMAKE_CROSSCOMPILING_EMULATOR) starts with qemu-aarch64-static or
# qemu-arm-static. Exits 77 (skipped) when there is no cross build, saying why.
# Usage: unit_tests.sh ARCH CROSS_BUILD_DIR EMULATOR (e.g. qemu-aarch64-static)
set -euo pipefail

ARCH=$1
DIR=$(realpath -m "$2")
qemu=$3
skip() {
  echo "SKIP: $*"
  exit 77
}
[[ ! -f $DIR/cross-unavailable.txt ]] || skip "$(cat "$DIR/cross-unavailable.txt")"
[[ -f $DIR/tests/CTestTestfile.cmake ]] || skip "no $ARCH build in $DIR: make cross ARCH=$ARCH makes one"
# Every test is started through the emulator (never through a binfmt handler), and they are all
# there: the engine's unit tests, 21 when this was written.
listed=$(ctest --test-dir "$DIR" -N -V -L unit)
count=$(grep -c "Test command: .*/$qemu " <<<"$listed" || true)
total=$(sed -n 's/^Total Tests: //p' <<<"$listed")
echo "$count of $total unit tests start with $qemu"
if ((total < 20 || count != total)); then
  echo "FAIL: expected at least 20 unit tests, all started with $qemu" >&2
  exit 1
fi
ctest --test-dir "$DIR" -L unit --output-on-failure -j 2 --timeout 600
