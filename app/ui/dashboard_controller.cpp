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
    case Control::kPausePublishing:
      return QStringLiteral("pause publishing");
    case Control::kResumePublishing:
      return QStringLiteral("resume publishing");
    case Control::kPauseApplying:
      return QStringLiteral("pause applying");
    case Control::kResumeApplying:
      return QStringLiteral("resume applying");
    case Control::kReconnectNats:
      return QStringLiteral("reconnect NATS");
    case Control::kRetryDeadLetter:
      return QStringLiteral("retry dead letter");
    case Control::kDiscardDeadLetter:
      return QStringLiteral("discard dead letter");
    case Control::kRetryFailedPublishes:
      return QStringLiteral("retry failed publishes");
    case Control::kClearConflicts:
      return QStringLiteral("clear conflicts");
  }
  return QStringLiteral("control");
}

}  // namespace

DashboardController::DashboardController(QObject* parent) : QObject(parent) {
  m_clock.start();
}

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
    if (s.state == ShardState::Paused) ++paused;
  }
  NodeSummary n;
  n.valid = true;
  n.version = st.version;
  n.uptime = durationText(st.uptimeSeconds);
  n.dbPath = st.dbPath;
  n.dbSize =
      st.walSizeBytes > 0
          ? QStringLiteral("%1 (WAL %2)").arg(bytesText(st.dbSizeBytes), bytesText(st.walSizeBytes))
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
    n.publishRate = double(std::max<qint64>(0, st.published - m_lastPublished)) / seconds;
    n.applyRate = double(std::max<qint64>(0, applied - m_lastApplied)) / seconds;
  }
  n.lagMessages = lag;
  n.lagSeconds = lagSeconds;
  n.publishingPaused = st.publishingPaused;
  n.pausedShards = paused;
  n.lastPublished = agoText(st.lastPublishedMs, nowMs);
  n.lastReplicated = agoText(st.lastReplicatedMs, nowMs);
  n.clusterSize = int(st.cluster.size());

  m_summary = n;
  m_shards.update(st.shards, seconds);
  m_cluster.update(st.cluster, st.nodeId, st.schemaHash, nowMs);
  m_lastPublished = st.published;
  m_lastApplied = applied;
  m_haveLast = true;
  m_lastMonotonicMs = monotonicMs;
  emit statusChanged();

  const double t = double(monotonicMs) / 1000.0;
  emit sampleAdded(t, n.publishRate, n.applyRate, double(lag));
  QVariantList lags;
  for (const ShardStatus& s : st.shards) lags << double(s.lagMessages);
  emit shardLagSampleAdded(t, lags);
}

// The rows of the event list, one per engine event, with the titles and details the Events
// page shows. A dead letter's row stays open (retry/discard buttons) until the engine says it
// was retried or discarded.
void DashboardController::onEngineEvent(const EngineEvent& e) {
  using K = EngineEvent::Kind;
  using Kind = EventModel::Kind;
  switch (e.kind) {
    case K::NatsConnected:
      addEvent(Kind::State, "NATS connected", e.text);
      return;
    case K::NatsDisconnected:
      addEvent(Kind::Error, "NATS disconnected",
               "the node keeps capturing and reconnects on its own");
      return;
    case K::ServerStateChanged:
      if (e.serverState == ServerState::None) return;
      addEvent(e.serverState == ServerState::Failed ? Kind::Error : Kind::State,
               "Embedded NATS server " + stateName(e.serverState));
      return;
    case K::HealthChanged:
      if (e.healthy)
        addEvent(Kind::State, "Node healthy");
      else
        addEvent(Kind::Error, "Node unhealthy", e.text);
      return;
    case K::PublishingPaused:
      addEvent(Kind::State, "Publishing paused");
      return;
    case K::PublishingResumed:
      addEvent(Kind::State, "Publishing resumed");
      return;
    case K::ShardStateChanged:
      addEvent(e.shardState == ShardState::NeedsRestore ? Kind::Error : Kind::State,
               QStringLiteral("Shard %1 is %2").arg(e.shard).arg(stateName(e.shardState)), e.text);
      return;
    case K::ShardError:
      addEvent(Kind::Error, QStringLiteral("Shard %1 error").arg(e.shard), e.text);
      return;
    case K::DeadLettered: {
      const DeadLetterInfo& d = e.deadLetter;
      addEvent(Kind::DeadLetter,
               QStringLiteral("Dead letter #%1: %2 seq %3").arg(d.id).arg(d.stream).arg(d.seq),
               d.reason, d.id);
      return;
    }
    case K::DeadLetterClosed:
      m_events.closeDeadLetter(e.deadLetter.id);
      return;
    case K::ConflictRecorded: {
      const ConflictInfo& c = e.conflict;
      addEvent(Kind::Conflict, QStringLiteral("Conflict on %1 %2").arg(c.table, c.rowKey),
               QStringLiteral("kept %1, skipped %2").arg(c.winner, c.loser));
      return;
    }
  }
}

