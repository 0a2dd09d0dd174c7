// NatsObjectStore against a real nats-server (issue 12): round trips across the chunk
// boundaries, the stored layout (stream, subjects, metadata JSON, digest) as NATS ADR-20 and
// the official clients have it, replacing and cancelling without losing the previous object,
// tampered chunks and malformed metadata, links, removal, listing, a server that is down or
// frozen; and interoperability both ways with the official JavaScript client (@nats-io/obj,
// pinned in tests/interop/package-lock.json, installed by tests/interop/setup.sh).
//
// HL_OBJ_BENCH_MB=<n> adds a timed put and get of an n MB object with the peak RSS growth.
#include <QBuffer>
#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <signal.h>

#include "nats/nats_handles.h"
#include "nats_test_client.h"
#include "snapshot/nats_object_store.h"
#include "test_support.h"

using namespace hl;

namespace {

constexpr qint64 kChunk = NatsObjectStore::kChunkSize;

QByteArray randomBytes(qint64 size, quint32 seed) {
  QRandomGenerator rng(seed);
  QByteArray out(size, Qt::Uninitialized);
  qint64 i = 0;
  for (; i + 4 <= size; i += 4) {
    const quint32 v = rng.generate();
    memcpy(out.data() + i, &v, 4);
  }
  for (; i < size; ++i) out[i] = char(rng.generate());
  return out;
}

QString sha256Hex(const QByteArray& data) {
  return QString::fromLatin1(QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex());
}

QString goDigest(const QByteArray& data) {
  return "SHA-256=" + QString::fromLatin1(QCryptographicHash::hash(data, QCryptographicHash::Sha256)
                                              .toBase64(QByteArray::Base64UrlEncoding));
}

QByteArray metaSubject(const QString& bucket, const QString& name) {
  return "$O." + bucket.toUtf8() + ".M." + name.toUtf8().toBase64(QByteArray::Base64UrlEncoding);
}

Status putBytes(SnapshotStore& store, const QString& name, const QByteArray& data,
                const QList<QPair<QString, QString>>& headers = {},
                const TransferProgress& progress = {}) {
  QBuffer buf;
  buf.setData(data);
  buf.open(QIODevice::ReadOnly);
  return store.put(name, buf, data.size(), headers, progress);
}

Result<QByteArray> getBytes(SnapshotStore& store, const QString& name) {
  QBuffer buf;
  buf.open(QIODevice::WriteOnly);
  const Status st = store.get(name, buf, {});
  if (!st.isOk()) return st;
  return buf.data();
}

std::optional<StoreObject> findObject(const QList<StoreObject>& list, const QString& name) {
  for (const StoreObject& o : list)
    if (o.name == name) return o;
  return std::nullopt;
}

qint64 procStatusKb(const char* field) {
  QFile f(QStringLiteral("/proc/self/status"));
  if (!f.open(QIODevice::ReadOnly)) return -1;
  for (const QByteArray& line : f.readAll().split('\n')) {
    if (line.startsWith(field))
      return line.mid(qsizetype(strlen(field))).trimmed().split(' ').value(0).toLongLong();
  }
  return -1;
}

// Sets the peak RSS (VmHWM) back to the current RSS.
void resetPeakRss() {
  QFile f(QStringLiteral("/proc/self/clear_refs"));
  if (f.open(QIODevice::WriteOnly)) f.write("5");
}

}  // namespace

class TestNatsObjectStore : public QObject {
  Q_OBJECT

  std::unique_ptr<test::NatsServer> m_server;
  NatsConnectionPtr m_nc;
  JsCtxPtr m_js;
  int m_bucketCount = 0;

  QString freshBucket() { return QStringLiteral("tst-obj_%1").arg(++m_bucketCount); }

  QJsonObject storedMeta(const QString& bucket, const QString& name, natsMsg** keep = nullptr) {
    natsMsg* raw = nullptr;
    const QByteArray stream = "OBJ_" + bucket.toUtf8();
    const QByteArray subject = metaSubject(bucket, name);
    const natsStatus s =
        js_GetLastMsg(&raw, m_js.get(), stream.constData(), subject.constData(), nullptr, nullptr);
    if (s != NATS_OK) return {};
    const QJsonObject o =
        QJsonDocument::fromJson(QByteArray(natsMsg_GetData(raw), natsMsg_GetDataLength(raw)))
            .object();
    if (keep)
      *keep = raw;
    else
      natsMsg_Destroy(raw);
    return o;
  }

  // Messages in the bucket's stream; with `filter`, the number of subjects matching it.
  qint64 streamCount(const QString& bucket, const char* filter = nullptr) {
    jsOptions o;
    jsOptions_Init(&o);
    QByteArray f;
    if (filter) {
      f = "$O." + bucket.toUtf8() + filter;
      o.Stream.Info.SubjectsFilter = f.constData();
    }
    jsStreamInfo* si = nullptr;
    const QByteArray stream = "OBJ_" + bucket.toUtf8();
    if (js_GetStreamInfo(&si, m_js.get(), stream.constData(), &o, nullptr) != NATS_OK) return -1;
    JsStreamInfoPtr info(si);
    if (!filter) return qint64(info->State.Msgs);
    return info->State.Subjects ? info->State.Subjects->Count : 0;
  }

