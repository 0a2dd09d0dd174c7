// Collisions: inserts of one key from two nodes that had not seen each other's
// (docs/replication.md#insert-collisions).
//
// A node finds out that its own insert collided when an insert of the same row arrives from
// another node while its own change of the row lands later in the stream (not sent yet, or
// published at a higher sequence: the convergence rule's "ours is later"), and the row did not
// exist in the replicated history before its own insert (__harmonylite__born, see
// ReplicationState). Only that node, the one whose insert is later in the stream, acts; the
// others apply the stream as it comes, so every node, Go nodes included, ends the same.
//
// Per table policy ([conflicts]; "auto": keep-both for tables keyed by an integer rowid alias
// or by rowid, last-writer-wins for the others):
//   keep-both          the earlier insert keeps the key; this node moves its own row to a fresh
//                      key (an UPDATE of the key, cascaded to the references that say ON UPDATE
//                      CASCADE), captured as an insert of the new key, and takes the other
//                      node's row at the old key. Only for tables keyed by an integer rowid
//                      alias or by rowid, and not referenced without ON UPDATE CASCADE.
//   dead-letter        the earlier insert keeps the key; this node keeps its own row as a dead
//                      letter (Retry inserts it under a new key) and takes the other node's.
//                      Same tables as keep-both, and not referenced at all.
//   last-writer-wins   the later insert keeps the key (the behaviour before collisions were
//                      told apart); the lost insert is recorded and counted.
// With keep-both and dead-letter, only an insert whose key SQLite assigned collides: a key the
// application chose (an upsert, INSERT OR REPLACE, an explicit id) means the same row on every
// node, and the later write wins as for any conflict.
// Every collision is recorded in the conflict journal and counted per table.
// Thread: the engine thread. Uses, does not own, the database, catalog, log and state.
#pragma once

#include <QHash>
#include <QMap>
#include <QSet>
#include <QString>

#include <deque>
#include <optional>

#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "replication/shard_positions.h"
#include "schema/catalog.h"
#include "sqlite/sqlite_db.h"
#include "wire/change.h"

namespace hl {

class ChangeLog;
class ReplicationState;

enum class CollisionPolicy { kKeepBoth, kDeadLetter, kLastWriterWins };

const char* collisionPolicyName(CollisionPolicy policy);

class Collisions {
 public:
  Collisions(const ConflictsConfig& config, SqliteDb& db, SchemaCatalog& catalog, ChangeLog* log,
             ReplicationState& state);

  // After the catalog was (re)read: each watched table's policy. A table configured to
  // keep-both that cannot be re-keyed safely falls back to last-writer-wins; the reason is
  // logged once per table and reason.
  Status resolvePolicies();
  CollisionPolicy policyOf(const QString& table) const {
    return m_policies.value(table, CollisionPolicy::kLastWriterWins);
  }
  // The tables whose colliding inserts the earlier one keeps (keep-both, dead-letter): their
  // capture tells keys SQLite assigned from the application's (ChangeLog::setAssignedKeyTables).
  QSet<QString> earlierKeepsTables() const;

  // Capture positions. After each apply commit (and once at start), the newest change id of the
  // log then and every shard's applied position after it: a change with a larger id was
  // captured after that point. captureSeq() is what the change's message carries in
  // Hl-Capture-Seq (only for inserts of assigned keys in the earlier-keeps tables:
  // hasCaptureHeader()); nullopt when not known.
  void noteCaptureMark(int64_t maxId, const ShardPositions& positions);
  // The newest change id of the log (inside the apply transaction, before it commits); 0 on a
  // node that does not capture.
  Result<int64_t> newestChangeId();
  std::optional<quint64> captureSeq(int64_t changeId, int shard) const;
  bool hasCaptureHeader(const QString& table, bool assigned) const {
    return assigned && policyOf(table) != CollisionPolicy::kLastWriterWins;
  }
  // Every node, for a remote insert that carries Hl-Capture-Seq `captured`
  // from `origin` (inside the apply transaction): true when another node's insert of the row
  // is earlier in the stream and the sender had not applied it when it captured this one. The
  // sender moves its row to a fresh key (it finds the collision itself), so every node skips
  // this insert.
  Result<bool> isLosingInsert(const QByteArray& rowKey, uint64_t origin, quint64 captured);

  // Inside the apply transaction: a remote insert or update of the row (`key` in key order,
  // `rowKey` its identity) at stream sequence `remoteSeq` of `shard` meets this node's (`self`)
  // own change of the row that lands later. True when this node's insert created the row
  // without having seen it: the row was not in the replicated history when the insert was
  // captured (the same test every other node makes with isLosingInsert()), and for the
  // earlier-keeps policies, SQLite assigned its key.
  Result<bool> isCollision(const TableInfo& table, const RowImage& key, const QByteArray& rowKey,
                           int shard, quint64 remoteSeq, uint64_t remoteOrigin, uint64_t self);
  // keep-both, inside the apply transaction: moves this node's row from `key` to a fresh key,
  // returned. The move is captured as an insert of the new key; nothing of the old key is.
  Result<Value> moveToFreshKey(const TableInfo& table, const RowImage& key);
  // dead-letter, on Retry: inserts the row under a key SQLite assigns (captured and published
  // as an ordinary insert); returns the new key.
  Result<Value> insertUnderFreshKey(const TableInfo& table, const RowImage& row);
  // After a move or dead letter: this node's changes of the old key that were never sent are
  // dropped (the
  // other node's row is what the stream has there); when one was sent, the old key gets a new
  // change, which carries the other node's row once it is applied.
  Status settleOwnChanges(const TableInfo& table, const RowImage& key, bool anySent);
  // The ids of this node's pending changes of the row (for Publisher::sentAny()).
  Result<QList<int64_t>> pendingChangesOf(const TableInfo& table, const RowImage& key);

  // Counted after the transaction that recorded them committed.
  void count(const QString& table) { ++m_counts[table]; }
  // Collisions found by this node since start, by table.
  const QMap<QString, qint64>& counts() const { return m_counts; }

 private:
  struct Reference {
    QString table;   // the referencing table
    QString column;  // its column that holds the key
  };
  // The references to `table`'s key: those that cascade an update, and a description of the
  // first that blocks `policy` ("" when none does): for keep-both one that does not cascade,
  // for dead-letter any.
  Result<QList<Reference>> references(const TableInfo& table, CollisionPolicy policy,
                                      QString* blocking);
  Result<Value> moveRow(const TableInfo& table, const RowImage& key);

  ConflictsConfig m_config;
  SqliteDb& m_db;
  SchemaCatalog& m_catalog;
  ChangeLog* m_log;  // null on a node that does not capture: it never has an own insert
  ReplicationState& m_state;
  QHash<QString, CollisionPolicy> m_policies;
  QHash<QString, QList<Reference>> m_cascades;  // keep-both tables: the references to update
  QHash<QString, QString> m_warned;             // table -> refusal already logged
  QMap<QString, qint64> m_counts;
  struct CaptureMark {
    int64_t maxId = 0;
    ShardPositions positions;
  };
  std::deque<CaptureMark> m_marks;  // oldest first, at most kMaxMarks
  static constexpr size_t kMaxMarks = 65536;
};

}  // namespace hl
