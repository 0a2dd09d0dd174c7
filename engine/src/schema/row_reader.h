// RowReader: reads the current local row of a watched table by its key. The one place that
// builds the key-to-row SELECT: the change log reads the row images it publishes with it
// (docs/capture.md), the consumer the local row of a conflict (docs/replication.md#applying).
//
// The row image holds every stored (non-generated) column in declaration order, plus "rowid"
// for a table without a declared primary key. Statements are prepared once per table and
// schema version.
// Thread: the engine thread. Uses, does not own, the SqliteDb and the catalog.
#pragma once

#include <optional>
#include <unordered_map>

#include "harmonylite/status.h"
#include "schema/catalog.h"
#include "sqlite/sqlite_db.h"
#include "wire/change.h"

namespace hl {

class RowReader {
 public:
  RowReader(SqliteDb& db, const SchemaCatalog& catalog);

  // The row of `table` whose key (TableInfo::keyColumns() order; names are not looked at) is
  // `key`, or nullopt when there is none.
  Result<std::optional<RowImage>> read(const TableInfo& table, const RowImage& key);

 private:
  Result<SqliteStmt*> statement(const TableInfo& table);

  SqliteDb& m_db;
  const SchemaCatalog& m_catalog;
  std::unordered_map<QString, SqliteStmt> m_statements;  // by table name
  int64_t m_statementsVersion = -1;
};

}  // namespace hl
