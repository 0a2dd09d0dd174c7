// The conformance test every SnapshotStore passes (snapshot_store.h; issues 12 and 13). Each
// data-driven case runs the SAME steps against every store in storeFactories(), each on a real
// server of its kind: `local` (a LocalStore in a temporary directory), `nats` (a
// NatsObjectStore on a real nats-server with JetStream), `s3` (s3rver, signature v4 checked),
// `webdav` (lighttpd mod_webdav with Basic authentication) and `sftp` (OpenSSH sshd, password
// login, host key checked).
//
// Cases: put/get roundtrip (0 B, 1 B, 1 MiB + 7), overwrite, list (names, sizes, modified,
// digest when kept), remove, NotFound on a missing object, copy, invalid names, progress, a
// 200 MiB object streamed from a generator with the peak RSS growth measured, a put cancelled
// halfway, a source that fails or ends early, a sink that fails. Then what only the local
// store has: its file layout, stale temp files, empty directories, hard links, and a REAL full
// disk (a 4 MiB tmpfs in a private mount namespace; skipped where mounting is not permitted).
// validateObjectName is checked on its own first.
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <utime.h>

#include <QBuffer>
#include <QCryptographicHash>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>
#include <memory>
#include <vector>

#include "nats/nats_handles.h"
#include "nats_test_client.h"
#include "s3_test_server.h"
#include "sftp_test_server.h"
#include "snapshot/local_store.h"
#include "snapshot/nats_object_store.h"
#include "snapshot/s3_store.h"
#include "snapshot/sftp_store.h"
#include "snapshot/webdav_store.h"
#include "store_test_util.h"
#include "test_support.h"
#include "webdav_test_server.h"

using namespace hl;

