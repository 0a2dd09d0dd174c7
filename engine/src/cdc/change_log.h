// ChangeLog: change data capture with SQLite triggers (docs/capture.md).
//
// Layout (ours, written to disk; the numbers are never renumbered):
//   __harmonylite__tables(id INTEGER PRIMARY KEY, name TEXT UNIQUE)  stable id per table name
//   __harmonylite__changes(id INTEGER PRIMARY KEY, tbl, op, k0, state, error, published_at,
//                          stream_seq, shard, k1, ...)
//     one row per captured change, in commit order. op: 1 insert, 2 update, 3 delete,
//     0 sentinel. state: NULL pending, 1 published, 2 failed (with error). k0.. hold the
//     row's key: its primary-key values in key order, or its rowid for a table without a
//     declared key. published_at (epoch ms), stream_seq and shard: the ack of a published
//     change, for the durability guard's retention (NULL: nothing in a stream to publish
//     again). No declared types, defaults or NOT NULL: each costs the application's inserts
//     measurably (the trigger program is compiled into every INSERT statement). Columns
//     missing from an older database are added at install().
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

#include <chrono>
#include <functional>

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
  bool assigned = false;  // an insert whose key SQLite assigned (setAssignedKeyTables())
};

class ChangeLog {
 public:
  static constexpr const char* kChangesTable = "__harmonylite__changes";
  static constexpr const char* kTablesTable = "__harmonylite__tables";
  // State of a log row that only marks the next insert of its table and key as one whose key
  // the application chose (setAssignedKeyTables()); never published.
  static constexpr int kChosenKeyMark = 3;

  ChangeLog(SqliteDb& db, SchemaCatalog& catalog);

  // The durability guard (docs/replication.md#durability): a published change is kept after
  // its ack, to be published again when a stream loses acknowledged messages, until it is
  // covered: acked more than `horizonMs` ago ([replication_log] keep_published), or at or below
  // the snapshot watermark of its shard. At most `cap` published changes stay (a memory bound);
  // cleanup() drops the oldest beyond it even when uncovered, and says so.
  void setRetention(int64_t horizonMs, int64_t cap) {
    m_horizonMs = horizonMs;
    m_cap = cap;
  }
  // The last stream sequence a snapshot covers, by shard (a shard absent: none). Replaces the
  // previous set; an empty set leaves the horizon alone to decide.
  void setSnapshotWatermarks(const QHash<int, quint64>& watermarks) { m_watermarks = watermarks; }
  // The clock (epoch ms) of published_at and of the horizon; tests set their own.
  void setClock(std::function<int64_t()> nowMs) { m_nowMs = std::move(nowMs); }
  // Makes kept published changes pending again; returns their ids, ascending (none: empty).
  // Only the changes of shard `shard` whose message was after `afterSeq` in its stream (a stream
  // that went back lost those; a re-created one lost all: afterSeq = 0).
  Result<QList<int64_t>> requeuePublished(int shard, quint64 afterSeq);
  // The highest stream sequence an acked change of each shard got (kept changes only).
  Result<QHash<int, quint64>> highestPublishedSeqs();
  struct Kept {
    int64_t count = 0;     // published changes kept to be published again
    int64_t oldestMs = 0;  // ack time (epoch ms) of the oldest of them, 0 when none
  };
  Result<Kept> kept();
  // The counts of the whole log, read a slice at a time so that no reading holds the engine's
  // thread long (a scan of 100,000 kept changes took 25-110 ms): countSlice() reads up to
  // `rows` rows after the last one it read; the sweep that reaches the newest row makes its
  // totals lastCounts() and the next one starts from the oldest (docs/replication.md#performance).
  struct Counts {
    bool valid = false;     // false until a sweep completed
    int64_t failed = 0;     // state 2
    int64_t published = 0;  // state 1 (the cap of cleanup() counts them)
    Kept kept;              // state 1 with an ack time
    int64_t newestId = 0;   // the newest id the sweep saw
  };
  // `read` (optional): how many rows it read (fewer than `rows` at the end of a sweep).
  Status countSlice(int rows, int* read = nullptr);
  // The rows of the next slice for about `budgetNs` of reading, after one that read `read` rows
  // in `costNs`: from the cost of a row when the slice read enough rows to time it (256), and
  // never more than twice the rows last read (at least 256), so that a slice after a small or
  // cheap one cannot read a log that grew meanwhile in one go. 256 to 100,000.
  static int nextSliceRows(int rows, int read, qint64 costNs, qint64 budgetNs);
  const Counts& lastCounts() const { return m_counts; }
  // The work budget of one cleanup() (the walk of covered rows, the marks it found, the cap's
  // count): 2 ms; tests set their own.
  void setWorkBudget(std::chrono::microseconds budget) { m_workBudget = budget; }
  // Whether the last cleanup() stopped at its work budget (or at kCapDropChunk rows dropped)
  // with more to remove or to count.
  bool cleanupIncomplete() const { return m_cleanupIncomplete; }
  // Published changes cleanup() dropped before the horizon or a snapshot covered them (the cap),
  // since this object was made.
  int64_t droppedUncovered() const { return m_droppedUncovered; }
  // Log rows the memory bound's count read (each row once as the log grows, the unsettled ones
  // again at each cleanup, every row after a reset), since this object was made: its cost.
  int64_t capRowsRead() const { return m_capRowsRead; }

