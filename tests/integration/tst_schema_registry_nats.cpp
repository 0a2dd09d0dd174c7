// The schema registry on a real nats-server (replication/schema_registry.h): put makes the
// bucket harmonylite-schema-registry as Go has it (stream KV_harmonylite-schema-registry, max
// age 5 minutes, file storage, history 1, the replicas asked for), one value per node; readAll
// lists the entries by node id, skips and counts the ones it cannot read, fails on a missing
// bucket without making it, and is empty on an empty bucket; two nodes (two connections) see
// each other; a deleted bucket is made again. And the official JavaScript KV client
// (@nats-io/kv, tests/interop/kv_interop.mjs, installed by tests/interop/setup.sh) reads our
// entry with Go's field names, and we read the entry it writes the way a Go node does.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "nats/nats_handles.h"
#include "nats_test_client.h"
#include "replication/schema_registry.h"
#include "test_support.h"

using namespace hl;

namespace {

const QByteArray kBucket = kSchemaRegistryBucket.toUtf8();
const char* const kStream = "KV_harmonylite-schema-registry";
const QString kH1 = QString(64, 'a');
const QString kH2 = QStringLiteral("0123456789abcdef").repeated(4);

SchemaNode entry(uint64_t id, const QString& hash, const QString& previous = {}) {
  SchemaNode n;
  n.nodeId = id;
  n.schemaHash = hash;
  n.previousHash = previous;
  n.version = QStringLiteral("1.4.0-test");
  n.updatedAtMs =
      QDateTime(QDate(2026, 11, 30), QTime(22, 53, 21, 123), Qt::UTC).toMSecsSinceEpoch() +
      qint64(id);
  n.hasTables = true;
  n.tables = {{"books", {{"id", "INTEGER", false, 1}, {"title", "TEXT", true, 0}}}};
  return n;
}

QList<uint64_t> idsOf(const QList<SchemaNode>& nodes) {
  QList<uint64_t> ids;
  for (const SchemaNode& n : nodes) ids << n.nodeId;
  return ids;
}

struct Client {
  NatsConnectionPtr nc;
  JsCtxPtr js;
};

Client connectClient(const QStringList& urls) {
  Client c;
  auto nc = test::connectTo(urls, {}, {}, 2000);
  if (!nc) qFatal("connect: %s", qPrintable(nc.status().message()));
  c.nc = std::move(*nc);
  auto js = test::jetStream(c.nc.get());
  if (!js) qFatal("jetstream: %s", qPrintable(js.status().message()));
  c.js = std::move(*js);
  return c;
}

}  // namespace

class TestSchemaRegistryNats : public QObject {
  Q_OBJECT
  test::NatsServer m_server;
  Client m_client;

  jsCtx* js() { return m_client.js.get(); }

