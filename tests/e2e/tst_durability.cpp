// The durability guard (docs/replication.md#durability) with real processes: one nats-server,
// two harmonylite nodes writing. JetStream loses acknowledged messages while the nodes run, in
// the two ways the guard handles:
//   1. the streams are deleted (and the nodes make them again);
//   2. the server's store directory is replaced by an older copy (acknowledged messages vanish,
//      the streams' last sequence falls below what the nodes applied).
// Each time both nodes notice, say so (log, /health, /metrics), publish their kept changes
// again, read the streams again, and end with every row of both nodes.
#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include "nats_test_client.h"
#include "node_process.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {
constexpr int kConverge = 60000;
const char* kSchema = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);";
const char* kDump =
    "SELECT count(*) || ':' || ifnull(group_concat(id || '=' || v, ','), '') FROM (SELECT * FROM "
    "t ORDER BY id)";

bool copyDir(const QString& from, const QString& to) {
  QDir().mkpath(to);
  const test::ProcessResult r = test::runProcess("cp", {"-a", from + "/.", to}, 60000);
  return r.exitCode == 0;
}
}  // namespace

class TestDurability : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  std::unique_ptr<test::NatsServer> m_server;
  std::vector<std::unique_ptr<NodeProcess>> m_nodes;
  QList<int> m_healthPorts;
  int m_next = 1;
  int m_rows = 0;

  QList<NodeProcess*> nodes() { return test::rawPointers(m_nodes); }
  NodeProcess& node(int i) { return *m_nodes[size_t(i)]; }

  // `count` rows on every node, one transaction each.
  void write(int count) {
    for (int i = 0; i < 2; ++i) {
      QString sql = "BEGIN;";
      for (int k = 0; k < count; ++k, ++m_next, ++m_rows)
        sql += QStringLiteral("INSERT INTO t(id, v) VALUES (%1, 'n%2');").arg(m_next).arg(i + 1);
      sql += "COMMIT;";
      bool ok = false;
      node(i).sql(sql, &ok);
      QVERIFY(ok);
    }
  }

  bool converged() {
    return test::waitConverged(nodes(), kDump, kConverge) &&
           node(0).sql("SELECT count(*) FROM t") == QString::number(m_rows);
  }

  QJsonObject durability(int i) {
    QByteArray body;
    if (test::httpGet(m_healthPorts[i], "/health", &body) == 0) return {};
    return QJsonDocument::fromJson(body).object().value("durability").toObject();
  }
  qint64 incidents(int i) { return durability(i).value("stream_incidents").toInteger(-1); }

  void dumpLogs() {
    for (auto& n : m_nodes) {
      const QString path = QStringLiteral("/tmp/tst_durability-node%1.log").arg(n->nodeId());
      test::writeFile(path, n->log().toUtf8());
      qWarning().noquote() << "node log in" << path << "\n" << n->log().right(1500);
    }
  }

 private slots:
  void initTestCase() {
    m_dir.setAutoRemove(!qEnvironmentVariableIsSet("HL_KEEP_TEST_DIRS"));
    m_server = std::make_unique<test::NatsServer>(test::NatsServer::Options{});
    QVERIFY2(m_server->start().isOk(), qPrintable(m_server->log()));
    for (int i = 0; i < 2; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(i + 1);
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(i + 1));
      o.schema = kSchema;
      o.urls = {m_server->url()};
      m_healthPorts << test::freePort();
      o.tablesToml =
          QStringLiteral(
              "[health_check]\nenable = true\ndetailed = true\nbind = \"127.0.0.1:%1\"\n")
              .arg(m_healthPorts.last());
      m_nodes.push_back(std::make_unique<NodeProcess>(o));
      const Status s = m_nodes.back()->start();
      QVERIFY2(s.isOk(), qPrintable(s.message()));
    }
    write(30);
    QVERIFY(converged());
  }

  void cleanupTestCase() {
    for (auto& n : m_nodes) n->stop();
  }

  // Each node keeps its own acked changes for keep_published (10 minutes by default) and says
  // so in /health: the 30 rows it wrote, acked seconds ago, none dropped uncovered.
  void keptChangesAreShown() {
    for (int i = 0; i < 2; ++i) {
      QJsonObject d;
      QVERIFY2(test::waitFor(
                   [&] {
                     d = durability(i);
                     return d.value("kept_changes").toInteger(-1) == 30;
                   },
                   10000),
               QJsonDocument(d).toJson().constData());
      const double age = d.value("kept_oldest_age_seconds").toDouble(-1);
      QVERIFY2(age >= 0 && age < 600, qPrintable(QString::number(age)));
      QCOMPARE(d.value("kept_dropped_uncovered").toInteger(-1), qint64(0));
    }
  }

  // The streams deleted while the nodes run: both make them again and publish their kept
  // changes again; rows written before and after all end on both nodes.
  void streamsDeleted() {
    auto nc = test::connectTo(m_server->url());
    QVERIFY(nc);
    auto js = test::jetStream(nc->get());
    QVERIFY(js);
    jsErrCode jerr = jsErrCode(0);
    QCOMPARE(js_DeleteStream(js->get(), "harmonylite-changes-c-1", nullptr, &jerr), NATS_OK);
    write(20);
    const bool ok = converged();
    if (!ok) dumpLogs();
    QVERIFY(ok);
    for (int i = 0; i < 2; ++i) {
      QVERIFY2(test::waitFor([&] { return incidents(i) >= 1; }, 15000),
               qPrintable(node(i).log().right(2000)));
      // Deleted (the first node to look makes it again), or re-created (seen by the other).
      QVERIFY(node(i).log().contains(QRegularExpression(
          "durability guard: stream harmonylite-changes-c-1 was (deleted|re-created)")));
    }
    QCOMPARE(node(1).sql("SELECT count(*) FROM __harmonylite__dead_letters"), QString("0"));
  }

  // The store replaced by an older copy: acknowledged messages vanish and the stream's last
  // sequence falls below what the nodes applied.
  void storeReplacedByOlderCopy() {
    const QString store = m_server->dataDir();
    const QString older = m_dir.filePath("older-store");
    m_server->stop();
    QVERIFY(copyDir(store, older));
    QVERIFY(m_server->start().isOk());
    write(40);  // acknowledged, then lost with the older copy
    QVERIFY(converged());
    const qint64 before0 = incidents(0), before1 = incidents(1);
    m_server->stop();
    QVERIFY(QDir(store).removeRecursively());
    QVERIFY(copyDir(older, store));
    QVERIFY2(m_server->start().isOk(), qPrintable(m_server->log()));
    write(10);
    const bool ok = converged();
    if (!ok) dumpLogs();
    QVERIFY(ok);
    for (int i = 0; i < 2; ++i) {
      QVERIFY(test::waitFor([&] { return incidents(i) > (i == 0 ? before0 : before1); }, 15000));
      // Seen as gone back (the usual case, at the reconnect or the next look), or as re-made
      // when a node looked while the server was still recovering its streams.
      QVERIFY2(node(i).log().contains(QRegularExpression(
                   "durability guard: stream \\S+ (went back: its last message is|was)")),
               qPrintable(node(i).log().right(2000)));
    }
    QCOMPARE(node(0).sql("SELECT count(*) FROM __harmonylite__dead_letters"), QString("0"));
  }

  // A snapshot in a store outside NATS that covers the kept changes lets them go before the
  // horizon: a node alone on its own server, saving to a local store every second, keeps only
  // the newest row of its log (the one that always stays) soon after its snapshots cover its
  // writes. Without the watermark reaching the change log it would keep all 30 for 10 minutes.
  void snapshotOutsideNatsLetsKeptChangesGo() {
    test::NatsServer server;
    QVERIFY2(server.start().isOk(), qPrintable(server.log()));
    NodeProcess::Options o;
    o.nodeId = 3;
    o.dir = m_dir.filePath("node3");
    o.schema = kSchema;
    o.urls = {server.url()};
    m_healthPorts << test::freePort();
    o.tablesToml = QStringLiteral(
                       "[health_check]\nenable = true\ndetailed = true\nbind = \"127.0.0.1:%1\"\n"
                       "[snapshot]\nenabled = true\nstore = \"local\"\ninterval = 1000\n"
                       "[snapshot.local]\npath = \"%2\"\n")
                       .arg(m_healthPorts.last())
                       .arg(m_dir.filePath("node3-snapshots"));
    NodeProcess n(o);
    const Status s = n.start();
    QVERIFY2(s.isOk(), qPrintable(s.message()));
    QString sql = "BEGIN;";
    for (int k = 1; k <= 30; ++k)
      sql += QStringLiteral("INSERT INTO t(id, v) VALUES (%1, 'n3');").arg(k);
    bool ok = false;
    n.sql(sql + "COMMIT;", &ok);
    QVERIFY(ok);
    QJsonObject d;
    const bool covered = test::waitFor(
        [&] {
          d = durability(2);
          return d.value("kept_changes").toInteger(-1) == 1;
        },
        30000);
    QVERIFY2(covered, qPrintable(QJsonDocument(d).toJson() + n.log().right(3000)));
    QCOMPARE(d.value("kept_dropped_uncovered").toInteger(-1), qint64(0));
    QCOMPARE(n.stop(), 0);
  }
};

QTEST_GUILESS_MAIN(TestDurability)
#include "tst_durability.moc"
