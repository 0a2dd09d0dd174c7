// The schema hash history of the state store (ReplicationState::noteSchemaHash/schemaHashes,
// table __harmonylite__schema_hashes): the hash this node had before, kept across restarts and
// bounded to kSchemaHistorySize.
#include <QTemporaryDir>
#include <QtTest>

#include "replication/state_store.h"
#include "test_support.h"

using namespace hl;

namespace {

// A 64-hex hash per name, so that the data tables read "H1", "H2".
QString hashOf(const QString& name) {
  return QString::fromLatin1(
      QCryptographicHash::hash(name.toUtf8(), QCryptographicHash::Sha256).toHex());
}

QStringList namesOf(const QStringList& hashes, const QStringList& names) {
  QStringList out;
  for (const QString& h : hashes) {
    QString found = h;
    for (const QString& n : names)
      if (hashOf(n) == h) found = n;
    out << found;
  }
  return out;
}

}  // namespace

class TestSchemaHistory : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  int m_n = 0;

  SqliteDb openDb(const QString& path) {
    auto db = SqliteDb::open(path);
    if (!db) qFatal("open: %s", qPrintable(db.status().message()));
    return std::move(*db);
  }
  QString freshPath() { return m_dir.filePath(QStringLiteral("h%1.db").arg(++m_n)); }

  // first_seen|last_seen of a hash, "" when not stored.
  QString seen(SqliteDb& db, const QString& hash) {
    auto s = db.prepare(
        "SELECT first_seen || '|' || last_seen FROM __harmonylite__schema_hashes WHERE hash = ?");
    if (!s) return "error";
    if (!s->bindText(1, hash.toUtf8()).isOk()) return "error";
    return *s->step() ? s->columnText(0) : QString();
  }

 private slots:
  // Each row notes hashes in order, one millisecond apart, and says what every note returned
  // and the history afterwards (newest first).
  void noteSchemaHash_data() {
    QTest::addColumn<QStringList>("notes");
    QTest::addColumn<QStringList>("previous");
    QTest::addColumn<QStringList>("history");
    QTest::newRow("first note") << QStringList{"H1"} << QStringList{""} << QStringList{"H1"};
    QTest::newRow("same hash again")
        << QStringList{"H1", "H1"} << QStringList{"", ""} << QStringList{"H1"};
    QTest::newRow("changed") << QStringList{"H1", "H2"} << QStringList{"", "H1"}
                             << QStringList{"H2", "H1"};
    QTest::newRow("changed, then noted again (a restart)")
        << QStringList{"H1", "H2", "H2", "H2"} << QStringList{"", "H1", "H1", "H1"}
        << QStringList{"H2", "H1"};
    QTest::newRow("changed back") << QStringList{"H1", "H2", "H1"} << QStringList{"", "H1", "H2"}
                                  << QStringList{"H1", "H2"};
    QTest::newRow("three, then back to the first")
        << QStringList{"H1", "H2", "H3", "H1", "H1"} << QStringList{"", "H1", "H2", "H3", "H3"}
        << QStringList{"H1", "H3", "H2"};
  }

  void noteSchemaHash() {
    QFETCH(QStringList, notes);
    QFETCH(QStringList, previous);
    QFETCH(QStringList, history);
    SqliteDb db = openDb(freshPath());
    ReplicationState state(db);
    QVERIFY(state.ensureTables().isOk());
    QCOMPARE(*state.schemaHashes(), QStringList());
    QStringList returned;
    qint64 now = 1764540000000;
    for (const QString& name : notes) {
      auto before = state.noteSchemaHash(hashOf(name), ++now);
      QVERIFY2(before.ok(), qPrintable(before.status().message()));
      returned << namesOf({*before}, {"H1", "H2", "H3"});
    }
    QCOMPARE(returned, previous);
    auto hashes = state.schemaHashes();
    QVERIFY(hashes.ok());
    QCOMPARE(namesOf(*hashes, {"H1", "H2", "H3"}), history);
  }

  // Noting a hash again moves its last_seen, never its first_seen, and never backwards (a clock
  // set back).
  void firstAndLastSeen() {
    SqliteDb db = openDb(freshPath());
    ReplicationState state(db);
    QVERIFY(state.ensureTables().isOk());
    const QString h1 = hashOf("H1"), h2 = hashOf("H2");
    QVERIFY(state.noteSchemaHash(h1, 1000).ok());
    QCOMPARE(seen(db, h1), QString("1000|1000"));
    QVERIFY(state.noteSchemaHash(h2, 2000).ok());
    QVERIFY(state.noteSchemaHash(h1, 3000).ok());
    QCOMPARE(seen(db, h1), QString("1000|3000"));
    QCOMPARE(seen(db, h2), QString("2000|2000"));
    QCOMPARE(*state.noteSchemaHash(h1, 2500), h2);
    QCOMPARE(seen(db, h1), QString("1000|3000"));
  }

  void boundedToHistorySize() {
    SqliteDb db = openDb(freshPath());
    ReplicationState state(db);
    QVERIFY(state.ensureTables().isOk());
    const int total = kSchemaHistorySize + 6;
    QString last;
    for (int i = 0; i < total; ++i) {
      const QString h = hashOf(QStringLiteral("S%1").arg(i));
      auto before = state.noteSchemaHash(h, 5000 + i);
      QVERIFY(before.ok());
      QCOMPARE(*before, last);
      last = h;
    }
    auto hashes = state.schemaHashes();
    QVERIFY(hashes.ok());
    QCOMPARE(hashes->size(), qsizetype(kSchemaHistorySize));
    QCOMPARE(hashes->first(), hashOf(QStringLiteral("S%1").arg(total - 1)));
    QCOMPARE(hashes->last(), hashOf(QStringLiteral("S%1").arg(total - kSchemaHistorySize)));
    QVERIFY(!hashes->contains(hashOf("S0")));
    auto count = db.prepare("SELECT count(*) FROM __harmonylite__schema_hashes");
    QVERIFY(count.ok() && *count->step());
    QCOMPARE(count->columnInt(0), int64_t(kSchemaHistorySize));
    // A hash that was let go is a new one when it comes back; the history stays bounded.
    QCOMPARE(*state.noteSchemaHash(hashOf("S0"), 9000), last);
    QCOMPARE(seen(db, hashOf("S0")), QString("9000|9000"));
    QCOMPARE(state.schemaHashes()->size(), qsizetype(kSchemaHistorySize));
    QCOMPARE(state.schemaHashes()->first(), hashOf("S0"));
    QVERIFY(!state.schemaHashes()->contains(hashOf(QStringLiteral("S%1").arg(6))));
  }

  // The history lives in the database: a node restarted on an unchanged schema still knows the
  // hash it had before.
  void persistsAcrossReopening() {
    const QString path = freshPath();
    const QString h1 = hashOf("H1"), h2 = hashOf("H2");
    {
      SqliteDb db = openDb(path);
      ReplicationState state(db);
      QVERIFY(state.ensureTables().isOk());
      QVERIFY(state.noteSchemaHash(h1, 1000).ok());
      QCOMPARE(*state.noteSchemaHash(h2, 2000), h1);
    }
    SqliteDb db = openDb(path);
    ReplicationState state(db);
    QVERIFY(state.ensureTables().isOk());  // idempotent: the rows stay
    QCOMPARE(*state.schemaHashes(), QStringList({h2, h1}));
    QCOMPARE(*state.noteSchemaHash(h2, 3000), h1);
    QCOMPARE(seen(db, h2), QString("2000|3000"));
    QCOMPARE(*state.schemaHashes(), QStringList({h2, h1}));
  }
};

QTEST_GUILESS_MAIN(TestSchemaHistory)
#include "tst_schema_history.moc"
