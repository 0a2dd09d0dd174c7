#include "dashboard_controller.h"

#include <QDateTime>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QMetaEnum>
#include <QRegularExpression>
#include <QSaveFile>

#include <algorithm>

#include "harmonylite/history.h"

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
constexpr int kAlertHistoryRows = 200;  // alert transitions read back at start

// The Events page's row of an alert transition, live or read back from the history.
QString alertEventTitle(const QString& rule, bool firing) {
  return (firing ? DashboardController::tr("Alert %1 fired")
                 : DashboardController::tr("Alert %1 resolved"))
      .arg(rule);
}

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
    case Control::kSaveSnapshot:
      return QStringLiteral("save snapshot");
    case Control::kVerifySnapshot:
      return QStringLiteral("verify snapshot");
    case Control::kRestoreSnapshot:
      return QStringLiteral("restore snapshot");
    case Control::kRefreshSnapshots:
      return QStringLiteral("refresh snapshots");
    case Control::kCheckConsistency:
      return QStringLiteral("check consistency");
    case Control::kRepairConsistency:
      return QStringLiteral("repair");
  }
  return QStringLiteral("control");
}

// The Cluster page's view of the last consistency check.
QVariantMap consistencyMap(const ConsistencyStatus& c, qint64 nowMs) {
  QVariantList tables;
  for (const ConsistencyTableView& t : c.tables) {
    QVariantList rows;
    for (const ConsistencyTableView::Row& r : t.rows)
      rows << QVariantMap{{"key", r.key}, {"values", r.values.join('\n')}};
    tables << QVariantMap{{"table", t.table},
                          {"agree", t.agree},
                          {"digests", t.digests.join('\n')},
                          {"rows", rows},
                          {"truncated", t.rowsTruncated},
                          {"locateError", t.locateError}};
  }
  QStringList nodes;
  for (auto it = c.nodes.cbegin(); it != c.nodes.cend(); ++it) nodes << QString::number(it.key());
  QString summary;
  if (c.verdict == "agree")
    summary = QObject::tr("%1 nodes agree on %2 table(s)").arg(c.nodes.size()).arg(c.tablesChecked);
  else if (c.verdict == "differ")
    summary = QObject::tr("%1 of %2 table(s) differ, %3 row(s)")
                  .arg(c.tablesDiffering)
                  .arg(c.tablesChecked)
                  .arg(c.rowsDiffering);
  else if (c.verdict == "busy")
    summary = QObject::tr("Not comparable: %1").arg(c.reason);
  else if (c.verdict == "error")
    summary = QObject::tr("The check failed: %1").arg(c.reason);
  else
    summary = QObject::tr("Not checked yet");
  return {{"running", c.running},
          {"verdict", c.verdict},
          {"summary", summary},
          {"when", c.lastCheckMs ? agoText(c.lastCheckMs, nowMs) : QString()},
          {"positions", c.positions},
          {"tables", tables},
          {"nodes", nodes},
          {"lastRepair", c.lastRepair},
          {"scheduled", c.intervalMs > 0
                            ? QObject::tr("every %1").arg(durationText(c.intervalMs / 1000))
                            : QString()}};
}

// The title of a finished snapshot operation's row: "Snapshot saved", "Snapshot verify failed".
QString snapshotEventTitle(SnapshotActivity operation, bool ok) {
  switch (operation) {
    case SnapshotActivity::Saving:
      return ok ? QStringLiteral("Snapshot saved") : QStringLiteral("Snapshot save failed");
    case SnapshotActivity::Uploading:
      return ok ? QStringLiteral("Snapshot uploaded") : QStringLiteral("Snapshot upload failed");
    case SnapshotActivity::Downloading:
      return ok ? QStringLiteral("Snapshot downloaded")
                : QStringLiteral("Snapshot download failed");
    case SnapshotActivity::Verifying:
      return ok ? QStringLiteral("Snapshot verified") : QStringLiteral("Snapshot verify failed");
    case SnapshotActivity::Restoring:
      return ok ? QStringLiteral("Snapshot restored") : QStringLiteral("Snapshot restore failed");
    case SnapshotActivity::Idle:
      break;
  }
  return ok ? QStringLiteral("Snapshot operation done")
            : QStringLiteral("Snapshot operation failed");
}

