#include "snapshot/snapshot_store.h"

#include <QStringList>

namespace hl {

Status validateObjectName(const QString& name) {
  auto bad = [&](const QString& why) {
    return Status::invalidArgument(QStringLiteral("object name \"%1\": %2").arg(name, why));
  };
  if (name.isEmpty()) return bad("empty");
  if (name.size() > 255) return bad("longer than 255 characters");
  for (const QString& part : name.split('/')) {
    if (part.isEmpty() || part == "." || part == "..")
      return bad("empty, \".\" or \"..\" path part");
  }
  for (QChar c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '/';
    if (!ok) return bad(QStringLiteral("character '%1' is not allowed").arg(c));
  }
  return Status::ok();
}

}  // namespace hl
