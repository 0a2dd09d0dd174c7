#!/usr/bin/env bash
# The entry points of the cross builds (docs/cross-building.md), on bad input and without the
# cross packages (ctest label `cross`; runs in the source folder):
#   - an architecture that is not arm64 or armhf is refused at once, with exit code 2 and a
#     message naming the choices, by every entry point; none builds or installs anything first;
#   - when the cross packages cannot be installed, `cross-build.sh --if-possible` (what make test
#     runs) exits 0 and writes why, and each `cross` test skips with that reason.
# Usage: entry_points.sh <tst_cross_node program>
set -uo pipefail
CROSS_NODE_TEST=$1
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect_refusal <message part> <command...>
expect_refusal() {
  local want=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  ((rc == 2)) || fail "'$*' exited $rc, not 2: $out"
  [[ $out == *"$want"* ]] || fail "'$*' did not say '$want': $out"
  [[ $out != *"Building"* && $out != *"install-deps: installing"* ]] || fail "'$*' started work: $out"
  echo "ok: $* -> $(head -n 1 <<<"$out")"
}
expect_refusal "arm64 or armhf" scripts/install-deps.sh --cross mips
expect_refusal "unknown argument" scripts/install-deps.sh --arch arm64
expect_refusal "arm64 or armhf" scripts/cross-build.sh sparc /tmp/hl-never-made
expect_refusal "usage" scripts/cross-build.sh arm64
expect_refusal "amd64 (no ARCH), arm64 or armhf" make --no-print-directory package ARCH=mips
expect_refusal "ARCH=arm64 or ARCH=armhf" make --no-print-directory cross
expect_refusal "ARCH=arm64 or ARCH=armhf" make --no-print-directory test-cross ARCH=x86
[[ ! -e /tmp/hl-never-made ]] || fail "cross-build.sh made its folder for a bad ARCH"

# Without the cross packages: HL_INSTALL_DEPS stands for an install-deps.sh that fails.
dir=$(mktemp -d /tmp/hl-cross-unavailable.XXXXXX)
trap 'rm -rf "$dir"' EXIT
out=$(HL_INSTALL_DEPS=false scripts/cross-build.sh --if-possible arm64 "$dir" 2>&1) ||
  fail "cross-build.sh --if-possible failed without the cross packages: $out"
grep -q "could not be installed" "$dir/cross-unavailable.txt" || fail "no reason in $dir: $out"
[[ ! -e $dir/build.ninja ]] || fail "it configured a build without the cross packages"
out=$(HL_INSTALL_DEPS=false scripts/cross-build.sh arm64 "$dir" 2>&1) &&
  fail "cross-build.sh without --if-possible succeeded without the cross packages"
reason="the arm64 cross packages could not be installed"
HL_INSTALL_DEPS=false scripts/cross-build.sh --if-possible arm64 "$dir" >/dev/null 2>&1
for t in "unit_tests.sh arm64 $dir qemu-aarch64-static" "package_test.sh arm64 $dir $dir"; do
  # shellcheck disable=SC2086  # (the script's name and its arguments)
  out=$(bash tests/cross/$t 2>&1)
  rc=$?
  ((rc == 77)) && [[ $out == *"SKIP: $reason"* ]] || fail "$t did not skip (exit $rc): $out"
  echo "ok: $t skips: $(head -n 1 <<<"$out")"
done
out=$(HL_CROSS_ARCH=arm64 HL_CROSS_DIR=$dir HL_CROSS_EMULATOR=qemu-aarch64-static \
  QT_QPA_PLATFORM=offscreen "$CROSS_NODE_TEST" 2>&1)
[[ $out == *"SKIP   : TestCrossNode::initTestCase() $reason"* ]] || fail "tst_cross_node did not skip: $out"
echo "ok: tst_cross_node skips"
