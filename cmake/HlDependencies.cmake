# Imported targets for the C libraries the engine uses, found with pkg-config.
# Debian's cnats CMake config (cnats-config.cmake) points at files that are not installed,
# so nats.c is wrapped through its pkg-config file instead.
pkg_check_modules(HL_NATS REQUIRED IMPORTED_TARGET libnats>=3.4)
pkg_check_modules(HL_CBOR REQUIRED IMPORTED_TARGET libcbor>=0.8)
pkg_check_modules(HL_ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(HL_SQLITE REQUIRED IMPORTED_TARGET sqlite3>=3.40)
pkg_check_modules(HL_TOML REQUIRED IMPORTED_TARGET tomlplusplus>=3.3)
pkg_check_modules(HL_CRYPTO REQUIRED IMPORTED_TARGET libcrypto>=3)
pkg_check_modules(HL_CURL REQUIRED IMPORTED_TARGET libcurl>=7.75)

add_library(hl::nats ALIAS PkgConfig::HL_NATS)
add_library(hl::cbor ALIAS PkgConfig::HL_CBOR)
add_library(hl::zstd ALIAS PkgConfig::HL_ZSTD)
add_library(hl::sqlite3 ALIAS PkgConfig::HL_SQLITE)
add_library(hl::toml ALIAS PkgConfig::HL_TOML)
add_library(hl::crypto ALIAS PkgConfig::HL_CRYPTO)
# libcurl: its header only. The engine loads libcurl.so.4 when a remote snapshot store first
# needs it (engine/src/snapshot/curl_library.h), so a node that never uses one does not map it.
add_library(hl_curl_headers INTERFACE)
target_include_directories(hl_curl_headers INTERFACE ${HL_CURL_INCLUDE_DIRS})
target_compile_options(hl_curl_headers INTERFACE ${HL_CURL_CFLAGS_OTHER})
target_link_libraries(hl_curl_headers INTERFACE ${CMAKE_DL_LIBS})
add_library(hl::curl ALIAS hl_curl_headers)
