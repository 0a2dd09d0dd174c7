// The schema registry's entries (replication/schema_registry.h): the JSON Go's NodeSchemaState
// has ({node_id number, schema_hash, previous_hash omitempty, harmonylite_version, updated_at
// RFC 3339}) plus our `tables`; Go-written entries (no tables, nanoseconds, any offset);
// round trips; bad entries naming the field; registryAgrees, schemaTablesOf, registryKey.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include "replication/schema_registry.h"
#include "schema/catalog.h"
#include "test_support.h"

using namespace hl;

namespace {

const QString kH1 = QString(64, 'a');
const QString kH2 = QStringLiteral("0123456789abcdef").repeated(4);
const QString kH3 = QString(63, 'c') + '3';

// 2026-11-30T22:53:21.123Z
qint64 msAt(int h, int m, int s, int ms) {
  return QDateTime(QDate(2026, 11, 30), QTime(h, m, s, ms), Qt::UTC).toMSecsSinceEpoch();
}

SchemaNode node(uint64_t id, const QString& hash, const QString& previous = {}) {
  SchemaNode n;
  n.nodeId = id;
  n.schemaHash = hash;
  n.previousHash = previous;
  n.version = QStringLiteral("1.4.0-cpp");
  n.updatedAtMs = msAt(22, 53, 21, 123);
  n.hasTables = true;
  n.tables = {
      {"Books", {{"id", "INTEGER", false, 1}, {"title", "TEXT", true, 0}, {"note", "", false, 0}}},
      {"pairs", {{"k1", "VarChar(10)", true, 2}, {"k2", "INT", false, 1}}}};
  return n;
}

QJsonObject objectOf(const QByteArray& json) {
  QJsonParseError error;
  const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
  if (!doc.isObject()) qWarning() << "not an object:" << json << error.errorString();
  return doc.object();
}

QStringList tableNames(const QList<SchemaTable>& tables) {
  QStringList names;
  for (const SchemaTable& t : tables) names << t.name;
  return names;
}

// "name:type:not_null:pk" of each column, for one-line comparisons.
QStringList columnsOf(const SchemaTable& t) {
  QStringList out;
  for (const SchemaColumn& c : t.columns)
    out << QStringLiteral("%1:%2:%3:%4").arg(c.name, c.type).arg(c.notNull).arg(c.pk);
  return out;
}

}  // namespace

class TestSchemaRegistry : public QObject {
  Q_OBJECT

 private slots:
  void registryKey_data() {
    QTest::addColumn<quint64>("id");
    QTest::addColumn<QString>("key");
    QTest::newRow("1") << quint64(1) << "node-1";
    QTest::newRow("generated id") << quint64(2147483646) << "node-2147483646";
    QTest::newRow("int64 max") << quint64(9223372036854775807ULL) << "node-9223372036854775807";
    QTest::newRow("uint64 max") << quint64(18446744073709551615ULL) << "node-18446744073709551615";
  }

  void registryKey() {
    QFETCH(quint64, id);
    QFETCH(QString, key);
    QCOMPARE(hl::registryKey(id), key);
  }

