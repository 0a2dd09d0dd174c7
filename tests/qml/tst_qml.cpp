// Qt Quick Test runner for the dashboard's pages (label qml). Every QML file here gets its own
// engine with a real DashboardController fed by `fake` (FakeStatus), which writes statuses and
// engine events by hand: the pages are tested against known values without an engine or a
// network.
// QtCharts needs a QApplication, so this main makes one before handing over to Qt Quick Test.
#include <QApplication>
#include <QDateTime>
#include <QQmlContext>
#include <QQmlEngine>
#include <QtQuickTest>

#include "dashboard_controller.h"
#include "gui_runner.h"

namespace hl {

// Builds NodeStatus values from plain JS objects, tells EngineEvents as the engine would, and
// records the controls the pages request.
class FakeStatus final : public QObject {
  Q_OBJECT
  Q_PROPERTY(QString lastControl MEMBER m_lastControl NOTIFY recorded)
  Q_PROPERTY(qlonglong lastId MEMBER m_lastId NOTIFY recorded)
  Q_PROPERTY(bool lastConfirm MEMBER m_lastConfirm NOTIFY recorded)
  Q_PROPERTY(QString lastName MEMBER m_lastName NOTIFY recorded)
  Q_PROPERTY(int controlCount MEMBER m_count NOTIFY recorded)
  Q_PROPERTY(QString restartDbPath MEMBER m_restartDbPath NOTIFY recorded)
  Q_PROPERTY(QStringList restartUrls MEMBER m_restartUrls NOTIFY recorded)
  Q_PROPERTY(int forgetCount MEMBER m_forgetCount NOTIFY recorded)

 public:
  explicit FakeStatus(DashboardController* controller)
      : QObject(controller), m_controller(controller) {
    connect(controller, &DashboardController::controlRequested, this,
            [this](EngineThread::Control c, qint64 id, bool confirm, const QString& name) {
              m_last = c;
              m_lastControl = QString::fromLatin1(
                  QMetaEnum::fromType<EngineThread::Control>().valueToKey(int(c)));
              m_lastId = id;
              m_lastConfirm = confirm;
              m_lastName = name;
              ++m_count;
              emit recorded();
            });
    connect(controller, &DashboardController::restartRequested, this, [this](const Config& c) {
      m_restartDbPath = c.dbPath;
      m_restartUrls = c.nats.urls;
      emit recorded();
    });
    connect(controller, &DashboardController::forgetSetupRequested, this, [this] {
      ++m_forgetCount;
      emit recorded();
    });
  }

  // `spec`: the NodeStatus fields by name (see push() below; states are the enums' values,
  // Hl.ServerState / Hl.ShardState); `advanceMs`: time since the last push, for the rates.
  Q_INVOKABLE void push(const QVariantMap& spec, int advanceMs = 1000) {
    apply(statusFrom(spec), advanceMs);
  }

  // The same, with the snapshot side written by hand: `snapshots` holds the SnapshotStatus
  // fields by name (see snapshotsFrom() below; activity is an Hl.SnapshotActivity), its
  // `catalog` one object per SnapshotInfo, newest first; times are given as ages ("agoMs").
  Q_INVOKABLE void pushSnapshots(const QVariantMap& snapshots, const QVariantMap& spec = {},
                                 int advanceMs = 1000) {
    NodeStatus s = statusFrom(spec);
    s.snapshots = snapshotsFrom(snapshots, s.schemaHash);
    apply(s, advanceMs);
  }

