# Sources of the embedded NATS server supervisor, added to hl_engine.
target_sources(hl_engine PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/embedded_server.cpp ${CMAKE_CURRENT_LIST_DIR}/embedded_server.h)