  // Go reads our entry into NodeSchemaState: the field names and JSON types must be Go's.
  void encodeHasGoFields() {
    const SchemaNode n = node(7, kH1, kH2);
    const QByteArray json = encodeRegistryEntry(n);
    const QJsonObject o = objectOf(json);
    QStringList keys = o.keys();
    keys.sort();
    QCOMPARE(keys, QStringList({"harmonylite_version", "node_id", "previous_hash", "schema_hash",
                                "tables", "updated_at"}));
    QVERIFY2(o["node_id"].isDouble(), json.constData());  // a number, not a string
    QCOMPARE(o["node_id"].toInteger(), qint64(7));
    QVERIFY2(QRegularExpression(R"("node_id":7[,}])").match(QString::fromUtf8(json)).hasMatch(),
             json.constData());  // an integer literal, as Go's uint64 needs
    QCOMPARE(o["schema_hash"].toString(), kH1);
    QCOMPARE(o["previous_hash"].toString(), kH2);
    QCOMPARE(o["harmonylite_version"].toString(), QString("1.4.0-cpp"));
    // RFC 3339 as Go's time.Time.UnmarshalJSON takes it (a 'T', seconds, an offset or Z).
    const QString at = o["updated_at"].toString();
    QCOMPARE(at, QString("2026-11-30T22:53:21.123Z"));
    static const QRegularExpression rfc3339(
        R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$)");
    QVERIFY2(rfc3339.match(at).hasMatch(), qPrintable(at));
    QCOMPARE(QDateTime::fromString(at, Qt::ISODateWithMs).toMSecsSinceEpoch(), n.updatedAtMs);
    // `tables`, which Go ignores: every table with its columns in declaration order.
    const QJsonArray tables = o["tables"].toArray();
    QCOMPARE(tables.size(), 2);
    QCOMPARE(tables[0]["name"].toString(), QString("Books"));
    const QJsonArray columns = tables[0]["columns"].toArray();
    QCOMPARE(columns.size(), 3);
    QStringList columnKeys = columns[0].toObject().keys();
    columnKeys.sort();
    QCOMPARE(columnKeys, QStringList({"name", "not_null", "pk", "type"}));
    QCOMPARE(columns[0].toObject(),
             QJsonObject({{"name", "id"}, {"type", "INTEGER"}, {"not_null", false}, {"pk", 1}}));
    QCOMPARE(columns[1].toObject(),
             QJsonObject({{"name", "title"}, {"type", "TEXT"}, {"not_null", true}, {"pk", 0}}));
    QCOMPARE(columns[2].toObject(),
             QJsonObject({{"name", "note"}, {"type", ""}, {"not_null", false}, {"pk", 0}}));
    QCOMPARE(tables[1]["columns"].toArray()[0].toObject(),
             QJsonObject({{"name", "k1"}, {"type", "VarChar(10)"}, {"not_null", true}, {"pk", 2}}));
  }

  void encodeOmitsEmptyPreviousHash() {
    SchemaNode n = node(3, kH1);
    const QJsonObject o = objectOf(encodeRegistryEntry(n));
    QVERIFY(!o.contains("previous_hash"));  // Go: `json:"previous_hash,omitempty"`
    QCOMPARE(o["schema_hash"].toString(), kH1);
    // No tables is still a list (an empty schema), not a missing field.
    n.tables.clear();
    const QJsonObject empty = objectOf(encodeRegistryEntry(n));
    QVERIFY(empty["tables"].isArray());
    QCOMPARE(empty["tables"].toArray().size(), 0);
  }

  // Go writes updated_at with time.Time's MarshalJSON: RFC 3339 with up to nine fraction digits,
  // trailing zeros trimmed, in the writer's zone.
  void decodeGoEntry_data() {
    QTest::addColumn<QString>("updatedAt");
    QTest::addColumn<qint64>("ms");
    QTest::newRow("nanoseconds, +01:00")
        << "2026-11-30T23:53:21.123456789+01:00" << msAt(22, 53, 21, 123);
    QTest::newRow("nanoseconds, Z") << "2026-11-30T22:53:21.987654321Z" << msAt(22, 53, 21, 987);
    QTest::newRow("microseconds, truncated")
        << "2026-11-30T22:53:21.000999Z" << msAt(22, 53, 21, 0);
    QTest::newRow("milliseconds, +00:00")
        << "2026-11-30T22:53:21.123+00:00" << msAt(22, 53, 21, 123);
    QTest::newRow("no fraction, Z") << "2026-11-30T22:53:21Z" << msAt(22, 53, 21, 0);
    QTest::newRow("no fraction, -05:00") << "2026-11-30T17:53:21-05:00" << msAt(22, 53, 21, 0);
    QTest::newRow("tenths (zeros trimmed)") << "2026-11-30T22:53:21.5Z" << msAt(22, 53, 21, 500);
    QTest::newRow("hundredths, -05:00") << "2026-11-30T17:53:21.12-05:00" << msAt(22, 53, 21, 120);
    QTest::newRow("four digits, +05:30")
        << "2026-12-01T04:23:21.0421+05:30" << msAt(22, 53, 21, 42);
    QTest::newRow("across the date line, +14:00")
        << "2026-12-01T12:53:21.1+14:00" << msAt(22, 53, 21, 100);
  }

