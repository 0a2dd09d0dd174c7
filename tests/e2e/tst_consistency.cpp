// The consistency digest with real nodes (docs/consistency.md#command-line): three nodes on one
// nats-server after a replicated workload report the same digest of every table at the same
// positions with nothing pending; a row changed behind one node's back (its change taken out of
// the change log, so it is never published) gives that node another digest of that table
// only; a database that cannot be read is an error.
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>

#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>

#include "harmonylite/config.h"
#include "nats/nats_client.h"
#include "node_process.h"
#include "test_support.h"

using namespace hl;
using hl::test::NodeProcess;

namespace {

const char* kSchema =
    "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, data BLOB);"
    "CREATE TABLE tags(item INTEGER, tag TEXT, note TEXT, PRIMARY KEY (item, tag)) WITHOUT ROWID;"
    "CREATE TABLE files(hash BLOB PRIMARY KEY, size INTEGER);"
    "CREATE TABLE notes(body TEXT);";  // no declared key: its rowid is the key
constexpr int kConverge = 60000;

test::ProcessResult digestOf(const QString& config) {
  return test::runProcess(test::harmonyliteBinary(), {"-config", config, "-digest"});
}

test::ProcessResult checkFrom(const QString& config, const QStringList& more = {}) {
  return test::runProcess(
      test::harmonyliteBinary(),
      QStringList{"-config", config, "-check-consistency", "-expect-nodes", "3"} + more, 120000);
}

// Three nodes on one nats-server, each writing rows of every table.
struct Cluster {
  QString schema = kSchema;
  test::NatsServer server;
  std::vector<std::unique_ptr<NodeProcess>> owned;
  QList<NodeProcess*> nodes;

  QString firstNodeToml;                // extra tables of node 1's config
  int healthPort = 0, metricsPort = 0;  // node 1's, when firstNodeToml enables them

  // `lateSnapshotOn`: that node takes its check snapshots 300 ms late (a test fault), while its
  // consumer must stay held.
  Status start(const QString& dir, int lateSnapshotOn = 0) {
    HL_RETURN_IF_ERROR(server.start());
    for (int i = 1; i <= 3; ++i) {
      if (i == lateSnapshotOn)
        qputenv("HL_TEST_CHECK_SNAPSHOT_DELAY_MS", "300");
      else
        qunsetenv("HL_TEST_CHECK_SNAPSHOT_DELAY_MS");
      NodeProcess::Options o;
      o.nodeId = uint64_t(i);
      o.dir = dir + QStringLiteral("/node%1").arg(i);
      o.schema = schema;
      o.urls = {server.url()};
      if (i == 1) {
        o.tablesToml = firstNodeToml;
        o.healthPort = healthPort;
      }
      owned.push_back(std::make_unique<NodeProcess>(o));
      HL_RETURN_IF_ERROR(owned.back()->start());
    }
    qunsetenv("HL_TEST_CHECK_SNAPSHOT_DELAY_MS");
    nodes = test::rawPointers(owned);
    return Status::ok();
  }
  bool write(int rounds) {
    for (int round = 0; round < rounds; ++round)
      for (int i = 0; i < 3; ++i) {
        const int id = round * 3 + i + 1;
        bool ok = false;
        nodes[i]->sql(QStringLiteral("INSERT INTO items VALUES (%1, 'item %1', %2, x'00%3'); "
                                     "INSERT INTO tags VALUES (%1, 'n%4', NULL); "
                                     "INSERT INTO files VALUES (x'%3ff%3', %1); "
                                     "INSERT INTO notes(rowid, body) VALUES (%1, 'note %1');")
                          .arg(id)
                          .arg(round)
                          .arg(QString::number(id % 256, 16).rightJustified(2, '0'))
                          .arg(i + 1),
                      &ok);
        if (!ok) return false;
      }
    return test::waitConverged(nodes, "SELECT count(*) FROM items", kConverge,
                               QString::number(rounds * 3)) &&
           test::waitConverged(nodes, "SELECT count(*) FROM notes", kConverge,
                               QString::number(rounds * 3));
  }
};

// A change behind the node's back: the statement and, in the same transaction, the removal of
// what it captured, so nothing is published.
bool behindTheBack(NodeProcess* n, const QString& statement) {
  bool ok = false;
  n->sql(QStringLiteral("BEGIN; CREATE TEMP TABLE mark AS SELECT coalesce(max(id), 0) AS id FROM "
                        "__harmonylite__changes; %1; DELETE FROM __harmonylite__changes WHERE id > "
                        "(SELECT id FROM mark); COMMIT;")
             .arg(statement),
         &ok);
  return ok;
}

// "table X: N rows, digest D" lines, and the applied and pending lines.
QString tablesOf(const QString& out) {
  QStringList lines;
  for (const QString& l : out.split('\n'))
    if (l.startsWith("table ") || l.startsWith("applied:") || l.startsWith("pending own:"))
      lines << l;
  return lines.join('\n');
}

}  // namespace

