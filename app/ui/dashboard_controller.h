// DashboardController: what the dashboard's QML sees (the type DashboardController of the
// module HarmonyLite.Backend; the host hands one to Main.qml). It turns the engine's NodeStatus
// (a copy, a few per second) into NodeSummary and SnapshotSummary values, the list models of
// the pages (shards, cluster, snapshot catalogue, schema nodes, differences and pauses) and
// chart samples, and the engine's events (EngineEvent, told once as they happen) into rows of
// the event list; QML's commands come in as invokables and leave as controlRequested() /
// restartRequested() signals that the host (GuiRunner) queues to the engine thread. The
// controller never touches engine objects, so it is tested by feeding it statuses and events by
// hand. Thread: GUI thread only. Owns its models.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include <optional>

#include "cluster_model.h"
#include "event_model.h"
#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"
#include "harmonylite/engine_thread.h"
#include "node_summary.h"
#include "schema_model.h"
#include "settings_model.h"
#include "shard_model.h"
#include "snapshot_model.h"

namespace hl {

// Not `final`: Qt 6.4's QML registration derives a class from every default-constructible
// registered type (QQmlElement<T>), uncreatable or not.
class DashboardController : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("made by the host (GuiRunner) and handed to Main.qml")
  // QML names EngineState's values as DashboardController.EngineState.Running only, and does not
  // copy into this type the enums of the types its properties name (the engine's namespace hl,
  // whose ShardState and ServerState share value names): either would clash on Running/Stopped.
  Q_CLASSINFO("RegisterEnumClassesUnscoped", "false")
  Q_CLASSINFO("RegisterEnumsFromRelatedTypes", "false")
  Q_PROPERTY(hl::NodeSummary summary READ summary NOTIFY statusChanged)
  Q_PROPERTY(hl::SnapshotSummary snapshotSummary READ snapshotSummary NOTIFY statusChanged)
  Q_PROPERTY(
      hl::DashboardController::EngineState engineState READ engineState NOTIFY engineStateChanged)
  Q_PROPERTY(QString engineError READ engineError NOTIFY engineStateChanged)
  Q_PROPERTY(QString nodeId READ nodeId NOTIFY configChanged)
  Q_PROPERTY(QString windowTitle READ windowTitle NOTIFY configChanged)
  Q_PROPERTY(QString configSource READ configSource NOTIFY configChanged)
  Q_PROPERTY(bool firstRun READ firstRun NOTIFY configChanged)
  Q_PROPERTY(QString dbPath READ dbPath NOTIFY configChanged)
  Q_PROPERTY(QString natsUrls READ natsUrls NOTIFY configChanged)
  Q_PROPERTY(QString configError READ configError NOTIFY configErrorChanged)
  Q_PROPERTY(QString rememberedSetup READ rememberedSetup NOTIFY configChanged)
  Q_PROPERTY(int controlsInFlight READ controlsInFlight NOTIFY controlsInFlightChanged)
  Q_PROPERTY(QString lastControlMessage READ lastControlMessage NOTIFY controlFinished)
  Q_PROPERTY(bool lastControlOk READ lastControlOk NOTIFY controlFinished)
  Q_PROPERTY(hl::ShardModel* shards READ shards CONSTANT)
  Q_PROPERTY(hl::ClusterModel* cluster READ cluster CONSTANT)
  Q_PROPERTY(hl::EventModel* events READ events CONSTANT)
  Q_PROPERTY(hl::SnapshotModel* snapshots READ snapshots CONSTANT)
  Q_PROPERTY(hl::SettingsModel* settings READ settings CONSTANT)
  Q_PROPERTY(hl::SchemaNodeModel* schemaNodes READ schemaNodes CONSTANT)
  Q_PROPERTY(hl::SchemaDiffModel* schemaDiff READ schemaDiff CONSTANT)
  Q_PROPERTY(hl::SchemaPauseModel* schemaPauses READ schemaPauses CONSTANT)
  // The last consistency check this node ran (docs/consistency.md#in-the-appliance): running,
  // verdict ("" never, agree, differ, busy, error), summary, when, positions, tables (each:
  // table, agree, digests, rows [{key, values}], truncated, locateError), nodes (ids to repair
  // from), lastRepair.
  Q_PROPERTY(QVariantMap consistency READ consistency NOTIFY statusChanged)
  // Every alert rule that is on (docs/alerts.md): rule, severity ("warning", "critical"),
  // firing, pending, value, threshold, since ("3 min ago", "" when neither), message.
  Q_PROPERTY(QVariantList alerts READ alerts NOTIFY statusChanged)
  // The host shows a tray icon (docs/dashboard.md#tray): closing the window hides it, and the
  // node goes on; without one, closing the window quits.
  Q_PROPERTY(bool trayAvailable READ trayAvailable NOTIFY configChanged)
  // The theme (docs/dashboard.md#themes): "system" (the desktop's setting), "light" or "dark";
  // darkTheme is what the window shows.
  Q_PROPERTY(QString theme READ theme WRITE setTheme NOTIFY themeChanged)
  Q_PROPERTY(bool darkTheme READ darkTheme NOTIFY themeChanged)