  void decodeGoEntry() {
    QFETCH(QString, updatedAt);
    QFETCH(qint64, ms);
    // json.Marshal(NodeSchemaState{...}) of a Go node: no tables.
    const QByteArray go = QStringLiteral(R"({"node_id":2,"schema_hash":"%1","previous_hash":"%2",)"
                                         R"("harmonylite_version":"v0.10.2","updated_at":"%3"})")
                              .arg(kH1, kH2, updatedAt)
                              .toUtf8();
    auto n = decodeRegistryEntry(go);
    QVERIFY2(n.ok(), qPrintable(n.status().message()));
    QCOMPARE(n->nodeId, uint64_t(2));
    QCOMPARE(n->schemaHash, kH1);
    QCOMPARE(n->previousHash, kH2);
    QCOMPARE(n->version, QString("v0.10.2"));
    QCOMPARE(n->updatedAtMs, ms);
    QVERIFY(!n->hasTables);
    QVERIFY(n->tables.isEmpty());
  }

  void decodeGoEntryWithoutPreviousHash() {
    auto n = decodeRegistryEntry(QStringLiteral(R"({"node_id":9,"schema_hash":"%1",)"
                                                R"("harmonylite_version":"v0.10.2",)"
                                                R"("updated_at":"2026-11-30T22:53:21Z"})")
                                     .arg(kH3)
                                     .toUtf8());
    QVERIFY2(n.ok(), qPrintable(n.status().message()));
    QCOMPARE(n->nodeId, uint64_t(9));
    QCOMPARE(n->schemaHash, kH3);
    QCOMPARE(n->previousHash, QString());
    QVERIFY(!n->hasTables);
  }

  // What we do not know is ignored, as Go ignores `tables`; an updated_at that is no time reads
  // as 0 ("never") rather than losing the entry.
  void decodeIgnoresUnknownFieldsAndBadTime() {
    auto n = decodeRegistryEntry(QStringLiteral(R"({"schema_hash":"%1","node_id":4,"extra":[1,2],)"
                                                R"("updated_at":"yesterday","future":{"a":1}})")
                                     .arg(kH1)
                                     .toUtf8());
    QVERIFY2(n.ok(), qPrintable(n.status().message()));
    QCOMPARE(n->nodeId, uint64_t(4));
    QCOMPARE(n->updatedAtMs, qint64(0));
    QCOMPARE(n->version, QString());
  }

  // Tables from another writer: sorted byte-wise, nameless tables and columns left out, an
  // empty list is a node with no tables (hasTables true).
  void decodeTables() {
    const QByteArray json =
        QStringLiteral(R"({"node_id":5,"schema_hash":"%1","tables":[)"
                       R"({"name":"b","columns":[{"name":"x","type":"BLOB","pk":1},)"
                       R"({"type":"TEXT"},{"name":"y","not_null":true}]},)"
                       R"({"name":"","columns":[{"name":"z"}]},)"
                       R"({"name":"B","columns":[]},{"name":"a"}]})")
            .arg(kH1)
            .toUtf8();
    auto n = decodeRegistryEntry(json);
    QVERIFY2(n.ok(), qPrintable(n.status().message()));
    QVERIFY(n->hasTables);
    QCOMPARE(tableNames(n->tables), QStringList({"B", "a", "b"}));
    QCOMPARE(columnsOf(n->tables[2]), QStringList({"x:BLOB:0:1", "y::1:0"}));
    QVERIFY(n->tables[0].columns.isEmpty());

    auto none = decodeRegistryEntry(
        QStringLiteral(R"({"node_id":5,"schema_hash":"%1","tables":[]})").arg(kH1).toUtf8());
    QVERIFY(none.ok());
    QVERIFY(none->hasTables);
    QVERIFY(none->tables.isEmpty());
  }

