// ShardPositions: the applied stream sequence of every shard, in memory. The consumer moves it
// forward as it applies (and commits the same value with the rows, see ReplicationState); the
// publisher reads it to stamp each message with the position its sender had seen (Hl-Seen-Seq,
// docs/replication.md#applying); the engine keeps it across a NATS reconnect.
// Thread: the engine thread. Owned by the Engine; the others hold references.
#pragma once

#include <QHash>
#include <QString>
#include <QVector>

namespace hl {

class ShardPositions {
 public:
  explicit ShardPositions(int shards = 0) : m_applied(shards + 1, 0) {}

  // 0 for a shard out of range (or never applied).
  quint64 applied(int shard) const {
    return shard > 0 && shard < m_applied.size() ? m_applied[shard] : 0;
  }
  void setApplied(int shard, quint64 seq) {
    if (shard > 0 && shard < m_applied.size()) m_applied[shard] = seq;
  }

 private:
  QVector<quint64> m_applied;  // index = shard number (0 unused)
};

}  // namespace hl
