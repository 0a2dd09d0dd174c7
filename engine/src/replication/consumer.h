// Consumer: applies the changes of every shard stream to the local database
// (docs/replication.md#applying, docs/replication.md#crash-safety).
//
// One push subscription per shard starts at the applied position + 1. Messages are queued on
// the engine thread and applied in stream order, in batches. The consumer owns each batch's
// write transaction: in it, it decides every change with the convergence rule
// (replication/convergence.h, from facts it asks the publisher and the state store for), has
// the applier apply the changes that go through, and records the new applied position, the
// dead letters and the conflicts; the batch is acknowledged (ack-all) only after the commit.
// The seq-map file (docs/wire-format.md#seq-map) is rewritten atomically after commits, at
// most every 200 ms and at stop. The node's own messages are skipped (the row is already here),
// recognised by their Nats-Msg-Id without decoding. A message that cannot be decoded or applied
// is dead-lettered with its reason, and the shard goes on. A shard whose next needed message
// has aged out of the stream stops in ShardState::NeedsRestore; it never skips silently.
// A change that this node's schema cannot take yet (replication/schema_gate.h) stops its shard
// in ShardState::SchemaPaused at that change: the changes before it are applied and acked, it
// and the ones after it are not (no ack, no position advance; the subscription is dropped, so
// NATS holds them and sends nothing meanwhile). onSchemaChanged() subscribes again from the
// applied position, which delivers that change again (docs/schema-changes.md#pause).
// Thread: the engine thread. Uses, does not own, the objects it is given.
#pragma once

#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>
#include <QVector>

#include <algorithm>

#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"
#include "nats/nats_client.h"
#include "nats/request_thread.h"
#include "replication/schema_gate.h"
#include "replication/state_store.h"
#include "schema/row_reader.h"
#include "wire/change.h"

namespace hl {

class Applier;
class Collisions;
class Publisher;
class SchemaCatalog;
class ShardPositions;
class SqliteDb;

class Consumer final : public QObject {
  Q_OBJECT
 public:
  struct ShardStatus {
    ShardState state = ShardState::Stopped;
    quint64 received = 0;       // highest sequence received
    qint64 appliedChanges = 0;  // remote changes applied since start
    qint64 skippedOwn = 0;      // own messages
    qint64 conflicts = 0;
    qint64 deadLetters = 0;
    qint64 lastAppliedMs = 0;   // epoch ms
    quint64 streamPending = 0;  // messages after the newest received one (JetStream's count)
    // Paused by the operator: the stream's last sequence, read while paused (nothing is
    // delivered then), so that the lag still grows with what waits (docs/alerts.md#rules).
    quint64 pausedStreamLast = 0;
    QString lastError;
    // SchemaPaused: the change the shard waits at (kept while it is delivered again).
    struct SchemaWait {
      quint64 seq = 0;  // 0 = not waiting
      QString hash;
      uint64_t fromNode = 0;
      QString table;
      QString reason;
      qint64 sinceMs = 0;
      qint64 messageMs = 0;     // when it was stored in the stream
      qint64 redeliveries = 0;  // deliveries after the first one
      quint64 streamLast = 0;   // the stream's last sequence, read while paused
    } wait;
  };

  // `positions` holds the applied position of every shard (from the state store at start); the
  // consumer moves it forward. `publisher` is null on a node that does not publish. The
  // requests that wait for JetStream's answer (a new consumer, a paused shard's count) run on
  // `requests`.
  Consumer(const Config& config, SqliteDb& db, SchemaCatalog& catalog, Applier& applier,
           Collisions& collisions, ReplicationState& state, NatsClient& nats,
           ShardPositions& positions, Publisher* publisher, RequestThread& requests,
           QObject* parent = nullptr);
  ~Consumer() override;  // records positions and writes the seq-map file one last time

