#include "wire/cbor_writer.h"

#include <cbor.h>

#include <cstdint>
#include <cstring>

namespace hl {

bool isValidUtf8(QByteArrayView bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();
  while (p < end) {
    const unsigned lead = *p;
    if (lead < 0x80) {
      // ASCII, most text: then eight bytes at a time while none has its high bit set (a 1 KB
      // ASCII value: 1,533 ns byte by byte, 79 ns so; docs/replication.md#performance).
      ++p;
      while (end - p >= 8) {
        uint64_t word;
        std::memcpy(&word, p, sizeof word);
        if (word & 0x8080808080808080ULL) break;
        p += 8;
      }
      continue;
    }
    int continuation = 0;
    unsigned low = 0x80, high = 0xbf;  // allowed range of the first continuation byte
    if (lead >= 0xc2 && lead <= 0xdf) {
      continuation = 1;
    } else if (lead == 0xe0) {
      continuation = 2;
      low = 0xa0;  // no overlong 3-byte forms
    } else if (lead == 0xed) {
      continuation = 2;
      high = 0x9f;  // no UTF-16 surrogates
    } else if (lead >= 0xe1 && lead <= 0xef) {
      continuation = 2;
    } else if (lead == 0xf0) {
      continuation = 3;
      low = 0x90;  // no overlong 4-byte forms
    } else if (lead >= 0xf1 && lead <= 0xf3) {
      continuation = 3;
    } else if (lead == 0xf4) {
      continuation = 3;
      high = 0x8f;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (end - p <= continuation || p[1] < low || p[1] > high) return false;
    for (int i = 2; i <= continuation; ++i)
      if ((p[i] & 0xc0) != 0x80) return false;
    p += continuation + 1;
  }
  return true;
}

template <typename Encode>
void CborWriter::header(Encode encode) {
  constexpr qsizetype kMaxHeader = 9;
  const qsizetype at = m_buffer.size();
  m_buffer.resize(at + kMaxHeader);
  const size_t written =
      encode(reinterpret_cast<unsigned char*>(m_buffer.data() + at), size_t(kMaxHeader));
  m_buffer.resize(at + qsizetype(written));
}

void CborWriter::unsignedInt(uint64_t v) {
  header([v](unsigned char* b, size_t n) { return cbor_encode_uint(v, b, n); });
}

void CborWriter::integer(int64_t v) {
  if (v >= 0) return unsignedInt(uint64_t(v));
  // Major type 1 carries -1 - v; for INT64_MIN that is INT64_MAX, so nothing overflows.
  const uint64_t magnitude = uint64_t(-1 - v);
  header([magnitude](unsigned char* b, size_t n) { return cbor_encode_negint(magnitude, b, n); });
}

void CborWriter::real(double v) {
  header([v](unsigned char* b, size_t n) { return cbor_encode_double(v, b, n); });
}

void CborWriter::null() {
  header([](unsigned char* b, size_t n) { return cbor_encode_null(b, n); });
}

void CborWriter::text(QByteArrayView utf8) {
  header([&](unsigned char* b, size_t n) { return cbor_encode_string_start(utf8.size(), b, n); });
  m_buffer.append(utf8);
}

void CborWriter::bytes(QByteArrayView data) {
  header(
      [&](unsigned char* b, size_t n) { return cbor_encode_bytestring_start(data.size(), b, n); });
  m_buffer.append(data);
}

void CborWriter::mapStart(size_t entries) {
  header([entries](unsigned char* b, size_t n) { return cbor_encode_map_start(entries, b, n); });
}

void CborWriter::arrayStart(size_t items) {
  header([items](unsigned char* b, size_t n) { return cbor_encode_array_start(items, b, n); });
}

void CborWriter::indefiniteArrayStart() {
  header([](unsigned char* b, size_t n) { return cbor_encode_indef_array_start(b, n); });
}

void CborWriter::breakCode() {
  header([](unsigned char* b, size_t n) { return cbor_encode_break(b, n); });
}

void CborWriter::value(const Value& v, InvalidUtf8 invalidText) {
  switch (v.type()) {
    case Value::Type::kNull:
      return null();
    case Value::Type::kInteger:
      return integer(v.asInteger());
    case Value::Type::kReal:
      return real(v.asReal());
    case Value::Type::kText:
      if (invalidText == InvalidUtf8::kAsText || isValidUtf8(v.bytes())) return text(v.bytes());
      return bytes(v.bytes());
    case Value::Type::kBlob:
      return bytes(v.bytes());
  }
}

}  // namespace hl
