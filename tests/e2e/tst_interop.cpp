// Wire interoperability with Go HarmonyLite, end to end (docs/wire-format.md#streams,
// docs/wire-format.md#message, docs/wire-format.md#shard, docs/wire-format.md#seq-map,
// docs/replication.md#publishing, docs/replication.md#applying): one nats-server, two harmonylite
// nodes (2 shards, compression on), and this test acting as a Go node with nats.c. It publishes
// hand-built Go-format messages raw (no headers), poison messages of every kind, reads back what a
// node publishes, and hands a node a Go-written seq-map file.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <optional>

#include "cbor_builder.h"
#include "nats/nats_handles.h"
#include "node_process.h"
#include "replication/state_store.h"
#include "test_support.h"
#include "wire/cbor_codec.h"
#include "wire/compression.h"
#include "wire/shard.h"

using namespace hl;
using test::NodeProcess;

namespace {

constexpr int kConverge = 60000;
constexpr int kShards = 2;
// T holds the column kinds a Go sender converts: DATETIME (tag 32) and BOOLEAN (true/false).
const QString kSchema = QString::fromLatin1(test::kReferenceSchema) +
                        "CREATE TABLE T(id INTEGER PRIMARY KEY, t DATETIME, b BOOLEAN);";

using GoCbor = hl::test::CborBuilder;  // tests/support/cbor_builder.h

// A Go ReplicationEvent[ChangeLogEvent]: {"FromNodeId", "Payload": {"Id", "Type", "TableName",
// "Row", "sh"?}}, `row` being the already encoded Row map.
QByteArray goEnvelope(uint64_t from, int64_t id, const char* type, const QByteArray& table,
                      const QByteArray& row, const QByteArray& sh = {}) {
  GoCbor c;
  c.map(2).text("FromNodeId").head(0, from).text("Payload").map(sh.isEmpty() ? 4 : 5);
  c.text("Id")
      .integer(id)
      .text("Type")
      .text(type)
      .text("TableName")
      .text(table)
      .text("Row")
      .raw(row);
  if (!sh.isEmpty()) c.text("sh").text(sh);
  return c.bytes();
}

// A full Books row, keys in a scrambled order (Go's map iteration order is random).
QByteArray booksRow(int64_t id, const QByteArray& title, const QByteArray& author, int64_t year) {
  return GoCbor()
      .map(4)
      .text("publication_year")
      .integer(year)
      .text("author")
      .text(author)
      .text("id")
      .integer(id)
      .text("title")
      .text(title)
      .bytes();
}

// The tag-32 time Go sends for DATETIME columns: {1: seconds} or {1: null}.
QByteArray goTime(std::optional<int64_t> seconds) {
  GoCbor c;
  c.tag(32).map(1).head(0, 1);
  if (seconds)
    c.integer(*seconds);
  else
    c.null();
  return c.bytes();
}

int shardOf(const char* table, int64_t id) {
  return shardFor(QString::fromLatin1(table), {{QStringLiteral("id"), Value::integer(id)}},
                  kShards);
}
QString subjectOf(int shard) {
  return QStringLiteral("harmonylite-change-log-%1").arg(shard);
}
QString streamOf(int shard) {
  return QStringLiteral("harmonylite-changes-c-%1").arg(shard);
}

// `count` ids from `from` upwards whose rows of `table` fall on `shard`.
QList<int64_t> idsOnShard(const char* table, int shard, int count, int64_t from) {
  QList<int64_t> out;
  for (int64_t id = from; out.size() < count; ++id)
    if (shardOf(table, id) == shard) out << id;
  return out;
}

QString bookQuery(int64_t id) {
  return QStringLiteral(
             "SELECT ifnull((SELECT id || '|' || title || '|' || author || '|' || "
             "ifnull(publication_year, 'N') "
             "FROM Books WHERE id = %1), 'absent')")
      .arg(id);
}

QJsonArray goldenEnvelopes() {
  const QByteArray json = test::readFile(test::dataDir() + "/envelopes.json");
  return QJsonDocument::fromJson(json).object().value("vectors").toArray();
}

}  // namespace