  void publishRaw(const QByteArray& subject, const QByteArray& data) {
    const Status st = test::publish(m_js.get(), subject.constData(), data);
    QVERIFY2(st.isOk(), qPrintable(st.message()));
  }

  // --- the JavaScript client ---
  QString m_nodeDir;

  void setUpNode() {
    if (!m_nodeDir.isEmpty()) return;
    // No silent skip: CI has the npm registry, and interop is a requirement of the store.
    QString why;
    m_nodeDir = test::installInteropClients(QStringLiteral(HL_INTEROP_SETUP),
                                            QStringLiteral(HL_INTEROP_NODE_DIR), &why);
    QVERIFY2(!m_nodeDir.isEmpty(), qPrintable(why));
  }

  // Runs obj_interop.mjs; the JSON it printed.
  QJsonDocument node(const QStringList& args) {
    setUpNode();
    if (m_nodeDir.isEmpty()) return {};
    const test::ProcessResult r = test::runProcess(
        QStringLiteral("node"), QStringList{m_nodeDir + QStringLiteral("/obj_interop.mjs")} + args,
        120000);
    if (r.exitCode != 0 || r.timedOut) {
      qWarning().noquote() << "node obj_interop.mjs" << args.join(' ') << "failed, exit"
                           << r.exitCode << (r.timedOut ? "(timed out)" : "") << "\n"
                           << QString::fromUtf8(r.err);
      return {};
    }
    return QJsonDocument::fromJson(r.out);
  }

 private slots:
  void initTestCase() {
    QCOMPARE(nats_Open(-1), NATS_OK);
    m_server = std::make_unique<test::NatsServer>();
    const Status started = m_server->start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    auto nc = test::connectTo(m_server->url());
    QVERIFY2(nc.ok(), qPrintable(nc.status().message()));
    m_nc = std::move(*nc);
    auto js = test::jetStream(m_nc.get());
    QVERIFY2(js.ok(), qPrintable(js.status().message()));
    m_js = std::move(*js);
  }

  void cleanupTestCase() {
    m_js.reset();
    m_nc.reset();
    m_server.reset();
    nats_Close();
  }

  void roundTrip_data() {
    QTest::addColumn<qint64>("size");
    QTest::newRow("0") << qint64(0);
    QTest::newRow("1") << qint64(1);
    QTest::newRow("128Ki-1") << kChunk - 1;
    QTest::newRow("128Ki") << kChunk;
    QTest::newRow("128Ki+1") << kChunk + 1;
    QTest::newRow("3MB") << qint64(3 * 1000 * 1000 + 7);
  }

  void roundTrip() {
    QFETCH(qint64, size);
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    const QByteArray data = randomBytes(size, quint32(size) + 1);
    QList<QPair<qint64, qint64>> seen;
    const Status put = putBytes(store, "snapshots/rt.db", data, {}, [&](qint64 d, qint64 t) {
      seen.append({d, t});
      return true;
    });
    QVERIFY2(put.isOk(), qPrintable(put.message()));
    const qint64 chunks = (size + kChunk - 1) / kChunk;
    QCOMPARE(seen.size(), chunks);
    if (size > 0) QCOMPARE(seen.last(), qMakePair(size, size));
    QCOMPARE(streamCount(bucket), chunks + 1);  // the chunks and one metadata message

    QBuffer sink;
    sink.open(QIODevice::WriteOnly);
    qint64 lastDone = -1;
    const Status got = store.get("snapshots/rt.db", sink, [&](qint64 d, qint64 t) {
      lastDone = d;
      return t == size;
    });
    QVERIFY2(got.isOk(), qPrintable(got.message()));
    QCOMPARE(sink.data().size(), size);
    QVERIFY(sink.data() == data);
    if (size > 0) QCOMPARE(lastDone, size);

    const QJsonObject meta = storedMeta(bucket, "snapshots/rt.db");
    QCOMPARE(meta.value("size").toInteger(), size);
    QCOMPARE(meta.value("chunks").toInteger(), chunks);
    QCOMPARE(meta.value("digest").toString(), goDigest(data));
  }

  // The stream and the metadata as nats.go writes them (docs/wire-format.md#snapshot-objects).
  void layoutAndDigestFormat() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    QCOMPARE(store.describe(), "nats bucket " + bucket);
    const QByteArray data = randomBytes(2 * kChunk + 5, 42);
    const Status put = putBytes(store, "snapshots/20261130T150102123Z-n1.db", data,
                                {{"Hl-Node", "1"}, {"Hl-Kind", "full"}, {"Hl-Node", "2"}});
    QVERIFY2(put.isOk(), qPrintable(put.message()));

