// The golden wire vectors (docs/wire-format.md#message, docs/wire-format.md#shard): envelopes.json
// decodes to its "decoded" meaning and the encode:true envelopes re-encode byte for byte; every
// shard_hash.json case gives its bytes, FNV-1 64 hash and shards for N=2 and N=3.
#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>

#include "test_support.h"
#include "wire/cbor_codec.h"
#include "wire/shard.h"

using namespace hl;

Q_DECLARE_METATYPE(hl::Value)

namespace {

QJsonArray loadVectors(const QString& file) {
  const QByteArray json = test::readFile(test::dataDir() + "/" + file);
  return QJsonDocument::fromJson(json).object().value("vectors").toArray();
}

// The vectors' JSON values with their storage class: integral numbers are INTEGER, strings
// TEXT, null NULL (the vectors hold no REAL or BLOB row values).
Value jsonValue(const QJsonValue& v) {
  if (v.isNull()) return Value::null();
  if (v.isString()) return Value::text(v.toString());
  if (v.isDouble() && std::trunc(v.toDouble()) == v.toDouble())
    return Value::integer(v.toInteger());
  return Value::text(QStringLiteral("<unexpected JSON value>"));
}

ChangeType typeFromName(const QString& name) {
  if (name == "update") return ChangeType::kUpdate;
  if (name == "delete") return ChangeType::kDelete;
  return ChangeType::kInsert;
}

// The Change a vector's "decoded" object describes (its Row in the object's key order).
Change changeFromJson(const QJsonObject& decoded) {
  const QJsonObject payload = decoded.value("Payload").toObject();
  Change c;
  c.fromNodeId = quint64(decoded.value("FromNodeId").toInteger());
  c.id = payload.value("Id").toInteger();
  c.type = typeFromName(payload.value("Type").toString());
  c.table = payload.value("TableName").toString();
  const QJsonObject row = payload.value("Row").toObject();
  for (auto it = row.begin(); it != row.end(); ++it) c.row.append({it.key(), jsonValue(*it)});
  c.schemaHash = payload.value("sh").toString();
  return c;
}

using PkColumns = QList<QPair<QString, Value>>;
struct ShardInput {
  QString table;
  PkColumns pk;
};

// The inputs shard_hash.json describes in words, keyed by its "case" text. Composite keys are
// given out of order, so the sorting is exercised.
QHash<QString, ShardInput> shardInputs() {
  return {
      {"Books, id=1", {"Books", {{"id", Value::integer(1)}}}},
      {"Books, id=-1", {"Books", {{"id", Value::integer(-1)}}}},
      {"users, a='x', b=2 (composite PK, names sorted)",
       {"users", {{"b", Value::integer(2)}, {"a", Value::text(QString("x"))}}}},
      {"t, rowid=300 (table without declared PK)", {"t", {{"rowid", Value::integer(300)}}}},
      {"t, k=X'010203' (BLOB PK)", {"t", {{"k", Value::blob(QByteArray("\x01\x02\x03", 3))}}}},
      {"t, k=1.5 (REAL PK)", {"t", {{"k", Value::real(1.5)}}}},
      {"t, k=NULL", {"t", {{"k", Value::null()}}}},
      {"users, id=1", {"users", {{"id", Value::integer(1)}}}},
  };
}

}  // namespace

class TestWireVectors : public QObject {
  Q_OBJECT
 private slots:
  void envelopes_data() {
    QTest::addColumn<QByteArray>("cbor");
    QTest::addColumn<bool>("encode");
    QTest::addColumn<QJsonObject>("decoded");
    const QJsonArray vectors = loadVectors("envelopes.json");
    QVERIFY2(vectors.size() >= 3, "envelopes.json not found or empty");
    for (const QJsonValue& v : vectors) {
      const QJsonObject o = v.toObject();
      QTest::newRow(qPrintable(o.value("case").toString()))
          << QByteArray::fromHex(o.value("cbor_hex").toString().toLatin1())
          << o.value("encode").toBool() << o.value("decoded").toObject();
    }
  }