  void roundTrip_data() {
    QTest::addColumn<quint64>("id");
    QTest::addColumn<QString>("previous");
    QTest::addColumn<qint64>("ms");
    QTest::newRow("full") << quint64(7) << kH2 << msAt(22, 53, 21, 123);
    QTest::newRow("no previous hash") << quint64(1) << QString() << msAt(0, 0, 0, 1);
    QTest::newRow("epoch") << quint64(3) << kH3 << qint64(0);
    QTest::newRow("generated id") << quint64(2147483646) << kH2 << msAt(23, 59, 59, 999);
    QTest::newRow("id above 2^53") << quint64(9007199254740993ULL) << kH2 << msAt(12, 0, 0, 500);
    QTest::newRow("id int64 max (node_id's upper bound)")
        << quint64(9223372036854775807ULL) << kH2 << msAt(12, 0, 0, 500);
  }

  void roundTrip() {
    QFETCH(quint64, id);
    QFETCH(QString, previous);
    QFETCH(qint64, ms);
    SchemaNode n = node(id, kH1, previous);
    n.updatedAtMs = ms;
    const QByteArray json = encodeRegistryEntry(n);
    // Written as the exact integer (Go reads node_id into a uint64).
    QVERIFY2(json.contains("\"node_id\":" + QByteArray::number(id) + ","), json.constData());
    auto back = decodeRegistryEntry(json);
    QVERIFY2(back.ok(), qPrintable(back.status().message()));
    QCOMPARE(back->nodeId, n.nodeId);
    QCOMPARE(back->schemaHash, n.schemaHash);
    QCOMPARE(back->previousHash, n.previousHash);
    QCOMPARE(back->version, n.version);
    QCOMPARE(back->updatedAtMs, n.updatedAtMs);
    QCOMPARE(back->hasTables, true);
    QCOMPARE(tableNames(back->tables), tableNames(n.tables));
    for (qsizetype i = 0; i < n.tables.size(); ++i)
      QCOMPARE(columnsOf(back->tables[i]), columnsOf(n.tables[i]));
  }

  void decodeRejects_data() {
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("names");  // what the error message names
    // An entry with a good schema_hash after `before` (moc cannot read a raw string with an odd
    // number of quotes).
    const auto withHash = [](const QByteArray& before) {
      return "{" + before + R"("schema_hash":)" + '"' + kH1.toUtf8() + '"' + "}";
    };
    QTest::newRow("not JSON") << QByteArray(R"({"node_id":1,)") << "not a JSON object";
    QTest::newRow("empty") << QByteArray() << "not a JSON object";
    QTest::newRow("array") << QByteArray(R"([{"node_id":1}])") << "not a JSON object";
    QTest::newRow("string") << QByteArray(R"("node-1")") << "not a JSON object";
    QTest::newRow("CBOR lease record") << QByteArray("\xa2\x66NodeID\x01") << "not a JSON object";
    QTest::newRow("missing node_id") << withHash("") << "node_id";
    QTest::newRow("node_id a string") << withHash(R"("node_id":"7",)") << "node_id";
    QTest::newRow("node_id null") << withHash(R"("node_id":null,)") << "node_id";
    QTest::newRow("node_id 0") << withHash(R"("node_id":0,)") << "node_id";
    QTest::newRow("node_id negative") << withHash(R"("node_id":-3,)") << "node_id";
    QTest::newRow("node_id a fraction") << withHash(R"("node_id":7.5,)") << "node_id";
    QTest::newRow("node_id an object") << withHash(R"("node_id":{"id":7},)") << "node_id";
    QTest::newRow("missing schema_hash") << QByteArray(R"({"node_id":7})") << "schema_hash";
    QTest::newRow("empty schema_hash")
        << QByteArray(R"({"node_id":7,"schema_hash":""})") << "schema_hash";
    QTest::newRow("schema_hash a number")
        << QByteArray(R"({"node_id":7,"schema_hash":12})") << "schema_hash";
  }

