// ReplicationState: the node's replication bookkeeping, in the application's database so that
// it commits atomically with the rows it describes (docs/replication.md#crash-safety).
//
//   __harmonylite__positions(stream TEXT PRIMARY KEY, seq)     last applied stream sequence
//   __harmonylite__own(key BLOB PRIMARY KEY, shard, seq)       stream position of this node's
//       latest published change of a row (key = the row's shard-hash bytes), kept until the
//       shard's applied position passes it: the convergence rule of docs/replication.md#applying
//   __harmonylite__dead_letters(id, at, stream, seq, reason, payload)   poison messages
//   __harmonylite__conflicts(id, at, tbl, row_key, winner, loser, local_row, remote_row)
//       bounded journal (the newest kConflictJournalSize entries)
//   __harmonylite__replay_own(stream TEXT PRIMARY KEY, up_to)   written by a restore
//       (docs/snapshots.md#restoring): this node's own messages up to `up_to` are applied like
//       any other node's, because the restored database may lack them
//   __harmonylite__schema_hashes(hash TEXT PRIMARY KEY, first_seen, last_seen)   every schema
//       hash this node has had (the newest kSchemaHistorySize), epoch ms: tells a change made
//       under an older schema of this node from one made under a newer schema elsewhere
//       (docs/schema-changes.md#pause)
//   __harmonylite__born(key BLOB PRIMARY KEY, seq, origin)   rows that exist in the replicated
//       history (key = the row's shard-hash bytes): the stream sequence and node of the
//       earliest insert or update of the row since it last did not exist; deleted with the row.
//       Tells an insert of a new key from an INSERT OR REPLACE of a known one
//       (docs/replication.md#insert-collisions)
//
// The seq-map file (docs/wire-format.md#seq-map: CBOR map {stream: seq}, Go's format) mirrors the
// positions; it is written atomically (temp file, fsync, rename, fsync of the directory) after
// commits, at most every 200 ms and at stop, and a Go-written one is read at the first start.
// Thread: the engine thread; it uses, does not own, the SqliteDb.
#pragma once

#include <QHash>
#include <QString>

#include <optional>

#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"
#include "sqlite/sqlite_db.h"

namespace hl {

inline constexpr int kConflictJournalSize = 1000;
inline constexpr int kSchemaHistorySize = 64;

struct ConflictRecord {
  QString table;
  QString rowKey;  // readable key, e.g. id=5
  QString winner;  // "local node N" or "remote node M (seq S)"
  QString loser;
  QString localRow;  // readable row images
  QString remoteRow;
  bool insertCollision = false;  // docs/replication.md#insert-collisions
};

class ReplicationState {
 public:
  explicit ReplicationState(SqliteDb& db);

  // Creates the tables (idempotent).
  Status ensureTables();

  // Applied positions by stream name. When the table is empty and `seqMapPath` exists (for
  // example written by Go), its positions are taken over.
  Result<QHash<QString, quint64>> loadPositions(const QString& seqMapPath);
  // The applied positions stored in `db`, by stream; empty when it has no positions table (a
  // database the node never ran on). For other connections than the engine's: the snapshot
  // worker and the snapshot file (docs/snapshots.md#saving).
  static Result<QHash<QString, quint64>> readPositions(SqliteDb& db);
  // Inside the caller's transaction.
  Status setPosition(const QString& stream, quint64 seq);

  // docs/snapshots.md#restoring: the stream sequence up to which this node's own messages are
  // applied rather than skipped, by stream.
  Result<QHash<QString, quint64>> replayOwnUpTo();
  Status setReplayOwnUpTo(const QString& stream, quint64 seq);

  // Own published changes (inside a transaction of the caller).
  Status recordOwn(const QByteArray& key, int shard, quint64 seq);
  // Own position of a row, 0 when none.
  Result<quint64> ownSeq(const QByteArray& key);
  Status forgetOwnUpTo(int shard, quint64 seq);
  Result<bool> hasOwnChanges();

  // The row `key` exists in the replicated history from `seq` (sent by `origin`) on, or from
  // an earlier sequence already recorded (inside the caller's transaction); forgetBorn(): it
  // was deleted.
  Status noteBorn(const QByteArray& key, quint64 seq, uint64_t origin);
  Status forgetBorn(const QByteArray& key);
  struct Birth {
    quint64 seq = 0;
    uint64_t origin = 0;
  };
  Result<std::optional<Birth>> born(const QByteArray& key);

  // Inside the caller's transaction; the new entry as the status lists it. `lostInsert`: this
  // node's own insert that lost an insert collision (dead-letter policy), which Retry inserts
  // under a new key instead of applying it.
  Result<DeadLetterInfo> addDeadLetter(const QString& stream, quint64 seq, const QString& reason,
                                       const QByteArray& payload, bool lostInsert = false);
  Result<ConflictInfo> addConflict(const ConflictRecord& c);
  Result<int64_t> deadLetterCount();
  Result<int64_t> conflictCount();
  Result<QList<DeadLetterInfo>> recentDeadLetters(int limit);
  Result<QList<ConflictInfo>> recentConflicts(int limit);
  // The payload of a dead letter (its stream and kind too); NotFound when there is none with
  // that id.
  Result<QByteArray> deadLetterPayload(qint64 id, QString* stream, bool* lostInsert = nullptr);
  Status deleteDeadLetter(qint64 id);
  Status updateDeadLetterReason(qint64 id, const QString& reason);
  Status clearConflicts();

  // docs/wire-format.md#seq-map file, written atomically.
  // Schema hash history: notes `hash` as this node's current one (first and last seen now, or
  // last seen moved), keeps the newest kSchemaHistorySize. Returns the hash this node had
  // before it (the most recently seen other one, "" when none).
  Result<QString> noteSchemaHash(const QString& hash, qint64 nowMs);
  // Every hash of the history, newest first.
  Result<QStringList> schemaHashes();

  // `synced`: flushed to the disk (file and directory) before it replaces the old one; the
  // periodic mirror of a running node is not (two fsyncs every 200 ms on the engine's thread),
  // the one at stop and after a restore is (docs/replication.md#performance).
  static Status writeSeqMap(const QString& path, const QHash<QString, quint64>& positions,
                            bool synced = true);
  static Result<QHash<QString, quint64>> readSeqMap(const QString& path);

 private:
  SqliteDb& m_db;
};

}  // namespace hl
