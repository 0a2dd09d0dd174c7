#include "wire/value.h"

#include <cstring>

namespace hl {

bool Value::operator==(const Value& o) const {
  if (m_type != o.m_type) return false;
  switch (m_type) {
    case Type::kNull:
      return true;
    case Type::kInteger:
      return m_int == o.m_int;
    case Type::kReal:
      return std::memcmp(&m_real, &o.m_real, sizeof m_real) == 0;
    case Type::kText:
    case Type::kBlob:
      return m_bytes == o.m_bytes;
  }
  return false;
}

QString Value::toDebugString() const {
  switch (m_type) {
    case Type::kNull:
      return QStringLiteral("NULL");
    case Type::kInteger:
      return QString::number(m_int);
    case Type::kReal:
      return QString::number(m_real, 'g', 17);
    case Type::kText:
      return '\'' + QString::fromUtf8(m_bytes) + '\'';
    case Type::kBlob:
      return QStringLiteral("x'") + QString::fromLatin1(m_bytes.toHex()) + '\'';
  }
  return {};
}

}  // namespace hl