    jsStreamInfo* si = nullptr;
    const QByteArray stream = "OBJ_" + bucket.toUtf8();
    QCOMPARE(js_GetStreamInfo(&si, m_js.get(), stream.constData(), nullptr, nullptr), NATS_OK);
    JsStreamInfoPtr info(si);
    const jsStreamConfig* c = info->Config;
    QCOMPARE(c->SubjectsLen, 2);
    QCOMPARE(QByteArray(c->Subjects[0]), "$O." + bucket.toUtf8() + ".C.>");
    QCOMPARE(QByteArray(c->Subjects[1]), "$O." + bucket.toUtf8() + ".M.>");
    QCOMPARE(c->Storage, js_FileStorage);
    QCOMPARE(c->Discard, js_DiscardNew);
    QVERIFY(c->AllowRollup);
    QVERIFY(c->AllowDirect);
    QCOMPARE(c->Replicas, 1);

    // The metadata subject is the padded base64url of the name (a fixed vector, not our code).
    QCOMPARE(metaSubject(bucket, "snapshots/20261130T150102123Z-n1.db"),
             "$O." + bucket.toUtf8() + ".M.c25hcHNob3RzLzIwMjYxMTMwVDE1MDEwMjEyM1otbjEuZGI=");
    natsMsg* raw = nullptr;
    const QJsonObject meta = storedMeta(bucket, "snapshots/20261130T150102123Z-n1.db", &raw);
    NatsMsgPtr msg(raw);
    QVERIFY(msg);
    const char* rollup = nullptr;
    QCOMPARE(natsMsgHeader_Get(raw, "Nats-Rollup", &rollup), NATS_OK);
    QCOMPARE(QByteArray(rollup), "sub");

    QCOMPARE(meta.value("name").toString(), "snapshots/20261130T150102123Z-n1.db");
    QCOMPARE(meta.value("bucket").toString(), bucket);
    QVERIFY(
        QRegularExpression("^[0-9A-Za-z]{22}$").match(meta.value("nuid").toString()).hasMatch());
    QCOMPARE(meta.value("size").toInteger(), data.size());
    QCOMPARE(meta.value("chunks").toInteger(), 3);
    QCOMPARE(meta.value("options").toObject().value("max_chunk_size").toInteger(), kChunk);
    QVERIFY(!meta.contains("deleted"));
    QVERIFY(!meta.contains("description"));
    const QJsonObject headers = meta.value("headers").toObject();
    QCOMPARE(headers.value("Hl-Node").toArray(), (QJsonArray{"1", "2"}));
    QCOMPARE(headers.value("Hl-Kind").toArray(), (QJsonArray{"full"}));
    // mtime: RFC 3339, UTC, nanoseconds (what Go's time.Time marshals and parses).
    const QString mtime = meta.value("mtime").toString();
    QVERIFY2(
        QRegularExpression(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$)").match(mtime).hasMatch(),
        qPrintable(mtime));
    // digest: "SHA-256=" + padded base64url, 44 characters, which Go's base64.URLEncoding and
    // the JavaScript parser both decode.
    const QString digest = meta.value("digest").toString();
    QVERIFY2(QRegularExpression("^SHA-256=[A-Za-z0-9_-]{43}=$").match(digest).hasMatch(),
             qPrintable(digest));
    QCOMPARE(digest, goDigest(data));
    const QByteArray sha =
        QByteArray::fromBase64(digest.mid(8).toLatin1(), QByteArray::Base64UrlEncoding);
    QCOMPARE(QString::fromLatin1(sha.toHex()), sha256Hex(data));

    // The chunks: on $O.<bucket>.C.<nuid>, 128 KiB each but the last.
    const QByteArray chunkSubject =
        "$O." + bucket.toUtf8() + ".C." + meta.value("nuid").toString().toUtf8();
    QList<int> sizes;
    uint64_t seq = 1;
    for (;;) {
      jsDirectGetMsgOptions dg;
      jsDirectGetMsgOptions_Init(&dg);
      dg.Sequence = seq;
      dg.NextBySubject = chunkSubject.constData();
      natsMsg* m = nullptr;
      if (js_DirectGetMsg(&m, m_js.get(), stream.constData(), nullptr, &dg) != NATS_OK) break;
      sizes << natsMsg_GetDataLength(m);
      seq = natsMsg_GetSequence(m) + 1;
      natsMsg_Destroy(m);
    }
    QCOMPARE(sizes, (QList<int>{int(kChunk), int(kChunk), 5}));

