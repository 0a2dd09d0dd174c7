// Schema changes across a running cluster (docs/schema-changes.md) with real processes: one
// nats-server, three harmonylite nodes (2 shards), writes made by the sqlite3 program while the
// schema changes node by node.
//   1. The deployment guide's rolling upgrade: each node in turn stopped, ALTER TABLE users ADD
//      COLUMN email with sqlite3, started. Old nodes pause the shard that carries rows with
//      email (and only that shard: the other one keeps applying the other table), the CLI says
//      the nodes disagree; after the last node every database is identical, emails written early
//      included, with no dead letter and no lost row.
//   2. The same with ALTER TABLE made while the nodes run: noticed without a restart, and a
//      paused shard resumes by itself once its node has the column.
//   3. A new table replicates once it exists everywhere; a dropped table stops replicating
//      without dead letters.
//   4. -schema-status and -schema-status-cluster (exit 0 agree, 1 differ, 2 NATS unreachable).
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "node_process.h"
#include "test_support.h"
#include "wire/shard.h"

using namespace hl;
using test::NodeProcess;

namespace {
constexpr int kShards = 2;
constexpr int kConverge = 60000;
constexpr int kNodes = 3;
const char* kSchema =
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE Authors(id INTEGER PRIMARY KEY, name TEXT NOT NULL, birth_year INTEGER);";

int shardOf(const QString& table, int64_t id) {
  return shardFor(table, {{QStringLiteral("id"), Value::integer(id)}}, kShards);
}

QString usersDump(const QString& extraColumns = {}) {
  return QStringLiteral(
             "SELECT count(*) || ':' || ifnull(group_concat(id || '|' || name%1, ';'), '') FROM "
             "(SELECT * FROM users ORDER BY id)")
      .arg(extraColumns);
}
const char* kAuthorsDump =
    "SELECT count(*) || ':' || ifnull(group_concat(id || '|' || name || '|' || "
    "ifnull(birth_year, 'N'), ';'), '') FROM (SELECT * FROM Authors ORDER BY id)";
}  // namespace

