// The consistency check's messages (docs/consistency.md#protocol): every value kind survives the
// trip exactly, answers decode as they were encoded, and what a node must not act on is refused
// with a reason.
#include <QJsonDocument>
#include <QtTest>

#include <cmath>
#include <limits>

#include "consistency/check_protocol.h"

using namespace hl;

class TestCheckProtocol : public QObject {
  Q_OBJECT

 private slots:
  void valuesKeepTheirStorageClass() {
    const QList<Value> values = {Value::null(),
                                 Value::integer(std::numeric_limits<int64_t>::min()),
                                 Value::integer(42),
                                 Value::real(-0.0),
                                 Value::real(0.1),
                                 Value::real(std::nan("")),
                                 Value::text(QByteArray("a|b'c\xff", 6)),  // not UTF-8
                                 Value::text(QByteArray()),
                                 Value::blob(QByteArray("\0\1", 2))};
    for (const Value& v : values) {
      auto back = check::valueFromJson(check::valueToJson(v));
      QVERIFY2(back.ok(), qPrintable(back.status().message()));
      QVERIFY2(*back == v,
               qPrintable(v.toDebugString() + " came back as " + back->toDebugString()));
    }
    // -0.0 and 0.0 stay apart on the wire (the digest treats them alike, the key does not).
    QVERIFY(check::valueToJson(Value::real(-0.0)) != check::valueToJson(Value::real(0.0)));
    QVERIFY(check::valueToJson(Value::integer(1)) != check::valueToJson(Value::text("1")));
  }

  void malformedValuesAreRefused() {
    for (const char* json : {R"(["int","x"])", R"(["real","zz"])", R"(["text","%%%"])",
                             R"(["date","1"])", R"(["int"])", R"([])", R"(["null",1])"}) {
      const QJsonArray a = QJsonDocument::fromJson(QByteArray("[") + json + "]").array();
      QVERIFY2(!check::valueFromJson(a.at(0)).ok(), json);
    }
  }

  void requestsRoundTrip() {
    check::Request r;
    r.check = "c1";
    r.target = {{"s-1", 18446744073709551615ull}, {"s-2", 7}};
    r.holdMs = 5000;
    r.table = "t";
    r.buckets = 4096;
    r.wanted = {0, 4095};
    r.maxRows = 10;
    r.keys = {{Value::integer(1), Value::text("x")}, {Value::blob("\x01")}};
    auto back = check::decodeRequest(check::encode(r));
    QVERIFY2(back.ok(), qPrintable(back.status().message()));
    QCOMPARE(back->check, r.check);
    QCOMPARE(back->target, r.target);
    QCOMPARE(back->holdMs, r.holdMs);
    QCOMPARE(back->table, r.table);
    QCOMPARE(back->buckets, r.buckets);
    QCOMPARE(back->wanted, r.wanted);
    QCOMPARE(back->maxRows, r.maxRows);
    QCOMPARE(back->keys.size(), 2);
    QVERIFY(back->keys[0] == r.keys[0] && back->keys[1] == r.keys[1]);
  }

  void badRequestsAreRefusedWithAReason_data() {
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("reason");
    QTest::newRow("not json") << QByteArray("{") << "not JSON";
    QTest::newRow("array") << QByteArray("[]") << "not a JSON object";
    QTest::newRow("version") << QByteArray(R"({"v":2,"check":"c"})") << "version 2";
    QTest::newRow("no id") << QByteArray(R"({"v":1})") << "no check id";
    QTest::newRow("buckets") << QByteArray(R"({"v":1,"check":"c","buckets":3})")
                             << "not a power of two";
    QTest::newRow("too many buckets")
        << QByteArray(R"({"v":1,"check":"c","buckets":131072})") << "not a power of two";
    QTest::newRow("wanted") << QByteArray(R"({"v":1,"check":"c","buckets":4,"wanted":[4]})")
                            << "bucket 4 is out of range";
    QTest::newRow("position") << QByteArray(R"({"v":1,"check":"c","target":{"s":"-1"}})")
                              << "a position is not a number";
    QTest::newRow("hold") << QByteArray(R"({"v":1,"check":"c","hold_ms":999999})") << "hold_ms";
    QTest::newRow("value") << QByteArray(R"({"v":1,"check":"c","keys":[[["int","1.5"]]]})")
                           << "kind 'int' is malformed";
    QByteArray many = R"({"v":1,"check":"c","keys":[)";
    for (int i = 0; i <= check::kMaxKeys; ++i) many += i ? ",[]" : "[]";
    QTest::newRow("too many keys") << many + "]}"
                                   << "more than 10000";
  }
  void badRequestsAreRefusedWithAReason() {
    QFETCH(QByteArray, json);
    QFETCH(QString, reason);
    auto r = check::decodeRequest(json);
    QVERIFY(!r.ok());
    QVERIFY2(r.status().message().contains(reason), qPrintable(r.status().message()));
  }

  void answersRoundTrip() {
    check::NodeAnswer a;
    a.check = "c";
    a.node = 18446744073709551615ull;
    a.state = "held";
    a.schemaHash = "abc";
    a.positions = {{"s-1", 5}};
    a.tables = {{"t", 3, QString(32, 'f')}};
    a.heldMs = 12;
    a.digestMs = 34;
    auto back = check::decodeAnswer(check::encode(a));
    QVERIFY(back.ok());
    QCOMPARE(back->node, a.node);
    QCOMPARE(back->positions, a.positions);
    QCOMPARE(back->tables.size(), 1);
    QCOMPARE(back->tables[0].rows, quint64(3));
    QCOMPARE(back->tables[0].digest, a.tables[0].digest);
    QCOMPARE(back->heldMs, 12);
    a.state = "asleep";
    QVERIFY(!check::decodeAnswer(check::encode(a)).ok());

    check::RowsAnswer rows;
    rows.node = 2;
    rows.table = "t";
    rows.truncated = true;
    rows.rows = {{{Value::integer(7)}, "7", "id=7", QString(32, '0')}};
    auto rb = check::decodeRows(check::encode(rows));
    QVERIFY(rb.ok());
    QVERIFY(rb->truncated);
    QCOMPARE(rb->rows.size(), 1);
    QVERIFY(rb->rows[0].key == rows.rows[0].key);
    QCOMPARE(rb->rows[0].values, QString("id=7"));

    check::BucketsAnswer b;
    b.node = 3;
    b.buckets = {{0, QString(32, '0')}, {5, QString(32, 'a')}};
    auto bb = check::decodeBuckets(check::encode(b));
    QVERIFY(bb.ok());
    QCOMPARE(bb->buckets, b.buckets);
    QVERIFY(!check::decodeBuckets(R"({"v":1,"node":"3","buckets":["x"]})").ok());
  }
};

QTEST_GUILESS_MAIN(TestCheckProtocol)
#include "tst_check_protocol.moc"
