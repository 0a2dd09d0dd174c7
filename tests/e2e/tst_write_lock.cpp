// The write lock (docs/replication.md#write-lock, issue 15): how long a node's own write
// transactions hold SQLite's write lock while it applies about 10,000 rows/s from another node,
// and while it publishes its own. An application that writes at the same moment waits that long
// (with a busy timeout) or gets "database is locked" (without one). The figures come from the
// node itself (/health's write_lock, /metrics' write_lock_hold_seconds) and are printed; the
// test holds them to the documented bounds (p99 under 5 ms is the target, the maximum must stay
// under 50 ms) with a margin for a loaded test machine, and proves that an application with the
// documented busy timeout never sees "database is locked".
// Also: acks that arrive while another connection holds the write lock wait in memory and are
// recorded once it is free; nothing is sent again and publishing goes on.
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>

#include "node_process.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {
constexpr int kRate = 10000;  // rows per second written on node 1
constexpr int kSeconds = 6;

// Writes kRate rows/s for kSeconds on `db` in transactions of 100 rows every 10 ms, with the
// documented busy timeout, and counts "database is locked" errors (there must be none). Also
// takes the write lock on `other` (node 2, which applies) without any busy timeout after every
// transaction (BEGIN IMMEDIATE; ROLLBACK: nothing to replicate), counting how often an
// application without a busy timeout collides with the node's transactions.
const char* kWriter = R"PY(
import sqlite3, sys, time
db, other, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA busy_timeout = 5000")
o = sqlite3.connect(other, isolation_level=None, timeout=0)
o.execute("PRAGMA busy_timeout = 0")
per_tx = 100
start = time.monotonic()
n = 0
locked = 0
probes = 0
probe_locked = 0
while n < rate * seconds:
    due = start + n / rate
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    try:
        c.execute("BEGIN")
        c.executemany("INSERT INTO Books(id, title, author) VALUES (?, 'lock', 'w')",
                      [(n + i + 1,) for i in range(per_tx)])
        c.execute("COMMIT")
        n += per_tx
    except sqlite3.OperationalError as e:
        locked += 1
        try: c.execute("ROLLBACK")
        except Exception: pass
    try:
        probes += 1
        o.execute("BEGIN IMMEDIATE")  # takes the write lock like any writer, changes nothing
        o.execute("ROLLBACK")
    except sqlite3.OperationalError:
        probe_locked += 1
print(n, locked, probes, probe_locked, round(time.monotonic() - start, 2))
)PY";

struct Lock {
  double p50 = 0, p99 = 0, max = 0;
  int transactions = 0;
};
Lock lockOf(int port) {
  QByteArray body;
  test::httpGet(port, "/health", &body);
  const QJsonObject w = QJsonDocument::fromJson(body).object().value("write_lock").toObject();
  return {w.value("p50_seconds").toDouble(), w.value("p99_seconds").toDouble(),
          w.value("max_seconds").toDouble(), w.value("transactions").toInt()};
}
QString ms(const Lock& l) {
  return QStringLiteral("p50 %1 ms, p99 %2 ms, max %3 ms over %4 transactions")
      .arg(l.p50 * 1000, 0, 'f', 2)
      .arg(l.p99 * 1000, 0, 'f', 2)
      .arg(l.max * 1000, 0, 'f', 2)
      .arg(l.transactions);
}
}  // namespace