class TestConsistency : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

 private slots:
  void initTestCase() { m_dir.setAutoRemove(!qEnvironmentVariableIsSet("HL_KEEP_TEST_DIRS")); }

  void nodesAgreeAndAChangeBehindTheBackIsSeen() {
    Cluster c;
    if (Status s = c.start(m_dir.filePath("digest")); !s.isOk()) QFAIL(qPrintable(s.message()));
    const QList<NodeProcess*> nodes = c.nodes;
    // Every node writes rows of every table.
    QVERIFY(c.write(20));
    QVERIFY(test::waitConverged(nodes, "SELECT count(*) FROM tags", kConverge, "60"));
    QString first;
    // The nodes' positions move a little after the rows land (their own messages): until all
    // three report the same positions, nothing pending and the same digests.
    auto agree = [&] {
      QStringList seen;
      for (NodeProcess* n : nodes) {
        const test::ProcessResult r = digestOf(n->configPath());
        if (r.exitCode != 0) return false;
        seen << tablesOf(QString::fromUtf8(r.out));
      }
      first = seen[0];
      return seen[1] == seen[0] && seen[2] == seen[0] && first.contains("pending own:    0");
    };
    QVERIFY2(test::waitFor(agree, kConverge, 500), qPrintable(first));
    QVERIFY2(first.contains(QRegularExpression("table items: 60 rows, digest [0-9a-f]{32}")),
             qPrintable(first));
    QVERIFY2(first.contains(QRegularExpression("table tags: 60 rows, digest [0-9a-f]{32}")),
             qPrintable(first));
    QVERIFY2(first.contains("applied:        harmonylite-changes-c-1="), qPrintable(first));

    // Node 2 changes a row and takes the change out of its log in the same transaction: it is
    // never published, and only node 2's digest of items changes.
    bool ok = false;
    nodes[1]->sql(
        "BEGIN; UPDATE items SET qty = 999 WHERE id = 7; DELETE FROM "
        "__harmonylite__changes WHERE id = (SELECT max(id) FROM __harmonylite__changes); "
        "COMMIT;",
        &ok);
    QVERIFY(ok);
    const test::ProcessResult oneRun = digestOf(nodes[0]->configPath()),
                              twoRun = digestOf(nodes[1]->configPath());
    QCOMPARE(twoRun.exitCode, 0);
    const QString one = QString::fromUtf8(oneRun.out), two = QString::fromUtf8(twoRun.out);
    auto line = [](const QString& out, const QString& table) {
      for (const QString& l : out.split('\n'))
        if (l.startsWith("table " + table + ":")) return l;
      return QString();
    };
    QVERIFY(!line(one, "items").isEmpty());
    QVERIFY2(line(one, "items") != line(two, "items"), qPrintable(two));
    QCOMPARE(line(one, "tags"), line(two, "tags"));
    QVERIFY2(two.contains("pending own:    0"), qPrintable(two));  // nothing to send
    // Put back by hand (row 7 was written in round 2): the same digest again.
    nodes[1]->sql(
        "BEGIN; UPDATE items SET qty = 2 WHERE id = 7; DELETE FROM "
        "__harmonylite__changes WHERE id = (SELECT max(id) FROM __harmonylite__changes); "
        "COMMIT;",
        &ok);
    QVERIFY(ok);
    QCOMPARE(line(QString::fromUtf8(digestOf(nodes[1]->configPath()).out), "items"),
             line(one, "items"));
    for (NodeProcess* n : nodes) QCOMPARE(n->stop(), 0);
  }

  // The cross-node check (docs/consistency.md#check): agree after a replicated workload; three
  // changes behind node 2's back (an updated row, a deleted composite-key row, an extra blob-key
  // row) found with each node's values; repaired from node 1; agree again.
  void clusterCheckFindsAndRepairs() {
    Cluster c;
    if (Status s = c.start(m_dir.filePath("check")); !s.isOk()) QFAIL(qPrintable(s.message()));
    QVERIFY(c.write(10));
    test::ProcessResult r;
    QVERIFY2(test::waitFor([&] { return (r = checkFrom(c.nodes[0]->configPath())).exitCode == 0; },
                           kConverge, 500),
             r.out.constData());
    QString out = QString::fromUtf8(r.out);
    QVERIFY2(out.startsWith("check ") && out.contains(": AGREE"), qPrintable(out));
    for (int n = 1; n <= 3; ++n)
      QVERIFY2(out.contains(QRegularExpression(QStringLiteral("node %1: held \\(applier held \\d+ "
                                                              "ms, digest \\d+ ms\\)")
                                                   .arg(n))),
               qPrintable(out));
    QVERIFY2(out.contains("positions: harmonylite-changes-c-1="), qPrintable(out));
    QVERIFY2(
        out.contains(QRegularExpression("table items: agree \\(30 rows, digest [0-9a-f]{32}\\)")),
        qPrintable(out));
    QVERIFY2(out.contains("table notes: agree (30 rows"), qPrintable(out));

    QVERIFY(behindTheBack(c.nodes[1], "UPDATE items SET qty = 999 WHERE id = 7"));
    QVERIFY(behindTheBack(c.nodes[1], "DELETE FROM tags WHERE item = 8"));
    QVERIFY(behindTheBack(c.nodes[1], "INSERT INTO files VALUES (x'beef', 42)"));
    r = checkFrom(c.nodes[2]->configPath());
    out = QString::fromUtf8(r.out);
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(out.contains(": DIFFER - 3 of 4 table(s) differ"), qPrintable(out));
    QVERIFY2(out.contains("table notes: agree"), qPrintable(out));
    // Each differing row once, with every node's version.
    QVERIFY2(out.contains("  row 7:\n    node 1: id=7, name='item 7', qty=2, data=x'0007'\n"
                          "    node 2: id=7, name='item 7', qty=999, data=x'0007'\n"
                          "    node 3: id=7, name='item 7', qty=2, data=x'0007'\n"),
             qPrintable(out));
    QVERIFY2(out.contains("  row 8|'n2':\n    node 1: item=8, tag='n2', note=NULL\n"
                          "    node 2: (no such row)\n"),
             qPrintable(out));
    QVERIFY2(out.contains("  row x'beef':\n    node 1: (no such row)\n"
                          "    node 2: hash=x'beef', size=42\n"),
             qPrintable(out));
    QCOMPARE(out.count("  row "), 3);

    r = checkFrom(c.nodes[0]->configPath(), {"-repair-from", "1"});
    out = QString::fromUtf8(r.out);
    QVERIFY2(r.exitCode == 0, qPrintable(out + r.err));
    QVERIFY2(out.contains("repair items: node 1 published 1 row(s) again and 0 delete(s)"),
             qPrintable(out));
    QVERIFY2(out.contains("repair tags: node 1 published 1 row(s) again and 0 delete(s)"),
             qPrintable(out));
    QVERIFY2(out.contains("repair files: node 1 published 0 row(s) again and 1 delete(s)"),
             qPrintable(out));
    QVERIFY2(out.contains("after the repair:\ncheck ") && out.endsWith(" attempt(s)\n"),
             qPrintable(out));
    QVERIFY2(out.mid(out.indexOf("after the repair:")).contains(": AGREE"), qPrintable(out));
    QCOMPARE(c.nodes[1]->sql("SELECT qty FROM items WHERE id = 7"), QString("2"));
    QCOMPARE(c.nodes[1]->sql("SELECT count(*) FROM files WHERE hash = x'beef'"), QString("0"));
    QCOMPARE(c.nodes[1]->sql("SELECT count(*) FROM tags WHERE item = 8"), QString("1"));
    for (NodeProcess* n : c.nodes) QCOMPARE(n->stop(), 0);
  }

  // Checks while two nodes' applications write: each one agrees or says why it is not
  // comparable; none reports a difference. Node 2 (which only applies) takes its snapshots
  // 300 ms after reaching the target: rows keep arriving meanwhile, and only the hold keeps
  // them out of its digest.
  void checksWhileWritersRunNeverDiffer() {
    Cluster c;
    if (Status s = c.start(m_dir.filePath("busy"), 2); !s.isOk()) QFAIL(qPrintable(s.message()));
    QVERIFY(c.write(3));
    // Two writers, bounded: 400 transactions of 10 rows each, with keys of their own (150 were
    // over before a third check on a busy machine: CI, once; each check takes 1.5-2 s).
    std::vector<std::unique_ptr<QProcess>> writers;
    for (int n : {0, 2}) {
      auto p = std::make_unique<QProcess>();
      p->start("sh", {"-c", QStringLiteral("for i in $(seq 0 399); do sqlite3 -cmd '.timeout "
                                           "10000' %1 \"WITH RECURSIVE k(x) AS (SELECT 0 UNION "
                                           "ALL SELECT x + 1 FROM k WHERE x < 9) INSERT INTO "
                                           "notes(rowid, body) SELECT %2 + $i * 10 + x, 'w%2' "
                                           "FROM k\"; sleep 0.01; done")
                                .arg(c.nodes[n]->db())
                                .arg((n + 1) * 10000)});
      QVERIFY(p->waitForStarted());
      writers.push_back(std::move(p));
    }
    auto writing = [&] {
      return std::any_of(writers.begin(), writers.end(), [](const auto& p) {
        p->waitForFinished(0);  // takes in an exit that happened
        return p->state() != QProcess::NotRunning;
      });
    };
    int agree = 0, busy = 0;
    for (int i = 0; i < 40 && writing(); ++i) {
      const test::ProcessResult r = checkFrom(c.nodes[i % 3]->configPath());
      const QString out = QString::fromUtf8(r.out);
      QVERIFY2(r.exitCode == 0 || r.exitCode == 3, qPrintable(out + r.err));
      // The verdict, the positions, how long each applier was held, the messages.
      QStringList held;
      for (const QString& l : out.split('\n'))
        if (l.startsWith("node ")) held << l;
      qInfo("%s | %s | %s | %s", qPrintable(out.section('\n', 0, 0)),
            qPrintable(out.section('\n', 1, 1)), qPrintable(held.join("; ")),
            qPrintable(out.section('\n', -2, -2)));
      if (r.exitCode == 0) {
        ++agree;
        // The fault is in force: node 2's consumer stayed held while its snapshot was late.
        const auto m = QRegularExpression("node 2: held \\(applier held (\\d+) ms").match(out);
        QVERIFY2(m.hasMatch() && m.captured(1).toInt() >= 300, qPrintable(out));
      } else {
        ++busy;
        QVERIFY2(out.contains("BUSY - no comparable point in 5 attempt(s); last: node "),
                 qPrintable(out));
      }
    }
    qInfo("%d checks agreed and %d found no comparable point while writers ran", agree, busy);
    QVERIFY(agree + busy >= 3);
    for (auto& p : writers) {
      if (p->state() != QProcess::NotRunning) QVERIFY(p->waitForFinished(60000));
      QCOMPARE(p->exitCode(), 0);
    }
    QCOMPARE(c.nodes[0]->sql("SELECT count(*) FROM notes"), QString("8009"));
    // At rest the same cluster agrees: the rows the writers added are the same everywhere.
    QVERIFY(test::waitConverged(c.nodes, "SELECT count(*) FROM notes", kConverge, "8009"));
    test::ProcessResult r;
    QVERIFY2(test::waitFor([&] { return (r = checkFrom(c.nodes[1]->configPath())).exitCode == 0; },
                           kConverge, 500),
             r.out.constData());
    for (NodeProcess* n : c.nodes) QCOMPARE(n->stop(), 0);
  }

  // Requests written to hurt a node (docs/consistency.md#protocol): each is answered with the
  // reason, nothing is done, and the node goes on answering checks.
  void malformedRequestsAreRefused() {
    Cluster c;
    if (Status s = c.start(m_dir.filePath("bad")); !s.isOk()) QFAIL(qPrintable(s.message()));
    QVERIFY(c.write(1));
    Config cfg;
    auto nc = connectNats(cfg, {c.server.url()}, "tst_consistency");
    QVERIFY2(nc.ok(), qPrintable(nc.status().message()));
    // One request, the first answer of node 1 (or "" when none comes within 5 s).
    auto ask = [&](const QByteArray& subject, const QByteArray& data) {
      natsMsg* reply = nullptr;
      QByteArray out;
      for (int tries = 0; tries < 3 && out.isEmpty(); ++tries) {
        if (natsConnection_Request(&reply, nc->get(), subject.constData(), data.constData(),
                                   int(data.size()), 5000) != NATS_OK)
          continue;
        out = QByteArray(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
        natsMsg_Destroy(reply);
      }
      return out;
    };
    const QByteArray hold = "harmonylite-changes-consistency.hold";
    QByteArray a = ask(hold, "{not json");
    QVERIFY2(a.contains("\"state\":\"busy\"") && a.contains("bad request: not JSON"),
             a.constData());
    a = ask(hold, "{\"v\":1,\"check\":\"x\",\"buckets\":3}");
    QVERIFY2(a.contains("not a power of two"), a.constData());
    a = ask(
        "harmonylite-changes-consistency.buckets",
        "{\"v\":1,\"check\":\"x\",\"table\":\"items\\\"; DROP TABLE items; --\",\"buckets\":4}");
    QVERIFY2(a.contains("is not held here"), a.constData());  // no check of that id
    a = ask("harmonylite-changes-consistency.repair.1",
            "{\"v\":1,\"check\":\"x\",\"table\":\"items\\\"; DROP TABLE items; "
            "--\",\"keys\":[[[\"int\",\"1\"]]]}");
    QVERIFY2(a.contains("is not a watched table here"), a.constData());
    a = ask("harmonylite-changes-consistency.repair.1",
            "{\"v\":1,\"check\":\"x\",\"table\":\"tags\",\"keys\":[[[\"int\",\"1\"]]]}");
    QVERIFY2(a.contains("a key of 1 value(s), tags has 2 key column(s)"), a.constData());
    a = ask(hold,
            "{\"v\":1,\"check\":\"y\",\"target\":{\"harmonylite-changes-c-1\":\"999999\"},\"hold_"
            "ms\":100}");
    QVERIFY2(a.contains("names no position for harmonylite-changes-c-2"), a.constData());
    for (NodeProcess* n : c.nodes) {
      QCOMPARE(n->sql("SELECT count(*) FROM items"), QString("3"));
      // Through the node's logging thread: maybe a little later.
      QVERIFY2(
          test::waitFor(
              [n] { return n->log().contains("ignored a malformed consistency request"); }, 10000),
          qPrintable(n->log()));
    }
    const test::ProcessResult r = checkFrom(c.nodes[0]->configPath());
    QVERIFY2(r.exitCode == 0, r.out.constData());
    for (NodeProcess* n : c.nodes) QCOMPARE(n->stop(), 0);
  }

  // A table of 1,000,000 rows on each node (loaded before the nodes start, so not replicated):
  // the check agrees, then finds the one row changed behind node 3's back.
  void millionRowTable() {
    Cluster c;
    c.schema = QString(kSchema) +
               "CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT, n REAL);"
               "WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE x < 1000000) "
               "INSERT INTO big SELECT x, 'value ' || x, x / 7.0 FROM k;";
    if (Status s = c.start(m_dir.filePath("big")); !s.isOk()) QFAIL(qPrintable(s.message()));
    test::ProcessResult r;
    QVERIFY2(test::waitFor([&] { return (r = checkFrom(c.nodes[0]->configPath())).exitCode == 0; },
                           kConverge, 500),
             r.out.constData());
    QString out = QString::fromUtf8(r.out);
    qInfo("%s", qPrintable(out));
    QVERIFY2(out.contains("table big: agree (1000000 rows"), qPrintable(out));
    QVERIFY(behindTheBack(c.nodes[2], "UPDATE big SET n = -1 WHERE id = 777777"));
    r = checkFrom(c.nodes[0]->configPath());
    out = QString::fromUtf8(r.out);
    qInfo("%s", qPrintable(out));
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(out.contains("  row 777777:\n    node 1: id=777777, v='value 777777', n=111111.0\n"
                          "    node 2: id=777777, v='value 777777', n=111111.0\n"
                          "    node 3: id=777777, v='value 777777', n=-1.0\n"),
             qPrintable(out));
    QCOMPARE(out.count("  row "), 1);
    for (NodeProcess* n : c.nodes) QCOMPARE(n->stop(), 0);
  }

  // consistency.interval on node 1: its scheduled checks show in /health and /metrics, agree,
  // then find a row changed behind node 2's back (docs/consistency.md#in-the-appliance).
  void scheduledChecksShowInHealthAndMetrics() {
    Cluster c;
    c.healthPort = test::freePort();
    c.metricsPort = test::freePort();
    c.firstNodeToml = QStringLiteral(
                          "[consistency]\ninterval = 1000\n[prometheus]\nenable = true\n"
                          "bind = \"127.0.0.1:%1\"\n")
                          .arg(c.metricsPort);
    if (Status s = c.start(m_dir.filePath("scheduled")); !s.isOk()) QFAIL(qPrintable(s.message()));
    QVERIFY(c.write(2));
    QJsonObject health;
    auto consistency = [&] {
      QByteArray body;
      if (test::httpGet(c.healthPort, "/health", &body) != 200) return QJsonObject();
      health = QJsonDocument::fromJson(body).object().value("consistency").toObject();
      return health;
    };
    QVERIFY2(test::waitFor([&] { return consistency().value("verdict").toString() == "agree"; },
                           kConverge, 200),
             QJsonDocument(health).toJson().constData());
    QCOMPARE(health.value("tables_checked").toInt(), 4);
    QCOMPARE(health.value("interval_ms").toInt(), 1000);
    QCOMPARE(health.value("nodes").toObject().value("2").toString(), QString("agrees"));
    QVERIFY(health.value("positions").toString().startsWith("harmonylite-changes-c-1="));
    QVERIFY(behindTheBack(c.nodes[1], "UPDATE items SET qty = 999 WHERE id = 4"));
    QVERIFY2(test::waitFor([&] { return consistency().value("verdict").toString() == "differ"; },
                           kConverge, 200),
             QJsonDocument(health).toJson().constData());
    QCOMPARE(health.value("tables_differing").toInt(), 1);
    QCOMPARE(health.value("rows_differing").toInt(), 1);
    QCOMPARE(health.value("nodes").toObject().value("2").toString(), QString("differs in items"));
    QCOMPARE(health.value("nodes").toObject().value("1").toString(), QString("agrees"));
    QByteArray metrics;
    QCOMPARE(test::httpGet(c.metricsPort, "/metrics", &metrics), 200);
    QVERIFY2(metrics.contains("harmonylite_consistency_tables_differing{node_id=\"1\"} 1\n"),
             metrics.constData());
    QVERIFY2(metrics.contains("harmonylite_consistency_rows_differing{node_id=\"1\"} 1\n"),
             metrics.constData());
    QVERIFY2(metrics.contains("harmonylite_consistency_last_check_comparable{node_id=\"1\"} 1\n"),
             metrics.constData());
    QVERIFY2(test::waitFor(
                 [&] { return c.nodes[0]->log().contains("the nodes differ: items (1 row(s))"); },
                 10000),
             qPrintable(c.nodes[0]->log()));
    for (NodeProcess* n : c.nodes) QCOMPARE(n->stop(), 0);
  }

  // NATS that cannot be reached: exit 2, with the reason.
  void checkWithoutNats() {
    const QString config = m_dir.filePath("nonats.toml");
    QFile f(config);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(
        QStringLiteral("node_id = 9\ndb_path = \"%1\"\n[nats]\nurls = [\"nats://127.0.0.1:%2\"]\n")
            .arg(m_dir.filePath("nonats.db"))
            .arg(test::freePort())
            .toUtf8());
    f.close();
    const test::ProcessResult r = checkFrom(config);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("harmonylite: "), r.err.constData());
    QVERIFY(r.out.isEmpty());
  }

  // A database path that does not exist: exit 1, and the error names the file.
  void unreadableDatabase() {
    const QString config = m_dir.filePath("missing.toml");
    QFile f(config);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QStringLiteral("node_id = 9\ndb_path = \"%1\"\n")
                .arg(m_dir.filePath("nowhere/missing.db"))
                .toUtf8());
    f.close();
    const test::ProcessResult r = digestOf(config);
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("missing.db"), r.err.constData());
    QVERIFY(r.out.isEmpty());
  }
};

QTEST_GUILESS_MAIN(TestConsistency)
#include "tst_consistency.moc"