class TestInterop : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  std::unique_ptr<test::NatsServer> m_server;
  std::vector<std::unique_ptr<NodeProcess>> m_nodes;
  NatsConnectionPtr m_nc;
  JsCtxPtr m_js;
  QString m_schemaHash;  // the nodes' schema hash, as their log states it

  QList<NodeProcess*> nodes() { return test::rawPointers(m_nodes); }
  NodeProcess& node(int i) { return *m_nodes[size_t(i)]; }

  struct Published {
    QString stream;
    quint64 seq = 0;
    QByteArray payload;
  };

  // Publishes `payload` raw on `subject`, as a Go node does: js_Publish without options, so
  // the message carries no headers at all.
  Published publishRaw(int shard, const QByteArray& payload) {
    jsPubAck* pa = nullptr;
    jsErrCode jerr = jsErrCode(0);
    const QByteArray subject = subjectOf(shard).toUtf8();
    const natsStatus s = js_Publish(&pa, m_js.get(), subject.constData(), payload.constData(),
                                    int(payload.size()), nullptr, &jerr);
    JsPubAckPtr ack(pa);
    const Status st = fromNats(s, "publish to " + subjectOf(shard), jerr);
    if (!st.isOk() || !ack) {
      qWarning().noquote() << st.message();
      return {};
    }
    return {QString::fromUtf8(ack->Stream), ack->Sequence, payload};
  }
  // A Go-format change, zstd-compressed as on every "-c" stream, on the shard of its key.
  Published publishGo(const char* table, int64_t id, const QByteArray& cbor) {
    return publishRaw(shardOf(table, id), compressPayload(cbor));
  }

  quint64 lastSeq(int shard) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = jsErrCode(0);
    const natsStatus s =
        js_GetStreamInfo(&si, m_js.get(), streamOf(shard).toUtf8().constData(), nullptr, &jerr);
    JsStreamInfoPtr info(si);
    if (s != NATS_OK) {
      qWarning().noquote() << fromNats(s, "stream info", jerr).message();
      return 0;
    }
    return info->State.LastSeq;
  }

  // "stream|seq" lines of a node's __harmonylite__positions, as a map.
  static QHash<QString, quint64> positionsOf(NodeProcess& n) {
    QHash<QString, quint64> out;
    const QString text =
        n.sql("SELECT stream || '|' || seq FROM __harmonylite__positions ORDER BY stream");
    for (const QString& line : text.split('\n', Qt::SkipEmptyParts)) {
      const QStringList f = line.split('|');
      if (f.size() == 2) out.insert(f[0], f[1].toULongLong());
    }
    return out;
  }
  static QString seqMapPath(NodeProcess& n) {
    return QFileInfo(n.db()).absolutePath() + "/seq-map.cbor";
  }
  static QHash<QString, quint64> seqMapOf(NodeProcess& n) {
    auto m = ReplicationState::readSeqMap(seqMapPath(n));
    return m ? *m : QHash<QString, quint64>();
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    QCOMPARE(nats_Open(-1), NATS_OK);
    m_server = std::make_unique<test::NatsServer>();
    const Status started = m_server->start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    // Node ids 11 and 12: the golden vectors come from nodes 1 and 2, and a node skips
    // messages carrying its own id.
    for (uint64_t id : {11, 12}) {
      NodeProcess::Options o;
      o.nodeId = id;
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(id));
      o.schema = kSchema;
      o.urls = {m_server->url()};
      o.shards = kShards;
      o.compress = true;
      // goInsertCollision: Books's colliding inserts keep both rows (its default is
      // last-writer-wins, an INTEGER PRIMARY KEY).
      o.tablesToml = QStringLiteral("[conflicts]\ntables = { Books = \"keep-both\" }\n");
      m_nodes.push_back(std::make_unique<NodeProcess>(o));
    }
    for (auto& n : m_nodes) QVERIFY(n->launch().isOk());
    for (auto& n : m_nodes) {
      const Status s = n->waitRunning(60000);
      QVERIFY2(s.isOk(), qPrintable(s.message()));
    }
    const QRegularExpression hashRe("schema hash ([0-9a-f]{64})");
    const auto m = hashRe.match(node(0).log());
    QVERIFY2(m.hasMatch(), qPrintable(node(0).log()));
    m_schemaHash = m.captured(1);
    QVERIFY2(node(1).log().contains(m_schemaHash), "the two nodes disagree on the schema hash");

    natsOptions* raw = nullptr;
    QCOMPARE(natsOptions_Create(&raw), NATS_OK);
    NatsOptionsPtr opts(raw);
    natsOptions_SetURL(opts.get(), m_server->url().toUtf8().constData());
    natsOptions_SetTimeout(opts.get(), 5000);
    natsConnection* nc = nullptr;
    QCOMPARE(natsConnection_Connect(&nc, opts.get()), NATS_OK);
    m_nc.reset(nc);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jsCtx* js = nullptr;
    QCOMPARE(natsConnection_JetStream(&js, nc, &jo), NATS_OK);
    m_js.reset(js);
    // Both streams exist, as the nodes created them (docs/wire-format.md#streams).
    for (int shard = 1; shard <= kShards; ++shard) {
      jsStreamInfo* si = nullptr;
      jsErrCode jerr = jsErrCode(0);
      QCOMPARE(
          js_GetStreamInfo(&si, m_js.get(), streamOf(shard).toUtf8().constData(), nullptr, &jerr),
          NATS_OK);
      JsStreamInfoPtr info(si);
      QCOMPARE(info->Config->SubjectsLen, 1);
      QCOMPARE(QString::fromUtf8(info->Config->Subjects[0]), subjectOf(shard));
      QCOMPARE(info->Config->Storage, js_FileStorage);
      QCOMPARE(info->Config->Retention, js_LimitsPolicy);
      QCOMPARE(info->Config->Discard, js_DiscardOld);
      QCOMPARE(info->Config->MaxMsgs, int64_t(100000));  // max_entries from NodeProcess
      QCOMPARE(info->Config->MaxMsgsPerSubject, int64_t(-1));
      QCOMPARE(info->Config->Replicas, int64_t(1));
      QVERIFY(info->Config->DenyDelete);
      QVERIFY(info->Config->AllowDirect);
    }
  }

  void cleanupTestCase() {
    for (auto& n : m_nodes) {
      if (!n->isRunning()) continue;
      const int rc = n->stop();
      if (rc != 0) qWarning().noquote() << "node exit" << rc << n->log().right(3000);
    }
    m_js.reset();
    m_nc.reset();
    m_server.reset();
    nats_Close();
  }

  // The hand-built Go encoder above writes the golden vector byte for byte, so the messages
  // below are what a Go node sends.
  void goEncoderMatchesGoldenVector() {
    const QJsonArray vectors = goldenEnvelopes();
    QVERIFY(vectors.size() >= 3);
    const QByteArray golden = vectors[0].toObject().value("cbor_hex").toString().toLatin1();
    const QByteArray mine =
        goEnvelope(1, 5, "insert", "Books", GoCbor().map(1).text("id").integer(9).bytes(), "ab");
    QCOMPARE(mine.toHex(), golden);
  }

  // Go-format changes, published raw (no headers, zstd) on the shard Go would pick, are applied
  // by every node: keys in any order, definite and indefinite maps, negative and 32-bit
  // integers, with and without "sh", insert/update/delete, tag-32 times and booleans.
  void goFormatMessagesApplied() {
    const QByteArray sh = m_schemaHash.toLatin1();
    QList<Published> sent;
    sent << publishGo(
        "Books", 101,
        goEnvelope(77, 1, "insert", "Books", booksRow(101, "Go Book", "Gopher", 2012)));
    sent << publishGo(
        "Books", 70000,
        goEnvelope(77, 2, "insert", "Books", booksRow(70000, "Old", "Caesar", -44), sh));
    // An update whose Row is an indefinite-length map (a streaming Go encoder may write one).
    const QByteArray indefinite = GoCbor()
                                      .indefiniteMap()
                                      .text("id")
                                      .integer(70000)
                                      .text("title")
                                      .text("Commentarii")
                                      .text("author")
                                      .text("Caesar")
                                      .text("publication_year")
                                      .integer(-50)
                                      .breakCode()
                                      .bytes();
    sent << publishGo("Books", 70000, goEnvelope(77, 3, "update", "Books", indefinite, sh));
    sent << publishGo(
        "Books", 102,
        goEnvelope(77, 4, "insert", "Books", booksRow(102, "Doomed", "Nobody", 2000)));
    sent << publishGo(
        "Books", 102,
        goEnvelope(77, 5, "delete", "Books", booksRow(102, "Doomed", "Nobody", 2000), sh));
    // DATETIME as tag 32 (seconds, and the zero time as null), BOOLEAN as true/false.
    sent << publishGo("T", 5,
                      goEnvelope(77, 6, "insert", "T",
                                 GoCbor()
                                     .map(3)
                                     .text("t")
                                     .raw(goTime(1740830400))
                                     .text("id")
                                     .integer(5)
                                     .text("b")
                                     .boolean(true)
                                     .bytes()));
    sent << publishGo("T", 6,
                      goEnvelope(77, 7, "insert", "T",
                                 GoCbor()
                                     .map(3)
                                     .text("b")
                                     .boolean(false)
                                     .text("id")
                                     .integer(6)
                                     .text("t")
                                     .raw(goTime(std::nullopt))
                                     .bytes(),
                                 sh));
    for (const Published& p : sent) QVERIFY2(p.seq > 0, "publish failed");

    QVERIFY2(test::waitConverged(nodes(), bookQuery(101), kConverge, "101|Go Book|Gopher|2012"),
             qPrintable(node(0).sql(bookQuery(101)) + " / " + node(1).sql(bookQuery(101))));
    QVERIFY2(
        test::waitConverged(nodes(), bookQuery(70000), kConverge, "70000|Commentarii|Caesar|-50"),
        qPrintable(node(0).sql(bookQuery(70000)) + " / " + node(1).sql(bookQuery(70000))));
    QVERIFY2(test::waitConverged(nodes(), bookQuery(102), kConverge, "absent"),
             qPrintable(node(0).sql(bookQuery(102)) + " / " + node(1).sql(bookQuery(102))));
    const QString tQuery =
        "SELECT group_concat(id || '|' || ifnull(t, 'NULL') || '|' || typeof(t) || '|' || b || '|' "
        "|| typeof(b), ';') "
        "FROM (SELECT * FROM T ORDER BY id)";
    QVERIFY2(
        test::waitConverged(nodes(), tQuery, kConverge,
                            "5|2025-03-01 12:00:00+00:00|text|1|integer;6|NULL|null|0|integer"),
        qPrintable(node(0).sql(tQuery) + " / " + node(1).sql(tQuery)));
    // Stored with exact storage classes, not as the text of the numbers.
    for (NodeProcess* n : nodes()) {
      QCOMPARE(n->sql("SELECT typeof(id) || typeof(publication_year) FROM Books WHERE id = 70000"),
               QString("integerinteger"));
      QCOMPARE(n->sql("SELECT count(*) FROM __harmonylite__dead_letters"), QString("0"));
    }
    // A node applying remote changes does not publish them again (echo suppression): the
    // streams hold exactly what we sent.
    const quint64 before1 = lastSeq(1), before2 = lastSeq(2);
    // A local write on each node is published after anything that node would have echoed (one
    // change log, published in commit order), so once both probes arrived, echoes would show.
    node(0).sql("INSERT INTO Authors(id, name) VALUES (1, 'Echo probe 1')");
    node(1).sql("INSERT INTO Authors(id, name) VALUES (3, 'Echo probe 2')");
    QVERIFY(test::waitConverged(
        nodes(), "SELECT group_concat(name, ',') FROM (SELECT name FROM Authors ORDER BY id)",
        kConverge, "Echo probe 1,Echo probe 2"));
    QCOMPARE(lastSeq(1) + lastSeq(2), before1 + before2 + 2);
  }

  // Poison messages (docs/replication.md#applying): undecodable bytes, a truncated zstd frame, the
  // golden tag-32 vectors (their Row has no key), an unknown table and a NOT NULL failure are
  // dead-lettered with their stream, sequence, payload and a reason, counted and logged; the valid
  // messages after them on the same shards still apply.
  void poisonMessagesDeadLettered() {
    const QJsonArray vectors = goldenEnvelopes();
    const QByteArray tag32 =
        QByteArray::fromHex(vectors[1].toObject().value("cbor_hex").toString().toLatin1());
    const QByteArray tag32Null =
        QByteArray::fromHex(vectors[2].toObject().value("cbor_hex").toString().toLatin1());
    QVERIFY(!tag32.isEmpty() && !tag32Null.isEmpty());
    // The vectors themselves decode (they are poison only here, for want of a key).
    QVERIFY(decodeMessage(tag32).ok());
    QVERIFY(decodeMessage(tag32Null).ok());

    struct Poison {
      Published sent;
      QString reasonPart;  // expected in the reason (case-insensitive); empty: any reason
    };
    QList<Poison> poison;
    const QByteArray valid = compressPayload(
        goEnvelope(77, 20, "insert", "Authors",
                   GoCbor().map(2).text("id").integer(2).text("name").text("x").bytes()));
    poison << Poison{publishRaw(1, QByteArray("\xff\x00", 2) + " this is not CBOR at all"),
                     QString()};
    poison << Poison{publishRaw(1, compressPayload(tag32)), "missing"};
    poison << Poison{publishRaw(2, compressPayload(tag32Null)), "missing"};
    poison << Poison{publishRaw(2, valid.left(valid.size() - 7)), QString()};
    poison << Poison{publishGo("Books", 1,
                               goEnvelope(77, 21, "insert", "NoSuchTable",
                                          GoCbor().map(1).text("id").integer(1).bytes())),
                     "NoSuchTable"};
    poison << Poison{publishGo("Books", 103,
                               goEnvelope(77, 22, "insert", "Books",
                                          GoCbor().map(1).text("id").integer(103).bytes())),
                     "NOT NULL"};
    for (const Poison& p : poison) QVERIFY2(p.sent.seq > 0, "publish failed");
    QSet<int> shardsUsed;
    for (const Poison& p : poison) shardsUsed << p.sent.stream.right(1).toInt();
    QCOMPARE(shardsUsed.size(), 2);

    // Valid messages after the poison, on both shards.
    const int64_t after1 = idsOnShard("Books", 1, 1, 110).first();
    const int64_t after2 = idsOnShard("Books", 2, 1, 110).first();
    QVERIFY(
        publishGo("Books", after1,
                  goEnvelope(77, 23, "insert", "Books", booksRow(after1, "After", "Shard 1", 1)))
            .seq > 0);
    QVERIFY(
        publishGo("Books", after2,
                  goEnvelope(77, 24, "insert", "Books", booksRow(after2, "After", "Shard 2", 2)))
            .seq > 0);
    QVERIFY2(test::waitConverged(nodes(), bookQuery(after1), kConverge,
                                 QStringLiteral("%1|After|Shard 1|1").arg(after1)),
             qPrintable(node(0).sql(bookQuery(after1)) + "\n" + node(0).log().right(3000)));
    QVERIFY2(test::waitConverged(nodes(), bookQuery(after2), kConverge,
                                 QStringLiteral("%1|After|Shard 2|2").arg(after2)),
             qPrintable(node(0).sql(bookQuery(after2)) + "\n" + node(0).log().right(3000)));
    QCOMPARE(node(0).sql(bookQuery(103)), QString("absent"));

    QStringList expected;
    for (const Poison& p : poison)
      expected << QStringLiteral("%1|%2|%3")
                      .arg(p.sent.stream)
                      .arg(p.sent.seq)
                      .arg(QString::fromLatin1(p.sent.payload.toHex().toUpper()));
    expected.sort();
    for (NodeProcess* n : nodes()) {
      // Every one of them, exactly once, with the bytes as they came.
      const QString rows = n->sql(
          "SELECT stream || '|' || seq || '|' || hex(payload) FROM __harmonylite__dead_letters "
          "ORDER BY stream, seq");
      QStringList got = rows.split('\n', Qt::SkipEmptyParts);
      got.sort();
      QCOMPARE(got, expected);
      QCOMPARE(n->sql("SELECT count(*) FROM __harmonylite__dead_letters WHERE reason IS NULL OR "
                      "reason = '' "
                      "OR at IS NULL OR at = ''"),
               QString("0"));
      for (const Poison& p : poison) {
        const QString reason = n->sql(
            QStringLiteral(
                "SELECT reason FROM __harmonylite__dead_letters WHERE stream = '%1' AND seq = %2")
                .arg(p.sent.stream)
                .arg(p.sent.seq));
        if (n == nodes().first())
          qInfo().noquote() << p.sent.stream << "seq" << p.sent.seq << "dead letter:" << reason;
        if (!p.reasonPart.isEmpty())
          QVERIFY2(reason.contains(p.reasonPart, Qt::CaseInsensitive), qPrintable(reason));
        const QString logged =
            QStringLiteral("dead letter %1 seq %2").arg(p.sent.stream).arg(p.sent.seq);
        // The node's stderr reaches us through the event loop: wait for it.
        const bool inLog = test::waitFor([&] { return n->log().contains(logged); }, 10000);
        if (!inLog) qWarning().noquote() << n->log();
        QVERIFY2(inLog, qPrintable(logged + " not in the node's log"));
      }
      // Applied positions moved past all of it, up to the end of both streams.
      const QHash<QString, quint64> pos = positionsOf(*n);
      for (int shard = 1; shard <= kShards; ++shard)
        QCOMPARE(pos.value(streamOf(shard)), lastSeq(shard));
      QVERIFY(n->isRunning());  // never a crash
    }
  }

  // Hostile messages (docs/replication.md#hostile-input), published raw to the running nodes: a
  // zstd bomb that expands to 1 GiB from 32 KiB, one whose header declares 1 GiB, CBOR nested
  // 10,000 deep, a text declaring 2^60 bytes, SQL in a table name and in a column name, and a
  // column the nodes do not have. Each is a dead letter with its reason on every node; the data
  // and the schema are untouched; the valid messages after them apply; the nodes keep running.
  void hostileMessagesDeadLettered() {
    // Valid messages go after the hostile ones, on both shards, to these rows.
    const int64_t after1 = idsOnShard("Books", 1, 1, 130).first();
    const int64_t after2 = idsOnShard("Books", 2, 1, 130).first();
    const QString userData = QStringLiteral(
                                 "SELECT group_concat(id || ':' || title || ':' || author, ',') "
                                 "FROM (SELECT * FROM Books WHERE id NOT IN (%1, %2) ORDER BY id)")
                                 .arg(after1)
                                 .arg(after2);
    const QString schema =
        "SELECT group_concat(name || ':' || ifnull(sql, ''), ';') FROM "
        "(SELECT * FROM sqlite_schema ORDER BY name)";
    QList<QString> dataBefore, schemaBefore;
    for (NodeProcess* n : nodes()) {
      dataBefore << n->sql(userData);
      schemaBefore << n->sql(schema);
    }
    // A zstd frame of RLE blocks (128 KiB of zeros for 4 bytes each), with or without a declared
    // content size.
    const auto bomb = [](qint64 total, bool declare) {
      QByteArray out("\x28\xb5\x2f\xfd", 4);
      out += declare ? QByteArray("\xc0\x38", 2) : QByteArray("\x00\x38", 2);
      if (declare)
        for (int i = 0; i < 8; ++i) out.append(char((quint64(total) >> (8 * i)) & 0xff));
      constexpr qint64 kBlock = 128 * 1024;
      const qint64 blocks = (total + kBlock - 1) / kBlock;
      for (qint64 i = 0; i < blocks; ++i) {
        const quint32 h = (quint32(kBlock) << 3) | 2u | (i == blocks - 1 ? 1u : 0u);
        out.append(char(h & 0xff)).append(char((h >> 8) & 0xff)).append(char((h >> 16) & 0xff));
        out.append('\0');
      }
      return out;
    };
    const QByteArray deep = GoCbor()
                                .map(3)
                                .text("FromNodeId")
                                .head(0, 77)
                                .text("x")
                                .raw(QByteArray(10000, '\x81'))
                                .integer(0)
                                .text("Payload")
                                .raw(GoCbor().map(0).bytes())
                                .bytes();
    const QByteArray hugeText =
        goEnvelope(77, 30, "insert", "Books",
                   GoCbor().map(1).text("title").head(3, quint64(1) << 60).raw("abc").bytes());
    struct Hostile {
      Published sent;
      QString reasonPart;
    };
    QList<Hostile> hostile;
    hostile << Hostile{publishRaw(1, bomb(qint64(1) << 30, false)),
                       "zstd payload decompresses to more than the limit of 8388608 bytes"};
    hostile << Hostile{publishRaw(2, bomb(qint64(1) << 30, true)),
                       "zstd frame declares 1073741824 bytes, more than the limit of 8388608"};
    hostile << Hostile{publishRaw(1, deep), "nesting deeper than 16"};
    hostile << Hostile{publishRaw(2, compressPayload(hugeText)), "truncated input"};
    hostile << Hostile{publishGo("Books", 1,
                                 goEnvelope(77, 31, "insert", "Books; DROP TABLE Books; --",
                                            booksRow(1, "pwned", "x", 1))),
                       "unknown table \"Books; DROP TABLE Books; --\""};
    hostile << Hostile{
        publishGo(
            "Books", 1,
            goEnvelope(77, 32, "update", "Books",
                       GoCbor().map(2).text("id").integer(1).text("\"x\" ; --").text("v").bytes())),
        "unknown column \"\"x\" ; --\" in table \"Books\""};
    hostile << Hostile{
        publishGo(
            "Books", 1,
            goEnvelope(77, 33, "update", "Books",
                       GoCbor().map(2).text("id").integer(1).text("isbn").text("978").bytes())),
        "unknown column \"isbn\""};
    for (const Hostile& h : hostile) QVERIFY2(h.sent.seq > 0, "publish failed");

    QVERIFY(
        publishGo("Books", after1,
                  goEnvelope(77, 34, "insert", "Books", booksRow(after1, "Later", "Shard 1", 1)))
            .seq > 0);
    QVERIFY(
        publishGo("Books", after2,
                  goEnvelope(77, 35, "insert", "Books", booksRow(after2, "Later", "Shard 2", 2)))
            .seq > 0);
    for (const auto& [id, shard] : {std::pair{after1, 1}, std::pair{after2, 2}})
      QVERIFY2(test::waitConverged(nodes(), bookQuery(id), kConverge,
                                   QStringLiteral("%1|Later|Shard %2|%2").arg(id).arg(shard)),
               qPrintable(node(0).sql(bookQuery(id)) + "\n" + node(0).log().right(3000)));

    for (int i = 0; i < int(nodes().size()); ++i) {
      NodeProcess* n = nodes()[i];
      for (const Hostile& h : hostile) {
        const QString row = n->sql(QStringLiteral("SELECT reason || '|' || hex(payload) FROM "
                                                  "__harmonylite__dead_letters WHERE stream = "
                                                  "'%1' AND seq = %2")
                                       .arg(h.sent.stream)
                                       .arg(h.sent.seq));
        const QString reason = row.section('|', 0, -2);
        if (i == 0) qInfo().noquote() << h.sent.stream << "seq" << h.sent.seq << "->" << reason;
        QVERIFY2(reason.contains(h.reasonPart), qPrintable(row.left(300)));
        QCOMPARE(row.section('|', -1), QString::fromLatin1(h.sent.payload.toHex().toUpper()));
      }
      // The data and the schema as they were (besides the two valid rows).
      QCOMPARE(n->sql(userData), dataBefore[i]);
      QCOMPARE(n->sql(schema), schemaBefore[i]);
      QCOMPARE(n->sql("PRAGMA integrity_check"), QString("ok"));
      const QHash<QString, quint64> pos = positionsOf(*n);
      for (int shard = 1; shard <= kShards; ++shard)
        QCOMPARE(pos.value(streamOf(shard)), lastSeq(shard));
      QVERIFY(n->isRunning());  // never a crash
    }
  }

  // What a node publishes (docs/wire-format.md#message, docs/wire-format.md#shard,
  // docs/replication.md#publishing): a zstd frame holding Go's envelope (keys in Go's order,
  // FromNodeId = node id, lower-case Type, the whole row, a 64-hex "sh"), with Nats-Msg-Id
  // "<node>-<change id>", on the subject and stream of the shard that the FNV-1 key hash picks.
  void ourMessagesFollowA2() {
    NodeProcess& n = node(0);
    QList<int64_t> ids = idsOnShard("Books", 1, 3, 200) + idsOnShard("Books", 2, 3, 200);
    std::sort(ids.begin(), ids.end());

    // One sync push consumer per stream, from the next sequence on.
    std::vector<NatsSubscriptionPtr> subs;
    for (int shard = 1; shard <= kShards; ++shard) {
      const QByteArray stream = streamOf(shard).toUtf8();
      const QByteArray subject = subjectOf(shard).toUtf8();
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = stream.constData();
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = lastSeq(shard) + 1;
      so.Config.AckPolicy = js_AckNone;
      natsSubscription* sub = nullptr;
      jsErrCode jerr = jsErrCode(0);
      const Status s =
          fromNats(js_SubscribeSync(&sub, m_js.get(), subject.constData(), nullptr, &so, &jerr),
                   "subscribe", jerr);
      QVERIFY2(s.isOk(), qPrintable(s.message()));
      subs.emplace_back(sub);
    }

    struct Got {
      int shard;
      QString subject, stream, msgId;
      quint64 seq;
      QByteArray data;
    };
    QList<Got> got;
    // Collects messages until `want` have arrived (or the deadline passes).
    const auto receive = [&](int want) {
      return test::waitFor(
          [&] {
            for (int shard = 1; shard <= kShards; ++shard) {
              natsMsg* raw = nullptr;
              while (natsSubscription_NextMsg(&raw, subs[size_t(shard - 1)].get(), 1) == NATS_OK) {
                NatsMsgPtr m(raw);
                Got g;
                g.shard = shard;
                g.subject = QString::fromUtf8(natsMsg_GetSubject(raw));
                g.data = QByteArray(natsMsg_GetData(raw), natsMsg_GetDataLength(raw));
                const char* id = nullptr;
                if (natsMsgHeader_Get(raw, "Nats-Msg-Id", &id) == NATS_OK && id)
                  g.msgId = QString::fromUtf8(id);
                jsMsgMetaData* meta = nullptr;
                if (natsMsg_GetMetaData(&meta, raw) == NATS_OK && meta) {
                  g.stream = QString::fromUtf8(meta->Stream);
                  g.seq = meta->Sequence.Stream;
                  jsMsgMetaData_Destroy(meta);
                }
                got << g;
              }
            }
            return got.size() >= want;
          },
          kConverge, 20);
    };

    // Three commits, each published before the next: a message carries the row as it is when
    // it is published (docs/capture.md), so an update or delete committed before the insert
    // was published would (rightly) change what the insert carries.
    QString script = "BEGIN;";
    for (int64_t id : ids)
      script += QStringLiteral(
                    "INSERT INTO Books(id, title, author, publication_year) VALUES (%1, 'Title "
                    "%1', 'Ünïcødé %1', %2);")
                    .arg(id)
                    .arg(1900 + id);
    script += "COMMIT;";
    bool ok = false;
    n.sql(script, &ok);
    QVERIFY(ok);
    QVERIFY(receive(int(ids.size())));
    n.sql(QStringLiteral("UPDATE Books SET title = 'Updated' WHERE id = %1;").arg(ids[0]), &ok);
    QVERIFY(ok);
    QVERIFY(receive(int(ids.size()) + 1));
    n.sql(QStringLiteral("DELETE FROM Books WHERE id = %1;").arg(ids[1]), &ok);
    QVERIFY(ok);
    const int want = int(ids.size()) + 2;
    receive(want);
    QCOMPARE(got.size(), want);
    // Nothing else arrives (exactly one message per change): watched for one second.
    QVERIFY(!test::waitFor(
        [&] {
          natsMsg* raw = nullptr;
          for (auto& s : subs)
            if (natsSubscription_NextMsg(&raw, s.get(), 1) == NATS_OK) {
              natsMsg_Destroy(raw);
              return true;
            }
          return false;
        },
        1000, 50));

    const QRegularExpression hex64("^[0-9a-f]{64}$");
    // Go's envelope prefix: map(2), "FromNodeId", 11 (shortest form), "Payload", map(5), "Id".
    const QByteArray goPrefix =
        QByteArray::fromHex("a26a46726f6d4e6f6465496408675061796c6f6164a5624964");
    QByteArray expectedPrefix = goPrefix;
    expectedPrefix[12] = char(n.nodeId());
    QSet<int> shardsSeen;
    QHash<int, int64_t> lastIdOnShard;
    int inserts = 0, updates = 0, deletes = 0;
    for (const Got& g : got) {
      QVERIFY2(g.data.startsWith(QByteArray::fromHex("28b52ffd")),
               qPrintable(g.data.left(8).toHex()));
      auto raw = maybeDecompress(g.data);
      QVERIFY2(raw.ok(), qPrintable(raw.status().message()));
      QVERIFY2(raw->startsWith(expectedPrefix), qPrintable(raw->left(32).toHex()));
      auto decoded = decodeMessage(g.data);
      QVERIFY2(decoded.ok(), qPrintable(decoded.status().message()));
      const Change& c = *decoded;
      QCOMPARE(c.fromNodeId, n.nodeId());
      QCOMPARE(c.table, QString("Books"));
      QVERIFY2(hex64.match(c.schemaHash).hasMatch(), qPrintable(c.schemaHash));
      QCOMPARE(c.schemaHash, m_schemaHash);
      QCOMPARE(g.msgId, QStringLiteral("%1-%2").arg(n.nodeId()).arg(c.id));
      const Value* id = c.find("id");
      QVERIFY(id && id->type() == Value::Type::kInteger);
      const int shard = shardOf("Books", id->asInteger());
      QCOMPARE(g.shard, shard);
      QCOMPARE(g.subject, subjectOf(shard));
      QCOMPARE(g.stream, streamOf(shard));
      shardsSeen << shard;
      // Change ids grow in publish order within a shard.
      QVERIFY2(c.id > lastIdOnShard.value(shard, 0), qPrintable(QString::number(c.id)));
      lastIdOnShard[shard] = c.id;
      if (c.type == ChangeType::kDelete) {
        ++deletes;
        QCOMPARE(id->asInteger(), ids[1]);
        continue;
      }
      // Inserts and updates carry the whole row, with exact storage classes.
      QCOMPARE(c.row.size(), 4);
      const Value* title = c.find("title");
      const Value* author = c.find("author");
      const Value* year = c.find("publication_year");
      QVERIFY(title && author && year);
      QCOMPARE(author->type(), Value::Type::kText);
      QCOMPARE(QString::fromUtf8(author->bytes()),
               QStringLiteral("Ünïcødé %1").arg(id->asInteger()));
      QCOMPARE(year->type(), Value::Type::kInteger);
      QCOMPARE(year->asInteger(), 1900 + id->asInteger());
      if (c.type == ChangeType::kUpdate) {
        ++updates;
        QCOMPARE(id->asInteger(), ids[0]);
        QCOMPARE(QString::fromUtf8(title->bytes()), QString("Updated"));
      } else {
        QCOMPARE(c.type, ChangeType::kInsert);
        ++inserts;
        QCOMPARE(QString::fromUtf8(title->bytes()),
                 QStringLiteral("Title %1").arg(id->asInteger()));
      }
    }
    QCOMPARE(inserts, int(ids.size()));
    QCOMPARE(updates, 1);
    QCOMPARE(deletes, 1);
    QCOMPARE(shardsSeen.size(), kShards);
    // And the other node applied them.
    QVERIFY(test::waitConverged(
        nodes(), bookQuery(ids[0]), kConverge,
        QStringLiteral("%1|Updated|Ünïcødé %1|%2").arg(ids[0]).arg(1900 + ids[0])));
    QVERIFY(test::waitConverged(nodes(), bookQuery(ids[1]), kConverge, "absent"));
  }

  // A Go-written seq-map (docs/wire-format.md#seq-map) is honoured: node 2 stopped, its positions
  // table emptied, a Go-format seq-map file written whose positions cover message R1 of each shard
  // but not the R2 after it. On restart R1 is not applied (at or below the position), R2 is; then
  // the node's own seq-map file holds its current positions in Go's format.
  void goSeqMapHonoured() {
    NodeProcess& n1 = node(0);
    NodeProcess& n2 = node(1);
    // While running, the node's seq-map mirrors its positions table.
    QVERIFY2(
        test::waitFor([&] { return !positionsOf(n2).isEmpty() && seqMapOf(n2) == positionsOf(n2); },
                      10000),
        qPrintable(QStringLiteral("file %1 vs table %2")
                       .arg(seqMapOf(n2).size())
                       .arg(positionsOf(n2).size())));
    QCOMPARE(n2.stop(), 0);
    QCOMPARE(seqMapOf(n2), positionsOf(n2));

    QHash<int, int64_t> r1, r2;
    QHash<int, quint64> r1Seq;
    for (int shard = 1; shard <= kShards; ++shard) {
      const QList<int64_t> ids = idsOnShard("Books", shard, 2, 400);
      r1[shard] = ids[0];
      r2[shard] = ids[1];
      const Published p1 = publishGo(
          "Books", r1[shard],
          goEnvelope(77, 100 + shard, "insert", "Books", booksRow(r1[shard], "R1", "Below", 1)));
      const Published p2 = publishGo(
          "Books", r2[shard],
          goEnvelope(77, 200 + shard, "insert", "Books", booksRow(r2[shard], "R2", "Above", 2)));
      QCOMPARE(p1.stream, streamOf(shard));
      QCOMPARE(p2.seq, p1.seq + 1);
      r1Seq[shard] = p1.seq;
    }
    for (int shard = 1; shard <= kShards; ++shard) {
      QVERIFY(test::waitConverged({&n1}, bookQuery(r1[shard]), kConverge,
                                  QStringLiteral("%1|R1|Below|1").arg(r1[shard])));
      QVERIFY(test::waitConverged({&n1}, bookQuery(r2[shard]), kConverge,
                                  QStringLiteral("%1|R2|Above|2").arg(r2[shard])));
    }

    bool ok = false;
    n2.sql("DELETE FROM __harmonylite__positions", &ok);
    QVERIFY(ok);
    // Go's map[string]uint64 in CBOR: definite map, text keys, shortest unsigned values, keys in
    // no particular order (here shard 2 first).
    GoCbor goMap;
    goMap.map(2);
    for (int shard = kShards; shard >= 1; --shard)
      goMap.text(streamOf(shard).toUtf8()).head(0, r1Seq[shard]);
    QVERIFY(test::writeFile(seqMapPath(n2), goMap.bytes()));

    const Status s = n2.start(60000);
    QVERIFY2(s.isOk(), qPrintable(s.message()));
    for (int shard = 1; shard <= kShards; ++shard)
      QVERIFY2(test::waitConverged(nodes(), bookQuery(r2[shard]), kConverge,
                                   QStringLiteral("%1|R2|Above|2").arg(r2[shard])),
               qPrintable(n2.sql(bookQuery(r2[shard])) + "\n" + n2.log().right(3000)));
    // R2 came after R1 in the same stream: R1 was passed over, not applied.
    for (int shard = 1; shard <= kShards; ++shard) {
      QCOMPARE(n2.sql(bookQuery(r1[shard])), QString("absent"));
      QCOMPARE(n1.sql(bookQuery(r1[shard])), QStringLiteral("%1|R1|Below|1").arg(r1[shard]));
    }

    QHash<QString, quint64> expected;
    for (int shard = 1; shard <= kShards; ++shard)
      expected.insert(streamOf(shard), r1Seq[shard] + 1);
    QCOMPARE(positionsOf(n2), expected);
    QVERIFY2(test::waitFor([&] { return seqMapOf(n2) == expected; }, 10000),
             qPrintable(QString::fromLatin1(test::readFile(seqMapPath(n2)).toHex())));

    // A later message moves both the table and the file on.
    const int64_t later = idsOnShard("Books", 1, 1, 500).first();
    const Published p = publishGo(
        "Books", later, goEnvelope(77, 300, "insert", "Books", booksRow(later, "Later", "Go", 3)));
    QVERIFY(p.seq > 0);
    QVERIFY(test::waitConverged(nodes(), bookQuery(later), kConverge,
                                QStringLiteral("%1|Later|Go|3").arg(later)));
    expected[streamOf(1)] = p.seq;
    QVERIFY2(test::waitFor([&] { return seqMapOf(n2) == expected && positionsOf(n2) == expected; },
                           10000),
             qPrintable(QString::fromLatin1(test::readFile(seqMapPath(n2)).toHex())));
    QCOMPARE(n2.stop(), 0);
    // Written in Go's format: one definite CBOR map of text keys and unsigned values.
    const QByteArray file = test::readFile(seqMapPath(n2));
    QCOMPARE(uint8_t(file.at(0)), uint8_t(0xa2));
    QCOMPARE(seqMapOf(n2), expected);
    QVERIFY(n2.start(60000).isOk());
  }

  // An insert collision with a Go node (docs/replication.md#insert-collisions): node 2 inserts
  // Books 80000 while it is stopped, a Go-format node (no headers at all) inserts the same key
  // meanwhile. Node 2's insert lands later: it moves its row to a fresh key, and node 1 skips
  // node 2's losing insert by its Hl-Capture-Seq. Both rows end on both nodes.
  void goInsertCollision() {
    NodeProcess& n2 = node(1);
    QCOMPARE(n2.stop(), 0);
    bool ok = false;
    // SQLite assigns the key on node 2 (a collision is of assigned keys only); the Go node
    // inserts the same key meanwhile.
    const QString key = n2.sql(
        "INSERT INTO Books(title, author, publication_year) VALUES ('Mine', 'Node 2', 2020) "
        "RETURNING id",
        &ok);
    QVERIFY(ok);
    const int64_t id = key.toLongLong();
    QVERIFY(id > 0);
    QCOMPARE(node(0).sql("SELECT count(*) FROM Books WHERE id = " + key), QString("0"));
    const Published p =
        publishGo("Books", id,
                  goEnvelope(77, 80, "insert", "Books", booksRow(id, "Go Book", "Gopher", 2012),
                             m_schemaHash.toLatin1()));
    QVERIFY(p.seq > 0);
    QVERIFY(test::waitFor(
        [&] { return node(0).sql("SELECT title FROM Books WHERE id = " + key) == "Go Book"; },
        30000));
    QVERIFY(n2.start(60000).isOk());
    const QString both = QStringLiteral(
                             "SELECT (SELECT title FROM Books WHERE id = %1) || '|' || (SELECT "
                             "count(*) || ':' || ifnull(group_concat(id), '') FROM Books WHERE "
                             "title = 'Mine' AND id <> %1)")
                             .arg(key);
    QVERIFY2(test::waitFor(
                 [&] {
                   const QString first = node(0).sql(both);
                   return first.startsWith("Go Book|1:") && n2.sql(both) == first;
                 },
                 30000),
             qPrintable(node(0).sql(both) + " / " + n2.sql(both)));
    // Logged right after the commit that moved the row; read from the node's standard error a
    // little later than the database shows it.
    QVERIFY2(test::waitFor(
                 [&] {
                   return n2.log().contains("insert collision in Books at id=" + key +
                                            ": the row of node 77");
                 },
                 10000),
             qPrintable(n2.log().right(3000)));
  }

  // The schema hash of Go-format messages (docs/schema-changes.md#pause), last because it adds a
  // column to Books: a malformed `sh` counts as none (applied); a well-formed unknown one naming
  // a column the nodes lack pauses that shard only, with nothing dead-lettered, until the nodes
  // get the column; without `sh` the same row is a dead letter (it cannot be told from a bad one).
  void schemaHashOfGoMessages() {
    const QString dead = "SELECT count(*) FROM __harmonylite__dead_letters";
    QList<QString> deadBefore;
    for (NodeProcess* n : nodes()) deadBefore << n->sql(dead);
    const int64_t odd = idsOnShard("Books", 2, 1, 91000).first();
    publishGo(
        "Books", odd,
        goEnvelope(77, 400, "insert", "Books", booksRow(odd, "Odd hash", "Go", 1), "NOT-A-HASH"));
    QVERIFY(test::waitConverged(nodes(), bookQuery(odd), kConverge,
                                QStringLiteral("%1|Odd hash|Go|1").arg(odd)));

    const QByteArray newer(64, 'a');  // a schema no node has had
    const int64_t rated = idsOnShard("Books", 1, 1, 92000).first();
    const QByteArray ratedRow = GoCbor()
                                    .map(5)
                                    .text("id")
                                    .integer(rated)
                                    .text("title")
                                    .text("Rated")
                                    .text("author")
                                    .text("Go")
                                    .text("publication_year")
                                    .integer(2)
                                    .text("rating")
                                    .integer(5)
                                    .bytes();
    const Published waiting =
        publishGo("Books", rated, goEnvelope(77, 401, "insert", "Books", ratedRow, newer));
    QVERIFY(waiting.seq > 0);
    for (NodeProcess* n : nodes())
      QVERIFY2(test::waitFor(
                   [&] {
                     return n->log().contains(
                         "waits for schema aaaaaaaaaaaa of node 77 (no column "
                         "rating in Books)");
                   },
                   kConverge),
               qPrintable(n->log().right(3000)));
    // Shard 2 goes on.
    const int64_t other = idsOnShard("Books", 2, 1, 93000).first();
    publishGo("Books", other,
              goEnvelope(77, 402, "insert", "Books", booksRow(other, "Other shard", "Go", 3)));
    QVERIFY(test::waitConverged(nodes(), bookQuery(other), kConverge,
                                QStringLiteral("%1|Other shard|Go|3").arg(other)));
    QCOMPARE(node(0).sql(bookQuery(rated)), QString("absent"));
    for (int i = 0; i < nodes().size(); ++i) QCOMPARE(node(i).sql(dead), deadBefore[i]);
    // The nodes get the column: the waiting change is applied, with it.
    for (NodeProcess* n : nodes()) {
      bool ok = false;
      n->sql("ALTER TABLE Books ADD COLUMN rating INTEGER", &ok);
      QVERIFY(ok);
    }
    const QString ratedQuery =
        QStringLiteral(
            "SELECT ifnull((SELECT title || '|' || rating FROM Books WHERE id = %1), "
            "'absent')")
            .arg(rated);
    QVERIFY(test::waitConverged(nodes(), ratedQuery, kConverge, "Rated|5"));
    for (int i = 0; i < nodes().size(); ++i) QCOMPARE(node(i).sql(dead), deadBefore[i]);
    // Without `sh`, a column no node has is a dead letter (docs/replication.md#applying).
    const int64_t unknown = idsOnShard("Books", 2, 1, 94000).first();
    const QByteArray nickRow = GoCbor()
                                   .map(3)
                                   .text("id")
                                   .integer(unknown)
                                   .text("title")
                                   .text("Nick")
                                   .text("nickname")
                                   .text("x")
                                   .bytes();
    publishGo("Books", unknown, goEnvelope(77, 403, "insert", "Books", nickRow));
    for (int i = 0; i < nodes().size(); ++i)
      QVERIFY(test::waitFor([&] { return node(i).sql(dead).toInt() == deadBefore[i].toInt() + 1; },
                            kConverge));
  }
};

QTEST_GUILESS_MAIN(TestInterop)
#include "tst_interop.moc"