#define QCOMPARE_CODE(expr, expected)                                                   \
  do {                                                                                  \
    const ::hl::Status st_ = (expr);                                                    \
    QVERIFY2(st_.code() == (expected),                                                  \
             qPrintable(QStringLiteral(#expr ": expected %1, got %2")                   \
                            .arg(QString::fromLatin1(::hl::Status::codeName(expected)), \
                                 st_.toString())));                                     \
  } while (0)

namespace {

using test::getBytes;
using test::kMiB;
using test::putBytes;

// ---- devices -------------------------------------------------------------------------------

// Deterministic pseudo-random bytes (splitmix64 of the 8-byte word index): byte p depends only
// on (seed, p), so two generators with one seed agree whatever the read sizes. Nothing is held:
// it hashes what it hands out. With `failAt` >= 0 the read at that offset fails (a dying disk
// or connection); with `endAt` >= 0 it ends early there (a truncated file).
class GeneratorDevice : public QIODevice {
 public:
  GeneratorDevice(qint64 size, quint64 seed, qint64 failAt = -1, qint64 endAt = -1)
      : m_size(endAt >= 0 ? qMin(size, endAt) : size), m_seed(seed), m_failAt(failAt) {
    open(QIODevice::ReadOnly | QIODevice::Unbuffered);
  }
  bool isSequential() const override { return true; }
  qint64 bytesAvailable() const override { return m_size - m_pos + QIODevice::bytesAvailable(); }
  qint64 produced() const { return m_pos; }
  QByteArray sha256() const { return m_hash.result(); }

  // The whole content at once, for small objects.
  static QByteArray bytes(qint64 size, quint64 seed) {
    GeneratorDevice g(size, seed);
    return g.readAll();
  }

 protected:
  qint64 readData(char* data, qint64 max) override {
    if (m_failAt >= 0 && m_pos >= m_failAt) {
      setErrorString(QStringLiteral("injected read error at byte %1").arg(m_pos));
      return -1;
    }
    const qint64 end = m_failAt >= 0 ? qMin(m_size, m_failAt) : m_size;
    const qint64 n = qMin(max, end - m_pos);
    quint64 word = 0;
    for (qint64 i = 0; i < n; ++i) {
      const qint64 p = m_pos + i;
      if (i == 0 || (p & 7) == 0) word = mix(m_seed ^ quint64(p >> 3) * 0x9E3779B97F4A7C15ull);
      data[i] = char(word >> ((p & 7) * 8));
    }
    m_hash.addData(QByteArrayView(data, n));
    m_pos += n;
    return n;
  }
  qint64 writeData(const char*, qint64) override { return -1; }

 private:
  static quint64 mix(quint64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  qint64 m_size;
  quint64 m_seed;
  qint64 m_failAt;
  qint64 m_pos = 0;
  QCryptographicHash m_hash{QCryptographicHash::Sha256};
};

// A sink that hashes and counts instead of storing; with `failAt` >= 0 a write crossing that
// offset fails (a full disk on the receiving side).
class HashSink : public QIODevice {
 public:
  explicit HashSink(qint64 failAt = -1) : m_failAt(failAt) {
    open(QIODevice::WriteOnly | QIODevice::Unbuffered);
  }
  bool isSequential() const override { return true; }
  qint64 count() const { return m_count; }
  QByteArray sha256() const { return m_hash.result(); }

 protected:
  qint64 readData(char*, qint64) override { return -1; }
  qint64 writeData(const char* data, qint64 len) override {
    if (m_failAt >= 0 && m_count + len > m_failAt) {
      setErrorString(QStringLiteral("injected write error at byte %1").arg(m_count));
      return -1;
    }
    m_hash.addData(QByteArrayView(data, len));
    m_count += len;
    return len;
  }

 private:
  qint64 m_failAt;
  qint64 m_count = 0;
  QCryptographicHash m_hash{QCryptographicHash::Sha256};
};

// ---- the stores under test -----------------------------------------------------------------

struct StoreUnderTest {
  std::unique_ptr<SnapshotStore> store;
  // What a failed or cancelled transfer must not leave behind, where the test can see it
  // (local: temp files; nats: chunk messages no object uses). Null when it cannot look.
  std::function<QStringList()> debris;
};

// One row of every conformance case. make() returns a new, empty store each call (its own
// directory or bucket), so cases never see each other's objects.
struct StoreFactory {
  QString name;
  bool reportsModified = false;  // list() fills StoreObject::modified
  QString skipReason;            // non-empty: this machine cannot run the store's server
  std::function<Result<StoreUnderTest>()> make;
  std::function<void()> cleanup;  // after the last case
};

// Temp files below `root`, recursively (the local store's debris).
QStringList localTempFiles(const QString& root) {
  QStringList out;
  QDirIterator it(root, QDir::Files | QDir::Hidden | QDir::System, QDirIterator::Subdirectories);
  while (it.hasNext()) {
    it.next();
    if (it.fileName().startsWith(".tmp-")) out << QDir(root).relativeFilePath(it.filePath());
  }
  return out;
}

StoreFactory localFactory() {
  auto dir = std::make_shared<QTemporaryDir>();
  auto count = std::make_shared<int>(0);
  StoreFactory f;
  f.name = "local";
  f.reportsModified = true;
  f.make = [dir, count]() -> Result<StoreUnderTest> {
    if (!dir->isValid()) return Status::ioError("cannot create a temporary directory");
    // Not created here: the store creates its root on the first put.
    const QString root = dir->filePath(QStringLiteral("store-%1").arg(++*count));
    return StoreUnderTest{std::make_unique<LocalStore>(root),
                          [root] { return localTempFiles(root); }};
  };
  f.cleanup = [dir] { dir->remove(); };
  return f;
}

// One nats-server for every nats case, started by the first one; each store gets its own
// bucket on it.
struct NatsEnv {
  std::unique_ptr<test::NatsServer> server;
  NatsConnectionPtr nc;
  JsCtxPtr js;  // the test's own look at the streams (debris)
  Status failed;
  bool tried = false;
  int buckets = 0;

  Status ensure() {
    if (tried) return failed;
    tried = true;
    server = std::make_unique<test::NatsServer>();
    failed = server->start();
    if (!failed.isOk()) return failed = failed.withContext("start nats-server");
    auto c = test::connectTo(server->url());
    if (!c) return failed = c.status();
    nc = std::move(*c);
    auto j = test::jetStream(nc.get());
    if (!j) return failed = j.status();
    js = std::move(*j);
    return failed;
  }

  // Chunk messages ($O.<bucket>.C.>) beyond what the listed objects need: a cancelled or
  // failed put must purge its chunks (ADR-20 layout, nats_object_store.h).
  QStringList chunkDebris(SnapshotStore& store, const QString& bucket) {
    jsOptions o;
    jsOptions_Init(&o);
    const QByteArray filter = ("$O." + bucket + ".C.>").toUtf8();
    o.Stream.Info.SubjectsFilter = filter.constData();
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = jsErrCode(0);
    const Status s = fromNats(
        js_GetStreamInfo(&raw, js.get(), ("OBJ_" + bucket).toUtf8().constData(), &o, &jerr),
        "stream info", jerr);
    JsStreamInfoPtr info(raw);
    if (s.code() == Status::Code::kNotFound) return {};
    if (!s.isOk()) return {s.toString()};
    quint64 chunks = 0;
    if (info->State.Subjects) {
      for (int i = 0; i < info->State.Subjects->Count; ++i)
        chunks += info->State.Subjects->List[i].Msgs;
    }
    auto objects = store.list();
    if (!objects.ok()) return {"list: " + objects.status().toString()};
    quint64 needed = 0;
    for (const StoreObject& obj : *objects) {
      if (obj.linkTo.isEmpty() && obj.size > 0)
        needed +=
            quint64((obj.size + NatsObjectStore::kChunkSize - 1) / NatsObjectStore::kChunkSize);
    }
    if (chunks <= needed) return {};
    return {QStringLiteral("%1 chunk messages in OBJ_%2, the listed objects need %3")
                .arg(chunks)
                .arg(bucket)
                .arg(needed)};
  }
};

StoreFactory natsFactory() {
  auto env = std::make_shared<NatsEnv>();
  StoreFactory f;
  f.name = "nats";
  f.reportsModified = true;
  f.make = [env]() -> Result<StoreUnderTest> {
    HL_RETURN_IF_ERROR(env->ensure());
    const QString bucket = QStringLiteral("conformance-%1").arg(++env->buckets);
    auto store = std::make_unique<NatsObjectStore>(env->nc.get(), bucket, 1);
    SnapshotStore* raw = store.get();
    return StoreUnderTest{std::move(store),
                          [env, raw, bucket] { return env->chunkDebris(*raw, bucket); }};
  };
  f.cleanup = [env] {
    env->js.reset();
    env->nc.reset();
    env->server.reset();
  };
  return f;
}

// Upload temporaries (".<name>.part-<hex>") below `root`: what an interrupted webdav or sftp
// put must not leave behind.
QStringList partFiles(const QString& root) {
  QStringList out;
  QDirIterator it(root, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
  while (it.hasNext()) {
    it.next();
    if (isTemporaryName(it.fileName())) out << QDir(root).relativeFilePath(it.filePath());
  }
  return out;
}

// A remote store's row: one server (`Server`, a fixture of tests/support) for every case of
// that store, started by the first one; each store gets its own folder (S3: key prefix)
// "conformance-<n>/snapshots" on it, which the store makes on its first put. With
// `partDebris`, the upload temporaries left under that folder are the debris.
//  - s3 (s3rver): no debris check. s3rver implements neither ListMultipartUploads (GET ?uploads
//    answers 501 NotImplemented) nor AbortMultipartUpload (DELETE ?uploadId answers 405
//    MethodNotAllowed, which the store reports beside the original error), so whether an
//    interrupted multipart upload is aborted cannot be checked against it; what is checked is
//    that the object reads as before and nothing new is listed.
//  - webdav (lighttpd mod_webdav, Basic authentication), sftp (sshd, password login, host key
//    checked against its known_hosts): temporaries renamed into place, checked.
template <class Server, class Store>
StoreFactory remoteFactory(const QString& name, const QString& serverName, bool partDebris,
                           const QString& skipReason = {}) {
  struct Env {
    std::unique_ptr<Server> server;
    Status failed;
    bool tried = false;
    int stores = 0;
  };
  auto env = std::make_shared<Env>();
  StoreFactory f;
  f.name = name;
  f.reportsModified = true;
  f.skipReason = skipReason;
  f.make = [env, serverName, partDebris]() -> Result<StoreUnderTest> {
    if (!env->tried) {
      env->tried = true;
      env->server = std::make_unique<Server>();
      env->failed = env->server->start().withContext("start " + serverName);
    }
    HL_RETURN_IF_ERROR(env->failed);
    const QString dir = QStringLiteral("conformance-%1/snapshots").arg(++env->stores);
    std::function<QStringList()> debris;
    if (partDebris)
      debris = [root = env->server->dataDir() + '/' + dir] { return partFiles(root); };
    return StoreUnderTest{std::make_unique<Store>(env->server->config(dir)), debris};
  };
  f.cleanup = [env] { env->server.reset(); };
  return f;
}

// Every store the conformance cases run against.
std::vector<StoreFactory> storeFactories() {
  return {localFactory(), natsFactory(),
          remoteFactory<test::S3TestServer, S3Store>("s3", "s3rver", false),
          remoteFactory<test::WebDavTestServer, WebDavStore>("webdav", "lighttpd", true),
          remoteFactory<test::SftpTestServer, SftpStore>(
              "sftp", "sshd", true,
              geteuid() != 0 ? "the sshd fixture needs root (sftp_test_server.h)" : "")};
}

// ---- helpers -------------------------------------------------------------------------------

Result<QMap<QString, StoreObject>> listByName(SnapshotStore& store) {
  auto objects = store.list();
  if (!objects) return objects.status();
  QMap<QString, StoreObject> out;
  for (const StoreObject& o : *objects) out.insert(o.name, o);
  return out;
}

// "SHA-256=<base64url, padded>" of `bytes`, as StoreObject::digest spells it.
QString digestOf(const QByteArray& bytes) {
  return "SHA-256=" +
         QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256)
                                 .toBase64(QByteArray::Base64UrlEncoding));
}

// A line of /proc/self/status in kB ("VmRSS:", "VmHWM:"); -1 when missing.
qint64 procStatusKb(const char* key) {
  QFile f("/proc/self/status");
  if (!f.open(QIODevice::ReadOnly)) return -1;
  for (const QByteArray& line : f.readAll().split('\n')) {
    if (line.startsWith(key))
      return line.mid(int(qstrlen(key))).trimmed().split(' ').value(0).toLongLong();
  }
  return -1;
}

// Returns freed heap to the system and resets VmHWM (the peak RSS) to the current RSS
// (Linux >= 4.0), so that the next VmHWM minus VmRSS now is what the operation that follows
// added. Without the trim, heap that earlier cases freed but glibc kept resident would be
// reused unseen and the growth would read lower than the operation's real working set.
bool resetPeakRss() {
  malloc_trim(0);
  QFile f("/proc/self/clear_refs");
  return f.open(QIODevice::WriteOnly) && f.write("5") == 1;
}

}  // namespace

// Sets up the store named by the row's "store" column as `var` (a StoreUnderTest).
#define MAKE_STORE(var)                                                         \
  QFETCH(QString, store);                                                       \
  StoreFactory* factory_ = factoryNamed(store);                                 \
  QVERIFY2(factory_, qPrintable("no store factory " + store));                  \
  if (!factory_->skipReason.isEmpty()) QSKIP(qPrintable(factory_->skipReason)); \
  auto made_ = factory_->make();                                                \
  QVERIFY2(made_.ok(), qPrintable(store + ": " + made_.status().toString()));   \
  StoreUnderTest var = std::move(made_).value();                                \
  SnapshotStore& s = *var.store;                                                \
  qInfo().noquote() << "store:" << s.describe();

#define QVERIFY_NO_DEBRIS(var)                                             \
  do {                                                                     \
    if (var.debris) {                                                      \
      const QStringList d_ = var.debris();                                 \
      QVERIFY2(d_.isEmpty(), qPrintable("left behind: " + d_.join(", "))); \
    }                                                                      \
  } while (0)

class TestSnapshotStores : public QObject {
  Q_OBJECT

 public:
  TestSnapshotStores() : m_factories(storeFactories()) {}

 private:
  StoreFactory* factoryNamed(const QString& name) {
    for (StoreFactory& f : m_factories)
      if (f.name == name) return &f;
    return nullptr;
  }
  void storeRows() {
    QTest::addColumn<QString>("store");
    for (const StoreFactory& f : m_factories) QTest::newRow(qPrintable(f.name)) << f.name;
  }

  std::vector<StoreFactory> m_factories;

 private slots:
  void initTestCase() { QCOMPARE(nats_Open(-1), NATS_OK); }
  void cleanupTestCase() {
    for (StoreFactory& f : m_factories)
      if (f.cleanup) f.cleanup();
    nats_Close();
  }

  // ---- validateObjectName ----------------------------------------------------------------

  void validateObjectName_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("valid");
    QTest::newRow("plain") << "snapshot.db" << true;
    QTest::newRow("nested") << "snapshots/20261130T150102123Z-n1.db" << true;
    QTest::newRow("every allowed char") << "AZaz09._-/x" << true;
    QTest::newRow("dot file") << ".hidden" << true;
    QTest::newRow("dots inside") << "a..b/c...d" << true;
    QTest::newRow("255 chars") << QString(255, 'a') << true;
    QTest::newRow("empty") << "" << false;
    QTest::newRow("256 chars") << QString(256, 'a') << false;
    QTest::newRow("parent") << "../x" << false;
    QTest::newRow("parent inside") << "a/../../x" << false;
    QTest::newRow("dot part") << "a/./b" << false;
    QTest::newRow("only dot") << "." << false;
    QTest::newRow("only dotdot") << ".." << false;
    QTest::newRow("empty part") << "a//b" << false;
    QTest::newRow("absolute") << "/etc/passwd" << false;
    QTest::newRow("trailing slash") << "a/" << false;
    QTest::newRow("space") << "a b" << false;
    QTest::newRow("backslash") << "a\\b" << false;
    QTest::newRow("colon") << "c:x" << false;
    QTest::newRow("non-ascii") << QString::fromUtf8("sn\xc3\xa4p.db") << false;
    QTest::newRow("nul") << QString(QChar(0)) + "x" << false;
    QTest::newRow("newline") << "a\nb" << false;
    QTest::newRow("wildcard") << "a*" << false;
  }
  void validateObjectName() {
    QFETCH(QString, name);
    QFETCH(bool, valid);
    const Status st = hl::validateObjectName(name);
    QCOMPARE(st.isOk(), valid);
    if (!valid) {
      QCOMPARE(st.code(), Status::Code::kInvalidArgument);
      QVERIFY2(st.message().contains("object name"), qPrintable(st.message()));
    }
  }

  // ---- conformance: the same steps for every store -----------------------------------------

  void roundtrip_data() {
    QTest::addColumn<QString>("store");
    QTest::addColumn<qint64>("size");
    for (const StoreFactory& f : m_factories) {
      QTest::addRow("%s/0B", qPrintable(f.name)) << f.name << qint64(0);
      QTest::addRow("%s/1B", qPrintable(f.name)) << f.name << qint64(1);
      QTest::addRow("%s/1MiB+7", qPrintable(f.name)) << f.name << kMiB + 7;
    }
  }
  void roundtrip() {
    MAKE_STORE(sut);
    QFETCH(qint64, size);
    const QByteArray bytes = GeneratorDevice::bytes(size, quint64(size) + 1);
    QVERIFY_OK(putBytes(s, "snapshot.db", bytes));
    auto got = getBytes(s, "snapshot.db");
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QCOMPARE(got->size(), bytes.size());
    QVERIFY(*got == bytes);
    // Nested names work the same way.
    QVERIFY_OK(putBytes(s, "snapshots/2026/n1.db", bytes));
    auto nested = getBytes(s, "snapshots/2026/n1.db");
    QVERIFY2(nested.ok(), qPrintable(nested.status().toString()));
    QVERIFY(*nested == bytes);
  }

  void overwrite_data() { storeRows(); }
  void overwrite() {
    MAKE_STORE(sut);
    const QByteArray v1 = GeneratorDevice::bytes(kMiB + 3, 101);
    const QByteArray v2 = GeneratorDevice::bytes(10, 102);
    QVERIFY_OK(putBytes(s, "x.db", v1));
    QVERIFY_OK(putBytes(s, "x.db", v2));
    auto got = getBytes(s, "x.db");
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY(*got == v2);
    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->keys(), QStringList{"x.db"});
    QCOMPARE(objects->value("x.db").size, qint64(v2.size()));
    // And back to a bigger one.
    QVERIFY_OK(putBytes(s, "x.db", v1));
    got = getBytes(s, "x.db");
    QVERIFY(got.ok() && *got == v1);
    QVERIFY_NO_DEBRIS(sut);
  }

  void list_data() { storeRows(); }
  void list() {
    MAKE_STORE(sut);
    auto empty = s.list();
    QVERIFY2(empty.ok(), qPrintable("list of an empty store: " + empty.status().toString()));
    QVERIFY(empty->isEmpty());

    const QDateTime before = QDateTime::currentDateTimeUtc().addSecs(-120);
    const QMap<QString, QByteArray> content{
        {"snapshot.db", GeneratorDevice::bytes(1000, 1)},
        {"empty.db", {}},
        {"snapshots/a.db", GeneratorDevice::bytes(kMiB + 7, 2)},
        {"snapshots/deep/er/b.db", GeneratorDevice::bytes(5, 3)},
    };
    for (auto it = content.begin(); it != content.end(); ++it)
      QVERIFY_OK(putBytes(s, it.key(), it.value()));
    const QDateTime after = QDateTime::currentDateTimeUtc().addSecs(120);

    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->keys(), content.keys());
    for (const StoreObject& o : *objects) {
      QCOMPARE(o.size, qint64(content.value(o.name).size()));
      QVERIFY2(o.linkTo.isEmpty(), qPrintable(o.name + " -> " + o.linkTo));
      if (factory_->reportsModified) {
        QVERIFY2(o.modified.isValid(), qPrintable(o.name));
        QCOMPARE(o.modified.timeSpec(), Qt::UTC);
        QVERIFY2(o.modified >= before && o.modified <= after,
                 qPrintable(o.name + ": " + o.modified.toString(Qt::ISODateWithMs)));
      }
      if (!o.digest.isEmpty()) QCOMPARE(o.digest, digestOf(content.value(o.name)));
    }
  }

  void remove_data() { storeRows(); }
  void remove() {
    MAKE_STORE(sut);
    const QByteArray bytes = GeneratorDevice::bytes(kMiB + 7, 7);
    QVERIFY_OK(putBytes(s, "gone.db", bytes));
    QVERIFY_OK(putBytes(s, "dir/stays.db", bytes));
    QVERIFY_OK(putBytes(s, "dir/gone.db", bytes));
    QVERIFY_OK(s.remove("gone.db"));
    QVERIFY_OK(s.remove("dir/gone.db"));
    QCOMPARE_CODE(getBytes(s, "gone.db").status(), Status::Code::kNotFound);
    QCOMPARE_CODE(getBytes(s, "dir/gone.db").status(), Status::Code::kNotFound);
    QCOMPARE_CODE(s.remove("gone.db"), Status::Code::kNotFound);
    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->keys(), QStringList{"dir/stays.db"});
    auto stays = getBytes(s, "dir/stays.db");
    QVERIFY(stays.ok() && *stays == bytes);
    // A removed name can be used again.
    QVERIFY_OK(putBytes(s, "gone.db", "again"));
    auto again = getBytes(s, "gone.db");
    QVERIFY(again.ok() && *again == "again");
    QVERIFY_NO_DEBRIS(sut);
  }

  void missing_data() { storeRows(); }
  void missing() {
    MAKE_STORE(sut);
    // In a store that was never written to and in one that has other objects.
    for (int round = 0; round < 2; ++round) {
      HashSink sink;
      QCOMPARE_CODE(s.get("nope.db", sink, {}), Status::Code::kNotFound);
      QCOMPARE_CODE(s.get("no/such/dir.db", sink, {}), Status::Code::kNotFound);
      QCOMPARE_CODE(s.remove("nope.db"), Status::Code::kNotFound);
      QCOMPARE_CODE(s.copy("nope.db", "copy.db"), Status::Code::kNotFound);
      QVERIFY_OK(putBytes(s, "other.db", "x"));
      QVERIFY_OK(putBytes(s, "dir/other.db", "x"));
    }
    // A directory-like prefix of an object is not an object.
    QCOMPARE_CODE(getBytes(s, "dir").status(), Status::Code::kNotFound);
    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->keys(), QStringList({"dir/other.db", "other.db"}));
  }

  void copy_data() { storeRows(); }
  void copy() {
    MAKE_STORE(sut);
    const QByteArray a = GeneratorDevice::bytes(kMiB + 7, 11);
    const QByteArray c = GeneratorDevice::bytes(3000, 12);
    QVERIFY_OK(putBytes(s, "a.db", a));
    QVERIFY_OK(s.copy("a.db", "b.db"));
    auto b = getBytes(s, "b.db");
    QVERIFY2(b.ok(), qPrintable(b.status().toString()));
    QVERIFY(*b == a);
    // Into a new directory, and over an existing object (replaced atomically).
    QVERIFY_OK(s.copy("a.db", "latest/snapshot.db"));
    QVERIFY_OK(putBytes(s, "c.db", c));
    QVERIFY_OK(s.copy("a.db", "c.db"));
    for (const char* name : {"latest/snapshot.db", "c.db", "a.db"}) {
      auto got = getBytes(s, name);
      QVERIFY2(got.ok(), qPrintable(QString(name) + ": " + got.status().toString()));
      QVERIFY2(*got == a, name);
    }
    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->keys(), QStringList({"a.db", "b.db", "c.db", "latest/snapshot.db"}));
    for (const StoreObject& o : *objects) {
      if (!o.linkTo.isEmpty()) QCOMPARE(o.linkTo, QString("a.db"));
    }

    // What a copy reads once `from` is replaced differs by store (a nats link follows it, a
    // local hard link keeps the old bytes); the interface promises neither, only that it
    // reads one whole version.
    const QByteArray a2 = GeneratorDevice::bytes(2 * kMiB + 1, 13);
    QVERIFY_OK(putBytes(s, "a.db", a2));
    auto a2got = getBytes(s, "a.db");
    QVERIFY(a2got.ok() && *a2got == a2);
    b = getBytes(s, "b.db");
    QVERIFY2(b.ok(), qPrintable(b.status().toString()));
    QVERIFY2(*b == a || *b == a2, "the copy reads neither version whole");
    qInfo().noquote() << store << ": after `from` was replaced the copy reads the"
                      << (*b == a ? "old" : "new") << "bytes";

    // Removing a copy leaves the original alone.
    QVERIFY_OK(s.remove("b.db"));
    a2got = getBytes(s, "a.db");
    QVERIFY(a2got.ok() && *a2got == a2);
    QCOMPARE_CODE(getBytes(s, "b.db").status(), Status::Code::kNotFound);
    QVERIFY_NO_DEBRIS(sut);
  }

  void invalidNames_data() { storeRows(); }
  void invalidNames() {
    MAKE_STORE(sut);
    QVERIFY_OK(putBytes(s, "ok.db", "ok"));
    for (const QString& bad : {QString("../x"), QString("a//b"), QString(""), QString("a b"),
                               QString("/abs"), QString("a/../../x"), QString("x/..")}) {
      QBuffer src;
      src.setData("data");
      src.open(QIODevice::ReadOnly);
      QCOMPARE_CODE(s.put(bad, src, 4, {}, {}), Status::Code::kInvalidArgument);
      HashSink sink;
      QCOMPARE_CODE(s.get(bad, sink, {}), Status::Code::kInvalidArgument);
      QCOMPARE(sink.count(), qint64(0));
      QCOMPARE_CODE(s.remove(bad), Status::Code::kInvalidArgument);
      QCOMPARE_CODE(s.copy("ok.db", bad), Status::Code::kInvalidArgument);
      QCOMPARE_CODE(s.copy(bad, "ok2.db"), Status::Code::kInvalidArgument);
    }
    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->keys(), QStringList{"ok.db"});
  }

  void progress_data() { storeRows(); }
  void progress() {
    MAKE_STORE(sut);
    // 8 MiB + 7: more than one chunk for any store (1 MiB local, 128 KiB nats, 5 MiB S3 parts).
    const qint64 size = 8 * kMiB + 7;
    const QByteArray bytes = GeneratorDevice::bytes(size, 21);
    QList<QPair<qint64, qint64>> calls;
    auto record = [&](qint64 done, qint64 total) {
      calls.append({done, total});
      return true;
    };
    QVERIFY_OK(putBytes(s, "p.db", bytes, record));
    QVERIFY2(calls.size() >= 2, qPrintable(QString("put: %1 progress calls").arg(calls.size())));
    for (qsizetype i = 0; i < calls.size(); ++i) {
      QCOMPARE(calls[i].second, size);  // put knows its total
      QVERIFY(calls[i].first >= 0 && calls[i].first <= size);
      if (i > 0) QVERIFY2(calls[i].first > calls[i - 1].first, "put: done must increase");
    }
    QCOMPARE(calls.last().first, size);

    calls.clear();
    QByteArray out;
    QBuffer sink(&out);
    sink.open(QIODevice::WriteOnly);
    QVERIFY_OK(s.get("p.db", sink, record));
    QVERIFY(out == bytes);
    QVERIFY2(calls.size() >= 2, qPrintable(QString("get: %1 progress calls").arg(calls.size())));
    for (qsizetype i = 0; i < calls.size(); ++i) {
      QVERIFY2(calls[i].second == size || calls[i].second == -1,
               qPrintable(QString("get: total %1").arg(calls[i].second)));
      if (i > 0) QVERIFY2(calls[i].first > calls[i - 1].first, "get: done must increase");
    }
    QCOMPARE(calls.last().first, size);
  }

  // 200 MiB from a generator into the store and back into a hashing sink: the object is
  // never in memory, in the test or (this checks) in the store.
  void bigObject_data() { storeRows(); }
  void bigObject() {
    MAKE_STORE(sut);
    const qint64 size = 200 * kMiB;
    const qint64 limitKb = 64 * 1024;

    GeneratorDevice src(size, 200);
    const bool resettable = resetPeakRss();
    const qint64 rssBefore = resettable ? procStatusKb("VmRSS:") : procStatusKb("VmHWM:");
    QElapsedTimer t;
    t.start();
    QVERIFY_OK(s.put("big/200MiB.db", src, size, {}, {}));
    const double putSecs = double(t.nsecsElapsed()) / 1e9;
    const qint64 putGrowthKb = procStatusKb("VmHWM:") - rssBefore;
    QCOMPARE(src.produced(), size);

    resetPeakRss();
    const qint64 rssBefore2 = resettable ? procStatusKb("VmRSS:") : procStatusKb("VmHWM:");
    HashSink sink;
    t.restart();
    QVERIFY_OK(s.get("big/200MiB.db", sink, {}));
    const double getSecs = double(t.nsecsElapsed()) / 1e9;
    const qint64 getGrowthKb = procStatusKb("VmHWM:") - rssBefore2;

    const double mb = double(size) / 1e6;
    qInfo().noquote() << QStringLiteral(
                             "%1: 200 MiB put %2 s (%3 MB/s), peak RSS +%4 MB; get %5 s (%6 MB/s), "
                             "peak RSS +%7 MB%8")
                             .arg(store)
                             .arg(putSecs, 0, 'f', 2)
                             .arg(mb / putSecs, 0, 'f', 1)
                             .arg(double(putGrowthKb) / 1024, 0, 'f', 1)
                             .arg(getSecs, 0, 'f', 2)
                             .arg(mb / getSecs, 0, 'f', 1)
                             .arg(double(getGrowthKb) / 1024, 0, 'f', 1)
                             .arg(resettable ? QString()
                                             : QStringLiteral(" (VmHWM not resettable: growth "
                                                              "of the process peak only)"));
    QCOMPARE(sink.count(), size);
    QVERIFY2(sink.sha256() == src.sha256(), "the object read back differs");
    QVERIFY2(putGrowthKb < limitKb, qPrintable(QString("put grew RSS by %1 kB").arg(putGrowthKb)));
    QVERIFY2(getGrowthKb < limitKb, qPrintable(QString("get grew RSS by %1 kB").arg(getGrowthKb)));

    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->value("big/200MiB.db").size, size);
    QVERIFY_OK(s.remove("big/200MiB.db"));  // frees the space for the cases that follow
    QVERIFY_NO_DEBRIS(sut);
  }

  // A put cancelled halfway: Status cancelled, the previous object of that name still reads
  // whole and identical, no new object, nothing left behind; the store still works.
  void cancelledPut_data() { storeRows(); }
  void cancelledPut() {
    MAKE_STORE(sut);
    const qint64 size = 3 * kMiB + 5;
    GeneratorDevice v1(size, 31);
    QVERIFY_OK(s.put("obj.db", v1, size, {}, {}));
    const QByteArray v1Hash = v1.sha256();

    auto cancelHalfway = [size](qint64 done, qint64) { return done < size / 2; };
    GeneratorDevice v2(size, 32);
    QCOMPARE_CODE(s.put("obj.db", v2, size, {}, cancelHalfway), Status::Code::kCancelled);
    QVERIFY2(v2.produced() < size, "the put went on after it was cancelled");
    GeneratorDevice fresh(size, 33);
    QCOMPARE_CODE(s.put("fresh.db", fresh, size, {}, cancelHalfway), Status::Code::kCancelled);

    HashSink sink;
    QVERIFY_OK(s.get("obj.db", sink, {}));
    QCOMPARE(sink.count(), size);
    QVERIFY2(sink.sha256() == v1Hash, "the previous object changed");
    QCOMPARE_CODE(getBytes(s, "fresh.db").status(), Status::Code::kNotFound);
    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->keys(), QStringList{"obj.db"});
    QCOMPARE(objects->value("obj.db").size, size);
    QVERIFY_NO_DEBRIS(sut);

    // A cancelled get is cancelled too.
    HashSink partial;
    QCOMPARE_CODE(s.get("obj.db", partial, cancelHalfway), Status::Code::kCancelled);

    // The store is not wedged: the same put without cancelling succeeds.
    GeneratorDevice v2again(size, 32);
    QVERIFY_OK(s.put("obj.db", v2again, size, {}, {}));
    HashSink sink2;
    QVERIFY_OK(s.get("obj.db", sink2, {}));
    QVERIFY(sink2.sha256() == v2again.sha256());
    QVERIFY_NO_DEBRIS(sut);
  }

  // A source that fails halfway (read error) or ends early (fewer bytes than `size`): an
  // error, the previous object intact, nothing new, nothing left behind.
  void failingSource_data() { storeRows(); }
  void failingSource() {
    MAKE_STORE(sut);
    const qint64 size = 3 * kMiB + 5;
    const QByteArray v1 = GeneratorDevice::bytes(size, 41);
    QVERIFY_OK(putBytes(s, "obj.db", v1));

    GeneratorDevice failing(size, 42, /*failAt=*/size / 2);
    const Status readError = s.put("obj.db", failing, size, {}, {});
    QVERIFY2(!readError.isOk(), "a put from a failing source succeeded");
    qInfo().noquote() << "read error:" << readError.toString();
    GeneratorDevice shortSource(size, 43, -1, /*endAt=*/size / 2);
    const Status ended = s.put("obj.db", shortSource, size, {}, {});
    QVERIFY2(!ended.isOk(), "a put from a source shorter than its size succeeded");
    qInfo().noquote() << "early end:" << ended.toString();
    GeneratorDevice failingNew(size, 44, /*failAt=*/size / 2);
    QVERIFY(!s.put("new.db", failingNew, size, {}, {}).isOk());

    auto got = getBytes(s, "obj.db");
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY2(*got == v1, "the previous object changed");
    QCOMPARE_CODE(getBytes(s, "new.db").status(), Status::Code::kNotFound);
    auto objects = listByName(s);
    QVERIFY2(objects.ok(), qPrintable(objects.status().toString()));
    QCOMPARE(objects->keys(), QStringList{"obj.db"});
    QVERIFY_NO_DEBRIS(sut);
  }

  // A sink that fails (the receiving disk is full): get fails, the object is unharmed.
  void failingSink_data() { storeRows(); }
  void failingSink() {
    MAKE_STORE(sut);
    const qint64 size = 3 * kMiB + 5;
    const QByteArray v1 = GeneratorDevice::bytes(size, 51);
    QVERIFY_OK(putBytes(s, "obj.db", v1));
    HashSink failing(/*failAt=*/kMiB / 2);
    const Status st = s.get("obj.db", failing, {});
    QVERIFY2(!st.isOk(), "a get into a failing sink succeeded");
    qInfo().noquote() << "sink error:" << st.toString();
    auto got = getBytes(s, "obj.db");
    QVERIFY(got.ok() && *got == v1);
  }

  // ---- the local store only ----------------------------------------------------------------

  void localLayout() {
    QTemporaryDir dir;
    const QString root = dir.filePath("not/yet/there");
    LocalStore s(root);
    QVERIFY(s.describe().contains(root));
    auto empty = s.list();  // a root that does not exist yet is an empty store
    QVERIFY(empty.ok() && empty->isEmpty());
    QVERIFY_OK(putBytes(s, "a/b.db", "bytes"));
    QCOMPARE(test::readFile(root + "/a/b.db"), QByteArray("bytes"));
    QVERIFY(localTempFiles(root).isEmpty());
    // Only the root's contents: nothing was written beside it.
    QCOMPARE(QDir(dir.path() + "/not/yet")
                 .entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden),
             QStringList{"there"});

    // Names the local store reserves for its temp files are refused.
    QCOMPARE_CODE(putBytes(s, ".tmp-x", "x"), Status::Code::kInvalidArgument);
    QCOMPARE_CODE(putBytes(s, "a/.tmp-x", "x"), Status::Code::kInvalidArgument);
    // Files a person left there under names no object can have are not listed.
    QVERIFY(test::writeFile(root + "/my copy.db", "x"));
    QVERIFY(test::writeFile(root + "/a/.tmp-b.db.123.abc", "x"));  // a killed put's temp file
    auto objects = listByName(s);
    QVERIFY(objects.ok());
    QCOMPARE(objects->keys(), QStringList{"a/b.db"});
    // An object name that is a directory is neither readable nor writable as an object.
    QCOMPARE_CODE(getBytes(s, "a").status(), Status::Code::kNotFound);
    QCOMPARE_CODE(s.remove("a"), Status::Code::kNotFound);
    QVERIFY(!putBytes(s, "a", "x").isOk());
    // Nor a directory below a file.
    QVERIFY(!putBytes(s, "a/b.db/c.db", "x").isOk());
    QVERIFY(test::readFile(root + "/a/b.db") == "bytes");
  }

  // Temp files of killed processes: never listed; removed by the next put in their directory
  // once older than an hour; a younger one may be a live put of another process and stays.
  void localStaleTempFiles() {
    QTemporaryDir dir;
    const QString root = dir.filePath("store");
    LocalStore s(root);
    QVERIFY_OK(putBytes(s, "x.db", "v1"));
    const QString stale = root + "/.tmp-x.db.99999.old";
    const QString young = root + "/.tmp-x.db.99999.young";
    QVERIFY(test::writeFile(stale, "partial"));
    QVERIFY(test::writeFile(young, "partial"));
    const qint64 twoHoursAgo = QDateTime::currentSecsSinceEpoch() - 7200;
    struct utimbuf times {
      time_t(twoHoursAgo), time_t(twoHoursAgo)
    };
    QCOMPARE(::utime(QFile::encodeName(stale).constData(), &times), 0);
    auto objects = listByName(s);
    QVERIFY(objects.ok());
    QCOMPARE(objects->keys(), QStringList{"x.db"});

    QVERIFY_OK(putBytes(s, "x.db", "v2"));
    QVERIFY2(!QFile::exists(stale), "the stale temp file is still there");
    QVERIFY2(QFile::exists(young), "a temp file younger than an hour was removed");
    QCOMPARE(localTempFiles(root), QStringList{".tmp-x.db.99999.young"});
    QCOMPARE(test::readFile(root + "/x.db"), QByteArray("v2"));
  }

  // remove() takes away the directories it leaves empty, never the root or a non-empty one.
  void localRemovePrunesDirectories() {
    QTemporaryDir dir;
    const QString root = dir.filePath("store");
    LocalStore s(root);
    QVERIFY_OK(putBytes(s, "a/b/c/one.db", "1"));
    QVERIFY_OK(putBytes(s, "a/two.db", "2"));
    QVERIFY_OK(s.remove("a/b/c/one.db"));
    QVERIFY(!QFileInfo::exists(root + "/a/b"));
    QVERIFY(QFileInfo(root + "/a").isDir());
    QVERIFY_OK(s.remove("a/two.db"));
    QVERIFY(!QFileInfo::exists(root + "/a"));
    QVERIFY(QFileInfo(root).isDir());
    QVERIFY_OK(putBytes(s, "top.db", "t"));
    QVERIFY_OK(s.remove("top.db"));
    QVERIFY2(QFileInfo(root).isDir(), "the root itself was removed");
  }

  // On one file system, copy() is a hard link (no bytes copied) that keeps its bytes when the
  // original is replaced, since put never writes a file in place.
  void localCopyIsHardLink() {
    QTemporaryDir dir;
    const QString root = dir.filePath("store");
    LocalStore s(root);
    const QByteArray v1 = GeneratorDevice::bytes(kMiB, 61);
    QVERIFY_OK(putBytes(s, "a.db", v1));
    QVERIFY_OK(s.copy("a.db", "sub/b.db"));
    struct stat sa {
    }, sb{};
    QCOMPARE(::stat(QFile::encodeName(root + "/a.db").constData(), &sa), 0);
    QCOMPARE(::stat(QFile::encodeName(root + "/sub/b.db").constData(), &sb), 0);
    QCOMPARE(sa.st_ino, sb.st_ino);
    QCOMPARE(sa.st_nlink, nlink_t(2));
    QVERIFY_OK(putBytes(s, "a.db", "v2"));
    QCOMPARE(test::readFile(root + "/sub/b.db"), v1);
    QCOMPARE(test::readFile(root + "/a.db"), QByteArray("v2"));
    QVERIFY_OK(s.copy("a.db", "a.db"));  // onto itself: nothing to do, nothing lost
    QCOMPARE(test::readFile(root + "/a.db"), QByteArray("v2"));
    QVERIFY(localTempFiles(root).isEmpty());
    // Not covered here: the streamed fallback when link() fails (EXDEV, FAT's EPERM) needs a
    // second file system without hard links.
  }

  // A REAL full disk: this program runs itself again in a private mount namespace on a 4 MiB
  // tmpfs (unshare + mount need CAP_SYS_ADMIN; skipped with the reason when not permitted).
  // In that child, HL_TEST_TMPFS_DIR names the tmpfs and the check runs there.
  void localDiskFull() {
    const QString tmpfs = test::tmpfsDir();
    if (!tmpfs.isEmpty()) {
      diskFullOn(tmpfs);
      return;
    }
    const test::TmpfsRun run = test::runOnTmpfs("localDiskFull", 4);
    if (!run.mounted) QSKIP(qPrintable(run.whyNot));
    const test::ProcessResult& r = run.result;
    qInfo().noquote() << "child on the tmpfs:\n" + QString::fromLocal8Bit(r.out + r.err);
    QVERIFY(!r.timedOut);
    QCOMPARE(r.exitCode, 0);
  }

 private:
  void diskFullOn(const QString& tmpfs) {
    const QString root = tmpfs + "/store";
    LocalStore s(root);
    const QByteArray v1 = GeneratorDevice::bytes(kMiB, 71);
    QVERIFY_OK(putBytes(s, "keep.db", v1));

    const qint64 size = 8 * kMiB;  // twice the whole file system
    GeneratorDevice big(size, 72);
    const Status full = s.put("keep.db", big, size, {}, {});
    qInfo().noquote() << "put of 8 MiB on a 4 MiB tmpfs:" << full.toString();
    QCOMPARE(full.code(), Status::Code::kIoError);
    QVERIFY2(full.message().contains("no space left", Qt::CaseInsensitive),
             qPrintable(full.message()));
    QVERIFY2(full.message().contains("keep.db"), qPrintable(full.message()));

    QCOMPARE(test::readFile(root + "/keep.db"), v1);
    QVERIFY2(localTempFiles(root).isEmpty(), qPrintable(localTempFiles(root).join(", ")));
    auto objects = listByName(s);
    QVERIFY(objects.ok());
    QCOMPARE(objects->keys(), QStringList{"keep.db"});
    // The space of the failed put is free again: 2 MiB more fit beside the 1 MiB object.
    const QByteArray other = GeneratorDevice::bytes(2 * kMiB, 73);
    QVERIFY_OK(putBytes(s, "other.db", other));
    QCOMPARE(test::readFile(root + "/other.db"), other);
    // A copy that cannot be linked would not fit either; a hard link needs no space.
    QVERIFY_OK(s.copy("other.db", "other-copy.db"));
  }
};

QTEST_GUILESS_MAIN(TestSnapshotStores)
#include "tst_snapshot_stores.moc"
