# make package ARCH=arm64: 64-bit ARM (Raspberry Pi 3/4/5 on a 64-bit OS, NXP i.MX8, Rockchip).
set(HL_CROSS_ARCH arm64)
set(HL_CROSS_TRIPLE aarch64-linux-gnu)
set(HL_QEMU_NAME aarch64)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