  // Creates the log tables and the triggers of every watched table; drops triggers of tables
  // no longer watched and re-creates those whose definition changed. Idempotent; one write
  // transaction. Call after the catalog was refreshed.
  Status install();
  // The tables whose inserts tell whether SQLite assigned the key or the application chose it
  // (a BEFORE INSERT trigger writes a kChosenKeyMark row when the key does not read -1): the
  // keep-both and dead-letter tables of docs/replication.md#insert-collisions. Takes effect at
  // the next install().
  void setAssignedKeyTables(const QSet<QString>& tables) { m_assignedKeyTables = tables; }
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
  // Changes acked by JetStream: published, with the ack's stream sequence and the time, kept
  // until covered (setRetention). Joins the caller's transaction when there is one.
  struct Acked {
    int64_t id = 0;
    int shard = 0;
    quint64 streamSeq = 0;
    bool assigned = false;  // PendingChange::assigned, kept with the change from here on
  };
  Status markAcked(const QList<Acked>& acked);
  // Changes published without an ack to keep (nothing left to send): cleanup() drops them at
  // once.
  Status markPublished(const QList<int64_t>& ids);
  struct PendingKey {
    int64_t id = 0;
    QByteArray rowKey;  // rowKeyOf()
  };
  // Id, table and key of every pending change with an id above `afterId`.
  Result<QList<PendingKey>> pendingKeysAfter(int64_t afterId);
  // Moves a change to the failed state with a reason (e.g. larger than the server accepts).
  Status markFailed(int64_t id, const QString& reason);
  // Deletes the published rows that are covered (setRetention), then the oldest beyond the cap,
  // keeping the newest row of the log. Returns how many it deleted.
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
  // dropEcho() deletes every log row above it, which only the applier's writes can have made:
  // the changes they captured and the chosen-key marks of the rows they inserted.
  Result<int64_t> echoMark();
  Status dropEcho(int64_t mark);

