// The schema gate (replication/schema_gate.h): what a remote change's schema hash `sh` and the
// names it carries mean for this node's schema. A real database whose schema changed once (a
// column and a table dropped), so that the catalog has a current and a previous hash, and a
// history of hashes as the state store hands it over.
#include <QTemporaryDir>
#include <QtTest>

#include "replication/schema_gate.h"
#include "schema/catalog.h"
#include "test_support.h"

using namespace hl;

Q_DECLARE_METATYPE(hl::SchemaFit)

namespace hl {
// QCOMPARE prints the fit by name.
char* toString(SchemaFit fit) {
  switch (fit) {
    case SchemaFit::kApply:
      return qstrdup("kApply");
    case SchemaFit::kApplyOlder:
      return qstrdup("kApplyOlder");
    case SchemaFit::kSkipDroppedTable:
      return qstrdup("kSkipDroppedTable");
    case SchemaFit::kPause:
      return qstrdup("kPause");
  }
  return qstrdup("?");
}
}  // namespace hl

namespace {

// A hash from an older schema of this node (the state store's history), and one that no
// schema of this node ever had.
const QString kKnown = QString(60, 'a') + QStringLiteral("0123");
const QString kUnknown = QStringLiteral("0f") + QString(62, 'e');

Change change(const QString& sh, const QString& table, const QStringList& columns) {
  Change c;
  c.fromNodeId = 2;
  c.id = 1;
  c.type = ChangeType::kUpdate;
  c.table = table;
  c.schemaHash = sh;
  for (int i = 0; i < columns.size(); ++i)
    c.row.append({columns[i], Value::text(QStringLiteral("v%1").arg(i))});
  return c;
}

QStringList namesOf(const RowImage& row) {
  QStringList names;
  for (const auto& [name, value] : row) names << name;
  return names;
}

}  // namespace

