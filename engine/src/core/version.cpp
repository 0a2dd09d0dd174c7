#include "harmonylite/version.h"

#include <nats/nats.h>
#include <sqlite3.h>

#include <QtGlobal>

#include "harmonylite/build_info.h"

namespace hl {

VersionInfo versionInfo() {
  VersionInfo v;
  v.version = QStringLiteral(HL_VERSION);
  v.commit = QStringLiteral(HL_COMMIT);
  v.buildDate = QStringLiteral(HL_BUILD_DATE);
  v.qt = QString::fromLatin1(qVersion());
  v.sqlite = QString::fromLatin1(sqlite3_libversion());
  v.natsC = QString::fromLatin1(nats_GetVersion());
  return v;
}

QString versionText() {
  const VersionInfo v = versionInfo();
  return QStringLiteral(
             "harmonylite %1\n"
             "commit:     %2\n"
             "built:      %3\n"
             "libraries:  Qt %4, SQLite %5, nats.c %6\n")
      .arg(v.version, v.commit, v.buildDate, v.qt, v.sqlite, v.natsC);
}

}  // namespace hl
