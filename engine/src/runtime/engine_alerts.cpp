// Engine: the alert rules and the history (docs/alerts.md). Every status the engine builds goes
// through the rules (observe/alert_rules.h); what fires or resolves is logged (a warning when it
// fires: the structured log of a headless node), told as an event, and written with the status
// into the node's history file (observe/history_store.h).
#include <QDateTime>
#include <QLoggingCategory>
#include <QStorageInfo>

#include "observe/alert_rules.h"
#include "observe/history_store.h"
#include "runtime/engine.h"

Q_DECLARE_LOGGING_CATEGORY(lcEngine)  // engine.cpp

namespace hl {

void Engine::startObserving() {
  m_startedMs = QDateTime::currentMSecsSinceEpoch();
  m_alertRules = std::make_unique<AlertRules>(m_config.alerts);
  const QString path = m_config.keptHistoryPath();
  if (path.isEmpty()) return;
  auto history = std::make_unique<HistoryStore>(path, m_config.history.hours);
  if (Status s = history->open(); !s.isOk()) {
    qCWarning(lcEngine).noquote() << "no history kept (replication goes on):" << s.message();
    return;
  }
  m_history = std::move(history);
}

void Engine::stopObserving() {
  if (m_history) m_history->flush();
  m_history.reset();
}

void Engine::observe(NodeStatus* st) {
  if (!m_alertRules) return;
  const qint64 now = QDateTime::currentMSecsSinceEpoch();
  if (st->natsConnected)
    m_natsDownSinceMs = 0;
  else if (m_natsDownSinceMs == 0)
    m_natsDownSinceMs = now;
  // statvfs every 10 s: the free space does not move faster than that matters.
  if (m_config.alerts.diskFreePercent > 0 && now - m_diskCheckedMs >= 10000) {
    m_diskCheckedMs = now;
    const QStorageInfo disk(m_config.stateDir());
    m_diskFreePercent = disk.isValid() && disk.bytesTotal() > 0
                            ? 100.0 * double(disk.bytesAvailable()) / double(disk.bytesTotal())
                            : -1;
  }
  qint64 conflicts = 0;
  for (const ShardStatus& sh : st->shards) conflicts += sh.conflicts;
  AlertInputs in;
  in.nowMs = now;
  in.startedMs = m_startedMs;
  in.captureExpected = m_config.publish;
  in.natsDownSinceMs = m_natsDownSinceMs;
  in.diskFreePercent = m_diskFreePercent;
  in.diskPath = m_config.stateDir();
  in.duplicateIdSeenMs = m_duplicateIdSeenMs;
  in.conflictsSinceStart = conflicts;
  const QList<AlertInfo> changed = m_alertRules->evaluate(*st, in);
  st->alerts = m_alertRules->alerts();
  for (const AlertInfo& a : changed) {
    if (a.firing)
      qCWarning(lcEngine).noquote() << QStringLiteral("alert %1 (%2) firing: %3")
                                           .arg(a.rule, stateName(a.severity), a.message);
    else
      qCInfo(lcEngine).noquote() << QStringLiteral("alert %1 resolved").arg(a.rule);
    if (m_history) m_history->recordAlert(a, now);
    emit event(EngineEvent::alertChanged(a));
  }
  if (m_history) m_history->add(*st, conflicts, now);
}

}  // namespace hl
