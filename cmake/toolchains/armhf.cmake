# make package ARCH=armhf: 32-bit ARMv7 with hardware floating point (Raspberry Pi OS 32-bit,
# i.MX6, older industrial gateways).
set(HL_CROSS_ARCH armhf)
set(HL_CROSS_TRIPLE arm-linux-gnueabihf)
set(HL_QEMU_NAME arm)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
