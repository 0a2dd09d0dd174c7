// hl_chaos: the chaos suite (docs/chaos.md). Starts a 3-node cluster of real harmonylite
// processes on a 3-server NATS cluster (replicas = 3), runs a writer on every node's database
// (inserts, updates and deletes of the node's own rows, hot rows written by every node at once, a
// few large rows, inserts whose keys SQLite assigns and so collide across nodes), and injects one
// fault per round, chosen by a seed that the report prints so any
// run can be replayed. After each round it heals everything, waits for quiet, and checks:
//   - every database is identical, table by table, value by value;
//   - no lost write: every own row holds the value of its writer's last committed write (or is
//     absent after a committed delete);
//   - hot rows hold a value some writer committed for them;
//   - every committed insert of an assigned key is there exactly once (keep-both moved the ones
//     that collided: docs/replication.md#insert-collisions), whatever its key;
//   - no dead letter, no conflict outside the hot rows and those collisions;
//   - every node healthy again (time reported).
// It writes chaos-report.md and chaos-report.json and exits 0 when every round passed, 1 when a
// round lost or diverged anything, 2 when the set-up failed.
//
// Usage: hl_chaos [--rounds N] [--seed S] [--faults a,b,...] [--fault-seconds T or A-B]
//                 [--topology external|embedded] [--in-order] [--check-the-checker] [--report DIR]
//                 [--keep-logs]
// Faults: kill-node, kill-nats, kill-both, stop-node, stop-nats, restart-nats-cluster,
// partition-node, partition-nats, partition-pair, disk-full, kill-during-snapshot,
// kill-during-restore. The partitions and the full disk need the harness's own network and mount
// namespaces (isolation.h): hl_chaos runs itself again inside them, or, where they cannot be
// made, leaves those faults out and says so.
// Thread: one (the harness drives the processes and the writers in turn).
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QThread>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "isolation.h"
#include "node_process.h"
#include "sqlite/sqlite_db.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {

constexpr int kNodes = 3;
constexpr int kHotRows = 5;
constexpr int kDiskMb = 1536;  // each node's folder (a tmpfs when isolated)
const QStringList kAllFaults = {"kill-node",
                                "kill-nats",
                                "kill-both",
                                "stop-node",
                                "stop-nats",
                                "restart-nats-cluster",
                                "partition-node",
                                "partition-nats",
                                "partition-pair",
                                "disk-full",
                                "kill-during-snapshot",
                                "kill-during-restore"};
const char* kSchema =
    "CREATE TABLE own(k INTEGER PRIMARY KEY, v TEXT NOT NULL, big TEXT);"
    "CREATE TABLE hot(k INTEGER PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE ev(k INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL);";

void say(const QString& line) {
  std::fprintf(stderr, "%s %s\n",
               qPrintable(QDateTime::currentDateTimeUtc().toString("hh:mm:ss.zzz")),
               qPrintable(line));
  std::fflush(stderr);
}

// What a writer committed to one row, in commit order: nullopt = deleted.
using History = std::vector<std::optional<QString>>;

// One writer per node: works on the node's database file with its own connection, as an
// application does, and records every write that committed.
class Writer {
 public:
  Writer(int node, QString dbPath, QRandomGenerator* rng)
      : m_node(node), m_path(std::move(dbPath)), m_rng(rng) {}

  bool open() {
    SqliteDb::Options o;
    o.busyTimeoutMs = 5000;
    auto db = SqliteDb::open(m_path, o);
    if (!db) return false;
    m_db = std::move(*db);
    return true;
  }

  // One write; recorded only when it committed.
  void step() {
    const int pick = int(m_rng->bounded(100));
    QString sql;
    int64_t key = 0;
    std::optional<QString> value;
    bool hot = false;
    const QString v = QStringLiteral("n%1-%2").arg(m_node).arg(++m_seq);
    if (pick >= 95) {  // SQLite assigns the key: the same one on several nodes at once
      if (m_db.exec(QStringLiteral("INSERT INTO ev(v) VALUES ('%1')").arg(v)).isOk()) {
        ++m_committed;
        m_events.push_back(v);
      } else {
        ++m_failed;
      }
      return;
    }
    if (pick < 15) {
      hot = true;
      key = 1 + m_rng->bounded(kHotRows);
      value = v;
      sql = QStringLiteral(
                "INSERT INTO hot(k, v) VALUES (%1, '%2') ON CONFLICT(k) DO UPDATE SET "
                "v = excluded.v")
                .arg(key)
                .arg(v);
    } else if (pick < 55 || m_live.empty()) {
      key = int64_t(m_node) * 100000000 + (++m_nextKey);
      value = v;
      const bool big = m_rng->bounded(100) == 0;
      sql = QStringLiteral("INSERT INTO own(k, v, big) VALUES (%1, '%2', %3)")
                .arg(key)
                .arg(v, big ? QStringLiteral("printf('%.*c', 100000, 'x')") : "NULL");
    } else {
      auto it = m_live.begin();
      std::advance(it, m_rng->bounded(int(m_live.size())));
      key = *it;
      if (pick < 85) {
        value = v;
        sql = QStringLiteral("UPDATE own SET v = '%2' WHERE k = %1").arg(key).arg(v);
      } else {
        sql = QStringLiteral("DELETE FROM own WHERE k = %1").arg(key);
      }
    }
    if (!m_db.exec(sql).isOk()) {
      ++m_failed;  // busy or full: not committed, not recorded
      return;
    }
    if (m_db.changes() == 0) {
      // An update or delete that found no row: what the application saw is "nothing changed".
      // It happens while a restore has taken the database back to a snapshot and the node has
      // not replayed its own later changes yet (docs/snapshots.md#how); the rows come back
      // with the replay. A row that stays missing is still found by check().
      ++m_noop;
      return;
    }
    ++m_committed;
    (hot ? m_hot : m_own)[key].push_back(value);
    if (!hot) {
      if (value)
        m_live.insert(key);
      else
        m_live.erase(key);
    }
  }

