// Watched tables (docs/capture.md#which-tables) and the schema hash
// (docs/wire-format.md#schema-hash) against the golden vectors.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include "schema/catalog.h"
#include "test_support.h"

using namespace hl;

class TestCatalog : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  int m_n = 0;

  SqliteDb freshDb() {
    auto db = SqliteDb::open(m_dir.filePath(QStringLiteral("c%1.db").arg(++m_n)));
    if (!db) qFatal("open");
    return std::move(*db);
  }

 private slots:
  void schemaHashVectors() {
    const QJsonObject doc =
        QJsonDocument::fromJson(test::readFile(test::dataDir() + "/schema_hash.json")).object();
    const QJsonArray vectors = doc.value("vectors").toArray();
    QVERIFY(vectors.size() >= 2);
    for (const QJsonValue& v : vectors) {
      SqliteDb db = freshDb();
      for (const QJsonValue& stmt : v.toObject().value("schema").toArray())
        QVERIFY(db.exec(stmt.toString()).isOk());
      SchemaCatalog catalog(db, {});
      QVERIFY(catalog.reload().isOk());
      QCOMPARE(schemaHashCanonical(catalog.tables()), v.toObject().value("canonical").toString());
      QCOMPARE(catalog.schemaHash(), v.toObject().value("sha256").toString());
    }
  }

  void emptyTypeAndOrdering() {
    SqliteDb db = freshDb();
    QVERIFY(db.exec("CREATE TABLE b(z, a VarChar(10) NOT NULL, t Text, PRIMARY KEY(a, z)); CREATE "
                    "TABLE a(x)")
                .isOk());
    SchemaCatalog c(db, {});
    QVERIFY(c.reload().isOk());
    QCOMPARE(
        schemaHashCanonical(c.tables()),
        QString("a|x:*schema.BinaryType:false:false\n"
                "b|a:VarChar(10):true:true|t:TEXT:false:false|z:*schema.BinaryType:false:true\n"));
    // SQLite (3.37+) reports the standard type names upper-cased, other types as written;
    // Go reads the same pragma, so both hash the same text.
  }

  void watchedTables() {
    SqliteDb db = freshDb();
    QVERIFY(db.exec(R"(
      CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT);
      CREATE TABLE "we ird""name"(a TEXT, b BLOB, PRIMARY KEY(b, a)) WITHOUT ROWID;
      CREATE TABLE nopk(x, y);
      CREATE TABLE ignored(x);
      CREATE TABLE __harmonylite__mine(x);
      CREATE VIRTUAL TABLE docs USING fts5(body);
      CREATE VIEW v AS SELECT * FROM plain;
      CREATE TABLE gen(id INTEGER PRIMARY KEY, a INT, b INT GENERATED ALWAYS AS (a * 2));
      CREATE TABLE withrowidcol(rowid TEXT, v);
    )")
                .isOk());
    SchemaCatalog c(db, {"ignored"});
    QVERIFY(c.reload().isOk());
    QStringList names;
    for (const TableInfo& t : c.tables()) names << t.name;
    QCOMPARE(names, QStringList({"gen", "nopk", "plain", "we ird\"name", "withrowidcol"}));
    QVERIFY(c.skippedTables().contains("docs"));
    QVERIFY(c.skippedTables().contains("docs_data"));  // FTS5 shadow table
    QVERIFY(c.skippedTables().contains("ignored"));

    const TableInfo* weird = c.find("we ird\"name");
    QVERIFY(weird);
    QVERIFY(weird->withoutRowid);
    QCOMPARE(weird->pkColumns, QStringList({"b", "a"}));  // key order, not column order
    QCOMPARE(c.find("plain")->pkColumns, QStringList({"id"}));
    QCOMPARE(c.find("nopk")->keyColumns(), QStringList({"rowid"}));
    QCOMPARE(c.find("nopk")->rowidName, QString("rowid"));
    QCOMPARE(c.find("withrowidcol")->rowidName, QString("_rowid_"));
    QCOMPARE(c.find("gen")->storedColumns(), QStringList({"id", "a"}));
    QVERIFY(!c.find("PLAIN"));  // exact names
    QVERIFY(!c.find("x\"; DROP TABLE plain; --"));
    QVERIFY(c.find("plain")->column("V"));  // column names are case-insensitive, like SQLite
  }

  void refreshFollowsSchemaVersion() {
    SqliteDb db = freshDb();
    QVERIFY(db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY)").isOk());
    SchemaCatalog c(db, {});
    QCOMPARE(*c.refresh(), true);
    const QString h1 = c.schemaHash();
    QCOMPARE(*c.refresh(), false);  // nothing changed
    QVERIFY(db.exec("ALTER TABLE t ADD COLUMN v TEXT").isOk());
    QCOMPARE(*c.refresh(), true);
    QVERIFY(c.schemaHash() != h1);
    QCOMPARE(c.previousSchemaHash(), h1);
    QCOMPARE(c.find("t")->columns.size(), 2);
  }
};

QTEST_GUILESS_MAIN(TestCatalog)
#include "tst_catalog.moc"