class TestWriteLock : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }

  void writeLockHeldBriefly() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    QList<int> ports;
    std::vector<std::unique_ptr<NodeProcess>> nodes;
    for (int i = 1; i <= 2; ++i) {
      ports << test::freePort();
      NodeProcess::Options o;
      o.nodeId = uint64_t(i);
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(i));
      o.urls = {server.url()};
      o.healthPort = ports.last();
      nodes.push_back(std::make_unique<NodeProcess>(o));
      QVERIFY2(nodes.back()->start().isOk(), qPrintable(nodes.back()->log()));
    }
    const QString script = m_dir.filePath("writer.py");
    QVERIFY(test::writeFile(script, kWriter));
    const test::ProcessResult r = test::runProcess(
        "python3",
        {script, nodes[0]->db(), nodes[1]->db(), QString::number(kRate), QString::number(kSeconds)},
        kSeconds * 1000 + 60000);
    QVERIFY2(r.exitCode == 0, qPrintable(QString::fromUtf8(r.out + r.err)));
    const QStringList f = QString::fromUtf8(r.out).trimmed().split(' ');
    QCOMPARE(f.size(), 5);
    const QString total = f[0];
    QVERIFY2(test::waitConverged({nodes[0].get(), nodes[1].get()}, "SELECT count(*) FROM Books",
                                 120000, total),
             qPrintable(nodes[1]->log().right(3000)));
    const Lock publisher = lockOf(ports[0]), applier = lockOf(ports[1]);
    qInfo().noquote() << QStringLiteral(
                             "%1 rows in %2 s (%3 rows/s); writer with busy_timeout 5000: %4 "
                             "locked errors; writer without busy timeout on the applying node: "
                             "%5 of %6 writes locked")
                             .arg(total, f[4])
                             .arg(total.toDouble() / f[4].toDouble(), 0, 'f', 0)
                             .arg(f[1], f[3], f[2]);
    qInfo().noquote() << "write lock, applying node:" << ms(applier);
    qInfo().noquote() << "write lock, publishing node:" << ms(publisher);
    QCOMPARE(f[1], QString("0"));  // the documented busy timeout: never "database is locked"
    QVERIFY(applier.transactions > 0 && publisher.transactions > 0);
    for (const Lock& l : {applier, publisher}) {
      QVERIFY(l.p50 <= l.p99 && l.p99 <= l.max);
      // Wall-clock times: on a shared 2-core test machine with a load average of 4 a
      // transaction is often preempted (p99 measured 8-14 ms there, docs/replication.md), so
      // the bounds carry a margin: the maximum 50 ms doubled, the p99 target 5 ms times five.
      QVERIFY2(l.max < 0.050 * 2, qPrintable(ms(l)));
      QVERIFY2(l.p99 < 0.005 * 5, qPrintable(ms(l)));
    }
    for (auto& n : nodes) QCOMPARE(n->stop(), 0);
  }

  // Node 1 is stopped (SIGSTOP) while the application commits 50 rows and then holds the write
  // lock; node 1 goes on, publishes, and its acks find the database locked. Node 2 gets every
  // row and node 1 says its acks wait while the lock is still held; once it is free, node 1
  // records every ack, with no "publishing failed" (before: a failed round, sent again after a
  // growing backoff).
  void acksWaitForALockedDatabase() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    std::vector<std::unique_ptr<NodeProcess>> nodes;
    for (int i = 1; i <= 2; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(i);
      o.dir = m_dir.filePath(QStringLiteral("locked%1").arg(i));
      o.urls = {server.url()};
      nodes.push_back(std::make_unique<NodeProcess>(o));
      QVERIFY2(nodes.back()->start().isOk(), qPrintable(nodes.back()->log()));
    }
    NodeProcess& n1 = *nodes[0];
    NodeProcess& n2 = *nodes[1];
    const QString script = m_dir.filePath("holder.py");
    QVERIFY(test::writeFile(script, R"PY(
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN")
for i in range(1, 51):
    c.execute("INSERT INTO Books(id, title, author) VALUES (?, 'held', 'x')", (70000 + i,))
c.execute("COMMIT")
c.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
c.execute("ROLLBACK")
print("free", flush=True)
)PY"));
    QVERIFY(::kill(pid_t(n1.pid()), SIGSTOP) == 0);
    QProcess holder;
    holder.start("python3", {script, n1.db()});
    const bool held = holder.waitForReadyRead(10000) && holder.readLine().trimmed() == "held";
    QVERIFY(::kill(pid_t(n1.pid()), SIGCONT) == 0);
    QVERIFY2(held, holder.readAllStandardError().constData());
    const QString rows = "SELECT count(*) FROM Books WHERE id > 70000";
    const bool sent = test::waitFor([&] { return n2.sql(rows) == "50"; }, 15000);
    const bool waited = test::waitFor(
        [&] { return n1.log().contains("wait for the database (locked by another connection)"); },
        15000);
    // The lock stays held a second longer: the node tries again several times meanwhile
    // (after 1, 2, 4 ... ms, up to 100 ms), which must not repeat the line.
    QTest::qWait(1000);
    const QString pending =
        "SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL AND op > 0";
    const QString unrecorded = n1.sql(pending);
    holder.write("\n");
    holder.closeWriteChannel();
    QVERIFY(holder.waitForFinished(15000));
    QVERIFY2(sent, qPrintable(n1.log().right(2000)));
    QVERIFY2(waited, qPrintable(n1.log().right(2000)));
    QCOMPARE(unrecorded, QString("50"));  // sent, acked, not recorded while the lock was held
    QVERIFY2(test::waitFor([&] { return n1.sql(pending) == "0"; }, 10000),
             qPrintable(n1.log().right(2000)));
    QVERIFY2(!n1.log().contains("publishing failed"), qPrintable(n1.log().right(3000)));
    // Said once for the whole wait, not at every retry.
    QCOMPARE(n1.log().count("wait for the database (locked by another connection)"), 1);
    for (auto& n : nodes) QCOMPARE(n->stop(), 0);
  }
};

QTEST_GUILESS_MAIN(TestWriteLock)
#include "tst_write_lock.moc"
