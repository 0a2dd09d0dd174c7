#!/usr/bin/env bash
# The cross-built packages (ctest label `cross`, docs/cross-building.md#tests). Builds the
# ARCH packages with CPack from the cross build folder and the amd64 .deb from the native one,
# then checks that the ARCH ones are the same package for another machine:
#   - file names harmonylite_<version>-<revision>_ARCH.deb / .tar.gz, and no .rpm;
#   - control fields: Architecture ARCH, the same Package, Version, Section, Maintainer, and
#     Depends naming the same packages as the amd64 one (dpkg-shlibdeps ran for ARCH);
#   - the same file list, maintainer scripts and conffiles as the amd64 .deb, and the .tar.gz
#     holding the .deb's files;
#   - /usr/bin/harmonylite and /usr/lib/harmonylite/harmonylite-dashboard built for ARCH (ELF machine; armhf: the hard-float ABI) with the
#     hardening flags (PIE, full RELRO, immediate binding, stack protector, fortified calls);
#   - lintian: no tag on the ARCH .deb that the amd64 one does not have.
# Installs nothing. Exits 77 (skipped) when there is no cross build, saying why.
# Usage: package_test.sh ARCH CROSS_BUILD_DIR NATIVE_BUILD_DIR
set -euo pipefail

ARCH=$1
CROSS_DIR=$(realpath -m "$2")
NATIVE_DIR=$(realpath "$3")
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  echo "SKIP: $*"
  exit 77
}
START=$SECONDS
step() { echo "== [$((SECONDS - START))s] $*"; }

[[ ! -f $CROSS_DIR/cross-unavailable.txt ]] || skip "$(cat "$CROSS_DIR/cross-unavailable.txt")"
[[ -x $CROSS_DIR/app/harmonylite ]] || skip "no $ARCH build in $CROSS_DIR: make cross ARCH=$ARCH makes one"
case $ARCH in
  arm64) machine=AArch64 triple=aarch64-linux-gnu ;;
  armhf) machine=ARM triple=arm-linux-gnueabihf ;;
  *) fail "ARCH must be arm64 or armhf, not $ARCH" ;;
esac

