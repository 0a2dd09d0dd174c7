# Cross-building on Debian 12 with multiarch (docs/cross-building.md). Included by the
# per-architecture toolchain files, which set HL_CROSS_ARCH (the Debian architecture),
# HL_CROSS_TRIPLE (the GNU triplet of its compiler and library directory) and
# CMAKE_SYSTEM_PROCESSOR first.
#
# The target's libraries are Debian's own ARCH packages installed beside the build machine's
# (scripts/install-deps.sh --cross ARCH), so the sysroot is / and they are found in
# /usr/lib/<triplet>. Qt's build tools (moc, rcc, qmlcachegen, qmltyperegistrar) run on the
# build machine: QT_HOST_PATH points Qt at the amd64 ones. Programs built here run under
# qemu-user-static in user mode (CMAKE_CROSSCOMPILING_EMULATOR), never through binfmt.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${HL_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${HL_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${HL_CROSS_TRIPLE})

# Multiarch: the target's files live under / too; look for libraries and headers there only for
# the target, and for programs on the build machine.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config reads the target's .pc files (nats.c, libcbor, zstd, SQLite, toml++, libcurl).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${HL_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Qt 6's host tools of the build machine.
set(QT_HOST_PATH /usr CACHE PATH "Qt host tools prefix")
set(QT_HOST_PATH_CMAKE_DIR /usr/lib/x86_64-linux-gnu/cmake CACHE PATH "Qt host tools CMake dir")

# Test programs built here run with the emulator (ctest in the cross build folder).
find_program(HL_QEMU_USER qemu-${HL_QEMU_NAME}-static)
if(HL_QEMU_USER)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${HL_QEMU_USER})
endif()

# The package's Debian architecture (installer/packaging.cmake).
set(HL_DEB_ARCH ${HL_CROSS_ARCH} CACHE STRING "Debian architecture of the packages")