QString clockText(qint64 ms) {
  return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("HH:mm:ss"));
}

}  // namespace

SnapshotSummary snapshotSummaryOf(const SnapshotStatus& st, qint64 nowMs) {
  SnapshotSummary m;
  m.valid = true;
  m.enabled = st.enabled;
  m.store = st.store;
  m.count = int(st.catalog.size());
  m.catalogError = st.catalogError;
  m.catalogRead = agoText(st.catalogReadMs, nowMs);
  m.isLeader = st.isLeader;
  if (st.isLeader) {
    m.leader = QStringLiteral("this node");
  } else if (st.leaderNodeId != 0) {
    m.leaderNode = QString::number(st.leaderNodeId);
    m.leader = QStringLiteral("node %1").arg(st.leaderNodeId);
  } else {
    m.leader = QStringLiteral("none");
  }
  if (st.leaderUntilMs > 0 && (st.isLeader || st.leaderNodeId != 0)) {
    m.leaderUntil = clockText(st.leaderUntilMs);
    if (!st.isLeader) m.leader += QStringLiteral(" until ") + m.leaderUntil;
  }
  m.nextScheduled =
      st.nextScheduledMs > 0
          ? QStringLiteral("%1 (in %2)")
                .arg(clockText(st.nextScheduledMs),
                     durationText(std::max<qint64>(0, (st.nextScheduledMs - nowMs) / 1000)))
          : QStringLiteral("none scheduled");
  m.activity = st.activity;
  m.activityTarget = st.activityTarget;
  m.doneBytes = double(st.doneBytes);
  m.totalBytes = double(st.totalBytes);
  if (st.totalBytes > 0)
    m.percent = std::clamp(100.0 * double(st.doneBytes) / double(st.totalBytes), 0.0, 100.0);
  if (st.bytesPerSecond > 0) m.rate = bytesText(qint64(st.bytesPerSecond)) + QStringLiteral("/s");
  m.progress = st.totalBytes > 0 ? QStringLiteral("%1 of %2 (%3%)")
                                       .arg(bytesText(st.doneBytes), bytesText(st.totalBytes))
                                       .arg(qRound(m.percent))
                                 : bytesText(st.doneBytes);
  if (!m.rate.isEmpty()) m.progress += QStringLiteral(" · ") + m.rate;
  m.lastError = st.lastError;
  m.lastSaved = agoText(st.lastSuccessMs, nowMs);
  m.restoreUnderWay = st.restoreUnderWay;
  m.restores = double(st.restores);
  if (st.catalog.isEmpty()) {
    m.newestAge = QStringLiteral("none");
  } else {
    // The newest by time (the model's first row), the catalogue's first when no time is known.
    const SnapshotInfo& newest = *std::max_element(
        st.catalog.begin(), st.catalog.end(),
        [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.takenAtMs < b.takenAtMs; });
    m.newestId = newest.id;
    m.newestBy =
        newest.nodeId ? QStringLiteral("node %1").arg(newest.nodeId) : QStringLiteral("unknown");
    if (newest.takenAtMs > 0) {
      m.newestAge = agoText(newest.takenAtMs, nowMs);
      m.newestAgeSeconds = double(std::max<qint64>(0, (nowMs - newest.takenAtMs) / 1000));
    } else {
      m.newestAge = QStringLiteral("unknown");
    }
  }
  return m;
}

