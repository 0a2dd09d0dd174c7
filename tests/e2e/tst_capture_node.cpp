// The running node captures changes of a database that the sqlite3 program writes: a table
// created while it runs is captured at once (no restart), -cleanup removes every
// __harmonylite__ object, the next start re-installs them, publish = false installs none.
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <signal.h>

#include "test_support.h"

using namespace hl;

class TestCaptureNode : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  QString sqlite(const QString& db, const QString& sql) {
    const auto r = test::runProcess("sqlite3", {"-cmd", ".timeout 5000", db, sql});
    if (r.exitCode != 0) qWarning() << "sqlite3 failed:" << r.err;
    return QString::fromUtf8(r.out).trimmed();
  }

  int captureTriggers(const QString& db) {
    return sqlite(db,
                  "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND "
                  "substr(name, 1, 15) = '__harmonylite__'")
        .toInt();
  }

  int internalObjects(const QString& db) {
    return sqlite(db,
                  "SELECT count(*) FROM sqlite_schema WHERE substr(name, 1, 15) = "
                  "'__harmonylite__'")
        .toInt();
  }

  QString config(const QString& name, const QString& db, const QString& extra = {}) {
    const QString path = m_dir.filePath(name);
    test::writeFile(path, ("db_path = \"" + db + "\"\nnode_id = 4\n" + extra).toUtf8());
    return path;
  }

  // Starts a node and waits until it says it is running.
  std::unique_ptr<QProcess> startNode(const QString& configPath, QByteArray* err) {
    auto p = std::make_unique<QProcess>();
    p->start(test::harmonyliteBinary(), {"-config", configPath, "--no-gui"});
    if (!p->waitForStarted()) return nullptr;
    test::waitFor(
        [&] {
          *err += p->readAllStandardError();
          return err->contains("node running") || p->state() == QProcess::NotRunning;
        },
        20000);
    return p;
  }

  int stopNode(QProcess& p) {
    ::kill(pid_t(p.processId()), SIGTERM);
    if (!p.waitForFinished(15000)) return -1;
    return p.exitCode();
  }

 private slots:
  void newTableCapturedWhileRunning() {
    const QString db = m_dir.filePath("live.db");
    sqlite(db, "CREATE TABLE books(id INTEGER PRIMARY KEY, title TEXT)");
    QByteArray err;
    auto node = startNode(config("live.toml", db, "cleanup_interval = 600000\n"), &err);
    QVERIFY(node && node->state() == QProcess::Running);
    // Insert, update, delete, and the BEFORE INSERT trigger of a keep-both table (the default
    // for an INTEGER PRIMARY KEY, docs/replication.md#insert-collisions).
    QCOMPARE(captureTriggers(db), 4);
    sqlite(db, "CREATE TABLE authors(id INTEGER PRIMARY KEY, name TEXT)");
    // Noticed through PRAGMA schema_version on the next file event, not by a slow timer.
    // (15 s: a loaded machine's margin; a missed wake-up waits for the 600 s cleanup.)
    QVERIFY2(test::waitFor([&] { return captureTriggers(db) == 8; }, 15000), err.constData());
    // Captured (and, with the embedded NATS server, published: nothing stays pending).
    const int before = sqlite(db, "SELECT max(id) FROM __harmonylite__changes").toInt();
    sqlite(db,
           "INSERT INTO authors VALUES (1, 'Le Guin'); INSERT INTO books VALUES (1, 'Earthsea')");
    // Changes after `before` (not counting the marks of keys the application chose).
    const QString since =
        QStringLiteral("SELECT count(*) FROM __harmonylite__changes WHERE op > 0 AND id > %1")
            .arg(before);
    QCOMPARE(sqlite(db, since).toInt(), 2);
    sqlite(db, "ALTER TABLE books ADD COLUMN year INTEGER");
    sqlite(db, "INSERT INTO books VALUES (2, 'The Dispossessed', 1974)");  // still writable
    QCOMPARE(sqlite(db, since).toInt(), 3);
    QVERIFY(test::waitFor(
        [&] {
          return sqlite(db, "SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL") ==
                 "0";
        },
        10000));
    QCOMPARE(stopNode(*node), 0);
  }

  // One row written by the sqlite3 program (a separate process, which exits at once) is
  // published within moments, not at the next cleanup or poll: the node must not stop looking
  // when its wake-up comes before SQLite has made the commit visible. Nothing touches the
  // database while the test waits; it watches /health, which answers from the status.
  void singleWriteByAnotherProcessIsPublishedPromptly() {
    const QString db = m_dir.filePath("prompt.db");
    sqlite(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);");
    const int port = test::freePort();
    const QString path =
        config("prompt.toml", db,
               QStringLiteral("cleanup_interval = 600000\npolling_interval = 0\n"
                              "[health_check]\nenable = true\nbind = \"127.0.0.1:%1\"\n")
                   .arg(port));
    QByteArray err;
    auto node = startNode(path, &err);
    QVERIFY2(node && node->state() == QProcess::Running, err.constData());
    auto publishedCount = [&]() -> qint64 {
      QByteArray body;
      if (test::httpGet(port, "/health", &body) <= 0) return -1;
      return QJsonDocument::fromJson(body).object().value("published").toInteger(-1);
    };
    QVERIFY(test::waitFor([&] { return publishedCount() == 0; }, 10000));
    for (int i = 1; i <= 5; ++i) {
      sqlite(db, QStringLiteral("INSERT INTO t(v) VALUES('write %1');").arg(i));
      QElapsedTimer t;
      t.start();
      QVERIFY2(test::waitFor([&] { return publishedCount() == i; }, 15000),
               qPrintable(QStringLiteral("write %1 not published within 15 s").arg(i)));
      qInfo() << "write" << i << "published after" << t.elapsed() << "ms";
    }
    QCOMPARE(stopNode(*node), 0);
  }

  void cleanupRemovesAndStartReinstalls() {
    const QString db = m_dir.filePath("clean.db");
    sqlite(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
    const QString conf = config("clean.toml", db);
    QByteArray err;
    auto node = startNode(conf, &err);
    QVERIFY(node);
    QCOMPARE(stopNode(*node), 0);
    QVERIFY(internalObjects(db) > 0);
    sqlite(db, "INSERT INTO t VALUES (1, 'kept')");

    const auto cleanup = test::runProcess(test::harmonyliteBinary(), {"-config", conf, "-cleanup"});
    QCOMPARE(cleanup.exitCode, 0);
    QCOMPARE(internalObjects(db), 0);
    QCOMPARE(sqlite(db, "SELECT v FROM t"), QString("kept"));  // application data untouched

    err.clear();
    node = startNode(conf, &err);
    QVERIFY(node);
    QCOMPARE(captureTriggers(db), 4);
    QCOMPARE(stopNode(*node), 0);
  }

  void cleanupOfAMissingDatabaseFails() {
    const QString conf = config("missing.toml", m_dir.filePath("nope/missing.db"));
    const auto r = test::runProcess(test::harmonyliteBinary(), {"-config", conf, "-cleanup"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.err.contains("does not exist"));
  }

  void publishFalseInstallsNoTriggers() {
    const QString db = m_dir.filePath("replica.db");
    sqlite(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
    QByteArray err;
    auto node = startNode(config("replica.toml", db, "publish = false\n"), &err);
    QVERIFY(node);
    QVERIFY(err.contains("publish = false"));
    QCOMPARE(sqlite(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"), QString("0"));
    QCOMPARE(stopNode(*node), 0);
  }
};

QTEST_GUILESS_MAIN(TestCaptureNode)
#include "tst_capture_node.moc"