 public:
  // Where the engine the dashboard shows is, as the host tells it (onEngine*()). Transitions:
  //
  //   Stopped ──onEngineStarting──▶ Starting ──onEngineStarted──▶ Running
  //                                 Starting ──onEngineFailed──▶ Failed (engineError says why)
  //   Running / Failed ──onEngineStopped──▶ Stopped
  //   any ──onEngineStarting (a restart on another setup)──▶ Starting
  enum class EngineState { Stopped, Starting, Running, Failed };
  Q_ENUM(EngineState)

  explicit DashboardController(QObject* parent = nullptr);

  NodeSummary summary() const { return m_summary; }
  SnapshotSummary snapshotSummary() const { return m_snapshotSummary; }
  EngineState engineState() const { return m_engineState; }
  QString engineError() const { return m_engineError; }
  QString nodeId() const { return QString::number(m_config.nodeId); }
  QString windowTitle() const { return QStringLiteral("HarmonyLite - node ") + nodeId(); }
  QString configSource() const;
  // On the first-run defaults: no config file, nothing chosen in the dashboard or remembered.
  bool firstRun() const { return m_config.sourcePath.isEmpty() && !m_chosenInDashboard; }
  QString dbPath() const { return m_config.dbPath; }
  QString natsUrls() const { return m_config.nats.urls.join(QStringLiteral(", ")); }
  QString configError() const { return m_configError; }
  // What the next start without -config opens on (empty: the first-run defaults).
  QString rememberedSetup() const { return m_rememberedSetup; }
  int controlsInFlight() const { return m_controlsInFlight; }
  QString lastControlMessage() const { return m_lastControlMessage; }
  bool lastControlOk() const { return m_lastControlOk; }
  ShardModel* shards() { return &m_shards; }
  ClusterModel* cluster() { return &m_cluster; }
  EventModel* events() { return &m_events; }
  SnapshotModel* snapshots() { return &m_snapshots; }
  SettingsModel* settings() { return &m_settings; }
  SchemaNodeModel* schemaNodes() { return &m_schemaNodes; }
  SchemaDiffModel* schemaDiff() { return &m_schemaDiff; }
  SchemaPauseModel* schemaPauses() { return &m_schemaPauses; }
  QVariantMap consistency() const { return m_consistency; }
  QVariantList alerts() const { return m_alerts; }
  QString theme() const { return m_theme; }
  void setTheme(const QString& theme);  // an unknown word is "system"
  bool darkTheme() const;
  // The desktop's own setting, as the host reads it (its palette); "system" follows it.
  void setSystemDark(bool dark);
  bool trayAvailable() const { return m_trayAvailable; }
  void setTrayAvailable(bool available) {
    m_trayAvailable = available;
    emit configChanged();
  }
  const Config& config() const { return m_config; }

