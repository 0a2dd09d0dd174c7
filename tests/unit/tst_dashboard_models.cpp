// The dashboard's C++ side without a window: every list model under QAbstractItemModelTester
// (which fails the test on any inconsistent signal or index), the controller's signals and
// commands with QSignalSpy, and the rows it makes of the engine's events (fed by hand, one
// table row per kind of EngineEvent).
#include <QAbstractItemModelTester>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QtTest>

#include "dashboard_controller.h"

using namespace hl;

namespace {

ShardStatus shard(int n, quint64 applied, qint64 appliedChanges,
                  ShardState state = ShardState::Running) {
  ShardStatus s;
  s.shard = n;
  s.stream = QStringLiteral("harmonylite-changes-c-%1").arg(n);
  s.applied = applied;
  s.received = applied;
  s.appliedChanges = appliedChanges;
  s.state = state;
  return s;
}

EngineEvent engineEvent(EngineEvent::Kind kind) {
  EngineEvent e;
  e.kind = kind;
  return e;
}

EngineEvent deadLettered(qint64 id, const QString& reason) {
  EngineEvent e = engineEvent(EngineEvent::Kind::DeadLettered);
  e.deadLetter = DeadLetterInfo{id, "2026-11-29T10:00:00Z", "harmonylite-changes-c-1", 10, reason};
  return e;
}

QStringList titles(EventModel* events) {
  QStringList t;
  for (int r = 0; r < events->rowCount(); ++r)
    t << events->data(events->index(r), EventModel::kTitleRole).toString();
  return t;
}

SnapshotInfo snapshot(const QString& id, qint64 takenAtMs, uint64_t nodeId = 7) {
  SnapshotInfo i;
  i.id = id;
  i.object = id + ".db";
  i.takenAtMs = takenAtMs;
  i.nodeId = nodeId;
  i.version = "1.2.3";
  i.sizeBytes = 1536;
  i.watermark = {1234, 88};
  i.schemaHash = "H0123456789abcdef";
  i.sha256 = QString(64, 'c');
  i.rowCounts = {{"Books", 1200}, {"Authors", 300}};
  return i;
}

// A Go node's snapshot.db: nothing but the object's time.
SnapshotInfo foreignSnapshot(qint64 takenAtMs) {
  SnapshotInfo i;
  i.id = "snapshot.db";
  i.object = "snapshot.db";
  i.takenAtMs = takenAtMs;
  i.foreign = true;
  i.latest = true;
  return i;
}

QString role(const SnapshotModel& model, int row, SnapshotModel::Role r) {
  return model.data(model.index(row), r).toString();
}

PeerStatus peer(uint64_t id, const QString& hash, qint64 lastSeenMs) {
  PeerStatus p;
  p.nodeId = id;
  p.schemaHash = hash;
  p.lastSeenMs = lastSeenMs;
  p.healthy = true;
  return p;
}

}  // namespace

class TestDashboardModels : public QObject {
  Q_OBJECT
 private slots:
  void shardModelUpdatesInPlaceAndComputesRates() {
    ShardModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy changes(&model, &QAbstractItemModel::dataChanged);
    model.update({shard(1, 10, 100), shard(2, 20, 0)}, 0);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(resets.count(), 1);
    model.update({shard(1, 60, 600), shard(2, 20, 0)}, 2.0);  // same shards: in place
    QCOMPARE(resets.count(), 1);
    // Only the row that changed, with only the roles that changed (applied, its changes, rate).
    QCOMPARE(changes.count(), 1);
    QCOMPARE(changes.at(0).at(0).value<QModelIndex>().row(), 0);
    QCOMPARE(changes.at(0).at(1).value<QModelIndex>().row(), 0);
    QList<int> roles = changes.at(0).at(2).value<QList<int>>();
    std::sort(roles.begin(), roles.end());
    QVERIFY2(roles.contains(ShardModel::kAppliedRole) && roles.contains(ShardModel::kRateRole) &&
                 !roles.contains(ShardModel::kStateRole) &&
                 !roles.contains(ShardModel::kStreamRole),
             qPrintable(QString::number(roles.size())));
    QCOMPARE(model.data(model.index(0), ShardModel::kRateRole).toDouble(), 250.0);
    QCOMPARE(model.data(model.index(0), ShardModel::kAppliedRole).toULongLong(), 60ull);
    QCOMPARE(model.data(model.index(1), ShardModel::kRateRole).toDouble(), 0.0);
    model.update({shard(1, 60, 600), shard(2, 20, 0)}, 2.0);  // nothing changed but the rate
    QCOMPARE(changes.count(), 2);
    QCOMPARE(changes.at(1).at(2).value<QList<int>>(), QList<int>{ShardModel::kRateRole});
    model.update({shard(1, 60, 600), shard(2, 20, 0)}, 2.0);  // nothing changed: no signal
    QCOMPARE(changes.count(), 2);
    // The state is the enum (QML compares Hl.ShardState values); its word is for the chip.
    model.update({shard(1, 60, 600), shard(2, 20, 0, ShardState::NeedsRestore)}, 0);
    QCOMPARE(model.data(model.index(1), ShardModel::kStateRole).value<ShardState>(),
             ShardState::NeedsRestore);
    QCOMPARE(model.data(model.index(1), ShardModel::kStateTextRole).toString(),
             QStringLiteral("needs-restore"));
    QCOMPARE(model.data(model.index(0), ShardModel::kStateRole).value<ShardState>(),
             ShardState::Running);
    model.update({shard(1, 60, 600)}, 1.0);  // a shard less: reset
    QCOMPARE(resets.count(), 2);
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(!model.data(model.index(5), ShardModel::kShardRole).isValid());
    model.update({}, 1.0);
    QCOMPARE(model.rowCount(), 0);
  }

