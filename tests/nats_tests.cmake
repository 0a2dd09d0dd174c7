# Tests of the embedded NATS server supervisor. Included from tests/CMakeLists.txt.

# A node stand-in for the "child dies with its parent" test: starts an EmbeddedServer, prints
# "<server pid> <client url>" and runs until killed.
add_executable(embedded_server_host tools/embedded_server_host.cpp)
target_link_libraries(embedded_server_host PRIVATE hl_engine_internal Qt6::Core)

hl_add_test(tst_embedded_server LABEL integration SOURCES integration/tst_embedded_server.cpp)
target_compile_definitions(tst_embedded_server PRIVATE
  HL_EMBEDDED_SERVER_HOST="$<TARGET_FILE:embedded_server_host>")
add_dependencies(tst_embedded_server embedded_server_host)