  // Subscribes every shard from its applied position.
  void start();
  // Re-creates every subscription from its applied position (after a reconnect or a stall):
  // the stream's state is checked (the gap check), then a new consumer is made; both on the
  // request thread. The shard keeps its state until the answer is back; a later resubscribe(),
  // pause() or schema pause makes the answer of an earlier one void.
  void resubscribeAll();
  void resubscribe(int shard);
  // The shard's subscription reported missed heartbeats: subscribes again, unless the shard is
  // held on purpose (paused by the operator or by schema, or waiting for a restore), whose
  // subscription is gone already and whose late errors are ignored.
  void onStalled(int shard);
  // The durability guard's reading of the shard's stream (its last sequence): a running shard
  // that stays behind it with nothing received and nothing to apply for kStuckMs has a
  // subscription that delivers nothing, and is subscribed again (docs/replication.md#applying).
  // When the new subscription delivers nothing either, the shard fetches what it lacks from the
  // stream's leader by sequence (up to kFetchMax messages or kFetchBudgetMs per look) until one
  // delivers again.
  void checkProgress(int shard, quint64 streamLast);
  // The Nats-Msg-Id of the message at applied(shard) as it was applied ("" when not known:
  // none since start, or it had none). The durability guard compares it with the stream's.
  QByteArray lastAppliedMsgId(int shard) const {
    return shard > 0 && shard < m_shards.size() ? m_shards[shard].lastAppliedMsgId : QByteArray();
  }
  // The stream sequence lastAppliedMsgId() was applied at (0: none since start); differs from
  // applied() once the position is moved (a heal, a restore, a re-read).
  quint64 lastAppliedSeq(int shard) const {
    return shard > 0 && shard < m_shards.size() ? m_shards[shard].lastAppliedSeq : 0;
  }
  // Every kCheckpointEvery-th message applied, as it was applied: its stream sequence, its
  // Nats-Msg-Id and the time the stream stored it. A stream that went back and still holds one
  // of them unchanged (same id, same stored time) lost nothing up to it, so the durability
  // guard reads again from there instead of from the stream's first message
  // (docs/replication.md#durability). The newest kMaxCheckpoints, oldest first; in memory only.
  struct Checkpoint {
    quint64 seq = 0;
    QByteArray msgId;
    qint64 timestampNs = 0;
  };
  QList<Checkpoint> checkpoints(int shard) const {
    return shard > 0 && shard < m_shards.size() ? m_shards[shard].checkpoints : QList<Checkpoint>();
  }
  // The checkpoints past `seq` name messages the stream no longer holds (after a heal).
  void dropCheckpointsAbove(int shard, quint64 seq);
  static constexpr quint64 kCheckpointEvery = 1000;
  static constexpr int kMaxCheckpoints = 64;
  static constexpr qint64 kStuckMs = 10000;
  static constexpr int kFetchMax = 1024;
  static constexpr qint64 kFetchBudgetMs = 1000;
  // Operator control: stop applying a shard (0 = every shard) and start again from its
  // applied position. A shard that needs a restore stays so.
  Status pause(int shard);
  Status resume(int shard);
  // This node's schema changed: every shard paused by a schema difference subscribes again
  // from its applied position (it pauses again if it still cannot take that change).
  void onSchemaChanged();
  // Every schema hash this node has had (SchemaGate::setKnownHashes).
  void setKnownSchemaHashes(const QStringList& hashes) { m_gate.setKnownHashes(hashes); }
  // Operator control: applies dead letter `id` again, in the same kind of transaction as a
  // batch (without the convergence rule: the operator asked for it), and deletes it once
  // applied; a failure keeps it with the new reason. A row of this node that lost an insert
  // collision (dead-letter policy) is inserted under a new key instead, as a local insert.
  // `done` says what was done.
  Status retryDeadLetter(qint64 id, QString* done);
  void onReceived(const IncomingMessage& message);
  // The consistency check (docs/consistency.md#check): each shard in `target` applies up to
  // its position there and no further until releaseHold(); what arrives beyond it waits in the
  // queue (unacknowledged, as during a pause). Replaces an earlier hold.
  void holdAt(const QHash<int, quint64>& target);
  void releaseHold();
  bool holding() const { return !m_holdAt.isEmpty(); }
  // A message beyond the hold waits in the queue of `shard`.
  bool heldBack(int shard) const;
  // A batch that waits for the ack of an own change in flight is tried again.
  void onPublisherRoundFinished();

  int shardCount() const { return int(m_shards.size()) - 1; }
  // Messages not applied yet, and the age in seconds of the oldest of them that arrived.
  qint64 lagMessages(int shard) const;
  double lagSeconds(int shard) const;
  const ShardStatus& status(int shard) const { return m_shards[shard].status; }
  quint64 replayOwnUpTo(int shard) const { return m_shards[shard].replayOwnUpTo; }
  // Own messages up to `seq` are applied like any other from now on (a re-read of messages
  // this node applied once: docs/replication.md#durability). Never lowers it.
  void replayOwnUpTo(int shard, quint64 seq) {
    if (shard > 0 && shard < m_shards.size())
      m_shards[shard].replayOwnUpTo = std::max(m_shards[shard].replayOwnUpTo, seq);
  }