void DashboardController::addEvent(EventModel::Kind kind, const QString& title,
                                   const QString& detail, qint64 refId) {
  EventModel::Event e;
  e.at = QDateTime::currentDateTime();
  e.kind = kind;
  e.title = title;
  e.detail = detail;
  e.refId = refId;
  e.open = kind == EventModel::Kind::DeadLetter;
  m_events.add(std::move(e));
}

void DashboardController::setEngineState(EngineState state, const QString& error) {
  if (state == m_engineState && error == m_engineError) return;
  m_engineState = state;
  m_engineError = error;
  emit engineStateChanged();
}

void DashboardController::onEngineStarting() {
  m_haveLast = false;
  m_lastPublished = 0;
  m_lastApplied = 0;
  m_summary = NodeSummary();
  emit statusChanged();
  setEngineState(EngineState::Starting, QString());
}
void DashboardController::onEngineStarted() {
  setEngineState(EngineState::Running, QString());
  addEvent(EventModel::Kind::State, "Node started",
           QStringLiteral("database %1").arg(m_config.dbPath));
}
void DashboardController::onEngineFailed(const QString& reason) {
  setEngineState(EngineState::Failed, reason);
  addEvent(EventModel::Kind::Error, "Node failed to start", reason);
}
void DashboardController::onEngineStopped() {
  setEngineState(EngineState::Stopped, m_engineError);
}

void DashboardController::request(Control control, qint64 id, bool confirm, const QString& name) {
  ++m_controlsInFlight;
  emit controlsInFlightChanged();
  qCInfo(lcUi).noquote() << "operator:" << controlName(control)
                         << (id ? QString::number(id) : QString()) << name;
  emit controlRequested(control, id, confirm, name);
}

void DashboardController::pausePublishing() {
  request(Control::kPausePublishing);
}
void DashboardController::resumePublishing() {
  request(Control::kResumePublishing);
}
void DashboardController::pauseApplying(int shard) {
  request(Control::kPauseApplying, shard);
}
void DashboardController::resumeApplying(int shard) {
  request(Control::kResumeApplying, shard);
}
void DashboardController::reconnectNats() {
  request(Control::kReconnectNats);
}
void DashboardController::retryDeadLetter(qint64 id) {
  request(Control::kRetryDeadLetter, id);
}
void DashboardController::discardDeadLetter(qint64 id) {
  request(Control::kDiscardDeadLetter, id, true);
}
void DashboardController::retryFailedPublishes() {
  request(Control::kRetryFailedPublishes);
}
void DashboardController::clearConflicts() {
  request(Control::kClearConflicts, 0, true);
}

void DashboardController::onControlDone(Control control, bool ok, const QString& message) {
  if (m_controlsInFlight > 0) {
    --m_controlsInFlight;
    emit controlsInFlightChanged();
  }
  m_lastControlOk = ok;
  m_lastControlMessage =
      message.isEmpty() ? controlName(control) + (ok ? ": done" : ": failed") : message;
  addEvent(ok ? EventModel::Kind::State : EventModel::Kind::Error,
           (ok ? "Operator: " : "Refused: ") + controlName(control), message);
  emit controlFinished(ok, m_lastControlMessage);
}

void DashboardController::setConfigError(const QString& error) {
  if (error == m_configError) return;
  m_configError = error;
  emit configErrorChanged();
}
void DashboardController::clearConfigError() {
  setConfigError(QString());
}

void DashboardController::requestRestart(Config config) {
  setConfigError(QString());
  m_chosenInDashboard = true;  // configChanged follows with the new config
  addEvent(EventModel::Kind::State, "Restarting the node",
           QStringLiteral("database %1, %2")
               .arg(config.dbPath, config.nats.urls.isEmpty() ? QStringLiteral("embedded NATS")
                                                              : config.nats.urls.join(", ")));
  emit restartRequested(config);
}

void DashboardController::openDatabase(const QUrl& file) {
  const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
  const QFileInfo info(path);
  if (path.isEmpty() || info.isDir() || !QFileInfo(info.absolutePath()).isWritable()) {
    setConfigError(
        QStringLiteral("cannot use %1 as the database: its folder must exist and be writable")
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
      setConfigError(
          QStringLiteral("not a NATS server URL: \"%1\" (expected nats://host:port)").arg(u));
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