  // For checking the checker: records a write that did not happen.
  void pretend(int64_t key, const QString& value) { m_own[key].push_back(value); }
  const std::map<int64_t, History>& own() const { return m_own; }
  const std::map<int64_t, History>& hot() const { return m_hot; }
  const std::vector<QString>& events() const { return m_events; }
  qint64 committed() const { return m_committed; }
  qint64 failed() const { return m_failed; }
  qint64 noop() const { return m_noop; }

 private:
  int m_node;
  QString m_path;
  QRandomGenerator* m_rng;
  SqliteDb m_db;
  qint64 m_seq = 0;
  int64_t m_nextKey = 0;
  qint64 m_committed = 0;
  qint64 m_failed = 0;
  qint64 m_noop = 0;
  std::set<int64_t> m_live;
  std::map<int64_t, History> m_own;
  std::map<int64_t, History> m_hot;
  std::vector<QString> m_events;  // committed inserts into ev
};

struct RoundResult {
  int round = 0;
  QString fault;
  QString target;
  int faultSeconds = 0;
  qint64 writes = 0;
  qint64 refused = 0;      // writes that did not commit (a full disk, a busy database)
  qint64 convergeMs = -1;  // -1: did not converge
  qint64 healthyMs = -1;
  QStringList problems;  // lost or divergent rows, dead letters, unexpected conflicts
};

class Chaos {
 public:
  Chaos(quint64 seed, QStringList faults, bool inOrder, QString faultSeconds, QString reportDir,
        bool embedded)
      : m_seed(seed),
        m_embedded(embedded),
        m_inOrder(inOrder),
        m_rng(seed),
        m_writeRng(seed ^ 0x5752495445ull),
        m_faults(std::move(faults)),
        m_faultSeconds(faultSeconds),
        m_reportDir(std::move(reportDir)) {}

  // Every round's node logs in the report directory, not only a failed one's (--keep-logs).
  bool keepLogs = false;

