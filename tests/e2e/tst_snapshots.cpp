// Snapshots and recovery (docs/snapshots.md) with real harmonylite processes and real
// nats-server processes:
//   1. the snapshot commands on one node (-save-snapshot, -list-snapshots, -verify-snapshot,
//      -restore-snapshot[=ID], -force) with the NATS and the local store, and every bad input
//      (a corrupt, truncated or foreign file, an unknown id, another schema, snapshots off)
//      refused with one line while the live database stays as it was;
//   2. the headline: a node that was stopped while its stream aged out restores the newest
//      snapshot by itself, replays and converges; so does a brand-new node;
//   3. an application reading the database with plain SQLite (tests/e2e/snapshot_reader.cpp)
//      during a restore sees the old rows, then the restored ones, and never an error; an
//      application writing during a restore loses none of the rows it committed;
//   4. the snapshot leader lease: one leader among 2 and 3 nodes, taken over after kill -9;
//   5. two nodes saving into one bucket at the same moment leave a whole latest snapshot;
//   6. on each remote store (s3rver, lighttpd WebDAV, OpenSSH SFTP) with the deployment guide's
//      [snapshot] section: the leader saves, a node that fell behind restores from it and
//      converges, and -list-snapshots / -verify-snapshot work on a running node;
//   7. an automatic restore that failed (no snapshot yet) is tried again by itself.
// Nodes are written here rather than with NodeProcess: these tests need [replication_log] and
// [snapshot] keys of their own.
#include <QBuffer>
#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <signal.h>

#include "nats_test_client.h"
#include "node_process.h"
#include "s3_test_server.h"
#include "sftp_test_server.h"
#include "snapshot/catalog.h"
#include "snapshot/leader_lease.h"
#include "snapshot/local_store.h"
#include "snapshot/nats_object_store.h"
#include "snapshot/s3_store.h"
#include "snapshot/sftp_store.h"
#include "snapshot/webdav_store.h"
#include "sqlite/sqlite_db.h"
#include "test_support.h"
#include "webdav_test_server.h"

using namespace hl;

namespace {

constexpr int kConverge = 120000;

const char* kBooksDump =
    "SELECT count(*) || ':' || ifnull(group_concat(id || '|' || title || '|' || author || '|' || "
    "ifnull(publication_year, 'N'), ';'), '') FROM (SELECT * FROM Books ORDER BY id)";
const char* kAuthorsDump =
    "SELECT count(*) || ':' || ifnull(group_concat(id || '|' || name || '|' || ifnull(birth_year, "
    "'N'), ';'), '') FROM (SELECT * FROM Authors ORDER BY id)";
// The application's own objects (ours and SQLite's left out).
const char* kUserSchema =
    "SELECT ifnull(group_concat(type || ':' || name || ':' || ifnull(sql, ''), char(10)), '') "
    "FROM (SELECT * FROM sqlite_schema WHERE substr(name, 1, 15) <> '__harmonylite__' AND "
    "substr(name, 1, 7) <> 'sqlite_' ORDER BY name)";

const QRegularExpression kSnapshotId(QStringLiteral("\\b([0-9]{8}T[0-9]{9}Z-n[0-9]+)\\b"));

// `count` rows of Books from `firstId`, in one statement (one transaction).
QString insertBooks(int firstId, int count, const QString& tag, int padding = 0) {
  QString sql = "INSERT INTO Books(id, title, author, publication_year) VALUES ";
  for (int i = 0; i < count; ++i) {
    const int id = firstId + i;
    sql += QStringLiteral("%1(%2, '%3 %2%4', 'Author %5', %6)")
               .arg(i ? "," : "")
               .arg(id)
               .arg(tag, QString(padding, QChar('x')))
               .arg(id % 97)
               .arg(1900 + id % 120);
  }
  return sql + ";";
}

QStringList lines(const QByteArray& text) {
  QStringList out;
  for (const QString& l : QString::fromUtf8(text).split('\n', Qt::SkipEmptyParts))
    if (!l.trimmed().isEmpty()) out << l.trimmed();
  return out;
}

// The command's own lines on standard error ("harmonylite: ..."), without the log lines.
QStringList commandErrors(const test::ProcessResult& r) {
  QStringList out;
  for (const QString& l : lines(r.err))
    if (l.startsWith(QLatin1String("harmonylite: "))) out << l;
  return out;
}

// The same from a standard error text, one per line.
QString commandErrorsOf(const QString& err) {
  QStringList out;
  for (const QString& l : lines(err.toUtf8()))
    if (l.startsWith(QLatin1String("harmonylite: "))) out << l;
  return out.join('\n');
}

QString describe(const test::ProcessResult& r) {
  return QStringLiteral("exit %1%2\nstdout:\n%3\nstderr (end):\n%4")
      .arg(r.exitCode)
      .arg(r.timedOut ? " (timed out)" : "")
      .arg(QString::fromUtf8(r.out), QString::fromUtf8(r.err.right(4000)));
}

// What a node's configuration holds; Node writes it.
struct NodeSpec {
  uint64_t id = 1;
  QString dir;
  QStringList urls;
  int shards = 1;
  int replicas = 1;
  int maxEntries = 100000;
  QString schema = hl::test::kReferenceSchema;
  QString topLevel;      // extra top-level keys
  QString natsKeys;      // extra [nats] keys
  QString snapshotKeys;  // [snapshot] keys (not store with localStore)
  QString localStore;    // non-empty: store = "local" in this directory
  int healthPort = 0;    // non-zero: [health_check] on 127.0.0.1:port
  int metricsPort = 0;   // non-zero: [prometheus] on 127.0.0.1:port
};

// One harmonylite node: its folder, database, configuration and (while it runs) process.
class Node {
 public:
  explicit Node(NodeSpec s) : spec(std::move(s)) { QDir().mkpath(spec.dir); }
  ~Node() { kill(); }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  NodeSpec spec;

  QString db() const { return spec.dir + "/data.db"; }
  QString configPath() const { return spec.dir + "/config.toml"; }

  void writeConfig() const {
    QString t;
    t += QStringLiteral("db_path = \"%1\"\nnode_id = %2\n").arg(db()).arg(spec.id);
    t += spec.topLevel + "\n";
    t += QStringLiteral(
             "[replication_log]\nshards = %1\nreplicas = %2\ncompress = true\nmax_entries = %3\n")
             .arg(spec.shards)
             .arg(spec.replicas)
             .arg(spec.maxEntries);
    QStringList quoted;
    for (const QString& u : spec.urls) quoted << '"' + u + '"';
    t += QStringLiteral("[nats]\nurls = [%1]\nreconnect_wait_seconds = 1\n").arg(quoted.join(", "));
    t += spec.natsKeys + "\n";
    t += "[snapshot]\n" + spec.snapshotKeys + "\n";
    if (!spec.localStore.isEmpty())
      t += QStringLiteral("store = \"local\"\n[snapshot.local]\npath = \"%1\"\n")
               .arg(spec.localStore);
    if (spec.healthPort)
      t += QStringLiteral("[health_check]\nenable = true\nbind = \"127.0.0.1:%1\"\n")
               .arg(spec.healthPort);
    if (spec.metricsPort)
      t += QStringLiteral("[prometheus]\nenable = true\nbind = \"127.0.0.1:%1\"\n")
               .arg(spec.metricsPort);
    test::writeFile(configPath(), t.toUtf8());
  }

  Status ensureSchema() const {
    if (QFile::exists(db()) || spec.schema.isEmpty()) return Status::ok();
    bool ok = false;
    test::sqlite3(db(), spec.schema, &ok);
    return ok ? Status::ok() : Status::ioError("cannot create the schema in " + db());
  }

  Status launch() {
    m_log.clear();
    HL_RETURN_IF_ERROR(ensureSchema());
    writeConfig();
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::SeparateChannels);
    m_process->start(test::harmonyliteBinary(), {"-config", configPath(), "--no-gui"});
    if (!m_process->waitForStarted(5000)) return Status::unavailable("cannot start harmonylite");
    return Status::ok();
  }