  // Node controls (the engine answers through onControlDone). The destructive ones are called
  // by QML only after the user confirmed, and pass confirm = true.
  Q_INVOKABLE void pausePublishing();
  Q_INVOKABLE void resumePublishing();
  Q_INVOKABLE void pauseApplying(int shard);  // 0 = every shard
  Q_INVOKABLE void resumeApplying(int shard);
  Q_INVOKABLE void reconnectNats();
  Q_INVOKABLE void retryDeadLetter(qint64 id);
  Q_INVOKABLE void discardDeadLetter(qint64 id);
  Q_INVOKABLE void retryFailedPublishes();
  Q_INVOKABLE void clearConflicts();
  // Cluster page: check every node now; publish `nodeId`'s version of the differing rows
  // (after the user confirmed).
  Q_INVOKABLE void checkConsistency();
  Q_INVOKABLE void repairConsistency(const QString& nodeId);
  // Snapshots (docs/snapshots.md): `id` is a snapshot id of the catalogue, "" = the latest.
  Q_INVOKABLE void saveSnapshot();
  Q_INVOKABLE void verifySnapshot(const QString& id);
  // Replaces the live database: called by QML only after the user confirmed. `force` lets a
  // snapshot whose schema differs from this node's through.
  Q_INVOKABLE void restoreSnapshot(const QString& id, bool force);
  Q_INVOKABLE void refreshSnapshots();
  // The Schema page's comparison: this node's tables against those of node `nodeId` ("" = the
  // default: the first node, in the node list's order, whose hash differs from this node's,
  // preferring one that publishes its column list; none when every node agrees). A chosen node
  // that is no longer listed (in the registry or the cluster view) gives way to the default
  // until it is back. schemaDiff.nodeId says which node is compared.
  Q_INVOKABLE void compareSchemaWith(const QString& nodeId);

  // The node's per-minute history of the last `hours` (docs/alerts.md#history), oldest first,
  // for the charts' 1 h and 24 h ranges: [epoch ms, published/s, applied/s, lag messages,
  // [lag messages per shard...]] each; empty without a history file.
  Q_INVOKABLE QVariantList history(int hours) const;
  // Saves the node's history (historyCsv()) or the event list as CSV at `file`; the answer
  // comes as controlFinished (the toast).
  Q_INVOKABLE void saveHistoryCsv(const QUrl& file);
  Q_INVOKABLE void saveEventsCsv(const QUrl& file);

  // Pointing the node somewhere else (first run, Settings): each restarts the engine with the
  // changed configuration, or sets configError and changes nothing.
  Q_INVOKABLE void openDatabase(const QUrl& file);
  Q_INVOKABLE void useNatsServers(const QString& commaSeparatedUrls);  // "" = embedded server
  Q_INVOKABLE void loadConfig(const QUrl& file);
  Q_INVOKABLE void clearConfigError();
  // Forget the remembered setup: the next start without -config uses the first-run defaults.
  Q_INVOKABLE void forgetSetup();

 public slots:
  void setConfig(const hl::Config& config);
  // From the host: the setup it keeps for the next start (a RememberedSetup's description),
  // and whether the running configuration was chosen in the dashboard (or restored from it).
  void setRememberedSetup(const QString& description);
  void setChosenInDashboard(bool chosen);
  // Shown under the setup actions until the next action (a refused file, URL or setup).
  void setConfigError(const QString& error);
  // `nowMs` is the wall clock (for "last seen" texts) and `monotonicMs` the clock rates are
  // computed with; the one-argument form reads both clocks.
  void applyStatus(const hl::NodeStatus& status);
  void applyStatusAt(const hl::NodeStatus& status, qint64 nowMs, qint64 monotonicMs);
  // Paced by frames (the host's window, docs/dashboard.md#responsiveness): applyStatus() keeps
  // the newest status until the host says a frame was shown (frameShown(), queued after the
  // window's frameSwapped) or kFrameWaitMs passed without one, so that the status's work comes
  // right after a frame instead of before the next one. Off (applied at once) by default.
  void setPacedByFrames(bool paced);
  void frameShown();
  void onEngineStarting();
  void onEngineStarted();
  void onEngineFailed(const QString& reason);
  void onEngineStopped();
  // Something happened in the engine (EngineThread::event): one row of the event list, or the
  // dead-letter row it closes.
  void onEngineEvent(const hl::EngineEvent& event);
  void onControlDone(hl::EngineThread::Control control, bool ok, const QString& message);