DashboardController::DashboardController(QObject* parent)
    : QObject(parent), m_consistency(consistencyMap(ConsistencyStatus(), 0)) {
  m_clock.start();
  m_frameWait.setSingleShot(true);
  m_frameWait.setInterval(kFrameWaitMs);
  connect(&m_frameWait, &QTimer::timeout, this, &DashboardController::applyWaitingStatus);
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
  loadAlertHistory();
  emit configChanged();
}

void DashboardController::setTheme(const QString& theme) {
  const QString t = theme == "light" || theme == "dark" ? theme : QStringLiteral("system");
  if (t == m_theme) return;
  m_theme = t;
  emit themeChanged();
}

bool DashboardController::darkTheme() const {
  return m_theme == "dark" || (m_theme == "system" && m_systemDark);
}

void DashboardController::setSystemDark(bool dark) {
  if (dark == m_systemDark) return;
  m_systemDark = dark;
  emit themeChanged();
}

QVariantList DashboardController::history(int hours) const {
  QVariantList out;
  const QString path = m_config.keptHistoryPath();
  if (path.isEmpty()) return out;
  const qint64 since = QDateTime::currentMSecsSinceEpoch() - qint64(hours) * 3600 * 1000;
  auto samples = readHistory(path, since);
  if (!samples) {
    qCWarning(lcUi).noquote() << "history not read:" << samples.status().message();
    return out;
  }
  for (const HistorySample& h : *samples) {
    QVariantList lags;
    for (const HistorySample::ShardLag& l : h.lag) lags << double(l.messages);
    out << QVariant(QVariantList{double(h.minuteMs), h.publishedPerSecond, h.appliedPerSecond,
                                 double(h.lagMessages()), lags});
  }
  return out;
}

namespace {
// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
QString csvField(QString text) {
  if (!text.contains(QRegularExpression(QStringLiteral("[,\"\r\n]")))) return text;
  return '"' + text.replace('"', QStringLiteral("\"\"")) + '"';
}
}  // namespace

void DashboardController::saveHistoryCsv(const QUrl& file) {
  const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
  const QString kept = m_config.keptHistoryPath();
  auto samples =
      kept.isEmpty() ? Result<QList<HistorySample>>(QList<HistorySample>()) : readHistory(kept, 0);
  QSaveFile out(path);
  const bool ok = samples.ok() && out.open(QIODevice::WriteOnly) &&
                  out.write(historyCsv(*samples)) >= 0 && out.commit();
  emit controlFinished(
      ok, ok ? tr("History saved to %1 (%2 minutes)").arg(path).arg(samples->size())
             : tr("History not saved to %1: %2")
                   .arg(path, samples.ok() ? out.errorString() : samples.status().message()));
}

void DashboardController::saveEventsCsv(const QUrl& file) {
  const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
  QByteArray csv = "time,kind,title,detail\r\n";
  // The Events page's words: state, error, conflict, dead-letter, warning, alert.
  const QMetaEnum kinds = QMetaEnum::fromType<EventModel::Kind>();
  auto kindWord = [&](int kind) {
    const char* key = kinds.valueToKey(kind);
    QString word = QString::fromLatin1(key ? key : "");
    for (qsizetype i = word.size() - 1; i > 0; --i)
      if (word.at(i).isUpper()) word.insert(i, '-');
    return word.toLower();
  };
  for (int row = 0; row < m_events.rowCount(); ++row) {  // as shown: filtered, newest first
    const EventModel::Event& e = m_events.shown(row);
    csv += QStringList{e.at.toUTC().toString(Qt::ISODate), kindWord(int(e.kind)), csvField(e.title),
                       csvField(e.detail)}
               .join(',')
               .toUtf8() +
           "\r\n";
  }
  QSaveFile out(path);
  const bool ok = out.open(QIODevice::WriteOnly) && out.write(csv) >= 0 && out.commit();
  emit controlFinished(ok, ok ? tr("%1 events saved to %2").arg(m_events.rowCount()).arg(path)
                              : tr("Events not saved to %1: %2").arg(path, out.errorString()));
}

