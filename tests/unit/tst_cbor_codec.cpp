// The change codec (cbor_codec.h) and zstd framing (compression.h): round trips of every
// storage class with shortest-form checks, the forms Go senders produce (hand-written CBOR),
// and hostile input, which must always give a kPoison status and never crash.
#include <QtTest>

#include <zstd.h>

#include <cmath>
#include <initializer_list>
#include <limits>

#include "wire/cbor_codec.h"
#include "wire/cbor_writer.h"
#include "wire/compression.h"

using namespace hl;

Q_DECLARE_METATYPE(hl::Value)
Q_DECLARE_METATYPE(hl::Change)

namespace {

// Hand-written CBOR pieces (hex; spaces are ignored by QByteArray::fromHex).
constexpr const char* kFromNodeId = "6a 46726f6d4e6f64654964";
constexpr const char* kPayload = "67 5061796c6f6164";
constexpr const char* kId = "62 4964";
constexpr const char* kType = "64 54797065";
constexpr const char* kTableName = "69 5461626c654e616d65";
constexpr const char* kRow = "63 526f77";
constexpr const char* kSh = "62 7368";
constexpr const char* kInsert = "66 696e73657274";
constexpr const char* kT = "61 54";           // "T"
constexpr const char* kRowV1 = "a1 6176 01";  // {"v": 1}

QByteArray hex(std::initializer_list<const char*> parts) {
  QByteArray all;
  for (const char* p : parts) all += p;
  return QByteArray::fromHex(all);
}
// {FromNodeId: 1, Payload: <payload>}
QByteArray withPayload(const char* payload) {
  return hex({"a2", kFromNodeId, "01", kPayload, payload});
}
// {FromNodeId: 1, Payload: {Id: 5, Type: "insert", TableName: "T", Row: <row>}}
QByteArray withRow(const char* row) {
  return hex({"a2", kFromNodeId, "01", kPayload, "a4", kId, "05", kType, kInsert, kTableName, kT,
              kRow, row});
}
QByteArray withRow(const QByteArray& rowBytes) {
  return hex({"a2", kFromNodeId, "01", kPayload, "a4", kId, "05", kType, kInsert, kTableName, kT,
              kRow}) +
         rowBytes;
}

// The change withRow() describes, with the given row.
Change changeT(RowImage row, ChangeType type = ChangeType::kInsert) {
  Change c;
  c.fromNodeId = 1;
  c.id = 5;
  c.type = type;
  c.table = "T";
  c.row = std::move(row);
  return c;
}

Value text(const char* utf8) {
  return Value::text(QByteArray(utf8));
}
Value bytes(const QByteArray& b) {
  return Value::blob(b);
}

// Empty when equal, else what differs.
QString difference(const Change& a, const Change& b) {
  if (a.fromNodeId != b.fromNodeId)
    return QString("FromNodeId %1 != %2").arg(a.fromNodeId).arg(b.fromNodeId);
  if (a.id != b.id) return QString("Id %1 != %2").arg(a.id).arg(b.id);
  if (a.type != b.type)
    return QString("Type %1 != %2").arg(changeTypeName(a.type), changeTypeName(b.type));
  if (a.table != b.table) return QString("TableName %1 != %2").arg(a.table, b.table);
  if (a.schemaHash != b.schemaHash) return QString("sh %1 != %2").arg(a.schemaHash, b.schemaHash);
  if (a.row.size() != b.row.size())
    return QString("Row sizes %1 != %2").arg(a.row.size()).arg(b.row.size());
  for (qsizetype i = 0; i < a.row.size(); ++i) {
    if (a.row[i].first != b.row[i].first)
      return QString("column %1: %2 != %3").arg(i).arg(a.row[i].first, b.row[i].first);
    if (a.row[i].second != b.row[i].second)
      return QString("%1: %2 != %3")
          .arg(a.row[i].first, a.row[i].second.toDebugString(), b.row[i].second.toDebugString());
  }
  return {};
}

// A message using most receive forms: indefinite maps, chunked strings, tag 32, float16, bool.
QByteArray richMessage() {
  return hex({"bf", kFromNodeId, "07", kPayload, "bf", kId, "3903e7", kType, "66 757064617465",
              kTableName, "7f 62 5461 61 62 ff", kRow,
              "bf 617a d820 a1 01 1a67c2f6c0  7f 61 62 ff 5f 42 0102 41 03 ff  6166 f93e00"
              "  6163 f5  6174 7f 61 68 62 c3a9 ff ff",
              kSh, "62 6162", "ff ff"});
}

// zstd frame made by the streaming API, so its header carries no content size.
QByteArray zstdStreamed(const QByteArray& raw, int windowLog = 0) {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  if (windowLog) ZSTD_CCtx_setParameter(ctx, ZSTD_c_windowLog, windowLog);
  QByteArray out(qsizetype(ZSTD_compressBound(size_t(raw.size())) + 64), Qt::Uninitialized);
  ZSTD_outBuffer o{out.data(), size_t(out.size()), 0};
  ZSTD_inBuffer i{raw.constData(), size_t(raw.size()), 0};
  ZSTD_compressStream2(ctx, &o, &i, ZSTD_e_continue);  // size unknown from here on
  while (ZSTD_compressStream2(ctx, &o, &i, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(ctx);
  out.resize(qsizetype(o.pos));
  return out;
}

}  // namespace

class TestCborCodec : public QObject {
  Q_OBJECT
 private slots:
  // ---- Encoding: every storage class, shortest forms, and back.

  void roundTripValue_data() {
    QTest::addColumn<Value>("value");
    QTest::addColumn<QByteArray>("cbor");  // the encoded value alone
    const auto row = [](const char* name, Value v, const char* h) {
      QTest::newRow(name) << v << QByteArray::fromHex(h);
    };
    row("null", Value::null(), "f6");
    row("0", Value::integer(0), "00");
    row("23", Value::integer(23), "17");
    row("24", Value::integer(24), "1818");
    row("255", Value::integer(255), "18ff");
    row("256", Value::integer(256), "190100");
    row("65535", Value::integer(65535), "19ffff");
    row("65536", Value::integer(65536), "1a00010000");
    row("2^32-1", Value::integer(4294967295LL), "1affffffff");
    row("2^32", Value::integer(4294967296LL), "1b0000000100000000");
    row("INT64_MAX", Value::integer(std::numeric_limits<int64_t>::max()), "1b7fffffffffffffff");
    row("-1", Value::integer(-1), "20");
    row("-24", Value::integer(-24), "37");
    row("-25", Value::integer(-25), "3818");
    row("-256", Value::integer(-256), "38ff");
    row("-257", Value::integer(-257), "390100");
    row("-65537", Value::integer(-65537), "3a00010000");
    row("-2^32-1", Value::integer(-4294967297LL), "3b0000000100000000");
    row("INT64_MIN", Value::integer(std::numeric_limits<int64_t>::min()), "3b7fffffffffffffff");
    row("1.5", Value::real(1.5), "fb3ff8000000000000");
    row("0.0", Value::real(0.0), "fb0000000000000000");
    row("-0.0", Value::real(-0.0), "fb8000000000000000");
    row("NaN", Value::real(std::numeric_limits<double>::quiet_NaN()), "fb7ff8000000000000");
    row("inf", Value::real(std::numeric_limits<double>::infinity()), "fb7ff0000000000000");
    row("-inf", Value::real(-std::numeric_limits<double>::infinity()), "fbfff0000000000000");
    row("small real", Value::real(1e-300), "fb01a56e1fc2f8f359");
    row("empty text", text(""), "60");
    row("ascii", text("abc"), "63616263");
    row("accented", text("h\xc3\xa9llo"), "6668c3a96c6c6f");
    row("emoji", text("\xf0\x9f\x98\x80"), "64f09f9880");
    row("CJK", text("\xe4\xb8\xad\xe6\x96\x87"), "66e4b8ade69687");
    row("U+10FFFF", text("\xf4\x8f\xbf\xbf"), "64f48fbfbf");
    row("NUL inside", Value::text(QByteArray("a\0b", 3)), "63610062");
    row("empty blob", bytes(QByteArray()), "40");
    row("binary blob", bytes(QByteArray("\x00\xff\x80", 3)), "4300ff80");
    row("24-byte blob", bytes(QByteArray(24, 'x')),
        "5818787878787878787878787878787878787878787878787878");
  }

  void roundTripValue() {
    QFETCH(Value, value);
    QFETCH(QByteArray, cbor);
    const Change change = changeT({{"v", value}});
    const QByteArray encoded = encodeChange(change);
    QCOMPARE(encoded.toHex(), (withRow("a1 6176") + cbor).toHex());
    const Result<Change> back = decodeChange(encoded);
    QVERIFY2(back.ok(), qPrintable(back.status().toString()));
    QVERIFY2(difference(*back, change).isEmpty(), qPrintable(difference(*back, change)));
  }

  void invalidUtf8TextGoesAsBytes_data() {
    QTest::addColumn<QByteArray>("raw");
    QTest::newRow("lone continuation") << QByteArray("\x80");
    QTest::newRow("0xff") << QByteArray("a\xff");
    QTest::newRow("overlong NUL") << QByteArray("\xc0\x80");
    QTest::newRow("overlong 3-byte") << QByteArray("\xe0\x80\xaf");
    QTest::newRow("overlong 4-byte") << QByteArray("\xf0\x80\x80\xaf");
    QTest::newRow("surrogate") << QByteArray("\xed\xa0\x80");
    QTest::newRow("above U+10FFFF") << QByteArray("\xf4\x90\x80\x80");
    QTest::newRow("cut 2-byte") << QByteArray("ab\xc3");
    QTest::newRow("cut 4-byte") << QByteArray("\xf0\x9f\x98");
    QTest::newRow("bad continuation") << QByteArray("\xe4\x41\x41");
  }

  void invalidUtf8TextGoesAsBytes() {
    QFETCH(QByteArray, raw);
    const QByteArray encoded = encodeChange(changeT({{"v", Value::text(raw)}}));
    QVERIFY(raw.size() < 24);
    const QByteArray header(1, char(0x40 + raw.size()));  // byte string, not text (0x60)
    QCOMPARE(encoded.toHex(), (withRow("a1 6176") + header + raw).toHex());
    const Result<Change> back = decodeChange(encoded);
    QVERIFY2(back.ok(), qPrintable(back.status().toString()));
    QVERIFY(*back->find("v") == Value::blob(raw));  // received as a BLOB, as Go stores it
  }

  // isValidUtf8 reads ASCII eight bytes at a time: each sample keeps its verdict wherever it
  // stands in ASCII text, at every offset from the word's start and with every tail length.
  void utf8VerdictDoesNotDependOnWhereTheBytesStand() {
    const QList<QByteArray> invalid = {"\x80",
                                       "a\xff",
                                       "\xc0\x80",
                                       "\xe0\x80\xaf",
                                       "\xf0\x80\x80\xaf",
                                       "\xed\xa0\x80",
                                       "\xf4\x90\x80\x80",
                                       "ab\xc3",
                                       "\xf0\x9f\x98",
                                       "\xe4\x41\x41"};
    const QList<QByteArray> valid = {"\xc3\xa9",         "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                     "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", ""};
    for (int before = 0; before <= 17; ++before) {
      for (int after = 0; after <= 9; ++after) {
        const QByteArray head(before, 'x'), tail(after, 'y');
        for (const QByteArray& bad : invalid)
          QVERIFY2(!isValidUtf8(head + bad + tail),
                   qPrintable(QStringLiteral("%1 after %2, before %3")
                                  .arg(QString::fromLatin1(bad.toHex()))
                                  .arg(before)
                                  .arg(after)));
        for (const QByteArray& good : valid)
          QVERIFY2(isValidUtf8(head + good + tail + good),
                   qPrintable(QStringLiteral("%1 after %2, before %3")
                                  .arg(QString::fromLatin1(good.toHex()))
                                  .arg(before)
                                  .arg(after)));
      }
    }
  }

  void encodesEnvelopeFields() {
    Change c = changeT({{"b", Value::integer(2)}, {"a", text("x")}, {"c", Value::null()}},
                       ChangeType::kDelete);
    c.fromNodeId = std::numeric_limits<uint64_t>::max();
    c.id = -3;
    c.table = QString::fromUtf8("t\xc3\xa9");
    c.schemaHash = "ab";
    const QByteArray expected = hex({"a2", kFromNodeId, "1bffffffffffffffff", kPayload, "a5", kId,
                                     "22", kType, "66 64656c657465", kTableName, "63 74c3a9", kRow,
                                     "a3 6162 02 6161 6178 6163 f6", kSh, "62 6162"});
    QCOMPARE(encodeChange(c).toHex(), expected.toHex());
    const Result<Change> back = decodeChange(encodeChange(c));
    QVERIFY2(back.ok(), qPrintable(back.status().toString()));
    QVERIFY2(difference(*back, c).isEmpty(), qPrintable(difference(*back, c)));

    c.type = ChangeType::kUpdate;
    c.schemaHash.clear();  // no "sh": a map of 4
    c.row.clear();
    QCOMPARE(encodeChange(c).toHex(),
             hex({"a2", kFromNodeId, "1bffffffffffffffff", kPayload, "a4", kId, "22", kType,
                  "66 757064617465", kTableName, "63 74c3a9", kRow, "a0"})
                 .toHex());
  }

  // ---- Decoding what Go senders produce.

  void acceptsGoForms_data() {
    QTest::addColumn<QByteArray>("cbor");
    QTest::addColumn<Change>("expected");
    QTest::newRow("keys in reverse order")
        << hex({"a2", kPayload, "a4", kRow, kRowV1, kTableName, kT, kType, kInsert, kId, "05",
                kFromNodeId, "01"})
        << changeT({{"v", Value::integer(1)}});
    QTest::newRow("indefinite maps")
        << hex({"bf", kFromNodeId, "01", kPayload, "bf", kId, "05", kType, kInsert, kTableName, kT,
                kRow, "bf 6176 01 ff", "ff ff"})
        << changeT({{"v", Value::integer(1)}});
    QTest::newRow("chunked strings")
        << hex({"a2 7f 64 46726f6d 66 4e6f64654964 ff 01", kPayload, "a4", kId, "05", kType,
                "7f 63 696e73 63 657274 ff", kTableName, "7f 61 54 ff", kRow,
                "a3 7f 6176 ff 7f 63 68c3a9 63 6c6c6f ff 6162 5f 42 0102 41 03 ff 6165 7f ff"})
        << changeT({{"v", text("h\xc3\xa9llo")}, {"b", bytes("\x01\x02\x03")}, {"e", text("")}});
    QTest::newRow("unknown keys at both levels")
        << hex({"a4 6178 82 01 a1 6179 f6", kFromNodeId, "01", "01 02", kPayload, "a6", kId, "05",
                "627a7a c1 00", kType, kInsert, kTableName, kT, "9f ff 5f ff", kRow, kRowV1})
        << changeT({{"v", Value::integer(1)}});
    QTest::newRow("booleans") << withRow("a2 6174 f5 6166 f4")
                              << changeT({{"t", Value::integer(1)}, {"f", Value::integer(0)}});
    QTest::newRow("tag 32 times")
        << withRow(
               "a5 6161 d820 a1 01 00  6162 d820 a1 01 20  6163 d820 a1 01 1b0000003afff4417f"
               "  6164 d820 a1 01 3b0000000e7791f6ff  6165 d820 bf 02 00 01 1a67c2f6c0 ff")
        << changeT({{"a", text("1970-01-01 00:00:00+00:00")},
                    {"b", text("1969-12-31 23:59:59+00:00")},
                    {"c", text("9999-12-31 23:59:59+00:00")},
                    {"d", text("0001-01-01 00:00:00+00:00")},
                    {"e", text("2025-03-01 12:00:00+00:00")}});
    QTest::newRow("tag 32 null") << withRow("a1 6174 d820 a1 01 f6")
                                 << changeT({{"t", Value::null()}});
    QTest::newRow("float16 and float32")
        << withRow("a4 6161 f93e00 6162 fa3fc00000 6163 f97c00 6164 fa80000000")
        << changeT({{"a", Value::real(1.5)},
                    {"b", Value::real(1.5)},
                    {"c", Value::real(std::numeric_limits<double>::infinity())},
                    {"d", Value::real(-0.0)}});
    QTest::newRow("undefined is NULL") << withRow("a1 6175 f7") << changeT({{"u", Value::null()}});
    QTest::newRow("Type UPDATE") << withPayload((QByteArray("a4") + kId + "05" + kType +
                                                 "66 555044415445" + kTableName + kT + kRow +
                                                 kRowV1)
                                                    .constData())
                                 << changeT({{"v", Value::integer(1)}}, ChangeType::kUpdate);
    QTest::newRow("Type Delete") << withPayload((QByteArray("a4") + kId + "05" + kType +
                                                 "66 44656c657465" + kTableName + kT + kRow + "a0")
                                                    .constData())
                                 << changeT({}, ChangeType::kDelete);
    Change extremes = changeT({});
    extremes.fromNodeId = std::numeric_limits<uint64_t>::max();
    extremes.id = std::numeric_limits<int64_t>::min();
    extremes.schemaHash = "ab";
    QTest::newRow("extreme ids, sh, empty row")
        << hex({"a2", kFromNodeId, "1bffffffffffffffff", kPayload, "a5", kSh, "62 6162", kId,
                "3b7fffffffffffffff", kType, kInsert, kTableName, kT, kRow, "a0"})
        << extremes;
  }

  void acceptsGoForms() {
    QFETCH(QByteArray, cbor);
    QFETCH(Change, expected);
    const Result<Change> got = decodeChange(cbor);
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY2(difference(*got, expected).isEmpty(), qPrintable(difference(*got, expected)));
  }

  void nestingLimitIsExact() {
    // An ignored top-level field holding k nested arrays: the innermost array's content lies at
    // depth k + 1, allowed up to kMaxCborNesting.
    const auto message = [](int k) {
      return hex({"a3", kFromNodeId, "01", kPayload, "a4", kId, "05", kType, kInsert, kTableName,
                  kT, kRow, kRowV1, "6178"}) +
             QByteArray(k, '\x81') + QByteArray(1, '\0');
    };
    QVERIFY2(decodeChange(message(kMaxCborNesting - 1)).ok(), "depth at the limit refused");
    const Result<Change> deep = decodeChange(message(kMaxCborNesting));
    QVERIFY(!deep.ok());
    QCOMPARE(deep.status().code(), Status::Code::kPoison);
    QVERIFY2(deep.status().message().startsWith("nesting deeper than 16"),
             qPrintable(deep.status().message()));
  }

  // ---- Hostile input: always kPoison, with a message saying what and where.

  void rejects_data() {
    QTest::addColumn<QByteArray>("cbor");
    QTest::addColumn<QString>("message");  // expected at the start of the status message
    const QByteArray okPayload =
        hex({"a4", kId, "05", kType, kInsert, kTableName, kT, kRow, kRowV1});
    const auto payload = [](std::initializer_list<const char*> parts) {
      QByteArray h;
      for (const char* p : parts) h += p;
      return hex({"a2", kFromNodeId, "01", kPayload}) + QByteArray::fromHex(h);
    };
    const auto row = [](const char* name, const char* rowHex, const char* message) {
      QTest::newRow(name) << withRow(rowHex) << QString(message);
    };
    const QByteArray valid = withRow(kRowV1);

    QTest::newRow("empty") << QByteArray() << "empty message";
    QTest::newRow("array") << hex({"80"}) << "message: expected map, got array at byte 0";
    QTest::newRow("tag around envelope") << hex({"c1 a0"}) << "message: expected map, got tag 1";
    QTest::newRow("FromNodeId negative")
        << hex({"a2", kFromNodeId, "20", kPayload}) + okPayload
        << "FromNodeId: expected unsigned int, got negative int at byte 12";
    QTest::newRow("FromNodeId text") << hex({"a2", kFromNodeId, "6131", kPayload}) + okPayload
                                     << "FromNodeId: expected unsigned int, got text string";
    QTest::newRow("FromNodeId float")
        << hex({"a2", kFromNodeId, "fb3ff0000000000000", kPayload}) + okPayload
        << "FromNodeId: expected unsigned int, got float";
    QTest::newRow("FromNodeId missing")
        << hex({"a1", kPayload}) + okPayload << "missing FromNodeId";
    QTest::newRow("FromNodeId twice")
        << hex({"a3", kFromNodeId, "01", kFromNodeId, "02", kPayload}) + okPayload
        << "FromNodeId: duplicate key";
    QTest::newRow("Payload missing") << hex({"a1", kFromNodeId, "01"}) << "missing Payload";
    QTest::newRow("Payload array") << payload({"80"}) << "Payload: expected map, got array";
    QTest::newRow("Payload null") << payload({"f6"}) << "Payload: expected map, got null";
    QTest::newRow("Payload twice") << hex({"a3", kFromNodeId, "01", kPayload}) + okPayload +
                                          QByteArray::fromHex(kPayload) + okPayload
                                   << "Payload: duplicate key";
    QTest::newRow("Id text") << payload(
                                    {"a4", kId, "6131", kType, kInsert, kTableName, kT, kRow, "a0"})
                             << "Payload.Id: expected int, got text string";
    QTest::newRow("Id float") << payload({"a4", kId, "f93e00", kType, kInsert, kTableName, kT, kRow,
                                          "a0"})
                              << "Payload.Id: expected int, got float";
    QTest::newRow("Id uint64 max")
        << payload({"a4", kId, "1bffffffffffffffff", kType, kInsert, kTableName, kT, kRow, "a0"})
        << "Payload.Id: integer outside the int64 range";
    QTest::newRow("Id below INT64_MIN")
        << payload({"a4", kId, "3b8000000000000000", kType, kInsert, kTableName, kT, kRow, "a0"})
        << "Payload.Id: integer outside the int64 range";
    QTest::newRow("Id twice") << payload({"a5", kId, "01", kId, "02", kType, kInsert, kTableName,
                                          kT, kRow, "a0"})
                              << "Payload.Id: duplicate key";
    QTest::newRow("Id missing") << payload({"a3", kType, kInsert, kTableName, kT, kRow, "a0"})
                                << "missing Payload.Id";
    QTest::newRow("Type missing") << payload({"a3", kId, "05", kTableName, kT, kRow, "a0"})
                                  << "missing Payload.Type";
    QTest::newRow("TableName missing")
        << payload({"a3", kId, "05", kType, kInsert, kRow, "a0"}) << "missing Payload.TableName";
    QTest::newRow("Row missing") << payload({"a3", kId, "05", kType, kInsert, kTableName, kT})
                                 << "missing Payload.Row";
    QTest::newRow("Type int") << payload({"a4", kId, "05", kType, "01", kTableName, kT, kRow, "a0"})
                              << "Payload.Type: expected text string, got unsigned int";
    QTest::newRow("Type unknown") << payload({"a4", kId, "05", kType, "66 757073657274", kTableName,
                                              kT, kRow, "a0"})
                                  << "Payload.Type: unknown change type 'upsert'";
    QTest::newRow("Type empty") << payload(
                                       {"a4", kId, "05", kType, "60", kTableName, kT, kRow, "a0"})
                                << "Payload.Type: unknown change type ''";
    QTest::newRow("TableName bytes")
        << payload({"a4", kId, "05", kType, kInsert, kTableName, "4154", kRow, "a0"})
        << "Payload.TableName: expected text string, got byte string";
    QTest::newRow("TableName invalid UTF-8")
        << payload({"a4", kId, "05", kType, kInsert, kTableName, "62 fffe", kRow, "a0"})
        << "Payload.TableName: invalid UTF-8";
    QTest::newRow("TableName chunks invalid UTF-8")
        << payload({"a4", kId, "05", kType, kInsert, kTableName, "7f 61 c3 ff", kRow, "a0"})
        << "Payload.TableName: invalid UTF-8";
    QTest::newRow("sh int") << payload({"a5", kId, "05", kType, kInsert, kTableName, kT, kRow, "a0",
                                        kSh, "01"})
                            << "Payload.sh: expected text string, got unsigned int";
    QTest::newRow("sh invalid UTF-8")
        << payload({"a5", kId, "05", kType, kInsert, kTableName, kT, kRow, "a0", kSh, "61 ff"})
        << "Payload.sh: invalid UTF-8";
    QTest::newRow("unknown field invalid UTF-8")
        << payload({"a5", "6178 61ff", kId, "05", kType, kInsert, kTableName, kT, kRow, "a0"})
        << "Payload.x: invalid UTF-8";
    row("Row array", "80", "Payload.Row: expected map, got array");
    row("Row null", "f6", "Payload.Row: expected map, got null");
    row("Row key int", "a1 01 01", "Payload.Row: column name must be text, got unsigned int");
    row("Row key bytes", "a1 4176 01", "Payload.Row: column name must be text, got byte string");
    row("Row key invalid UTF-8", "a1 61ff 01", "Payload.Row: invalid UTF-8");
    row("Row key break in definite map", "a1 ff",
        "Payload.Row: column name must be text, got break");
    row("Row duplicate column", "a2 6176 01 6176 02", "Payload.Row.v: duplicate column");
    row("value invalid UTF-8", "a1 6176 62 c328", "Payload.Row.v: invalid UTF-8");
    row("value surrogate", "a1 6176 63 eda080", "Payload.Row.v: invalid UTF-8");
    row("value bytes chunk in text", "a1 6176 7f 4100 ff",
        "Payload.Row.v: byte string as a chunk of a chunked text string");
    row("value nested chunks", "a1 6176 5f 5f ff ff",
        "Payload.Row.v: chunked byte string as a chunk of a chunked byte string");
    row("value array", "a1 6176 80", "Payload.Row.v: expected a column value, got array");
    row("value map", "a1 6176 a0", "Payload.Row.v: expected a column value, got map");
    row("value break", "a1 6176 ff", "Payload.Row.v: expected a column value, got break");
    row("value uint64 max", "a1 6176 1bffffffffffffffff",
        "Payload.Row.v: integer outside the int64 range");
    row("value below INT64_MIN", "a1 6176 3b8000000000000000",
        "Payload.Row.v: integer outside the int64 range");
    row("value unknown tag", "a1 6176 c1 00", "Payload.Row.v: unsupported tag 1 at byte 57");
    row("value big tag", "a1 6176 db ffffffffffffffff 00",
        "Payload.Row.v: unsupported tag 18446744073709551615");
    row("tag 32 not a map", "a1 6176 d820 01",
        "Payload.Row.v (tag 32): expected map, got unsigned int");
    row("tag 32 text seconds", "a1 6176 d820 a1 01 6131",
        "Payload.Row.v (tag 32 seconds): expected int, got text string");
    row("tag 32 float seconds", "a1 6176 d820 a1 01 fb41d9f0bdb0000000",
        "Payload.Row.v (tag 32 seconds): expected int, got float");
    row("tag 32 no key 1", "a1 6176 d820 a1 02 00", "Payload.Row.v: tag 32 map has no key 1");
    row("tag 32 key 1 twice", "a1 6176 d820 a2 01 00 01 00",
        "Payload.Row.v: tag 32 has key 1 twice");
    row("tag 32 after year 9999", "a1 6176 d820 a1 01 1b0000003afff44180",
        "Payload.Row.v: time 253402300800 is outside years 1..9999");
    row("tag 32 before year 1", "a1 6176 d820 a1 01 3b0000000e7791f700",
        "Payload.Row.v: time -62135596801 is outside years 1..9999");
    row("tag 32 huge seconds", "a1 6176 d820 a1 01 1bffffffffffffffff",
        "Payload.Row.v (tag 32 seconds): integer outside the int64 range");
    row("reserved initial byte", "a1 6176 1c", "malformed CBOR at byte 57 (initial byte 0x1c)");
    row("simple value 0xf8", "a1 6176 f8 20", "malformed CBOR at byte 57 (initial byte 0xf8)");
    row("unassigned tag byte", "a1 6176 c6 00", "malformed CBOR at byte 57 (initial byte 0xc6)");
    row("huge map declared", "bb 00000000ffffffff 6176 01", "truncated input at byte 66");
    row("huge text declared", "a1 6176 7b 7fffffffffffffff 41", "truncated input at byte 57");
    row("huge bytes declared", "a1 6176 5b ffffffffffffffff 00", "truncated input at byte 57");
    row("4-byte text length", "a1 6176 7a ffffffff 41", "truncated input at byte 57");
    QTest::newRow("huge map at top")
        << hex({"bb ffffffffffffffff", kFromNodeId, "01"}) << "truncated input at byte 21";
    QTest::newRow("huge array ignored field")
        << hex({"a3", kFromNodeId, "01", kPayload}) + okPayload +
               hex({"6178 9b 7fffffffffffffff 01"})
        << "truncated input at byte";
    QTest::newRow("break at top level") << hex({"a1 ff"}) << "message: unexpected break at byte 1";
    QTest::newRow("trailing byte")
        << valid + QByteArray(1, '\0') << QString("trailing bytes at byte %1").arg(valid.size());
    QTest::newRow("two messages") << valid + valid
                                  << QString("trailing bytes at byte %1").arg(valid.size());

    // Deep nesting: never a stack overflow, whatever the container.
    const QByteArray ignored = hex({"a3", kFromNodeId, "01", kPayload}) + okPayload + hex({"6178"});
    QTest::newRow("100000 nested arrays in an ignored field")
        << ignored + QByteArray(100000, '\x81') + QByteArray(1, '\0') << "nesting deeper than 16";
    QTest::newRow("100000 nested indefinite maps")
        << ignored + QByteArray(100000, '\xbf').replace("\xbf", "\xbf\x01")
        << "nesting deeper than 16";
    QTest::newRow("100000 nested tags")
        << ignored + QByteArray(100000, '\xc1') + QByteArray(1, '\0') << "nesting deeper than 16";
    QTest::newRow("100000 nested maps as keys")
        << ignored + QByteArray(100000, '\xa1') << "nesting deeper than 16";
    QTest::newRow("100000 nested arrays as a Row value")
        << withRow(hex({"a1 6176"}) + QByteArray(100000, '\x9f'))
        << "Payload.Row.v: expected a column value, got array";
    QTest::newRow("100000 nested tag 32 as a Row value")
        << withRow(hex({"a1 6176"}) + QByteArray(100000, '\xd8').replace("\xd8", "\xd8\x20"))
        << "Payload.Row.v (tag 32): expected map, got tag 32";
    QTest::newRow("oversized") << QByteArray(kDefaultMaxMessageBytes + 1, '\xa0')
                               << QString("message of %1 bytes exceeds the limit of %2")
                                      .arg(kDefaultMaxMessageBytes + 1)
                                      .arg(kDefaultMaxMessageBytes);
  }

  void rejects() {
    QFETCH(QByteArray, cbor);
    QFETCH(QString, message);
    const Result<Change> got = decodeChange(cbor);
    QVERIFY2(!got.ok(), "accepted");
    QCOMPARE(got.status().code(), Status::Code::kPoison);
    QVERIFY2(got.status().message().startsWith(message), qPrintable(got.status().message()));
  }

  void everyTruncationIsRejected() {
    const QByteArray rich = richMessage();
    QVERIFY2(decodeChange(rich).ok(), qPrintable(decodeChange(rich).status().toString()));
    for (const QByteArray& full : {rich, withRow(kRowV1)}) {
      for (qsizetype n = 0; n < full.size(); ++n) {
        const Result<Change> got = decodeChange(full.left(n));
        QVERIFY2(!got.ok(), qPrintable(QString("prefix of %1 bytes accepted").arg(n)));
        QCOMPARE(got.status().code(), Status::Code::kPoison);
        const QString expected = n == 0 ? "empty message" : "truncated input at byte ";
        QVERIFY2(got.status().message().startsWith(expected), qPrintable(got.status().message()));
      }
    }
    const QByteArray compressed = encodeMessage(*decodeChange(rich), true);
    for (qsizetype n = 0; n < compressed.size(); ++n) {
      const Result<Change> got = decodeMessage(compressed.left(n));
      QVERIFY2(!got.ok(), qPrintable(QString("compressed prefix of %1 bytes accepted").arg(n)));
      QCOMPARE(got.status().code(), Status::Code::kPoison);
    }
  }

  void richMessageDecodes() {
    const Result<Change> got = decodeChange(richMessage());
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    Change expected = changeT({{"z", text("2025-03-01 12:00:00+00:00")},
                               {"b", bytes("\x01\x02\x03")},
                               {"f", Value::real(1.5)},
                               {"c", Value::integer(1)},
                               {"t", text("h\xc3\xa9")}},
                              ChangeType::kUpdate);
    expected.fromNodeId = 7;
    expected.id = -1000;
    expected.table = "Tab";
    expected.schemaHash = "ab";
    QVERIFY2(difference(*got, expected).isEmpty(), qPrintable(difference(*got, expected)));
  }

  // ---- zstd framing.

  void compressedRoundTrip() {
    Change c = changeT({{"v", text("hello hello hello hello hello")}, {"n", Value::integer(-7)}});
    c.schemaHash = QString(64, 'f');
    QCOMPARE(encodeMessage(c, false), encodeChange(c));
    const QByteArray compressed = encodeMessage(c, true);
    QVERIFY(isZstdFrame(compressed));
    QVERIFY(!isZstdFrame(encodeChange(c)));
    QCOMPARE(*maybeDecompress(compressed), encodeChange(c));
    for (const QByteArray& payload : {compressed, encodeChange(c), zstdStreamed(encodeChange(c))}) {
      const Result<Change> back = decodeMessage(payload);
      QVERIFY2(back.ok(), qPrintable(back.status().toString()));
      QVERIFY2(difference(*back, c).isEmpty(), qPrintable(difference(*back, c)));
    }
    // Frames in a row are one payload, as the zstd format defines.
    const QByteArray whole = encodeChange(c);
    const QByteArray split = compressPayload(whole.left(10)) + compressPayload(whole.mid(10));
    QCOMPARE(*maybeDecompress(split), whole);
  }

  void uncompressedPassesThrough() {
    const QByteArray plain = withRow(kRowV1);
    const Result<QByteArray> out = maybeDecompress(plain);
    QVERIFY(out.ok());
    QCOMPARE(*out, plain);
    QCOMPARE(*maybeDecompress(QByteArray("\x28\xb5\x2f", 3)), QByteArray("\x28\xb5\x2f", 3));
  }

  void streamedFrameHasNoContentSize() {
    const QByteArray frame = zstdStreamed(QByteArray(1000, 'a'));
    QCOMPARE(ZSTD_getFrameContentSize(frame.constData(), size_t(frame.size())),
             ZSTD_CONTENTSIZE_UNKNOWN);
    QCOMPARE(*maybeDecompress(frame), QByteArray(1000, 'a'));
  }

  void decompressionLimit() {
    const QByteArray atLimit(kDefaultMaxMessageBytes, '\0');
    const Result<QByteArray> ok = maybeDecompress(compressPayload(atLimit));
    QVERIFY2(ok.ok(), qPrintable(ok.status().toString()));
    QCOMPARE(ok->size(), kDefaultMaxMessageBytes);

    // One byte more: refused from the frame header when it states its size, else once the
    // output passes the limit.
    const QByteArray bomb(kDefaultMaxMessageBytes + 1, '\0');
    const QString limit = QString::number(kDefaultMaxMessageBytes);
    const QList<QPair<QByteArray, QString>> frames = {
        {compressPayload(bomb), QString("zstd frame declares %1 bytes, more than the limit of %2")
                                    .arg(bomb.size())
                                    .arg(limit)},
        {zstdStreamed(bomb), "zstd payload decompresses to more than the limit of " + limit}};
    for (const auto& [frame, message] : frames) {
      QVERIFY(frame.size() < 4096);
      const Result<Change> got = decodeMessage(frame);
      QVERIFY(!got.ok());
      QCOMPARE(got.status().code(), Status::Code::kPoison);
      QVERIFY2(got.status().message().startsWith(message), qPrintable(got.status().message()));
    }
    // A smaller limit is the one applied.
    const Result<QByteArray> small = maybeDecompress(compressPayload(QByteArray(5000, 'a')), 4096);
    QVERIFY(!small.ok());
    QVERIFY2(small.status().message().startsWith("zstd frame declares 5000 bytes"),
             qPrintable(small.status().message()));
    QVERIFY(!maybeDecompress(zstdStreamed(QByteArray(5000, 'a')), 4096).ok());
    QVERIFY(maybeDecompress(zstdStreamed(QByteArray(4096, 'a')), 4096).ok());
  }

  void badFrames_data() {
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<QString>("message");
    const QByteArray frame = compressPayload(encodeChange(changeT({{"v", text("abcdefgh")}})));
    QTest::newRow("reserved block type")
        << QByteArray::fromHex("28b52ffd2005ffffff000000000000") << "zstd decompression failed: ";
    QTest::newRow("frame then garbage") << frame + "garbage!"
                                        << "zstd decompression failed: ";
    QTest::newRow("cut frame") << frame.left(frame.size() - 1) << "truncated zstd frame";
    QTest::newRow("window too large") << zstdStreamed(QByteArray(100, 'a'), kMaxZstdWindowLog + 1)
                                      << "zstd decompression failed: ";
    QTest::newRow("decodes to text")
        << compressPayload("hello world") << "message: expected map, got text string";
    QTest::newRow("decodes to nothing") << compressPayload(QByteArray()) << "empty message";
    QByteArray corrupt = frame;
    for (qsizetype i = 8; i < corrupt.size(); ++i) corrupt[i] = char(corrupt[i] ^ 0x5a);
    QTest::newRow("corrupt blocks") << corrupt << "";
  }

  void badFrames() {
    QFETCH(QByteArray, payload);
    QFETCH(QString, message);
    const Result<Change> got = decodeMessage(payload);
    QVERIFY2(!got.ok(), "accepted");
    QCOMPARE(got.status().code(), Status::Code::kPoison);
    QVERIFY2(got.status().message().startsWith(message), qPrintable(got.status().message()));
  }
};

QTEST_GUILESS_MAIN(TestCborCodec)
#include "tst_cbor_codec.moc"
