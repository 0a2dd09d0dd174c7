// Build and library versions, for -version, logs, /health and the status record.
// Thread: any (pure functions).
#pragma once

#include <QString>

namespace hl {

struct VersionInfo {
  QString version;    // from `git describe` at build time
  QString commit;     // full git commit hash, or "unknown"
  QString buildDate;  // UTC date of the build
  QString qt;         // runtime Qt version
  QString sqlite;     // runtime SQLite version
  QString natsC;      // runtime nats.c version
};

VersionInfo versionInfo();

// Multi-line text printed by `harmonylite -version`.
QString versionText();

}  // namespace hl