void DashboardController::loadAlertHistory() {
  const QString path = m_config.keptHistoryPath();
  if (path.isEmpty() || path == m_alertHistoryLoaded) return;
  m_alertHistoryLoaded = path;
  auto log = readAlertLog(path, kAlertHistoryRows);
  if (!log) {
    addEvent(EventModel::Kind::Warning, tr("Alert history not read"), log.status().message());
    return;
  }
  for (auto it = log->crbegin(); it != log->crend(); ++it)  // oldest first: newest on top
    addEvent(EventModel::Kind::Alert, alertEventTitle(it->rule, it->firing), it->message, 0,
             QDateTime::fromMSecsSinceEpoch(it->atMs));
}

void DashboardController::applyStatus(const NodeStatus& status) {
  const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
  const qint64 monotonicMs = m_clock.elapsed();
  if (!m_pacedByFrames) {
    applyStatusAt(status, nowMs, monotonicMs);
    return;
  }
  m_waitingStatus = WaitingStatus{status, nowMs, monotonicMs};  // a newer one replaces it
  if (!m_frameWait.isActive()) m_frameWait.start();
}

void DashboardController::setPacedByFrames(bool paced) {
  m_pacedByFrames = paced;
  if (!paced) applyWaitingStatus();
}

void DashboardController::frameShown() {
  applyWaitingStatus();
}

void DashboardController::applyWaitingStatus() {
  m_frameWait.stop();
  if (!m_waitingStatus) return;
  const WaitingStatus w = std::move(*std::exchange(m_waitingStatus, std::nullopt));
  applyStatusAt(w.status, w.nowMs, w.monotonicMs);
}