  // The bucket's stream, or null when there is none.
  JsStreamInfoPtr streamInfo(jsCtx* ctx) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = jsErrCode(0);
    if (js_GetStreamInfo(&si, ctx, kStream, nullptr, &jerr) != NATS_OK) return {};
    return JsStreamInfoPtr(si);
  }

  // Writes a value under `key` directly, as another program would.
  void putRaw(const char* key, const QByteArray& value) {
    kvStore* raw = nullptr;
    QCOMPARE(js_KeyValue(&raw, js(), kBucket.constData()), NATS_OK);
    KvStorePtr kv(raw);
    uint64_t rev = 0;
    QCOMPARE(kvStore_Put(&rev, kv.get(), key, value.constData(), int(value.size())), NATS_OK);
  }

  QByteArray getRaw(const char* key) {
    kvStore* raw = nullptr;
    if (js_KeyValue(&raw, js(), kBucket.constData()) != NATS_OK) return "<no bucket>";
    KvStorePtr kv(raw);
    kvEntry* e = nullptr;
    if (kvStore_Get(&e, kv.get(), key) != NATS_OK) return "<no key>";
    KvEntryPtr owned(e);
    return QByteArray(static_cast<const char*>(kvEntry_Value(e)), kvEntry_ValueLen(e));
  }

  // The bucket as Go's nodes make it, made by hand (no SchemaRegistry involved).
  void createBucket() {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = kBucket.constData();
    cfg.History = 1;
    cfg.TTL = kSchemaRegistryMaxAgeMs * 1000 * 1000;
    cfg.StorageType = js_FileStorage;
    kvStore* raw = nullptr;
    QCOMPARE(js_CreateKeyValue(&raw, js(), &cfg), NATS_OK);
    kvStore_Destroy(raw);
  }

  // --- the JavaScript client (as tst_nats_object_store sets it up) ---
  QString m_nodeDir;

  void setUpNode() {
    if (!m_nodeDir.isEmpty()) return;
    // No silent skip: CI has the npm registry, and Go's tools read the registry with any client.
    QString why;
    m_nodeDir = test::installInteropClients(QStringLiteral(HL_INTEROP_SETUP),
                                            QStringLiteral(HL_INTEROP_NODE_DIR), &why);
    QVERIFY2(!m_nodeDir.isEmpty(), qPrintable(why));
  }

  // Runs kv_interop.mjs; the JSON it printed.
  QJsonObject node(const QStringList& args) {
    setUpNode();
    if (m_nodeDir.isEmpty()) return {};
    const test::ProcessResult r =
        test::runProcess(QStringLiteral("node"),
                         QStringList{m_nodeDir + QStringLiteral("/kv_interop.mjs")} + args, 120000);
    if (r.exitCode != 0 || r.timedOut) {
      qWarning().noquote() << "node kv_interop.mjs" << args.join(' ') << "failed, exit"
                           << r.exitCode << (r.timedOut ? "(timed out)" : "") << "\n"
                           << QString::fromUtf8(r.err);
      return {};
    }
    return QJsonDocument::fromJson(r.out).object();
  }

 private slots:
  void initTestCase() {
    const Status started = m_server.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    m_client = connectClient({m_server.url()});
  }

  void init() {
    // Every case starts without the bucket.
    const natsStatus s = js_DeleteKeyValue(js(), kBucket.constData());
    QVERIFY2(s == NATS_OK || s == NATS_NOT_FOUND, natsStatus_GetText(s));
    QVERIFY(!streamInfo(js()));
  }

  void putCreatesTheBucket() {
    SchemaRegistry registry(js(), 1);
    const SchemaNode self = entry(1, kH1, kH2);
    const Status put = registry.put(self);
    QVERIFY2(put.isOk(), qPrintable(put.message()));
    JsStreamInfoPtr si = streamInfo(js());
    QVERIFY2(si, "no stream KV_harmonylite-schema-registry");
    QCOMPARE(si->Config->MaxAge, int64_t(5) * 60 * 1000 * 1000 * 1000);  // ns
    QCOMPARE(si->Config->Storage, js_FileStorage);
    QCOMPARE(si->Config->MaxMsgsPerSubject, int64_t(1));  // history 1
    QCOMPARE(si->Config->Replicas, 1);
    QCOMPARE(si->Config->SubjectsLen, 1);
    QCOMPARE(QByteArray(si->Config->Subjects[0]), QByteArray("$KV.harmonylite-schema-registry.>"));
    // The value under node-<id> is the entry, byte for byte.
    QCOMPARE(getRaw("node-1"), encodeRegistryEntry(self));
  }

  // History 1: a node's later writes replace its entry, the stream keeps one message per node.
  void onePerNode() {
    SchemaRegistry registry(js(), 1);
    for (const QString& h : {kH1, kH2, kH1}) QVERIFY(registry.put(entry(4, h)).isOk());
    QVERIFY(registry.put(entry(5, kH2)).isOk());
    JsStreamInfoPtr si = streamInfo(js());
    QVERIFY(si);
    QCOMPARE(si->State.Msgs, uint64_t(2));
    int unreadable = -1;
    auto all = registry.readAll(&unreadable);
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QCOMPARE(unreadable, 0);
    QCOMPARE(idsOf(*all), QList<uint64_t>({4, 5}));
    QCOMPARE(all->at(0).schemaHash, kH1);
    QCOMPARE(all->at(1).schemaHash, kH2);
  }

  // By node id as a number: node-10 after node-9, whatever order the keys come in.
  void readAllSortedByNodeId() {
    SchemaRegistry registry(js(), 1);
    for (uint64_t id : {10, 3, 1, 9, 2147483646, 2})
      QVERIFY(registry.put(entry(id, id % 2 ? kH1 : kH2)).isOk());
    int unreadable = -1;
    auto all = registry.readAll(&unreadable);
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QCOMPARE(unreadable, 0);
    QCOMPARE(idsOf(*all), QList<uint64_t>({1, 2, 3, 9, 10, 2147483646}));
    const SchemaNode& three = all->at(2);
    const SchemaNode want = entry(3, kH1);
    QCOMPARE(three.schemaHash, want.schemaHash);
    QCOMPARE(three.previousHash, QString());
    QCOMPARE(three.version, want.version);
    QCOMPARE(three.updatedAtMs, want.updatedAtMs);
    QVERIFY(three.hasTables);
    QCOMPARE(three.tables.size(), 1);
    QCOMPARE(three.tables[0].name, QString("books"));
    QCOMPARE(three.tables[0].columns.size(), 2);
    QCOMPARE(three.tables[0].columns[1].name, QString("title"));
    QVERIFY(three.tables[0].columns[1].notNull);
  }

  // Garbage under a key is counted, never fatal; the good entries are all there.
  void unreadableEntriesAreSkippedAndCounted() {
    SchemaRegistry registry(js(), 1);
    QVERIFY(registry.put(entry(2, kH1)).isOk());
    putRaw("node-99", "not json at all");
    putRaw("node-98", R"({"node_id":98})");  // no schema_hash
    putRaw("node-97", "[]");
    // What a Go node writes: readable.
    putRaw("node-7",
           QStringLiteral(R"({"node_id":7,"schema_hash":"%1","harmonylite_version":"v0.10.2",)"
                          R"("updated_at":"2026-11-30T23:53:21.123456789+01:00"})")
               .arg(kH2)
               .toUtf8());
    QVERIFY(registry.put(entry(12, kH1)).isOk());
    int unreadable = -1;
    auto all = registry.readAll(&unreadable);
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QCOMPARE(unreadable, 3);
    QCOMPARE(idsOf(*all), QList<uint64_t>({2, 7, 12}));
    QVERIFY(!all->at(1).hasTables);
    QCOMPARE(all->at(1).schemaHash, kH2);
    QCOMPARE(all->at(1).updatedAtMs, entry(0, kH1).updatedAtMs);
    // Without a counter too.
    auto again = registry.readAll();
    QVERIFY(again.ok());
    QCOMPARE(again->size(), 3);
  }

  // Reading does not make the bucket (only a node writing its entry does).
  void readAllWithoutBucketIsAnError() {
    SchemaRegistry reader(js(), 1);
    int unreadable = -1;
    auto all = reader.readAll(&unreadable);
    QVERIFY(!all.ok());
    QVERIFY2(all.status().message().contains(kSchemaRegistryBucket),
             qPrintable(all.status().message()));
    QCOMPARE(unreadable, 0);
    QVERIFY2(!streamInfo(js()), "readAll made the bucket");
    QVERIFY(!reader.readAll().ok());
    QVERIFY(!streamInfo(js()));
    // Once another node made it, the same reader reads it.
    Client other = connectClient({m_server.url()});
    SchemaRegistry writer(other.js.get(), 1);
    QVERIFY(writer.put(entry(3, kH1)).isOk());
    all = reader.readAll(&unreadable);
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QCOMPARE(idsOf(*all), QList<uint64_t>({3}));
  }

  void readAllOnEmptyBucket() {
    createBucket();
    SchemaRegistry registry(js(), 1);
    int unreadable = -1;
    auto all = registry.readAll(&unreadable);
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QVERIFY(all->isEmpty());
    QCOMPARE(unreadable, 0);
    // Entries that are gone (deleted, as aged-out ones are) are not listed either.
    QVERIFY(registry.put(entry(1, kH1)).isOk());
    QVERIFY(registry.put(entry(2, kH1)).isOk());
    {
      kvStore* raw = nullptr;
      QCOMPARE(js_KeyValue(&raw, js(), kBucket.constData()), NATS_OK);
      KvStorePtr kv(raw);
      QCOMPARE(kvStore_Delete(kv.get(), "node-1"), NATS_OK);
    }
    all = registry.readAll(&unreadable);
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QCOMPARE(idsOf(*all), QList<uint64_t>({2}));
    {
      kvStore* raw = nullptr;
      QCOMPARE(js_KeyValue(&raw, js(), kBucket.constData()), NATS_OK);
      KvStorePtr kv(raw);
      QCOMPARE(kvStore_Purge(kv.get(), "node-2", nullptr), NATS_OK);
    }
    all = registry.readAll(&unreadable);
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QVERIFY(all->isEmpty());
    QCOMPARE(unreadable, 0);
  }

  // Two nodes, two connections: each sees the other's entry, and its later changes.
  void twoRegistriesSeeEachOther() {
    Client a = connectClient({m_server.url()}), b = connectClient({m_server.url()});
    SchemaRegistry ra(a.js.get(), 1), rb(b.js.get(), 1);
    QVERIFY(ra.put(entry(1, kH1)).isOk());
    QVERIFY(rb.put(entry(2, kH1)).isOk());
    for (SchemaRegistry* r : {&ra, &rb}) {
      auto all = r->readAll();
      QVERIFY2(all.ok(), qPrintable(all.status().message()));
      QCOMPARE(idsOf(*all), QList<uint64_t>({1, 2}));
      QVERIFY(registryAgrees(*all));
    }
    // Node 1's schema changes: node 2 sees the new hash and the previous one.
    QVERIFY(ra.put(entry(1, kH2, kH1)).isOk());
    auto seen = rb.readAll();
    QVERIFY(seen.ok());
    QCOMPARE(idsOf(*seen), QList<uint64_t>({1, 2}));
    QCOMPARE(seen->at(0).schemaHash, kH2);
    QCOMPARE(seen->at(0).previousHash, kH1);
    QVERIFY(!registryAgrees(*seen));
  }

  // An operator deletes the bucket under a running node: its next writes make it again.
  void deletedBucketIsMadeAgain() {
    SchemaRegistry registry(js(), 1);
    QVERIFY(registry.put(entry(1, kH1)).isOk());
    QVERIFY(registry.readAll().ok());
    QCOMPARE(js_DeleteKeyValue(js(), kBucket.constData()), NATS_OK);
    QVERIFY(!registry.readAll().ok());
    Status put = registry.put(entry(1, kH2));  // may fail once: the handle is stale
    if (!put.isOk()) put = registry.put(entry(1, kH2));
    QVERIFY2(put.isOk(), qPrintable(put.message()));
    JsStreamInfoPtr si = streamInfo(js());
    QVERIFY2(si, "the bucket was not made again");
    QCOMPARE(si->Config->MaxAge, kSchemaRegistryMaxAgeMs * 1000 * 1000);
    auto all = registry.readAll();
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QCOMPARE(idsOf(*all), QList<uint64_t>({1}));
    QCOMPARE(all->at(0).schemaHash, kH2);
  }

  // On a 3-server cluster the bucket gets the replicas asked for (the streams' replicas), and a
  // node on another server reads it.
  void replicasOnACluster() {
    test::NatsCluster cluster;
    const Status started = cluster.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    Client a = connectClient({cluster.server(0).url()});
    Client c = connectClient({cluster.server(2).url()});
    SchemaRegistry ra(a.js.get(), 3), rc(c.js.get(), 3);
    Status put;
    // Right after the cluster started, JetStream may still be electing its meta leader.
    test::waitFor([&] { return (put = ra.put(entry(1, kH1))).isOk(); }, 20000, 200);
    QVERIFY2(put.isOk(), qPrintable(put.message()));
    JsStreamInfoPtr si = streamInfo(a.js.get());
    QVERIFY(si);
    QCOMPARE(si->Config->Replicas, 3);
    QCOMPARE(si->Config->MaxMsgsPerSubject, int64_t(1));
    QVERIFY(rc.put(entry(2, kH1)).isOk());
    auto all = rc.readAll();
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QCOMPARE(idsOf(*all), QList<uint64_t>({1, 2}));
  }

  // (a) We write, the official JavaScript KV client reads: Go's field names and types.
  void interopJavaScriptReadsOurs() {
    SchemaRegistry registry(js(), 1);
    const SchemaNode self = entry(1, kH1, kH2);
    QVERIFY(registry.put(self).isOk());
    const QString url = m_server.url();
    const QJsonObject got = node({"get", url, kSchemaRegistryBucket, "node-1"});
    if (m_nodeDir.isEmpty()) return;  // setUpNode() failed the test
    QVERIFY2(!got.isEmpty(), "the JavaScript client could not get node-1");
    QCOMPARE(got["key"].toString(), QString("node-1"));
    QCOMPARE(got["operation"].toString(), QString("PUT"));
    QCOMPARE(got["raw"].toString().toUtf8(), encodeRegistryEntry(self));
    const QJsonObject value = got["value"].toObject();
    QVERIFY(value["node_id"].isDouble());
    QCOMPARE(value["node_id"].toInteger(), qint64(1));
    QCOMPARE(value["schema_hash"].toString(), kH1);
    QCOMPARE(value["previous_hash"].toString(), kH2);
    QCOMPARE(value["harmonylite_version"].toString(), self.version);
    QCOMPARE(got["updatedAtMs"].toInteger(), self.updatedAtMs);
    QVERIFY(value["tables"].isArray());
    QCOMPARE(value["tables"].toArray().at(0).toObject()["name"].toString(), QString("books"));

    const QJsonObject status = node({"status", url, kSchemaRegistryBucket});
    QVERIFY2(!status.isEmpty(), "the JavaScript client could not read the bucket status");
    QCOMPARE(status["history"].toInteger(), qint64(1));
    QCOMPARE(status["ttl"].toInteger(), qint64(kSchemaRegistryMaxAgeMs));
    QCOMPARE(status["storage"].toString(), QString("file"));
    QCOMPARE(status["values"].toInteger(), qint64(1));
  }

  // (b) Another client writes an entry as a Go node does (no tables, nanoseconds, an offset);
  // readAll lists it beside ours.
  void interopWeReadJavaScripts() {
    SchemaRegistry registry(js(), 1);
    QVERIFY(registry.put(entry(1, kH1)).isOk());
    const QString goEntry =
        QStringLiteral(R"({"node_id":2,"schema_hash":"%1","previous_hash":"%2",)"
                       R"("harmonylite_version":"v0.10.2",)"
                       R"("updated_at":"2026-11-30T23:53:21.123456789+01:00"})")
            .arg(kH2, kH1);
    const QJsonObject put = node({"put", m_server.url(), kSchemaRegistryBucket, "node-2", goEntry});
    if (m_nodeDir.isEmpty()) return;  // setUpNode() failed the test
    QVERIFY2(put["revision"].toInteger() > 0, "the JavaScript client could not put node-2");
    int unreadable = -1;
    auto all = registry.readAll(&unreadable);
    QVERIFY2(all.ok(), qPrintable(all.status().message()));
    QCOMPARE(unreadable, 0);
    QCOMPARE(idsOf(*all), QList<uint64_t>({1, 2}));
    const SchemaNode& go = all->at(1);
    QCOMPARE(go.schemaHash, kH2);
    QCOMPARE(go.previousHash, kH1);
    QCOMPARE(go.version, QString("v0.10.2"));
    QCOMPARE(go.updatedAtMs, entry(0, kH1).updatedAtMs);
    QVERIFY(!go.hasTables);
    QVERIFY(!registryAgrees(*all));
  }
};

QTEST_GUILESS_MAIN(TestSchemaRegistryNats)
#include "tst_schema_registry_nats.moc"