  static NodeStatus statusFrom(const QVariantMap& spec) {
    NodeStatus s;
    s.nodeId = spec.value("nodeId", 7).toULongLong();
    s.version = spec.value("version", "9.9.9-test").toString();
    s.uptimeSeconds = spec.value("uptime", 65).toLongLong();
    s.dbPath = spec.value("dbPath", "/data/app.db").toString();
    s.dbSizeBytes = spec.value("dbSize", 4096).toLongLong();
    s.dbConnected = true;
    s.natsConnected = spec.value("natsConnected", true).toBool();
    s.natsServer = spec.value("natsServer", "nats://127.0.0.1:4222").toString();
    s.embeddedServer = ServerState(spec.value("embedded", int(ServerState::Running)).toInt());
    s.cdcInstalled = true;
    s.tablesTracked = spec.value("tables", 2).toInt();
    s.schemaHash = spec.value("schemaHash", "aaaa1111bbbb2222cccc3333").toString();
    s.pendingChanges = spec.value("pending", 0).toLongLong();
    s.failedChanges = spec.value("failed", 0).toLongLong();
    s.published = spec.value("published", 0).toLongLong();
    s.publishingPaused = spec.value("publishingPaused", false).toBool();
    s.conflictCount = spec.value("conflicts", 0).toLongLong();
    s.deadLetterCount = spec.value("deadLetters", 0).toLongLong();
    const QVariantMap collisions = spec.value("collisions").toMap();  // table -> count
    for (auto it = collisions.cbegin(); it != collisions.cend(); ++it)
      s.insertCollisions.insert(it.key(), it.value().toLongLong());
    s.healthy = spec.value("healthy", true).toBool();
    s.unhealthyReason = spec.value("reason").toString();
    s.lastPublishedMs = QDateTime::currentMSecsSinceEpoch() - 3000;
    for (const QVariant& v : spec.value("shards").toList()) {
      const QVariantMap m = v.toMap();
      ShardStatus sh;
      sh.shard = m.value("shard").toInt();
      sh.stream = QStringLiteral("harmonylite-changes-c-%1").arg(sh.shard);
      sh.applied = m.value("applied", 0).toULongLong();
      sh.received = m.value("received", sh.applied).toULongLong();
      sh.lagMessages = m.value("lag", 0).toLongLong();
      sh.lagSeconds = m.value("lagSeconds", 0).toDouble();
      sh.state = ShardState(m.value("state", int(ShardState::Running)).toInt());
      sh.lastError = m.value("error").toString();
      sh.appliedChanges = m.value("appliedChanges", 0).toLongLong();
      // SchemaPaused: the change it waits at (times as ages, "waitingAgoMs").
      sh.waitingForHash = m.value("waitingForHash").toString();
      sh.waitingFromNode = m.value("waitingFromNode", 0).toULongLong();
      sh.waitingTable = m.value("waitingTable").toString();
      sh.waitingReason = m.value("waitingReason").toString();
      sh.waitingSeq = m.value("waitingSeq", 0).toULongLong();
      if (m.contains("waitingAgoMs"))
        sh.waitingSinceMs =
            QDateTime::currentMSecsSinceEpoch() - m.value("waitingAgoMs").toLongLong();
      sh.redeliveries = m.value("redeliveries", 0).toLongLong();
      s.shards << sh;
    }
    for (const QVariant& v : spec.value("peers").toList()) {
      const QVariantMap m = v.toMap();
      PeerStatus p;
      p.nodeId = m.value("nodeId").toULongLong();
      p.version = m.value("version", "9.9.9-test").toString();
      p.lastSeenMs = QDateTime::currentMSecsSinceEpoch() - m.value("agoMs", 1000).toLongLong();
      p.healthy = m.value("healthy", true).toBool();
      p.reason = m.value("reason").toString();
      p.schemaHash = m.value("schemaHash", s.schemaHash).toString();
      p.lagMessages = m.value("lag", 0).toLongLong();
      p.shardStates = shardStatesFromText(m.value("shardStates", "1:running").toString());
      s.cluster << p;
    }
    s.schema = schemaFrom(spec.value("schema").toMap(), s.schemaHash);
    // The last consistency check: verdict, reason, positions, running, agoMs, nodes (id ->
    // agreement line), tables [{table, agree, digests: [..], rows: [{key, values: [..]}]}].
    const QVariantMap c = spec.value("consistency").toMap();
    s.consistency.verdict = c.value("verdict").toString();
    s.consistency.reason = c.value("reason").toString();
    s.consistency.positions = c.value("positions").toString();
    s.consistency.running = c.value("running", false).toBool();
    s.consistency.lastRepair = c.value("lastRepair").toString();
    if (c.contains("agoMs"))
      s.consistency.lastCheckMs =
          QDateTime::currentMSecsSinceEpoch() - c.value("agoMs").toLongLong();
    const QVariantMap nodes = c.value("nodes").toMap();
    for (auto it = nodes.cbegin(); it != nodes.cend(); ++it)
      s.consistency.nodes.insert(it.key().toULongLong(), it.value().toString());
    for (const QVariant& v : c.value("tables").toList()) {
      const QVariantMap m = v.toMap();
      ConsistencyTableView t;
      t.table = m.value("table").toString();
      t.agree = m.value("agree", true).toBool();
      t.digests = m.value("digests").toStringList();
      for (const QVariant& r : m.value("rows").toList())
        t.rows << ConsistencyTableView::Row{r.toMap().value("key").toString(),
                                            r.toMap().value("values").toStringList()};
      s.consistency.tablesChecked += 1;
      s.consistency.tablesDiffering += t.agree ? 0 : 1;
      s.consistency.rowsDiffering += int(t.rows.size());
      s.consistency.tables << t;
    }
    return s;
  }

