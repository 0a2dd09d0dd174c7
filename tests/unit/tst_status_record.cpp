// The cluster status record (observe/status_record.h): what a node sends, what it accepts from
// the network, and how the shard states travel as text only inside the record.
#include <QtTest>

#include "observe/status_record.h"

using namespace hl;

class TestStatusRecord : public QObject {
  Q_OBJECT
 private slots:
  void roundTrip() {
    NodeStatus st;
    st.nodeId = 4;
    st.version = "1.2.3";
    st.healthy = false;
    st.unhealthyReason = "shard 2 is needs-restore";
    st.schemaHash = QString(64, 'a');
    ShardStatus a, b;
    a.shard = 1;
    a.state = ShardState::Running;
    a.lagMessages = 3;
    a.lagSeconds = 0.5;
    b.shard = 2;
    b.state = ShardState::NeedsRestore;
    b.lagMessages = 4;
    b.lagSeconds = 2.0;
    st.shards = {a, b};
    const QByteArray json = encodeStatusRecord(st, "abc");
    QVERIFY2(json.contains("\"shards\":\"1:running 2:needs-restore\""), json.constData());
    auto r = decodeStatusRecord(json);
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QCOMPARE(r->instance, QString("abc"));
    QCOMPARE(r->peer.nodeId, uint64_t(4));
    QCOMPARE(r->peer.version, QString("1.2.3"));
    QCOMPARE(r->peer.healthy, false);
    QCOMPARE(r->peer.reason, st.unhealthyReason);
    QCOMPARE(r->peer.lagMessages, qint64(7));  // summed
    QCOMPARE(r->peer.lagSeconds, 2.0);         // the largest
    QCOMPARE(r->peer.shardStates.size(), 2);
    QCOMPARE(r->peer.shardStates[1].first, 2);
    QCOMPARE(r->peer.shardStates[1].second, ShardState::NeedsRestore);
  }

  void malformedRecordsAreRefused_data() {
    QTest::addColumn<QByteArray>("json");
    QTest::newRow("not json") << QByteArray("\x01\x02 not json");
    QTest::newRow("array") << QByteArray("[1, 2]");
    QTest::newRow("no node id") << QByteArray("{\"version\": \"1\"}");
    QTest::newRow("zero node id") << QByteArray("{\"node_id\": 0}");
    QTest::newRow("negative node id") << QByteArray("{\"node_id\": -3}");
    QTest::newRow("text node id") << QByteArray("{\"node_id\": \"5\"}");
    QTest::newRow("truncated") << QByteArray("{\"node_id\": 5, \"version\": ");
  }
  void malformedRecordsAreRefused() {
    QFETCH(QByteArray, json);
    auto r = decodeStatusRecord(json);
    QVERIFY(!r.ok());
    QCOMPARE(r.status().code(), Status::Code::kInvalidArgument);
  }

  void hostileTextIsBounded() {
    const QByteArray big(10000, 'x');
    const QByteArray json = "{\"node_id\": 9, \"version\": \"" + big + "\", \"reason\": \"" + big +
                            "\", \"shards\": \"1:running 0:running x:paused 2:bogus 3:paused " +
                            big + "\"}";
    auto r = decodeStatusRecord(json);
    QVERIFY(r.ok());
    QCOMPARE(r->peer.version.size(), 64);
    QCOMPARE(r->peer.reason.size(), 256);
    // Bad entries are dropped, an unknown state reads as stopped.
    QCOMPARE(shardStatesText(r->peer.shardStates), QString("1:running 2:stopped 3:paused"));
  }

  void stateNamesRoundTrip() {
    for (ShardState s : {ShardState::Stopped, ShardState::Running, ShardState::Paused,
                         ShardState::NeedsRestore, ShardState::Restoring, ShardState::SchemaPaused})
      QCOMPARE(shardStateFromName(stateName(s)), s);
    QCOMPARE(stateName(ShardState::SchemaPaused), QStringLiteral("schema-paused"));
    QCOMPARE(shardStateFromName("nonsense", ShardState::Paused), ShardState::Paused);
  }
};

QTEST_GUILESS_MAIN(TestStatusRecord)
#include "tst_status_record.moc"