  void envelopes() {
    QFETCH(QByteArray, cbor);
    QFETCH(bool, encode);
    QFETCH(QJsonObject, decoded);
    const Change expected = changeFromJson(decoded);

    const Result<Change> got = decodeChange(cbor);
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QCOMPARE(got->fromNodeId, expected.fromNodeId);
    QCOMPARE(got->id, expected.id);
    QCOMPARE(changeTypeName(got->type), changeTypeName(expected.type));
    QCOMPARE(got->table, expected.table);
    QCOMPARE(got->schemaHash, expected.schemaHash);
    QCOMPARE(got->row.size(), expected.row.size());
    for (const auto& [column, value] : expected.row) {
      const Value* actual = got->find(column);
      QVERIFY2(actual, qPrintable("missing column " + column));
      QVERIFY2(*actual == value, qPrintable(column + ": " + actual->toDebugString() +
                                            " != " + value.toDebugString()));
    }

    if (encode) {
      QCOMPARE(encodeChange(expected).toHex(), cbor.toHex());
      QCOMPARE(encodeChange(*got).toHex(), cbor.toHex());
    }
  }

  void shardHash_data() {
    QTest::addColumn<QString>("table");
    QTest::addColumn<PkColumns>("pk");
    QTest::addColumn<QByteArray>("cbor");
    QTest::addColumn<QByteArray>("hash");
    QTest::addColumn<int>("shardN2");
    QTest::addColumn<int>("shardN3");
    const QJsonArray vectors = loadVectors("shard_hash.json");
    QVERIFY2(vectors.size() >= 8, "shard_hash.json not found or short");
    const QHash<QString, ShardInput> inputs = shardInputs();
    for (const QJsonValue& v : vectors) {
      const QJsonObject o = v.toObject();
      const QString name = o.value("case").toString();
      QVERIFY2(inputs.contains(name), qPrintable("no input written for case: " + name));
      const ShardInput& in = inputs[name];
      QTest::newRow(qPrintable(name))
          << in.table << in.pk << QByteArray::fromHex(o.value("cbor_hex").toString().toLatin1())
          << o.value("fnv1_64").toString().toLatin1() << o.value("shard_n2").toInt()
          << o.value("shard_n3").toInt();
    }
  }

  void shardHash() {
    QFETCH(QString, table);
    QFETCH(PkColumns, pk);
    QFETCH(QByteArray, cbor);
    QFETCH(QByteArray, hash);
    QFETCH(int, shardN2);
    QFETCH(int, shardN3);
    const QByteArray key = shardKeyBytes(table, pk);
    QCOMPARE(key.toHex(), cbor.toHex());
    QCOMPARE(QByteArray::number(fnv1_64(key)), hash);
    QCOMPARE(shardFor(table, pk, 2), shardN2);
    QCOMPARE(shardFor(table, pk, 3), shardN3);
    QCOMPARE(shardFor(table, pk, 1), 1);
  }

  void fnv1Reference() {
    QCOMPARE(fnv1_64(QByteArray()), 14695981039346656037ull);  // the offset basis
    QCOMPARE(fnv1_64("a"), 0xaf63bd4c8601b7beull);             // FNV-1, not FNV-1a (0xaf63dc4c...)
  }

  void shardCountBelowOneIsOne() {
    const PkColumns pk{{"id", Value::integer(-1)}};
    QCOMPARE(shardFor("Books", pk, 0), 1);
    QCOMPARE(shardFor("Books", pk, -5), 1);
  }

  // Names sort by UTF-8 bytes, as Go's sort.Strings does: U+FF5A (ef bd 9a) comes before
  // U+1F600 (f0 9f 98 80), although its UTF-16 code unit is the larger.
  void shardKeySortsUtf8Bytes() {
    const QString wide = QString::fromUtf8("\xef\xbd\x9a"),
                  emoji = QString::fromUtf8("\xf0\x9f\x98\x80");
    const PkColumns pk{{emoji, Value::integer(1)}, {wide, Value::integer(2)}, {"z", Value::null()}};
    QCOMPARE(shardKeyBytes("t", pk).toHex(), QByteArray("9f6174"
                                                        "82617af6"
                                                        "8263efbd9a02"
                                                        "8264f09f988001"
                                                        "ff"));
  }

  // Shard keys are only hashed: TEXT stays a text string even when it is not UTF-8, as in Go.
  void shardKeyKeepsInvalidTextAsText() {
    const PkColumns pk{{"k", Value::text(QByteArray("\xff\xfe"))}};
    QCOMPARE(shardKeyBytes("t", pk).toHex(), QByteArray("9f6174"
                                                        "82616b62fffe"
                                                        "ff"));
  }
};

QTEST_GUILESS_MAIN(TestWireVectors)
#include "tst_wire_vectors.moc"
