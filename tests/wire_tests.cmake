# Tests of the wire codec (vectors, codec, fuzz). Included from tests/CMakeLists.txt.
