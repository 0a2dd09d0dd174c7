#include "dashboard_controller.h"

#include <QDateTime>
#include <QFileInfo>
#include <QLoggingCategory>

#include <algorithm>

Q_LOGGING_CATEGORY(lcUi, "hl.ui")

namespace hl {

QString durationText(qint64 s) {
  if (s < 60) return QStringLiteral("%1 s").arg(s);
  if (s < 3600) return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60);
  if (s < 86400) return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
  return QStringLiteral("%1 d %2 h").arg(s / 86400).arg((s % 86400) / 3600);
}

QString bytesText(qint64 bytes) {
  if (bytes < 1024) return QStringLiteral("%1 B").arg(bytes);
  if (bytes < 1024 * 1024) return QStringLiteral("%1 KB").arg(double(bytes) / 1024, 0, 'f', 1);
  if (bytes < qint64(1024) * 1024 * 1024)
    return QStringLiteral("%1 MB").arg(double(bytes) / (1024 * 1024), 0, 'f', 1);
  return QStringLiteral("%1 GB").arg(double(bytes) / (1024.0 * 1024 * 1024), 0, 'f', 2);
}

namespace {

using Control = EngineThread::Control;

QString controlName(Control c) {
  switch (c) {
    case Control::kPausePublishing: return QStringLiteral("pause publishing");
    case Control::kResumePublishing: return QStringLiteral("resume publishing");
    case Control::kPauseApplying: return QStringLiteral("pause applying");
    case Control::kResumeApplying: return QStringLiteral("resume applying");
    case Control::kReconnectNats: return QStringLiteral("reconnect NATS");
    case Control::kRetryDeadLetter: return QStringLiteral("retry dead letter");
    case Control::kDiscardDeadLetter: return QStringLiteral("discard dead letter");
    case Control::kRetryFailedPublishes: return QStringLiteral("retry failed publishes");
    case Control::kClearConflicts: return QStringLiteral("clear conflicts");
  }
  return QStringLiteral("control");
}

}  // namespace

DashboardController::DashboardController(QObject* parent) : QObject(parent) { m_clock.start(); }

QString DashboardController::configSource() const {
  if (!m_config.sourcePath.isEmpty()) return m_config.sourcePath;
  return m_chosenInDashboard ? QStringLiteral("choices made in the dashboard (no config file)")
                             : QStringLiteral("first-run defaults (no config file)");
}

void DashboardController::setRememberedSetup(const QString& description) {
  if (description == m_rememberedSetup) return;
  m_rememberedSetup = description;
  emit configChanged();
}

void DashboardController::setChosenInDashboard(bool chosen) {
  if (chosen == m_chosenInDashboard) return;
  m_chosenInDashboard = chosen;
  emit configChanged();
}

void DashboardController::forgetSetup() {
  if (m_rememberedSetup.isEmpty()) return;
  emit forgetSetupRequested();
}

void DashboardController::setConfig(const Config& config) {
  m_config = config;
  m_settings.setConfig(config);
  emit configChanged();
}

void DashboardController::applyStatus(const NodeStatus& status) {
  applyStatusAt(status, QDateTime::currentMSecsSinceEpoch(), m_clock.elapsed());
}

void DashboardController::applyStatusAt(const NodeStatus& st, qint64 nowMs, qint64 monotonicMs) {
  const double seconds = m_haveLast ? double(monotonicMs - m_lastMonotonicMs) / 1000.0 : 0.0;
  qint64 applied = 0;
  qint64 lag = 0;
  double lagSeconds = 0;
  int paused = 0;
  for (const ShardStatus& s : st.shards) {
    applied += s.appliedChanges;
    lag += s.lagMessages;
    lagSeconds = std::max(lagSeconds, s.lagSeconds);
    if (s.state == QLatin1String("paused")) ++paused;
  }
  NodeSummary n;
  n.valid = true;
  n.version = st.version;
  n.uptime = durationText(st.uptimeSeconds);
  n.dbPath = st.dbPath;
  n.dbSize = st.walSizeBytes > 0 ? QStringLiteral("%1 (WAL %2)").arg(bytesText(st.dbSizeBytes), bytesText(st.walSizeBytes))
                                 : bytesText(st.dbSizeBytes);
  n.healthy = st.healthy;
  n.unhealthyReason = st.unhealthyReason;
  n.natsConnected = st.natsConnected;
  n.natsServer = st.natsServer;
  n.embeddedServer = st.embeddedServer;
  n.natsReconnects = st.natsReconnects;
  n.schemaHash = st.schemaHash;
  n.tablesTracked = st.tablesTracked;
  n.cdcInstalled = st.cdcInstalled;
  n.pendingChanges = st.pendingChanges;
  n.failedChanges = st.failedChanges;
  n.published = st.published;
  n.applied = applied;
  n.failedPublishes = st.failedPublishes;
  n.conflicts = st.conflictCount;
  n.deadLetters = st.deadLetterCount;
  if (seconds > 0) {
    n.publishRate = double(std::max<qint64>(0, st.published - m_last.published)) / seconds;
    n.applyRate = double(std::max<qint64>(0, applied - m_summary.applied)) / seconds;
  }
  n.lagMessages = lag;
  n.lagSeconds = lagSeconds;
  n.publishingPaused = st.publishingPaused;
  n.pausedShards = paused;
  n.lastPublished = agoText(st.lastPublishedMs, nowMs);
  n.lastReplicated = agoText(st.lastReplicatedMs, nowMs);
  n.clusterSize = int(st.cluster.size());

  noticeChanges(m_last, st);
  m_summary = n;
  m_shards.update(st.shards, seconds);
  m_cluster.update(st.cluster, st.nodeId, st.schemaHash, nowMs);
  m_last = st;
  m_haveLast = true;
  m_lastMonotonicMs = monotonicMs;
  emit statusChanged();

  const double t = double(monotonicMs) / 1000.0;
  emit sampleAdded(t, n.publishRate, n.applyRate, double(lag));
  QVariantList lags;
  for (const ShardStatus& s : st.shards) lags << double(s.lagMessages);
  emit shardLagSampleAdded(t, lags);
}

