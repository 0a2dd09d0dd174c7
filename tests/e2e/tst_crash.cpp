// Crash safety and outages (docs/replication.md#nats, docs/replication.md#crash-safety) with real
// processes: kill -9 of a node in the middle of a stream of writes, kill -9 of a NATS server in the
// middle of a stream of writes, and a NATS outage of 60 s while the application keeps writing.
// After recovery every database is identical and every committed write is there.
#include <QTemporaryDir>
#include <QtTest>

#include <signal.h>

#include "node_process.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {
const char* kBooksDump =
    "SELECT count(*) || ':' || ifnull(group_concat(id || '|' || title || '|' || author, ';'), '') "
    "FROM (SELECT * FROM Books ORDER BY id)";
constexpr int kConverge = 120000;

// A sqlite3 process that commits `count` rows one transaction at a time, ids from `firstId`.
std::unique_ptr<QProcess> startWriter(const QString& db, int firstId, int count,
                                      const QString& tag) {
  QString script;
  for (int i = 0; i < count; ++i)
    script +=
        QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, '%2 %1', 'writer');\n")
            .arg(firstId + i)
            .arg(tag);
  auto p = std::make_unique<QProcess>();
  p->start("sqlite3", {"-bail", "-cmd", ".timeout 20000", db});
  p->waitForStarted();
  p->write(script.toUtf8());
  p->closeWriteChannel();
  return p;
}
// True once the process has exited (waitForFinished alone is false for one that already has).
bool finished(QProcess& p, int timeoutMs = 120000) {
  return p.state() == QProcess::NotRunning || p.waitForFinished(timeoutMs);
}
}  // namespace

