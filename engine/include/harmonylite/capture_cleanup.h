// -cleanup (docs/capture.md#publish--false-and--cleanup): removes every __harmonylite__ trigger
// and table from a database. The application's tables and rows are untouched; the next start
// installs capture again. Runs on the caller's thread, with its own connection.
#pragma once

#include <QString>

#include "harmonylite/status.h"

namespace hl {

Status removeCaptureObjects(const QString& dbPath);

}  // namespace hl
