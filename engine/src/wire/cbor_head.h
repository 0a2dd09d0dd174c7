// Heads whose length is written in 8 bytes, read the same on every architecture
// (docs/cross-building.md#what-the-arm-builds-found).
//
// libcbor 0.8 hands string, array and map lengths to its callbacks as size_t. On a 32-bit
// machine (armhf) a length written in 8 bytes is cut to its low 32 bits: a text declaring
// 2^32 + 3 bytes decodes there as a 3-byte text, and a message amd64 rejects would be read as
// another message. The decoders (cbor_codec.cpp, seq_map.cpp) ask this first: a string head
// of this kind declares more than the input holds (any string that fits is far below 2^31 and
// libcbor reads it right), and an array or map head gets its full 64-bit count.
#pragma once

#include <QByteArrayView>

#include <cstdint>
#include <optional>

namespace hl {

struct LongLengthHead {
  enum class Kind { kTextOrBytes, kArray, kMap } kind;
  uint64_t length = 0;
  bool truncated = false;                // kTextOrBytes: declares more bytes than follow the head
  static constexpr qsizetype kSize = 9;  // the initial byte and 8 bytes of length
};

// The head at the start of `input` if it is a definite string, array or map head with an
// 8-byte length (additional information 27); nullopt for every other item.
inline std::optional<LongLengthHead> longLengthHead(QByteArrayView input) {
  if (input.size() < LongLengthHead::kSize) return std::nullopt;  // (libcbor says "truncated")
  const auto initial = uint8_t(input[0]);
  const int major = initial >> 5;
  if ((initial & 0x1f) != 27 || major < 2 || major > 5) return std::nullopt;
  LongLengthHead h{};
  for (qsizetype i = 1; i < LongLengthHead::kSize; ++i)
    h.length = (h.length << 8) | uint8_t(input[i]);
  if (major <= 3) {
    h.kind = LongLengthHead::Kind::kTextOrBytes;
    h.truncated = h.length > uint64_t(input.size() - LongLengthHead::kSize);
  } else {
    h.kind = major == 4 ? LongLengthHead::Kind::kArray : LongLengthHead::Kind::kMap;
  }
  return h;
}

}  // namespace hl
