// The "publish timed out but landed" case of the convergence rule (docs/replication.md, section
// Convergence rule) with a real lost acknowledgement: one nats-server, two harmonylite nodes,
// node 1 connected through a TCP proxy (tests/support/tcp_proxy.h), node 2 directly, one shard.
//
// Node 1 updates a row; the proxy lets the publish through and cuts the connection before the
// PubAck comes back, so the message S is in the stream while node 1 counts the publish as
// failed. Node 2, having applied S, updates the same row: its message R lands after S. Every
// node must end with R (the last message of the row). Were node 1 to take its change for "not
// sent yet" when R arrives, it would skip R (its own change looks newer) and keep its value
// for good: its retry is a duplicate (same Nats-Msg-Id), so JetStream stores nothing new and
// nothing would ever bring node 1 to R.
//
// Making the dangerous order certain: node 1's consumer must meet R while it does not know
// where its change landed, whatever the timing. After the cut the proxy drops node 1's
// publishes to the shard subject (everything else passes: node 1 reconnects, subscribes and
// receives R through the proxy), so its retries time out too (5 s each) and its change stays
// unacknowledged. Once the proxy has delivered R to node 1, it drops exactly one more publish
// and lets the rest through. That publish is a retry sent after R reached node 1: while it is
// in flight the consumer waits before R (and re-decides every second), and when it fails the
// consumer decides again at once (Publisher::roundFinished), with the change failed and not
// acknowledged since: the case under test, reached in every run. The retry after it lands, a
// duplicate that JetStream answers with the original sequence S; node 1 records S and applies
// R, which is later.
#include <QtTest>

#include <QElapsedTimer>
#include <QRegularExpression>
#include <QTemporaryDir>

#include <optional>

#include "nats_test_client.h"
#include "node_process.h"
#include "tcp_proxy.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {
constexpr int kWait = 60000;
const char* kSchema = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);";
const char* kRow = "SELECT v FROM t WHERE id = 1";
const char* kDump = "SELECT group_concat(id || '=' || v, ',') FROM (SELECT * FROM t ORDER BY id)";
const char* kConflicts =
    "SELECT group_concat(winner || ' won over ' || loser, '; ') FROM __harmonylite__conflicts";
// One shard, compressed (NodeProcess's default): docs/wire-format.md, section Shard.
const QByteArray kSubject = "harmonylite-change-log-1";
const char* kStream = "harmonylite-changes-c-1";

// A sample of the node's /metrics (`labels` inside the braces, e.g. shard="1"); nullopt when
// the endpoint does not answer or has no such sample.
std::optional<double> metric(int port, const QByteArray& name, const QByteArray& labels = {}) {
  QByteArray body;
  if (test::httpGet(port, "/metrics", &body) != 200) return std::nullopt;
  for (const QByteArray& line : body.split('\n')) {
    if (!line.startsWith("harmonylite_" + name + "{")) continue;
    if (!labels.isEmpty() && !line.contains(labels)) continue;
    bool ok = false;
    const double v = line.mid(line.lastIndexOf(' ') + 1).toDouble(&ok);
    if (ok) return v;
  }
  return std::nullopt;
}
}  // namespace

