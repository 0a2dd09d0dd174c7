# The sources of the wire folder (change type, values, CBOR envelope, shard hash, zstd, seq-map
# parser): read by engine/CMakeLists.txt for hl_engine and by tests/fuzz/CMakeLists.txt, which
# compiles the same list with clang++ and the fuzzer's sanitizers.
set(HL_WIRE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/cbor_codec.cpp ${CMAKE_CURRENT_LIST_DIR}/cbor_codec.h
  ${CMAKE_CURRENT_LIST_DIR}/cbor_head.h
  ${CMAKE_CURRENT_LIST_DIR}/cbor_writer.cpp ${CMAKE_CURRENT_LIST_DIR}/cbor_writer.h
  ${CMAKE_CURRENT_LIST_DIR}/change.cpp ${CMAKE_CURRENT_LIST_DIR}/change.h
  ${CMAKE_CURRENT_LIST_DIR}/compression.cpp ${CMAKE_CURRENT_LIST_DIR}/compression.h
  ${CMAKE_CURRENT_LIST_DIR}/seq_map.cpp ${CMAKE_CURRENT_LIST_DIR}/seq_map.h
  ${CMAKE_CURRENT_LIST_DIR}/shard.cpp ${CMAKE_CURRENT_LIST_DIR}/shard.h
  ${CMAKE_CURRENT_LIST_DIR}/value.cpp ${CMAKE_CURRENT_LIST_DIR}/value.h)
