# Tests of the embedded NATS server supervisor. Included from tests/CMakeLists.txt.
