// The applier (docs/replication.md#applying): upsert semantics, delete by key, names checked
// before SQL, poison changes rolled back alone, echo suppression, all inside the caller's
// transaction (the consumer's, in the engine).
#include <QTemporaryDir>
#include <QtTest>

#include "apply_support.h"
#include "cdc/change_log.h"
#include "replication/applier.h"
#include "test_support.h"

using namespace hl;

namespace {
Change change(ChangeType type, const QString& table, RowImage row) {
  Change c;
  c.fromNodeId = 2;
  c.id = 1;
  c.type = type;
  c.table = table;
  c.row = std::move(row);
  return c;
}
QString dump(SqliteDb& db, const QString& sql) {
  auto s = db.prepare(sql);
  QStringList rows;
  while (*s->step()) {
    QStringList cols;
    for (int i = 0; i < s->columnCount(); ++i)
      cols << (s->columnType(i) == SQLITE_NULL ? "NULL" : s->columnText(i));
    rows << cols.join('|');
  }
  return rows.join(';');
}
}  // namespace

class TestApplier : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  SqliteDb m_db;
  std::unique_ptr<SchemaCatalog> m_catalog;
  std::unique_ptr<ChangeLog> m_log;
  std::unique_ptr<Applier> m_applier;

  Applier::BatchResult apply(const QList<Change>& changes, QList<bool> mask = {}) {
    auto r = test::applyInTransaction(m_db, *m_applier, changes, std::move(mask));
    if (!r) qFatal("apply: %s", qPrintable(r.status().message()));
    return *r;
  }

 private slots:
  void init() {
    static int n = 0;
    auto db = SqliteDb::open(m_dir.filePath(QStringLiteral("a%1.db").arg(++n)));
    QVERIFY(db.ok());
    m_db = std::move(*db);
    QVERIFY(m_db.exec(R"(
      CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b TEXT DEFAULT 'keep', u TEXT UNIQUE);
      CREATE TABLE child(id INTEGER PRIMARY KEY, tid INTEGER REFERENCES t(id) ON DELETE CASCADE);
      CREATE TABLE comp(k1 TEXT, k2 INTEGER, v, PRIMARY KEY(k1, k2)) WITHOUT ROWID;
      CREATE TABLE nopk(x, y);
      CREATE TABLE s(id INTEGER PRIMARY KEY, n INTEGER) STRICT;
      CREATE TABLE "x""; DROP TABLE t; --"(id INTEGER PRIMARY KEY, v);
      PRAGMA foreign_keys = ON;
    )")
                .isOk());
    m_catalog = std::make_unique<SchemaCatalog>(m_db, QStringList{});
    m_log = std::make_unique<ChangeLog>(m_db, *m_catalog);
    QVERIFY(m_catalog->refresh().ok());
    QVERIFY(m_log->install().isOk());
    m_applier = std::make_unique<Applier>(m_db, *m_catalog, *m_log);
  }

  void upsertUpdatesOnlyCarriedColumns() {
    QVERIFY(
        m_db.exec(
                "INSERT INTO t VALUES (1, 'a', 'local b', 'u1'); INSERT INTO child VALUES (10, 1)")
            .isOk());
    auto r = apply({change(ChangeType::kUpdate, "t",
                           {{"id", Value::integer(1)}, {"a", Value::text("remote")}})});
    QCOMPARE(r.applied, 1);
    // b untouched (the sender did not carry it), the child row survives (no delete+insert).
    QCOMPARE(dump(m_db, "SELECT * FROM t"), QString("1|remote|local b|u1"));
    QCOMPARE(dump(m_db, "SELECT * FROM child"), QString("10|1"));
    apply({change(ChangeType::kInsert, "t", {{"id", Value::integer(2)}, {"a", Value::text("n")}})});
    QCOMPARE(dump(m_db, "SELECT * FROM t WHERE id = 2"), QString("2|n|keep|NULL"));
  }

  void deleteByReceiversKey() {
    QVERIFY(m_db.exec("INSERT INTO comp VALUES ('a', 1, 'x'), ('a', 2, 'y'); INSERT INTO "
                      "nopk(rowid, x) VALUES (7, 'r')")
                .isOk());
    apply(
        {change(ChangeType::kDelete, "comp", {{"k2", Value::integer(1)}, {"k1", Value::text("a")}}),
         change(ChangeType::kDelete, "nopk", {{"rowid", Value::integer(7)}})});
    QCOMPARE(dump(m_db, "SELECT * FROM comp"), QString("a|2|y"));
    QCOMPARE(*m_db.queryInt("SELECT count(*) FROM nopk"), int64_t(0));
  }

  void rowidTables() {
    apply({change(ChangeType::kInsert, "nopk",
                  {{"x", Value::text("a")}, {"rowid", Value::integer(42)}})});
    apply({change(ChangeType::kUpdate, "nopk",
                  {{"y", Value::integer(5)}, {"rowid", Value::integer(42)}})});
    QCOMPARE(dump(m_db, "SELECT rowid, x, y FROM nopk"), QString("42|a|5"));
  }

  void hostileAndUnknownNamesArePoisonAndChangeNothing_data() {
    QTest::addColumn<QString>("table");
    QTest::addColumn<QString>("column");
    QTest::addColumn<QString>("reason");
    QTest::newRow("injection table") << "x\"; DROP TABLE t; --x"
                                     << "id"
                                     << "unknown table";
    QTest::newRow("injection table 2") << "t\"; DROP TABLE child; --"
                                       << "id"
                                       << "unknown table";
    QTest::newRow("unknown column") << "t"
                                    << "nope"
                                    << "unknown column \"nope\"";
    QTest::newRow("injection column") << "t"
                                      << "a\" = 1; DROP TABLE t; --"
                                      << "unknown column";
    QTest::newRow("internal table") << "__harmonylite__changes"
                                    << "id"
                                    << "unknown table";
    QTest::newRow("sqlite table") << "sqlite_schema"
                                  << "name"
                                  << "unknown table";
  }
  void hostileAndUnknownNamesArePoisonAndChangeNothing() {
    QFETCH(QString, table);
    QFETCH(QString, column);
    QFETCH(QString, reason);
    QVERIFY(m_db.exec("INSERT INTO t VALUES (1, 'a', 'b', 'u')").isOk());
    const QString before = dump(m_db, "SELECT type, name, sql FROM sqlite_schema ORDER BY name") +
                           dump(m_db, "SELECT * FROM t");
    auto r = apply({change(ChangeType::kInsert, table,
                           {{"id", Value::integer(1)}, {column, Value::text("v")}})});
    QCOMPARE(r.poisoned, 1);
    QCOMPARE(r.outcomes[0].code(), Status::Code::kPoison);
    QVERIFY2(r.outcomes[0].message().contains(reason), qPrintable(r.outcomes[0].message()));
    QCOMPARE(dump(m_db, "SELECT type, name, sql FROM sqlite_schema ORDER BY name") +
                 dump(m_db, "SELECT * FROM t"),
             before);
  }

  void badChangesArePoisonAndTheRestOfTheBatchCommits() {
    QVERIFY(m_db.exec("INSERT INTO t VALUES (1, 'a', 'b', 'taken')").isOk());
    auto r = apply({
        change(ChangeType::kInsert, "t", {{"id", Value::integer(2)}, {"u", Value::text("ok")}}),
        change(ChangeType::kInsert, "t",
               {{"id", Value::integer(3)}, {"u", Value::text("taken")}}),  // UNIQUE
        change(ChangeType::kInsert, "s",
               {{"id", Value::integer(1)}, {"n", Value::text("not a number")}}),  // STRICT
        change(ChangeType::kInsert, "t", {{"a", Value::text("no key")}}),         // key missing
        change(ChangeType::kInsert, "t",
               {{"id", Value::integer(4)}, {"ID", Value::integer(4)}}),  // twice
        change(ChangeType::kInsert, "t", {{"id", Value::integer(5)}, {"a", Value::text("last")}}),
    });
    QCOMPARE(r.applied, 2);
    QCOMPARE(r.poisoned, 4);
    QVERIFY(r.outcomes[0].isOk());
    QVERIFY(r.outcomes[1].message().contains("UNIQUE"));
    QVERIFY(r.outcomes[2].message().contains("cannot store TEXT value in INTEGER column"));
    QVERIFY(r.outcomes[3].message().contains("key column \"id\" of table \"t\" missing"));
    QVERIFY(r.outcomes[4].message().contains("appears twice"));
    QVERIFY(r.outcomes[5].isOk());
    QCOMPARE(dump(m_db, "SELECT id FROM t ORDER BY id"), QString("1;2;5"));
    QCOMPARE(*m_db.queryInt("SELECT count(*) FROM s"), int64_t(0));
  }

  void rollbackConflictClauseLosesOnlyThatChange() {
    QVERIFY(m_db.exec("CREATE TABLE rb(id INTEGER PRIMARY KEY, u TEXT UNIQUE ON CONFLICT ROLLBACK)")
                .isOk());
    QVERIFY(m_db.exec("INSERT INTO rb VALUES (1, 'taken')").isOk());
    QVERIFY(m_catalog->refresh().ok());
    auto r = apply(
        {change(ChangeType::kInsert, "rb", {{"id", Value::integer(2)}, {"u", Value::text("a")}}),
         change(ChangeType::kInsert, "rb",
                {{"id", Value::integer(3)}, {"u", Value::text("taken")}}),
         change(ChangeType::kInsert, "rb", {{"id", Value::integer(4)}, {"u", Value::text("b")}})});
    QCOMPARE(r.applied, 2);
    QCOMPARE(r.poisoned, 1);
    QCOMPARE(r.outcomes[1].code(), Status::Code::kPoison);
    QVERIFY(r.outcomes[0].isOk() && r.outcomes[2].isOk());
    QCOMPARE(dump(m_db, "SELECT id, u FROM rb ORDER BY id"), QString("1|taken;2|a;4|b"));
  }

  void echoSuppression() {
    QVERIFY(m_db.exec("INSERT INTO t(id) VALUES (100)").isOk());  // one local pending change
    const int64_t pendingBefore = *m_log->pendingCount();
    apply({change(ChangeType::kInsert, "t", {{"id", Value::integer(1)}}),
           change(ChangeType::kUpdate, "comp",
                  {{"k1", Value::text("a")}, {"k2", Value::integer(1)}, {"v", Value::real(0.5)}}),
           change(ChangeType::kDelete, "t", {{"id", Value::integer(1)}})});
    QCOMPARE(*m_log->pendingCount(), pendingBefore);  // nothing the applier wrote was captured
    QVERIFY(m_db.exec("INSERT INTO t(id) VALUES (101)").isOk());
    QCOMPARE(*m_log->pendingCount(), pendingBefore + 1);  // the application still is
  }

  // A keep-both table's chosen-key trigger fires for the applier's inserts (their keys are
  // given) and writes marks; they go with the other echoes, so the log is as it was.
  void echoSuppressionTakesTheChosenKeyMarks() {
    m_log->setAssignedKeyTables({"t"});
    QVERIFY(m_log->install().isOk());
    const QString marks =
        QStringLiteral("SELECT count(*) FROM __harmonylite__changes WHERE state = %1")
            .arg(ChangeLog::kChosenKeyMark);
    QVERIFY(m_db.exec("INSERT INTO t(id) VALUES (100)").isOk());  // the application's: a mark
    QCOMPARE(*m_db.queryInt(marks), int64_t(1));
    const int64_t logBefore = *m_log->maxChangeId();
    const int64_t rowsBefore = *m_db.queryInt("SELECT count(*) FROM __harmonylite__changes");
    auto r = apply({change(ChangeType::kInsert, "t", {{"id", Value::integer(1)}}),
                    change(ChangeType::kInsert, "t", {{"id", Value::integer(2)}})});
    QCOMPARE(r.applied, 2);
    QCOMPARE(*m_db.queryInt("SELECT count(*) FROM t WHERE id IN (1, 2)"), int64_t(2));
    QCOMPARE(*m_log->maxChangeId(), logBefore);
    QCOMPARE(*m_db.queryInt("SELECT count(*) FROM __harmonylite__changes"), rowsBefore);
    QCOMPARE(*m_db.queryInt(marks), int64_t(1));
    QVERIFY(m_db.exec("INSERT INTO t(id) VALUES (102)").isOk());  // and the application's still
    QCOMPARE(*m_db.queryInt(marks), int64_t(2));
  }

  void rollbackClauseEndsTheTransactionAndSaysWhich() {
    QVERIFY(m_db.exec("CREATE TABLE rb(id INTEGER PRIMARY KEY, u TEXT UNIQUE ON CONFLICT ROLLBACK)")
                .isOk());
    QVERIFY(m_db.exec("INSERT INTO rb VALUES (1, 'taken')").isOk());
    QVERIFY(m_catalog->refresh().ok());
    auto txn = SqliteTxn::begin(m_db);
    QVERIFY(txn.ok());
    auto r = m_applier->applyAll(
        {change(ChangeType::kInsert, "rb", {{"id", Value::integer(2)}, {"u", Value::text("a")}}),
         change(ChangeType::kInsert, "rb",
                {{"id", Value::integer(3)}, {"u", Value::text("taken")}})},
        {true, true});
    QVERIFY(r.ok());
    QCOMPARE(r->endedTransactionAt, qsizetype(1));
    QCOMPARE(r->outcomes.last().code(), Status::Code::kPoison);
    QVERIFY(sqlite3_get_autocommit(m_db.handle()));  // SQLite ended the transaction
    QVERIFY(txn->rollback().isOk());                 // and rolling back again is harmless
    QCOMPARE(dump(m_db, "SELECT id FROM rb"), QString("1"));
  }

  void nothingStaysWhenTheCallerRollsBack() {
    const int64_t logBefore = *m_log->maxChangeId();
    {
      auto txn = SqliteTxn::begin(m_db);
      QVERIFY(txn.ok());
      auto r = m_applier->applyAll({change(ChangeType::kInsert, "t", {{"id", Value::integer(9)}})},
                                   {true});
      QVERIFY(r.ok());
      QCOMPARE(r->applied, 1);
    }  // not committed: the position write of the caller failed, say
    QCOMPARE(*m_db.queryInt("SELECT count(*) FROM t WHERE id = 9"), int64_t(0));
    QCOMPARE(*m_log->maxChangeId(), logBefore);
  }

  void skippedChangesAreNotAppliedAndCountAsOk() {
    QVERIFY(m_db.exec("INSERT INTO t(id, a) VALUES (1, 'local')").isOk());
    auto r = apply({change(ChangeType::kUpdate, "t",
                           {{"id", Value::integer(1)}, {"a", Value::text("remote")}}),
                    change(ChangeType::kInsert, "t", {{"id", Value::integer(2)}})},
                   {false, true});  // the local change of row 1 wins
    QCOMPARE(r.applied, 1);
    QVERIFY(r.outcomes[0].isOk());
    QCOMPARE(dump(m_db, "SELECT id, a FROM t ORDER BY id"), QString("1|local;2|NULL"));
  }

  void worksWithoutCaptureInstalled() {  // publish = false nodes still apply
    QVERIFY(ChangeLog::uninstall(m_db).isOk());
    QVERIFY(m_catalog->refresh().ok());
    auto r = apply({change(ChangeType::kInsert, "t", {{"id", Value::integer(3)}})});
    QCOMPARE(r.applied, 1);
  }

  void generatedColumnsAreComputedLocally() {
    QVERIFY(
        m_db.exec(
                "CREATE TABLE g(id INTEGER PRIMARY KEY, a INT, b INT GENERATED ALWAYS AS (a * 2))")
            .isOk());
    QVERIFY(m_catalog->refresh().ok());
    auto r = apply(
        {change(ChangeType::kInsert, "g",
                {{"id", Value::integer(1)}, {"a", Value::integer(4)}, {"b", Value::integer(99)}})});
    QCOMPARE(r.applied, 1);
    QCOMPARE(dump(m_db, "SELECT * FROM g"), QString("1|4|8"));
  }
};

QTEST_GUILESS_MAIN(TestApplier)
#include "tst_applier.moc"