void DashboardController::noticeChanges(const NodeStatus& prev, const NodeStatus& st) {
  const bool first = !m_haveLast;
  if (first || prev.natsConnected != st.natsConnected) {
    if (st.natsConnected) addEvent("state", "NATS connected", st.natsServer);
    else if (!first) addEvent("error", "NATS disconnected", "the node keeps capturing and reconnects on its own");
  }
  if (!first && prev.embeddedServer != st.embeddedServer && !st.embeddedServer.isEmpty())
    addEvent(st.embeddedServer == QLatin1String("failed") ? "error" : "state",
             "Embedded NATS server " + st.embeddedServer);
  if (!first && prev.healthy != st.healthy) {
    if (st.healthy) addEvent("state", "Node healthy");
    else addEvent("error", "Node unhealthy", st.unhealthyReason);
  } else if (first && !st.healthy && !st.unhealthyReason.isEmpty()) {
    addEvent("error", "Node unhealthy", st.unhealthyReason);
  }
  if (!first && prev.publishingPaused != st.publishingPaused)
    addEvent("state", st.publishingPaused ? "Publishing paused" : "Publishing resumed");
  for (const ShardStatus& s : st.shards) {
    const auto old = std::find_if(prev.shards.begin(), prev.shards.end(),
                                  [&](const ShardStatus& p) { return p.shard == s.shard; });
    const bool known = !first && old != prev.shards.end();
    if (known && old->state != s.state)
      addEvent(s.state == QLatin1String("needs-restore") ? "error" : "state",
               QStringLiteral("Shard %1 is %2").arg(s.shard).arg(s.state), s.lastError);
    if (!s.lastError.isEmpty() && (!known || old->lastError != s.lastError) &&
        !(known && old->state != s.state))
      addEvent("error", QStringLiteral("Shard %1 error").arg(s.shard), s.lastError);
  }
  // Conflicts and dead letters: the status carries the newest 20 of each, newest first. Ids
  // lower than the last one seen mean the table was emptied and counts again from 1.
  if (!st.recentConflicts.isEmpty() && st.recentConflicts.first().id < m_lastConflictId) m_lastConflictId = 0;
  if (!st.recentDeadLetters.isEmpty() && st.recentDeadLetters.first().id < m_lastDeadLetterId) m_lastDeadLetterId = 0;
  for (auto it = st.recentConflicts.crbegin(); it != st.recentConflicts.crend(); ++it) {
    if (it->id <= m_lastConflictId) continue;
    m_lastConflictId = it->id;
    addEvent("conflict", QStringLiteral("Conflict on %1 %2").arg(it->table, it->rowKey),
             QStringLiteral("kept %1, skipped %2").arg(it->winner, it->loser));
  }
  QList<qint64> openIds;
  for (auto it = st.recentDeadLetters.crbegin(); it != st.recentDeadLetters.crend(); ++it) {
    openIds << it->id;
    if (it->id <= m_lastDeadLetterId) continue;
    m_lastDeadLetterId = it->id;
    addEvent("dead-letter", QStringLiteral("Dead letter #%1: %2 seq %3").arg(it->id).arg(it->stream).arg(it->seq),
             it->reason, it->id);
  }
  // Only the newest 20 are listed: older open ones are closed only when the table is that small.
  if (st.deadLetterCount <= st.recentDeadLetters.size()) m_events.closeDeadLettersExcept(openIds);
}

void DashboardController::addEvent(const QString& kind, const QString& title, const QString& detail,
                                   qint64 refId) {
  DashboardEvent e;
  e.at = QDateTime::currentDateTime();
  e.kind = kind;
  e.title = title;
  e.detail = detail;
  e.refId = refId;
  e.open = kind == QLatin1String("dead-letter");
  m_events.add(std::move(e));
}