  // The schema side: `spec` holds `previousHash`, `tables` (this node's) and `registry` (one
  // object per SchemaNode: nodeId, schemaHash, previousHash, version, agoMs, tables; a node
  // without `tables` is a Go node), `registryError`, `changes`, `lastChangeAgoMs`. A table is
  // {name, columns: [{name, type, notNull, pk}]}.
  static SchemaStatus schemaFrom(const QVariantMap& spec, const QString& hash) {
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    SchemaStatus st;
    st.hash = hash;
    st.previousHash = spec.value("previousHash").toString();
    st.tables = tablesFrom(spec.value("tables").toList());
    for (const QVariant& v : spec.value("registry").toList()) {
      const QVariantMap m = v.toMap();
      SchemaNode n;
      n.nodeId = m.value("nodeId").toULongLong();
      n.schemaHash = m.value("schemaHash", hash).toString();
      n.previousHash = m.value("previousHash").toString();
      n.version = m.value("version", "9.9.9-test").toString();
      n.updatedAtMs = now - m.value("agoMs", 5000).toLongLong();
      n.hasTables = m.contains("tables");
      n.tables = tablesFrom(m.value("tables").toList());
      st.registry << n;
    }
    st.registryReadMs = spec.isEmpty() ? 0 : now - 1000;
    st.registryError = spec.value("registryError").toString();
    st.changes = spec.value("changes", 0).toLongLong();
    if (spec.contains("lastChangeAgoMs"))
      st.lastChangeMs = now - spec.value("lastChangeAgoMs").toLongLong();
    return st;
  }

  static QList<SchemaTable> tablesFrom(const QVariantList& list) {
    QList<SchemaTable> tables;
    for (const QVariant& t : list) {
      const QVariantMap tm = t.toMap();
      SchemaTable table;
      table.name = tm.value("name").toString();
      for (const QVariant& c : tm.value("columns").toList()) {
        const QVariantMap cm = c.toMap();
        table.columns << SchemaColumn{cm.value("name").toString(), cm.value("type").toString(),
                                      cm.value("notNull", false).toBool(),
                                      cm.value("pk", 0).toInt()};
      }
      tables << table;
    }
    return tables;
  }

  static SnapshotStatus snapshotsFrom(const QVariantMap& spec, const QString& ourSchemaHash) {
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const auto at = [now](const QVariantMap& m, const char* agoKey) {
      return m.contains(agoKey) ? now - m.value(agoKey).toLongLong() : 0;
    };
    SnapshotStatus st;
    st.enabled = spec.value("enabled", true).toBool();
    st.store = spec.value("store", "nats bucket harmonylite-changes-snapshot-store").toString();
    st.catalogReadMs = now - 1000;
    st.catalogError = spec.value("catalogError").toString();
    st.leaderNodeId = spec.value("leader", 0).toULongLong();
    st.isLeader = spec.value("isLeader", false).toBool();
    st.leaderUntilMs = spec.contains("leaderUntilMs")   ? spec.value("leaderUntilMs").toLongLong()
                       : st.leaderNodeId || st.isLeader ? now + 20000
                                                        : 0;
    st.nextScheduledMs = spec.contains("nextInMs") ? now + spec.value("nextInMs").toLongLong() : 0;
    st.activity = SnapshotActivity(spec.value("activity", int(SnapshotActivity::Idle)).toInt());
    st.activityTarget = spec.value("target").toString();
    st.doneBytes = spec.value("done", 0).toLongLong();
    st.totalBytes = spec.value("total", 0).toLongLong();
    st.bytesPerSecond = spec.value("rate", 0).toDouble();
    st.lastSuccessMs = at(spec, "lastSuccessAgoMs");
    st.restoreUnderWay = spec.value("restoreUnderWay", false).toBool();
    st.lastError = spec.value("lastError").toString();
    for (const QVariant& v : spec.value("catalog").toList()) {
      const QVariantMap m = v.toMap();
      // A foreign (Go) snapshot carries no metadata: its fields are unknown unless given.
      const bool foreign = m.value("foreign", false).toBool();
      SnapshotInfo i;
      i.id = m.value("id").toString();
      i.object = i.id + ".db";
      i.foreign = foreign;
      i.latest = m.value("latest", false).toBool();
      i.takenAtMs = m.contains("agoMs") ? now - m.value("agoMs").toLongLong() : 0;
      i.nodeId = m.value("nodeId", foreign ? 0 : 7).toULongLong();
      i.version = m.value("version", foreign ? "" : "9.9.9-test").toString();
      i.sizeBytes = m.value("size", foreign ? -1 : 40960).toLongLong();
      for (const QVariant& w :
           m.value("watermark", foreign ? QVariantList() : QVariantList{10, 20}).toList())
        i.watermark << w.toULongLong();
      i.schemaHash = m.value("schemaHash", foreign ? QString() : ourSchemaHash).toString();
      i.sha256 = m.value("sha256", foreign ? QString() : QString(64, 'e')).toString();
      i.verifiedAtMs = at(m, "verifiedAgoMs");
      i.verifiedOk = m.value("verifiedOk", true).toBool();
      i.verifyMessage = m.value("verifyMessage").toString();
      st.catalog << i;
    }
    return st;
  }