  bool setUp() {
    m_dir.setAutoRemove(!qEnvironmentVariableIsSet("HL_KEEP_TEST_DIRS"));
    QStringList members;
    for (int i = 0; i < kNodes; ++i) members << QStringLiteral("node%1").arg(i + 1);
    if (!m_embedded)
      for (int i = 0; i < kNodes; ++i) members << QStringLiteral("nats%1").arg(i + 1);
    if (chaos::isolated()) {
      m_net = std::make_unique<chaos::Network>();
      if (Status s = m_net->setUp(members); !s.isOk()) {
        say("the chaos network could not be made: " + s.message());
        return false;
      }
    }
    // Where member `m` listens and how it is started: its namespace when isolated.
    auto host = [&](const QString& m) {
      return m_net ? m_net->address(m) : QStringLiteral("127.0.0.1");
    };
    auto wrapper = [&](const QString& m) { return m_net ? m_net->wrapper(m) : QStringList(); };
    QList<int> clusterPorts;
    if (m_embedded) {
      for (int i = 0; i < kNodes; ++i) clusterPorts << test::freePort();
    } else {
      QStringList hosts;
      QList<QStringList> wrappers;
      for (int i = 0; i < kNodes; ++i) {
        if (!m_net) break;
        hosts << host(members[kNodes + i]);
        wrappers << wrapper(members[kNodes + i]);
      }
      m_cluster = std::make_unique<test::NatsCluster>(hosts, wrappers);
      if (Status s = m_cluster->start(); !s.isOk()) {
        say("NATS cluster did not start: " + s.message());
        return false;
      }
    }
    for (int i = 0; i < kNodes; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(i + 1);
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(i + 1));
      o.schema = kSchema;
      o.replicas = 3;
      o.wrapper = wrapper(members[i]);
      m_nodeHosts << host(members[i]);
      if (m_net) {  // the folder is a disk of its own, which disk-full fills
        QDir().mkpath(o.dir);
        if (Status s = chaos::mountTmpfs(o.dir, kDiskMb); !s.isOk()) {
          say("the node's disk could not be mounted: " + s.message());
          return false;
        }
      }
      if (m_embedded) {
        QStringList peers;
        for (int j = 0; j < kNodes; ++j)
          if (j != i)
            peers << QStringLiteral("nats://%1:%2").arg(host(members[j])).arg(clusterPorts[j]);
        o.extraArgs = {"-cluster-addr",
                       QStringLiteral("%1:%2").arg(m_nodeHosts.last()).arg(clusterPorts[i]),
                       "-cluster-peers", peers.join(',')};
      } else {
        o.urls = m_cluster->urls();
      }
      o.shards = 2;
      m_healthPorts << test::freePort();
      // Snapshots every 20 s by the lease holder, into the NATS object store on every server:
      // what kill-during-snapshot interrupts and kill-during-restore restores.
      o.healthHost = m_nodeHosts.last();
      o.healthPort = m_healthPorts.last();
      o.healthDetailed = true;
      o.tablesToml = QStringLiteral(
          "[snapshot]\nenabled = true\ninterval = 20000\n"
          "[snapshot.nats]\nreplicas = 3\n");
      m_nodes.push_back(std::make_unique<NodeProcess>(o));
    }
    for (auto& n : m_nodes) (void)n->launch();
    for (auto& n : m_nodes) {
      if (Status s = n->waitRunning(90000); !s.isOk()) {
        say(s.message());
        return false;
      }
    }
    for (int i = 0; i < kNodes; ++i) {
      m_writers.push_back(std::make_unique<Writer>(i + 1, m_nodes[size_t(i)]->db(), &m_writeRng));
      if (!m_writers.back()->open()) return false;
    }
    return true;
  }

  void tearDown() {
    if (m_restore) m_restore->kill();
    for (auto& n : m_nodes) n->stop();
    if (m_cluster)
      for (int s = 0; s < m_cluster->size(); ++s) m_cluster->server(s).stop();
    // The node folders are tmpfs mounts of this mount namespace (gone with it): unmounted
    // first so that the temporary directory can be removed.
    if (m_net)
      for (auto& n : m_nodes) (void)chaos::run("umount", {"--lazy", n->options().dir});
  }

  RoundResult runRound(int round) {
    RoundResult r;
    r.round = round;
    r.fault = m_inOrder ? m_faults[(round - 1) % m_faults.size()] : drawFault();
    const int target = int(m_rng.bounded(kNodes));
    const qint64 before = totalCommitted(), refusedBefore = totalFailed();
    say(QStringLiteral("round %1: %2").arg(round).arg(r.fault));
    write(2000);
    r.target = inject(r.fault, target);
    // "A-B": a duration drawn per round (10-40 s by default: past the consumer heartbeat).
    const QStringList range = m_faultSeconds.split('-');
    const int lo = range.value(0).toInt(),
              hi = std::max(lo, range.value(1, range.value(0)).toInt());
    r.faultSeconds = lo + int(m_rng.bounded(hi - lo + 1));
    // Cross-node checks while the fault lasts and while it heals, with the writers running:
    // each agrees or finds no comparable point; a difference is a problem.
    std::vector<std::unique_ptr<QProcess>> checks;
    QStringList checkProblems;
    checks.push_back(startCrossNodeCheck());
    write(r.faultSeconds * 1000);
    heal();
    checks.push_back(startCrossNodeCheck());
    write(2000);
    for (auto& p : checks) {
      const auto [code, says] = crossNodeCheckResult(*p);
      say(QStringLiteral("round %1: cross-node check under load: %2").arg(round).arg(says));
      if (code != 0 && code != 3)
        checkProblems << QStringLiteral("the cross-node consistency check under load exited %1: %2")
                             .arg(code)
                             .arg(says);
    }
    r.writes = totalCommitted() - before;
    r.refused = totalFailed() - refusedBefore;
    // Quiet: no more writes; wait until every database agrees and every node is healthy.
    QElapsedTimer quiet;
    quiet.start();
    if (test::waitFor(
            [&] {
              pump();
              return identical();
            },
            180000, 500))
      r.convergeMs = quiet.elapsed();
    if (test::waitFor(
            [&] {
              pump();
              return allHealthy();
            },
            60000, 200))
      r.healthyMs = quiet.elapsed();
    r.problems = m_injectProblems + checkProblems + check();
    // The cross-node check of docs/consistency.md must agree at the end of a quiet round.
    if (r.convergeMs >= 0) {
      const auto [code, says] = crossNodeCheck();
      say(QStringLiteral("round %1: cross-node check: %2").arg(round).arg(says));
      if (code != 0)
        r.problems
            << QStringLiteral("the cross-node consistency check exited %1: %2").arg(code).arg(says);
    }
    if (r.convergeMs < 0) r.problems.prepend("the databases did not converge within 180 s");
    if (r.healthyMs < 0) r.problems.prepend("a node was not healthy within 60 s of quiet");
    say(QStringLiteral("round %1: %2 writes, converged in %3 ms, healthy in %4 ms, %5 problem(s)")
            .arg(round)
            .arg(r.writes)
            .arg(r.convergeMs)
            .arg(r.healthyMs)
            .arg(r.problems.size()));
    for (const QString& p : r.problems) say("  " + p);
    if (!r.problems.isEmpty() || keepLogs) {  // the logs of a failed round, to look into
      QDir().mkpath(m_reportDir);
      for (int i = 0; i < kNodes; ++i)
        test::writeFile(
            QStringLiteral("%1/round-%2-node-%3.log").arg(m_reportDir).arg(round).arg(i + 1),
            node(i).log().toUtf8());
      if (!m_restoreLog.isEmpty())
        test::writeFile(
            QStringLiteral("%1/round-%2-restore-command.log").arg(m_reportDir).arg(round),
            m_restoreLog);
    }
    m_restoreLog.clear();
    return r;
  }

  // harmonylite -check-consistency from node 1's configuration: its exit code and the lines
  // that say what it found (the verdict, the differing tables and rows).
  std::unique_ptr<QProcess> startCrossNodeCheck() {
    auto p = std::make_unique<QProcess>();
    p->start(test::harmonyliteBinary(), {"-config", node(0).configPath(), "-check-consistency",
                                         "-expect-nodes", QString::number(kNodes)});
    return p;
  }
  std::pair<int, QString> crossNodeCheckResult(QProcess& p) {
    // Finished already when the writers' pump took in its end; otherwise waits.
    if (p.state() != QProcess::NotRunning && !p.waitForFinished(120000)) {
      p.kill();
      p.waitForFinished(5000);
      return {-1, QStringLiteral("no answer within 120 s")};
    }
    const int code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    QStringList says;
    for (const QString& l :
         QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError()).split('\n'))
      if (l.startsWith("check ") || l.contains("DIFFERS") || l.startsWith("  row ") ||
          l.startsWith("harmonylite: "))
        says << l.trimmed();
    return {code, says.join(" | ")};
  }
  std::pair<int, QString> crossNodeCheck() { return crossNodeCheckResult(*startCrossNodeCheck()); }

  // The checker must be able to fail: a row changed on node 3 behind the capture (its change-log
  // row deleted in the same transaction, so it never replicates), and a write writer 1 "saw
  // committed" that never happened. Returns true when check() reports both.
  bool checkTheChecker() {
    auto db = SqliteDb::open(node(2).db(), SqliteDb::Options{false, false, 5000});
    if (!db) return false;
    auto key = db->queryInt("SELECT k FROM own ORDER BY k LIMIT 1");
    if (!key) return false;
    const Status tamper = db->exec(
        QStringLiteral("BEGIN IMMEDIATE; CREATE TEMP TABLE mark AS SELECT max(id) AS id FROM "
                       "__harmonylite__changes; UPDATE own SET v = 'tampered' WHERE k = %1; DELETE "
                       "FROM __harmonylite__changes WHERE id > (SELECT ifnull(id, 0) FROM mark); "
                       "COMMIT;")
            .arg(*key));
    if (!tamper.isOk()) {
      say("check-the-checker: " + tamper.message());
      return false;
    }
    m_writers.front()->pretend(424242424242, QStringLiteral("never-written"));
    const QStringList problems = check();
    const bool divergence = problems.contains("the databases differ");
    const bool lost = std::any_of(problems.begin(), problems.end(), [](const QString& p) {
      return p.contains(
          "own row 424242424242 is absent, its last committed write is never-written");
    });
    // The cross-node check finds the tampered row, at equal positions.
    const auto [code, says] = crossNodeCheck();
    const bool located = code == 1 && says.contains("table own: DIFFERS") &&
                         says.contains(QStringLiteral("row %1").arg(*key));
    say(QStringLiteral("check-the-checker: divergence %1, lost write %2, cross-node check %3 (%4)")
            .arg(divergence ? "caught" : "MISSED", lost ? "caught" : "MISSED",
                 located ? "caught" : "MISSED", says));
    return divergence && lost && located;
  }

  void report(const QList<RoundResult>& rounds, qint64 totalMs) {
    QDir().mkpath(m_reportDir);
    QJsonArray arr;
    QString md =
        QStringLiteral(
            "# Chaos report\n\nseed %1 (replay: `hl_chaos --seed %1 --rounds %2 --faults "
            "%3 --fault-seconds %4%6`), topology: %7, replicas 3, 3 nodes, 2 shards; %5 s "
            "in all\n\n| round | fault | target | seconds | writes | refused | "
            "converged (ms) | healthy (ms) | problems |\n|---|---|---|---|---|---|---|---|---|\n")
            .arg(m_seed)
            .arg(rounds.size())
            .arg(m_faults.join(','))
            .arg(m_faultSeconds)
            .arg(totalMs / 1000)
            .arg(QString(m_inOrder ? " --in-order" : "") +
                 (m_embedded ? " --topology embedded" : ""))
            .arg(m_embedded ? QStringLiteral("each node's embedded nats-server, joined "
                                             "as a cluster (--topology embedded)")
                            : QStringLiteral("a 3-server NATS cluster"));
    for (const RoundResult& r : rounds) {
      md += QStringLiteral("| %1 | %2 | %3 | %4 | %5 | %6 | %7 | %8 | %9 |\n")
                .arg(r.round)
                .arg(r.fault, r.target)
                .arg(r.faultSeconds)
                .arg(r.writes)
                .arg(r.refused)
                .arg(r.convergeMs)
                .arg(r.healthyMs)
                .arg(r.problems.isEmpty() ? QStringLiteral("none")
                                          : r.problems.join(QStringLiteral("; ")).left(500));
      arr.append(QJsonObject{{"round", r.round},
                             {"fault", r.fault},
                             {"target", r.target},
                             {"fault_seconds", r.faultSeconds},
                             {"writes", r.writes},
                             {"refused_writes", r.refused},
                             {"converge_ms", r.convergeMs},
                             {"healthy_ms", r.healthyMs},
                             {"problems", QJsonArray::fromStringList(r.problems)}});
    }
    test::writeFile(m_reportDir + "/chaos-report.md", md.toUtf8());
    test::writeFile(m_reportDir + "/chaos-report.json",
                    QJsonDocument(QJsonObject{{"seed", QString::number(m_seed)},
                                              {"topology", m_embedded ? "embedded" : "external"},
                                              {"rounds", arr}})
                        .toJson());
    std::fputs(qPrintable(md), stdout);
  }

 private:
  NodeProcess& node(int i) { return *m_nodes[size_t(i)]; }

  qint64 totalCommitted() const {
    qint64 n = 0;
    for (const auto& w : m_writers) n += w->committed();
    return n;
  }
  qint64 totalFailed() const {
    qint64 n = 0;
    for (const auto& w : m_writers) n += w->failed();
    return n;
  }

  // Keeps the node processes' output flowing (a full pipe would block them).
  void pump() {
    QCoreApplication::processEvents();
    for (auto& n : m_nodes) (void)n->log();
  }

  // Every writer writes, about 50 writes per second each, for `ms`.
  void write(int ms) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms) {
      for (auto& w : m_writers) w->step();
      pump();
      QThread::msleep(20);
    }
  }

  // The pid of NATS server `i`: a cluster server, or node i's embedded nats-server (found by
  // its generated config file in the node's folder).
  qint64 serverPid(int i) {
    if (!m_embedded) return m_cluster->server(i).pid();
    const QByteArray conf = QStringLiteral("harmonylite-node-%1.conf").arg(i + 1).toUtf8();
    const QByteArray dir = node(i).db().section('/', 0, -2).toUtf8();
    for (const QString& entry : QDir("/proc").entryList(QDir::Dirs)) {
      bool isPid = false;
      const qint64 pid = entry.toLongLong(&isPid);
      if (!isPid) continue;
      QFile f("/proc/" + entry + "/cmdline");
      if (!f.open(QIODevice::ReadOnly)) continue;
      const QByteArray cmd = f.readAll();
      if (cmd.startsWith("nats-server") || cmd.contains("/nats-server")) {
        if (cmd.contains(conf) && cmd.contains(dir)) return pid;
      }
    }
    return 0;
  }
  void killServer(int i) {
    if (!m_embedded) {
      m_cluster->server(i).kill();
      return;
    }
    const qint64 pid = serverPid(i);
    if (pid)
      ::kill(pid_t(pid), SIGKILL);  // its node restarts it
    else
      m_injectProblems << QStringLiteral("embedded nats-server of node %1 not found").arg(i + 1);
  }
  void restartServer(int i) {
    if (m_embedded) {  // the node's supervisor restarts it; wait until it is back
      test::waitFor([&] { return serverPid(i) != 0; }, 60000, 200);
      return;
    }
    (void)m_cluster->server(i).launch();
  }

  QString inject(const QString& fault, int target) {
    m_stopped.clear();
    m_injectProblems.clear();
    m_killedNodes.clear();
    m_killedServers.clear();
    const int server = target;
    // The server first: an embedded server dies with its node, and could not be found after.
    if (fault == "kill-nats" || fault == "kill-both") {
      killServer(server);
      m_killedServers << server;
    }
    if (fault == "kill-node" || fault == "kill-both") {
      node(target).kill();
      m_killedNodes << target;
    }
    if (fault == "stop-node") {
      ::kill(pid_t(node(target).pid()), SIGSTOP);
      m_stopped << node(target).pid();
    }
    if (fault == "stop-nats") {
      const qint64 pid = serverPid(server);
      if (pid)
        ::kill(pid_t(pid), SIGSTOP);
      else
        m_injectProblems << QStringLiteral("nats server %1 not found").arg(server + 1);
      m_stopped << pid;
    }
    if (fault == "restart-nats-cluster") {
      for (int s = 0; s < kNodes; ++s) {
        if (m_embedded)
          killServer(s);
        else
          m_cluster->server(s).stop();
        m_killedServers << s;
      }
      return QStringLiteral("all servers");
    }
    if (fault.startsWith("partition-")) {
      if (!m_net) {
        m_injectProblems << fault + " needs the harness's own network namespaces";
        return "none";
      }
      QStringList cut;
      if (fault != "partition-nats") cut << QStringLiteral("node%1").arg(target + 1);
      if (fault != "partition-node") cut << QStringLiteral("nats%1").arg(server + 1);
      if (Status s = m_net->cut(cut); !s.isOk()) m_injectProblems << "partition: " + s.message();
      m_cut = true;
      return cut.join(" + ") + " cut off" +
             (m_embedded ? QStringLiteral(" (with its embedded server)") : QString());
    }
    if (fault == "disk-full") {
      if (!m_net) {  // isolated: the node folders are tmpfs mounts of their own
        m_injectProblems << "disk-full needs the harness's own mount namespace";
        return "none";
      }
      m_filler = node(target).options().dir + "/chaos-filler";
      const qint64 bytes = chaos::fillDisk(m_filler);
      return QStringLiteral("node %1 (disk filled: %2 MB more)").arg(target + 1).arg(bytes >> 20);
    }
    if (fault == "kill-during-snapshot") return killDuringSnapshot();
    if (fault == "kill-during-restore") return killDuringRestore(target);
    if (fault.endsWith("nats")) return QStringLiteral("nats server %1").arg(server + 1);
    if (fault == "kill-both")
      return QStringLiteral("node %1 and nats server %2").arg(target + 1).arg(server + 1);
    return QStringLiteral("node %1").arg(target + 1);
  }

  // Faults are dealt like cards from a deck shuffled by the seed: every fault comes once in
  // each run of as many rounds as there are faults, in an order the seed decides.
  QString drawFault() {
    if (m_deck.isEmpty()) {
      m_deck = m_faults;
      for (qsizetype i = m_deck.size() - 1; i > 0; --i)
        m_deck.swapItemsAt(i, qsizetype(m_rng.bounded(int(i + 1))));
    }
    return m_deck.takeFirst();
  }

  // Writes as write() does while polling `done` every 2 ms (the nodes' logs are read each
  // time), for at most `ms`; returns whether `done` held.
  bool writeUntil(int ms, const std::function<bool()>& done) {
    QElapsedTimer t, sinceWrite;
    t.start();
    sinceWrite.start();
    while (t.elapsed() < ms) {
      if (sinceWrite.elapsed() >= 20) {
        for (auto& w : m_writers) w->step();
        sinceWrite.restart();
      }
      pump();
      if (done()) return true;
      QThread::msleep(2);
    }
    return false;
  }

  // kill -9 of whichever node starts a snapshot, as soon as its log says "taking snapshot".
  QString killDuringSnapshot() {
    QList<qsizetype> before;
    for (auto& n : m_nodes) before << n->log().count("taking snapshot");
    int who = -1;
    writeUntil(90000, [&] {
      for (int i = 0; i < kNodes && who < 0; ++i)
        if (node(i).log().count("taking snapshot") > before[i]) who = i;
      return who >= 0;
    });
    if (who < 0) {
      m_injectProblems << "no node started a snapshot within 90 s";
      return "none";
    }
    node(who).kill();
    m_killedNodes << who;
    const QString log = node(who).log();
    const qsizetype at = log.lastIndexOf("taking snapshot ");
    const QString id = log.mid(at + 16).section(' ', 0, 0).trimmed();
    const bool saved = log.contains(QStringLiteral("snapshot %1 saved").arg(id));
    return QStringLiteral("node %1, %2 snapshot %3")
        .arg(who + 1)
        .arg(saved ? QStringLiteral("after it had saved") : QStringLiteral("in the middle of"), id);
  }

  // The node is killed, `-restore-snapshot` run on its folder, and that is killed in turn
  // 0-400 ms after it logs the start of the restore.
  QString killDuringRestore(int target) {
    node(target).kill();
    m_killedNodes << target;
    m_restore = std::make_unique<QProcess>();
    m_restore->setProcessChannelMode(QProcess::MergedChannels);
    test::dieWithTest(*m_restore);
    test::startWrapped(*m_restore, node(target).options().wrapper, test::harmonyliteBinary(),
                       {"-config", node(target).configPath(), "-restore-snapshot"});
    QByteArray out;
    QElapsedTimer started;
    started.start();
    const bool begun = writeUntil(60000, [&] {
      out += m_restore->readAll();
      return out.contains("restore from") || m_restore->state() == QProcess::NotRunning;
    });
    const int delay = int(m_rng.bounded(401));
    writeUntil(delay, [&] {
      out += m_restore->readAll();
      return m_restore->state() == QProcess::NotRunning;
    });
    const bool ended = m_restore->state() == QProcess::NotRunning;
    const qint64 ms = started.elapsed();
    m_restore->kill();
    m_restore->waitForFinished(5000);
    out += m_restore->readAll();
    m_restoreLog = out;  // kept with the round's logs when it fails
    const QString last =
        QString::fromUtf8(out.trimmed()).section('\n', -1).section(']', -1).trimmed().left(160);
    m_restore.reset();
    if (!begun) m_injectProblems << "-restore-snapshot did not start a restore within 60 s";
    if (ended)
      return QStringLiteral("node %1; its -restore-snapshot had ended before the kill (%2)")
          .arg(target + 1)
          .arg(last);
    return QStringLiteral("node %1; its -restore-snapshot killed %2 ms in (last line: %3)")
        .arg(target + 1)
        .arg(ms)
        .arg(last);
  }

  void heal() {
    if (m_cut) {
      if (Status s = m_net->heal(); !s.isOk()) m_injectProblems << "heal: " + s.message();
      m_cut = false;
    }
    if (!m_filler.isEmpty()) {
      QFile::remove(m_filler);
      m_filler.clear();
    }
    for (qint64 pid : m_stopped)
      if (pid) ::kill(pid_t(pid), SIGCONT);
    for (int s : m_killedServers) restartServer(s);
    if (!m_embedded)
      for (int s : m_killedServers) (void)m_cluster->server(s).waitHealthy(60000);
    for (int n : m_killedNodes) {
      if (Status s = node(n).start(90000); !s.isOk()) say("restart failed: " + s.message());
    }
  }

  static QString tableDigest(SqliteDb& db, const QString& table) {
    auto stmt = db.prepare(QStringLiteral("SELECT * FROM %1 ORDER BY k").arg(table));
    if (!stmt) return "error: " + stmt.status().message();
    QCryptographicHash h(QCryptographicHash::Sha256);
    SqliteRows rows(*stmt);
    for (const SqliteStmt& row : rows) {
      for (int c = 0; c < sqlite3_column_count(row.handle()); ++c) {
        h.addData(QByteArray::number(sqlite3_column_type(row.handle(), c)));
        h.addData(row.columnText(c).toUtf8());
        h.addData("\x1f");
      }
      h.addData("\x1e");
    }
    if (!rows.status().isOk()) return "error: " + rows.status().message();
    return QString::fromLatin1(h.result().toHex());
  }

  std::optional<SqliteDb> openReader(int i) {
    SqliteDb::Options o;
    o.readOnly = true;
    o.busyTimeoutMs = 2000;
    auto db = SqliteDb::open(node(i).db(), o);
    if (!db) return std::nullopt;
    return std::move(*db);
  }

  bool identical() {
    QString first;
    for (int i = 0; i < kNodes; ++i) {
      auto db = openReader(i);
      if (!db) return false;
      const QString d = tableDigest(*db, "own") + tableDigest(*db, "hot") + tableDigest(*db, "ev");
      if (d.contains("error")) return false;
      if (i == 0) first = d;
      if (d != first) return false;
    }
    return true;
  }

  bool allHealthy() {
    for (int i = 0; i < kNodes; ++i) {
      QByteArray body;
      if (test::httpGetFrom(m_nodeHosts[i], m_healthPorts[i], "/health", &body) != 200)
        return false;
    }
    return true;
  }

  QStringList check() {
    QStringList problems;
    qint64 collisions = 0;
    for (int i = 0; i < kNodes; ++i) {
      auto db = openReader(i);
      if (!db) {
        problems << QStringLiteral("node %1: database cannot be opened").arg(i + 1);
        continue;
      }
      // Own rows: the last committed write of their writer.
      for (const auto& w : m_writers) {
        for (const auto& [key, history] : w->own()) {
          auto stmt = db->prepare(QStringLiteral("SELECT v FROM own WHERE k = %1").arg(key));
          std::optional<QString> have;
          if (stmt) {
            SqliteRows rows(*stmt);
            for (const SqliteStmt& row : rows) have = row.columnText(0);
          }
          if (have != history.back() && problems.size() < 50)
            problems << QStringLiteral("node %1: own row %2 is %3, its last committed write is %4")
                            .arg(i + 1)
                            .arg(key)
                            .arg(have.value_or("absent"), history.back().value_or("a delete"));
        }
      }
      // Hot rows: a value that some writer committed.
      auto hot = db->prepare(QStringLiteral("SELECT k, v FROM hot"));
      if (hot) {
        SqliteRows rows(*hot);
        for (const SqliteStmt& row : rows) {
          const int64_t key = row.columnInt(0);
          const QString v = row.columnText(1);
          bool known = false;
          for (const auto& w : m_writers) {
            auto it = w->hot().find(key);
            if (it == w->hot().end()) continue;
            for (const auto& x : it->second) known = known || x == v;
          }
          if (!known)
            problems << QStringLiteral("node %1: hot row %2 holds %3, never written")
                            .arg(i + 1)
                            .arg(key)
                            .arg(v);
        }
      }
      // Assigned keys: every committed insert once, under whatever key it ended.
      QMap<QString, int> events;
      for (const auto& w : m_writers)
        for (const QString& v : w->events()) ++events[v];
      auto ev = db->prepare(QStringLiteral("SELECT v, count(*) FROM ev GROUP BY v"));
      if (ev) {
        SqliteRows rows(*ev);
        for (const SqliteStmt& row : rows) events[row.columnText(0)] -= int(row.columnInt(1));
      }
      for (auto it = events.cbegin(); it != events.cend() && problems.size() < 50; ++it) {
        if (it.value() != 0)
          problems << QStringLiteral("node %1: insert %2 of ev is there %3 time(s), committed once")
                          .arg(i + 1)
                          .arg(it.key())
                          .arg(1 - it.value());
      }
      if (auto n = db->queryInt("SELECT count(*) FROM __harmonylite__conflicts WHERE tbl = 'ev'"))
        collisions += *n;
      const auto dead = db->queryInt("SELECT count(*) FROM __harmonylite__dead_letters");
      if (!dead || *dead != 0)
        problems << QStringLiteral("node %1: %2 dead letter(s)").arg(i + 1).arg(dead ? *dead : -1);
      const char* unexpected =
          "FROM __harmonylite__conflicts WHERE tbl <> 'hot' AND NOT (tbl = 'ev' AND loser LIKE "
          "'%moved to%')";
      const auto conflicts = db->queryInt(QStringLiteral("SELECT count(*) ") + unexpected);
      if (!conflicts || *conflicts != 0) {
        QStringList first;  // what they were, to look into
        if (auto q = db->prepare(
                QStringLiteral("SELECT tbl, row_key, winner, loser, local_row, remote_row ") +
                unexpected + " LIMIT 3")) {
          SqliteRows rows(*q);
          for (const SqliteStmt& r : rows) {
            QStringList f;
            for (int c = 0; c < 6; ++c) f << r.columnText(c);
            first << f.join(" | ");
          }
        }
        problems << QStringLiteral("node %1: %2 conflict(s) outside the hot rows, first: %3")
                        .arg(i + 1)
                        .arg(conflicts ? *conflicts : -1)
                        .arg(first.join(" // "));
      }
    }
    if (!identical()) problems << "the databases differ";
    say(QStringLiteral("insert collisions in ev so far: %1").arg(collisions));
    return problems;
  }

  quint64 m_seed;
  bool m_embedded;  // each node's embedded nats-server, joined into one cluster
  bool m_inOrder;
  // Faults, targets, durations and delays: the same for a seed whatever the timing.
  QRandomGenerator m_rng;
  // The writers' choices: drawn as often as the writers get to write, which timing decides; a
  // generator of their own keeps them from shifting the faults of a replay.
  QRandomGenerator m_writeRng;
  QStringList m_faults;
  QString m_faultSeconds;  // "15" or "10-40"
  QString m_reportDir;
  QTemporaryDir m_dir;
  std::unique_ptr<test::NatsCluster> m_cluster;
  std::vector<std::unique_ptr<NodeProcess>> m_nodes;
  std::vector<std::unique_ptr<Writer>> m_writers;
  QList<int> m_healthPorts;
  QStringList m_nodeHosts;
  std::unique_ptr<chaos::Network> m_net;  // when isolated
  std::unique_ptr<QProcess> m_restore;    // kill-during-restore's restore command
  QString m_filler;                       // disk-full's file
  QByteArray m_restoreLog;                // what kill-during-restore's command printed
  QStringList m_deck;                     // faults still to deal (drawFault)
  bool m_cut = false;                     // a partition to heal
  QList<qint64> m_stopped;
  QStringList m_injectProblems;  // a fault that could not be injected fails the round
  QList<int> m_killedNodes;
  QList<int> m_killedServers;
};

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  QCommandLineParser p;
  p.addHelpOption();
  p.addOption({"rounds", "rounds to run", "N", "20"});
  p.addOption({"seed", "random seed (printed; replays a run)", "S"});
  p.addOption({"faults", "comma-separated faults to choose from (default: all)", "LIST",
               kAllFaults.join(',')});
  p.addOption({"check-the-checker",
               "after the rounds, tamper with a row and the writers' record: the checker must "
               "report both"});
  p.addOption({"topology", "external (a 3-server NATS cluster) or embedded (each node's own)", "T",
               "external"});
  p.addOption({"in-order", "take the faults in the order given, one per round"});
  p.addOption({"fault-seconds", "how long a fault lasts: T, or A-B drawn per round", "T", "10-40"});
  p.addOption({"report", "directory of chaos-report.md/.json", "DIR", "."});
  p.addOption({"keep-logs",
               "write every round's node logs to the report directory (by default "
               "only a failed round's)"});
  p.process(app);
  const quint64 seed = p.isSet("seed") ? p.value("seed").toULongLong()
                                       : QRandomGenerator::system()->generate64() % 1000000000;
  QStringList faults = p.value("faults").split(',', Qt::SkipEmptyParts);
  const int rounds = p.value("rounds").toInt();
  const QString topology = p.value("topology");
  if (topology != "external" && topology != "embedded") {
    say("--topology: external or embedded, not " + topology);
    return 2;
  }
  for (const QString& f : faults) {
    if (!kAllFaults.contains(f)) {
      say("--faults: no fault " + f + "; the faults are " + kAllFaults.join(','));
      return 2;
    }
  }
  if (topology == "embedded") {
    // A node and its embedded server are one process tree in one namespace: partition-node
    // cuts both off; there is no server or pair apart from a node.
    const qsizetype n = faults.removeIf(
        [](const QString& f) { return f == "partition-nats" || f == "partition-pair"; });
    if (n > 0)
      say("partition-nats and partition-pair left out: with embedded servers partition-node "
          "cuts a node off together with its server");
  }
  const auto needsIsolation = [](const QString& f) {
    return f.startsWith("partition-") || f == "disk-full";
  };
  // Always in namespaces of its own where they can be made, so that every run has the same
  // set-up whatever faults it draws.
  if (!chaos::isolated()) {
    QString why;
    QStringList args = app.arguments().mid(1);
    if (!p.isSet("seed")) args << "--seed" << QString::number(seed);  // the same run inside
    const int code = chaos::runIsolated(args, &why);
    if (code >= 0) return code;
    // Where namespaces cannot be made (no CAP_SYS_ADMIN / CAP_NET_ADMIN): the other faults.
    if (faults.removeIf(needsIsolation) > 0) say("partitions and the full disk SKIPPED: " + why);
    if (faults.isEmpty()) return 2;
  }
  if (faults.isEmpty()) {
    say("--faults: none left to run");
    return 2;
  }
  say(QStringLiteral("chaos: seed %1, %2 round(s), faults %3%4")
          .arg(seed)
          .arg(rounds)
          .arg(faults.join(','))
          .arg(chaos::isolated() ? QStringLiteral(" (in its own network and mount namespaces)")
                                 : QString()));
  Chaos chaos(seed, faults, p.isSet("in-order"), p.value("fault-seconds"), p.value("report"),
              topology == "embedded");
  chaos.keepLogs = p.isSet("keep-logs");
  QElapsedTimer total;
  total.start();
  if (!chaos.setUp()) {
    chaos.tearDown();
    return 2;
  }
  QList<RoundResult> results;
  for (int r = 1; r <= rounds; ++r) results << chaos.runRound(r);
  chaos.report(results, total.elapsed());
  const bool checkerOk = !p.isSet("check-the-checker") || chaos.checkTheChecker();
  chaos.tearDown();
  if (!checkerOk) return 1;
  for (const RoundResult& r : results)
    if (!r.problems.isEmpty()) return 1;
  return 0;
}
