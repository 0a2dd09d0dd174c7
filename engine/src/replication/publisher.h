// Publisher: sends the node's captured changes to their shard streams
// (docs/replication.md#publishing).
//
// It works in rounds: read up to scan_max_changes pending changes in commit order, encode each
// (docs/wire-format.md#message), route it (docs/wire-format.md#shard) and publish all of them
// asynchronously at once (several rounds may be in flight), each with `Nats-Msg-Id:
// <node_id>-<change id>` (a retry after a lost ack is dropped as a duplicate by JetStream) and
// `Hl-Seen-Seq` (the shard position this node had applied, for conflict detection). When every ack
// or error is in, the acked changes are marked published and their stream positions recorded
// (convergence rule), in one transaction. A failed change stays pending and is read again, with its
// current row, after a backoff; nothing is ever dropped. A change larger than the server accepts
// goes to the failed state (counted, logged).
// Thread: the engine thread. Uses, does not own, the objects it is given.
#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <map>

#include "harmonylite/config.h"
#include "nats/nats_client.h"
#include "replication/convergence.h"
#include "wire/change.h"

namespace hl {

class ChangeLog;
class Collisions;
class SchemaCatalog;
class ReplicationState;
class ShardPositions;
class SqliteDb;

class Publisher final : public QObject {
  Q_OBJECT
 public:
  struct Stats {
    qint64 published = 0;        // changes acked by JetStream since start
    qint64 failedPublishes = 0;  // publish attempts that failed (retried)
    qint64 oversized = 0;        // changes moved to the failed state
    qint64 lastPublishedMs = 0;  // epoch ms of the last ack, 0 = never
  };

  // `positions`: the applied position of each shard, sent as Hl-Seen-Seq. `collisions` (may be
  // null): the capture positions sent as Hl-Capture-Seq.
  Publisher(const Config& config, SqliteDb& db, ChangeLog& log, SchemaCatalog& catalog,
            ReplicationState& state, NatsClient& nats, const ShardPositions& positions,
            const Collisions* collisions, QObject* parent = nullptr);

  // Local changes may be pending: send them now (or as soon as the window allows).
  void wake();
  void setConnected(bool connected);
  // Operator control: a paused publisher keeps capturing but sends nothing.
  void setPaused(bool paused);
  bool paused() const { return m_paused; }
  // Read again from change `id` on (after failed changes were put back to pending).
  void rewindTo(int64_t id);
  // Sends again kept changes the durability guard made pending (ChangeLog::requeuePublished).
  // Each counts as kLostAck until its next ack: its first message may still be in the stream,
  // before a remote message of its row, and a copy sent again is then a duplicate that JetStream
  // answers with that first position (docs/replication.md#durability).
  void republish(const QList<int64_t>& ids);
  void onPublished(const PublishResult& result);

  // The number of the newest round started; a message received when this was N can only be
  // older in its stream than the changes of rounds up to N (their acks tell), and is older
  // than every change sent after.
  int lastStartedRound() const { return m_nextRound - 1; }
  // The rows (rowKeyOf() bytes) with an own change not published yet, each with where its
  // latest change stands for a remote message that arrived when round `stamp` was the newest:
  // kNotSent (not sent yet, or sent in a later round), kInFlight (sent in a round up to
  // `stamp`, no ack yet) or kLostAck (sent, failed, no ack since; also while its retry, sent in
  // a later round, is in flight: the failed attempt may have landed first). Facts for the
  // convergence rule (replication/convergence.h); rows not listed have no pending own change.
  Result<QHash<QByteArray, OwnPending>> pendingOwnRows(int stamp);
  // Every change at or below this id is published or failed (recorded as such); the pending
  // ones are above it: read pending, in a round in flight, failed in one, or acked with the
  // ack waiting for the database.
  int64_t settledUpTo() const;
  // Records the acks that wait (coalesced or deferred) now, for whoever needs the log to say
  // what is published (a restore checking that nothing is pending).
  void recordNow() { recordDeferred(); }
  // Whether any of the changes `ids` was sent at least once (in a round in flight, or failed and
  // not acked since): its message may be in the stream (docs/replication.md#insert-collisions).
  bool sentAny(const QList<int64_t>& ids) const;
  const Stats& stats() const { return m_stats; }
  // The highest stream sequence an ack gave a kept change of `shard` (0: none). A stream whose
  // last sequence is below it lost acknowledged changes of this node (the durability guard).
  quint64 highestAcked(int shard) const { return m_highestAcked.value(shard, 0); }
  // After a stream went back to `seq` and the changes above it were requeued.
  void forgetAcksAbove(int shard, quint64 seq) {
    if (m_highestAcked.value(shard, 0) > seq) m_highestAcked.insert(shard, seq);
  }

