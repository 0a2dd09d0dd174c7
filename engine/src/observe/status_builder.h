// buildStatus(): the node's status model (harmonylite/engine_state.h) and its health rule, as a
// pure function of the facts the engine gathers from its components a few times per second
// (Engine::gatherStatusFacts). No database, no NATS: unit-tested on plain values.
//
// Health rule (docs/replication.md#health-endpoint), the first failing check is the reason:
//   1. the database is open;
//   2. NATS is connected;
//   3. change capture is installed (unless publish = false);
//   4. the node's own bookkeeping could be read (a failed read names what and why);
//   5. every shard is Running or Paused (the operator's pause is not a failure); a shard that
//      is Stopped or NeedsRestore makes the node unhealthy with the shard's reason.
// Thread: pure; any thread.
#pragma once

#include <QList>
#include <QString>

#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"

namespace hl {

struct StatusFacts {
  uint64_t nodeId = 0;
  QString version;
  qint64 uptimeSeconds = 0;
  QString dbPath;
  qint64 dbSizeBytes = 0;
  qint64 walSizeBytes = 0;
  bool dbOpen = false;
  bool natsConnected = false;
  QString natsServer;
  ServerState embeddedServer = ServerState::None;
  qint64 natsReconnects = 0;
  bool captureExpected = true;  // publish = true
  bool captureInstalled = false;
  int tablesTracked = 0;
  QString schemaHash;
  qint64 published = 0;
  qint64 failedPublishes = 0;
  qint64 lastPublishedMs = 0;
  bool publishingPaused = false;
  // Read from the database: errors travel as Status and make the node unhealthy.
  Result<int64_t> pendingChanges = int64_t(0);
  Result<int64_t> failedChanges = int64_t(0);
  Result<int64_t> deadLetterCount = int64_t(0);
  Result<int64_t> conflictCount = int64_t(0);
  Result<QList<DeadLetterInfo>> recentDeadLetters = QList<DeadLetterInfo>();
  Result<QList<ConflictInfo>> recentConflicts = QList<ConflictInfo>();
  QList<ShardStatus> shards;    // every field filled by the engine
  qint64 lastReplicatedMs = 0;  // epoch ms, 0 = never
  QList<PeerStatus> peers;
};

NodeStatus buildStatus(const StatusFacts& facts);

}  // namespace hl
