// buildStatus(): the node's status model (harmonylite/engine_state.h) and its health rule, as a
// pure function of the facts the engine gathers from its components a few times per second
// (Engine::gatherStatusFacts). No database, no NATS: unit-tested on plain values.
//
// Health rule (docs/replication.md#health-endpoint), the first failing check is the reason:
//   1. the database is open;
//   2. NATS is connected;
//   3. change capture is installed (unless publish = false);
//   4. the node's own bookkeeping could be read (a failed read names what and why);
//   5. every shard is Running, Paused or SchemaPaused (the operator's pause, and the wait for a
//      schema change during a rolling upgrade, are expected states); a shard that
//      is Stopped, NeedsRestore or Restoring makes the node unhealthy with the shard's reason.
// Thread: pure; any thread.
#pragma once

#include <QList>
#include <QString>

#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"

namespace hl {

struct StatusFacts {
  // Every plain field, filled by the engine: identity, sizes, connections, counters, shards,
  // peers. buildStatus() sets the values read below and `healthy`/`unhealthyReason`.
  NodeStatus node;
  bool captureExpected = true;  // publish = true
  // Read from the database: errors travel as Status and make the node unhealthy.
  Result<int64_t> pendingChanges = int64_t(0);
  Result<int64_t> failedChanges = int64_t(0);
  Result<int64_t> keptChanges = int64_t(0);  // node.keptOldestAgeSeconds comes with it
  Result<int64_t> deadLetterCount = int64_t(0);
  Result<int64_t> conflictCount = int64_t(0);
  Result<QList<DeadLetterInfo>> recentDeadLetters = QList<DeadLetterInfo>();
  Result<QList<ConflictInfo>> recentConflicts = QList<ConflictInfo>();
};

NodeStatus buildStatus(const StatusFacts& facts);

}  // namespace hl