void DashboardController::applyStatusAt(const NodeStatus& st, qint64 nowMs, qint64 monotonicMs) {
  const double seconds = m_haveLast ? double(monotonicMs - m_lastMonotonicMs) / 1000.0 : 0.0;
  qint64 applied = 0;
  qint64 lag = 0;
  double lagSeconds = 0;
  int paused = 0;
  int schemaPaused = 0;
  for (const ShardStatus& s : st.shards) {
    applied += s.appliedChanges;
    lag += s.lagMessages;
    lagSeconds = std::max(lagSeconds, s.lagSeconds);
    if (s.state == ShardState::Paused) ++paused;
    if (s.state == ShardState::SchemaPaused) ++schemaPaused;
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
  n.insertCollisions = double(st.insertCollisionTotal());
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
  const QString ourHash = st.schema.hash.isEmpty() ? st.schemaHash : st.schema.hash;
  n.previousSchemaHash = st.schema.previousHash;
  n.schemaPausedShards = schemaPaused;
  for (const SchemaNode& node : st.schema.registry)
    if (!node.schemaHash.isEmpty() && node.schemaHash != ourHash) n.schemaAgreement = false;
  n.schemaBanner = schemaPauseText(st.shards);
  n.schemaRegistryRead = agoText(st.schema.registryReadMs, nowMs);
  n.schemaRegistryError = st.schema.registryError;
  n.schemaKeyless = keylessTablesText(st.schema.tables);
  n.schemaChanges = double(st.schema.changes);
  n.schemaLastChange = agoText(st.schema.lastChangeMs, nowMs);
  n.alertLevel = st.worstAlert();
  QStringList alertLines;
  m_alerts.clear();
  for (const AlertInfo& a : st.alerts) {
    if (a.firing) alertLines << a.rule + QStringLiteral(": ") + a.message;
    m_alerts << QVariantMap{{"rule", a.rule},
                            {"severity", stateName(a.severity)},
                            {"firing", a.firing},
                            {"pending", a.pending},
                            {"value", a.value},
                            {"threshold", a.threshold},
                            {"since", a.sinceMs > 0 ? agoText(a.sinceMs, nowMs) : QString()},
                            {"message", a.message}};
  }
  n.alertsFiring = int(alertLines.size());
  n.alertText = alertLines.join('\n');

  m_summary = n;
  m_snapshotSummary = snapshotSummaryOf(st.snapshots, nowMs);
  m_snapshots.update(st.snapshots.catalog, st.schemaHash, nowMs);
  m_shards.update(st.shards, seconds);
  m_cluster.update(st.cluster, st.nodeId, st.schemaHash, nowMs, st.consistency.nodes);
  m_consistency = consistencyMap(st.consistency, nowMs);
  m_schemaNodes.update(st, nowMs);
  m_schemaPauses.update(st.shards, nowMs);
  m_schemaStatus.nodeId = st.nodeId;
  m_schemaStatus.schemaHash = ourHash;
  m_schemaStatus.schema = st.schema;
  updateSchemaDiff();
  m_lastPublished = st.published;
  m_lastApplied = applied;
  m_haveLast = true;
  m_lastMonotonicMs = monotonicMs;
  emit statusChanged();

  // The charts get one point a second at most (statuses come twice a second): half the points
  // to draw and to move per status (docs/dashboard.md#responsiveness).
  if (m_lastSampleMs >= 0 && monotonicMs - m_lastSampleMs < kChartSampleMs) return;
  m_lastSampleMs = monotonicMs;
  const double t = double(nowMs);
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
      addEvent(e.shardState == ShardState::NeedsRestore   ? Kind::Error
               : e.shardState == ShardState::SchemaPaused ? Kind::Warning
                                                          : Kind::State,
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
      if (c.insertCollision)
        addEvent(Kind::Conflict, QStringLiteral("Insert collision on %1 %2").arg(c.table, c.rowKey),
                 QStringLiteral("%1; %2").arg(c.winner, c.loser));
      else
        addEvent(Kind::Conflict, QStringLiteral("Conflict on %1 %2").arg(c.table, c.rowKey),
                 QStringLiteral("kept %1, skipped %2").arg(c.winner, c.loser));
      return;
    }
    case K::SnapshotFinished:
      addEvent(e.healthy ? Kind::State : Kind::Error, snapshotEventTitle(e.activity, e.healthy),
               e.text);
      return;
    case K::ConsistencyChecked:
      addEvent(e.healthy ? Kind::State : Kind::Error,
               e.healthy ? tr("Consistency check") : tr("Consistency check: the nodes differ"),
               e.text);
      return;
    case K::AlertFired:
    case K::AlertResolved: {
      const AlertInfo& a = e.alert;
      const bool critical = a.severity == AlertSeverity::Critical;
      const QString title =
          a.firing ? (critical ? tr("Critical alert: %1") : tr("Alert: %1")).arg(a.rule)
                   : tr("Alert %1 resolved").arg(a.rule);
      addEvent(EventModel::Kind::Alert, alertEventTitle(a.rule, a.firing), a.message);
      emit notificationRequested(title, a.message, a.firing && critical);
      return;
    }
    case K::SchemaChanged: {
      // "<old hash> -> <new hash>": the title shows 12 characters of each, the detail both.
      const qsizetype arrow = e.text.indexOf(QStringLiteral(" -> "));
      const QString title =
          arrow < 0 ? QStringLiteral("Schema changed")
                    : QStringLiteral("Schema changed: %1 -> %2")
                          .arg(shortHashText(e.text.left(arrow).trimmed(), QStringLiteral("none")),
                               shortHashText(e.text.mid(arrow + 4).trimmed()));
      addEvent(Kind::State, title, e.text);
      return;
    }
  }
}

