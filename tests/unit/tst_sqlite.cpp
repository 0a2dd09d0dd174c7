// The SQLite RAII wrappers: connection, statements, transactions, error conversion, quoting.
#include <QTemporaryDir>
#include <QtTest>

#include <QElapsedTimer>

#include <thread>

#include "runtime/wal_checkpointer.h"
#include "sqlite/sqlite_db.h"
#include "test_support.h"

using namespace hl;

class TestSqlite : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  SqliteDb openDb(const QString& name) {
    auto db = SqliteDb::open(m_dir.filePath(name));
    if (!db) qFatal("open: %s", qPrintable(db.status().message()));
    return std::move(db.value());
  }

 private slots:
  void bindAndReadEveryStorageClass() {
    SqliteDb db = openDb("types.db");
    QVERIFY(db.exec("CREATE TABLE t(v)").isOk());
    auto ins = db.prepare("INSERT INTO t(v) VALUES (?)");
    QVERIFY(ins.ok());
    const int64_t kMin = std::numeric_limits<int64_t>::min();
    const int64_t kMax = std::numeric_limits<int64_t>::max();
    QVERIFY(ins->bindNull(1).isOk());
    QVERIFY(ins->run().isOk());
    ins->reset();
    QVERIFY(ins->bindInt(1, kMin).isOk());
    QVERIFY(ins->run().isOk());
    ins->reset();
    QVERIFY(ins->bindInt(1, kMax).isOk());
    QVERIFY(ins->run().isOk());
    ins->reset();
    QVERIFY(ins->bindDouble(1, 0.1).isOk());
    QVERIFY(ins->run().isOk());
    ins->reset();
    QVERIFY(ins->bindText(1, QString::fromUtf8("grüße ✓").toUtf8()).isOk());
    QVERIFY(ins->run().isOk());
    ins->reset();
    QVERIFY(ins->bindBlob(1, QByteArray("\x00\x01\xff", 3)).isOk());
    QVERIFY(ins->run().isOk());
    ins->reset();
    QVERIFY(ins->bindBlob(1, QByteArray()).isOk());
    QVERIFY(ins->run().isOk());
    ins->reset();

    auto sel = db.prepare("SELECT v, typeof(v) FROM t ORDER BY rowid");
    QVERIFY(sel.ok());
    QStringList types;
    while (*sel->step()) types << sel->columnText(1);
    QCOMPARE(types, QStringList({"null", "integer", "integer", "real", "text", "blob", "blob"}));
    sel->reset();
    QVERIFY(*sel->step());
    QCOMPARE(sel->columnType(0), SQLITE_NULL);
    QVERIFY(*sel->step());
    QCOMPARE(sel->columnInt(0), kMin);
    QVERIFY(*sel->step());
    QCOMPARE(sel->columnInt(0), kMax);
    QVERIFY(*sel->step());
    QCOMPARE(sel->columnDouble(0), 0.1);
    QVERIFY(*sel->step());
    QCOMPARE(sel->columnText(0), QString::fromUtf8("grüße ✓"));
    QVERIFY(*sel->step());
    QCOMPARE(sel->columnBytes(0), QByteArray("\x00\x01\xff", 3));
    QVERIFY(*sel->step());
    QCOMPARE(sel->columnBytes(0), QByteArray());
    QCOMPARE(*sel->step(), false);
  }

  // A table made by an older version gets the newer column once; existing rows read NULL.
  void addColumnIfMissingAddsOnce() {
    SqliteDb db = openDb("columns.db");
    QVERIFY(db.exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)").isOk());
    auto added = db.addColumnIfMissing("t", "b");
    QVERIFY(added.ok() && *added);
    added = db.addColumnIfMissing("t", "b");
    QVERIFY(added.ok() && !*added);
    QCOMPARE(*db.queryInt("SELECT count(*) FROM t WHERE a = 1 AND b IS NULL"), int64_t(1));
    QVERIFY(!db.addColumnIfMissing("no_such_table", "b").ok());
  }

  void transactionRollsBackUnlessCommitted() {
    SqliteDb db = openDb("txn.db");
    QVERIFY(db.exec("CREATE TABLE t(x)").isOk());
    {
      auto txn = SqliteTxn::begin(db);
      QVERIFY(txn.ok());
      QVERIFY(db.exec("INSERT INTO t VALUES (1)").isOk());
    }  // destroyed without commit
    QCOMPARE(*db.queryInt("SELECT count(*) FROM t"), int64_t(0));
    {
      auto txn = SqliteTxn::begin(db);
      QVERIFY(db.exec("INSERT INTO t VALUES (2)").isOk());
      QVERIFY(txn->commit().isOk());
      QVERIFY(!txn->isActive());
      QVERIFY(!txn->commit().isOk());  // twice is an error, not a crash
    }
    QCOMPARE(*db.queryInt("SELECT count(*) FROM t"), int64_t(1));
  }

  void busyIsRetryable() {
    SqliteDb a = openDb("busy.db");
    QVERIFY(a.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x)").isOk());
    SqliteDb::Options o;
    o.busyTimeoutMs = 10;
    auto b = SqliteDb::open(m_dir.filePath("busy.db"), o);
    QVERIFY(b.ok());
    auto txn = SqliteTxn::begin(a);
    QVERIFY(txn.ok());
    auto other = SqliteTxn::begin(*b);
    QVERIFY(!other.ok());
    QCOMPARE(other.status().code(), Status::Code::kBusy);
    QVERIFY(other.status().isRetryable());
    QVERIFY(other.status().message().contains("begin transaction"));
  }

  // setBusyTimeout()'s handler: a lock freed while waiting is taken, one held past the timeout
  // is not.
  void busyWaitTakesALockFreedMeanwhile() {
    SqliteDb a = openDb("wait.db");
    QVERIFY(a.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x)").isOk());
    SqliteDb b = openDb("wait.db");
    b.setBusyTimeout(5000);
    auto held = SqliteTxn::begin(a);
    QVERIFY(held.ok());
    std::thread releaser([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      (void)held->commit();
    });
    QElapsedTimer waited;
    waited.start();
    auto txn = SqliteTxn::begin(b);
    const qint64 ms = waited.elapsed();
    releaser.join();
    QVERIFY2(txn.ok(), qPrintable(txn.status().message()));
    QVERIFY2(ms >= 40, qPrintable(QString::number(ms)));  // it did wait for the lock
    QVERIFY(txn->commit().isOk());
    // Held for longer than the timeout: busy, after about the timeout.
    b.setBusyTimeout(30);
    auto again = SqliteTxn::begin(a);
    QVERIFY(again.ok());
    waited.restart();
    auto refused = SqliteTxn::begin(b);
    QVERIFY(!refused.ok());
    QCOMPARE(refused.status().code(), Status::Code::kBusy);
    QVERIFY2(waited.elapsed() >= 25, qPrintable(QString::number(waited.elapsed())));
  }

  // A connection that leaves checkpoints elsewhere lets its WAL grow past SQLite's automatic
  // 1000 pages; the checkpointer's thread copies it back.
  void checkpointerCopiesTheWalBack() {
    SqliteDb a = openDb("wal.db");
    WriteLockWindow window;  // its commits go through the WAL hook, as the engine's do
    a.setWriteLockWindow(&window);
    QVERIFY(a.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x)").isOk());
    QVERIFY(a.setCheckpointsElsewhere(true).isOk());
    const QByteArray blob(3000, 'x');
    for (int i = 0; i < 2000; ++i) {  // about 2 pages per row
      auto txn = SqliteTxn::begin(a);
      QVERIFY(txn.ok());
      auto ins = a.cached("INSERT INTO t VALUES (?)");
      QVERIFY(ins.ok());
      QVERIFY((*ins)->bindBlob(1, blob).isOk());
      QVERIFY((*ins)->run().isOk());
      QVERIFY(txn->commit().isOk());
    }
    auto pageSize = a.queryInt("PRAGMA page_size");
    QVERIFY(pageSize.ok());
    const QString wal = m_dir.filePath("wal.db-wal");
    QVERIFY2(QFileInfo(wal).size() > 2000 * *pageSize, "the engine's connection checkpointed");
    // The rows are in the WAL only: the database file has not grown yet.
    const QString file = m_dir.filePath("wal.db");
    QVERIFY(QFileInfo(file).size() < 100 * *pageSize);
    WalCheckpointer checkpointer(m_dir.filePath("wal.db"), 20);
    QVERIFY(checkpointer.start().isOk());
    QVERIFY(test::waitFor([&] { return checkpointer.checkpoints() >= 1; }, 10000));
    checkpointer.stop();
    QVERIFY2(QFileInfo(file).size() > 2000 * 3000, "the checkpoint copied the rows back");
    // One that cannot open the database says so and runs nothing.
    WalCheckpointer broken(m_dir.filePath("missing/nothing.db"), 20);
    QVERIFY(!broken.start().isOk());
  }

  void errorsAreConverted() {
    SqliteDb db = openDb("err.db");
    auto bad = db.prepare("SELEC nonsense");
    QVERIFY(!bad.ok());
    QVERIFY(bad.status().message().contains("syntax error"));
    QVERIFY(db.exec("CREATE TABLE u(x UNIQUE)").isOk());
    QVERIFY(db.exec("INSERT INTO u VALUES (1)").isOk());
    const Status dup = db.exec("INSERT INTO u VALUES (1)");
    QCOMPARE(dup.code(), Status::Code::kInvalidArgument);
    QVERIFY(dup.message().contains("UNIQUE"));

    auto missing = SqliteDb::open(m_dir.filePath("no/such/dir/x.db"));
    QVERIFY(!missing.ok());
    QCOMPARE(missing.status().code(), Status::Code::kIoError);
    QVERIFY(missing.status().message().contains("no/such/dir/x.db"));

    QVERIFY(test::writeFile(m_dir.filePath("junk.db"), QByteArray(4096, 'x')));
    auto junk = SqliteDb::open(m_dir.filePath("junk.db"));
    QVERIFY(junk.ok());  // opening is lazy
    auto q = junk->queryInt("SELECT count(*) FROM sqlite_schema");
    QVERIFY(!q.ok());
    QCOMPARE(q.status().code(), Status::Code::kCorruption);
  }

  void rowsIterateAndResetTheStatement() {
    auto db = SqliteDb::open(m_dir.filePath("rows.db"));
    QVERIFY(db.ok());
    QVERIFY(db->exec("CREATE TABLE v(n INTEGER); INSERT INTO v VALUES (1), (2), (3)").isOk());
    auto stmt = db->prepare("SELECT n FROM v WHERE n >= ? ORDER BY n");
    QVERIFY(stmt.ok());
    for (int round = 0; round < 2; ++round) {  // reset at the end: the statement runs again
      QVERIFY(stmt->bindInt(1, 2).isOk());
      QList<int64_t> seen;
      SqliteRows rows(*stmt);
      for (const SqliteStmt& row : rows) seen << row.columnInt(0);
      QVERIFY(rows.status().isOk());
      QCOMPARE(seen, (QList<int64_t>{2, 3}));
    }
    SqliteRows none(*stmt);  // bindings were cleared: n >= NULL matches nothing
    int count = 0;
    for ([[maybe_unused]] const SqliteStmt& row : none) ++count;
    QCOMPARE(count, 0);
    QVERIFY(none.status().isOk());
  }

  void rowsStopAtAFailedStepAndSayWhy() {
    auto db = SqliteDb::open(m_dir.filePath("rows-error.db"));
    QVERIFY(db.ok());
    QVERIFY(
        db->exec("CREATE TABLE v(n INTEGER); INSERT INTO v VALUES (1), (-9223372036854775808), (3)")
            .isOk());
    auto stmt = db->prepare("SELECT abs(n) FROM v ORDER BY rowid");  // abs() overflows on row 2
    QVERIFY(stmt.ok());
    QList<int64_t> seen;
    SqliteRows rows(*stmt);
    for (const SqliteStmt& row : rows) seen << row.columnInt(0);
    QCOMPARE(seen, QList<int64_t>{1});
    QVERIFY(!rows.status().isOk());
    QVERIFY2(rows.status().message().contains("integer overflow"),
             qPrintable(rows.status().message()));
  }

  void quotingSurvivesHostileNames_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("space") << "my table";
    QTest::newRow("quote") << "we\"ird";
    QTest::newRow("injection") << "x\"; DROP TABLE t; --";
    QTest::newRow("keyword") << "select";
    QTest::newRow("dash") << "a-b";
  }
  void quotingSurvivesHostileNames() {
    QFETCH(QString, name);
    SqliteDb db = openDb("quote.db");
    QVERIFY(db.exec("CREATE TABLE IF NOT EXISTS t(x)").isOk());
    const QString q = quoteIdentifier(name);
    QVERIFY(db.exec("CREATE TABLE " + q + "(" + q + " INTEGER)").isOk());
    QVERIFY(db.exec("INSERT INTO " + q + " VALUES (5)").isOk());
    auto n = db.prepare("SELECT name FROM sqlite_schema WHERE name = ?");
    QVERIFY(n->bindText(1, name.toUtf8()).isOk());
    QVERIFY(*n->step());
    QCOMPARE(n->columnText(0), name);
    n->reset();  // a statement still stepping keeps the table locked
    QCOMPARE(*db.queryInt("SELECT count(*) FROM sqlite_schema WHERE name = 't'"), int64_t(1));
    QVERIFY(db.exec("DROP TABLE " + q).isOk());
  }
};

QTEST_GUILESS_MAIN(TestSqlite)
#include "tst_sqlite.moc"