class TestSchemaGate : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  SqliteDb m_db;
  std::unique_ptr<SchemaCatalog> m_catalog;
  std::unique_ptr<SchemaGate> m_gate;
  QString m_before;  // the schema hash before the change below

  // The `sh` of a data row: "" none, "current", "previous", "known", "unknown", or one of them
  // spoilt: "<name>/63" (a character short), "<name>/upper", "<name>/nonhex" (last digit 'g').
  QString hashFor(const QString& token) const {
    const QStringList parts = token.split('/');
    QString h;
    if (parts[0] == "current") h = m_catalog->schemaHash();
    if (parts[0] == "previous") h = m_before;
    if (parts[0] == "known") h = kKnown;
    if (parts[0] == "unknown") h = kUnknown;
    if (parts.size() < 2) return h;
    if (parts[1] == "63") return h.left(63);
    if (parts[1] == "upper") return h.toUpper();
    if (parts[1] == "nonhex") return h.left(63) + 'g';
    qFatal("bad token %s", qPrintable(token));
  }

 private slots:
  void initTestCase() {
    auto db = SqliteDb::open(m_dir.filePath("gate.db"));
    QVERIFY(db.ok());
    m_db = std::move(*db);
    QVERIFY(m_db.exec(R"(
      CREATE TABLE books(id INTEGER PRIMARY KEY, title TEXT, author TEXT, isbn TEXT);
      CREATE TABLE notes(body TEXT, tag TEXT, mood TEXT);
      CREATE TABLE pairs(k1 TEXT, k2 INTEGER, v, PRIMARY KEY(k1, k2)) WITHOUT ROWID;
      CREATE TABLE gen(id INTEGER PRIMARY KEY, a INT, b INT GENERATED ALWAYS AS (a * 2));
      CREATE TABLE Mixed(Id INTEGER PRIMARY KEY, Title TEXT);
      CREATE TABLE old(id INTEGER PRIMARY KEY, x);
    )")
                .isOk());
    m_catalog = std::make_unique<SchemaCatalog>(m_db, QStringList{});
    QCOMPARE(*m_catalog->refresh(), true);
    m_before = m_catalog->schemaHash();
    QVERIFY(SchemaGate::isWellFormedHash(m_before));
    QVERIFY(m_db.exec("ALTER TABLE books DROP COLUMN isbn; ALTER TABLE notes DROP COLUMN mood; "
                      "DROP TABLE old")
                .isOk());
    QCOMPARE(*m_catalog->refresh(), true);
    QCOMPARE(m_catalog->previousSchemaHash(), m_before);
    QVERIFY(m_catalog->schemaHash() != m_before);
    QVERIFY(!m_catalog->find("old"));
    m_gate = std::make_unique<SchemaGate>(*m_catalog);
  }

  void init() {
    // The engine hands over the state store's history: the current hash and older ones.
    m_gate->setKnownHashes({m_catalog->schemaHash(), kKnown});
  }

  void isWellFormedHash_data() {
    QTest::addColumn<QString>("hash");
    QTest::addColumn<bool>("wellFormed");
    QTest::newRow("64 lower-case hex") << kUnknown << true;
    QTest::newRow("all digits") << QString(64, '7') << true;
    QTest::newRow("empty") << QString() << false;
    QTest::newRow("63 characters") << kUnknown.left(63) << false;
    QTest::newRow("65 characters") << kUnknown + 'a' << false;
    QTest::newRow("upper-case hex") << kUnknown.toUpper() << false;
    QTest::newRow("one upper-case digit") << kUnknown.left(63) + 'E' << false;
    QTest::newRow("non-hex g") << kUnknown.left(63) + 'g' << false;
    QTest::newRow("space") << kUnknown.left(63) + ' ' << false;
    QTest::newRow("non-ASCII digit") << kUnknown.left(63) + QChar(0x0663) << false;
    QTest::newRow("sha256: prefix") << QStringLiteral("sha256:") + kUnknown.left(57) << false;
  }

  void isWellFormedHash() {
    QFETCH(QString, hash);
    QFETCH(bool, wellFormed);
    QCOMPARE(SchemaGate::isWellFormedHash(hash), wellFormed);
  }

  void check_data() {
    QTest::addColumn<QString>("sh");  // see hashFor()
    QTest::addColumn<QString>("table");
    QTest::addColumn<QStringList>("columns");
    QTest::addColumn<SchemaFit>("fit");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QStringList>("kept");  // the columns of the change afterwards

    const QStringList ghost{"id", "x"};
    const QStringList booksOld{"id", "title", "isbn"};
    // No usable `sh`: the usual rules, whatever the change names (a missing table or a dropped
    // column would have paused or trimmed with a well-formed hash).
    QTest::newRow("no sh, missing table") << ""
                                          << "ghost" << ghost << SchemaFit::kApply << "" << ghost;
    QTest::newRow("no sh, missing column")
        << ""
        << "books" << booksOld << SchemaFit::kApply << "" << booksOld;
    QTest::newRow("malformed: 63 chars") << "unknown/63"
                                         << "ghost" << ghost << SchemaFit::kApply << "" << ghost;
    QTest::newRow("malformed: upper-case hex of an unknown hash")
        << "unknown/upper"
        << "ghost" << ghost << SchemaFit::kApply << "" << ghost;
    QTest::newRow("malformed: upper-case hex of the previous hash")
        << "previous/upper"
        << "books" << booksOld << SchemaFit::kApply << "" << booksOld;
    QTest::newRow("malformed: non-hex") << "unknown/nonhex"
                                        << "ghost" << ghost << SchemaFit::kApply << "" << ghost;
    QTest::newRow("malformed: non-hex previous hash")
        << "previous/nonhex"
        << "old" << ghost << SchemaFit::kApply << "" << ghost;
    // This node's current schema: the usual rules too.
    QTest::newRow("current, all columns")
        << "current"
        << "books" << QStringList{"id", "title", "author"} << SchemaFit::kApply << ""
        << QStringList{"id", "title", "author"};
    QTest::newRow("current, missing table") << "current"
                                            << "ghost" << ghost << SchemaFit::kApply << "" << ghost;
    QTest::newRow("current, missing column")
        << "current"
        << "books" << booksOld << SchemaFit::kApply << "" << booksOld;
    // An older schema of this node: trimmed to the columns still here.
    QTest::newRow("previous: dropped column left out")
        << "previous"
        << "books" << booksOld << SchemaFit::kApplyOlder << "" << QStringList{"id", "title"};
    QTest::newRow("previous: nothing to leave out")
        << "previous"
        << "books" << QStringList{"id", "author"} << SchemaFit::kApplyOlder << ""
        << QStringList{"id", "author"};
    QTest::newRow("known: dropped column left out, order kept")
        << "known"
        << "books" << QStringList{"isbn", "author", "id", "title"} << SchemaFit::kApplyOlder << ""
        << QStringList{"author", "id", "title"};
    QTest::newRow("known: rowid kept for a table without declared key")
        << "known"
        << "notes" << QStringList{"rowid", "body", "mood", "tag"} << SchemaFit::kApplyOlder << ""
        << QStringList{"rowid", "body", "tag"};
    QTest::newRow("known: ROWID in any case kept")
        << "previous"
        << "notes" << QStringList{"ROWID", "mood"} << SchemaFit::kApplyOlder << ""
        << QStringList{"ROWID"};
    QTest::newRow("known: rowid left out for a table with a declared key")
        << "known"
        << "books" << QStringList{"rowid", "id", "title"} << SchemaFit::kApplyOlder << ""
        << QStringList{"id", "title"};
    QTest::newRow("known: generated column left out")
        << "known"
        << "gen" << QStringList{"id", "a", "b"} << SchemaFit::kApplyOlder << ""
        << QStringList{"id", "a"};
    QTest::newRow("known: column names case-insensitive")
        << "known"
        << "books" << QStringList{"ID", "Title", "ISBN"} << SchemaFit::kApplyOlder << ""
        << QStringList{"ID", "Title"};
    QTest::newRow("known: composite key")
        << "known"
        << "pairs" << QStringList{"k2", "k1", "gone", "v"} << SchemaFit::kApplyOlder << ""
        << QStringList{"k2", "k1", "v"};
    QTest::newRow("previous: dropped table skipped")
        << "previous"
        << "old" << ghost << SchemaFit::kSkipDroppedTable << "old" << ghost;
    QTest::newRow("known: never-seen table skipped")
        << "known"
        << "ghost" << ghost << SchemaFit::kSkipDroppedTable << "ghost" << ghost;
    // A schema this node never had: paused when it lacks anything the change uses.
    QTest::newRow("unknown: no table")
        << "unknown"
        << "ghost" << ghost << SchemaFit::kPause << "no table ghost" << ghost;
    QTest::newRow("unknown: dropped table")
        << "unknown"
        << "old" << ghost << SchemaFit::kPause << "no table old" << ghost;
    QTest::newRow("unknown: table names are exact")
        << "unknown"
        << "BOOKS" << QStringList{"id"} << SchemaFit::kPause << "no table BOOKS"
        << QStringList{"id"};
    QTest::newRow("unknown: no column")
        << "unknown"
        << "books" << QStringList{"id", "title", "email"} << SchemaFit::kPause
        << "no column email in books" << QStringList{"id", "title", "email"};
    QTest::newRow("unknown: dropped column")
        << "unknown"
        << "books" << booksOld << SchemaFit::kPause << "no column isbn in books" << booksOld;
    QTest::newRow("unknown: no column, table named as declared")
        << "unknown"
        << "Mixed" << QStringList{"id", "extra"} << SchemaFit::kPause << "no column extra in Mixed"
        << QStringList{"id", "extra"};
    QTest::newRow("unknown: generated column carried")
        << "unknown"
        << "gen" << QStringList{"id", "a", "b"} << SchemaFit::kPause << "no column b in gen"
        << QStringList{"id", "a", "b"};
    QTest::newRow("unknown: rowid for a table with a declared key")
        << "unknown"
        << "books" << QStringList{"rowid", "title"} << SchemaFit::kPause
        << "no column rowid in books" << QStringList{"rowid", "title"};
    QTest::newRow("unknown: key differs, composite key column missing")
        << "unknown"
        << "pairs" << QStringList{"k1", "v"} << SchemaFit::kPause
        << "the key of pairs differs (no k2 in the change)" << QStringList{"k1", "v"};
    QTest::newRow("unknown: key differs, first key column missing")
        << "unknown"
        << "pairs" << QStringList{"v", "k2"} << SchemaFit::kPause
        << "the key of pairs differs (no k1 in the change)" << QStringList{"v", "k2"};
    QTest::newRow("unknown: key differs, table keyed by rowid here")
        << "unknown"
        << "notes" << QStringList{"body", "tag"} << SchemaFit::kPause
        << "the key of notes differs (no rowid in the change)" << QStringList{"body", "tag"};
    QTest::newRow("unknown: key differs, key column missing")
        << "unknown"
        << "books" << QStringList{"title", "author"} << SchemaFit::kPause
        << "the key of books differs (no id in the change)" << QStringList{"title", "author"};
    QTest::newRow("unknown: compatible, all columns")
        << "unknown"
        << "books" << QStringList{"id", "title", "author"} << SchemaFit::kApply << ""
        << QStringList{"id", "title", "author"};
    QTest::newRow("unknown: compatible, some columns")
        << "unknown"
        << "books" << QStringList{"id", "author"} << SchemaFit::kApply << ""
        << QStringList{"id", "author"};
    QTest::newRow("unknown: compatible, key only (a delete)")
        << "unknown"
        << "books" << QStringList{"id"} << SchemaFit::kApply << "" << QStringList{"id"};
    QTest::newRow("unknown: compatible, case-insensitive names")
        << "unknown"
        << "books" << QStringList{"ID", "TITLE", "Author"} << SchemaFit::kApply << ""
        << QStringList{"ID", "TITLE", "Author"};
    QTest::newRow("unknown: compatible, case-insensitive key")
        << "unknown"
        << "Mixed" << QStringList{"id", "title"} << SchemaFit::kApply << ""
        << QStringList{"id", "title"};
    QTest::newRow("unknown: compatible, composite key in any order")
        << "unknown"
        << "pairs" << QStringList{"v", "K2", "k1"} << SchemaFit::kApply << ""
        << QStringList{"v", "K2", "k1"};
    QTest::newRow("unknown: compatible, rowid table")
        << "unknown"
        << "notes" << QStringList{"rowid", "body"} << SchemaFit::kApply << ""
        << QStringList{"rowid", "body"};
    QTest::newRow("unknown: compatible, generated column not carried")
        << "unknown"
        << "gen" << QStringList{"id", "a"} << SchemaFit::kApply << "" << QStringList{"id", "a"};
  }

  void check() {
    QFETCH(QString, sh);
    QFETCH(QString, table);
    QFETCH(QStringList, columns);
    QFETCH(SchemaFit, fit);
    QFETCH(QString, reason);
    QFETCH(QStringList, kept);
    Change c = change(hashFor(sh), table, columns);
    const Change before = c;
    const SchemaVerdict v = m_gate->check(&c);
    QCOMPARE(v.fit, fit);
    QCOMPARE(v.reason, reason);
    QCOMPARE(namesOf(c.row), kept);
    // Whatever is kept keeps its value; nothing else of the change moves.
    for (const auto& [name, value] : c.row) {
      const Value* original = before.find(name);
      QVERIFY(original);
      QCOMPARE(value, *original);
    }
    QCOMPARE(c.table, before.table);
    QCOMPARE(c.schemaHash, before.schemaHash);
    QCOMPARE(c.fromNodeId, before.fromNodeId);
    QCOMPARE(c.type, before.type);
  }

  // The history decides: the same change from a hash the node forgot (or never had) pauses,
  // and setKnownHashes replaces the history rather than adding to it.
  void knownHashesAreTheHistoryGiven() {
    QVERIFY(m_gate->isKnown(kKnown));
    QVERIFY(m_gate->isKnown(m_catalog->schemaHash()));
    QVERIFY(!m_gate->isKnown(kUnknown));
    Change c = change(kKnown, "books", {"id", "isbn"});
    QCOMPARE(m_gate->check(&c).fit, SchemaFit::kApplyOlder);
    QCOMPARE(namesOf(c.row), QStringList{"id"});

    m_gate->setKnownHashes({kUnknown});
    QVERIFY(!m_gate->isKnown(kKnown));
    QVERIFY(m_gate->isKnown(kUnknown));
    c = change(kKnown, "books", {"id", "isbn"});
    SchemaVerdict v = m_gate->check(&c);
    QCOMPARE(v.fit, SchemaFit::kPause);
    QCOMPARE(v.reason, QString("no column isbn in books"));
    QCOMPARE(namesOf(c.row), QStringList({"id", "isbn"}));
    c = change(kUnknown, "books", {"id", "isbn"});
    QCOMPARE(m_gate->check(&c).fit, SchemaFit::kApplyOlder);
    QCOMPARE(namesOf(c.row), QStringList{"id"});

    // The catalog's previous hash counts even when the history is empty (a state store that
    // could not be read).
    m_gate->setKnownHashes({});
    c = change(m_before, "books", {"id", "isbn"});
    QCOMPARE(m_gate->check(&c).fit, SchemaFit::kApplyOlder);
    QCOMPARE(namesOf(c.row), QStringList{"id"});
    c = change(m_before, "old", {"id"});
    v = m_gate->check(&c);
    QCOMPARE(v.fit, SchemaFit::kSkipDroppedTable);
    QCOMPARE(v.reason, QString("old"));
  }

  // A column added here later makes a paused change fit: the gate reads the catalog as it is.
  void followsTheCatalog() {
    Change c = change(kUnknown, "books", {"id", "email"});
    QCOMPARE(m_gate->check(&c).reason, QString("no column email in books"));
    QVERIFY(m_db.exec("ALTER TABLE books ADD COLUMN email TEXT").isOk());
    QCOMPARE(*m_catalog->refresh(), true);
    c = change(kUnknown, "books", {"id", "email"});
    const SchemaVerdict v = m_gate->check(&c);
    QCOMPARE(v.fit, SchemaFit::kApply);
    QCOMPARE(v.reason, QString());
    // The hash before this change is the previous one now, the first one is forgotten unless
    // the history holds it.
    QVERIFY(m_catalog->previousSchemaHash() != m_before);
    m_gate->setKnownHashes({m_catalog->schemaHash()});
    c = change(m_before, "old", {"id"});
    QCOMPARE(m_gate->check(&c).reason, QString("no table old"));
  }
};

QTEST_GUILESS_MAIN(TestSchemaGate)
#include "tst_schema_gate.moc"
