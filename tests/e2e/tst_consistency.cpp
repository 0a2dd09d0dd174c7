// The consistency digest with real nodes (docs/consistency.md#command-line): three nodes on one
// nats-server after a replicated workload report the same digest of every table at the same
// positions with nothing pending; a row changed behind one node's back (its change taken out of
// the change log, so it is never published) gives that node another digest of that table
// only; a database that cannot be read is an error.
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include "node_process.h"
#include "test_support.h"

using namespace hl;
using hl::test::NodeProcess;

namespace {

const char* kSchema =
    "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, data BLOB);"
    "CREATE TABLE tags(item INTEGER, tag TEXT, note TEXT, PRIMARY KEY (item, tag)) WITHOUT ROWID;";
constexpr int kConverge = 60000;

test::ProcessResult digestOf(const QString& config) {
  return test::runProcess(test::harmonyliteBinary(), {"-config", config, "-digest"});
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
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    std::vector<std::unique_ptr<NodeProcess>> owned;
    for (int i = 1; i <= 3; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(i);
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(i));
      o.schema = kSchema;
      o.urls = {server.url()};
      owned.push_back(std::make_unique<NodeProcess>(o));
      const Status s = owned.back()->start();
      QVERIFY2(s.isOk(), qPrintable(s.message()));
    }
    const QList<NodeProcess*> nodes = test::rawPointers(owned);
    // Every node writes rows of both tables, and updates some of the others' rows.
    for (int round = 0; round < 20; ++round)
      for (int i = 0; i < 3; ++i) {
        const int id = round * 3 + i + 1;
        bool ok = false;
        nodes[i]->sql(QStringLiteral("INSERT INTO items VALUES (%1, 'item %1', %2, x'00%3'); "
                                     "INSERT INTO tags VALUES (%1, 'n%4', NULL);")
                          .arg(id)
                          .arg(round)
                          .arg(QString::number(id % 256, 16).rightJustified(2, '0'))
                          .arg(i + 1),
                      &ok);
        QVERIFY(ok);
      }
    const QString dump =
        "SELECT count(*) || ':' || sum(id) || ':' || group_concat(name) FROM items";
    QVERIFY(test::waitConverged(nodes, dump, kConverge));
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
