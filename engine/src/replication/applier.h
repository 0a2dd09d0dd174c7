// Applier: applies decoded changes from other nodes to the local database
// (docs/replication.md#applying).
//
// - insert/update: upsert by primary key on the columns the message carries
//   (INSERT ... ON CONFLICT(pk) DO UPDATE), never INSERT OR REPLACE; tables without a declared
//   key by rowid (UPDATE, then INSERT when no row matched).
// - delete: by the receiver's key columns.
// - Table and column names are checked against the local catalog before any SQL is built.
// - Changes are applied inside the caller's write transaction (the consumer owns it). A poison
//   change (unknown table or column, constraint failure, a value that cannot be stored) leaves
//   no trace (SQLite undoes a failed statement) and is reported; the rest goes on. A schema
//   conflict clause of ROLLBACK ends the whole transaction: applyAll() then says which change
//   did it, and the caller runs the batch again in a new transaction with that change poisoned.
// - Echo suppression, in applyAll() and nowhere else: the change-log rows that the applier's
//   own writes produce (the capture triggers fire for them too) are deleted before it returns.
//   SQLite has one writer, so every log row above the newest id seen at the start is ours.
// Thread: the engine thread. Uses, does not own, the SqliteDb, the catalog and the change log.
#pragma once

#include <QHash>
#include <QList>

#include <functional>
#include <unordered_map>

#include "harmonylite/status.h"
#include "schema/catalog.h"
#include "sqlite/sqlite_db.h"
#include "wire/change.h"

namespace hl {

class ChangeLog;

class Applier {
 public:
  Applier(SqliteDb& db, SchemaCatalog& catalog, ChangeLog& log);

  struct BatchResult {
    QList<Status> outcomes;  // one per change: OK (applied or skipped), or kPoison with the reason
    int applied = 0;
    int poisoned = 0;
    // >= 0: the change at this index ended the whole transaction (a ROLLBACK conflict clause);
    // nothing is applied, the outcomes are incomplete: begin again with it in `poisoned`.
    qsizetype endedTransactionAt = -1;
  };

  // Inside the caller's write transaction: applies `changes[i]` where `apply[i]` is true (a
  // skipped change's outcome is OK and it is not counted), reports the changes of `poisoned`
  // (by index) with their earlier outcome, and removes the change-log rows its writes made.
  // A non-poison failure (busy, I/O) is returned; the caller rolls back.
  Result<BatchResult> applyAll(const QList<Change>& changes, const QList<bool>& apply,
                               const QHash<qsizetype, Status>& poisoned = {});

 private:
  // A change's names resolved against the local table (checked before any SQL is built).
  struct Resolved {
    const TableInfo* table = nullptr;
    QStringList keyNames;           // TableInfo::keyColumns()
    QList<const Value*> keyValues;  // parallel to keyNames
    QStringList columns;            // local names of the other (non-generated) columns carried
    QList<const Value*> values;     // parallel to columns
  };
  Result<Resolved> resolve(const Change& change) const;
  // Applies one change; kPoison for anything the message got wrong.
  Status applyOne(const Change& change);
  Status deleteRow(const Resolved& r);
  Status upsertByKey(const Resolved& r);
  Status upsertByRowid(const Resolved& r);
  // A cached statement by key; `makeSql` is called only when it is not prepared yet.
  Result<SqliteStmt*> statement(const QString& key, const std::function<QString()>& makeSql);

  SqliteDb& m_db;
  SchemaCatalog& m_catalog;
  ChangeLog& m_log;
  std::unordered_map<QString, SqliteStmt> m_statements;  // by table + column set + kind
  int64_t m_statementsVersion = -1;
};

}  // namespace hl