  // Insert collisions (docs/replication.md#insert-collisions), inside the caller's transaction.
  // This node's newest insert of the row `key` (TableInfo::keyColumns() order) of `table` that
  // is still pending, or was acked at a stream position above `afterSeq` (id 0: none), and
  // whether SQLite assigned its key.
  struct OwnInsert {
    int64_t id = 0;
    bool assigned = false;
  };
  Result<OwnInsert> ownInsert(const TableInfo& table, const RowImage& key, quint64 afterSeq);
  // The ids of this node's changes of that row that wait to be published.
  Result<QList<int64_t>> pendingChangesOf(const TableInfo& table, const RowImage& key);
  // After an UPDATE moved a row's key from `from` to `to` (one-column keys): of the log rows
  // above `mark` that the move made, the delete of the old key is dropped and the update of the
  // new key becomes an insert (of a key the node assigned), so that every node receives the
  // moved row as a new one.
  Status recordMove(const TableInfo& table, const Value& from, const Value& to, int64_t mark);
  // Appends a captured change of the row `key`; it is published with the row as it is then.
  Status capture(const TableInfo& table, ChangeType type, const RowImage& key);

  // Changes not published yet, counted among ids above `afterId` (the publisher's
  // settledUpTo(): a range instead of a scan of the whole log).
  Result<int64_t> pendingCount(int64_t afterId = 0);
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
  int64_t m_horizonMs = 0;  // setRetention(): 0 = a published change is covered at once
  int64_t m_cap = 0;
  bool m_cleanupIncomplete = false;
  Counts m_sweep;  // countSlice(): the sweep under way
  int64_t m_sweepFrom = 0;
  Counts m_counts;
  // cleanup(): the walk from the oldest row stops after this many rows in a row that stay, or
  // after this much work.
  static constexpr int kCleanupStopRun = 256;
  std::chrono::microseconds m_workBudget{2000};
  QHash<int, quint64> m_watermarks;  // shard -> last sequence a snapshot covers
  std::function<int64_t()> m_nowMs;
  int64_t m_droppedUncovered = 0;
  // cleanup()'s memory bound without a walk of every kept row (docs/replication.md#durability):
  // the log is read forward once, counting the published rows above a boundary; the oldest of
  // them beyond the cap go and the boundary moves up past them.
  struct CapCount {
    int64_t boundary = 0;  // published rows at or below it are beyond the cap
    int64_t readTo = 0;    // the rows up to this id were read
    // Published rows in (boundary, readTo], each counted once: when read published, or when an
    // unsettled one is seen published later. Never above the true number, so the cap never
    // drops a row it keeps.
    int64_t counted = 0;
    // Rows up to readTo pending when read (or failed and tried again), ascending; those the
    // boundary passed are not counted, they go when published.
    QList<int64_t> unsettled;
    bool publishedBelow = false;  // one of those was published
    bool behind = false;          // the reading stopped at kCapUnsettledMax unsettled rows
  };
  Status countForCap(int64_t newest, std::chrono::steady_clock::time_point started);
  Result<int> dropBeyondCap(int64_t newest);
  // A covered row cleanup() removed: no longer counted.
  void uncount(int64_t id);
  CapCount m_capCount;
  int64_t m_capLastNewest = 0;  // the newest id at the last count (0: none yet)
  // A drop beyond the cap goes kCapDropChunk rows per cleanup; the rest, published rows up to
  // m_capDropTo (and at or below the boundary), goes at the next ones (0: none left).
  int64_t m_capDropTo = 0;
  static constexpr int kCapDropChunk = 4096;
  // The count reads at least the rows written since the last cleanup, up to this many, so that
  // it keeps up with any write rate; beyond them its work budget decides.
  static constexpr int64_t kCapMustRead = 4096;
  int64_t m_uncoveredUnsaid = 0;  // dropped uncovered, not yet in a warning (said per drop)
  int64_t m_capRowsRead = 0;
  static constexpr int kCapUnsettledMax = 4096;
  SchemaCatalog& m_catalog;
  int m_keyColumns = 0;                  // k0..k(n-1) present in the changes table
  QHash<int64_t, QString> m_tableNames;  // tbl id -> name
  RowReader m_rows;
  QSet<QString> m_warnedNoKey;  // tables without a declared key, warned about once
  QSet<QString> m_assignedKeyTables;
};

}  // namespace hl
