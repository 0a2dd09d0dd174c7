// Consumer: applies the changes of every shard stream to the local database (docs/replication.md#applying, docs/replication.md#crash-safety).
//
// One push subscription per shard starts at the applied position + 1. Messages are queued on
// the engine thread and applied in stream order, in batches, each batch in one SQLite
// transaction that also records the new applied position, the dead letters and the conflicts;
// the batch is acknowledged (ack-all) only after that commit. The seq-map file (docs/wire-format.md#seq-map) is
// rewritten atomically after commits, at most every 200 ms and at stop. A message is skipped when it is the node's own (its row is already
// here) or older than the node's own latest change of the same row (pending, or later in the
// stream): this keeps every node equal to the last message of each row, without a node's own
// newer write flickering back. A message that cannot be decoded or applied is dead-lettered with
// its reason, and the shard goes on. A shard whose next needed message has aged out of the
// stream stops and reports that it needs a restore; it never skips silently.
// Thread: the engine thread. Uses, does not own, the objects it is given.
#pragma once

#include <QHash>
#include <QObject>
#include <QTimer>
#include <QVector>

#include "harmonylite/config.h"
#include "nats/nats_client.h"

namespace hl {

class Applier;
class Publisher;
class ReplicationState;
class SchemaCatalog;
class SqliteDb;

class Consumer final : public QObject {
  Q_OBJECT
 public:
  enum class ShardState { kStopped, kRunning, kNeedsRestore, kPaused };

  struct ShardStatus {
    ShardState state = ShardState::kStopped;
    quint64 applied = 0;         // last applied (or skipped) stream sequence
    quint64 received = 0;        // highest sequence received
    qint64 appliedChanges = 0;   // remote changes applied since start
    qint64 skippedOwn = 0;       // own messages
    qint64 conflicts = 0;
    qint64 deadLetters = 0;
    qint64 lastAppliedMs = 0;    // epoch ms
    quint64 streamPending = 0;   // messages after the newest received one (JetStream's count)
    QString lastError;
  };

  Consumer(const Config& config, SqliteDb& db, SchemaCatalog& catalog, Applier& applier,
           ReplicationState& state, NatsClient& nats, Publisher* publisher, QObject* parent = nullptr);
  ~Consumer() override;  // writes the seq-map file one last time

  // Takes the applied positions (by stream name) and subscribes every shard.
  void start(const QHash<QString, quint64>& positions);
  // Re-creates every subscription from its applied position (after a reconnect or a stall).
  void resubscribeAll();
  void resubscribe(int shard);
  // Operator control: stop applying a shard (0 = every shard) and start again from its
  // applied position. A shard that needs a restore stays so.
  Status pause(int shard);
  Status resume(int shard);
  void onReceived(const IncomingMessage& message);
  // A batch that waits for the ack of an own change in flight is tried again.
  void onPublisherRoundFinished();

  quint64 applied(int shard) const;
  int shardCount() const { return int(m_shards.size()) - 1; }
  // Messages not applied yet, and the age in seconds of the oldest of them that arrived.
  qint64 lagMessages(int shard) const;
  double lagSeconds(int shard) const;
  const ShardStatus& status(int shard) const { return m_shards[shard].status; }

 signals:
  void batchApplied(int shard, int count);
  void shardStateChanged(int shard, hl::Consumer::ShardState state, const QString& reason);

 private:
  struct Shard {
    ShardStatus status;
    quint64 generation = 0;
    QList<IncomingMessage> queue;
    bool positionDirty = false;  // applied moved past own messages, not yet recorded
  };

  void drain();
  // Applies the longest contiguous run at the head of the shard's queue; false when it must
  // wait (retry later).
  bool applyBatch(int shard);
  void setState(int shard, ShardState state, const QString& reason);
  Status writeSeqMap();
  // Records positions that moved past own messages only.
  Status flushPositions();

  Config m_config;
  SqliteDb& m_db;
  SchemaCatalog& m_catalog;
  Applier& m_applier;
  ReplicationState& m_state;
  NatsClient& m_nats;
  Publisher* m_publisher;
  QVector<Shard> m_shards;  // index = shard number (0 unused)
  QTimer m_drainTimer;
  QTimer m_retryTimer;
  QTimer m_seqMapTimer;
  QTimer m_positionTimer;
  quint64 m_nextGeneration = 1;
  bool m_waitingForPublisher = false;
};

}  // namespace hl
