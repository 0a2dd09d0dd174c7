// Snapshot faults with real processes (docs/snapshots.md): a store that cannot be written
// (the node keeps replicating and retries with backoff, never a crash), and the leader killed
// in the middle of an upload (another node takes the lease after the TTL; the store's latest is
// still the previous whole snapshot, and the next leader's snapshot verifies).
#include <QtTest>

#include <QCryptographicHash>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>

#include "nats_test_client.h"
#include "node_process.h"
#include "snapshot/nats_object_store.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {

QJsonObject health(int port) {
  QByteArray body;
  test::httpGet(port, "/health", &body);
  return QJsonDocument::fromJson(body).object();
}

// The value of a metrics sample whose line starts with `prefix` (-1 when absent).
double metric(int port, const QByteArray& prefix) {
  QByteArray body;
  if (test::httpGet(port, "/metrics", &body) != 200) return -1;
  for (const QByteArray& line : body.split('\n'))
    if (line.startsWith(prefix)) return line.mid(line.lastIndexOf(' ') + 1).toDouble();
  return -1;
}

QString sha256Of(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  QCryptographicHash h(QCryptographicHash::Sha256);
  h.addData(&f);
  return QString::fromLatin1(h.result().toHex());
}

QJsonObject readJson(const QString& path) {
  return QJsonDocument::fromJson(test::readFile(path)).object();
}

}  // namespace

// A Go node's snapshot: `VACUUM INTO` of its database (no metadata of ours), uploaded as
// snapshot.db with its header harmonylite-snapshot-tag.
void uploadGoSnapshot(const QString& url, const QString& bucket, const QString& goDb) {
  auto nc = test::connectTo({url}, {}, {}, 2000);
  QVERIFY(nc.ok());
  NatsObjectStore store(nc->get(), bucket, 1);
  QFile f(goDb);
  QVERIFY(f.open(QIODevice::ReadOnly));
  Status s = store.put("snapshot.db", f, f.size(), {{"harmonylite-snapshot-tag", "go-1"}}, {});
  QVERIFY2(s.isOk(), qPrintable(s.message()));
}

