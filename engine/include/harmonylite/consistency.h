// -digest (docs/consistency.md#command-line): this node's order-independent digest of every
// watched table, with the applied positions and the count of its own changes not yet
// acknowledged, all read at one point. Runs on the caller's thread with its own read-only
// connection, and closes it.
#pragma once

#include <QList>
#include <QMap>
#include <QString>

#include "harmonylite/config.h"
#include "harmonylite/status.h"

namespace hl {

struct TableDigestReport {
  QString table;
  quint64 rows = 0;
  QString digest;  // 32 hex digits (docs/consistency.md#digest)
};

struct LocalDigestReport {
  QString schemaHash;
  QMap<QString, quint64> positions;  // stream -> the position this node applied
  qint64 pendingChanges = 0;         // own changes captured and not yet acknowledged by a stream
  QList<TableDigestReport> tables;   // watched tables, sorted by name
  qint64 elapsedMs = 0;              // how long the read transaction lasted
};

// Reads db_path read-only (WAL: the running node and the application go on writing).
Result<LocalDigestReport> readLocalDigest(const Config& config);

}  // namespace hl