  Status waitRunning(int timeoutMs = 60000) {
    if (!m_process) return Status::internal("not launched");
    const bool done = test::waitFor(
        [&] {
          m_log += m_process->readAllStandardError();
          return m_log.contains("node running headless") ||
                 m_process->state() == QProcess::NotRunning;
        },
        timeoutMs, 20);
    if (done && m_process->state() == QProcess::Running) return Status::ok();
    return Status::unavailable(QStringLiteral("node %1 did not start:\n").arg(spec.id) + log());
  }

  Status start(int timeoutMs = 60000) {
    HL_RETURN_IF_ERROR(launch());
    return waitRunning(timeoutMs);
  }

  // SIGTERM and wait; the exit code (-1 on timeout).
  int stop(int timeoutMs = 20000) {
    if (!m_process || m_process->state() == QProcess::NotRunning)
      return m_process ? m_process->exitCode() : 0;
    ::kill(pid_t(m_process->processId()), SIGTERM);
    if (!m_process->waitForFinished(timeoutMs)) return -1;
    m_log += m_process->readAllStandardError();
    return m_process->exitCode();
  }

  // SIGKILL (a crash).
  void kill() {
    if (!m_process || m_process->state() == QProcess::NotRunning) return;
    m_process->kill();
    m_process->waitForFinished(5000);
    m_log += m_process->readAllStandardError();
  }

  bool isRunning() const { return m_process && m_process->state() == QProcess::Running; }

  QString log() const {
    if (m_process) m_log += m_process->readAllStandardError();
    return QString::fromUtf8(m_log);
  }

  QString sql(const QString& statement, bool* ok = nullptr) const {
    return test::sqlite3(db(), statement, ok);
  }

  // The application's schema and rows, to tell whether a command changed the database.
  QString userDump() const {
    return sql(kUserSchema) + "\n" + sql("SELECT 'Books ' || (" + QString(kBooksDump) + ")") +
           "\n" + sql("SELECT 'Authors ' || (" + QString(kAuthorsDump) + ")");
  }

  // A one-shot command (the snapshot flags) on this node's configuration, to completion.
  test::ProcessResult cli(const QStringList& flags, int timeoutMs = 180000) const {
    (void)ensureSchema();
    writeConfig();
    return test::runProcess(test::harmonyliteBinary(),
                            QStringList{"-config", configPath(), "--no-gui"} + flags, timeoutMs);
  }

  // The same, started and left running.
  std::unique_ptr<QProcess> cliAsync(const QStringList& flags) const {
    (void)ensureSchema();
    writeConfig();
    auto p = std::make_unique<QProcess>();
    p->start(test::harmonyliteBinary(), QStringList{"-config", configPath(), "--no-gui"} + flags);
    p->waitForStarted(5000);
    return p;
  }

 private:
  std::unique_ptr<QProcess> m_process;
  mutable QByteArray m_log;
};

// The value of sample `name` (without the "harmonylite_" namespace) on /metrics; -1 when the
// endpoint does not answer or has no such sample.
double metric(int port, const QString& name) {
  QByteArray body;
  if (test::httpGet(port, "/metrics", &body, 3000) != 200) return -1;
  const QRegularExpression re(QStringLiteral("^harmonylite_%1\\{[^}]*\\} (\\S+)$").arg(name),
                              QRegularExpression::MultilineOption);
  const auto m = re.match(QString::fromUtf8(body));
  return m.hasMatch() ? m.captured(1).toDouble() : -1;
}

QJsonObject health(int port, int* code = nullptr) {
  QByteArray body;
  const int c = test::httpGet(port, "/health", &body, 3000);
  if (code) *code = c;
  return QJsonDocument::fromJson(body).object();
}

// First and last sequence of a stream (false when it cannot be read).
bool streamState(jsCtx* js, const QString& stream, quint64* first, quint64* last) {
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = jsErrCode(0);
  if (js_GetStreamInfo(&raw, js, stream.toUtf8().constData(), nullptr, &jerr) != NATS_OK)
    return false;
  JsStreamInfoPtr si(raw);
  *first = si->State.FirstSeq;
  *last = si->State.LastSeq;
  return true;
}

// The metadata of the snapshot latest.json names in a store.
Result<SnapshotMeta> latestSnapshotMeta(SnapshotStore& store) {
  auto small = [&store](const QString& name) -> Result<QByteArray> {
    QBuffer buf;
    buf.open(QIODevice::WriteOnly);
    HL_RETURN_IF_ERROR(store.get(name, buf, [](qint64 done, qint64) { return done < (1 << 20); }));
    return buf.data();
  };
  auto pointer = small(kLatestPointer);
  if (!pointer) return pointer.status();
  const QString id = QJsonDocument::fromJson(*pointer).object().value("id").toString();
  auto meta = small(kSnapshotDir + id + ".json");
  if (!meta) return meta.status();
  return SnapshotMeta::fromJson(*meta);
}

// The same in a NATS bucket.
Result<SnapshotMeta> latestSnapshotMeta(natsConnection* nc, const QString& bucket) {
  NatsObjectStore store(nc, bucket, 1);
  return latestSnapshotMeta(store);
}

// A remote store's server for the scenario that runs on each (s3, webdav, sftp), the guide's
// [snapshot] section pointing at it, and the test's own look at the store.
struct RemoteStore {
  std::unique_ptr<test::S3TestServer> s3;
  std::unique_ptr<test::WebDavTestServer> webdav;
  std::unique_ptr<test::SftpTestServer> sftp;
  QString section;  // the [snapshot] keys and the store's own table
  std::unique_ptr<SnapshotStore> look;

  Status start(const QString& kind) {
    // As the deployment guide writes it (hourly), with endpoint and credentials changed.
    section = QStringLiteral(
                  "enabled = true\nstore = \"%1\"\ninterval = 3600000\n"
                  "leader_ttl = 6000\n")
                  .arg(kind);
    const QString path = QStringLiteral("harmonylite/snapshots");
    if (kind == QLatin1String("s3")) {
      s3 = std::make_unique<test::S3TestServer>();
      HL_RETURN_IF_ERROR(s3->start());
      const SnapshotS3Config c = s3->config(path);
      section += QStringLiteral(
                     "[snapshot.s3]\nendpoint = \"%1\"\nbucket = \"%2\"\npath = \"%3\"\n"
                     "use_ssl = false\naccess_key = \"%4\"\nsecret = \"%5\"\n")
                     .arg(c.endpoint, c.bucket, c.path, c.accessKey, c.secret);
      look = std::make_unique<S3Store>(c);
    } else if (kind == QLatin1String("webdav")) {
      webdav = std::make_unique<test::WebDavTestServer>();
      HL_RETURN_IF_ERROR(webdav->start());
      section += QStringLiteral("[snapshot.webdav]\nurl = \"%1\"\n").arg(webdav->url(path));
      look = std::make_unique<WebDavStore>(webdav->config(path));
    } else {
      sftp = std::make_unique<test::SftpTestServer>();
      HL_RETURN_IF_ERROR(sftp->start());
      section += QStringLiteral("[snapshot.sftp]\nurl = \"%1\"\nknown_hosts = \"%2\"\n")
                     .arg(sftp->url(path), sftp->knownHostsFile());
      look = std::make_unique<SftpStore>(sftp->config(path));
    }
    return Status::ok();
  }
};

}  // namespace

