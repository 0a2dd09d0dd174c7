#include "harmonylite/status.h"

namespace hl {

const char* Status::codeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kNotFound:
      return "not found";
    case Code::kIoError:
      return "I/O error";
    case Code::kCorruption:
      return "corruption";
    case Code::kBusy:
      return "busy";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kTimeout:
      return "timeout";
    case Code::kPoison:
      return "poison";
    case Code::kInternal:
      return "internal error";
    case Code::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

QString Status::toString() const {
  if (isOk()) return QStringLiteral("OK");
  return QString::fromLatin1(codeName(m_code)) + QStringLiteral(": ") + m_message;
}

}  // namespace hl
