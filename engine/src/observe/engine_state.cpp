// The text of the states of harmonylite/engine_state.h, for the edges (JSON, metrics, records).
#include "harmonylite/engine_state.h"

#include <QStringList>

namespace hl {

QString stateName(ShardState state) {
  switch (state) {
    case ShardState::Stopped:
      return QStringLiteral("stopped");
    case ShardState::Running:
      return QStringLiteral("running");
    case ShardState::Paused:
      return QStringLiteral("paused");
    case ShardState::NeedsRestore:
      return QStringLiteral("needs-restore");
    case ShardState::Restoring:
      return QStringLiteral("restoring");
    case ShardState::SchemaPaused:
      return QStringLiteral("schema-paused");
  }
  return QStringLiteral("stopped");
}

QString stateName(ServerState state) {
  switch (state) {
    case ServerState::None:
      return QStringLiteral("none");
    case ServerState::Stopped:
      return QStringLiteral("stopped");
    case ServerState::Starting:
      return QStringLiteral("starting");
    case ServerState::Running:
      return QStringLiteral("running");
    case ServerState::Restarting:
      return QStringLiteral("restarting");
    case ServerState::Failed:
      return QStringLiteral("failed");
  }
  return QStringLiteral("none");
}

QString stateName(AlertSeverity severity) {
  return severity == AlertSeverity::Critical ? QStringLiteral("critical")
                                             : QStringLiteral("warning");
}

QString stateName(SnapshotActivity activity) {
  switch (activity) {
    case SnapshotActivity::Idle:
      return QStringLiteral("idle");
    case SnapshotActivity::Saving:
      return QStringLiteral("saving");
    case SnapshotActivity::Uploading:
      return QStringLiteral("uploading");
    case SnapshotActivity::Downloading:
      return QStringLiteral("downloading");
    case SnapshotActivity::Verifying:
      return QStringLiteral("verifying");
    case SnapshotActivity::Restoring:
      return QStringLiteral("restoring");
  }
  return QStringLiteral("idle");
}

ShardState shardStateFromName(const QString& name, ShardState fallback) {
  for (ShardState s : {ShardState::Stopped, ShardState::Running, ShardState::Paused,
                       ShardState::NeedsRestore, ShardState::Restoring, ShardState::SchemaPaused})
    if (name == stateName(s)) return s;
  return fallback;
}

QString shardStatesText(const QList<QPair<int, ShardState>>& states) {
  QStringList parts;
  for (const auto& [shard, state] : states)
    parts << QStringLiteral("%1:%2").arg(shard).arg(stateName(state));
  return parts.join(' ');
}

QList<QPair<int, ShardState>> shardStatesFromText(const QString& text) {
  QList<QPair<int, ShardState>> out;
  for (const QString& part : text.split(' ', Qt::SkipEmptyParts)) {
    const qsizetype colon = part.indexOf(':');
    bool ok = false;
    const int shard = part.left(colon).toInt(&ok);
    if (colon <= 0 || !ok || shard <= 0) continue;
    out.append({shard, shardStateFromName(part.mid(colon + 1))});
  }
  return out;
}

EngineEvent EngineEvent::of(Kind kind) {
  EngineEvent e;
  e.kind = kind;
  return e;
}

EngineEvent EngineEvent::natsConnected(const QString& url) {
  EngineEvent e = of(Kind::NatsConnected);
  e.text = url;
  return e;
}

EngineEvent EngineEvent::serverStateChanged(ServerState state) {
  EngineEvent e = of(Kind::ServerStateChanged);
  e.serverState = state;
  return e;
}

EngineEvent EngineEvent::healthChanged(bool healthy, const QString& reason) {
  EngineEvent e = of(Kind::HealthChanged);
  e.healthy = healthy;
  e.text = reason;
  return e;
}

EngineEvent EngineEvent::shardStateChanged(int shard, ShardState state, const QString& reason) {
  EngineEvent e = of(Kind::ShardStateChanged);
  e.shard = shard;
  e.shardState = state;
  e.text = reason;
  return e;
}

EngineEvent EngineEvent::shardError(int shard, const QString& error) {
  EngineEvent e = of(Kind::ShardError);
  e.shard = shard;
  e.text = error;
  return e;
}

EngineEvent EngineEvent::deadLettered(const DeadLetterInfo& letter) {
  EngineEvent e = of(Kind::DeadLettered);
  e.deadLetter = letter;
  return e;
}

EngineEvent EngineEvent::deadLetterClosed(qint64 id) {
  EngineEvent e = of(Kind::DeadLetterClosed);
  e.deadLetter.id = id;
  return e;
}

EngineEvent EngineEvent::conflictRecorded(const ConflictInfo& conflict) {
  EngineEvent e = of(Kind::ConflictRecorded);
  e.conflict = conflict;
  return e;
}

EngineEvent EngineEvent::snapshotFinished(SnapshotActivity operation, bool ok,
                                          const QString& text) {
  EngineEvent e = of(Kind::SnapshotFinished);
  e.activity = operation;
  e.healthy = ok;
  e.text = text;
  return e;
}

EngineEvent EngineEvent::alertChanged(const AlertInfo& alert) {
  EngineEvent e = of(alert.firing ? Kind::AlertFired : Kind::AlertResolved);
  e.alert = alert;
  e.healthy = !alert.firing;
  e.text = alert.message;
  return e;
}

}  // namespace hl