  void decodeRejects() {
    QFETCH(QByteArray, json);
    QFETCH(QString, names);
    auto n = decodeRegistryEntry(json);
    QVERIFY(!n.ok());
    QCOMPARE(n.status().code(), Status::Code::kInvalidArgument);
    QVERIFY2(n.status().message().contains(names), qPrintable(n.status().message()));
  }

  void registryAgrees_data() {
    QTest::addColumn<QStringList>("hashes");
    QTest::addColumn<bool>("agrees");
    QTest::newRow("no entry") << QStringList() << false;
    QTest::newRow("one") << QStringList{kH1} << true;
    QTest::newRow("two alike") << QStringList{kH1, kH1} << true;
    QTest::newRow("two differ") << QStringList{kH1, kH2} << false;
    QTest::newRow("last differs") << QStringList{kH1, kH1, kH1, kH2} << false;
    QTest::newRow("first differs") << QStringList{kH2, kH1, kH1} << false;
    QTest::newRow("three alike") << QStringList{kH3, kH3, kH3} << true;
  }

  void registryAgrees() {
    QFETCH(QStringList, hashes);
    QFETCH(bool, agrees);
    QList<SchemaNode> nodes;
    for (const QString& h : hashes) {
      const uint64_t id = uint64_t(nodes.size()) + 1;
      nodes << node(id, h, id % 2 ? kH3 : QString());
    }
    QCOMPARE(hl::registryAgrees(nodes), agrees);
  }

  // Sorted by the names' UTF-8 bytes (Go's sort.Strings), not by locale or case-folded.
  void schemaTablesOfSortsByteWise() {
    QList<TableInfo> tables;
    for (const char* name : {"beta", "éclair", "Zeta", "a_b", "alpha", "aB", "Alpha"}) {
      TableInfo t;
      t.name = QString::fromUtf8(name);
      t.columns = {{"c", "TEXT", false, 0, 0}};
      tables << t;
    }
    QCOMPARE(tableNames(schemaTablesOf(tables)),
             QStringList({"Alpha", "Zeta", "aB", "a_b", "alpha", "beta", "éclair"}));
  }

  // From a real catalog: every column with its declared type as SQLite reports it, NOT NULL and
  // key position, in declaration order; generated columns are part of the schema too.
  void schemaTablesOfRealCatalog() {
    QTemporaryDir dir;
    auto db = SqliteDb::open(dir.filePath("r.db"));
    QVERIFY(db.ok());
    QVERIFY(db->exec(R"(
      CREATE TABLE t(a VarChar(10) NOT NULL, b Text, c, PRIMARY KEY(b, a));
      CREATE TABLE G(id INTEGER PRIMARY KEY, n INT, d INT GENERATED ALWAYS AS (n * 2));
      CREATE TABLE __harmonylite__own_thing(x);
    )")
                .isOk());
    SchemaCatalog catalog(*db, {});
    QVERIFY(catalog.reload().isOk());
    const QList<SchemaTable> st = schemaTablesOf(catalog.tables());
    QCOMPARE(tableNames(st), QStringList({"G", "t"}));
    QCOMPARE(columnsOf(st[1]), QStringList({"a:VarChar(10):1:2", "b:TEXT:0:1", "c::0:0"}));
    QCOMPARE(columnsOf(st[0]), QStringList({"id:INTEGER:0:1", "n:INT:0:0", "d:INT:0:0"}));
  }
};

QTEST_GUILESS_MAIN(TestSchemaRegistry)
#include "tst_schema_registry.moc"
