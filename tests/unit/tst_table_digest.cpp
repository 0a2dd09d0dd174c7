// Order-independent table digests and the bucket locator (docs/consistency.md#digest), on real
// SQLite files.
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>

#include "consistency/table_digest.h"
#include "schema/catalog.h"

using namespace hl;

class TestTableDigest : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  int m_n = 0;

  SqliteDb freshDb(const QString& schema) {
    auto db = SqliteDb::open(m_dir.filePath(QStringLiteral("d%1.db").arg(++m_n)));
    if (!db) qFatal("open");
    if (!db->exec("PRAGMA journal_mode=WAL").isOk() || !db->exec(schema).isOk()) qFatal("schema");
    return std::move(*db);
  }
  static TableInfo tableOf(SqliteDb& db, const QString& name) {
    SchemaCatalog catalog(db, {});
    if (!catalog.reload().isOk() || !catalog.find(name)) qFatal("catalog");
    return *catalog.find(name);
  }
  static TableDigest digestOf(SqliteDb& db, const QString& table, int buckets = 0) {
    DigestOptions o;
    o.buckets = buckets;
    auto d = digestTable(db, tableOf(db, table), o);
    if (!d) qFatal("%s", qPrintable(d.status().message()));
    return *d;
  }

 private slots:
  // The same rows written in other orders (and other transactions) digest alike, bucket by
  // bucket; one changed value changes the whole digest and exactly one bucket, whose rows the
  // locator lists with both values.
  void orderDoesNotMatterAndOneValueIsFound() {
    const QString schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL)";
    SqliteDb a = freshDb(schema), b = freshDb(schema);
    QList<int> ids;
    for (int i = 1; i <= 5000; ++i) ids << i;
    auto fill = [&](SqliteDb& db) {
      QVERIFY(db.exec("BEGIN").isOk());
      for (int id : ids)
        QVERIFY(db.exec(QStringLiteral("INSERT INTO t VALUES (%1, 'n%1', %1.5)").arg(id)).isOk());
      QVERIFY(db.exec("COMMIT").isOk());
    };
    fill(a);
    std::shuffle(ids.begin(), ids.end(), *QRandomGenerator::global());
    fill(b);
    TableDigest da = digestOf(a, "t", 256), db = digestOf(b, "t", 256);
    QCOMPARE(da.all.rows, quint64(5000));
    QVERIFY(da.all == db.all);
    QVERIFY(da.buckets == db.buckets);
    QVERIFY(da.all.hex() != RowSetDigest().hex());
    // Rows spread over the buckets (none holds more than 4x its share).
    const auto fullest = std::max_element(da.buckets.cbegin(), da.buckets.cend(),
                                          [](auto& x, auto& y) { return x.rows < y.rows; });
    QVERIFY2(fullest->rows < 4 * 5000 / 256, qPrintable(QString::number(fullest->rows)));

    QVERIFY(b.exec("UPDATE t SET score = 2.5 WHERE id = 1234").isOk());
    db = digestOf(b, "t", 256);
    QVERIFY(da.all != db.all);
    QCOMPARE(da.all.rows, db.all.rows);
    QList<int> differing;
    for (int i = 0; i < 256; ++i)
      if (da.buckets[i] != db.buckets[i]) differing << i;
    QCOMPARE(differing.size(), 1);
    auto ra = rowsInBuckets(a, tableOf(a, "t"), 256, differing);
    auto rb = rowsInBuckets(b, tableOf(b, "t"), 256, differing);
    QVERIFY(ra && rb);
    QCOMPARE(ra->size(), rb->size());
    QVERIFY(ra->size() >= 1 && ra->size() < 100);
    int found = 0;
    for (int i = 0; i < ra->size(); ++i) {
      QCOMPARE(ra->at(i).key, rb->at(i).key);  // the same table order on both
      if (ra->at(i).rowHash == rb->at(i).rowHash) continue;
      ++found;
      QCOMPARE(ra->at(i).key, QStringLiteral("1234"));
      QCOMPARE(ra->at(i).values, QStringLiteral("id=1234, name='n1234', score=1234.5"));
      QCOMPARE(rb->at(i).values, QStringLiteral("id=1234, name='n1234', score=2.5"));
    }
    QCOMPARE(found, 1);
    // Back to the same value: the same digest again (no history in it).
    QVERIFY(b.exec("UPDATE t SET score = 1234.5 WHERE id = 1234").isOk());
    QVERIFY(digestOf(b, "t").all == da.all);
  }

  // Each value counts with its storage class: 1, 1.0, '1', x'31', NULL, '', 0 and 0.0 all differ;
  // a missing row and an extra row differ from the full table.
  void storageClassesDiffer() {
    QStringList hashes;
    for (const char* v : {"1", "1.0", "'1'", "x'31'", "NULL", "''", "0", "0.0", "-0.0"}) {
      SqliteDb db = freshDb("CREATE TABLE t(k INTEGER PRIMARY KEY, v)");
      QVERIFY(db.exec(QStringLiteral("INSERT INTO t VALUES (1, %1)").arg(v)).isOk());
      hashes << digestOf(db, "t").all.hex();
    }
    // -0.0 digests as 0.0 (SQLite compares them equal): 8 distinct values of 9.
    QStringList distinct = hashes;
    distinct.removeDuplicates();
    QCOMPARE(distinct.size(), 9 - 1);
    QCOMPARE(hashes[7], hashes[8]);
    SqliteDb a = freshDb("CREATE TABLE t(k INTEGER PRIMARY KEY, v)");
    QVERIFY(a.exec("INSERT INTO t VALUES (1, 'a'), (2, 'b')").isOk());
    const RowSetDigest two = digestOf(a, "t").all;
    QVERIFY(a.exec("DELETE FROM t WHERE k = 2").isOk());
    QVERIFY(digestOf(a, "t").all != two);
    QVERIFY(a.exec("INSERT INTO t VALUES (2, 'b'), (3, 'c')").isOk());
    QVERIFY(digestOf(a, "t").all != two);
  }

  // Composite keys of text and blob, a WITHOUT ROWID table, and a table without a declared key
  // (its rowid is part of the row, as it is replicated).
  void keysOfEveryKind() {
    const QString composite =
        "CREATE TABLE c(region TEXT, tag BLOB, n INTEGER, v TEXT, PRIMARY KEY (region, tag, n)) "
        "WITHOUT ROWID";
    SqliteDb a = freshDb(composite), b = freshDb(composite);
    for (SqliteDb* db : {&a, &b})
      QVERIFY(db->exec("INSERT INTO c VALUES ('eu', x'00ff', 1, 'x'), ('eu', x'00ff', 2, 'y'), "
                       "('us''s', x'', 1, NULL)")
                  .isOk());
    QVERIFY(digestOf(a, "c", 16).all == digestOf(b, "c", 16).all);
    QVERIFY(b.exec("UPDATE c SET v = 'z' WHERE region = 'us''s'").isOk());
    const TableDigest da = digestOf(a, "c", 16), dbb = digestOf(b, "c", 16);
    QVERIFY(da.all != dbb.all);
    QList<int> differing;
    for (int i = 0; i < 16; ++i)
      if (da.buckets[i] != dbb.buckets[i]) differing << i;
    QCOMPARE(differing.size(), 1);
    auto rows = rowsInBuckets(b, tableOf(b, "c"), 16, differing);
    QVERIFY(rows);
    QStringList keys;
    for (const DigestedRow& r : *rows) keys << r.key;
    QVERIFY2(keys.contains("'us''s'|x''|1"), qPrintable(keys.join(' ')));

    const QString rowid = "CREATE TABLE r(v TEXT)";
    SqliteDb c = freshDb(rowid), d = freshDb(rowid);
    QVERIFY(c.exec("INSERT INTO r(rowid, v) VALUES (1, 'a'), (2, 'b')").isOk());
    QVERIFY(d.exec("INSERT INTO r(rowid, v) VALUES (1, 'a'), (3, 'b')").isOk());
    QVERIFY(digestOf(c, "r").all != digestOf(d, "r").all);
    auto listed = rowsInBuckets(d, tableOf(d, "r"), 1, {0});
    QVERIFY(listed && listed->size() == 2);
    QCOMPARE(listed->at(1).key, QStringLiteral("3"));
    QCOMPARE(listed->at(1).values, QStringLiteral("rowid=3, v='b'"));
    QCOMPARE(listed->at(1).keyValues.size(), 1);
    QVERIFY(listed->at(1).keyValues[0] == Value::integer(3));

    // A REAL shows as one: 2.0, not 2 (the INTEGER 2 would look the same).
    SqliteDb e = freshDb("CREATE TABLE f(id INTEGER PRIMARY KEY, r REAL, x)");
    // (1e300 and 0.1 as products and quotients of exact numbers: SQLite turns the literals into
    // other doubles on armhf, where it has no long double, docs/cross-building.md.)
    QVERIFY(e.exec("INSERT INTO f VALUES (1, 2.0, 2), (2, -0.0, 1e15 * 1e15 * 1e15 * 1e15 * 1e15 "
                   "* 1e15 * 1e15 * 1e15 * 1e15 * 1e15 * 1e15 * 1e15 * 1e15 * 1e15 * 1e15 * 1e15 "
                   "* 1e15 * 1e15 * 1e15 * 1e15), (3, 1.0 / 10, 9e999)")
                .isOk());
    listed = rowsInBuckets(e, tableOf(e, "f"), 1, {0});
    QVERIFY(listed && listed->size() == 3);
    QCOMPARE(listed->at(0).values, QStringLiteral("id=1, r=2.0, x=2"));
    QCOMPARE(listed->at(1).values, QStringLiteral("id=2, r=0.0, x=1.0000000000000001e+300"));
    QCOMPARE(listed->at(2).values, QStringLiteral("id=3, r=0.10000000000000001, x=inf"));
  }

  // One read transaction for every table and what `atSnapshot` reads: a row another connection
  // commits meanwhile (not blocked: WAL) is in neither; bad options are refused; a progress
  // callback can stop a digest.
  void oneSnapshotAndBadInput() {
    SqliteDb db = freshDb(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v); "
        "CREATE TABLE u(id INTEGER PRIMARY KEY, v)");
    QVERIFY(db.exec("INSERT INTO t VALUES (1, 'a'); INSERT INTO u VALUES (1, 'a')").isOk());
    auto writer = SqliteDb::open(db.path());
    QVERIFY(writer);
    const RowSetDigest before = digestOf(db, "u").all;
    QList<TableInfo> tables{tableOf(db, "t"), tableOf(db, "u")};
    int64_t seen = -1;
    auto all = digestTables(db, tables, {}, [&] {
      auto n = db.queryInt("SELECT count(*) FROM t");
      if (!n) return n.status();
      seen = *n;
      // Committed by the application while the digest runs: not in it.
      return writer->exec("INSERT INTO t VALUES (2, 'b'); INSERT INTO u VALUES (2, 'b')");
    });
    QVERIFY2(all, qPrintable(all.status().message()));
    QCOMPARE(seen, int64_t(1));
    QCOMPARE(all->size(), 2);
    QCOMPARE(all->at(0).all.rows, quint64(1));
    QVERIFY(all->at(1).all == before);
    QCOMPARE(digestOf(db, "u").all.rows, quint64(2));  // and there after

    DigestOptions bad;
    bad.buckets = 3;
    auto refused = digestTable(db, tables[0], bad);
    QVERIFY(!refused);
    QCOMPARE(refused.status().code(), Status::Code::kInvalidArgument);
    QVERIFY(refused.status().message().contains("power of two"));
    QVERIFY(!rowsInBuckets(db, tables[0], 6, {0}));

    QVERIFY(db.exec("WITH RECURSIVE n(i) AS (SELECT 3 UNION ALL SELECT i + 1 FROM n WHERE i < "
                    "100) INSERT INTO t SELECT i, 'x' FROM n")
                .isOk());
    DigestOptions stop;
    stop.yieldEveryRows = 10;
    uint64_t calls = 0;
    stop.progress = [&](uint64_t rows) { return ++calls < 3 && rows > 0; };
    auto stopped = digestTable(db, tables[0], stop);
    QVERIFY(!stopped);
    QCOMPARE(stopped.status().code(), Status::Code::kCancelled);
    QCOMPARE(calls, uint64_t(3));
    QVERIFY2(stopped.status().message().contains("after 30 rows"),
             qPrintable(stopped.status().message()));
  }
};

QTEST_GUILESS_MAIN(TestTableDigest)
#include "tst_table_digest.moc"