class TestLostAck : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }

  void lostAckThenRemoteWriteOfTheSameRow() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    test::TcpProxy proxy(server.port());
    QVERIFY(proxy.start().isOk());

    const int metrics[2] = {test::freePort(), test::freePort()};
    std::vector<std::unique_ptr<NodeProcess>> nodes;
    for (int i = 0; i < 2; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(i + 1);
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(i + 1));
      o.schema = kSchema;
      o.shards = 1;
      o.urls = {i == 0 ? proxy.url() : server.url()};
      o.tablesToml =
          QStringLiteral("[prometheus]\nenable = true\nbind = \"127.0.0.1:%1\"\n").arg(metrics[i]);
      nodes.push_back(std::make_unique<NodeProcess>(o));
      QVERIFY2(nodes.back()->start().isOk(), qPrintable(nodes.back()->log()));
    }
    NodeProcess& a = *nodes[0];
    NodeProcess& b = *nodes[1];
    // For failure messages: both rows, and the nodes' whole logs in files.
    auto logs = [&] {
      for (NodeProcess* n : {&a, &b})
        test::writeFile(QStringLiteral("/tmp/tst_lost_ack-node%1.log").arg(n->nodeId()),
                        n->log().toUtf8());
      return QStringLiteral(
                 "node 1 has %1, node 2 has %2; node 1's conflict journal: [%3] (logs: "
                 "/tmp/tst_lost_ack-node1.log, -node2.log)")
          .arg(a.sql(kDump), b.sql(kDump), a.sql(kConflicts));
    };

    auto nc = test::connectTo(server.url());
    QVERIFY(nc);
    auto js = test::jetStream(nc->get());
    QVERIFY(js);
    auto lastSeq = [&]() -> quint64 {
      jsStreamInfo* si = nullptr;
      if (js_GetStreamInfo(&si, js->get(), kStream, nullptr, nullptr) != NATS_OK) return 0;
      JsStreamInfoPtr info(si);
      return info->State.LastSeq;
    };

    // The row exists on both nodes.
    bool ok = false;
    b.sql("INSERT INTO t(id, v) VALUES (1, 'base');", &ok);
    QVERIFY(ok);
    QVERIFY2(test::waitConverged({&a, &b}, kRow, kWait, "base"), qPrintable(logs()));
    const quint64 base = lastSeq();
    QCOMPARE(base, quint64(1));

    // Node 1's next publish to the shard loses its ack; its retries are dropped for now.
    proxy.armLoseAck(kSubject);
    proxy.setDropPublishes(kSubject);
    a.sql("UPDATE t SET v = 'from-1' WHERE id = 1;", &ok);
    QVERIFY(ok);
    const quint64 s = base + 1;
    QVERIFY2(
        test::waitFor([&] { return proxy.cuts() == 1 && lastSeq() == s; }, kWait),
        qPrintable(QStringLiteral("cuts %1, stream last %2\n").arg(proxy.cuts()).arg(lastSeq()) +
                   logs()));

    // Node 2 applies S, then writes the same row: R lands after S, and node 2 had seen S.
    QVERIFY2(test::waitFor([&] { return b.sql(kRow) == "from-1"; }, kWait), qPrintable(logs()));
    b.sql("UPDATE t SET v = 'from-2' WHERE id = 1;", &ok);
    QVERIFY(ok);
    const quint64 r = s + 1;
    QVERIFY2(test::waitFor([&] { return lastSeq() == r; }, kWait), qPrintable(logs()));

    // R reaches node 1 (through the proxy, after its reconnect); then one more of its
    // publishes is dropped, a retry sent after R reached it.
    QVERIFY2(test::waitFor([&] { return proxy.deliveredSeq(kSubject) >= r; }, kWait),
             qPrintable(logs()));
    const int droppedBefore = proxy.setDropPublishes(kSubject, 1);
    QVERIFY2(test::waitFor([&] { return proxy.droppedPublishes() == droppedBefore + 1; }, kWait),
             qPrintable(logs()));
    // What node 1 does with R while that retry is in flight, checked after the end state
    // (which says more when it is wrong): it waits before R, keeping its own value.
    const double appliedWhileUnknown =
        metric(metrics[0], "applied_sequence", "shard=\"1\"").value_or(-1);
    const QString rowWhileUnknown = a.sql(kRow);

    QVERIFY2(test::waitConverged({&a, &b}, kDump, kWait), qPrintable(logs()));
    QCOMPARE(a.sql(kRow), QString("from-2"));
    QCOMPARE(b.sql(kRow), QString("from-2"));
    QVERIFY2(appliedWhileUnknown >= 0 && appliedWhileUnknown < double(r),
             qPrintable(QStringLiteral("node 1 applied up to %1 before its ack was in")
                            .arg(appliedWhileUnknown)));
    QCOMPARE(rowWhileUnknown, QString("from-1"));

    // The stream: the retry was a duplicate (nothing new), and its last message is node 2's.
    QCOMPARE(lastSeq(), r);
    natsMsg* raw = nullptr;
    QCOMPARE(int(js_GetMsg(&raw, js->get(), kStream, r, nullptr, nullptr)), int(NATS_OK));
    NatsMsgPtr last(raw);
    const char* msgId = nullptr;
    QCOMPARE(int(natsMsgHeader_Get(last.get(), "Nats-Msg-Id", &msgId)), int(NATS_OK));
    QVERIFY2(QByteArray(msgId).startsWith("2-"), msgId);

    // The fault happened as meant: one cut, node 1 reconnected through the proxy, said that
    // publishing failed, and counted the lost ack and every retry the proxy dropped (/metrics
    // lags the node by up to 0.5 s).
    QCOMPARE(proxy.cuts(), 1);
    QVERIFY(proxy.accepted() >= 2);
    QVERIFY2(a.log().contains("NATS connection lost"), qPrintable(logs()));
    QVERIFY2(a.log().contains(QStringLiteral("NATS reconnected to %1").arg(proxy.url())),
             qPrintable(logs()));
    QVERIFY2(a.log().contains(QRegularExpression("publishing failed \\(.*\\); retrying")),
             qPrintable(logs()));
    const int expectedFailures = 1 + proxy.droppedPublishes();
    QVERIFY2(test::waitFor(
                 [&] {
                   return metric(metrics[0], "failed_publishes_total").value_or(0) >=
                          expectedFailures;
                 },
                 kWait),
             qPrintable(QStringLiteral("failed_publishes_total %1, expected at least %2")
                            .arg(metric(metrics[0], "failed_publishes_total").value_or(-1))
                            .arg(expectedFailures)));
    // Nothing was skipped as "local newer" on either node: node 1 learned that its change is
    // older than R, and node 2 had seen S when it wrote.
    QCOMPARE(metric(metrics[0], "conflicts_total", "shard=\"1\"").value_or(-1), 0.0);
    QCOMPARE(metric(metrics[1], "conflicts_total", "shard=\"1\"").value_or(-1), 0.0);

    QCOMPARE(a.stop(), 0);
    QCOMPARE(b.stop(), 0);
  }

  // An async publish whose answer never comes (nats.c losing it: the test fault
  // HL_TEST_DROP_ACKS=4 drops the answers to node 1's first four publishes). Each of those
  // rows is sent in a round of its own and lands, but its round never ends; with four such
  // rounds in flight the publisher used to send nothing more, silently, for good. A change
  // without an answer after 15 s now counts as failed and is sent again (a duplicate), so the
  // fifth row arrives (docs/replication.md#publishing).
  void silentAnswersDoNotStopPublishing() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    std::vector<std::unique_ptr<NodeProcess>> nodes;
    for (int i = 0; i < 2; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(31 + i);
      o.dir = m_dir.filePath(QStringLiteral("silent%1").arg(i + 1));
      o.schema = kSchema;
      o.shards = 1;
      o.urls = {server.url()};
      if (i == 0) o.wrapper = {"env", "HL_TEST_DROP_ACKS=4"};
      nodes.push_back(std::make_unique<NodeProcess>(o));
      QVERIFY2(nodes.back()->start().isOk(), qPrintable(nodes.back()->log()));
    }
    NodeProcess& a = *nodes[0];
    NodeProcess& b = *nodes[1];
    QVERIFY2(a.log().contains("HL_TEST_DROP_ACKS"), qPrintable(a.log()));
    const QString count = "SELECT count(*) FROM t";
    QElapsedTimer t;
    for (int k = 1; k <= 5; ++k) {
      bool ok = false;
      a.sql(QStringLiteral("INSERT INTO t(id, v) VALUES (%1, 'silent')").arg(k), &ok);
      QVERIFY(ok);
      if (k == 5) t.start();
      QVERIFY2(test::waitConverged({&b}, count, k == 5 ? kWait : 15000, QString::number(k)),
               qPrintable(QStringLiteral("node 2 has %1 rows\n").arg(b.sql(count)) + a.log()));
    }
    qInfo() << "the fifth row arrived" << t.elapsed() << "ms after it was written";
    const QRegularExpression notice(
        "publish round \\d+: 1 change\\(s\\) got no answer in 15 s; counted as failed");
    QVERIFY2(test::waitFor([&] { return a.log().contains(notice); }, kWait), qPrintable(a.log()));
    QVERIFY(test::waitFor(
        [&] {
          return a.sql("SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL") == "0";
        },
        kWait));
    QCOMPARE(a.stop(), 0);
    QCOMPARE(b.stop(), 0);
  }
};

QTEST_GUILESS_MAIN(TestLostAck)
#include "tst_lost_ack.moc"
