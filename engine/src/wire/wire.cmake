# Sources of the wire codec (CBOR envelope, shard hash, zstd), added to hl_engine.
# tests/fuzz/CMakeLists.txt includes this file too, to compile the same list with clang.
set(HL_WIRE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/cbor_codec.cpp ${CMAKE_CURRENT_LIST_DIR}/cbor_codec.h
  ${CMAKE_CURRENT_LIST_DIR}/cbor_writer.cpp ${CMAKE_CURRENT_LIST_DIR}/cbor_writer.h
  ${CMAKE_CURRENT_LIST_DIR}/compression.cpp ${CMAKE_CURRENT_LIST_DIR}/compression.h
  ${CMAKE_CURRENT_LIST_DIR}/shard.cpp ${CMAKE_CURRENT_LIST_DIR}/shard.h)
if(TARGET hl_engine)
  target_sources(hl_engine PRIVATE ${HL_WIRE_SOURCES})
endif()