void DashboardController::setEngineState(const QString& state, const QString& error) {
  if (state == m_engineState && error == m_engineError) return;
  m_engineState = state;
  m_engineError = error;
  emit engineStateChanged();
}

void DashboardController::onEngineStarting() {
  m_haveLast = false;
  m_last = NodeStatus();
  m_summary = NodeSummary();
  emit statusChanged();
  setEngineState("starting", QString());
}
void DashboardController::onEngineStarted() {
  setEngineState("running", QString());
  addEvent("state", "Node started", QStringLiteral("database %1").arg(m_config.dbPath));
}
void DashboardController::onEngineFailed(const QString& reason) {
  setEngineState("failed", reason);
  addEvent("error", "Node failed to start", reason);
}
void DashboardController::onEngineStopped() { setEngineState("stopped", m_engineError); }

void DashboardController::request(Control control, qint64 id, bool confirm) {
  ++m_controlsInFlight;
  emit controlsInFlightChanged();
  qCInfo(lcUi).noquote() << "operator:" << controlName(control) << (id ? QString::number(id) : QString());
  emit controlRequested(control, id, confirm);
}

void DashboardController::pausePublishing() { request(Control::kPausePublishing); }
void DashboardController::resumePublishing() { request(Control::kResumePublishing); }
void DashboardController::pauseApplying(int shard) { request(Control::kPauseApplying, shard); }
void DashboardController::resumeApplying(int shard) { request(Control::kResumeApplying, shard); }
void DashboardController::reconnectNats() { request(Control::kReconnectNats); }
void DashboardController::retryDeadLetter(qint64 id) { request(Control::kRetryDeadLetter, id); }
void DashboardController::discardDeadLetter(qint64 id) { request(Control::kDiscardDeadLetter, id, true); }
void DashboardController::retryFailedPublishes() { request(Control::kRetryFailedPublishes); }
void DashboardController::clearConflicts() { request(Control::kClearConflicts, 0, true); }

void DashboardController::onControlDone(Control control, bool ok, const QString& message) {
  if (m_controlsInFlight > 0) {
    --m_controlsInFlight;
    emit controlsInFlightChanged();
  }
  m_lastControlOk = ok;
  m_lastControlMessage = message.isEmpty() ? controlName(control) + (ok ? ": done" : ": failed") : message;
  addEvent(ok ? "state" : "error", ok ? "Operator: " + controlName(control) : "Refused: " + controlName(control),
           message);
  emit controlFinished(ok, m_lastControlMessage);
}

void DashboardController::setConfigError(const QString& error) {
  if (error == m_configError) return;
  m_configError = error;
  emit configErrorChanged();
}
void DashboardController::clearConfigError() { setConfigError(QString()); }

void DashboardController::requestRestart(Config config) {
  setConfigError(QString());
  m_chosenInDashboard = true;  // configChanged follows with the new config
  addEvent("state", "Restarting the node", QStringLiteral("database %1, %2")
                                               .arg(config.dbPath, config.nats.urls.isEmpty()
                                                                       ? QStringLiteral("embedded NATS")
                                                                       : config.nats.urls.join(", ")));
  emit restartRequested(config);
}

void DashboardController::openDatabase(const QUrl& file) {
  const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
  const QFileInfo info(path);
  if (path.isEmpty() || info.isDir() || !QFileInfo(info.absolutePath()).isWritable()) {
    setConfigError(QStringLiteral("cannot use %1 as the database: its folder must exist and be writable")
                       .arg(path.isEmpty() ? QStringLiteral("(nothing)") : path));
    return;
  }
  Config c = m_config;
  c.dbPath = info.absoluteFilePath();
  requestRestart(c);
}

void DashboardController::useNatsServers(const QString& commaSeparatedUrls) {
  QStringList urls;
  for (const QString& part : commaSeparatedUrls.split(',', Qt::SkipEmptyParts)) {
    const QString u = part.trimmed();
    const QUrl url(u);
    const QString scheme = url.scheme();
    if (!url.isValid() || url.host().isEmpty() ||
        (scheme != "nats" && scheme != "tls" && scheme != "ws" && scheme != "wss")) {
      setConfigError(QStringLiteral("not a NATS server URL: \"%1\" (expected nats://host:port)").arg(u));
      return;
    }
    urls << u;
  }
  Config c = m_config;
  c.nats.urls = urls;
  requestRestart(c);
}

void DashboardController::loadConfig(const QUrl& file) {
  const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
  auto loaded = loadConfigFile(path);
  if (!loaded) {
    setConfigError(loaded.status().message());
    return;
  }
  Config c = loaded->config;
  for (const ConfigWarning& w : loaded->warnings) qCWarning(lcUi).noquote() << w.message;
  if (c.nodeId == 0) {
    auto id = resolveNodeId(c);
    if (!id) {
      setConfigError("node id: " + id.status().message());
      return;
    }
    c.nodeId = *id;
  }
  requestRestart(c);
}

}  // namespace hl
