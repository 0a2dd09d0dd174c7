#include "observe/alert_rules.h"

#include <cmath>
#include <iterator>

namespace hl {
namespace {

enum class Kind {
  kLagSeconds,
  kLagMessages,
  kSnapshotAgeSeconds,
  kDeadLetters,
  kConflictsPerMinute,
  kNatsDisconnectedSeconds,
  kDiskFreePercent,
  kShardStopped,
  kShardNeedsRestore,
  kShardSchemaPaused,
  kDatabase,
  kCapture,
  kDuplicateNodeId,
};

struct RuleDef {
  Kind kind;
  const char* name;
  AlertSeverity severity;
  int64_t AlertsConfig::*threshold;  // null: always on, threshold 1
  bool holds;                        // waits alerts.hold_seconds before firing
};

// The order of docs/alerts.md and of /metrics.
constexpr RuleDef kRules[] = {
    {Kind::kLagSeconds, "lag_seconds", AlertSeverity::Warning, &AlertsConfig::lagSeconds, true},
    {Kind::kLagMessages, "lag_messages", AlertSeverity::Warning, &AlertsConfig::lagMessages, true},
    {Kind::kSnapshotAgeSeconds, "snapshot_age_seconds", AlertSeverity::Warning,
     &AlertsConfig::snapshotAgeSeconds, false},
    {Kind::kDeadLetters, "dead_letters", AlertSeverity::Warning, &AlertsConfig::deadLetters, true},
    {Kind::kConflictsPerMinute, "conflicts_per_minute", AlertSeverity::Warning,
     &AlertsConfig::conflictsPerMinute, true},
    {Kind::kNatsDisconnectedSeconds, "nats_disconnected_seconds", AlertSeverity::Critical,
     &AlertsConfig::natsDisconnectedSeconds, false},
    {Kind::kDiskFreePercent, "disk_free_percent", AlertSeverity::Critical,
     &AlertsConfig::diskFreePercent, true},
    {Kind::kShardStopped, "shard_stopped", AlertSeverity::Critical, nullptr, true},
    {Kind::kShardNeedsRestore, "shard_needs_restore", AlertSeverity::Critical, nullptr, true},
    {Kind::kShardSchemaPaused, "shard_schema_paused", AlertSeverity::Warning, nullptr, true},
    {Kind::kDatabase, "database", AlertSeverity::Critical, nullptr, true},
    {Kind::kCapture, "capture", AlertSeverity::Critical, nullptr, true},
    {Kind::kDuplicateNodeId, "duplicate_node_id", AlertSeverity::Critical, nullptr, false},
};

// "45 s", "12 min", "3 h 5 min", "2 d 4 h".
QString duration(double seconds) {
  const qint64 s = qint64(std::llround(std::max(0.0, seconds)));
  if (s < 120) return QStringLiteral("%1 s").arg(s);
  if (s < 3600) return QStringLiteral("%1 min").arg(s / 60);
  if (s < 2 * 86400) {
    const qint64 m = (s % 3600) / 60;
    return m ? QStringLiteral("%1 h %2 min").arg(s / 3600).arg(m)
             : QStringLiteral("%1 h").arg(s / 3600);
  }
  const qint64 h = (s % 86400) / 3600;
  return h ? QStringLiteral("%1 d %2 h").arg(s / 86400).arg(h)
           : QStringLiteral("%1 d").arg(s / 86400);
}

// The shards in `state`, and the first one's detail.
std::pair<int, const ShardStatus*> shardsIn(const NodeStatus& s, ShardState state) {
  int n = 0;
  const ShardStatus* first = nullptr;
  for (const ShardStatus& sh : s.shards) {
    if (sh.state != state) continue;
    if (!first) first = &sh;
    ++n;
  }
  return {n, first};
}

QString shardList(int n, const ShardStatus* first) {
  return n == 1 ? QStringLiteral("shard %1").arg(first->shard)
                : QStringLiteral("%1 shards (first: shard %2)").arg(n).arg(first->shard);
}

}  // namespace

AlertRules::AlertRules(AlertsConfig config) : m_config(config) {
  for (int i = 0; i < int(std::size(kRules)); ++i) {
    const RuleDef& def = kRules[i];
    const int64_t threshold = def.threshold ? m_config.*def.threshold : 1;
    if (threshold <= 0) continue;  // off
    AlertInfo a;
    a.rule = QLatin1String(def.name);
    a.severity = def.severity;
    a.threshold = double(threshold);
    m_alerts.append(a);
    m_rules.append(i);
  }
}

double AlertRules::conflictsLastMinute(const AlertInputs& in) {
  m_conflicts.emplace_back(in.nowMs, in.conflictsSinceStart);
  while (m_conflicts.size() > 1 && m_conflicts.front().first < in.nowMs - 60000)
    m_conflicts.pop_front();
  return double(in.conflictsSinceStart - m_conflicts.front().second);
}

AlertRules::Reading AlertRules::read(int rule, const NodeStatus& s, const AlertInputs& in,
                                     double threshold) {
  Reading r;
  // The shards in `state`: how many is the value, any is active; the first, for the message.
  const auto countShards = [&](ShardState state) {
    const auto [n, first] = shardsIn(s, state);
    r.value = n;
    r.active = n > 0;
    return first;
  };
  switch (kRules[rule].kind) {
    case Kind::kLagSeconds: {
      const ShardStatus* worst = nullptr;
      for (const ShardStatus& sh : s.shards)
        if (!worst || sh.lagSeconds > worst->lagSeconds) worst = &sh;
      r.value = worst ? worst->lagSeconds : 0;
      r.active = r.value >= threshold;
      if (worst)
        r.message = QStringLiteral("shard %1 lags %2 behind (alert at %3)")
                        .arg(worst->shard)
                        .arg(duration(r.value), duration(threshold));
      break;
    }
    case Kind::kLagMessages: {
      qint64 lag = 0;
      for (const ShardStatus& sh : s.shards) lag += sh.lagMessages;
      r.value = double(lag);
      r.active = r.value >= threshold;
      r.message = QStringLiteral("%1 messages not applied yet (alert at %2)")
                      .arg(lag)
                      .arg(qint64(threshold));
      break;
    }
    case Kind::kSnapshotAgeSeconds: {
      // Only once the catalogue has been read: before that, the age is not known.
      if (!s.snapshots.enabled || s.snapshots.catalogReadMs == 0) return r;
      const qint64 newest = s.snapshots.newestTakenAtMs();
      const qint64 from = newest > 0 ? newest : in.startedMs;
      r.value = double(std::max<qint64>(0, in.nowMs - from)) / 1000.0;
      r.active = r.value >= threshold;
      r.message = newest > 0
                      ? QStringLiteral("the newest snapshot is %1 old (alert at %2)")
                            .arg(duration(r.value), duration(threshold))
                      : QStringLiteral("no snapshot in the store, %1 after start (alert at %2)")
                            .arg(duration(r.value), duration(threshold));
      break;
    }
    case Kind::kDeadLetters: {
      r.value = double(s.deadLetterCount);
      r.active = r.value >= threshold;
      r.message = QStringLiteral("%1 dead letter(s) wait for a decision (alert at %2)")
                      .arg(s.deadLetterCount)
                      .arg(qint64(threshold));
      break;
    }
    case Kind::kConflictsPerMinute: {
      r.value = conflictsLastMinute(in);
      r.active = r.value >= threshold;
      r.message = QStringLiteral("%1 conflicts in the last minute (alert at %2)")
                      .arg(qint64(r.value))
                      .arg(qint64(threshold));
      break;
    }
    case Kind::kNatsDisconnectedSeconds: {
      r.value = in.natsDownSinceMs > 0 ? double(in.nowMs - in.natsDownSinceMs) / 1000.0 : 0;
      r.active = in.natsDownSinceMs > 0 && r.value >= threshold;
      r.message = QStringLiteral("NATS disconnected for %1 (alert at %2)")
                      .arg(duration(r.value), duration(threshold));
      break;
    }
    case Kind::kDiskFreePercent: {
      if (in.diskFreePercent < 0) return r;
      r.value = in.diskFreePercent;
      r.active = r.value < threshold;
      r.message = QStringLiteral("%1% free on the file system of %2 (alert below %3%)")
                      .arg(r.value, 0, 'f', 1)
                      .arg(in.diskPath)
                      .arg(qint64(threshold));
      break;
    }
    case Kind::kShardStopped:
      // While NATS is down every shard stops: nats_disconnected_seconds tells that cause.
      if (!s.natsConnected) return r;
      if (const ShardStatus* first = countShards(ShardState::Stopped))
        r.message = QStringLiteral("%1 stopped%2")
                        .arg(shardList(int(r.value), first),
                             first->lastError.isEmpty() ? QString() : ": " + first->lastError);
      break;
    case Kind::kShardNeedsRestore:
      if (const ShardStatus* first = countShards(ShardState::NeedsRestore))
        r.message = QStringLiteral("%1 needs a restore from a snapshot")
                        .arg(shardList(int(r.value), first));
      break;
    case Kind::kShardSchemaPaused:
      if (const ShardStatus* first = countShards(ShardState::SchemaPaused))
        r.message = QStringLiteral("%1 paused by a schema difference: %2")
                        .arg(shardList(int(r.value), first), first->waitingReason);
      break;
    case Kind::kDatabase: {
      r.value = s.dbConnected ? 0 : 1;
      r.active = !s.dbConnected;
      r.message = QStringLiteral("the database %1 is not open").arg(s.dbPath);
      break;
    }
    case Kind::kCapture: {
      r.active = in.captureExpected && s.dbConnected && !s.cdcInstalled;
      r.value = r.active ? 1 : 0;
      r.message =
          QStringLiteral("change capture is not installed: local changes are not published");
      break;
    }
    case Kind::kDuplicateNodeId: {
      r.active = in.duplicateIdSeenMs > 0 && in.nowMs - in.duplicateIdSeenMs < kDuplicateIdWindowMs;
      r.value = r.active ? 1 : 0;
      r.message = QStringLiteral("another process uses node id %1: give each node its own node_id")
                      .arg(s.nodeId);
      break;
    }
  }
  return r;
}

QList<AlertInfo> AlertRules::evaluate(const NodeStatus& status, const AlertInputs& in) {
  QList<AlertInfo> changed;
  const qint64 holdMs = m_config.holdSeconds * 1000;
  for (qsizetype i = 0; i < m_alerts.size(); ++i) {
    AlertInfo& a = m_alerts[i];
    const Reading r = read(m_rules[i], status, in, a.threshold);
    a.value = r.value;
    if (!r.message.isEmpty()) a.message = r.message;
    if (!r.active) {
      const bool wasFiring = a.firing;
      a.firing = false;
      a.pending = false;
      a.sinceMs = 0;
      if (wasFiring) changed.append(a);
      continue;
    }
    if (a.firing) continue;
    if (!a.pending) {
      a.pending = true;
      a.sinceMs = in.nowMs;
    }
    if (!kRules[m_rules[i]].holds || in.nowMs - a.sinceMs >= holdMs) {
      a.pending = false;
      a.firing = true;
      a.sinceMs = in.nowMs;
      changed.append(a);
    }
  }
  return changed;
}

}  // namespace hl