WORK=$(mktemp -d /tmp/hl-cross-package.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

step "building the $ARCH packages (cross build) and the amd64 .deb (native build)"
(cd "$CROSS_DIR" && cpack -B "$WORK/cross") >"$WORK/cpack-cross.log" 2>&1 ||
  fail "cpack ($ARCH) failed: $(tail -n 20 "$WORK/cpack-cross.log")"
(cd "$NATIVE_DIR" && cpack -G DEB -B "$WORK/native") >"$WORK/cpack-native.log" 2>&1 ||
  fail "cpack (amd64) failed: $(tail -n 20 "$WORK/cpack-native.log")"
version=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_VERSION "\(.*\)")$/\1/p' "$CROSS_DIR/CPackConfig.cmake")
release=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_RELEASE "\(.*\)")$/\1/p' "$CROSS_DIR/CPackConfig.cmake")
[[ -n $version ]] || version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$CROSS_DIR/CPackConfig.cmake")
name=harmonylite_${version}-${release}_$ARCH
ls -l "$WORK"/cross/harmonylite* "$WORK"/native/harmonylite*
DEB=$WORK/cross/$name.deb
TGZ=$WORK/cross/$name.tar.gz
NDEB=$(ls "$WORK"/native/harmonylite_*_amd64.deb)
[[ -f $DEB ]] || fail "no $name.deb"
[[ -f $TGZ ]] || fail "no $name.tar.gz"
if ls "$WORK"/cross/*.rpm >/dev/null 2>&1; then fail "a cross build made an .rpm (rpmbuild builds for amd64)"; fi
echo "sizes: $(stat -c '%n %s' "$DEB" "$TGZ" "$NDEB" | sed "s|$WORK/||g" | tr '\n' ';')"

step "control fields"
field() { dpkg-deb -f "$1" "$2"; }
[[ $(field "$DEB" Architecture) == "$ARCH" ]] || fail "Architecture is $(field "$DEB" Architecture), not $ARCH"
for f in Package Version Section Priority Maintainer Recommends Homepage; do
  [[ $(field "$DEB" $f) == "$(field "$NDEB" $f)" ]] || fail "$f differs: '$(field "$DEB" $f)' vs amd64 '$(field "$NDEB" $f)'"
done
# The names in Depends (versions may differ by architecture): the same set, libraries included.
names() { field "$1" Depends | tr ',' '\n' | sed 's/(.*)//; s/ //g' | sort; }
diff <(names "$NDEB") <(names "$DEB") >"$WORK/depends.diff" ||
  fail "Depends names other packages than amd64's: $(cat "$WORK/depends.diff")"
for dep in libc6 libqt6core6 libnats3.4 libsqlite3-0 nats-server; do
  grep -qx "$dep" <(names "$DEB") || fail "Depends lacks $dep"
done
echo "Depends: $(field "$DEB" Depends)"

step "files, maintainer scripts, conffiles"
files() { dpkg-deb -c "$1" | awk '{print $1, $2, $6}' | sort -k3; }
diff <(files "$NDEB") <(files "$DEB") >"$WORK/files.diff" ||
  fail "the file list (modes, owners, paths) differs from amd64's: $(cat "$WORK/files.diff")"
dpkg-deb -e "$DEB" "$WORK/control-cross"
dpkg-deb -e "$NDEB" "$WORK/control-native"
for f in conffiles postinst prerm postrm; do
  cmp -s "$WORK/control-cross/$f" "$WORK/control-native/$f" || fail "$f differs from amd64's"
  [[ $(stat -c %a "$WORK/control-cross/$f") == "$(stat -c %a "$WORK/control-native/$f")" ]] ||
    fail "$f has another mode than amd64's"
done
diff <(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | sort) \
  <(tar -tzf "$TGZ" | grep -v '/$' | sed "s|^$name/||" | sort) >"$WORK/tgz.diff" ||
  fail "the .tar.gz holds other files than the .deb: $(cat "$WORK/tgz.diff")"

step "the programs: ELF machine and hardening"
dpkg-deb -x "$DEB" "$WORK/root"
for prog in usr/bin/harmonylite usr/lib/harmonylite/harmonylite-dashboard; do
  BIN=$WORK/root/$prog
  [[ -x $BIN ]] || fail "the .deb has no /$prog"
  readelf -h "$BIN" >"$WORK/elf.txt"
  grep -E "Machine|Flags|Class" "$WORK/elf.txt"
  grep -Eq "Machine:[[:space:]]+$machine\$" "$WORK/elf.txt" || fail "/$prog is not an $machine program"
  [[ $ARCH != armhf ]] || grep -q "hard-float ABI" "$WORK/elf.txt" || fail "the armhf /$prog is not hard-float"
  grep -q "DYN (Position-Independent" "$WORK/elf.txt" || fail "/$prog is not a PIE"
  readelf -lW "$BIN" | grep -q GNU_RELRO || fail "/$prog has no RELRO segment"
  readelf -dW "$BIN" | grep -q "Flags: NOW" || fail "/$prog has no immediate binding (-z now)"
  syms=$(readelf -sW --dyn-syms "$BIN")
  grep -q "__stack_chk_fail" <<<"$syms" || fail "/$prog has no stack protector"
  grep -Eq "__[a-z_]+_chk@" <<<"$syms" || fail "/$prog has no fortified libc calls"
  [[ -z $(readelf -S "$BIN" | grep -F .debug_info || true) ]] || fail "/$prog is not stripped"
done
# The headless program needs no GUI library and loads libcurl itself (docs/architecture.md).
[[ -z $(readelf -dW "$WORK/root/usr/bin/harmonylite" | grep -E "NEEDED.*(libQt6(Gui|Quick|Qml|Widgets)|libcurl)" || true) ]] ||
  fail "/usr/bin/harmonylite links a GUI library or libcurl"

step "lintian (the $ARCH .deb next to the amd64 one)"
tags() { lintian --tag-display-limit 0 "$1" 2>/dev/null | sed -n 's/^\([EWIXP]\): harmonylite[^:]*: \([^ ]*\).*/\1 \2/p' | sort -u; }
tags "$NDEB" >"$WORK/lintian-native"
tags "$DEB" >"$WORK/lintian-cross"
echo "amd64: $(wc -l <"$WORK/lintian-native") tag(s); $ARCH: $(wc -l <"$WORK/lintian-cross") tag(s)"
cat "$WORK/lintian-cross"
extra=$(comm -13 "$WORK/lintian-native" "$WORK/lintian-cross")
[[ -z $extra ]] || fail "lintian tags the $ARCH .deb with what the amd64 one has not: $extra"

step "done"
