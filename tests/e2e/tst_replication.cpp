// The reference scenarios (docs/replication.md#reference-scenarios) (1, 2, 3, 5, 6) with real
// processes: three harmonylite nodes, 2 shards, compression on, writes made by the sqlite3 program
// on the nodes' files. Topology from HL_TOPOLOGY: "embedded" (each node's embedded nats-server,
// joined into one cluster with -cluster-addr/-cluster-peers) or "external" (a 3-server cluster,
// replicas = 3).
#include <QProcess>

#include <QTemporaryDir>
#include <QtTest>
#include <functional>

#include "node_process.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {
const char* kBooksDump =
    "SELECT count(*) || ':' || ifnull(group_concat(id || '|' || title || '|' || author || '|' || "
    "ifnull(publication_year, 'N'), ';'), '') FROM (SELECT * FROM Books ORDER BY id)";
const char* kAuthorsDump =
    "SELECT count(*) || ':' || ifnull(group_concat(id || '|' || name || '|' || ifnull(birth_year, "
    "'N'), "
    "';'), '') FROM (SELECT * FROM Authors ORDER BY id)";
constexpr int kConverge = 90000;
}  // namespace

class TestReplication : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  std::unique_ptr<test::NatsCluster> m_cluster;
  std::vector<std::unique_ptr<NodeProcess>> m_nodes;
  QString m_topology;

  QList<NodeProcess*> nodes() { return test::rawPointers(m_nodes); }
  NodeProcess& node(int i) { return *m_nodes[size_t(i)]; }

  // On every node at once, the sqlite3 program runs `statement(node, round, row)` for `rounds`
  // rounds of `rows` rows, as an application would; true when every writer exited 0.
  bool writeEverywhere(int rounds, int rows,
                       const std::function<QString(int, int, int)>& statement) {
    QList<QProcess*> writers;
    for (int n = 0; n < 3; ++n) {
      QString script;
      for (int round = 0; round < rounds; ++round)
        for (int row = 0; row < rows; ++row) script += statement(n + 1, round, row);
      auto* p = new QProcess(this);
      p->start("sqlite3", {"-cmd", ".timeout 10000", node(n).db(), script});
      writers << p;
    }
    bool ok = true;
    for (QProcess* p : writers) ok = p->waitForFinished(60000) && p->exitCode() == 0 && ok;
    return ok;
  }

  NodeProcess::Options options(uint64_t id) {
    NodeProcess::Options o;
    o.nodeId = id;
    o.dir = m_dir.filePath(QStringLiteral("node%1").arg(id));
    o.shards = 2;
    o.compress = true;
    // Three copies of each stream in both topologies: stoppedNodeCatchesUp stops a node, and in
    // the embedded topology its server with it. With one copy, a stream that JetStream had
    // placed on that server went offline and the other two nodes could not publish (seen in CI:
    // "stream is offline").
    o.replicas = 3;
    if (m_cluster) o.urls = m_cluster->urls();
    return o;
  }

 private slots:
  void initTestCase() {
    m_topology = qEnvironmentVariable("HL_TOPOLOGY", "embedded");
    m_dir.setAutoRemove(!qEnvironmentVariableIsSet("HL_KEEP_TEST_DIRS"));
    qInfo() << "topology" << m_topology;
    QList<int> clusterPorts;
    if (m_topology == "external") {
      m_cluster = std::make_unique<test::NatsCluster>();
      const Status s = m_cluster->start();
      QVERIFY2(s.isOk(), qPrintable(s.message()));
    } else {
      for (int i = 0; i < 3; ++i) clusterPorts << test::freePort();
    }
    for (int i = 0; i < 3; ++i) {
      NodeProcess::Options o = options(uint64_t(i + 1));
      if (!m_cluster) {
        QStringList peers;
        for (int j = 0; j < 3; ++j)
          if (j != i) peers << QStringLiteral("nats://127.0.0.1:%1").arg(clusterPorts[j]);
        o.extraArgs = {"-cluster-addr", QStringLiteral("127.0.0.1:%1").arg(clusterPorts[i]),
                       "-cluster-peers", peers.join(',')};
      }
      m_nodes.push_back(std::make_unique<NodeProcess>(o));
    }
    for (auto& n : m_nodes) QVERIFY(n->launch().isOk());  // together: JetStream needs a quorum
    for (auto& n : m_nodes) {
      const Status s = n->waitRunning(60000);
      QVERIFY2(s.isOk(), qPrintable(s.message()));
    }
  }

  void cleanupTestCase() {
    for (auto& n : m_nodes) {
      if (!n->isRunning()) continue;
      const int rc = n->stop();
      if (rc != 0) qWarning().noquote() << "node exit" << rc << n->log().right(3000);
    }
  }

  // Scenario 1: insert, update and delete on node 1 reach nodes 2 and 3.
  void insertUpdateDeleteReachOtherNodes() {
    node(0).sql(
        "INSERT INTO Books(id, title, author, publication_year) VALUES "
        "(1, 'Dune', 'Frank Herbert', 1965), (2, 'Emma', 'Jane Austen', 1815)");
    QVERIFY2(test::waitConverged(nodes(), kBooksDump, kConverge,
                                 "2:1|Dune|Frank Herbert|1965;2|Emma|Jane Austen|1815"),
             qPrintable(node(1).sql(kBooksDump)));
    node(0).sql("UPDATE Books SET title = 'Dune Messiah', publication_year = 1969 WHERE id = 1");
    node(0).sql("DELETE FROM Books WHERE id = 2");
    QVERIFY2(
        test::waitConverged(nodes(), kBooksDump, kConverge, "1:1|Dune Messiah|Frank Herbert|1969"),
        qPrintable(node(2).sql(kBooksDump)));
  }

  // Scenario 5: changes to two tables both replicate; 10,000 rows replicate.
  void twoTablesAndTenThousandRows() {
    node(1).sql("INSERT INTO Authors(id, name, birth_year) VALUES (1, 'Ursula K. Le Guin', 1929)");
    QString bulk = "BEGIN;";
    for (int i = 0; i < 10000; ++i)
      bulk += QStringLiteral(
                  "INSERT INTO Books(id, title, author, publication_year) VALUES (%1, 'Book %1', "
                  "'Author %2', %3);")
                  .arg(1000 + i)
                  .arg(i % 97)
                  .arg(1900 + i % 120);
    bulk += "COMMIT;";
    bool ok = false;
    node(1).sql(bulk, &ok);
    QVERIFY(ok);
    QVERIFY(test::waitConverged(nodes(), "SELECT count(*) FROM Books", kConverge, "10001"));
    QVERIFY(test::waitConverged(nodes(), kBooksDump, kConverge));
    QVERIFY(test::waitConverged(nodes(), kAuthorsDump, kConverge, "1:1|Ursula K. Le Guin|1929"));
  }

  // Scenario 2 and more: concurrent updates of the same rows on all three nodes converge to
  // one value everywhere.
  void concurrentWritesConverge() {
    QVERIFY(writeEverywhere(20, 10, [](int node, int round, int row) {
      return QStringLiteral("UPDATE Books SET title = 'node%1 round%2' WHERE id = %3;")
          .arg(node)
          .arg(round)
          .arg(1000 + row);
    }));
    QVERIFY2(test::waitConverged(nodes(), kBooksDump, kConverge),
             qPrintable(node(0).sql("SELECT title FROM Books WHERE id = 1000") + " / " +
                        node(1).sql("SELECT title FROM Books WHERE id = 1000") + " / " +
                        node(2).sql("SELECT title FROM Books WHERE id = 1000")));
    // Each row ends with one of the last values written.
    const QString t = node(0).sql("SELECT title FROM Books WHERE id = 1005");
    QVERIFY2(t.endsWith("round19"), qPrintable(t + " in " + m_dir.path()));
    // Stable: no node flips back afterwards.
    const QString before = node(0).sql(kBooksDump);
    QTest::qWait(1500);  // observe for a while that nothing changes any more
    for (NodeProcess* n : nodes()) QCOMPARE(n->sql(kBooksDump), before);
  }

  // Upserts and INSERT OR REPLACE of the same keys on every node at once (rows that do not
  // exist yet, then do): inserts and updates of one row from several origins interleave in the
  // stream, and every node must end with the stream's last write of each row.
  void concurrentUpsertsConverge() {
    QVERIFY(writeEverywhere(30, 10, [](int node, int round, int row) {
      return QStringLiteral(
                 "INSERT INTO Books(id, title, author) VALUES (%3, 'node%1 round%2', 'u') "
                 "ON CONFLICT(id) DO UPDATE SET title = excluded.title;"
                 "INSERT OR REPLACE INTO Books(id, title, author) VALUES (%4, 'node%1 "
                 "round%2', 'r');")
          .arg(node)
          .arg(round)
          .arg(900000 + row)
          .arg(900100 + row);
    }));
    const char* dump =
        "SELECT group_concat(id || '=' || title, ',') FROM (SELECT * FROM Books WHERE id >= "
        "900000 AND id < 900200 ORDER BY id)";
    QVERIFY2(test::waitConverged(nodes(), dump, kConverge),
             qPrintable(node(0).sql(dump) + "\n" + node(1).sql(dump) + "\n" + node(2).sql(dump)));
    QCOMPARE(node(0).sql("SELECT count(*) FROM Books WHERE id >= 900000 AND id < 900200"),
             QString("20"));
  }

  // Scenario 3: a stopped node catches up from the stream on restart.
  void stoppedNodeCatchesUp() {
    QCOMPARE(node(2).stop(), 0);
    node(0).sql(
        "INSERT INTO Books(id, title, author) VALUES (50000, 'While you were away', 'Node 1')");
    node(1).sql("UPDATE Authors SET birth_year = 1930 WHERE id = 1");
    node(0).sql("DELETE FROM Books WHERE id BETWEEN 1000 AND 1099");
    QVERIFY(test::waitConverged({&node(0), &node(1)}, kBooksDump, kConverge));
    const Status s = node(2).start(60000);
    QVERIFY2(s.isOk(), qPrintable(s.message()));
    QVERIFY(test::waitConverged(nodes(), kBooksDump, kConverge));
    QVERIFY(test::waitConverged(nodes(), kAuthorsDump, kConverge, "1:1|Ursula K. Le Guin|1930"));
    QCOMPARE(node(2).sql("SELECT title FROM Books WHERE id = 50000"),
             QString("While you were away"));
  }

  // Scenario 6: a publish = false node keeps its local writes local and still receives.
  void publishFalseNodeReceivesOnly() {
    NodeProcess::Options o = options(4);
    o.topLevelToml = "publish = false";
    if (!m_cluster) {
      // Join through node 1's embedded server as a client.
      const QRegularExpression re("connected to (nats://[0-9.:]+)");
      const auto m = re.match(node(0).log());
      QVERIFY2(m.hasMatch(), "node 1's NATS URL not in its log");
      o.urls = {m.captured(1)};
    }
    auto replica = std::make_unique<NodeProcess>(o);
    const Status s = replica->start(60000);
    QVERIFY2(s.isOk(), qPrintable(s.message()));
    QVERIFY(test::waitConverged({&node(0), replica.get()}, kBooksDump, kConverge));
    replica->sql("INSERT INTO Books(id, title, author) VALUES (60000, 'Local only', 'Replica')");
    node(1).sql("INSERT INTO Books(id, title, author) VALUES (60001, 'From node 2', 'Node 2')");
    QVERIFY(test::waitConverged({replica.get()}, "SELECT count(*) FROM Books WHERE id = 60001",
                                kConverge, "1"));
    QVERIFY(test::waitConverged(nodes(), "SELECT count(*) FROM Books WHERE id = 60001", kConverge,
                                "1"));
    // The replica's own write never left it.
    for (NodeProcess* n : nodes())
      QCOMPARE(n->sql("SELECT count(*) FROM Books WHERE id = 60000"), QString("0"));
    QCOMPARE(replica->sql("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"),
             QString("0"));
    QCOMPARE(replica->stop(), 0);
  }

  void everyDatabaseIdentical() {
    QVERIFY(test::waitConverged(nodes(), kBooksDump, kConverge));
    QVERIFY(test::waitConverged(nodes(), kAuthorsDump, kConverge));
    // Nothing was dead-lettered along the way.
    for (NodeProcess* n : nodes())
      QCOMPARE(n->sql("SELECT count(*) FROM __harmonylite__dead_letters"), QString("0"));
  }
};

QTEST_GUILESS_MAIN(TestReplication)
#include "tst_replication.moc"
