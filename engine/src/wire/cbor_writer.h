// CborWriter: appends CBOR items to a growable byte buffer with libcbor's streaming encoders
// (cbor_encode_*), never allocating a cbor_item_t. Integers take their shortest form (libcbor's
// cbor_encode_uint/negint pick it), negative integers are major type 1, reals are always
// float64 (0xfb). Used by the change codec (docs/wire-format.md#message) and the shard key
// (docs/wire-format.md#shard).
//
// isValidUtf8: strict UTF-8 check as Go's utf8.Valid does it (no overlong forms, no surrogates,
// nothing above U+10FFFF).
// Thread: a writer belongs to the thread using it; isValidUtf8 is a pure function.
#pragma once

#include <QByteArray>
#include <QByteArrayView>

#include <cstddef>
#include <cstdint>

#include "wire/value.h"

namespace hl {

bool isValidUtf8(QByteArrayView bytes);

class CborWriter {
 public:
  // What value() does with a TEXT value that is not valid UTF-8.
  enum class InvalidUtf8 {
    kAsBytes,  // a CBOR byte string: the change message (Go rejects invalid text strings)
    kAsText,   // a text string holding the raw bytes, as Go's encoder does: the shard key
  };

  explicit CborWriter(qsizetype reserve = 64) { m_buffer.reserve(reserve); }

  void unsignedInt(uint64_t v);
  void integer(int64_t v);
  void real(double v);
  void null();
  void text(QByteArrayView utf8);  // the caller guarantees valid UTF-8
  void bytes(QByteArrayView data);
  void mapStart(size_t entries);
  void arrayStart(size_t items);
  void indefiniteArrayStart();
  void breakCode();
  // A SQLite value as docs/wire-format.md#message maps it: NULL, int, float64, text, byte string.
  void value(const Value& v, InvalidUtf8 invalidText);

  QByteArray take() { return std::move(m_buffer); }

 private:
  // Appends one item header written by `encode(buffer, size)` (at most 9 bytes).
  template <typename Encode>
  void header(Encode encode);

  QByteArray m_buffer;
};

}  // namespace hl