 signals:
  void roundFinished(int published, int failed);

 private:
  // Up to kMaxRounds rounds are in flight at once; each is recorded when all its acks are in.
  static constexpr int kMaxRounds = 4;
  // A change without an answer this long counts as failed (expireSilentRounds()).
  static constexpr qint64 kRoundAnswerMs = 15000;  // three times nats.c's own 5 s wait
  static constexpr int kRoundWatchMs = 2500;
  // Acks waiting to be recorded: no new round starts beyond this many (memory bound).
  static constexpr qsizetype kMaxUnrecorded = 20000;
  static constexpr int kMaxRecordDelayMs = 100;
  static constexpr int kRecordBusyMs = 20;  // how long recordAcks() waits for the write lock
  // Acks recorded together (finishRound()): at once from this many, else after this long.
  static constexpr qsizetype kRecordBatch = 512;
  static constexpr int kRecordCoalesceMs = 10;

  struct InFlight {
    int shard = 0;
    QByteArray key;
    ChangeType type = ChangeType::kInsert;
    bool assigned = false;  // PendingChange::assigned
  };
  struct Round {
    QElapsedTimer started;    // when it was sent (expireSilentRounds())
    int64_t startCursor = 0;  // every change up to here was read before this round
    QHash<qint64, InFlight> inFlight;
    QList<PublishResult> results;  // one per change of the round, acked or failed
  };

  // An ack received, with what recording it needs.
  struct Unrecorded {
    PublishResult result;
    InFlight flight;
  };
  // Records the acks of `todo` in short transactions; those recorded leave it (and `acked` lists
  // them). Stops at the first failure (kBusy: the database was locked), leaving the rest.
  Status recordAcks(QList<Unrecorded>* todo, QList<int64_t>* acked);
  // Records the acks waiting in m_unrecorded; keeps those it could not record for
  // recordDeferred(), soon, with a growing delay. Returns the ids recorded.
  QList<int64_t> recordOrDefer();
  void recordDeferred();
  void startRounds();
  void expireSilentRounds();
  bool startRound();  // false when there was nothing to send
  void finishRound(int round);

  Config m_config;
  SqliteDb& m_db;
  ChangeLog& m_log;
  SchemaCatalog& m_catalog;
  ReplicationState& m_state;
  NatsClient& m_nats;
  const ShardPositions& m_positions;
  const Collisions* m_collisions;

  bool m_connected = false;
  bool m_paused = false;
  QHash<int, quint64> m_highestAcked;  // highestAcked(), from the change log at start
  int64_t m_cursor = 0;                // every change up to here was read (and sent or dealt with)
  std::map<int, Round> m_rounds;       // by round number
  QHash<qint64, int> m_roundOf;        // change id -> round number
  QSet<int64_t> m_attempted;           // changes sent once and failed, not yet acked
  int m_nextRound = 1;
  int64_t m_firstFailed = 0;  // set while failed changes wait for their rounds to end
  QString m_firstError;
  QTimer m_retry;
  QTimer m_roundWatch;
  QList<Unrecorded> m_unrecorded;  // acked, not recorded yet (recordOrDefer())
  QTimer m_recordRetry;
  int m_recordDelayMs = 0;  // the next retry's delay; 0 while no ack waits
  int m_backoffMs = 0;
  Stats m_stats;
};

}  // namespace hl
