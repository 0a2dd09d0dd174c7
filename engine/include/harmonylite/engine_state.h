// NodeStatus: one copyable picture of the node, produced by the engine thread a few times per
// second (never per change) and read by the hosts: the health endpoint now, the metrics and
// the dashboard later. Value types only: nothing here points into engine objects.
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>

#include <cstdint>

namespace hl {

struct ShardStatus {
  int shard = 0;
  QString stream;
  quint64 applied = 0;        // last applied (or skipped) stream sequence
  quint64 received = 0;       // newest sequence delivered to the node
  qint64 lagMessages = 0;     // messages in the stream not applied yet
  double lagSeconds = 0;      // age of the oldest message not applied yet (0 when caught up)
  QString state;              // running, stopped, needs-restore
  QString lastError;
  qint64 appliedChanges = 0;  // remote changes applied since start
  qint64 conflicts = 0;
  qint64 deadLetters = 0;
};

struct DeadLetterInfo {
  qint64 id = 0;
  QString at;  // RFC 3339
  QString stream;
  quint64 seq = 0;
  QString reason;
};

struct ConflictInfo {
  qint64 id = 0;
  QString at;
  QString table;
  QString rowKey;
  QString winner;
  QString loser;
};

// A node of the cluster as its last status record told (docs/replication.md#health-endpoint): any node shows every node.
struct PeerStatus {
  uint64_t nodeId = 0;
  QString version;
  qint64 lastSeenMs = 0;       // when its record arrived (epoch ms)
  bool healthy = false;
  QString reason;
  QString schemaHash;
  qint64 lagMessages = 0;      // summed over its shards
  double lagSeconds = 0;       // the largest of its shards
  QString shardStates;         // e.g. "1:running 2:running"
};

struct NodeStatus {
  uint64_t nodeId = 0;
  QString version;
  qint64 uptimeSeconds = 0;
  QString dbPath;
  qint64 dbSizeBytes = 0;
  qint64 walSizeBytes = 0;
  bool dbConnected = false;
  bool natsConnected = false;
  QString natsServer;          // connected URL
  QString embeddedServer;      // embedded nats-server state, "" when external servers are used
  bool cdcInstalled = false;   // capture triggers installed (or publish = false)
  int tablesTracked = 0;
  QString schemaHash;
  qint64 pendingChanges = 0;   // captured, not published yet
  qint64 failedChanges = 0;    // moved to the failed state (too large)
  qint64 published = 0;        // since start
  qint64 failedPublishes = 0;  // publish attempts that failed and were retried, since start
  qint64 natsReconnects = 0;   // since start
  qint64 lastPublishedMs = 0;  // epoch ms, 0 = never
  qint64 lastReplicatedMs = 0; // epoch ms, 0 = never
  QList<ShardStatus> shards;
  bool publishingPaused = false;
  qint64 deadLetterCount = 0;             // rows in the dead-letter table
  qint64 conflictCount = 0;               // rows in the conflict journal
  QList<DeadLetterInfo> recentDeadLetters;  // newest first, at most 20
  QList<ConflictInfo> recentConflicts;      // newest first, at most 20
  QList<PeerStatus> cluster;                // every node heard from (this one included)
  bool healthy = false;
  QString unhealthyReason;     // why not healthy: the first failing check
};

}  // namespace hl

Q_DECLARE_METATYPE(hl::NodeStatus)