class TestSchemaChanges : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  std::unique_ptr<test::NatsServer> m_server;
  std::vector<std::unique_ptr<NodeProcess>> m_nodes;
  QList<int> m_healthPorts;
  int64_t m_nextId = 1;
  int m_users = 0;  // users rows written so far

  QList<NodeProcess*> nodes() { return test::rawPointers(m_nodes); }
  NodeProcess& node(int i) { return *m_nodes[size_t(i)]; }

  // /health of node i, once the node has built its first status (until then it says
  // "starting" without a schema).
  QJsonObject health(int i) {
    QJsonObject o;
    test::waitFor(
        [&] {
          QByteArray body;
          if (test::httpGet(m_healthPorts[i], "/health", &body) == 0) return false;
          o = QJsonDocument::fromJson(body).object();
          return !o.value("schema").toObject().value("hash").toString().isEmpty();
        },
        10000, 50);
    return o;
  }
  QString hashOf(int i) { return health(i).value("schema").toObject().value("hash").toString(); }
  QJsonObject pausedShard(int i, int shard) {
    for (const QJsonValue& v :
         health(i).value("schema").toObject().value("paused_shards").toArray())
      if (v.toObject().value("shard").toInt() == shard) return v.toObject();
    return {};
  }
  int pausedCount(int i) {
    return int(health(i).value("schema").toObject().value("paused_shards").toArray().size());
  }
  qint64 deadLetters(int i) { return health(i).value("dead_letters").toInteger(-1); }

  // Fresh ids whose `table` rows fall on `shard` (0 = any).
  QList<int64_t> ids(const QString& table, int shard, int count) {
    QList<int64_t> out;
    while (out.size() < count) {
      const int64_t id = m_nextId++;
      if (shard == 0 || shardOf(table, id) == shard) out << id;
    }
    return out;
  }

  // Every running node writes users rows and Authors rows (the Authors rows on shard 2). A
  // node listed in `withColumn` writes its users rows with that column set, on shard 1 only.
  // Returns the Authors ids written.
  QList<int64_t> writeRound(const QSet<int>& withColumn, const QString& column = "email") {
    QList<int64_t> authors;
    for (int i = 0; i < kNodes; ++i) {
      if (!node(i).isRunning()) continue;
      QString sql = "BEGIN;";
      const bool extended = withColumn.contains(i);
      for (int64_t id : ids("users", extended ? 1 : 0, 3)) {
        sql += extended ? QStringLiteral(
                              "INSERT INTO users(id, name, %3) VALUES (%1, 'u%1', "
                              "'%3-%1@n%2');")
                              .arg(id)
                              .arg(i + 1)
                              .arg(column)
                        : QStringLiteral("INSERT INTO users(id, name) VALUES (%1, 'u%1');").arg(id);
        ++m_users;
      }
      for (int64_t id : ids("Authors", 2, 2)) {
        sql += QStringLiteral("INSERT INTO Authors(id, name, birth_year) VALUES (%1, 'a%1', %2);")
                   .arg(id)
                   .arg(1900 + i);
        authors << id;
      }
      sql += "COMMIT;";
      bool ok = false;
      node(i).sql(sql, &ok);
      if (!ok) qWarning() << "write on node" << i + 1 << "failed";
    }
    return authors;
  }

  bool hasAuthors(int i, const QList<int64_t>& authors) {
    QStringList list;
    for (int64_t id : authors) list << QString::number(id);
    return node(i).sql(QStringLiteral("SELECT count(*) FROM Authors WHERE id IN (%1)")
                           .arg(list.join(','))) == QString::number(authors.size());
  }

  void dumpLogs() {
    for (int i = 0; i < kNodes; ++i)
      qWarning().noquote() << "---- node" << i + 1 << "----\n" << node(i).log().right(4000);
  }

  // Every node: no shard paused, no dead letter.
  bool allRunning() {
    for (int i = 0; i < kNodes; ++i)
      if (pausedCount(i) != 0) return false;
    return true;
  }

  int runCli(int i, const QString& flag, QString* output, const QString& config = {}) {
    QProcess p;
    p.start(test::harmonyliteBinary(),
            {"-config", config.isEmpty() ? node(i).configPath() : config, flag});
    if (!p.waitForFinished(30000)) return -1;
    *output = QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
    return p.exitCode();
  }

 private slots:
  void initTestCase() {
    m_dir.setAutoRemove(!qEnvironmentVariableIsSet("HL_KEEP_TEST_DIRS"));
    m_server = std::make_unique<test::NatsServer>(test::NatsServer::Options{});
    const Status s = m_server->start();
    QVERIFY2(s.isOk(), qPrintable(s.message()));
    for (int i = 0; i < kNodes; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(i + 1);
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(i + 1));
      o.schema = kSchema;
      o.urls = {m_server->url()};
      o.shards = kShards;
      m_healthPorts << test::freePort();
      o.healthPort = m_healthPorts.last();
      o.healthDetailed = true;
      m_nodes.push_back(std::make_unique<NodeProcess>(o));
    }
    for (auto& n : m_nodes) {
      const Status st = n->start();
      QVERIFY2(st.isOk(), qPrintable(st.message()));
    }
  }

  void cleanupTestCase() {
    for (auto& n : m_nodes) {
      if (!n->isRunning()) continue;
      const int rc = n->stop();
      if (rc != 0) qWarning().noquote() << "node exit" << rc << n->log().right(3000);
    }
  }

  // The guide's workflow, node by node: stop, sqlite3 ALTER TABLE, start.
  void rollingUpgradeStopAlterStart() {
    writeRound({});
    QVERIFY(test::waitConverged(nodes(), usersDump(), kConverge));
    const QString before = hashOf(0);
    QVERIFY(!before.isEmpty());
    QSet<int> upgraded;
    qint64 maxRedeliveries = 0;
    QElapsedTimer sinceLast;
    for (int k = 0; k < kNodes; ++k) {
      QCOMPARE(node(k).stop(), 0);
      bool ok = false;
      node(k).sql("ALTER TABLE users ADD COLUMN email TEXT", &ok);
      QVERIFY(ok);
      const Status st = node(k).start();
      QVERIFY2(st.isOk(), qPrintable(st.message()));
      sinceLast.start();
      upgraded << k;
      const QString after = hashOf(k);
      QVERIFY(after != before);
      QCOMPARE(health(k).value("schema").toObject().value("previous_hash").toString(), before);
      const QList<int64_t> authors = writeRound(upgraded);
      if (k == kNodes - 1) break;
      // Every old node pauses shard 1 on a row with email, sent by an upgraded node, and keeps
      // applying shard 2 (the Authors rows of every node, the upgraded ones included).
      for (int old = k + 1; old < kNodes; ++old) {
        const bool paused = test::waitFor(
            [&] {
              const QJsonObject p = pausedShard(old, 1);
              return p.value("waiting_for_hash").toString() == after &&
                     upgraded.contains(int(p.value("from_node_id").toInteger()) - 1) &&
                     p.value("reason").toString() == "no column email in users";
            },
            kConverge);
        if (!paused) dumpLogs();
        QVERIFY2(paused, qPrintable(QJsonDocument(health(old)).toJson()));
        QVERIFY(pausedShard(old, 2).isEmpty());
        QVERIFY2(test::waitFor([&] { return hasAuthors(old, authors); }, kConverge),
                 qPrintable(node(old).sql(kAuthorsDump)));
        QCOMPARE(health(old).value("status").toString(), QString("healthy"));
        QCOMPARE(deadLetters(old), 0);
        maxRedeliveries =
            std::max(maxRedeliveries, pausedShard(old, 1).value("redeliveries").toInteger());
      }
      QString out;
      QCOMPARE(runCli(0, "-schema-status-cluster", &out), 1);
      QVERIFY2(out.contains("the nodes disagree (2 schemas)"), qPrintable(out));
      QVERIFY2(out.contains("column missing"), qPrintable(out));
    }
    const QString emails = usersDump(" || '|' || ifnull(email, 'N')");
    const bool converged = test::waitFor([&] { return allRunning(); }, kConverge) &&
                           test::waitConverged(nodes(), emails, kConverge) &&
                           test::waitConverged(nodes(), kAuthorsDump, kConverge);
    const qint64 resumedMs = sinceLast.elapsed();
    if (!converged) dumpLogs();
    QVERIFY(converged);
    QVERIFY2(node(2).sql(emails).startsWith(QString::number(m_users) + ':'),
             qPrintable(node(2).sql("SELECT count(*) FROM users")));
    // Emails written on the first upgraded node while the others were old are everywhere.
    QVERIFY(node(2).sql("SELECT count(*) FROM users WHERE email LIKE '%@n1'").toInt() >= 3);
    for (int i = 0; i < kNodes; ++i) QCOMPARE(deadLetters(i), 0);
    qInfo().noquote() << QStringLiteral(
                             "MEASURED rolling upgrade: last node started -> all shards resumed "
                             "and databases identical in %1 ms; redeliveries of a paused "
                             "message: at most %2")
                             .arg(resumedMs)
                             .arg(maxRedeliveries);
    QString out;
    QVERIFY(test::waitFor([&] { return runCli(0, "-schema-status-cluster", &out) == 0; }, 15000));
    QVERIFY2(out.contains("all 3 node(s) agree on schema " + hashOf(0)), qPrintable(out));
  }

  // ALTER TABLE while the nodes run: noticed without a restart; a paused shard resumes by itself
  // within about a second of its node getting the column.
  void alterWhileRunning() {
    const QString before = hashOf(0);
    QElapsedTimer noticed;
    noticed.start();
    bool ok = false;
    node(0).sql("ALTER TABLE users ADD COLUMN phone TEXT", &ok);
    QVERIFY(ok);
    QVERIFY(test::waitFor([&] { return hashOf(0) != before; }, 10000));
    const qint64 noticedMs = noticed.elapsed();
    const QString after = hashOf(0);
    // Capture was re-created for the new column: a row written now carries it.
    writeRound({0}, "phone");
    for (int old = 1; old < kNodes; ++old)
      QVERIFY2(
          test::waitFor(
              [&] { return pausedShard(old, 1).value("waiting_for_hash").toString() == after; },
              kConverge),
          qPrintable(QJsonDocument(health(old)).toJson()));
    qint64 resumeMs = 0;
    for (int k = 1; k < kNodes; ++k) {
      QElapsedTimer resumed;
      resumed.start();
      node(k).sql("ALTER TABLE users ADD COLUMN phone TEXT", &ok);
      QVERIFY(ok);
      QVERIFY2(test::waitFor([&] { return pausedShard(k, 1).isEmpty(); }, 10000),
               qPrintable(QJsonDocument(health(k)).toJson()));
      resumeMs = std::max(resumeMs, resumed.elapsed());
      if (k + 1 < kNodes) QVERIFY(!pausedShard(k + 1, 1).isEmpty());  // still old: still waits
    }
    const QString phones = usersDump(" || '|' || ifnull(phone, 'N')");
    QVERIFY(test::waitConverged(nodes(), phones, kConverge));
    QVERIFY(node(2).sql("SELECT count(*) FROM users WHERE phone IS NOT NULL").toInt() >= 3);
    for (int i = 0; i < kNodes; ++i) QCOMPARE(deadLetters(i), 0);
    qInfo().noquote() << QStringLiteral(
                             "MEASURED ALTER while running: noticed (hash in /health) after %1 ms; "
                             "paused shard resumed at most %2 ms after its node's ALTER")
                             .arg(noticedMs)
                             .arg(resumeMs);
  }

  // A table created on every node in turn replicates once present everywhere; a dropped table
  // stops replicating without dead letters.
  void newTableThenDroppedTable() {
    bool ok = false;
    node(0).sql("CREATE TABLE tags(id INTEGER PRIMARY KEY, label TEXT)", &ok);
    QVERIFY(ok);
    QVERIFY(test::waitFor([&] { return health(0).value("tables_tracked").toInt() == 3; }, 10000));
    node(0).sql("INSERT INTO tags(id, label) VALUES (1, 'one'), (2, 'two'), (3, 'three')", &ok);
    QVERIFY(ok);
    for (int old = 1; old < kNodes; ++old) {
      QVERIFY2(test::waitFor([&] { return pausedCount(old) > 0; }, kConverge),
               qPrintable(QJsonDocument(health(old)).toJson()));
      const QJsonArray paused =
          health(old).value("schema").toObject().value("paused_shards").toArray();
      QCOMPARE(paused.first().toObject().value("reason").toString(), QString("no table tags"));
    }
    for (int k = 1; k < kNodes; ++k) {
      node(k).sql("CREATE TABLE tags(id INTEGER PRIMARY KEY, label TEXT)", &ok);
      QVERIFY(ok);
    }
    const char* tags =
        "SELECT group_concat(id || label, ',') FROM (SELECT * FROM tags ORDER BY id)";
    QVERIFY(test::waitConverged(nodes(), tags, kConverge, "1one,2two,3three"));
    QVERIFY(test::waitFor([&] { return allRunning(); }, kConverge));

    // Dropped on node 1; node 2 still writes to it: node 1 skips those changes.
    node(0).sql("DROP TABLE tags", &ok);
    QVERIFY(ok);
    QVERIFY(test::waitFor([&] { return health(0).value("tables_tracked").toInt() == 2; }, 10000));
    node(1).sql("INSERT INTO tags(id, label) VALUES (4, 'four')", &ok);
    QVERIFY(ok);
    QVERIFY(
        test::waitFor([&] { return node(2).sql("SELECT count(*) FROM tags") == "4"; }, kConverge));
    for (int k = 1; k < kNodes; ++k) {
      node(k).sql("DROP TABLE tags", &ok);
      QVERIFY(ok);
    }
    // Replication goes on: a row written after the drops reaches every node, past node 1's
    // skipped changes.
    writeRound({}, "email");
    QVERIFY(test::waitConverged(nodes(), usersDump(), kConverge));
    QVERIFY(test::waitFor([&] { return allRunning(); }, kConverge));
    for (int i = 0; i < kNodes; ++i) {
      QCOMPARE(deadLetters(i), 0);
      QCOMPARE(node(i).sql("SELECT count(*) FROM sqlite_schema WHERE name = 'tags'"), QString("0"));
    }
  }

  // The command line: -schema-status prints what /health says; -schema-status-cluster's exit
  // status is 2 when NATS cannot be reached.
  void commandLine() {
    QString out;
    QCOMPARE(runCli(1, "-schema-status", &out), 0);
    // The running node noticed every change the CLI reads from the file.
    QVERIFY2(test::waitFor([&] { return out.contains("schema hash:    " + hashOf(1)); }, 10000),
             qPrintable(out + "\n/health: " + hashOf(1)));
    const QString previous = health(1).value("schema").toObject().value("previous_hash").toString();
    QVERIFY2(out.contains("previous hash:  " + (previous.isEmpty() ? "(none)" : previous)),
             qPrintable(out));
    QVERIFY2(out.contains("node id:        2"), qPrintable(out));
    QVERIFY2(out.contains("users (id INTEGER [key 1], name TEXT NOT NULL"), qPrintable(out));
    // A config whose NATS server is not there.
    const QString bad = m_dir.filePath("unreachable.toml");
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(
        QStringLiteral("db_path = \"%1\"\nnode_id = 9\n[nats]\nurls = [\"nats://127.0.0.1:%2\"]\n")
            .arg(node(1).db())
            .arg(test::freePort())
            .toUtf8());
    f.close();
    QCOMPARE(runCli(1, "-schema-status-cluster", &out, bad), 2);
    QVERIFY2(!out.isEmpty(), "an unreachable NATS says why");
  }
};

QTEST_GUILESS_MAIN(TestSchemaChanges)
#include "tst_schema_changes.moc"
