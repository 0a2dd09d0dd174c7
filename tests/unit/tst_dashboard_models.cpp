// The dashboard's C++ side without a window: every list model under QAbstractItemModelTester
// (which fails the test on any inconsistent signal or index), and the controller's signals and
// commands with QSignalSpy.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

#include "dashboard_controller.h"

using namespace hl;

namespace {

ShardStatus shard(int n, quint64 applied, qint64 appliedChanges, const QString& state = "running") {
  ShardStatus s;
  s.shard = n;
  s.stream = QStringLiteral("harmonylite-changes-c-%1").arg(n);
  s.applied = applied;
  s.received = applied;
  s.appliedChanges = appliedChanges;
  s.state = state;
  return s;
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
    QCOMPARE(changes.count(), 1);
    QCOMPARE(model.data(model.index(0), ShardModel::kRateRole).toDouble(), 250.0);
    QCOMPARE(model.data(model.index(0), ShardModel::kAppliedRole).toULongLong(), 60ull);
    QCOMPARE(model.data(model.index(1), ShardModel::kRateRole).toDouble(), 0.0);
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
    QCOMPARE(model.data(model.index(0), ClusterModel::kLastSeenTextRole).toString(), QStringLiteral("this node"));
    QCOMPARE(model.data(model.index(1), ClusterModel::kLastSeenTextRole).toString(), QStringLiteral("never"));
    QCOMPARE(model.data(model.index(2), ClusterModel::kLastSeenTextRole).toString(), QStringLiteral("5 s ago"));
    QSignalSpy counts(&model, &ClusterModel::countChanged);
    model.update({peer(9, "A", now), peer(2, "A", now), peer(5, "A", now)}, 2, "A", now);  // converged
    QCOMPARE(model.mismatches(), 0);
    QCOMPARE(counts.count(), 1);
    QCOMPARE(agoText(now - 3'600'000 * 3, now), QStringLiteral("3 h ago"));
  }

  void eventModelKeepsNewestFirstFiltersAndBounds() {
    EventModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.add({QDateTime::currentDateTime(), "state", "NATS connected", "nats://x", 0, false});
    model.add({QDateTime::currentDateTime(), "dead-letter", "Dead letter #4", "bad cbor", 4, true});
    model.add({QDateTime::currentDateTime(), "conflict", "Conflict on Books [1]", "", 0, false});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.data(model.index(0), EventModel::kKindRole).toString(), QStringLiteral("conflict"));
    model.setKindFilter("dead-letter");
    QCOMPARE(model.rowCount(), 1);
    model.add({QDateTime::currentDateTime(), "state", "hidden by the filter", "", 0, false});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.total(), 4);
    model.setKindFilter(QString());
    model.setTextFilter("CBOR");  // case-insensitive, over the detail too
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(model.data(model.index(0), EventModel::kOpenRole).toBool());
    model.closeDeadLettersExcept({});
    QVERIFY(!model.data(model.index(0), EventModel::kOpenRole).toBool());
    model.setTextFilter(QString());
    for (int i = 0; i < EventModel::kMaxEvents + 50; ++i)
      model.add({QDateTime::currentDateTime(), "state", QStringLiteral("e%1").arg(i), "", 0, false});
    QCOMPARE(model.total(), EventModel::kMaxEvents);
    QCOMPARE(model.data(model.index(0), EventModel::kTitleRole).toString(),
             QStringLiteral("e%1").arg(EventModel::kMaxEvents + 49));
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
      QVERIFY(!model.data(model.index(r), SettingsModel::kValueRole).toString().contains("pw-never-shown"));
      if (model.data(model.index(r), SettingsModel::kKeyRole).toString() == "user_password") {
        sawPassword = true;
        QVERIFY(model.data(model.index(r), SettingsModel::kSecretRole).toBool());
        QCOMPARE(model.data(model.index(r), SettingsModel::kSectionRole).toString(), QStringLiteral("[nats]"));
      }
    }
    QVERIFY(sawPassword);
    QCOMPARE(model.data(model.index(0), SettingsModel::kSectionRole).toString(), QStringLiteral("top level"));
  }

  void controllerTurnsStatusIntoSummaryAndEvents() {
    DashboardController c;
    QAbstractItemModelTester t1(c.shards(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t2(c.cluster(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t3(c.events(), QAbstractItemModelTester::FailureReportingMode::QtTest);
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
    c.applyStatusAt(s, 1'000'000, 1000);
    QVERIFY(c.summary().valid);
    QCOMPARE(c.summary().publishRate, 0.0);  // no interval yet
    s.published = 400;
    s.shards = {shard(1, 9, 110)};
    s.natsConnected = false;
    s.healthy = false;
    s.unhealthyReason = "NATS is not connected";
    s.conflictCount = 1;
    s.recentConflicts = {ConflictInfo{7, "t", "Books", "[1]", "w", "l"}};
    c.applyStatusAt(s, 1'000'500, 1500);
    QCOMPARE(status.count(), 2);
    QCOMPARE(samples.count(), 2);
    QCOMPARE(c.summary().publishRate, 600.0);  // 300 in 0.5 s
    QCOMPARE(c.summary().applyRate, 200.0);
    QCOMPARE(samples.last().at(1).toDouble(), 600.0);
    QCOMPARE(c.cluster()->mismatches(), 1);
    QStringList titles;
    for (int r = 0; r < c.events()->rowCount(); ++r)
      titles << c.events()->data(c.events()->index(r), EventModel::kTitleRole).toString();
    QVERIFY2(titles.contains("NATS disconnected"), qPrintable(titles.join(" | ")));
    QVERIFY(titles.contains("Node unhealthy"));
    QVERIFY(titles.contains("Conflict on Books [1]"));
  }

  void controllerCommandsLeaveAsSignals() {
    DashboardController c;
    QSignalSpy requested(&c, &DashboardController::controlRequested);
    QSignalSpy finished(&c, &DashboardController::controlFinished);
    c.pauseApplying(2);
    c.discardDeadLetter(9);
    c.clearConflicts();
    QCOMPARE(requested.count(), 3);
    QCOMPARE(requested.at(0).at(0).value<EngineThread::Control>(), EngineThread::Control::kPauseApplying);
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
    QCOMPARE(restart.last().at(0).value<Config>().nats.urls, QStringList({"nats://a:4222", "tls://b:4222"}));
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
    QCOMPARE(bytesText(1536), QStringLiteral("1.5 KB"));
  }
};

QTEST_GUILESS_MAIN(TestDashboardModels)
#include "tst_dashboard_models.moc"
