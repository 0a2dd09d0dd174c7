// One SQLite value with its storage class kept exactly (NULL, INTEGER, REAL, TEXT, BLOB).
//
// TEXT is held as the UTF-8 bytes SQLite returned, which may be invalid UTF-8 (SQLite does not
// check); the encoder decides how to send such text (see cbor_codec.h).
// Thread: value type, any thread.
#pragma once

#include <QByteArray>
#include <QString>

#include <cstdint>

namespace hl {

class Value {
 public:
  enum class Type { kNull, kInteger, kReal, kText, kBlob };

  Value() = default;
  static Value null() { return Value(); }
  static Value integer(int64_t v) {
    Value x;
    x.m_type = Type::kInteger;
    x.m_int = v;
    return x;
  }
  static Value real(double v) {
    Value x;
    x.m_type = Type::kReal;
    x.m_real = v;
    return x;
  }
  static Value text(QByteArray utf8) {
    Value x;
    x.m_type = Type::kText;
    x.m_bytes = std::move(utf8);
    return x;
  }
  static Value text(const QString& s) { return text(s.toUtf8()); }
  static Value text(const char* utf8) { return text(QByteArray(utf8)); }
  static Value blob(QByteArray bytes) {
    Value x;
    x.m_type = Type::kBlob;
    x.m_bytes = std::move(bytes);
    return x;
  }

  Type type() const { return m_type; }
  bool isNull() const { return m_type == Type::kNull; }
  int64_t asInteger() const { return m_int; }
  double asReal() const { return m_real; }
  const QByteArray& bytes() const { return m_bytes; }  // TEXT (UTF-8) or BLOB

  // Same storage class and same value (REAL compared bit for bit, so NaN == NaN).
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }

  // For logs and test failures: NULL, 42, 1.5, 'text', x'0102'.
  QString toDebugString() const;

 private:
  Type m_type = Type::kNull;
  int64_t m_int = 0;
  double m_real = 0;
  QByteArray m_bytes;
};

}  // namespace hl
