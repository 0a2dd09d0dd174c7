// Force-included into fuzz_config's sources (tests/fuzz/CMakeLists.txt): toml++ without its
// internal assertions, as the shipped library is built. See the note there.
#pragma once
#define TOML_ASSERT(expr) ((void)0)
