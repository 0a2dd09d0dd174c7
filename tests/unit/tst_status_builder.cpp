// The status model and its health rule (observe/status_builder.h), on plain values: one row per
// check of the rule, in the order the rule applies them.
#include <QtTest>

#include "observe/status_builder.h"

using namespace hl;

namespace {
ShardStatus shard(int n, ShardState state, const QString& error = {}) {
  ShardStatus s;
  s.shard = n;
  s.state = state;
  s.lastError = error;
  return s;
}

// A node where every check passes.
StatusFacts healthyFacts() {
  StatusFacts f;
  f.node.nodeId = 7;
  f.node.dbConnected = true;
  f.node.natsConnected = true;
  f.captureExpected = true;
  f.node.cdcInstalled = true;
  f.node.shards = {shard(1, ShardState::Running), shard(2, ShardState::Running)};
  return f;
}
}  // namespace

class TestStatusBuilder : public QObject {
  Q_OBJECT
 private slots:
  void healthRule_data() {
    QTest::addColumn<QString>("change");
    QTest::addColumn<QString>("reason");  // "" = healthy
    QTest::newRow("all checks pass") << ""
                                     << "";
    QTest::newRow("database closed") << "db"
                                     << "database not open";
    QTest::newRow("database closed wins over NATS") << "db+nats"
                                                    << "database not open";
    QTest::newRow("NATS down") << "nats"
                               << "NATS not connected";
    QTest::newRow("capture missing") << "capture"
                                     << "change capture not installed";
    QTest::newRow("capture not expected (publish = false)") << "capture+nopublish"
                                                            << "";
    QTest::newRow("pending count unreadable") << "pending"
                                              << "cannot read pending changes: disk I/O error";
    QTest::newRow("conflicts unreadable") << "conflicts"
                                          << "cannot read conflicts: database is locked";
    QTest::newRow("operator pause is healthy") << "paused"
                                               << "";
    QTest::newRow("paused by a schema difference is healthy") << "schema"
                                                              << "";
    QTest::newRow("schema pause does not hide a stopped shard")
        << "schema+stopped"
        << "shard 2 is stopped: stream info: timeout";
    QTest::newRow("stopped shard") << "stopped"
                                   << "shard 2 is stopped: stream info: timeout";
    QTest::newRow("shard needs a restore") << "restore"
                                           << "shard 1 is needs-restore";
    QTest::newRow("kept changes unreadable") << "kept"
                                             << "cannot read kept changes: disk I/O error";
    QTest::newRow("NATS down wins over a shard") << "nats+restore"
                                                 << "NATS not connected";
  }
  void healthRule() {
    QFETCH(QString, change);
    QFETCH(QString, reason);
    StatusFacts f = healthyFacts();
    const QStringList parts = change.split('+', Qt::SkipEmptyParts);
    for (const QString& c : parts) {
      if (c == "db") f.node.dbConnected = false;
      if (c == "nats") f.node.natsConnected = false;
      if (c == "capture") f.node.cdcInstalled = false;
      if (c == "nopublish") f.captureExpected = false;
      if (c == "pending") f.pendingChanges = Status::ioError("disk I/O error");
      if (c == "kept") f.keptChanges = Status::ioError("disk I/O error");
      if (c == "conflicts") f.recentConflicts = Status::busy("database is locked");
      if (c == "paused") f.node.shards[0].state = ShardState::Paused;
      if (c == "schema") f.node.shards[0].state = ShardState::SchemaPaused;
      if (c == "stopped") f.node.shards[1] = shard(2, ShardState::Stopped, "stream info: timeout");
      if (c == "restore") f.node.shards[0].state = ShardState::NeedsRestore;
    }
    const NodeStatus st = buildStatus(f);
    QCOMPARE(st.unhealthyReason, reason);
    QCOMPARE(st.healthy, reason.isEmpty());
  }

  void valuesAreCopiedAndFailedReadsAreZero() {
    StatusFacts f = healthyFacts();
    f.pendingChanges = int64_t(12);
    f.failedChanges = Status::ioError("gone");
    f.deadLetterCount = int64_t(3);
    f.keptChanges = int64_t(40);
    f.node.keptOldestAgeSeconds = 61.5;
    f.node.embeddedServer = ServerState::Restarting;
    f.recentDeadLetters = QList<DeadLetterInfo>{{5, "t", "s", 9, "bad"}};
    const NodeStatus st = buildStatus(f);
    QCOMPARE(st.nodeId, uint64_t(7));
    QCOMPARE(st.pendingChanges, qint64(12));
    QCOMPARE(st.failedChanges, qint64(0));
    QCOMPARE(st.deadLetterCount, qint64(3));
    QCOMPARE(st.keptChanges, qint64(40));
    QCOMPARE(st.keptOldestAgeSeconds, 61.5);
    QCOMPARE(st.embeddedServer, ServerState::Restarting);
    QCOMPARE(st.recentDeadLetters.size(), 1);
    QCOMPARE(st.shards.size(), 2);
    QVERIFY(!st.healthy);
    QCOMPARE(st.unhealthyReason, QString("cannot read failed changes: gone"));
  }
};

QTEST_GUILESS_MAIN(TestStatusBuilder)
#include "tst_status_builder.moc"