 signals:
  void statusChanged();
  void engineStateChanged();
  void configChanged();
  void configErrorChanged();
  void controlsInFlightChanged();
  void controlFinished(bool ok, const QString& message);
  // One point per status (at most one a second) for the charts' live range: `t` is the wall
  // clock (epoch ms).
  void sampleAdded(double t, double publishRate, double applyRate, double lagMessages);
  // Per-shard lag in messages, in the order of the shard model.
  void shardLagSampleAdded(double t, const QVariantList& lagMessages);
  // To the host: queue this control to the engine thread / restart the engine with `config`.
  void controlRequested(hl::EngineThread::Control control, qint64 id, bool confirm,
                        const QString& name);
  void restartRequested(const hl::Config& config);
  // An alert fired or resolved: the host shows it as a desktop notification (the tray's
  // message, docs/dashboard.md#tray).
  void notificationRequested(const QString& title, const QString& body, bool critical);
  void forgetSetupRequested();
  void themeChanged();

 private:
  void request(EngineThread::Control control, qint64 id = 0, bool confirm = false,
               const QString& name = QString());
  void addEvent(EventModel::Kind kind, const QString& title, const QString& detail = QString(),
                qint64 refId = 0, const QDateTime& at = QDateTime());
  // The alert history of the node's history file (readAlertLog()) into the event list.
  void loadAlertHistory();
  void setEngineState(EngineState state, const QString& error);
  void requestRestart(Config config);
  void updateSchemaDiff();
  void applyWaitingStatus();

  Config m_config;
  NodeSummary m_summary;
  SnapshotSummary m_snapshotSummary;
  bool m_haveLast = false;     // a status arrived since the engine (re)started
  qint64 m_lastPublished = 0;  // of that status, for the rates
  qint64 m_lastApplied = 0;
  qint64 m_lastMonotonicMs = 0;
  qint64 m_lastSampleMs = -1;  // monotonic ms of the last chart sample
  static constexpr qint64 kChartSampleMs = 950;
  QElapsedTimer m_clock;  // chart time axis
  struct WaitingStatus {
    NodeStatus status;
    qint64 nowMs = 0;  // when it arrived: the rates and ages are of then
    qint64 monotonicMs = 0;
  };
  std::optional<WaitingStatus> m_waitingStatus;  // paced by frames: the newest, not applied yet
  bool m_pacedByFrames = false;
  QTimer m_frameWait;  // a window that draws nothing (hidden, nothing moving) gets it anyway
  static constexpr int kFrameWaitMs = 50;
  EngineState m_engineState = EngineState::Stopped;
  QString m_engineError;
  QString m_configError;
  QString m_rememberedSetup;
  bool m_chosenInDashboard = false;
  int m_controlsInFlight = 0;
  QString m_lastControlMessage;
  bool m_lastControlOk = true;
  ShardModel m_shards;
  ClusterModel m_cluster;
  EventModel m_events;
  SnapshotModel m_snapshots;
  SettingsModel m_settings;
  SchemaNodeModel m_schemaNodes;
  SchemaDiffModel m_schemaDiff;
  SchemaPauseModel m_schemaPauses;
  QVariantMap m_consistency;
  QVariantList m_alerts;
  bool m_trayAvailable = false;
  QString m_theme = QStringLiteral("system");
  bool m_systemDark = false;
  QString m_alertHistoryLoaded;  // the history file whose alerts are in the event list
  NodeStatus m_schemaStatus;     // the last status's nodeId, schemaHash and schema, for the diff
  uint64_t m_schemaChoice = 0;   // compareSchemaWith(), 0 = the default
};

// "3 h 12 min", "45 s"
QString durationText(qint64 seconds);
// "12.4 MB"
QString bytesText(qint64 bytes);
// The Snapshots page's header and the Overview's tile, from the node's snapshot side; `nowMs`
// is the wall clock (ages, "in 12 min").
SnapshotSummary snapshotSummaryOf(const SnapshotStatus& snapshots, qint64 nowMs);

}  // namespace hl
