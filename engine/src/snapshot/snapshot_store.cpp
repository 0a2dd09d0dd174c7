#include "snapshot/snapshot_store.h"

#include <QRandomGenerator>
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

QString temporaryName(const QString& name) {
  const qsizetype slash = name.lastIndexOf('/');
  const quint64 r = QRandomGenerator::global()->generate64();
  return name.left(slash + 1) + '.' + name.mid(slash + 1) + QStringLiteral(".part-") +
         QStringLiteral("%1").arg(r, 16, 16, QLatin1Char('0'));
}

bool isTemporaryName(const QString& name) {
  const QString last = name.mid(name.lastIndexOf('/') + 1);
  return last.startsWith('.') && last.contains(QLatin1String(".part-"));
}

}  // namespace hl