class TestSnapshots : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  // Waits until nothing is pending in the node's change log (everything published).
  static bool published(const Node& n, int timeoutMs = 60000) {
    return test::waitFor(
        [&] {
          return n.sql("SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL") == "0";
        },
        timeoutMs, 100);
  }

  // A refused command: non-zero exit, nothing on standard output, exactly one line of its own
  // on standard error, mentioning every entry of `mention` (case-insensitive; "a|b": a or b),
  // and the live database as it was.
  static void expectRefused(const Node& n, const QStringList& flags, const QStringList& mention,
                            const QString& dumpBefore) {
    const test::ProcessResult r = n.cli(flags);
    const QString what = flags.join(' ') + ": " + describe(r);
    QVERIFY2(!r.timedOut && !r.crashed, qPrintable(what));
    QVERIFY2(r.exitCode != 0, qPrintable(what));
    QCOMPARE(n.userDump(), dumpBefore);
    QVERIFY2(r.out.trimmed().isEmpty(), qPrintable(what));
    const QStringList errors = commandErrors(r);
    QVERIFY2(errors.size() == 1, qPrintable(what));
    for (const QString& words : mention) {
      bool found = false;
      for (const QString& word : words.split('|'))
        found = found || errors.first().contains(word, Qt::CaseInsensitive);
      QVERIFY2(found, qPrintable(QStringLiteral("\"%1\" not in: %2").arg(words, errors.first())));
    }
    qInfo().noquote() << flags.join(' ') << "->" << errors.first();
  }

 private slots:
  void initTestCase() { m_dir.setAutoRemove(!qEnvironmentVariableIsSet("HL_KEEP_TEST_DIRS")); }

  // Scenario 1: the commands on one node, NATS and local store; bad input refused cleanly.
  void commandsOnOneNode() {
    QElapsedTimer timer;
    timer.start();
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    NodeSpec spec;
    spec.id = 11;
    spec.dir = m_dir.filePath("cli");
    spec.urls = {server.url()};
    Node n(spec);
    QVERIFY2(n.start().isOk(), qPrintable(n.log()));
    bool ok = false;
    n.sql(insertBooks(1, 300, "Book") +
              "INSERT INTO Authors(id, name, birth_year) VALUES (1, 'Le Guin', 1929), (2, "
              "'Herbert', 1920);",
          &ok);
    QVERIFY(ok);
    QVERIFY(published(n));
    QCOMPARE(n.stop(), 0);

    // ---- NATS store ----
    test::ProcessResult r = n.cli({"-save-snapshot"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    QStringList out = lines(r.out);
    QVERIFY2(out.size() == 1, qPrintable(describe(r)));
    auto m = kSnapshotId.match(out.first());
    QVERIFY2(m.hasMatch(), qPrintable(out.first()));
    const QString natsId = m.captured(1);
    QVERIFY2(natsId.endsWith("-n11"), qPrintable(natsId));

    r = n.cli({"-list-snapshots"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    QString listed;
    for (const QString& l : lines(r.out))
      if (l.startsWith(natsId)) listed = l;
    QVERIFY2(!listed.isEmpty(), qPrintable(describe(r)));
    QVERIFY2(listed.contains("latest"), qPrintable(listed));
    QVERIFY2(listed.contains("node 11"), qPrintable(listed));

    r = n.cli({"-verify-snapshot"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    QVERIFY2(r.out.contains("verified ok") && r.out.contains(natsId.toUtf8()),
             qPrintable(describe(r)));
    // The verification is recorded for every node to see.
    r = n.cli({"-list-snapshots"});
    QVERIFY2(r.out.contains("verified ok"), qPrintable(describe(r)));

    // ---- local store ----
    const QString store = m_dir.filePath("cli-store");
    n.spec.localStore = store;
    r = n.cli({"-save-snapshot"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    out = lines(r.out);
    QVERIFY2(out.size() == 1, qPrintable(describe(r)));
    m = kSnapshotId.match(out.first());
    QVERIFY2(m.hasMatch(), qPrintable(out.first()));
    const QString id = m.captured(1);
    const QString file = store + "/snapshots/" + id + ".db";
    QVERIFY2(QFile::exists(file), qPrintable(file));
    QVERIFY(QFile::exists(store + "/snapshots/" + id + ".json"));
    QVERIFY(QFile::exists(store + "/snapshot.db"));
    QVERIFY(QFile::exists(store + "/latest.json"));
    {
      const QJsonObject meta =
          QJsonDocument::fromJson(test::readFile(store + "/snapshots/" + id + ".json")).object();
      QCOMPARE(meta.value("id").toString(), id);
      QCOMPARE(meta.value("size").toInteger(), QFileInfo(file).size());
      SqliteDb::Options ro;
      ro.readOnly = true;
      auto db = SqliteDb::open(file, ro);
      QVERIFY2(db.ok(), qPrintable(db.status().message()));
      QCOMPARE(*db->queryInt("SELECT count(*) FROM Books"), int64_t(300));
      QCOMPARE(*db->queryInt("SELECT count(*) FROM Authors"), int64_t(2));
      QCOMPARE(*db->queryInt("SELECT count(*) FROM sqlite_schema WHERE substr(name, 1, 15) = "
                             "'__harmonylite__' OR type = 'trigger'"),
               int64_t(0));
    }
    r = n.cli({"-verify-snapshot=" + id});
    QVERIFY2(r.exitCode == 0 && r.out.contains("verified ok"), qPrintable(describe(r)));

    // ---- bad input: each refused with one line, the live database untouched ----
    const QString before = n.userDump();
    QVERIFY(before.contains("Books 300:"));
    const QByteArray pristine = test::readFile(file);
    QVERIFY(pristine.size() > 4096);
    // A new file in place (snapshot.db may be a hard link of the old one: it stays whole).
    auto replaceFile = [&](const QByteArray& bytes) {
      QFile::remove(file);
      return test::writeFile(file, bytes);
    };

    // A changed row: SQLite still reads it, only the checksum can tell.
    QByteArray edited = pristine;
    const qsizetype at = edited.indexOf("Book 150");
    QVERIFY(at > 0);
    edited[at + 1] = '0';  // "B0ok 150"
    QVERIFY(replaceFile(edited));
    expectRefused(n, {"-verify-snapshot=" + id}, {id, "checksum"}, before);
    expectRefused(n, {"-restore-snapshot=" + id}, {"checksum"}, before);

    // Bytes flipped in the middle of the file.
    QByteArray flipped = pristine;
    for (qsizetype i = flipped.size() / 2; i < flipped.size() / 2 + 64; ++i)
      flipped[i] = char(~flipped[i]);
    QVERIFY(replaceFile(flipped));
    expectRefused(n, {"-verify-snapshot=" + id}, {id, "checksum"}, before);
    expectRefused(n, {"-restore-snapshot=" + id}, {"checksum"}, before);

    // The metadata lies (docs/replication.md#hostile-input): the file intact, the checksum its
    // metadata records another one.
    QVERIFY(replaceFile(pristine));
    const QString meta = store + "/snapshots/" + id + ".json";
    const QByteArray pristineMeta = test::readFile(meta);
    QJsonObject lie = QJsonDocument::fromJson(pristineMeta).object();
    QVERIFY2(lie.value("sha256").toString().size() == 64, pristineMeta.constData());
    lie["sha256"] = QString(64, 'e');
    QVERIFY(QFile::remove(meta) && test::writeFile(meta, QJsonDocument(lie).toJson()));
    expectRefused(n, {"-verify-snapshot=" + id}, {id, "checksum"}, before);
    expectRefused(n, {"-restore-snapshot=" + id}, {"checksum"}, before);
    QVERIFY(QFile::remove(meta) && test::writeFile(meta, pristineMeta));

    // Truncated: refused for its size, before SQLite opens it (docs/snapshots.md#how, step 2).
    QVERIFY(replaceFile(pristine.left(pristine.size() / 2)));
    expectRefused(n, {"-verify-snapshot=" + id}, {id, "truncated"}, before);
    expectRefused(n, {"-restore-snapshot=" + id}, {"truncated"}, before);

    // Not a SQLite file at all.
    const QString notSqlite = "not a SQLite database|checksum|truncated";
    QVERIFY(replaceFile(QByteArray("this is not a database\n").repeated(200)));
    expectRefused(n, {"-verify-snapshot=" + id}, {id, notSqlite}, before);
    expectRefused(n, {"-restore-snapshot=" + id}, {notSqlite}, before);

    // No such snapshot.
    expectRefused(n, {"-restore-snapshot=nonexistent"}, {"no snapshot", "nonexistent"}, before);
    expectRefused(n, {"-verify-snapshot=nonexistent"}, {"no snapshot"}, before);

    // Snapshots switched off.
    n.spec.snapshotKeys = "enabled = false";
    expectRefused(n, {"-save-snapshot"}, {"disabled"}, before);
    expectRefused(n, {"-restore-snapshot=" + id}, {"disabled"}, before);
    n.spec.snapshotKeys.clear();

    // The file put back: it verifies again (the refusals were the file's fault).
    QVERIFY(replaceFile(pristine));
    r = n.cli({"-verify-snapshot=" + id});
    QVERIFY2(r.exitCode == 0 && r.out.contains("verified ok"), qPrintable(describe(r)));

    // A snapshot of another schema, made elsewhere and copied into this store.
    NodeSpec otherSpec;
    otherSpec.id = 19;
    otherSpec.dir = m_dir.filePath("cli-other");
    otherSpec.urls = {server.url()};
    otherSpec.schema = "CREATE TABLE Gadgets(id INTEGER PRIMARY KEY, name TEXT NOT NULL);";
    otherSpec.natsKeys = "stream_prefix = \"other-changes\"\nsubject_prefix = \"other-log\"";
    otherSpec.localStore = m_dir.filePath("cli-other-store");
    Node other(otherSpec);
    QVERIFY(other.ensureSchema().isOk());
    other.sql("INSERT INTO Gadgets(id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')", &ok);
    QVERIFY(ok);
    r = other.cli({"-save-snapshot"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    m = kSnapshotId.match(QString::fromUtf8(r.out));
    QVERIFY(m.hasMatch());
    const QString otherId = m.captured(1);
    for (const char* ext : {".db", ".json"})
      QVERIFY(QFile::copy(otherSpec.localStore + "/snapshots/" + otherId + ext,
                          store + "/snapshots/" + otherId + ext));
    expectRefused(n, {"-restore-snapshot=" + otherId}, {"schema"}, before);
    // With -force it replaces the schema too.
    r = n.cli({"-restore-snapshot=" + otherId, "-force"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    QVERIFY2(r.out.contains("restored snapshot " + otherId.toUtf8()), qPrintable(describe(r)));
    QCOMPARE(n.sql("SELECT group_concat(name, ',') FROM (SELECT name FROM Gadgets ORDER BY id)"),
             QString("a,b,c"));
    QCOMPARE(n.sql("SELECT count(*) FROM sqlite_schema WHERE name = 'Books'"), QString("0"));
    qInfo() << "commandsOnOneNode took" << timer.elapsed() << "ms";
  }

  // Scenario 2 (the headline): a node stopped while its stream aged out restores the newest
  // snapshot by itself, replays what came after it and converges; so does a brand-new node.
  void stoppedNodeAndNewNodeRestoreAutomatically() {
    QElapsedTimer timer;
    timer.start();
    test::NatsCluster cluster;
    const Status started = cluster.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    std::vector<std::unique_ptr<Node>> nodes;
    auto makeNode = [&](uint64_t id) {
      NodeSpec s;
      s.id = id;
      s.dir = m_dir.filePath(QStringLiteral("restore-node%1").arg(id));
      s.urls = cluster.urls();
      s.shards = 2;
      s.replicas = 3;
      s.maxEntries = 1000;
      s.snapshotKeys = "leader_ttl = 6000";  // interval off: the growth rule takes them
      s.healthPort = test::freePort();
      return std::make_unique<Node>(s);
    };
    for (uint64_t id = 21; id <= 23; ++id) nodes.push_back(makeNode(id));
    for (auto& n : nodes) QVERIFY(n->launch().isOk());  // together: JetStream needs a quorum
    for (auto& n : nodes) QVERIFY2(n->waitRunning(90000).isOk(), qPrintable(n->log()));
    auto all = [&] {
      QList<Node*> out;
      for (auto& n : nodes) out << n.get();
      return out;
    };
    auto converged = [](const QList<Node*>& ns, const QString& query, int timeoutMs,
                        const QString& expected = {}) {
      return test::waitFor(
          [&] {
            QString first;
            for (int i = 0; i < ns.size(); ++i) {
              const QString v = ns[i]->sql(query);
              if (i == 0) first = v;
              if (v != first || (!expected.isEmpty() && v != expected)) return false;
            }
            return true;
          },
          timeoutMs, 200);
    };
    bool ok = false;
    nodes[0]->sql(insertBooks(1, 100, "Before") +
                      "INSERT INTO Authors(id, name, birth_year) VALUES (1, 'Le Guin', 1929);",
                  &ok);
    QVERIFY(ok);
    QVERIFY(converged(all(), "SELECT count(*) FROM Books", kConverge, "100"));

    QCOMPARE(nodes[2]->stop(), 0);
    // 5,000 rows on node 1 in bounded batches: both streams go far past max_entries.
    for (int batch = 0; batch < 10; ++batch) {
      nodes[0]->sql(insertBooks(1000 + batch * 500, 500, "While away"), &ok);
      QVERIFY(ok);
    }
    QVERIFY(published(*nodes[0], kConverge));
    QVERIFY(converged({nodes[0].get(), nodes[1].get()}, "SELECT count(*) FROM Books", kConverge,
                      "5100"));

    auto nc = test::connectTo(cluster.urls());
    QVERIFY2(nc.ok(), qPrintable(nc.status().message()));
    auto js = test::jetStream(nc->get());
    QVERIFY(js.ok());
    const QStringList streams = {"harmonylite-changes-c-1", "harmonylite-changes-c-2"};
    // The log aged out: the first messages are gone from both streams.
    QVERIFY(test::waitFor(
        [&] {
          for (const QString& s : streams) {
            quint64 first = 0, last = 0;
            if (!streamState(js->get(), s, &first, &last) || first <= 1) return false;
          }
          return true;
        },
        30000, 200));
    // The leader took a snapshot on its own (growth rule) that the streams still reach.
    QString snapshotId, why;
    QVERIFY2(test::waitFor(
                 [&] {
                   auto meta = latestSnapshotMeta(nc->get(), "harmonylite-changes-snapshot-store");
                   if (!meta) {
                     why = meta.status().message();
                     return false;
                   }
                   for (const QString& s : streams) {
                     quint64 first = 0, last = 0;
                     if (!streamState(js->get(), s, &first, &last)) return false;
                     const quint64 w = meta->streams.value(s, 0);
                     why = QStringLiteral("snapshot %1: %2 covered up to %3, stream holds %4..%5")
                               .arg(meta->id, s)
                               .arg(w)
                               .arg(first)
                               .arg(last);
                     if (w + 1 < first || w + 500 < last) return false;
                   }
                   snapshotId = meta->id;
                   return true;
                 },
                 90000, 500),
             qPrintable(why + "\nnode 1:\n" + nodes[0]->log().right(3000) + "\nnode 2:\n" +
                        nodes[1]->log().right(3000)));
    qInfo().noquote() << "snapshot to restore from:" << snapshotId << "-" << why;

    // Node 3 comes back behind the log: gap, automatic restore, replay, convergence. Writes go
    // on meanwhile (on node 2).
    QVERIFY(nodes[2]->launch().isOk());
    nodes[1]->sql(insertBooks(20000, 200, "During restore"), &ok);
    QVERIFY(ok);
    QVERIFY2(nodes[2]->waitRunning(90000).isOk(), qPrintable(nodes[2]->log()));
    QVERIFY2(test::waitFor([&] { return nodes[2]->log().contains("needs a restore"); }, 30000),
             qPrintable(nodes[2]->log().right(4000)));
    QVERIFY2(test::waitFor([&] { return nodes[2]->log().contains("restored snapshot"); }, 60000),
             qPrintable(nodes[2]->log().right(6000)));
    QVERIFY(converged(all(), "SELECT count(*) FROM Books", kConverge, "5300"));
    QVERIFY(converged(all(), kBooksDump, kConverge));
    QVERIFY(converged(all(), kAuthorsDump, kConverge, "1:1|Le Guin|1929"));
    int code = 0;
    QJsonObject h;
    QVERIFY2(test::waitFor(
                 [&] {
                   h = health(nodes[2]->spec.healthPort, &code);
                   return code == 200 &&
                          h.value("snapshots").toObject().value("restores").toInteger() >= 1;
                 },
                 30000, 200),
             QJsonDocument(h).toJson().constData());
    QCOMPARE(h.value("status").toString(), QString("healthy"));
    qInfo() << "node 3 restored and converged after" << timer.elapsed() << "ms";

    // A brand-new node with an empty database of the same schema joins the same way.
    nodes.push_back(makeNode(24));
    QVERIFY2(nodes[3]->start(90000).isOk(), qPrintable(nodes[3]->log()));
    QVERIFY2(test::waitFor([&] { return nodes[3]->log().contains("restored snapshot"); }, 60000),
             qPrintable(nodes[3]->log().right(6000)));
    nodes[0]->sql(insertBooks(30000, 10, "After the new node"), &ok);
    QVERIFY(ok);
    QVERIFY(converged(all(), "SELECT count(*) FROM Books", kConverge, "5310"));
    QVERIFY(converged(all(), kBooksDump, kConverge));
    QVERIFY(converged(all(), kAuthorsDump, kConverge, "1:1|Le Guin|1929"));
    QVERIFY2(test::waitFor(
                 [&] {
                   h = health(nodes[3]->spec.healthPort, &code);
                   return code == 200 &&
                          h.value("snapshots").toObject().value("restores").toInteger() >= 1;
                 },
                 30000, 200),
             QJsonDocument(h).toJson().constData());
    for (auto& n : nodes)
      QCOMPARE(n->sql("SELECT count(*) FROM __harmonylite__dead_letters"), QString("0"));
    for (auto& n : nodes) QCOMPARE(n->stop(), 0);
    qInfo() << "stoppedNodeAndNewNodeRestoreAutomatically took" << timer.elapsed() << "ms";
  }

  // Scenario 6: the headline of scenario 2 on each remote store, configured as the guide does.
  void remoteStoreRestoresANodeBehind_data() {
    QTest::addColumn<QString>("store");
    QTest::newRow("s3") << "s3";
    QTest::newRow("webdav") << "webdav";
    QTest::newRow("sftp") << "sftp";
  }
  void remoteStoreRestoresANodeBehind() {
    QFETCH(QString, store);
    if (store == QLatin1String("sftp") && geteuid() != 0)
      QSKIP("the sshd fixture needs root (tests/support/sftp_test_server.h)");
    QElapsedTimer timer;
    timer.start();
    RemoteStore remote;
    const Status up = remote.start(store);
    QVERIFY2(up.isOk(), qPrintable(up.toString()));
    test::NatsServer nats;
    QVERIFY2(nats.start().isOk(), "nats-server did not start");
    std::vector<std::unique_ptr<Node>> nodes;
    for (uint64_t id = 61; id <= 63; ++id) {
      NodeSpec s;
      s.id = id;
      s.dir = m_dir.filePath(QStringLiteral("remote-%1-node%2").arg(store).arg(id));
      s.urls = {nats.url()};
      // Room for a replica lagging one 500-row transaction behind; 3,000 rows age it out.
      s.maxEntries = 1000;
      s.snapshotKeys = remote.section;
      nodes.push_back(std::make_unique<Node>(s));
    }
    for (auto& n : nodes) QVERIFY2(n->start(90000).isOk(), qPrintable(n->log()));
    auto converged = [&](const QList<Node*>& ns, const QString& query, const QString& expected) {
      const bool ok = test::waitFor(
          [&] {
            for (Node* n : ns)
              if (n->sql(query) != expected) return false;
            return true;
          },
          kConverge, 200);
      if (!ok)
        for (Node* n : ns)
          qWarning().noquote() << "node" << n->spec.id << "has" << n->sql(query) << "log:\n"
                               << n->log().right(8000);
      return ok;
    };
    bool ok = false;
    nodes[0]->sql(insertBooks(1, 100, "Before"), &ok);
    QVERIFY(ok);
    QVERIFY(converged({nodes[0].get(), nodes[1].get(), nodes[2].get()},
                      "SELECT count(*) FROM Books", "100"));
    QCOMPARE(nodes[2]->stop(), 0);
    // One transaction at a time, each applied by both running nodes before the next: with 1,000
    // messages kept, six transactions written back to back left even the running nodes more
    // than 1,000 behind on a busy machine (CI, once), and then they too needed the snapshot
    // that no leader was left to take. Only the stopped node is to fall behind here.
    for (int batch = 0; batch < 6; ++batch) {
      nodes[0]->sql(insertBooks(1000 + batch * 500, 500, "While away"), &ok);
      QVERIFY(ok);
      QVERIFY(converged({nodes[0].get(), nodes[1].get()}, "SELECT count(*) FROM Books",
                        QString::number(100 + (batch + 1) * 500)));
    }
    // The leader saved into the remote store on its own (growth rule), covering what the
    // stream no longer holds.
    auto nc = test::connectTo(QStringList{nats.url()});
    QVERIFY(nc.ok());
    auto js = test::jetStream(nc->get());
    QVERIFY(js.ok());
    QString why;
    const bool saved = test::waitFor(
        [&] {
          quint64 first = 0, last = 0;
          if (!streamState(js->get(), "harmonylite-changes-c-1", &first, &last)) return false;
          auto meta = latestSnapshotMeta(*remote.look);
          if (!meta) {
            why = meta.status().toString();
            return false;
          }
          const quint64 w = meta->streams.value("harmonylite-changes-c-1", 0);
          why = QStringLiteral("snapshot %1 covers up to %2, stream holds %3..%4")
                    .arg(meta->id)
                    .arg(w)
                    .arg(first)
                    .arg(last);
          return first > 1 && w + 1 >= first;
        },
        90000, 500);
    if (!saved)
      for (auto& n : nodes) qWarning().noquote() << "node log:\n" << n->log().right(8000);
    QVERIFY2(saved, qPrintable(why));
    qInfo().noquote() << store << why;
    QVERIFY2(remote.look->list().ok(), "the store cannot be listed");
    // Node 3 comes back behind the log and restores from the remote store.
    QVERIFY2(nodes[2]->start(90000).isOk(), qPrintable(nodes[2]->log()));
    QVERIFY2(test::waitFor([&] { return nodes[2]->log().contains("restored snapshot"); }, 90000),
             qPrintable(nodes[2]->log().right(6000)));
    QVERIFY(converged({nodes[0].get(), nodes[1].get(), nodes[2].get()},
                      "SELECT count(*) FROM Books", "3100"));
    const QString dump = nodes[0]->sql(kBooksDump);
    QVERIFY(converged({nodes[1].get(), nodes[2].get()}, kBooksDump, dump));
    for (auto& n : nodes)
      QCOMPARE(n->sql("SELECT count(*) FROM __harmonylite__dead_letters"), QString("0"));
    // The operator's commands against the same store, on a running node.
    test::ProcessResult r = nodes[1]->cli({"-list-snapshots"});
    QVERIFY2(r.exitCode == 0 && kSnapshotId.match(QString::fromUtf8(r.out)).hasMatch(),
             qPrintable(describe(r)));
    r = nodes[1]->cli({"-verify-snapshot"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    for (auto& n : nodes) QCOMPARE(n->stop(), 0);
    qInfo() << store << "scenario took" << timer.elapsed() << "ms";
  }

  // Scenario 7: an automatic restore that failed (no snapshot yet) is tried again by itself:
  // node 2 joins streams that aged out while its store is empty; once a snapshot is there, the
  // next attempt (30 s after the failure) restores it. (A timer that never fired kept such a
  // node behind for good.)
  void autoRestoreTriedAgainAfterAFailure() {
    test::NatsServer nats;
    QVERIFY2(nats.start().isOk(), "nats-server did not start");
    auto spec = [&](uint64_t id, const QString& store) {
      NodeSpec s;
      s.id = id;
      s.dir = m_dir.filePath(QStringLiteral("retry-node%1").arg(id));
      s.urls = {nats.url()};
      s.maxEntries = 100;
      s.snapshotKeys = "leader_ttl = 3000";
      s.localStore = store;
      return s;
    };
    const QString full = m_dir.filePath("retry-store-full");
    const QString empty = m_dir.filePath("retry-store-empty");
    Node a(spec(71, full));
    QVERIFY2(a.start().isOk(), qPrintable(a.log()));
    // 320 rows in batches of 40, each applied by node 1 itself before the next: the stream
    // (100 messages) ages out while node 1 never falls behind it.
    bool ok = false;
    for (int batch = 0; batch < 8; ++batch) {
      a.sql(insertBooks(1 + batch * 40, 40, "Aged out"), &ok);
      QVERIFY(ok);
      const QString applied = QString::number((batch + 1) * 40);
      QVERIFY2(test::waitFor(
                   [&] {
                     return a.sql(
                                "SELECT seq FROM __harmonylite__positions WHERE stream = "
                                "'harmonylite-changes-c-1'") == applied;
                   },
                   kConverge, 50),
               qPrintable(a.log().right(3000)));
    }
    // Node 1's own snapshot covers the stream's start.
    LocalStore fullStore(full);
    QString why;
    QVERIFY2(test::waitFor(
                 [&] {
                   auto meta = latestSnapshotMeta(fullStore);
                   if (!meta) return false;
                   why = QStringLiteral("snapshot %1 covers up to %2")
                             .arg(meta->id)
                             .arg(meta->streams.value("harmonylite-changes-c-1"));
                   return meta->streams.value("harmonylite-changes-c-1") >= 220;  // 221..320
                 },
                 60000, 200),
             qPrintable(why + "\n" + a.log().right(3000)));
    Node b(spec(72, empty));
    QVERIFY2(b.start().isOk(), qPrintable(b.log()));
    QVERIFY2(test::waitFor([&] { return b.log().contains("restore failed: no snapshot"); }, 30000),
             qPrintable(b.log().right(4000)));
    QElapsedTimer sinceFailure;
    sinceFailure.start();
    // The snapshots arrive in node 2's store (an operator copying them, say).
    QDirIterator it(full, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
      const QString from = it.next();
      const QString to = empty + '/' + QDir(full).relativeFilePath(from);
      QDir().mkpath(QFileInfo(to).absolutePath());
      QVERIFY(QFile::copy(from, to));
    }
    QVERIFY2(test::waitFor([&] { return b.log().contains("restored snapshot"); }, 90000),
             qPrintable(b.log().right(6000)));
    qInfo() << "restored" << sinceFailure.elapsed() << "ms after the failed attempt";
    QVERIFY(test::waitFor([&] { return b.sql(kBooksDump) == a.sql(kBooksDump); }, kConverge, 200));
    QCOMPARE(b.sql("SELECT count(*) FROM Books"), QString("320"));
    QCOMPARE(a.stop(), 0);
    QCOMPARE(b.stop(), 0);
  }

  // Scenario 3: an application reads the database all through a restore; it sees the old rows,
  // then the restored ones, and never an error.
  void applicationReadsThroughRestore() {
    QElapsedTimer timer;
    timer.start();
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    NodeSpec spec;
    spec.id = 31;
    spec.dir = m_dir.filePath("reader");
    spec.urls = {server.url()};
    spec.localStore = m_dir.filePath("reader-store");
    Node n(spec);
    QVERIFY2(n.start().isOk(), qPrintable(n.log()));
    bool ok = false;
    for (int batch = 0; batch < 4; ++batch) {
      n.sql(insertBooks(1 + batch * 5000, 5000, "Kept", 120), &ok);
      QVERIFY(ok);
    }
    QVERIFY(published(n));
    QCOMPARE(n.stop(), 0);
    test::ProcessResult r = n.cli({"-save-snapshot"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    const auto m = kSnapshotId.match(QString::fromUtf8(r.out));
    QVERIFY(m.hasMatch());
    const QString id = m.captured(1);
    const QString restoredCount = n.sql("SELECT count(*) FROM Books");
    QCOMPARE(restoredCount, QString("20000"));

    // The database goes its own way behind the node's back (no capture: nothing of it is in
    // the stream): rows deleted, others added.
    r = test::runProcess(test::harmonyliteBinary(),
                         {"-config", n.configPath(), "--no-gui", "-cleanup"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    n.sql("DELETE FROM Books WHERE id % 3 = 0;" + insertBooks(100000, 9000, "Diverged", 120), &ok);
    QVERIFY(ok);
    const QString divergedCount = n.sql("SELECT count(*) FROM Books");
    QVERIFY(divergedCount != restoredCount);

    const QString stopFile = m_dir.filePath("reader-stop");
    QProcess reader;
    reader.start(QStringLiteral(HL_SNAPSHOT_READER), {n.db(), "120000", stopFile});
    QVERIFY(reader.waitForStarted(5000));
    QByteArray seen;
    QVERIFY2(test::waitFor(
                 [&] {
                   seen += reader.readAllStandardOutput();
                   return seen.contains("count=" + divergedCount.toUtf8() + " ") ||
                          reader.state() == QProcess::NotRunning;
                 },
                 20000),
             seen.constData());
    QVERIFY2(reader.state() == QProcess::Running, seen.constData());

    auto restore = n.cliAsync({"-restore-snapshot=" + id});
    QVERIFY(test::waitFor([&] { return restore->state() == QProcess::NotRunning; }, 180000, 50));
    const QByteArray restoreOut = restore->readAllStandardOutput();
    QVERIFY2(restore->exitCode() == 0,
             qPrintable(restoreOut + restore->readAllStandardError().right(4000)));
    QVERIFY2(restoreOut.contains("restored snapshot " + id.toUtf8()), restoreOut.constData());
    // The reader sees the restored rows (from its next transaction after the copy committed).
    QVERIFY2(test::waitFor(
                 [&] {
                   seen += reader.readAllStandardOutput();
                   return seen.contains("count=" + restoredCount.toUtf8() + " ") ||
                          reader.state() == QProcess::NotRunning;
                 },
                 20000),
             seen.constData());
    QVERIFY(test::writeFile(stopFile, "stop"));
    QVERIFY(reader.waitForFinished(20000));
    seen += reader.readAllStandardOutput();
    const QString readerErr = QString::fromUtf8(reader.readAllStandardError());
    QVERIFY2(reader.exitStatus() == QProcess::NormalExit && reader.exitCode() == 0,
             qPrintable(seen + readerErr));
    QVERIFY2(seen.contains("last count=" + restoredCount.toUtf8() + " "), seen.constData());
    const auto reads = QRegularExpression("reads=([0-9]+)").match(QString::fromUtf8(seen));
    QVERIFY2(reads.hasMatch() && reads.captured(1).toInt() >= 10, seen.constData());
    // It saw the old database, then the restored one: nothing in between.
    QStringList counts;
    for (const QString& l : lines(seen))
      if (l.startsWith("count=")) counts << l.section(' ', 0, 0);
    QVERIFY2(counts == QStringList({"count=" + divergedCount, "count=" + restoredCount}),
             seen.constData());
    qInfo().noquote() << "reader:" << lines(seen).join(" | ");
    // The restored database is the snapshot's: the diverged rows are gone.
    QCOMPARE(n.sql("SELECT count(*) FROM Books WHERE title LIKE 'Diverged%'"), QString("0"));
    QCOMPARE(n.sql("PRAGMA integrity_check"), QString("ok"));
    qInfo() << "applicationReadsThroughRestore took" << timer.elapsed() << "ms";
  }

  // Scenario 3b: an application keeps writing (one row per transaction) while the node
  // restores: every row it committed is there afterwards. A row committed before the copy must
  // reach the stream (published, then replayed as the node's own), or wait for the copy and
  // be captured in the restored database; none may vanish with the old database.
  void applicationWritesThroughRestore() {
    QElapsedTimer timer;
    timer.start();
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    NodeSpec spec;
    spec.id = 32;
    spec.dir = m_dir.filePath("writer");
    spec.urls = {server.url()};
    spec.localStore = m_dir.filePath("writer-store");
    Node n(spec);
    QVERIFY2(n.start().isOk(), qPrintable(n.log()));
    bool ok = false;
    for (int batch = 0; batch < 4; ++batch) {
      n.sql(insertBooks(1 + batch * 5000, 5000, "Kept", 120), &ok);
      QVERIFY(ok);
    }
    QVERIFY(published(n));
    QCOMPARE(n.stop(), 0);
    int written = 0;
    for (int round = 1; round <= 3; ++round) {
      test::ProcessResult r = n.cli({"-save-snapshot"});
      QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
      // The application: a sqlite3 process committing one row per statement, fed while the
      // restore runs.
      QProcess writer;
      writer.start("sqlite3", {"-bail", "-cmd", ".timeout 20000", n.db()});
      QVERIFY(writer.waitForStarted(5000));
      auto restore = n.cliAsync({"-restore-snapshot"});
      const int before = written;
      while (restore->state() != QProcess::NotRunning && written - before < 20000) {
        writer.write(
            QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, 'Written', 'app');\n")
                .arg(500000 + written++)
                .toUtf8());
        writer.waitForBytesWritten(1000);
        QTest::qWait(2);  // pacing the application
      }
      writer.closeWriteChannel();
      QVERIFY(writer.waitForFinished(60000));
      QVERIFY2(writer.exitCode() == 0, writer.readAllStandardError().constData());
      QVERIFY(test::waitFor([&] { return restore->state() == QProcess::NotRunning; }, 180000));
      const QByteArray out = restore->readAllStandardOutput();
      if (restore->exitStatus() != QProcess::NormalExit || restore->exitCode() != 0 ||
          !out.contains("restored snapshot"))  // QVERIFY2 cuts its message at 1 KB: printed whole
        qWarning().noquote() << "the restore command"
                             << (restore->exitStatus() == QProcess::CrashExit ? "crashed, signal"
                                                                              : "exited with")
                             << restore->exitCode() << "\nstdout:\n"
                             << out << "\nstderr ends:\n"
                             << restore->readAllStandardError().right(8000);
      QVERIFY2(restore->exitCode() == 0 && out.contains("restored snapshot"),
               qPrintable(QStringLiteral("round %1: see the warning above").arg(round)));
      // The node runs again: it publishes what was captured and replays its own messages.
      QVERIFY2(n.start().isOk(), qPrintable(n.log()));
      QVERIFY(published(n));
      const QString expected = QString::number(written);
      const bool all = test::waitFor(
          [&] { return n.sql("SELECT count(*) FROM Books WHERE title = 'Written'") == expected; },
          30000, 200);
      const QString missing = n.sql(
          QStringLiteral(
              "WITH RECURSIVE s(i) AS (SELECT 500000 UNION ALL SELECT i + 1 FROM s WHERE i < %1) "
              "SELECT count(*) || ' missing: ' || ifnull(group_concat(i, ','), '') FROM s WHERE i "
              "NOT "
              "IN (SELECT id FROM Books)")
              .arg(500000 + written - 1));
      qInfo().noquote() << "round" << round << ":" << written - before
                        << "rows committed during the restore;" << missing;
      QVERIFY2(all, qPrintable(QStringLiteral("round %1: %2 of %3 committed rows, %4")
                                   .arg(round)
                                   .arg(n.sql("SELECT count(*) FROM Books WHERE title = 'Written'"))
                                   .arg(written)
                                   .arg(missing)));
      QCOMPARE(n.sql("SELECT count(*) FROM Books WHERE title LIKE 'Kept%'"), QString("20000"));
      QCOMPARE(n.stop(), 0);
    }
    qInfo() << "applicationWritesThroughRestore took" << timer.elapsed() << "ms";
  }

  // Scenario 4: one snapshot leader among 2, then 3 nodes; kill -9 of the leader hands the
  // lease to another node within leader_ttl (3 s) and some slack.
  void oneLeaderAndTakeOver() {
    QElapsedTimer timer;
    timer.start();
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    constexpr int kTtl = 3000;
    std::vector<std::unique_ptr<Node>> nodes;
    auto makeNode = [&](uint64_t id) {
      NodeSpec s;
      s.id = id;
      s.dir = m_dir.filePath(QStringLiteral("lease-node%1").arg(id));
      s.urls = {server.url()};
      s.snapshotKeys = QStringLiteral("leader_ttl = %1").arg(kTtl);
      s.healthPort = test::freePort();
      s.metricsPort = test::freePort();
      return std::make_unique<Node>(s);
    };
    // The running nodes that say they hold the lease (ids); -1 in the list when one did not
    // answer.
    auto leaders = [&] {
      QList<qint64> out;
      for (auto& n : nodes) {
        if (!n->isRunning()) continue;
        const double v = metric(n->spec.metricsPort, "snapshot_leader");
        if (v < 0) out << -1;
        if (v == 1) out << qint64(n->spec.id);
      }
      return out;
    };
    auto exactlyOne = [&](QList<qint64>* seen) {
      *seen = leaders();
      return seen->size() == 1 && seen->first() > 0;
    };
    // Every running node's /health names the same leader.
    auto healthAgrees = [&](qint64 leader) {
      for (auto& n : nodes) {
        if (!n->isRunning()) continue;
        const QJsonObject h = health(n->spec.healthPort);
        if (h.value("snapshots").toObject().value("leader_node_id").toInteger() != leader)
          return false;
      }
      return true;
    };
    // For `ms`, every sample shows the same single leader.
    auto stableFor = [&](int ms, qint64 leader, QString* why) {
      QElapsedTimer t;
      t.start();
      int samples = 0;
      while (t.elapsed() < ms) {
        const QList<qint64> seen = leaders();
        ++samples;
        if (seen != QList<qint64>{leader}) {
          QStringList ids;
          for (qint64 s : seen) ids << QString::number(s);
          *why = QStringLiteral("sample %1 after %2 ms: leaders [%3], expected [%4]")
                     .arg(samples)
                     .arg(t.elapsed())
                     .arg(ids.join(", "))
                     .arg(leader);
          return false;
        }
        QTest::qWait(200);  // sampling period
      }
      return samples > 5;
    };

    nodes.push_back(makeNode(41));
    nodes.push_back(makeNode(42));
    for (auto& n : nodes) QVERIFY2(n->start().isOk(), qPrintable(n->log()));
    QList<qint64> seen;
    QVERIFY2(test::waitFor([&] { return exactlyOne(&seen); }, 20000, 200),
             qPrintable(QStringLiteral("%1 leader(s)").arg(seen.size())));
    qint64 leader = seen.first();
    QVERIFY(test::waitFor([&] { return healthAgrees(leader); }, 10000, 200));
    QString why;
    QVERIFY2(stableFor(3000, leader, &why), qPrintable(why));

    // kill -9 of the leader: the other one takes the lease once it expired.
    Node* old = leader == 41 ? nodes[0].get() : nodes[1].get();
    old->kill();
    QElapsedTimer takeover;
    takeover.start();
    QVERIFY2(
        test::waitFor([&] { return exactlyOne(&seen) && seen.first() != leader; }, kTtl + 6000,
                      100),
        qPrintable(QStringLiteral("no new leader %1 ms after the kill").arg(takeover.elapsed())));
    const qint64 tookMs = takeover.elapsed();
    qInfo() << "the lease moved from" << leader << "to" << seen.first() << "in" << tookMs
            << "ms (leader_ttl" << kTtl << "ms)";
    QVERIFY2(tookMs <= kTtl + 4000, qPrintable(QString::number(tookMs)));
    leader = seen.first();

    // Three nodes: the killed one back and a third; still exactly one leader at a time.
    QVERIFY2(old->start().isOk(), qPrintable(old->log()));
    nodes.push_back(makeNode(43));
    QVERIFY2(nodes[2]->start().isOk(), qPrintable(nodes[2]->log()));
    QVERIFY(test::waitFor([&] { return healthAgrees(leader); }, 10000, 200));
    QVERIFY2(stableFor(5000, leader, &why), qPrintable(why));

    // Kill the leader of three: exactly one of the two others takes over.
    for (auto& n : nodes)
      if (qint64(n->spec.id) == leader) n->kill();
    takeover.restart();
    QVERIFY2(test::waitFor([&] { return exactlyOne(&seen) && seen.first() != leader; }, kTtl + 6000,
                           100),
             qPrintable(QStringLiteral("%1 leader(s)").arg(seen.size())));
    qInfo() << "among three: the lease moved from" << leader << "to" << seen.first() << "in"
            << takeover.elapsed() << "ms";
    QVERIFY2(takeover.elapsed() <= kTtl + 4000, qPrintable(QString::number(takeover.elapsed())));
    leader = seen.first();
    QVERIFY(test::waitFor([&] { return healthAgrees(leader); }, 10000, 200));
    QVERIFY2(stableFor(3000, leader, &why), qPrintable(why));
    for (auto& n : nodes)
      if (n->isRunning()) QCOMPARE(n->stop(), 0);
    qInfo() << "oneLeaderAndTakeOver took" << timer.elapsed() << "ms";
  }

  // Scenario 5: two nodes save into one bucket at the same moment: both succeed, or one says
  // another node is uploading; the latest snapshot is whole and verifies.
  void twoSavesAtOnce() {
    QElapsedTimer timer;
    timer.start();
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    std::vector<std::unique_ptr<Node>> nodes;
    for (uint64_t id : {51, 52}) {
      NodeSpec s;
      s.id = id;
      s.dir = m_dir.filePath(QStringLiteral("concurrent-node%1").arg(id));
      s.urls = {server.url()};
      s.snapshotKeys = "[snapshot.nats]\nbucket = \"shared-snapshots\"";
      nodes.push_back(std::make_unique<Node>(s));
      QVERIFY(nodes.back()->ensureSchema().isOk());
      // Megabytes, so that making and uploading them takes a moment and the two overlap.
      bool ok = false;
      for (int batch = 0; batch < 4; ++batch) {
        nodes.back()->sql(insertBooks(int(id) * 100000 + batch * 5000, 5000, "Saved", 300), &ok);
        QVERIFY(ok);
      }
    }
    struct Outcome {
      int code;
      QString out, err;
    };
    auto outcome = [](QProcess& p) {
      return Outcome{p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
                     QString::fromUtf8(p.readAllStandardOutput()),
                     QString::fromUtf8(p.readAllStandardError())};
    };
    // The id the catalogue marks latest ("" when none).
    auto latestId = [&](QString* listing) {
      const test::ProcessResult r = nodes[0]->cli({"-list-snapshots"});
      *listing = describe(r);
      if (r.exitCode != 0) return QString();
      for (const QString& l : lines(r.out))
        if (l.contains("  latest") && kSnapshotId.match(l).hasMatch())
          return kSnapshotId.match(l).captured(1);
      return QString();
    };
    auto verified = [&](const QString& id, QString* why) {
      const test::ProcessResult r = nodes[1]->cli({"-verify-snapshot=" + id});
      *why = describe(r);
      return r.exitCode == 0 && r.out.contains("verified ok");
    };

    // The race, a few times: both start at once; each makes its file, then takes the upload
    // key. Both succeed (one after the other), or one is refused because the other uploads.
    int refused = 0;
    for (int round = 1; round <= 3; ++round) {
      auto a = nodes[0]->cliAsync({"-save-snapshot"});
      auto b = nodes[1]->cliAsync({"-save-snapshot"});
      QVERIFY(test::waitFor(
          [&] { return a->state() == QProcess::NotRunning && b->state() == QProcess::NotRunning; },
          180000, 50));
      const Outcome oa = outcome(*a), ob = outcome(*b);
      const QString both = QStringLiteral("node 51: exit %1 %2\n%3\nnode 52: exit %4 %5\n%6")
                               .arg(oa.code)
                               .arg(oa.out, oa.err.right(3000))
                               .arg(ob.code)
                               .arg(ob.out, ob.err.right(3000));
      qInfo().noquote() << "round" << round << "node 51:" << oa.code
                        << (oa.code == 0 ? oa.out.trimmed() : commandErrorsOf(oa.err))
                        << "| node 52:" << ob.code
                        << (ob.code == 0 ? ob.out.trimmed() : commandErrorsOf(ob.err));
      QStringList saved;
      for (const Outcome* o : {&oa, &ob}) {
        if (o->code == 0) {
          const auto m = kSnapshotId.match(o->out);
          QVERIFY2(m.hasMatch(), qPrintable(both));
          saved << m.captured(1);
        } else {
          // Refused because the other one was uploading: one line saying so.
          ++refused;
          const QStringList own = lines(commandErrorsOf(o->err).toUtf8());
          QVERIFY2(own.size() == 1 &&
                       (own.first().contains("uploading") || own.first().contains("upload lock")),
                   qPrintable(both));
        }
      }
      QVERIFY2(!saved.isEmpty(), qPrintable(both));
      // The catalogue's latest is one of them, whole: it verifies; so does every one saved.
      QString listing, why;
      const QString latest = latestId(&listing);
      QVERIFY2(saved.contains(latest), qPrintable(listing + "\nsaved: " + saved.join(", ")));
      for (const QString& id : saved) QVERIFY2(verified(id, &why), qPrintable(why));
    }
    qInfo() << refused << "of 6 saves were refused because the other node was uploading";

    // Deterministically: while another node (99, say a Go node) holds the upload key, a save is
    // refused with one line naming it, and the latest snapshot stays whole.
    auto nc = test::connectTo(server.url());
    QVERIFY(nc.ok());
    QString listing, why;
    const QString latestBefore = latestId(&listing);
    QVERIFY2(!latestBefore.isEmpty(), qPrintable(listing));
    {
      LeaderLease other(nc->get(), 99, 1);
      const LeaseState held =
          other.tryAcquire(kUploadKey, 60000, QDateTime::currentMSecsSinceEpoch());
      QVERIFY2(held.held, qPrintable(held.error));
      expectRefused(*nodes[0], {"-save-snapshot"}, {"node 99", "uploading"}, nodes[0]->userDump());
      QCOMPARE(latestId(&listing), latestBefore);
      QVERIFY2(verified(latestBefore, &why), qPrintable(why));
      other.release(kUploadKey);
    }
    // Given back: the save goes through.
    const test::ProcessResult r = nodes[0]->cli({"-save-snapshot"});
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    const QString after = kSnapshotId.match(QString::fromUtf8(r.out)).captured(1);
    QVERIFY2(!after.isEmpty() && latestId(&listing) == after, qPrintable(listing));
    QVERIFY2(verified(after, &why), qPrintable(why));
    qInfo() << "twoSavesAtOnce took" << timer.elapsed() << "ms";
  }
};

QTEST_GUILESS_MAIN(TestSnapshots)
#include "tst_snapshots.moc"
