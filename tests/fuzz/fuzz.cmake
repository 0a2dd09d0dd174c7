# fuzz_decode: libFuzzer + ASan + UBSan over the receive path, built by clang++ as its own
# project (tests/fuzz/CMakeLists.txt) since the main build uses g++. Needs clang++ and its
# libFuzzer runtime. Included from tests/CMakeLists.txt.
find_program(HL_CLANGXX NAMES clang++-14 clang++)
set(hl_fuzzer_runtime "")
if(HL_CLANGXX)
  execute_process(COMMAND ${HL_CLANGXX} -print-resource-dir OUTPUT_VARIABLE hl_clang_resources
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  set(hl_fuzzer_runtime
      "${hl_clang_resources}/lib/linux/libclang_rt.fuzzer-${CMAKE_SYSTEM_PROCESSOR}.a")
endif()
if(NOT HL_CLANGXX OR NOT EXISTS "${hl_fuzzer_runtime}")
  message(WARNING "clang++ or its libFuzzer runtime (libclang-rt-dev) not found: "
                  "the fuzz_decode, fuzz_config and fuzz_seq_map tests are not built")
  return()
endif()

include(ExternalProject)
set(hl_fuzz_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
ExternalProject_Add(fuzz_decode_build
  SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}
  BINARY_DIR ${hl_fuzz_dir}
  CMAKE_ARGS -DCMAKE_CXX_COMPILER=${HL_CLANGXX}
             -DHL_ENGINE_DIR=${PROJECT_SOURCE_DIR}/engine
             -DCMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH}
  BUILD_ALWAYS ON
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS ${hl_fuzz_dir}/fuzz_decode ${hl_fuzz_dir}/fuzz_config ${hl_fuzz_dir}/fuzz_seq_map)

# 30 s of fuzzing from the seeds in tests/fuzz/corpus; new inputs go to the build's corpus.
# A crash, a sanitizer report or a failed round trip makes the fuzzer exit non-zero.
hl_add_check(fuzz_decode LABEL unit TIMEOUT 120
  COMMAND ${hl_fuzz_dir}/fuzz_decode -max_total_time=30 -rss_limit_mb=2048 -timeout=10
          -max_len=8192 -print_final_stats=1 -dict=${CMAKE_CURRENT_LIST_DIR}/cbor.dict
          -artifact_prefix=${hl_fuzz_dir}/ ${hl_fuzz_dir}/corpus ${CMAKE_CURRENT_LIST_DIR}/corpus)

# 15 s each of the configuration loader and the seq-map reader (docs/replication.md#hostile-input),
# from the seeds in tests/fuzz/corpus-config and tests/fuzz/corpus-seq-map.
hl_add_check(fuzz_config LABEL unit TIMEOUT 90
  COMMAND ${hl_fuzz_dir}/fuzz_config -max_total_time=15 -rss_limit_mb=2048 -timeout=10
          -max_len=4096 -print_final_stats=1 -artifact_prefix=${hl_fuzz_dir}/config-
          ${hl_fuzz_dir}/corpus-fuzz_config ${CMAKE_CURRENT_LIST_DIR}/corpus-config)
hl_add_check(fuzz_seq_map LABEL unit TIMEOUT 90
  COMMAND ${hl_fuzz_dir}/fuzz_seq_map -max_total_time=15 -rss_limit_mb=2048 -timeout=10
          -max_len=4096 -print_final_stats=1 -dict=${CMAKE_CURRENT_LIST_DIR}/cbor.dict
          -artifact_prefix=${hl_fuzz_dir}/seq-map- ${hl_fuzz_dir}/corpus-fuzz_seq_map
          ${CMAKE_CURRENT_LIST_DIR}/corpus-seq-map)