  void clusterModelSortsAndFlagsSchemaMismatch() {
    ClusterModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const qint64 now = 100'000'000;
    model.update({peer(9, "B", now - 5000), peer(2, "A", now - 100), peer(5, "A", 0)}, 2, "A", now);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.data(model.index(0), ClusterModel::kNodeIdRole).toString(), QStringLiteral("2"));
    QCOMPARE(model.data(model.index(2), ClusterModel::kNodeIdRole).toString(), QStringLiteral("9"));
    QVERIFY(model.data(model.index(2), ClusterModel::kSchemaMismatchRole).toBool());
    QVERIFY(!model.data(model.index(1), ClusterModel::kSchemaMismatchRole).toBool());
    QCOMPARE(model.mismatches(), 1);
    QCOMPARE(model.data(model.index(0), ClusterModel::kLastSeenTextRole).toString(),
             QStringLiteral("this node"));
    QCOMPARE(model.data(model.index(1), ClusterModel::kLastSeenTextRole).toString(),
             QStringLiteral("never"));
    QCOMPARE(model.data(model.index(2), ClusterModel::kLastSeenTextRole).toString(),
             QStringLiteral("5 s ago"));
    QSignalSpy counts(&model, &ClusterModel::countChanged);
    model.update({peer(9, "A", now), peer(2, "A", now), peer(5, "A", now)}, 2, "A",
                 now);  // converged
    QCOMPARE(model.mismatches(), 0);
    QCOMPARE(counts.count(), 1);
    QCOMPARE(agoText(now - 3'600'000 * 3, now), QStringLiteral("3 h ago"));
  }

  void eventModelKeepsNewestFirstFiltersAndBounds() {
    EventModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    using Kind = EventModel::Kind;
    model.add({QDateTime::currentDateTime(), Kind::State, "NATS connected", "nats://x", 0, false});
    model.add(
        {QDateTime::currentDateTime(), Kind::DeadLetter, "Dead letter #4", "bad cbor", 4, true});
    model.add(
        {QDateTime::currentDateTime(), Kind::Conflict, "Conflict on Books [1]", "", 0, false});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.data(model.index(0), EventModel::kKindRole).value<Kind>(), Kind::Conflict);
    model.setKindFilter(Kind::DeadLetter);
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(model.kindFilter() == Kind::DeadLetter);
    model.add({QDateTime::currentDateTime(), Kind::State, "hidden by the filter", "", 0, false});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.total(), 4);
    model.clearKindFilter();
    QCOMPARE(model.rowCount(), 4);
    model.setTextFilter("CBOR");  // case-insensitive, over the detail too
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(model.data(model.index(0), EventModel::kOpenRole).toBool());
    model.closeDeadLetter(5);  // another dead letter: this one stays open
    QVERIFY(model.data(model.index(0), EventModel::kOpenRole).toBool());
    model.closeDeadLetter(4);
    QVERIFY(!model.data(model.index(0), EventModel::kOpenRole).toBool());
    model.setTextFilter(QString());
    for (int i = 0; i < EventModel::kMaxEvents + 50; ++i)
      model.add(
          {QDateTime::currentDateTime(), Kind::State, QStringLiteral("e%1").arg(i), "", 0, false});
    QCOMPARE(model.total(), EventModel::kMaxEvents);
    QCOMPARE(model.data(model.index(0), EventModel::kTitleRole).toString(),
             QStringLiteral("e%1").arg(EventModel::kMaxEvents + 49));
  }

  // The catalogue newest first with its texts ("unknown" where a snapshot does not say), updated
  // in place: an unchanged status changes no row, a new snapshot is inserted at the top and a
  // pruned one removed without a reset.
  void snapshotModelShowsTheCatalogueAndUpdatesInPlace() {
    SnapshotModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy changes(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy inserts(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removes(&model, &QAbstractItemModel::rowsRemoved);
    const qint64 now = 1'800'000'000'000;
    SnapshotInfo older = snapshot("older-n2", now - 3'600'000, 2);
    older.schemaHash = "Hother";
    older.verifiedAtMs = now - 5000;
    older.verifiedOk = false;
    older.verifyMessage = "checksum differs";
    SnapshotInfo newer = snapshot("newer-n7", now - 60'000);
    newer.verifiedAtMs = now - 180'000;
    newer.verifiedOk = true;
    const QList<SnapshotInfo> catalog = {foreignSnapshot(now - 7'200'000), older, newer};
    model.update(catalog, "H0123456789abcdef", now);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(resets.count(), 1);
    // Newest first, whatever order the catalogue came in.
    QCOMPARE(role(model, 0, SnapshotModel::kIdRole), QStringLiteral("newer-n7"));
    QCOMPARE(role(model, 1, SnapshotModel::kIdRole), QStringLiteral("older-n2"));
    QCOMPARE(role(model, 2, SnapshotModel::kIdRole), QStringLiteral("snapshot.db"));
    QCOMPARE(model.snapshots().first().id, QStringLiteral("newer-n7"));
    QCOMPARE(role(model, 0, SnapshotModel::kTakenAtRole),
             QDateTime::fromMSecsSinceEpoch(now - 60'000).toString("yyyy-MM-dd HH:mm:ss"));
    QCOMPARE(model.data(model.index(0), SnapshotModel::kTakenAtMsRole).toDouble(),
             double(now - 60'000));
    QCOMPARE(role(model, 0, SnapshotModel::kNodeIdRole), QStringLiteral("7"));
    QCOMPARE(role(model, 0, SnapshotModel::kVersionRole), QStringLiteral("1.2.3"));
    QCOMPARE(role(model, 0, SnapshotModel::kSizeRole), QStringLiteral("1.5 KB"));
    QCOMPARE(role(model, 0, SnapshotModel::kWatermarkRole), QStringLiteral("1:1234 2:88"));
    QCOMPARE(role(model, 0, SnapshotModel::kSchemaHashShortRole), QStringLiteral("H0123456789a"));
    QCOMPARE(role(model, 0, SnapshotModel::kSchemaHashRole), QStringLiteral("H0123456789abcdef"));
    QCOMPARE(role(model, 0, SnapshotModel::kSha256ShortRole), QString(12, 'c'));
    QCOMPARE(role(model, 0, SnapshotModel::kSha256Role), QString(64, 'c'));
    QCOMPARE(role(model, 0, SnapshotModel::kRowCountsRole),
             QStringLiteral("Books 1200, Authors 300"));
    QVERIFY(model.data(model.index(0), SnapshotModel::kMatchesOurSchemaRole).toBool());
    QVERIFY(!model.data(model.index(0), SnapshotModel::kSchemaMismatchRole).toBool());
    QCOMPARE(role(model, 0, SnapshotModel::kVerifiedRole), QStringLiteral("ok 3 min ago"));
    QVERIFY(model.data(model.index(0), SnapshotModel::kVerifiedOkRole).toBool());
    QVERIFY(!model.data(model.index(1), SnapshotModel::kMatchesOurSchemaRole).toBool());
    QVERIFY(model.data(model.index(1), SnapshotModel::kSchemaMismatchRole).toBool());
    QCOMPARE(role(model, 1, SnapshotModel::kVerifiedRole),
             QStringLiteral("FAILED: checksum differs"));
    QVERIFY(model.data(model.index(1), SnapshotModel::kVerifyFailedRole).toBool());
    // The Go node's: unknown everywhere but its time; an unknown schema is no mismatch.
    for (SnapshotModel::Role r :
         {SnapshotModel::kNodeIdRole, SnapshotModel::kVersionRole, SnapshotModel::kSizeRole,
          SnapshotModel::kWatermarkRole, SnapshotModel::kSchemaHashShortRole,
          SnapshotModel::kSha256ShortRole, SnapshotModel::kRowCountsRole})
      QCOMPARE(role(model, 2, r), QStringLiteral("unknown"));
    QCOMPARE(model.data(model.index(2), SnapshotModel::kSizeBytesRole).toDouble(), -1.0);
    QVERIFY(!model.data(model.index(2), SnapshotModel::kSchemaMismatchRole).toBool());
    QVERIFY(!model.data(model.index(2), SnapshotModel::kMatchesOurSchemaRole).toBool());
    QVERIFY(model.data(model.index(2), SnapshotModel::kForeignRole).toBool());
    QVERIFY(model.data(model.index(2), SnapshotModel::kLatestRole).toBool());
    QCOMPARE(role(model, 2, SnapshotModel::kVerifiedRole), QStringLiteral("never"));
    QCOMPARE(model.rowOf("older-n2"), 1);
    QCOMPARE(model.rowOf("nope"), -1);
    QCOMPARE(model.entry("older-n2").value("nodeId").toString(), QStringLiteral("2"));
    QVERIFY(model.entry("nope").isEmpty());

    // The same catalogue a second later: nothing shown changed, no signal.
    model.update(catalog, "H0123456789abcdef", now + 1000);
    QCOMPARE(resets.count(), 1);
    QCOMPARE(changes.count(), 0);
    // One row's drill ran: that row only.
    QList<SnapshotInfo> next = catalog;
    next[1].verifiedAtMs = now + 1500;
    next[1].verifiedOk = true;
    model.update(next, "H0123456789abcdef", now + 2000);
    QCOMPARE(resets.count(), 1);
    QCOMPARE(changes.count(), 1);
    QCOMPARE(changes.last().at(0).toModelIndex().row(), 1);
    QCOMPARE(role(model, 1, SnapshotModel::kVerifiedRole), QStringLiteral("ok just now"));
    // A new snapshot arrives and the oldest is pruned: an insert and a remove, no reset.
    next.removeAt(0);
    next.prepend(snapshot("newest-n7", now + 2500));
    model.update(next, "H0123456789abcdef", now + 3000);
    QCOMPARE(resets.count(), 1);
    QCOMPARE(inserts.count(), 1);
    QCOMPARE(removes.count(), 1);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(role(model, 0, SnapshotModel::kIdRole), QStringLiteral("newest-n7"));
    QCOMPARE(role(model, 2, SnapshotModel::kIdRole), QStringLiteral("older-n2"));
    // This node's schema changed: every row's flag is recomputed.
    model.update(next, "Hother", now + 3000);
    QVERIFY(model.data(model.index(2), SnapshotModel::kMatchesOurSchemaRole).toBool());
    QVERIFY(model.data(model.index(0), SnapshotModel::kSchemaMismatchRole).toBool());
    QCOMPARE(resets.count(), 1);
    model.update({}, "Hother", now + 4000);
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(watermarkText({}), QStringLiteral("unknown"));
  }

  // The Snapshots page's header and the Overview's tile, from the snapshot side of a status.
  void snapshotSummaryDescribesTheStore() {
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    SnapshotStatus st;
    st.enabled = true;
    st.store = "nats bucket harmonylite-changes-snapshot-store";
    st.leaderNodeId = 2;
    st.leaderUntilMs = now + 20'000;
    st.nextScheduledMs = now + 600'500;
    st.activity = SnapshotActivity::Uploading;
    st.activityTarget = "newest-n7";
    st.doneBytes = 1024 * 1024;
    st.totalBytes = 4 * 1024 * 1024;
    st.bytesPerSecond = 512 * 1024;
    st.catalog = {snapshot("a-n3", now - 90 * 60'000, 3), snapshot("b-n2", now - 5 * 60'000, 2)};
    st.lastError = "upload: no space left";
    SnapshotSummary m = snapshotSummaryOf(st, now);
    QVERIFY(m.valid && m.enabled && !m.isLeader);
    QCOMPARE(m.count, 2);
    QCOMPARE(m.leader,
             "node 2 until " + QDateTime::fromMSecsSinceEpoch(now + 20'000).toString("HH:mm:ss"));
    QCOMPARE(m.leaderNode, QStringLiteral("2"));
    QVERIFY2(m.nextScheduled.endsWith("(in 10 min 0 s)"), qPrintable(m.nextScheduled));
    QVERIFY(m.busy());
    QCOMPARE(m.activityText(), QStringLiteral("uploading"));
    QCOMPARE(m.percent, 25.0);
    QCOMPARE(m.rate, QStringLiteral("512.0 KB/s"));
    QCOMPARE(m.progress, QStringLiteral("1.0 MB of 4.0 MB (25%) · 512.0 KB/s"));
    QCOMPARE(m.newestId, QStringLiteral("b-n2"));  // the newest by time
    QCOMPARE(m.newestAge, QStringLiteral("5 min ago"));
    QCOMPARE(m.newestAgeSeconds, 300.0);
    QCOMPARE(m.newestBy, QStringLiteral("node 2"));
    QCOMPARE(m.lastSaved, QStringLiteral("never"));
    st.isLeader = true;
    st.activity = SnapshotActivity::Idle;
    st.totalBytes = 0;
    st.bytesPerSecond = 0;
    st.catalog.clear();
    st.nextScheduledMs = 0;
    m = snapshotSummaryOf(st, now);
    QCOMPARE(m.leader, QStringLiteral("this node"));
    QCOMPARE(m.nextScheduled, QStringLiteral("none scheduled"));
    QVERIFY(!m.busy());
    QCOMPARE(m.percent, -1.0);
    QCOMPARE(m.newestAge, QStringLiteral("none"));
    QCOMPARE(m.newestAgeSeconds, -1.0);
    st.isLeader = false;
    st.leaderNodeId = 0;
    st.catalog = {foreignSnapshot(0)};
    m = snapshotSummaryOf(st, now);
    QCOMPARE(m.leader, QStringLiteral("none"));
    QCOMPARE(m.newestAge, QStringLiteral("unknown"));
    QCOMPARE(m.newestBy, QStringLiteral("unknown"));
  }

  void settingsModelMasksSecrets() {
    SettingsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Config c;
    c.dbPath = "/var/lib/harmonylite/data.db";
    c.nats.userPassword = "pw-never-shown";
    model.setConfig(c);
    QVERIFY(model.rowCount() > 40);
    bool sawPassword = false;
    for (int r = 0; r < model.rowCount(); ++r) {
      QVERIFY(!model.data(model.index(r), SettingsModel::kValueRole)
                   .toString()
                   .contains("pw-never-shown"));
      if (model.data(model.index(r), SettingsModel::kKeyRole).toString() == "user_password") {
        sawPassword = true;
        QVERIFY(model.data(model.index(r), SettingsModel::kSecretRole).toBool());
        QCOMPARE(model.data(model.index(r), SettingsModel::kSectionRole).toString(),
                 QStringLiteral("[nats]"));
      }
    }
    QVERIFY(sawPassword);
    QCOMPARE(model.data(model.index(0), SettingsModel::kSectionRole).toString(),
             QStringLiteral("top level"));
  }

  // Statuses make the summary, the models and the chart samples; the events come from the
  // engine (onEngineEvent), not from comparing one status with the next.
  void controllerTurnsStatusIntoSummaryAndEvents() {
    DashboardController c;
    QAbstractItemModelTester t1(c.shards(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t2(c.cluster(),
                                QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t3(c.events(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t4(c.snapshots(),
                                QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy status(&c, &DashboardController::statusChanged);
    QSignalSpy samples(&c, &DashboardController::sampleAdded);
    NodeStatus s;
    s.nodeId = 3;
    s.published = 100;
    s.natsConnected = true;
    s.healthy = true;
    s.schemaHash = "H";
    s.shards = {shard(1, 5, 10)};
    s.cluster = {peer(3, "H", 0), peer(4, "X", 0)};
    s.embeddedServer = ServerState::Restarting;
    s.snapshots.enabled = true;
    s.snapshots.catalog = {snapshot("a-n3", 1'000'000 - 60'000, 3)};
    c.applyStatusAt(s, 1'000'000, 1000);
    QCOMPARE(c.snapshots()->rowCount(), 1);
    QVERIFY(c.snapshotSummary().enabled);
    QCOMPARE(c.snapshotSummary().newestAge, QStringLiteral("60 s ago"));
    QVERIFY(c.summary().valid);
    QCOMPARE(c.summary().publishRate, 0.0);  // no interval yet
    QCOMPARE(c.summary().embeddedServer, ServerState::Restarting);
    QCOMPARE(c.summary().embeddedServerText(), QStringLiteral("restarting"));
    s.published = 400;
    s.shards = {shard(1, 9, 110, ShardState::Paused)};
    s.natsConnected = false;
    s.healthy = false;
    s.unhealthyReason = "NATS is not connected";
    s.conflictCount = 1;
    s.recentConflicts = {ConflictInfo{7, "t", "Books", "[1]", "w", "l"}};
    s.embeddedServer = ServerState::None;
    c.applyStatusAt(s, 1'000'500, 1500);
    QCOMPARE(status.count(), 2);
    QCOMPARE(samples.count(), 1);              // the charts get one point a second at most
    QCOMPARE(c.summary().publishRate, 600.0);  // 300 in 0.5 s
    QCOMPARE(c.summary().applyRate, 200.0);
    QCOMPARE(c.summary().pausedShards, 1);
    QCOMPARE(c.summary().embeddedServerText(), QString());   // external servers
    QCOMPARE(samples.last().at(0).toDouble(), 1'000'000.0);  // the wall clock, epoch ms
    QCOMPARE(c.cluster()->mismatches(), 1);
    QCOMPARE(c.events()->total(), 0);  // a status is no event, whatever changed in it

    // What the engine tells as it happens.
    EngineEvent connected = engineEvent(EngineEvent::Kind::NatsConnected);
    connected.text = "nats://127.0.0.1:4222";
    c.onEngineEvent(connected);
    c.onEngineEvent(engineEvent(EngineEvent::Kind::NatsDisconnected));
    EngineEvent unhealthy = engineEvent(EngineEvent::Kind::HealthChanged);
    unhealthy.healthy = false;
    unhealthy.text = "NATS is not connected";
    c.onEngineEvent(unhealthy);
    EngineEvent conflict = engineEvent(EngineEvent::Kind::ConflictRecorded);
    conflict.conflict = ConflictInfo{7, "t", "Books", "[1]", "w", "l"};
    c.onEngineEvent(conflict);
    const QStringList t = titles(c.events());
    QVERIFY2(t.contains("NATS disconnected"), qPrintable(t.join(" | ")));
    QVERIFY(t.contains("Node unhealthy"));
    QVERIFY(t.contains("Conflict on Books [1]"));
    QCOMPARE(t.first(), QStringLiteral("Conflict on Books [1]"));  // newest first
  }

  // Paced by frames (docs/dashboard.md#responsiveness): a status waits for the next frame, the
  // newest replaces an older one still waiting, a window that draws nothing gets it after
  // kFrameWaitMs, and the statuses of an engine being replaced are dropped.
  void pacedStatusWaitsForTheNextFrame() {
    DashboardController c;
    QSignalSpy status(&c, &DashboardController::statusChanged);
    c.setPacedByFrames(true);
    NodeStatus s;
    s.nodeId = 3;
    s.shards = {shard(1, 5, 10)};
    s.published = 100;
    c.applyStatus(s);
    s.published = 250;
    c.applyStatus(s);
    QCOMPARE(status.count(), 0);
    QVERIFY(!c.summary().valid);
    c.frameShown();
    QCOMPARE(status.count(), 1);
    QCOMPARE(c.summary().published, 250);  // the newest, applied once
    c.frameShown();                        // nothing waits
    QCOMPARE(status.count(), 1);

    // No frame: the status is applied anyway, once the wait is over.
    s.published = 300;
    c.applyStatus(s);
    QCOMPARE(status.count(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(status.count(), 2, 5000);
    QCOMPARE(c.summary().published, 300);

    // A restart drops the old engine's waiting status (onEngineStarting emits one of its own).
    s.published = 400;
    c.applyStatus(s);
    c.onEngineStarting();
    QCOMPARE(status.count(), 3);
    c.frameShown();
    QCOMPARE(status.count(), 3);
    QVERIFY(!c.summary().valid);

    // Unpaced again: what waits is applied at once, and so is every later status.
    c.applyStatus(s);
    c.setPacedByFrames(false);
    QCOMPARE(status.count(), 4);
    QCOMPARE(c.summary().published, 400);
    s.published = 500;
    c.applyStatus(s);
    QCOMPARE(status.count(), 5);
    QCOMPARE(c.summary().published, 500);
  }

  // The rates of a paced status are of when it arrived, not of when a frame let it in.
  void pacedStatusKeepsItsArrivalTime() {
    DashboardController c;
    c.setPacedByFrames(true);
    NodeStatus s;
    s.shards = {shard(1, 5, 10)};
    s.published = 0;
    QElapsedTimer clock;  // brackets the controller's own readings of its (whole-ms) clock
    clock.start();
    c.applyStatus(s);
    const double firstRead = double(clock.nsecsElapsed()) / 1e6;  // its first reading is before
    c.frameShown();
    QTest::qWait(300);
    s.published = 1000;
    const double before = double(clock.nsecsElapsed()) / 1e6;
    c.applyStatus(s);
    const double after = double(clock.nsecsElapsed()) / 1e6;
    QTest::qWait(50);  // the frame comes later: not counted in the rate
    c.frameShown();
    // 1000 changes over the time between the two arrivals (+-1 ms: the controller's clock counts
    // whole ms), not over the 50 ms more until the frame.
    const double rate = c.summary().publishRate;
    QVERIFY2(rate >= 1e6 / (after + 1) && rate <= 1e6 / (before - firstRead - 1),
             qPrintable(QStringLiteral("%1 changes/s; second arrival %2-%3 ms after the first")
                            .arg(rate)
                            .arg(before - firstRead)
                            .arg(after)));
  }

  // One row per engine event: its kind on the Events page, title and detail (as the page shows
  // them since issue 6), and whether it waits for retry/discard.
  void engineEventsBecomeRows_data() {
    QTest::addColumn<EngineEvent>("event");
    QTest::addColumn<EventModel::Kind>("kind");
    QTest::addColumn<QString>("title");
    QTest::addColumn<QString>("detail");
    QTest::addColumn<qint64>("refId");
    using K = EngineEvent::Kind;
    using Kind = EventModel::Kind;
    EngineEvent e = engineEvent(K::NatsConnected);
    e.text = "nats://10.0.0.5:4222";
    QTest::newRow("nats connected") << e << Kind::State << "NATS connected"
                                    << "nats://10.0.0.5:4222" << qint64(0);
    QTest::newRow("nats disconnected")
        << engineEvent(K::NatsDisconnected) << Kind::Error << "NATS disconnected"
        << "the node keeps capturing and reconnects on its own" << qint64(0);
    e = engineEvent(K::ServerStateChanged);
    e.serverState = ServerState::Restarting;
    QTest::newRow("server restarting") << e << Kind::State << "Embedded NATS server restarting"
                                       << "" << qint64(0);
    e.serverState = ServerState::Failed;
    QTest::newRow("server failed") << e << Kind::Error << "Embedded NATS server failed"
                                   << "" << qint64(0);
    e = engineEvent(K::HealthChanged);
    e.healthy = true;
    QTest::newRow("healthy") << e << Kind::State << "Node healthy"
                             << "" << qint64(0);
    e.healthy = false;
    e.text = "shard 2 is needs-restore";
    QTest::newRow("unhealthy") << e << Kind::Error << "Node unhealthy"
                               << "shard 2 is needs-restore" << qint64(0);
    QTest::newRow("publishing paused")
        << engineEvent(K::PublishingPaused) << Kind::State << "Publishing paused"
        << "" << qint64(0);
    QTest::newRow("publishing resumed")
        << engineEvent(K::PublishingResumed) << Kind::State << "Publishing resumed"
        << "" << qint64(0);
    e = engineEvent(K::ShardStateChanged);
    e.shard = 2;
    e.shardState = ShardState::Paused;
    QTest::newRow("shard paused") << e << Kind::State << "Shard 2 is paused"
                                  << "" << qint64(0);
    e.shardState = ShardState::NeedsRestore;
    e.text = "message 41 aged out of the stream";
    QTest::newRow("shard needs restore") << e << Kind::Error << "Shard 2 is needs-restore"
                                         << "message 41 aged out of the stream" << qint64(0);
    e = engineEvent(K::ShardError);
    e.shard = 1;
    e.text = "database is locked";
    QTest::newRow("shard error") << e << Kind::Error << "Shard 1 error"
                                 << "database is locked" << qint64(0);
    QTest::newRow("dead letter") << deadLettered(12, "message: expected map") << Kind::DeadLetter
                                 << "Dead letter #12: harmonylite-changes-c-1 seq 10"
                                 << "message: expected map" << qint64(12);
    e = engineEvent(K::ConflictRecorded);
    e.conflict = ConflictInfo{3, "t", "Books", "[42]", "node 7", "node 8"};
    QTest::newRow("conflict") << e << Kind::Conflict << "Conflict on Books [42]"
                              << "kept node 7, skipped node 8" << qint64(0);
    e.conflict = ConflictInfo{4,
                              "t",
                              "a",
                              "id=8",
                              "node 2 (c-1 seq 5) keeps the key (insert collision)",
                              "node 1 (its row moved to id=202)",
                              true};
    QTest::newRow("insert collision")
        << e << Kind::Conflict << "Insert collision on a id=8"
        << "node 2 (c-1 seq 5) keeps the key (insert collision); node 1 (its row moved to id=202)"
        << qint64(0);
    e = engineEvent(K::ShardStateChanged);
    e.shard = 2;
    e.shardState = ShardState::Restoring;
    e.text = "restoring from snapshot 20261130T150102123Z-n1";
    QTest::newRow("shard restoring")
        << e << Kind::State << "Shard 2 is restoring"
        << "restoring from snapshot 20261130T150102123Z-n1" << qint64(0);
    e.shardState = ShardState::SchemaPaused;
    e.text = "no column email in Books";
    QTest::newRow("shard schema-paused") << e << Kind::Warning << "Shard 2 is schema-paused"
                                         << "no column email in Books" << qint64(0);
    e = engineEvent(K::SchemaChanged);
    e.text = "aaaa1111bbbb2222cccc3333 -> bbbb2222cccc3333dddd4444";
    QTest::newRow("schema changed")
        << e << Kind::State << "Schema changed: aaaa1111bbbb -> bbbb2222cccc"
        << "aaaa1111bbbb2222cccc3333 -> bbbb2222cccc3333dddd4444" << qint64(0);
    e.text = " -> bbbb2222cccc3333dddd4444";  // the first schema this node knew
    QTest::newRow("schema changed from none")
        << e << Kind::State << "Schema changed: none -> bbbb2222cccc"
        << " -> bbbb2222cccc3333dddd4444" << qint64(0);
    QTest::newRow("snapshot saved")
        << EngineEvent::snapshotFinished(SnapshotActivity::Saving, true, "20261130T150102123Z-n1")
        << Kind::State << "Snapshot saved"
        << "20261130T150102123Z-n1" << qint64(0);
    QTest::newRow("snapshot upload failed")
        << EngineEvent::snapshotFinished(SnapshotActivity::Uploading, false, "bucket full")
        << Kind::Error << "Snapshot upload failed"
        << "bucket full" << qint64(0);
    QTest::newRow("snapshot verified")
        << EngineEvent::snapshotFinished(SnapshotActivity::Verifying, true, "1200 rows")
        << Kind::State << "Snapshot verified"
        << "1200 rows" << qint64(0);
    QTest::newRow("snapshot verify failed")
        << EngineEvent::snapshotFinished(SnapshotActivity::Verifying, false, "checksum differs")
        << Kind::Error << "Snapshot verify failed"
        << "checksum differs" << qint64(0);
    QTest::newRow("snapshot restored")
        << EngineEvent::snapshotFinished(SnapshotActivity::Restoring, true, "from n1")
        << Kind::State << "Snapshot restored"
        << "from n1" << qint64(0);
    QTest::newRow("snapshot restore failed")
        << EngineEvent::snapshotFinished(SnapshotActivity::Restoring, false, "schema differs")
        << Kind::Error << "Snapshot restore failed"
        << "schema differs" << qint64(0);
  }

  void engineEventsBecomeRows() {
    QFETCH(EngineEvent, event);
    QFETCH(EventModel::Kind, kind);
    QFETCH(QString, title);
    QFETCH(QString, detail);
    QFETCH(qint64, refId);
    DashboardController c;
    QAbstractItemModelTester tester(c.events(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    c.onEngineEvent(event);
    QCOMPARE(c.events()->rowCount(), 1);
    const QModelIndex row = c.events()->index(0);
    QCOMPARE(c.events()->data(row, EventModel::kKindRole).value<EventModel::Kind>(), kind);
    QCOMPARE(c.events()->data(row, EventModel::kTitleRole).toString(), title);
    QCOMPARE(c.events()->data(row, EventModel::kDetailRole).toString(), detail);
    QCOMPARE(c.events()->data(row, EventModel::kRefIdRole).toLongLong(), refId);
    QCOMPARE(c.events()->data(row, EventModel::kOpenRole).toBool(),
             kind == EventModel::Kind::DeadLetter);
  }

  // A dead letter's row keeps its buttons until the engine says it was retried or discarded;
  // events that make no row (the embedded server of a node on external servers) add none.
  void deadLetterClosedClosesItsRow() {
    DashboardController c;
    QAbstractItemModelTester tester(c.events(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy changed(c.events(), &QAbstractItemModel::dataChanged);
    c.onEngineEvent(deadLettered(4, "bad cbor"));
    c.onEngineEvent(deadLettered(5, "unknown table"));
    EngineEvent closed = engineEvent(EngineEvent::Kind::DeadLetterClosed);
    closed.deadLetter.id = 4;
    c.onEngineEvent(closed);
    QCOMPARE(c.events()->rowCount(), 2);  // closing adds no row
    QCOMPARE(changed.count(), 1);
    QVERIFY(c.events()->data(c.events()->index(0), EventModel::kOpenRole).toBool());   // #5
    QVERIFY(!c.events()->data(c.events()->index(1), EventModel::kOpenRole).toBool());  // #4
    EngineEvent none = engineEvent(EngineEvent::Kind::ServerStateChanged);
    none.serverState = ServerState::None;
    c.onEngineEvent(none);
    QCOMPARE(c.events()->total(), 2);
  }

  // engineState follows the host's calls (the transitions written beside the enum).
  void engineStateFollowsTheHost() {
    using State = DashboardController::EngineState;
    DashboardController c;
    QSignalSpy changed(&c, &DashboardController::engineStateChanged);
    QCOMPARE(c.engineState(), State::Stopped);
    c.onEngineStarting();
    QCOMPARE(c.engineState(), State::Starting);
    c.onEngineFailed("cannot open the database");
    QCOMPARE(c.engineState(), State::Failed);
    QCOMPARE(c.engineError(), QStringLiteral("cannot open the database"));
    c.onEngineStarting();
    QCOMPARE(c.engineState(), State::Starting);
    QVERIFY(c.engineError().isEmpty());
    c.onEngineStarted();
    QCOMPARE(c.engineState(), State::Running);
    c.onEngineStopped();
    QCOMPARE(c.engineState(), State::Stopped);
    QCOMPARE(changed.count(), 5);
    const QStringList t = titles(c.events());
    QVERIFY2(t.contains("Node failed to start") && t.contains("Node started"),
             qPrintable(t.join(" | ")));
  }

  void controllerCommandsLeaveAsSignals() {
    DashboardController c;
    QSignalSpy requested(&c, &DashboardController::controlRequested);
    QSignalSpy finished(&c, &DashboardController::controlFinished);
    c.pauseApplying(2);
    c.discardDeadLetter(9);
    c.clearConflicts();
    QCOMPARE(requested.count(), 3);
    QCOMPARE(requested.at(0).at(0).value<EngineThread::Control>(),
             EngineThread::Control::kPauseApplying);
    QCOMPARE(requested.at(0).at(1).toLongLong(), 2);
    QCOMPARE(requested.at(0).at(2).toBool(), false);
    QCOMPARE(requested.at(1).at(2).toBool(), true);  // destructive: confirmed by the dialog
    QCOMPARE(requested.at(2).at(2).toBool(), true);
    QCOMPARE(c.controlsInFlight(), 3);
    c.onControlDone(EngineThread::Control::kPauseApplying, true, "shard 2 paused");
    QCOMPARE(c.controlsInFlight(), 2);
    QCOMPARE(finished.count(), 1);
    QCOMPARE(c.lastControlMessage(), QStringLiteral("shard 2 paused"));

    QSignalSpy restart(&c, &DashboardController::restartRequested);
    c.useNatsServers("nats://a:4222, tls://b:4222");
    QCOMPARE(restart.count(), 1);
    QCOMPARE(restart.last().at(0).value<Config>().nats.urls,
             QStringList({"nats://a:4222", "tls://b:4222"}));
    c.useNatsServers("a:4222");  // no scheme
    QCOMPARE(restart.count(), 1);
    QVERIFY(c.configError().contains("not a NATS server URL"));
    c.loadConfig(QUrl::fromLocalFile("/nonexistent/config.toml"));
    QCOMPARE(restart.count(), 1);
    QVERIFY(!c.configError().isEmpty());
    c.useNatsServers("");  // back to the embedded server
    QCOMPARE(restart.count(), 2);
    QVERIFY(c.configError().isEmpty());
    QCOMPARE(durationText(3725), QStringLiteral("1 h 2 min"));

    // Snapshots: the name is the snapshot's id; only Restore carries confirm (the dialog's
    // answer) and `id` 1 when a schema mismatch is forced through.
    requested.clear();
    c.saveSnapshot();
    c.verifySnapshot("a-n1");
    c.restoreSnapshot("b-n2", false);
    c.restoreSnapshot("c-n3", true);
    c.refreshSnapshots();
    QCOMPARE(requested.count(), 5);
    const auto check = [&](int i, EngineThread::Control control, qint64 id, bool confirm,
                           const QString& name) {
      QCOMPARE(requested.at(i).at(0).value<EngineThread::Control>(), control);
      QCOMPARE(requested.at(i).at(1).toLongLong(), id);
      QCOMPARE(requested.at(i).at(2).toBool(), confirm);
      QCOMPARE(requested.at(i).at(3).toString(), name);
    };
    check(0, EngineThread::Control::kSaveSnapshot, 0, false, "");
    check(1, EngineThread::Control::kVerifySnapshot, 0, false, "a-n1");
    check(2, EngineThread::Control::kRestoreSnapshot, 0, true, "b-n2");
    check(3, EngineThread::Control::kRestoreSnapshot, 1, true, "c-n3");
    check(4, EngineThread::Control::kRefreshSnapshots, 0, false, "");
    c.onControlDone(EngineThread::Control::kSaveSnapshot, false, "");
    QCOMPARE(c.lastControlMessage(), QStringLiteral("save snapshot: failed"));
    QCOMPARE(bytesText(1536), QStringLiteral("1.5 KB"));
  }
};

QTEST_GUILESS_MAIN(TestDashboardModels)
#include "tst_dashboard_models.moc"