class TestSnapshotFaults : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() {
    Status s = m_server.start();
    QVERIFY2(s.isOk(), qPrintable(s.message()));
  }

  // The store is a path under a regular file: every upload fails. The node says why, counts
  // the failures, backs off, stays healthy and keeps replicating.
  void unwritableStoreKeepsReplicating() {
    QTemporaryDir dir;
    QVERIFY(test::writeFile(dir.filePath("not-a-dir"), "x"));
    const int m1 = test::freePort(), h1 = test::freePort();
    NodeProcess::Options o1;
    o1.nodeId = 1;
    o1.dir = dir.filePath("n1");
    o1.urls = {m_server.url()};
    o1.healthPort = h1;
    o1.tablesToml =
        QStringLiteral(
            "[snapshot]\nstore = \"local\"\ninterval = 1000\n[snapshot.local]\npath = \"%1\"\n"
            "[prometheus]\nenable = true\nbind = \"127.0.0.1:%2\"\n")
            .arg(dir.filePath("not-a-dir/store"))
            .arg(m1);
    NodeProcess::Options o2 = o1;
    o2.nodeId = 2;
    o2.dir = dir.filePath("n2");
    o2.tablesToml.clear();
    o2.healthPort = 0;
    NodeProcess n1(o1), n2(o2);
    QVERIFY(n1.start().isOk());
    QVERIFY(n2.start().isOk());
    const QByteArray uploads = "harmonylite_snapshot_failures_total{node_id=\"1\",kind=\"upload\"}";
    QVERIFY2(test::waitFor([&] { return metric(m1, uploads) >= 1; }, 30000), qPrintable(n1.log()));
    QVERIFY2(test::waitFor([&] { return n1.log().contains("snapshot failed:"); }, 10000),
             qPrintable(n1.log()));
    QVERIFY2(n1.log().contains("not-a-dir"), qPrintable(n1.log()));  // it names the path
    // Backoff: 5 s, 10 s, ... after failures, not a retry every 2 s check.
    const double first = metric(m1, uploads);
    QTest::qWait(6000);  // an observation window, not a synchronisation
    const double later = metric(m1, uploads);
    QVERIFY2(later - first <= 1, qPrintable(QStringLiteral("%1 -> %2").arg(first).arg(later)));
    // Still healthy, still replicating.
    QCOMPARE(health(h1).value("status").toString(), QString("healthy"));
    QVERIFY(!health(h1).value("snapshots").toObject().value("last_error").toString().isEmpty());
    for (int i = 0; i < 20; ++i)
      n1.sql(QStringLiteral("INSERT INTO Books(title, author, publication_year) VALUES "
                            "('faults %1', 'a', 2000)")
                 .arg(i));
    QVERIFY(test::waitConverged({&n1, &n2}, "SELECT count(*) FROM Books WHERE title LIKE 'faults%'",
                                30000, "20"));
    QVERIFY(n1.isRunning());
    QCOMPARE(n1.stop(), 0);
    QCOMPARE(n2.stop(), 0);
  }

  // A Go node's snapshot.db is listed with what it lacks as unknown, verifies, and restores
  // (the streams are replayed from what they still hold, as its watermark is unknown).
  void goSnapshotListedAndRestored() {
    QTemporaryDir dir;
    NodeProcess::Options o;
    o.nodeId = 7;
    o.dir = dir.filePath("n7");
    o.urls = {m_server.url()};
    o.tablesToml = "[snapshot.nats]\nbucket = \"go-bucket\"\n";
    NodeProcess n(o);
    QVERIFY(n.start().isOk());  // creates the schema and the streams
    QCOMPARE(n.stop(), 0);
    // The Go node's database: the same schema, other rows, made with VACUUM INTO.
    const QString goSource = dir.filePath("go-source.db"), goSnap = dir.filePath("go-snap.db");
    bool ok = false;
    test::sqlite3(goSource,
                  QString::fromLatin1(test::kReferenceSchema) +
                      "; INSERT INTO Books(id, title, author, publication_year) VALUES "
                      "(1000, 'From Go', 'g', 1999); VACUUM INTO '" +
                      goSnap + "'",
                  &ok);
    QVERIFY(ok);
    uploadGoSnapshot(m_server.url(), "go-bucket", goSnap);
    auto cli = [&](const QStringList& args) {
      return test::runProcess(test::harmonyliteBinary(),
                              QStringList{"-config", n.configPath(), "--no-gui"} + args, 60000);
    };
    const test::ProcessResult list = cli({"-list-snapshots"});
    QVERIFY2(list.exitCode == 0, list.err.constData());
    QVERIFY2(list.out.contains("snapshot.db") && list.out.contains("node unknown") &&
                 list.out.contains("watermark unknown") && list.out.contains("another program") &&
                 list.out.contains("go-1"),
             list.out.constData());
    const test::ProcessResult verify = cli({"-verify-snapshot=snapshot.db"});
    QVERIFY2(verify.exitCode == 0, verify.err.constData());
    const test::ProcessResult restore = cli({"-restore-snapshot=snapshot.db"});
    QVERIFY2(restore.exitCode == 0, restore.err.constData());
    QVERIFY2(restore.out.contains("restored snapshot snapshot.db"), restore.out.constData());
    // The command returns once the streams are applied on top (docs/snapshots.md#how): the
    // Go node's row, and the rows of the earlier test that the shared server's streams hold.
    QVERIFY2(restore.out.contains("own changes after the snapshot applied again"),
             restore.out.constData());
    QCOMPARE(n.sql("SELECT title FROM Books WHERE id = 1000"), QString("From Go"));
    QVERIFY(n.sql("SELECT count(*) FROM Books WHERE title LIKE 'faults %'").toInt() > 0);
    QCOMPARE(n.sql("SELECT count(*) FROM sqlite_schema WHERE name = '__harmonylite__changes'"),
             QString("1"));  // capture is back
  }

  // kill -9 of the leader while it uploads a ~100 MB snapshot to a store both nodes share.
  void leaderKilledMidUpload() {
    QTemporaryDir dir;
    const QString store = dir.filePath("store");
    const int h1 = test::freePort(), h2 = test::freePort();
    auto options = [&](uint64_t id, int healthPort, int intervalMs) {
      NodeProcess::Options o;
      o.nodeId = id;
      o.dir = dir.filePath(QStringLiteral("n%1").arg(id));
      o.urls = {m_server.url()};
      o.topLevelToml = "ignore_tables = [\"bulk\"]";
      o.healthPort = healthPort;
      o.tablesToml = QStringLiteral(
                         "[snapshot]\nstore = \"local\"\ninterval = %1\nleader_ttl = 3000\n"
                         "[snapshot.local]\npath = \"%2\"\n")
                         .arg(intervalMs)
                         .arg(store);
      return o;
    };
    // Node 1 alone: it becomes leader and takes a first, small snapshot A at once.
    NodeProcess n1(options(1, h1, 4000));
    QVERIFY(n1.start().isOk());
    QVERIFY2(test::waitFor([&] { return QFile::exists(store + "/latest.json"); }, 30000),
             qPrintable(n1.log()));
    // A large table (not replicated) makes a later snapshot ~200 MB; the interval brings it.
    // (Its upload takes a few hundred ms here: the status, refreshed every 500 ms, must get to
    // show it.)
    bool ok = false;
    n1.sql(
        "CREATE TABLE bulk(id INTEGER PRIMARY KEY, b BLOB); "
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000) "
        "INSERT INTO bulk(b) SELECT randomblob(1000) FROM c",
        &ok);
    QVERIFY(ok);
    NodeProcess n2(options(2, h2, 600000));
    QVERIFY(n2.start().isOk());
    // Kill node 1 while it uploads the large one.
    QVERIFY2(test::waitFor(
                 [&] {
                   const QJsonObject s = health(h1).value("snapshots").toObject();
                   return s.value("activity").toString() == "uploading" &&
                          s.value("activity_total_bytes").toDouble() > 100e6;
                 },
                 60000, 5),
             qPrintable(n1.log().right(3000)));
    const QString idA = readJson(store + "/latest.json").value("id").toString();
    const QString shaA = readJson(store + "/snapshots/" + idA + ".json").value("sha256").toString();
    n1.kill();
    QElapsedTimer sinceKill;
    sinceKill.start();
    // The latest is still the previous snapshot, whole.
    QVERIFY(!shaA.isEmpty());
    QCOMPARE(readJson(store + "/latest.json").value("id").toString(), idA);
    QCOMPARE(sha256Of(store + "/snapshot.db"), shaA);
    // Node 2 takes the lease once node 1's runs out (TTL 3 s, renewed every second).
    QVERIFY2(
        test::waitFor(
            [&] {
              return health(h2).value("snapshots").toObject().value("leader_node_id").toInt() == 2;
            },
            15000),
        qPrintable(n2.log()));
    qInfo() << "node 2 leader" << sinceKill.elapsed() << "ms after the kill";
    // Node 1 kept renewing during its long job (the lease has a thread of its own), so node 2
    // becomes leader only once node 1 is gone and its lease ran out.
    QVERIFY(sinceKill.elapsed() >= 500);
    // The next snapshot (node 2's, saved with the command line) is whole and verifies.
    QCOMPARE(n2.stop(), 0);
    // Node 1's upload key ("snapshot", 10 s) may still be held: the save says so, then works.
    test::ProcessResult save;
    QVERIFY2(test::waitFor(
                 [&] {
                   save = test::runProcess(
                       test::harmonyliteBinary(),
                       {"-config", n2.configPath(), "--no-gui", "-save-snapshot"}, 120000);
                   if (save.exitCode != 0 && !save.err.contains("node 1 is uploading"))
                     return true;  // another failure: reported below
                   return save.exitCode == 0;
                 },
                 30000, 500),
             save.err.constData());
    QVERIFY2(save.exitCode == 0, save.err.constData());
    const test::ProcessResult verify =
        test::runProcess(test::harmonyliteBinary(),
                         {"-config", n2.configPath(), "--no-gui", "-verify-snapshot"}, 120000);
    QVERIFY2(verify.exitCode == 0, verify.err.constData());
    QVERIFY2(verify.out.contains("verified ok"), verify.out.constData());
    // No partial file of the killed upload is listed; its temp file is swept by later puts
    // (after an hour) and never read.
    const QString idB = readJson(store + "/latest.json").value("id").toString();
    QVERIFY(idB.endsWith("-n2"));
  }

 private:
  test::NatsServer m_server;
};

QTEST_GUILESS_MAIN(TestSnapshotFaults)
#include "tst_snapshot_faults.moc"