    auto list = store.list();
    QVERIFY2(list.ok(), qPrintable(list.status().message()));
    QCOMPARE(list->size(), 1);
    const StoreObject& o = list->first();
    QCOMPARE(o.size, data.size());
    QCOMPARE(o.digest, digest);
    QVERIFY(o.linkTo.isEmpty());
    QVERIFY(o.modified.isValid());
    QVERIFY(qAbs(o.modified.secsTo(QDateTime::currentDateTimeUtc())) < 60);
    QCOMPARE(o.headers.size(), 3);
    QVERIFY(o.headers.contains(qMakePair(QString("Hl-Node"), QString("2"))));
  }

  void replacePurgesOldChunks() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    const QByteArray v1 = randomBytes(3 * kChunk, 1);
    const QByteArray v2 = randomBytes(kChunk + 10, 2);
    QVERIFY(putBytes(store, "a.db", v1).isOk());
    QCOMPARE(streamCount(bucket), 4);
    const QString nuid1 = storedMeta(bucket, "a.db").value("nuid").toString();
    QVERIFY(putBytes(store, "a.db", v2).isOk());
    // Two new chunks and the new metadata: the rollup removed the old metadata, the purge the
    // old chunks.
    QCOMPARE(streamCount(bucket), 3);
    QCOMPARE(streamCount(bucket, ".C.>"), 1);
    QVERIFY(storedMeta(bucket, "a.db").value("nuid").toString() != nuid1);
    auto got = getBytes(store, "a.db");
    QVERIFY2(got.ok(), qPrintable(got.status().message()));
    QVERIFY(*got == v2);
  }

  void cancelledPutLeavesPrevious() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    const QByteArray v1 = randomBytes(kChunk + 1, 3);
    QVERIFY(putBytes(store, "keep.db", v1).isOk());
    const QByteArray v2 = randomBytes(6 * kChunk, 4);
    const Status cancelled =
        putBytes(store, "keep.db", v2, {}, [](qint64 done, qint64) { return done < 3 * kChunk; });
    QCOMPARE(cancelled.code(), Status::Code::kCancelled);
    QVERIFY2(cancelled.message().contains("keep.db"), qPrintable(cancelled.message()));
    auto got = getBytes(store, "keep.db");
    QVERIFY2(got.ok(), qPrintable(got.status().message()));
    QVERIFY(*got == v1);
    // Only the first object's chunks: the cancelled put purged its own.
    QCOMPARE(streamCount(bucket, ".C.>"), 1);
    QCOMPARE(streamCount(bucket), 3);

    // A source that ends early fails the same way.
    QBuffer shortSource;
    shortSource.setData(v2.left(2 * kChunk + 3));
    shortSource.open(QIODevice::ReadOnly);
    const Status tooShort = store.put("keep.db", shortSource, v2.size(), {}, {});
    QCOMPARE(tooShort.code(), Status::Code::kIoError);
    QVERIFY2(tooShort.message().contains("ended after"), qPrintable(tooShort.message()));
    QCOMPARE(streamCount(bucket, ".C.>"), 1);
    got = getBytes(store, "keep.db");
    QVERIFY(got.ok() && *got == v1);
  }

  void tamperedChunks() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    const QByteArray data = randomBytes(2 * kChunk + 100, 5);
    const QByteArray stream = "OBJ_" + bucket.toUtf8();

    // A chunk replaced by one of the same size: count and size match, the digest does not.
    QVERIFY(putBytes(store, "t1.db", data).isOk());
    QByteArray chunkSubject = "$O." + bucket.toUtf8() + ".C." +
                              storedMeta(bucket, "t1.db").value("nuid").toString().toUtf8();
    // Sequences 1..3 are the chunks, 4 the metadata.
    QCOMPARE(js_DeleteMsg(m_js.get(), stream.constData(), 3, nullptr, nullptr), NATS_OK);
    publishRaw(chunkSubject, QByteArray(100, 'x'));
    auto got = getBytes(store, "t1.db");
    QCOMPARE(got.status().code(), Status::Code::kCorruption);
    QVERIFY2(got.status().message().contains("digest mismatch"),
             qPrintable(got.status().message()));
    QVERIFY2(got.status().message().contains(goDigest(data)), qPrintable(got.status().message()));
    QByteArray tampered = data.left(2 * kChunk) + QByteArray(100, 'x');
    QVERIFY2(got.status().message().contains(goDigest(tampered)),
             qPrintable(got.status().message()));
    QVERIFY2(got.status().message().contains("t1.db"), qPrintable(got.status().message()));

    // A bogus extra chunk published by hand.
    QVERIFY(putBytes(store, "t2.db", data).isOk());
    chunkSubject = "$O." + bucket.toUtf8() + ".C." +
                   storedMeta(bucket, "t2.db").value("nuid").toString().toUtf8();
    publishRaw(chunkSubject, "bogus");
    got = getBytes(store, "t2.db");
    QCOMPARE(got.status().code(), Status::Code::kCorruption);
    QVERIFY2(got.status().message().contains("more"), qPrintable(got.status().message()));

    // A missing chunk.
    QVERIFY(putBytes(store, "t3.db", data).isOk());
    jsStreamInfo* si = nullptr;
    QCOMPARE(js_GetStreamInfo(&si, m_js.get(), stream.constData(), nullptr, nullptr), NATS_OK);
    const uint64_t metaSeq = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    QCOMPARE(js_DeleteMsg(m_js.get(), stream.constData(), metaSeq - 2, nullptr, nullptr), NATS_OK);
    got = getBytes(store, "t3.db");
    QCOMPARE(got.status().code(), Status::Code::kCorruption);
    QVERIFY2(got.status().message().contains("missing") || got.status().message().contains("bytes"),
             qPrintable(got.status().message()));
  }

  void malformedMetadata() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    const QByteArray good = randomBytes(1000, 6);
    QVERIFY(putBytes(store, "good.db", good).isOk());
    publishRaw(metaSubject(bucket, "broken.db"), "{this is not json");
    publishRaw(metaSubject(bucket, "typed.db"), R"({"name":"typed.db","size":"big","chunks":1})");
    publishRaw(metaSubject(bucket, "array.db"), "[1,2,3]");

    for (const char* name : {"broken.db", "typed.db", "array.db"}) {
      auto got = getBytes(store, name);
      QCOMPARE(got.status().code(), Status::Code::kCorruption);
      QVERIFY2(got.status().message().contains(name), qPrintable(got.status().message()));
      QVERIFY2(got.status().message().contains("metadata"), qPrintable(got.status().message()));
    }
    auto list = store.list();
    QVERIFY2(list.ok(), qPrintable(list.status().message()));
    QCOMPARE(list->size(), 1);
    QCOMPARE(list->first().name, "good.db");
    // A put replaces unreadable metadata; remove gets rid of it.
    QVERIFY(putBytes(store, "typed.db", good).isOk());
    auto got = getBytes(store, "typed.db");
    QVERIFY(got.ok() && *got == good);
    QVERIFY(store.remove("broken.db").isOk());
    QCOMPARE(store.remove("broken.db").code(), Status::Code::kNotFound);
    list = store.list();
    QVERIFY(list.ok());
    QCOMPARE(list->size(), 2);
  }

  void linksViaCopy() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    const QByteArray a1 = randomBytes(kChunk + 77, 7);
    QVERIFY(putBytes(store, "a.db", a1).isOk());
    const qint64 before = streamCount(bucket);
    const Status copied = store.copy("a.db", "latest.db");
    QVERIFY2(copied.isOk(), qPrintable(copied.message()));
    QCOMPARE(streamCount(bucket), before + 1);  // one metadata message, no bytes sent again
    const QJsonObject link = storedMeta(bucket, "latest.db");
    QCOMPARE(link.value("options").toObject().value("link").toObject(),
             (QJsonObject{{"bucket", bucket}, {"name", "a.db"}}));
    QCOMPARE(link.value("bucket").toString(), bucket);
    QCOMPARE(link.value("size").toInteger(), 0);
    QCOMPARE(link.value("chunks").toInteger(), 0);
    QVERIFY(!link.value("nuid").toString().isEmpty());

    auto got = getBytes(store, "latest.db");
    QVERIFY2(got.ok(), qPrintable(got.status().message()));
    QVERIFY(*got == a1);
    auto list = store.list();
    QVERIFY(list.ok());
    const auto l = findObject(*list, "latest.db");
    QVERIFY(l);
    QCOMPARE(l->linkTo, "a.db");
    QCOMPARE(l->size, a1.size());
    QCOMPARE(l->digest, goDigest(a1));

    // A link reads what its target holds now.
    const QByteArray a2 = randomBytes(300, 8);
    QVERIFY(putBytes(store, "a.db", a2).isOk());
    got = getBytes(store, "latest.db");
    QVERIFY(got.ok() && *got == a2);
    // A copy of a link links to its target; a copy over an object replaces it and its chunks.
    QVERIFY(putBytes(store, "b.db", randomBytes(2 * kChunk, 9)).isOk());
    const qint64 chunkSubjects = streamCount(bucket, ".C.>");
    QVERIFY(store.copy("latest.db", "b.db").isOk());
    QCOMPARE(storedMeta(bucket, "b.db")
                 .value("options")
                 .toObject()
                 .value("link")
                 .toObject()
                 .value("name")
                 .toString(),
             "a.db");
    QCOMPARE(streamCount(bucket, ".C.>"), chunkSubjects - 1);
    got = getBytes(store, "b.db");
    QVERIFY(got.ok() && *got == a2);
    QVERIFY(store.copy("a.db", "a.db").isOk());

    QCOMPARE(store.copy("nothing.db", "x.db").code(), Status::Code::kNotFound);
    QVERIFY(store.remove("a.db").isOk());
    QCOMPARE(getBytes(store, "latest.db").status().code(), Status::Code::kNotFound);
  }

  void removeObjects() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    QCOMPARE(store.remove("x.db").code(), Status::Code::kNotFound);  // no bucket yet
    const QByteArray data = randomBytes(3 * kChunk, 10);
    QVERIFY(putBytes(store, "x.db", data).isOk());
    QVERIFY(putBytes(store, "y.db", "y").isOk());
    const Status removed = store.remove("x.db");
    QVERIFY2(removed.isOk(), qPrintable(removed.message()));
    const QJsonObject marker = storedMeta(bucket, "x.db");
    QCOMPARE(marker.value("deleted").toBool(), true);
    QCOMPARE(marker.value("size").toInteger(), 0);
    QCOMPARE(marker.value("chunks").toInteger(), 0);
    QCOMPARE(marker.value("digest").toString(), "");
    QCOMPARE(streamCount(bucket, ".C.>"), 1);  // y's chunk only
    QCOMPARE(getBytes(store, "x.db").status().code(), Status::Code::kNotFound);
    QCOMPARE(store.remove("x.db").code(), Status::Code::kNotFound);
    auto list = store.list();
    QVERIFY(list.ok());
    QCOMPARE(list->size(), 1);
    QCOMPARE(list->first().name, "y.db");
    QVERIFY(putBytes(store, "x.db", "again").isOk());
    auto got = getBytes(store, "x.db");
    QVERIFY(got.ok() && *got == "again");
  }

  void listObjects() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    auto empty = store.list();  // no stream yet: nothing, not an error
    QVERIFY2(empty.ok(), qPrintable(empty.status().message()));
    QVERIFY(empty->isEmpty());
    QStringList names;
    for (int i = 0; i < 25; ++i) {
      names << QStringLiteral("snapshots/n%1/s%2.db").arg(i % 3).arg(i);
      QVERIFY(putBytes(store, names.last(), randomBytes(i * 1000, quint32(i))).isOk());
    }
    QVERIFY(store.copy(names[3], "latest.db").isOk());
    auto list = store.list();
    QVERIFY2(list.ok(), qPrintable(list.status().message()));
    QCOMPARE(list->size(), 26);
    for (int i = 0; i < 25; ++i) {
      const auto o = findObject(*list, names[i]);
      QVERIFY(o);
      QCOMPARE(o->size, qint64(i * 1000));
      QCOMPARE(o->digest, goDigest(randomBytes(i * 1000, quint32(i))));
    }
  }

  void invalidNames() {
    NatsObjectStore store(m_nc.get(), "bad bucket", 1);
    const Status bad = putBytes(store, "x.db", "x");
    QCOMPARE(bad.code(), Status::Code::kInvalidArgument);
    QVERIFY2(bad.message().contains("bad bucket"), qPrintable(bad.message()));
    QCOMPARE(store.list().status().code(), Status::Code::kInvalidArgument);
    NatsObjectStore good(m_nc.get(), freshBucket(), 1);
    for (const char* name : {"", "../x", "a//b", "a b", "/abs"})
      QCOMPARE(putBytes(good, name, "x").code(), Status::Code::kInvalidArgument);
    QCOMPARE(getBytes(good, "a b").status().code(), Status::Code::kInvalidArgument);
    QCOMPARE(good.copy("a.db", "../b").code(), Status::Code::kInvalidArgument);
  }

  // A bucket stream made by an older client without direct gets: read through an ordered
  // consumer instead.
  void streamWithoutDirectGet() {
    const QString bucket = freshBucket();
    const QByteArray stream = "OBJ_" + bucket.toUtf8();
    const QByteArray c = "$O." + bucket.toUtf8() + ".C.>";
    const QByteArray m = "$O." + bucket.toUtf8() + ".M.>";
    const char* subjects[] = {c.constData(), m.constData()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream.constData();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 2;
    cfg.Storage = js_FileStorage;
    cfg.Discard = js_DiscardNew;
    cfg.AllowRollup = true;
    jsStreamInfo* si = nullptr;
    QCOMPARE(js_AddStream(&si, m_js.get(), &cfg, nullptr, nullptr), NATS_OK);
    jsStreamInfo_Destroy(si);
    NatsObjectStore store(m_nc.get(), bucket, 1);
    for (qint64 size : {qint64(0), qint64(10), 5 * kChunk + 3}) {
      const QByteArray data = randomBytes(size, 11);
      QVERIFY(putBytes(store, "o.db", data).isOk());
      auto got = getBytes(store, "o.db");
      QVERIFY2(got.ok(), qPrintable(got.status().message()));
      QVERIFY(*got == data);
    }
    publishRaw("$O." + bucket.toUtf8() + ".C." +
                   storedMeta(bucket, "o.db").value("nuid").toString().toUtf8(),
               "extra");
    QCOMPARE(getBytes(store, "o.db").status().code(), Status::Code::kCorruption);

    // A stream of that name that is not an object store is refused, not written into.
    const QString other = freshBucket();
    const QByteArray otherStream = "OBJ_" + other.toUtf8();
    QVERIFY(test::addStream(m_js.get(), otherStream.constData(), "not.an.object.store", 1).isOk());
    NatsObjectStore wrong(m_nc.get(), other, 1);
    const Status refused = putBytes(wrong, "x.db", "x");
    QCOMPARE(refused.code(), Status::Code::kInvalidArgument);
    QVERIFY2(refused.message().contains("not an object store"), qPrintable(refused.message()));
  }

  // NATS down or frozen: a retryable error that says so, within seconds.
  void natsUnreachable() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    auto nc = test::connectTo(server.url());
    QVERIFY(nc.ok());
    NatsObjectStore store(nc->get(), freshBucket(), 1);
    QVERIFY(putBytes(store, "x.db", "x").isOk());

    // Frozen (SIGSTOP): the connection still looks up; every call times out.
    QVERIFY(::kill(pid_t(server.pid()), SIGSTOP) == 0);
    QElapsedTimer t;
    for (int op = 0; op < 3; ++op) {
      t.start();
      Status st;
      if (op == 0) st = putBytes(store, "y.db", randomBytes(3 * kChunk, 1));
      if (op == 1) st = getBytes(store, "x.db").status();
      if (op == 2) st = store.list().status();
      QVERIFY2(!st.isOk() && st.isRetryable(), qPrintable(st.toString()));
      QVERIFY2(t.elapsed() < 12000, qPrintable(QString::number(t.elapsed())));
    }
    QVERIFY(::kill(pid_t(server.pid()), SIGCONT) == 0);
    QVERIFY(test::waitFor([&] { return getBytes(store, "x.db").ok(); }, 15000, 100));

    // Stopped: the client is reconnecting; the store says so at once.
    server.stop();
    QVERIFY(test::waitFor(
        [&] { return natsConnection_Status(nc->get()) != NATS_CONN_STATUS_CONNECTED; }, 10000));
    t.start();
    const Status put = putBytes(store, "y.db", "y");
    const Status get = getBytes(store, "x.db").status();
    const Status list = store.list().status();
    const Status removed = store.remove("x.db");
    QVERIFY(t.elapsed() < 3000);
    for (const Status& st : {put, get, list, removed}) {
      QCOMPARE(st.code(), Status::Code::kUnavailable);
      QVERIFY2(st.message().contains("not connected to NATS"), qPrintable(st.message()));
    }
  }

  // (a) We write, the official JavaScript client reads.
  void interopJavaScriptReadsOurs() {
    const QString bucket = freshBucket();
    NatsObjectStore store(m_nc.get(), bucket, 1);
    const QByteArray data = randomBytes(5 * 1024 * 1024 + 12345, 12);
    QVERIFY(putBytes(store, "snapshots/big.db", data, {{"Hl-Node", "7"}}).isOk());
    QVERIFY(store.copy("snapshots/big.db", "latest.db").isOk());
    QVERIFY(putBytes(store, "empty.db", {}).isOk());
    const QString url = m_server->url();

    const QJsonDocument list = node({"list", url, bucket});
    if (m_nodeDir.isEmpty()) return;  // setUpNode() failed the test
    QVERIFY2(list.isArray(), "the JavaScript client could not list the bucket");
    QMap<QString, QJsonObject> byName;
    for (const QJsonValue& v : list.array()) byName.insert(v["name"].toString(), v.toObject());
    QCOMPARE(byName.size(), 3);
    QCOMPARE(byName["snapshots/big.db"]["size"].toInteger(), data.size());
    QCOMPARE(byName["snapshots/big.db"]["digest"].toString(), goDigest(data));
    QCOMPARE(byName["snapshots/big.db"]["headers"].toObject().value("Hl-Node").toArray(),
             QJsonArray{"7"});
    QCOMPARE(byName["latest.db"]["options"].toObject()["link"].toObject()["name"].toString(),
             "snapshots/big.db");

    QTemporaryDir dir;
    for (const char* name : {"snapshots/big.db", "latest.db"}) {
      const QString file = dir.filePath("out.bin");
      const QJsonDocument got = node({"get", url, bucket, name, file});
      QVERIFY2(got.isObject(), qPrintable(QString("the JavaScript client could not get ") + name));
      QCOMPARE(got["received"].toInteger(), data.size());
      QCOMPARE(got["sha256"].toString(), sha256Hex(data));
      QVERIFY(test::readFile(file) == data);
    }
    const QJsonDocument empty = node({"get", url, bucket, "empty.db", dir.filePath("e.bin")});
    QVERIFY(empty.isObject());
    QCOMPARE(empty["received"].toInteger(), 0);
  }

  // (b) The official JavaScript client writes (its own bucket, its own stream config), we read
  // and write there too.
  void interopWeReadJavaScripts() {
    const QString bucket = freshBucket();
    const QString url = m_server->url();
    QTemporaryDir dir;
    const QByteArray data = randomBytes(3 * 1024 * 1024 + 999, 13);
    QVERIFY(test::writeFile(dir.filePath("in.bin"), data));
    const QJsonDocument put =
        node({"put", url, bucket, "from-js/obj.db", dir.filePath("in.bin"), "X-Who=js"});
    if (m_nodeDir.isEmpty()) return;
    QVERIFY2(put.isObject(), "the JavaScript client could not put");
    QVERIFY(node({"link", url, bucket, "js-link", "from-js/obj.db"}).isObject());

    NatsObjectStore store(m_nc.get(), bucket, 1);
    auto list = store.list();
    QVERIFY2(list.ok(), qPrintable(list.status().message()));
    const auto o = findObject(*list, "from-js/obj.db");
    QVERIFY(o);
    QCOMPARE(o->size, data.size());
    QCOMPARE(o->digest, put["digest"].toString());
    QCOMPARE(o->digest, goDigest(data));
    QVERIFY(o->modified.isValid());
    QVERIFY(o->headers.contains(qMakePair(QString("X-Who"), QString("js"))));
    const auto l = findObject(*list, "js-link");
    QVERIFY(l);
    QCOMPARE(l->linkTo, "from-js/obj.db");

    for (const char* name : {"from-js/obj.db", "js-link"}) {
      auto got = getBytes(store, name);
      QVERIFY2(got.ok(), qPrintable(got.status().message()));
      QVERIFY(*got == data);
    }
    // Our put into the stream the JavaScript client created, read back by it.
    const QByteArray ours = randomBytes(kChunk * 2 + 1, 14);
    const Status st = putBytes(store, "from-cpp.db", ours);
    QVERIFY2(st.isOk(), qPrintable(st.message()));
    const QJsonDocument got = node({"get", url, bucket, "from-cpp.db", dir.filePath("o.bin")});
    QVERIFY(got.isObject());
    QCOMPARE(got["sha256"].toString(), sha256Hex(ours));
    // ... and its replacement of an object we wrote.
    QVERIFY(node({"put", url, bucket, "from-cpp.db", dir.filePath("in.bin")}).isObject());
    auto replaced = getBytes(store, "from-cpp.db");
    QVERIFY(replaced.ok() && *replaced == data);
  }

  void throughput() {
    const qint64 mb = qEnvironmentVariableIntValue("HL_OBJ_BENCH_MB");
    if (mb <= 0) QSKIP("set HL_OBJ_BENCH_MB=<megabytes> to measure put/get throughput");
    const qint64 size = mb * 1000 * 1000;
    QTemporaryDir dir;
    QFile in(dir.filePath("in.bin"));
    QVERIFY(in.open(QIODevice::WriteOnly));
    for (qint64 done = 0; done < size;) {
      const QByteArray block = randomBytes(std::min<qint64>(1 << 20, size - done), quint32(done));
      in.write(block);
      done += block.size();
    }
    in.close();
    QVERIFY(in.open(QIODevice::ReadOnly));
    NatsObjectStore store(m_nc.get(), freshBucket(), 1);
    QVERIFY(putBytes(store, "warm.db", "x").isOk());
    resetPeakRss();
    const qint64 rss0 = procStatusKb("VmRSS:");
    QElapsedTimer t;
    t.start();
    const Status put = store.put("big.db", in, size, {}, {});
    const qint64 putMs = t.elapsed();
    QVERIFY2(put.isOk(), qPrintable(put.message()));
    const qint64 putPeak = procStatusKb("VmHWM:") - rss0;
    QFile out(dir.filePath("out.bin"));
    QVERIFY(out.open(QIODevice::WriteOnly));
    resetPeakRss();
    const qint64 rss1 = procStatusKb("VmRSS:");
    t.start();
    const Status get = store.get("big.db", out, {});
    const qint64 getMs = t.elapsed();
    QVERIFY2(get.isOk(), qPrintable(get.message()));
    const qint64 getPeak = procStatusKb("VmHWM:") - rss1;
    out.close();
    QCOMPARE(QFileInfo(out).size(), size);
    qInfo().noquote() << QStringLiteral(
                             "%1 MB: put %2 ms (%3 MB/s, peak RSS +%4 MiB), get %5 ms (%6 MB/s, "
                             "peak RSS +%7 MiB)")
                             .arg(mb)
                             .arg(putMs)
                             .arg(double(size) / 1e3 / std::max<qint64>(1, putMs), 0, 'f', 1)
                             .arg(putPeak / 1024.0, 0, 'f', 1)
                             .arg(getMs)
                             .arg(double(size) / 1e3 / std::max<qint64>(1, getMs), 0, 'f', 1)
                             .arg(getPeak / 1024.0, 0, 'f', 1);
  }
};

QTEST_GUILESS_MAIN(TestNatsObjectStore)
#include "tst_nats_object_store.moc"