 signals:
  void batchApplied(int shard, int count);
  // The shard's stream holds less than this node applied (its last message is below the applied
  // position: acknowledged messages were lost, docs/replication.md#durability). The shard is
  // not subscribed; the engine's durability guard heals it and subscribes it again.
  void streamWentBack(int shard, quint64 first, quint64 last);
  // What happened, once, as it happens: ShardStateChanged, ShardError (a batch could not be
  // applied and is tried again; told when the error is a new one), DeadLettered and
  // ConflictRecorded (after their transaction committed).
  void event(const hl::EngineEvent& event);

 private:
  static constexpr int kMinRetryDelayMs = 1000;
  static constexpr int kMaxRetryDelayMs = 5000;
  struct Shard {
    ShardStatus status;
    quint64 generation = 0;
    QList<IncomingMessage> queue;
    bool positionDirty = false;  // applied moved past own messages, not yet recorded
    quint64 replayOwnUpTo = 0;   // own messages up to here are applied (after a restore)
    quint64 retryToken = 0;      // the scheduled retry that may still run (retryLater())
    bool retryPending = false;   // a retry is scheduled
    int retryDelayMs = 1000;     // the next retry's delay (kMinRetryDelayMs doubling)
    // checkProgress(): since when applied and received have not moved while behind the stream.
    qint64 stuckSinceMs = 0;
    QByteArray lastAppliedMsgId;    // Nats-Msg-Id of the message at applied() ("": not known)
    quint64 lastAppliedSeq = 0;     // where it was applied
    QList<Checkpoint> checkpoints;  // see checkpoints()
    quint64 stuckApplied = 0, stuckReceived = 0;
    // The watchdog re-created the subscription and it has delivered nothing since: the shard
    // fetches by sequence (checkProgress()).
    bool fetching = false;
    bool fetchAsked = false;   // fetchMissing() waits for its answer
    bool subscribing = false;  // resubscribe() waits for its answer
  };
  // What resubscribe() asked JetStream, from applied position `from`: the stream's state and,
  // when nothing the shard needs is missing from it, the new subscription.
  struct Attempt {
    quint64 from = 0;
    Status state;
    quint64 first = 0, last = 0;
    NatsClient::NewSubscription made;
  };
  // What fetchMissing() fetched by sequence from `from`, and why it stopped.
  struct Fetched {
    quint64 from = 0;
    QList<IncomingMessage> messages;
    Status error;
    qint64 spentMs = 0;
  };
  struct DeadLetter {
    quint64 seq = 0;
    QString reason;
    QByteArray payload;
    bool lostInsert = false;  // ReplicationState::addDeadLetter()
  };
  // What the convergence rule and the dead-letter table need of a remote change, beside it.
  struct Origin {
    quint64 seq = 0;     // its stream sequence
    QByteArray seenSeq;  // Hl-Seen-Seq
    QByteArray payload;  // the message as received
    // rowKeyOf() of the change and its key columns, made outside the write transaction; an
    // empty row key when the table is unknown or the key incomplete (the applier says poison).
    QByteArray rowKey;
    RowImage key;
    QByteArray captureSeq;  // Hl-Capture-Seq ("" when the sender sent none)
  };
  // The remote changes of a batch, decoded, with what the convergence rule needs of each.
  struct Batch {
    int shard = 0;
    quint64 lastSeq = 0;
    int own = 0;                    // own messages skipped
    int stamp = 0;                  // the publisher's newest round when the last message arrived
    QList<Change> changes;          // what the applier applies
    QList<Origin> origins;          // parallel to changes
    QList<DeadLetter> dead;         // undecodable messages, then the poison changes
    QList<DeadLetter> lostInserts;  // this node's rows that lost an insert collision (dead-letter)
    QList<ConflictRecord> conflicts;
    QStringList collisions;      // the table of each insert collision found (counted at commit)
    QStringList collisionNotes;  // what was done about each, logged once the batch committed
    // Rows with an insert collision in this batch (true: this node's version moved to a fresh
    // key or to a dead letter): their later changes in the batch are not collisions again.
    QHash<QByteArray, bool> collided;
    // The fresh keys our rows moved to in this batch: an unsent own insert each, for the rest
    // of the batch (Publisher::pendingOwnRows() was asked before the moves).
    QSet<QByteArray> movedTo;
    // Inserts that lost a collision (Collisions::isLosingInsert): skipped, and no birth.
    QSet<qsizetype> losing;
    int64_t captureMark = -1;  // the newest change id when the batch committed
    bool waitForPublisher = false;
    int skippedDropped = 0;  // changes of tables this node dropped (an older schema's)
    // The batch ends before a change the schema cannot take: its index in the queue (-1: none).
    int pauseAt = -1;
    ShardStatus::SchemaWait pause;
  };

