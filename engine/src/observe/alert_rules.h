// AlertRules: the node's alert rules (docs/alerts.md), evaluated on every status the engine
// builds. A rule looks at one figure of the status; its condition must hold for
// alerts.hold_seconds before it fires (the rules whose figure is itself a duration fire at
// once), and it resolves at the first evaluation where the condition no longer holds. What
// changed at an evaluation is returned, so that the engine tells it once as an event.
//
// Rules, in this order (the key of [alerts] gives the threshold; 0 turns the rule off):
//   lag_seconds (warning)                 oldest message not applied, any shard, >= threshold
//   lag_messages (warning)                messages not applied, all shards, >= threshold
//   snapshot_age_seconds (warning)        newest snapshot (or, with none, the node's start)
//                                         older than the threshold; only with snapshots on
//   dead_letters (warning)                dead letters waiting for a decision >= threshold
//   conflicts_per_minute (warning)        conflicts resolved in the last 60 s >= threshold
//   nats_disconnected_seconds (critical)  NATS disconnected for >= threshold (no hold)
//   disk_free_percent (critical)          free space of db_path's file system < threshold
//   shard_stopped (critical)              a shard stopped while NATS is connected
//   shard_needs_restore (critical)        a shard needs a restore from a snapshot
//   shard_schema_paused (warning)         a shard paused by a schema difference
//   database (critical)                   the database is not open
//   capture (critical)                    change capture is not installed (publish = true)
//   duplicate_node_id (critical)          another process published a status with this node
//                                         id in the last 10 s (no hold)
// Thread: a value owned by the engine thread; pure apart from the clock it is given.
#pragma once

#include <QList>
#include <QString>

#include <deque>
#include <utility>

#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"

namespace hl {

// What a rule needs beyond the NodeStatus, gathered by the engine.
struct AlertInputs {
  qint64 nowMs = 0;
  qint64 startedMs = 0;          // when the node started (snapshot age without a snapshot)
  bool captureExpected = true;   // publish = true
  qint64 natsDownSinceMs = 0;    // 0 = connected
  double diskFreePercent = -1;   // < 0 = unknown
  QString diskPath;              // the file system it was measured on
  qint64 duplicateIdSeenMs = 0;  // last status record of another process with this id, 0 = never
  qint64 conflictsSinceStart = 0;
};

class AlertRules {
 public:
  explicit AlertRules(AlertsConfig config);

  // Evaluates every rule that is on. Returns the rules that fired or resolved at this call
  // (their AlertInfo as it is now); alerts() then holds every rule's state.
  QList<AlertInfo> evaluate(const NodeStatus& status, const AlertInputs& in);
  const QList<AlertInfo>& alerts() const { return m_alerts; }

  static constexpr qint64 kDuplicateIdWindowMs = 10000;

 private:
  struct Reading {
    bool active = false;  // the condition holds
    double value = 0;
    QString message;
  };
  // `rule`: an index into the rule table (alert_rules.cpp).
  Reading read(int rule, const NodeStatus& s, const AlertInputs& in, double threshold);
  double conflictsLastMinute(const AlertInputs& in);

  AlertsConfig m_config;
  QList<AlertInfo> m_alerts;                          // every rule that is on, in order
  QList<int> m_rules;                                 // per alert: its index in the rule table
  std::deque<std::pair<qint64, qint64>> m_conflicts;  // (ms, conflicts since start), last 60 s
};

}  // namespace hl