class TestCrash : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  std::vector<std::unique_ptr<NodeProcess>> makeNodes(const QStringList& urls, const QString& tag,
                                                      int replicas) {
    std::vector<std::unique_ptr<NodeProcess>> nodes;
    for (int i = 1; i <= 3; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(i);
      o.dir = m_dir.filePath(QStringLiteral("%1-node%2").arg(tag).arg(i));
      o.urls = urls;
      o.replicas = replicas;
      nodes.push_back(std::make_unique<NodeProcess>(o));
    }
    return nodes;
  }

 private slots:
  void killNodesInTheMiddleOfWrites() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    auto nodes = makeNodes({server.url()}, "kill-node", 1);
    for (auto& n : nodes) QVERIFY2(n->start().isOk(), qPrintable(n->log()));

    // Node 1 (the writer's node) and node 2 (a receiver) are killed while rows are committed.
    auto writer = startWriter(nodes[0]->db(), 1, 3000, "w1");
    QVERIFY(test::waitFor(
        [&] { return nodes[0]->sql("SELECT count(*) FROM Books").toInt() >= 500; }, 30000));
    nodes[0]->kill();
    nodes[1]->kill();
    QVERIFY(finished(*writer));
    QCOMPARE(writer->exitCode(), 0);
    QCOMPARE(nodes[0]->sql("SELECT count(*) FROM Books"), QString("3000"));  // all committed
    QVERIFY2(nodes[0]->start().isOk(), qPrintable(nodes[0]->log()));
    QVERIFY2(nodes[1]->start().isOk(), qPrintable(nodes[1]->log()));
    QVERIFY(test::waitConverged(test::rawPointers(nodes), "SELECT count(*) FROM Books", kConverge,
                                "3000"));
    QVERIFY(test::waitConverged(test::rawPointers(nodes), kBooksDump, kConverge));

    // Again, with writes on two nodes and node 3 killed twice.
    auto w2 = startWriter(nodes[1]->db(), 10001, 1500, "w2");
    auto w3 = startWriter(nodes[2]->db(), 20001, 1500, "w3");
    for (int k = 0; k < 2; ++k) {
      QVERIFY(test::waitFor(
          [&] {
            return nodes[2]->sql("SELECT count(*) FROM Books WHERE id > 20000").toInt() >=
                   300 * (k + 1);
          },
          30000));
      nodes[2]->kill();
      QVERIFY2(nodes[2]->start().isOk(), qPrintable(nodes[2]->log()));
    }
    QVERIFY(finished(*w2) && w2->exitCode() == 0);
    QVERIFY(finished(*w3) && w3->exitCode() == 0);
    QVERIFY(test::waitConverged(test::rawPointers(nodes), "SELECT count(*) FROM Books", kConverge,
                                "6000"));
    QVERIFY(test::waitConverged(test::rawPointers(nodes), kBooksDump, kConverge));
    for (auto& n : nodes) {
      QCOMPARE(n->sql("SELECT count(*) FROM __harmonylite__dead_letters"), QString("0"));
      QCOMPARE(n->stop(), 0);
    }
  }

  void killNatsServerInTheMiddleOfWrites() {
    test::NatsCluster cluster;
    const Status started = cluster.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    auto nodes = makeNodes(cluster.urls(), "kill-nats", 3);
    for (auto& n : nodes) QVERIFY(n->launch().isOk());
    for (auto& n : nodes) QVERIFY2(n->waitRunning(60000).isOk(), qPrintable(n->log()));

    auto writer = startWriter(nodes[0]->db(), 1, 3000, "k");
    QVERIFY(test::waitFor(
        [&] { return nodes[1]->sql("SELECT count(*) FROM Books").toInt() >= 300; }, 60000));
    cluster.server(0).kill();  // kill -9 of a server, mid-stream
    QVERIFY(test::waitFor(
        [&] { return nodes[0]->sql("SELECT count(*) FROM Books").toInt() >= 2000; }, 60000));
    const Status back = cluster.server(0).start(90000);  // JetStream catches up after a kill -9
    QVERIFY2(back.isOk(), qPrintable(back.message()));
    QVERIFY(finished(*writer));
    QVERIFY2(writer->exitCode() == 0, writer->readAllStandardError().constData());
    QVERIFY(test::waitConverged(test::rawPointers(nodes), "SELECT count(*) FROM Books", kConverge,
                                "3000"));
    QVERIFY(test::waitConverged(test::rawPointers(nodes), kBooksDump, kConverge));
    for (auto& n : nodes) QVERIFY2(n->isRunning(), qPrintable(n->log()));
    for (auto& n : nodes) QCOMPARE(n->stop(), 0);
  }

  void natsDownForSixtySeconds() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    auto nodes = makeNodes({server.url()}, "outage", 1);
    for (auto& n : nodes) QVERIFY2(n->start().isOk(), qPrintable(n->log()));
    nodes[0]->sql("INSERT INTO Books(id, title, author) VALUES (1, 'before', 'x')");
    QVERIFY(test::waitConverged(test::rawPointers(nodes), "SELECT count(*) FROM Books", kConverge,
                                "1"));

    server.stop();
    QElapsedTimer down;
    down.start();
    int id = 100;
    // The application keeps writing on two nodes during the outage; the nodes stay up.
    while (down.elapsed() < 60000) {
      nodes[0]->sql(
          QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, 'during', 'n1')")
              .arg(id++));
      nodes[1]->sql(
          QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, 'during', 'n2')")
              .arg(100000 + id));
      QTest::qWait(500);  // pacing the writer, not waiting for a result
      for (auto& n : nodes) QVERIFY2(n->isRunning(), qPrintable(n->log().right(2000)));
    }
    QVERIFY(server.start().isOk());
    const int expected = 1 + 2 * (id - 100);
    QVERIFY(test::waitConverged(test::rawPointers(nodes), "SELECT count(*) FROM Books", kConverge,
                                QString::number(expected)));
    QVERIFY(test::waitConverged(test::rawPointers(nodes), kBooksDump, kConverge));
    // The node's output arrives through a pipe: wait for it rather than read it once.
    QVERIFY(test::waitFor([&] { return nodes[0]->log().contains("NATS connection lost"); }, 10000));
    QVERIFY(test::waitFor([&] { return nodes[0]->log().contains("NATS reconnected"); }, 10000));
    for (auto& n : nodes) QCOMPARE(n->stop(), 0);
  }
};

QTEST_GUILESS_MAIN(TestCrash)
#include "tst_crash.moc"
