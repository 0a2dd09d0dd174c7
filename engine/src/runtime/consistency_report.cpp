// readLocalDigest() (harmonylite/consistency.h): the digests of docs/consistency.md#digest, with
// what the node's own tables say at the same point.
#include <QElapsedTimer>

#include <algorithm>

#include "consistency/table_digest.h"
#include "harmonylite/consistency.h"
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
  auto has = [&](const char* table) {
    auto n = db->queryInt(
        QStringLiteral("SELECT count(*) FROM sqlite_schema WHERE name = '%1'").arg(table));
    return n && *n > 0;
  };
  QElapsedTimer t;
  t.start();
  // Inside the digest's read transaction: the same point as the rows.
  auto state = [&]() -> Status {
    if (has("__harmonylite__positions")) {
      auto stmt = db->prepare(QStringLiteral("SELECT stream, seq FROM __harmonylite__positions"));
      if (!stmt) return stmt.status();
      SqliteRows rows(*stmt);
      for (const SqliteStmt& row : rows)
        r.positions.insert(row.columnText(0), quint64(row.columnInt(1)));
      HL_RETURN_IF_ERROR(rows.status());
    }
    if (has("__harmonylite__changes")) {
      auto n = db->queryInt(QStringLiteral(
          "SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL AND op > 0"));
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
