// Applier: applies decoded changes from other nodes to the local database (docs/replication.md#applying).
//
// - insert/update: upsert by primary key on the columns the message carries
//   (INSERT ... ON CONFLICT(pk) DO UPDATE), never INSERT OR REPLACE; tables without a declared
//   key by rowid (UPDATE, then INSERT when no row matched).
// - delete: by the receiver's key columns.
// - Table and column names are checked against the local catalog before any SQL is built.
// - A batch runs in one write transaction. A poison change (unknown table or column, constraint
//   failure, a value that cannot be stored) leaves no trace (SQLite undoes a failed statement)
//   and is reported; the rest of the batch commits. A schema conflict clause of ROLLBACK ends
//   the whole transaction: the batch is then run again without that change.
// - Echo suppression: the change-log rows that the applier's own writes produce (the capture
//   triggers fire for them too) are deleted in the same transaction. SQLite has one writer,
//   so every log row above the maximum id seen at the start of the transaction is ours.
// Thread: the engine thread. Uses, does not own, the SqliteDb and the catalog.
#pragma once

#include <QHash>

#include <unordered_map>
#include <QList>
#include <functional>

#include "harmonylite/status.h"
#include "schema/catalog.h"
#include "sqlite/sqlite_db.h"
#include "wire/change.h"

namespace hl {

class Applier {
 public:
  Applier(SqliteDb& db, SchemaCatalog& catalog);

  struct BatchResult {
    QList<Status> outcomes;  // one per change: OK, or a kPoison error with the reason
    int applied = 0;
    int poisoned = 0;
  };

  // Applies `changes` in one transaction. `beforeCommit` (optional) runs inside the
  // transaction after the changes, with their outcomes (the caller records positions and
  // dead letters there). A non-poison failure (busy, I/O, beforeCommit) rolls everything back
  // and is returned.
  // `decide` (optional) runs first inside the transaction, where no other writer can come in
  // between: it may mark changes not to apply (set their entry of the mask, one per change,
  // to false); a skipped change's outcome is OK and it is not counted as applied. A failure of
  // `decide` rolls back and is returned.
  using Decide = std::function<Status(QList<bool>* apply)>;
  Result<BatchResult> applyBatch(const QList<Change>& changes,
                                 const std::function<Status(const BatchResult&)>& beforeCommit = {},
                                 const Decide& decide = {});

  // The current local row of `table` with the given key values (key column order), or an
  // empty image when there is none. For conflict records.
  RowImage readRow(const QString& table, const QList<Value>& key);

 private:
  // Applies one change inside the open transaction; kPoison for anything the message got wrong.
  Status applyOne(const Change& change);
  // A cached statement by key; `makeSql` is called only when it is not prepared yet.
  Result<SqliteStmt*> statement(const QString& key, const std::function<QString()>& makeSql);

  SqliteDb& m_db;
  SchemaCatalog& m_catalog;
  std::unordered_map<QString, SqliteStmt> m_statements;  // by table + column set + kind
  int64_t m_statementsVersion = -1;
};

}  // namespace hl
