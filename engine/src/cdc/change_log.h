// ChangeLog: change data capture with SQLite triggers (docs/capture.md).
//
// Layout (ours, written to disk; the numbers are never renumbered):
//   __harmonylite__tables(id INTEGER PRIMARY KEY, name TEXT UNIQUE)  stable id per table name
//   __harmonylite__changes(id INTEGER PRIMARY KEY, tbl, op, k0, state, error, k1, ...)
//     one row per captured change, in commit order. op: 1 insert, 2 update, 3 delete,
//     0 sentinel. state: NULL pending, 1 published, 2 failed (with error). k0.. hold the
//     row's key: its primary-key values in key order, or its rowid for a table without a
//     declared key. No declared types, defaults or NOT NULL: each costs the application's
//     inserts measurably (the trigger program is compiled into every INSERT statement).
//   triggers __harmonylite__t<id>_ins/_upd/_del on every watched table.
//
// Triggers record only the key, which keeps the application's writes cheap (one small insert
// per row, no function calls, so they work with PRAGMA trusted_schema=OFF). The row image is
// read when the change is published, so a message carries the row as it is then; later
// changes of the same row follow it in the stream, so the last message always carries the
// last state. An update that changes a key is captured as a delete of the old key plus an
// update of the new one.
//
// Change ids never go back: cleanup keeps the newest row, and the applier removes only the rows
// its own writes produced (echo suppression, see Applier), so an id is never reused for a
// different change (ids make the Nats-Msg-Id).
//
// Thread: the engine thread. It uses, and does not own, the engine's SqliteDb and catalog.
#pragma once

#include <QHash>
#include <QList>
#include <QSet>
#include <QString>

#include "harmonylite/status.h"
#include "schema/catalog.h"
#include "schema/row_reader.h"
#include "sqlite/sqlite_db.h"
#include "wire/change.h"

namespace hl {

// A captured change ready to publish.
struct PendingChange {
  int64_t id = 0;
  ChangeType type = ChangeType::kInsert;
  QString table;
  RowImage key;       // key columns and values, in key order
  QByteArray rowKey;  // rowKeyOf(): the shard key (docs/wire-format.md#shard) and row identity
  RowImage row;       // the row image to send: every stored column, plus "rowid" for rowid tables;
                      // for a delete, the key only
};

class ChangeLog {
 public:
  static constexpr const char* kChangesTable = "__harmonylite__changes";
  static constexpr const char* kTablesTable = "__harmonylite__tables";

  ChangeLog(SqliteDb& db, SchemaCatalog& catalog);

  // The durability guard (docs/replication.md#durability): published changes kept after their
  // ack, so that they can be published again when a stream loses acknowledged messages.
  // cleanup() keeps the newest `keep` published changes (the most any stream can hold).
  void setKeepPublished(int64_t keep) { m_keepPublished = keep; }
  // Makes every kept published change pending again; returns the smallest such id (0: none).
  Result<int64_t> requeuePublished();

  // Creates the log tables and the triggers of every watched table; drops triggers of tables
  // no longer watched and re-creates those whose definition changed. Idempotent; one write
  // transaction. Call after the catalog was refreshed.
  Status install();
  // Reads the log's layout (key columns, table ids) without writing anything, to read the
  // pending changes of a log installed by another connection (a restore carries them over,
  // docs/snapshots.md#restoring); readPending() then writes nothing. NotFound when there is no
  // log.
  Status attach();
  // Removes every trigger (the log tables and pending changes stay): publish = false.
  Status removeTriggers();
  // -cleanup: drops every __harmonylite__ trigger and table.
  static Status uninstall(SqliteDb& db);

  // Up to `max` pending changes after `afterId`, in commit order, with their row images read
  // in one read transaction. Changes that no longer have anything to send (the row is gone, so
  // a later delete follows; the table was dropped) are marked published and not returned;
  // `skipped` counts them.
  Result<QList<PendingChange>> readPending(int max, int64_t afterId = 0, int* skipped = nullptr);
  Status markPublished(const QList<int64_t>& ids);
  struct PendingKey {
    int64_t id = 0;
    QByteArray rowKey;  // rowKeyOf()
  };
  // Id, table and key of every pending change with an id above `afterId`.
  Result<QList<PendingKey>> pendingKeysAfter(int64_t afterId);
  // Moves a change to the failed state with a reason (e.g. larger than the server accepts).
  Status markFailed(int64_t id, const QString& reason);
  // Deletes published rows, keeping the newest row of the log. Returns how many it deleted.
  Result<int> cleanup();
  // Operator control: every failed change back to pending. Returns how many, and the first id
  // (0 when none) from which the publisher reads again.
  struct Retried {
    int count = 0;
    int64_t firstId = 0;
  };
  Result<Retried> retryFailed();

  // Echo suppression (see Applier::applyAll), inside the applier's write transaction: the mark
  // is the newest change id before its writes (-1 when capture was never installed), and
  // dropEcho() deletes every log row above it, which only the applier's writes can have made.
  Result<int64_t> echoMark();
  Status dropEcho(int64_t mark);

  Result<int64_t> pendingCount();
  Result<int64_t> failedCount();
  // The newest change id in the log (0 when empty).
  Result<int64_t> maxChangeId();

 private:
  Status ensureTables(int keyColumns);
  Result<int64_t> tableId(const QString& name);
  QString triggerSql(const TableInfo& t, int64_t id, const char* kind) const;
  // The id, table and key columns of a log row read by a scan (`first` = column of k0);
  // nullptr when its table is no longer watched.
  const TableInfo* keyOfScan(const SqliteStmt& scan, int first, RowImage* key,
                             QByteArray* rowKey) const;

  SqliteDb& m_db;
  bool m_attached = false;  // attach(): reads only, never marks
  int64_t m_keepPublished = 0;
  SchemaCatalog& m_catalog;
  int m_keyColumns = 0;                  // k0..k(n-1) present in the changes table
  QHash<int64_t, QString> m_tableNames;  // tbl id -> name
  RowReader m_rows;
  QSet<QString> m_warnedNoKey;  // tables without a declared key, warned about once
};

}  // namespace hl