  void drain();
  // The answer to resubscribe(): the shard runs, stops until a retry, or needs a restore.
  void subscribed(int shard, Attempt attempt);
  // resubscribe(shard) after a delay, replacing a retry scheduled before.
  void retryLater(int shard);
  // The retry retryLater() scheduled will not run.
  static void cancelRetry(Shard& sh);
  // The first n queued messages are applied: lastAppliedMsgId and the checkpoints follow.
  static void noteApplied(Shard& sh, int n);
  // The watchdog's last resort (checkProgress()): messages fetched from the stream by sequence.
  void fetchMissing(int shard, quint64 streamLast);
  // A message of the shard's current subscription (delivered or fetched) joins its queue.
  void enqueue(const IncomingMessage& message);
  // Applies the longest contiguous run at the head of the shard's queue; false when it must
  // wait (retry later).
  bool applyBatch(int shard);
  // Decodes up to `count` messages of the queue; stops before a change that pauses the shard.
  Batch readBatch(int shard, int count);
  void pauseForSchema(int shard, const ShardStatus::SchemaWait& wait);
  void refreshPausedCounts();
  // The batch's write transaction; returns how many changes were applied in the attempt that
  // committed.
  Result<int> commitBatch(Batch& batch);
  // After a batch of `changes` held the write lock `heldUs`: the next batches' size.
  void adaptBatchLimit(int changes, int64_t heldUs);
  // The convergence rule for every change of the batch (inside its transaction): clears the
  // entries of `apply` to skip and lists the conflicts. kUnavailable with waitForPublisher set
  // when an own change in flight must be acked first.
  Status decide(Batch& batch, QList<bool>* apply);
  // The journal entry of a conflict between the local row and `change`; none when the two are
  // the same row (nothing was lost, e.g. two nodes that re-published the row that kept a
  // collided key).
  Result<std::optional<ConflictRecord>> conflictRecord(const Change& change, const RowImage& key,
                                                       const QString& winner, const QString& loser);
  // An own insert that lands later than the remote insert `i` of the same row collided with it
  // (replication/collisions.h): deals with it by the table's policy, inside the transaction.
  // `ownSeq`: the stream position of the own change of the row (0: none published).
  // retryDeadLetter() of a lost insert.
  Status reinsertLostRow(qint64 id, const Change& lost, QString* done);
  Status resolveCollision(Batch& b, qsizetype i, const QString& remote, quint64 ownSeq,
                          QList<bool>* apply);
  // Every node: the remote inserts that lost a collision to an earlier insert of their row
  // (their sender moves its row), in b.losing.
  Status findLosingInserts(Batch& b);
  // Rows recorded after the apply: born with an insert or update, gone with a delete.
  Status noteBirths(const Batch& b, const QList<bool>& apply);
  void setState(int shard, ShardState state, const QString& reason);
  quint64 applied(int shard) const;
  Status writeSeqMap(bool synced = true);
  // Records positions that moved past own messages only.
  Status flushPositions();

  Config m_config;
  SqliteDb& m_db;
  SchemaCatalog& m_catalog;
  Applier& m_applier;
  Collisions& m_collisions;
  ReplicationState& m_state;
  NatsClient& m_nats;
  ShardPositions& m_positions;
  Publisher* m_publisher;
  RequestThread& m_requests;
  RowReader m_rows;  // the local row of a conflict
  SchemaGate m_gate;
  QVector<Shard> m_shards;  // index = shard number (0 unused)
  QTimer m_drainTimer;
  QTimer m_retryTimer;
  QTimer m_seqMapTimer;
  QTimer m_positionTimer;
  QTimer m_pausedTimer;              // refreshes the waiting counts of shards paused by schema
  bool m_pausedCountsAsked = false;  // refreshPausedCounts() waits for its answer
  quint64 m_nextGeneration = 1;
  bool m_waitingForPublisher = false;
  QHash<int, quint64> m_holdAt;  // holdAt(): shard -> the last position it may apply
  // Changes per batch, adapted to keep each apply transaction near kBatchTargetUs.
  int m_batchLimit = 256;
};

}  // namespace hl