  void apply(const NodeStatus& s, int advanceMs) {
    m_monotonicMs += advanceMs;
    m_controller->applyStatusAt(s, QDateTime::currentMSecsSinceEpoch(), m_monotonicMs);
  }

  // Engine events, as EngineThread::event tells them.
  Q_INVOKABLE void deadLettered(qlonglong id, const QString& reason) {
    EngineEvent e = event(EngineEvent::Kind::DeadLettered);
    e.deadLetter =
        DeadLetterInfo{id, "2026-11-29T10:00:00Z", "harmonylite-changes-c-1", 10, reason};
    m_controller->onEngineEvent(e);
  }
  Q_INVOKABLE void deadLetterClosed(qlonglong id) {
    EngineEvent e = event(EngineEvent::Kind::DeadLetterClosed);
    e.deadLetter.id = id;
    m_controller->onEngineEvent(e);
  }
  Q_INVOKABLE void conflictRecorded(qlonglong id, const QString& rowKey) {
    EngineEvent e = event(EngineEvent::Kind::ConflictRecorded);
    e.conflict = ConflictInfo{id, "2026-11-29T10:00:00Z", "Books", rowKey, "node 7", "node 8"};
    m_controller->onEngineEvent(e);
  }
  // A snapshot operation ended: `activity` is the Hl.SnapshotActivity it was.
  Q_INVOKABLE void snapshotFinished(int activity, bool ok, const QString& text) {
    m_controller->onEngineEvent(
        EngineEvent::snapshotFinished(SnapshotActivity(activity), ok, text));
  }
  // This node's schema changed from `oldHash` to `newHash`.
  Q_INVOKABLE void schemaChanged(const QString& oldHash, const QString& newHash) {
    EngineEvent e = event(EngineEvent::Kind::SchemaChanged);
    e.text = oldHash + " -> " + newHash;
    m_controller->onEngineEvent(e);
  }
  // Shard `shard` is now in `state` (an Hl.ShardState).
  Q_INVOKABLE void shardStateChanged(int shard, int state, const QString& reason) {
    m_controller->onEngineEvent(EngineEvent::shardStateChanged(shard, ShardState(state), reason));
  }
  Q_INVOKABLE void natsConnection(bool connected) {
    EngineEvent e =
        event(connected ? EngineEvent::Kind::NatsConnected : EngineEvent::Kind::NatsDisconnected);
    if (connected) e.text = "nats://127.0.0.1:4222";
    m_controller->onEngineEvent(e);
  }

  // The engine's answer to the last control.
  Q_INVOKABLE void answer(bool ok, const QString& message) {
    m_controller->onControlDone(m_last, ok, message);
  }

  // A configuration: `file` "" = first-run defaults.
  Q_INVOKABLE void configure(const QString& file, const QString& dbPath,
                             const QString& natsPassword) {
    Config c;
    c.sourcePath = file;
    c.dbPath = dbPath;
    c.nodeId = 7;
    c.nats.userName = "svc";
    c.nats.userPassword = natsPassword;
    m_controller->setChosenInDashboard(false);
    m_controller->setConfig(c);
  }

  // What the host says it remembers for the next start ("" = nothing).
  Q_INVOKABLE void remember(const QString& description) {
    m_controller->setRememberedSetup(description);
  }

 signals:
  void recorded();

 private:
  static EngineEvent event(EngineEvent::Kind kind) {
    EngineEvent e;
    e.kind = kind;
    return e;
  }

  DashboardController* m_controller;
  qint64 m_monotonicMs = 0;
  EngineThread::Control m_last = EngineThread::Control::kPausePublishing;
  QString m_lastControl;
  qlonglong m_lastId = 0;
  bool m_lastConfirm = false;
  QString m_lastName;
  int m_count = 0;
  int m_forgetCount = 0;
  QString m_restartDbPath;
  QStringList m_restartUrls;
};

class Setup : public QObject {
  Q_OBJECT
 public slots:
  void qmlEngineAvailable(QQmlEngine* engine) {
    registerDashboardTypes();
    auto* controller = new DashboardController(engine);
    auto* fake = new FakeStatus(controller);
    engine->rootContext()->setContextProperty("controller", controller);
    engine->rootContext()->setContextProperty("fake", fake);
  }
};

}  // namespace hl

int main(int argc, char** argv) {
  QApplication app(argc, argv);  // QtCharts
  hl::Setup setup;
  return quick_test_main_with_setup(argc, argv, "dashboard", HL_QML_TEST_DIR, &setup);
}

#include "tst_qml.moc"
