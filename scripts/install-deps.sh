#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing HarmonyLite needs.
# Idempotent: when every package is already installed it does nothing (no apt-get call).
# Usage: scripts/install-deps.sh                 (needs root, or sudo)
#        scripts/install-deps.sh --cross ARCH    ARCH = arm64 or armhf (docs/cross-building.md):
#   also adds ARCH as a dpkg foreign architecture and installs the cross compiler, the ARCH
#   development packages (multiarch, beside the amd64 ones) and qemu-user-static, which the
#   cross tests run ARCH programs with, explicitly: no binfmt handler is registered.
set -euo pipefail

CROSS_ARCH=""
if [ "${1:-}" = "--cross" ]; then
  CROSS_ARCH=${2:-}
  case "$CROSS_ARCH" in
    arm64 | armhf) ;;
    *)
      echo "install-deps: --cross takes arm64 or armhf, not '${CROSS_ARCH}'" >&2
      exit 2
      ;;
  esac
elif [ $# -gt 0 ]; then
  echo "install-deps: unknown argument '$1' (usage: install-deps.sh [--cross arm64|armhf])" >&2
  exit 2
fi

PACKAGES=(
  # toolchain; clang-format (14 on Debian 12) for the format check, `make format`
  build-essential cmake ninja-build pkg-config git clang-format
  # Qt 6.4: engine (Core/Network), GUI (Qml/Quick/Controls/Charts), HTTP endpoints, tests
  qt6-base-dev qt6-declarative-dev qt6-charts-dev qt6-httpserver-dev qt6-websockets-dev
  qt6-declarative-dev-tools  # qmlcachegen, qmllint (the qmllint test)
  libqt6quicktest6 qt6-qpa-plugins
  qml6-module-qtqml qml6-module-qtqml-workerscript qml6-module-qtquick
  qml6-module-qtquick-controls qml6-module-qtquick-templates qml6-module-qtquick-layouts
  qml6-module-qtquick-window qml6-module-qtquick-dialogs qml6-module-qt-labs-folderlistmodel qml6-module-qtcharts qml6-module-qttest
  # storage, wire, config
  libsqlite3-dev sqlite3 libcbor-dev libzstd-dev libtomlplusplus-dev libcurl4-openssl-dev libssl-dev
  # NATS: client library and the real broker (embedded-server child process, test fixtures)
  libnats-dev nats-server
  # tests: TLS material, a display for GUI tests, libFuzzer runtime
  openssl xvfb xauth clang libclang-rt-14-dev
  # snapshot store test servers: WebDAV (lighttpd mod_webdav, TLS), SFTP (OpenSSH sshd, run
  # by the tests only, in their own namespaces; the package's service is never started here)
  lighttpd lighttpd-mod-webdav lighttpd-mod-openssl openssh-server
  # promtool (checks the /metrics exposition in a test)
  prometheus
  # packages (make package, the package test): CPack's tools, lintian, rpmbuild, the icon
  # renderer, the users' tools the test runs (adduser, curl, systemd-analyze)
  dpkg-dev fakeroot file lintian rpm librsvg2-bin adduser curl systemd
)

# Node.js and npm for the official NATS JavaScript client of tests/interop (setup.sh installs
# the client from npm): Debian's packages, unless a node and npm are already there (a NodeSource
# nodejs bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1; then PACKAGES+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(npm); fi

# Cross building for ARCH: the target's libraries as ARCH packages (Multi-Arch: same, installed
# beside the amd64 ones); Qt's host tools (moc, rcc, qmlcachegen) stay the amd64 ones above.
if [ -n "$CROSS_ARCH" ]; then
  PACKAGES+=("crossbuild-essential-$CROSS_ARCH" qemu-user-static)
  for p in qt6-base-dev qt6-declarative-dev qt6-charts-dev qt6-httpserver-dev qt6-websockets-dev \
    libqt6quicktest6 libsqlite3-dev libcbor-dev libzstd-dev libtomlplusplus-dev \
    libcurl4-openssl-dev libssl-dev libnats-dev \
    qt6-qpa-plugins qml6-module-qtqml qml6-module-qtqml-workerscript qml6-module-qtquick \
    qml6-module-qtquick-controls qml6-module-qtquick-templates qml6-module-qtquick-layouts \
    qml6-module-qtquick-window qml6-module-qtquick-dialogs qml6-module-qt-labs-folderlistmodel \
    qml6-module-qtcharts; do  # (the QML modules: the dashboard's run under emulation)
    PACKAGES+=("$p:$CROSS_ARCH")
  done
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

added_arch=0
if [ -n "$CROSS_ARCH" ] && ! dpkg --print-foreign-architectures | grep -qx "$CROSS_ARCH"; then
  echo "install-deps: adding the dpkg architecture $CROSS_ARCH"
  $SUDO dpkg --add-architecture "$CROSS_ARCH"
  added_arch=1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ] && [ $added_arch -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