void DashboardController::addEvent(EventModel::Kind kind, const QString& title,
                                   const QString& detail, qint64 refId, const QDateTime& at) {
  EventModel::Event e;
  e.at = at.isValid() ? at : QDateTime::currentDateTime();
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
  m_waitingStatus.reset();  // the engine being replaced's
  m_frameWait.stop();
  m_haveLast = false;
  m_lastPublished = 0;
  m_lastApplied = 0;
  m_summary = NodeSummary();
  m_snapshotSummary = SnapshotSummary();
  m_snapshots.update({}, QString(), 0);
  m_schemaNodes.update(NodeStatus(), 0);
  m_schemaPauses.update({}, 0);
  m_schemaStatus = NodeStatus();
  updateSchemaDiff();
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

void DashboardController::checkConsistency() {
  request(Control::kCheckConsistency);
}
void DashboardController::repairConsistency(const QString& nodeId) {
  request(Control::kRepairConsistency, nodeId.toLongLong(), true);
}

void DashboardController::saveSnapshot() {
  request(Control::kSaveSnapshot);
}
void DashboardController::verifySnapshot(const QString& id) {
  request(Control::kVerifySnapshot, 0, false, id);
}
void DashboardController::restoreSnapshot(const QString& id, bool force) {
  request(Control::kRestoreSnapshot, force ? 1 : 0, true, id);
}
void DashboardController::refreshSnapshots() {
  request(Control::kRefreshSnapshots);
}

void DashboardController::compareSchemaWith(const QString& nodeId) {
  bool ok = false;
  const uint64_t id = nodeId.trimmed().toULongLong(&ok);
  m_schemaChoice = ok ? id : 0;
  updateSchemaDiff();
}

// The differences with the chosen node (or the default one), and what the page says when
// there are none.
void DashboardController::updateSchemaDiff() {
  const SchemaStatus& schema = m_schemaStatus.schema;
  const uint64_t self = m_schemaStatus.nodeId;
  const QString& ours = m_schemaStatus.schemaHash;
  const QList<uint64_t> ids = m_schemaNodes.nodeIds();
  uint64_t target = 0;
  if (m_schemaChoice != 0 && ids.contains(m_schemaChoice)) {
    target = m_schemaChoice;
  } else {
    for (uint64_t id : ids) {
      const QString hash = m_schemaNodes.hashOf(id);
      if (id == self || hash.isEmpty() || hash == ours) continue;
      if (m_schemaNodes.hasTables(id)) {
        target = id;
        break;
      }
      if (target == 0) target = id;  // a Go node, unless one with a column list follows
    }
  }
  if (target == 0) {
    QString empty;
    if (self == 0)
      empty = QStringLiteral("No status yet.");
    else if (ours.isEmpty())
      empty = QStringLiteral("This node's schema is not known yet.");
    else if (schema.registry.isEmpty() && schema.registryReadMs == 0)
      empty = QStringLiteral("The schema registry has not been read yet.");
    else
      empty = QStringLiteral("Every node runs this node's schema: nothing to compare.");
    m_schemaDiff.update(0, {}, empty);
    return;
  }
  const SchemaNode* node = nullptr;
  for (const SchemaNode& n : schema.registry)
    if (n.nodeId == target) {
      node = &n;
      break;
    }
  const QString hash = m_schemaNodes.hashOf(target);
  if (!node) {
    m_schemaDiff.update(
        target, {},
        QStringLiteral("Node %1 is not in the schema registry yet: its columns are not known.")
            .arg(target));
  } else if (target != self && !hash.isEmpty() && hash == ours) {
    m_schemaDiff.update(target, {},
                        QStringLiteral("Node %1 runs the same schema as this node.").arg(target));
  } else if (!node->hasTables) {
    m_schemaDiff.update(target, {},
                        QStringLiteral("Node %1 publishes no column list (a Go node): its schema "
                                       "hash differs, but its columns cannot be compared.")
                            .arg(target));
  } else {
    const QList<SchemaDifference> diff = diffSchemas(schema.tables, node->tables);
    m_schemaDiff.update(
        target, diff,
        target == self
            ? QStringLiteral("Node %1 is this node.").arg(target)
            : QStringLiteral("Node %1 has the same tables and columns as this node; the schema "
                             "hashes differ in something the registry does not carry.")
                  .arg(target));
  }
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
