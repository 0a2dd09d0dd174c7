#include "observe/status_builder.h"

namespace hl {
namespace {

// The value of a read, or `fallback` with the first failure noted in `error`.
template <typename T>
T valueOr(const Result<T>& r, const char* what, T fallback, QString* error) {
  if (r.ok()) return *r;
  if (error->isEmpty())
    *error = QStringLiteral("cannot read %1: %2").arg(QLatin1String(what), r.status().message());
  return fallback;
}

}  // namespace

NodeStatus buildStatus(const StatusFacts& f) {
  NodeStatus st = f.node;
  QString readError;
  st.pendingChanges = valueOr(f.pendingChanges, "pending changes", int64_t(0), &readError);
  st.failedChanges = valueOr(f.failedChanges, "failed changes", int64_t(0), &readError);
  st.keptChanges = valueOr(f.keptChanges, "kept changes", int64_t(0), &readError);
  st.deadLetterCount = valueOr(f.deadLetterCount, "dead letters", int64_t(0), &readError);
  st.conflictCount = valueOr(f.conflictCount, "conflicts", int64_t(0), &readError);
  st.recentDeadLetters =
      valueOr(f.recentDeadLetters, "dead letters", QList<DeadLetterInfo>(), &readError);
  st.recentConflicts = valueOr(f.recentConflicts, "conflicts", QList<ConflictInfo>(), &readError);

  QString stalled;
  for (const ShardStatus& s : st.shards) {
    if (s.state == ShardState::Running || s.state == ShardState::Paused ||
        s.state == ShardState::SchemaPaused)
      continue;
    stalled = QStringLiteral("shard %1 is %2%3")
                  .arg(s.shard)
                  .arg(stateName(s.state), s.lastError.isEmpty() ? QString() : ": " + s.lastError);
    break;
  }
  if (!st.dbConnected)
    st.unhealthyReason = QStringLiteral("database not open");
  else if (!st.natsConnected)
    st.unhealthyReason = QStringLiteral("NATS not connected");
  else if (f.captureExpected && !st.cdcInstalled)
    st.unhealthyReason = QStringLiteral("change capture not installed");
  else if (!readError.isEmpty())
    st.unhealthyReason = readError;
  else
    st.unhealthyReason = stalled;
  st.healthy = st.unhealthyReason.isEmpty();
  return st;
}

}  // namespace hl
