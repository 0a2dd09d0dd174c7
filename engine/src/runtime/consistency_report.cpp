// readLocalDigest() (harmonylite/consistency.h): the digests of docs/consistency.md#digest, with
// what the node's own tables say at the same point.
#include <QElapsedTimer>

#include <algorithm>

#include "cdc/change_log.h"
#include "consistency/table_digest.h"
#include "harmonylite/consistency.h"
#include "replication/state_store.h"
#include "runtime/local_read.h"

namespace hl {

Result<LocalDigestReport> readLocalDigest(const Config& config) {
  auto local = openLocalRead(config);
  if (!local) return local.status();
  SqliteDb* db = &(*local)->db;
  const SchemaCatalog& catalog = *(*local)->catalog;
  LocalDigestReport r;
  r.schemaHash = catalog.schemaHash();
  QList<TableInfo> tables = catalog.tables();
  std::sort(tables.begin(), tables.end(),
            [](const TableInfo& a, const TableInfo& b) { return a.name < b.name; });
  QElapsedTimer t;
  t.start();
  // Inside the digest's read transaction: the same point as the rows.
  auto state = [&]() -> Status {
    auto positions = ReplicationState::readPositions(*db);
    if (!positions) return positions.status();
    for (auto it = positions->cbegin(); it != positions->cend(); ++it)
      r.positions.insert(it.key(), it.value());
    auto hasLog = db->hasTable(QLatin1String(ChangeLog::kChangesTable));
    if (!hasLog) return hasLog.status();
    if (*hasLog) {  // the node's own count, as /health gives it
      auto n = ChangeLog(*db, *(*local)->catalog).pendingCount();
      if (!n) return n.status();
      r.pendingChanges = *n;
    }
    return Status::ok();
  };
  auto digests = digestTables(*db, tables, {}, state);
  if (!digests) return digests.status().withContext("digest " + config.dbPath);
  r.elapsedMs = t.elapsed();
  for (const TableDigest& d : *digests) r.tables.append({d.table, d.all.rows, d.all.hex()});
  return r;
}

}  // namespace hl
