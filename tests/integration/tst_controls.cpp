// Node controls (issue 5) on two engines in this process against a real nats-server: each
// control is acknowledged, shows in the status model, in the /health body and in /metrics,
// and has its effect on replication. Destructive controls need confirmation.
#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <signal.h>

#include "harmonylite/engine_thread.h"
#include "health_server.h"
#include "metrics_server.h"
#include "nats_test_client.h"
#include "node_process.h"
#include "replication/schema_registry.h"
#include "tcp_proxy.h"
#include "test_support.h"
#include "wire/cbor_codec.h"

using namespace hl;
using C = EngineThread::Control;

namespace {
struct Node {
  std::unique_ptr<EngineThread> engine;
  NodeStatus status;
  QString db;
};

// When each status of a node arrived, on one clock: the longest time without one in a window
// shows whether the engine thread was held.
struct StatusTimes {
  QElapsedTimer clock;
  QList<qint64> ticks;
  StatusTimes() { clock.start(); }
  qint64 now() const { return clock.elapsed(); }
  // The longest time in [from, to] without a status (its edges count); `during` how many came.
  qint64 longestGap(qint64 from, qint64 to, int* during = nullptr) const {
    qint64 longest = 0, previous = from;
    int n = 0;
    for (qint64 at : ticks) {
      if (at < from) continue;
      if (at > to) break;
      ++n;
      longest = std::max(longest, at - previous);
      previous = at;
    }
    if (during) *during = n;
    return std::max(longest, to - previous);
  }
};
}  // namespace

class TestControls : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  test::NatsServer m_server;
  Node m_nodes[2];

  // Runs a control and waits for its answer.
  QPair<bool, QString> run(int node, C control, qint64 id = 0, bool confirm = false) {
    return run(m_nodes[node], control, id, confirm);
  }
  static QPair<bool, QString> run(Node& node, C control, qint64 id = 0, bool confirm = false) {
    QSignalSpy spy(node.engine.get(), &EngineThread::controlDone);
    node.engine->control(control, id, confirm);
    if (!spy.wait(10000)) return {false, "no answer"};
    return {spy.at(0).at(1).toBool(), spy.at(0).at(2).toString()};
  }
  bool waitStatus(int node, const std::function<bool(const NodeStatus&)>& f, int ms = 15000) {
    return waitFor(m_nodes[node], f, ms);
  }
  static bool waitFor(const Node& node, const std::function<bool(const NodeStatus&)>& f,
                      int ms = 15000) {
    return test::waitFor([&] { return f(node.status); }, ms);
  }
  // Node 9's insert of Authors row `id + shard` named `name`, published on each shard of `c`
  // by another client of the server at `url` (a Go-format message, as another node sends).
  static bool sendAuthorOnEachShard(const QString& url, const Config& c, qint64 id,
                                    const QString& name) {
    auto nc = test::connectTo(url);
    if (!nc.ok()) return false;
    auto js = test::jetStream(nc->get());
    if (!js.ok()) return false;
    for (int shard = 1; shard <= c.replicationLog.shards; ++shard) {
      Change ch;
      ch.fromNodeId = 9;
      ch.id = shard;
      ch.table = "Authors";
      ch.row = {{"id", Value::integer(id + shard)}, {"name", Value::text(name)}};
      if (!test::publish(js->get(), c.subjectName(shard).toUtf8().constData(),
                         encodeMessage(ch, true))
               .isOk())
        return false;
    }
    return true;
  }
  // An engine for `n` with configuration `c`, its statuses kept in n.status and timed in
  // `times`; not started yet.
  void makeRecorded(Node& n, const Config& c, StatusTimes* times) {
    n.engine = std::make_unique<EngineThread>(c);
    connect(n.engine.get(), &EngineThread::statusChanged, this, [&n, times](const NodeStatus& st) {
      n.status = st;
      times->ticks.append(times->now());
    });
  }
  QString sql(int node, const QString& s) { return test::sqlite3(m_nodes[node].db, s); }
  // A database with the reference schema in `dir` for `n`, and a configuration of node `id` on
  // it with `shards` shards on `url`. False when the database could not be made.
  static bool prepareNode(Node& n, const QString& dir, uint64_t id, const QString& url, int shards,
                          Config* c) {
    if (!QDir().mkpath(dir)) return false;
    n.db = dir + "/data.db";
    bool ok = false;
    test::sqlite3(n.db, test::kReferenceSchema, &ok);
    c->dbPath = n.db;
    c->nodeId = id;
    c->replicationLog.shards = shards;
    c->nats.urls = {url};
    return ok;
  }

  // prepareNode() (2 shards) and makeRecorded() for `n`, then started: false when the database
  // could not be made or the engine did not start within 30 s.
  bool startRecorded(Node& n, const QString& dir, uint64_t id, const QString& url, Config* c,
                     StatusTimes* times) {
    if (!prepareNode(n, dir, id, url, 2, c)) return false;
    makeRecorded(n, *c, times);
    QSignalSpy started(n.engine.get(), &EngineThread::started);
    n.engine->start();
    return started.wait(30000);
  }

  // Waits until `ms` after `from` on `times`' clock; 1 s in, pauses `n`'s publishing and times
  // the answer: its ms, or -1 when the control failed or got no answer within 10 s.
  static qint64 pauseWhileWaiting(Node& n, const StatusTimes& times, qint64 from, qint64 ms) {
    qint64 controlMs = -1;
    bool asked = false;
    while (times.now() - from < ms) {
      QTest::qWait(50);
      if (!asked && times.now() - from > 1000) {
        asked = true;
        QElapsedTimer u;
        u.start();
        if (run(n, C::kPausePublishing).first) controlMs = u.elapsed();
      }
    }
    return controlMs;
  }

 private slots:
  // Node `node` of `nodes` on its own database (the reference schema) in `dir`, on `url`.
  void startNode(Node* nodes, int node, const QString& dir, uint64_t id, const QString& url,
                 int shards) {
    Node& n = nodes[node];
    Config c;
    QVERIFY(prepareNode(n, dir, id, url, shards, &c));
    c.conflicts.tables.insert("Authors", "dead-letter");
    n.engine = std::make_unique<EngineThread>(c);
    connect(n.engine.get(), &EngineThread::statusChanged, this,
            [&n](const NodeStatus& s) { n.status = s; });
    QSignalSpy started(n.engine.get(), &EngineThread::started);
    n.engine->start();
    QVERIFY(started.wait(30000));
  }

  void initTestCase() {
    QVERIFY(m_server.start().isOk());
    for (int i = 0; i < 2; ++i) {
      startNode(m_nodes, i, m_dir.filePath(QStringLiteral("n%1").arg(i + 1)), uint64_t(i + 1),
                m_server.url(), 2);
      if (QTest::currentTestFailed()) return;
    }
    QVERIFY(waitStatus(0, [](const NodeStatus& s) { return s.healthy; }));
    QVERIFY(waitStatus(1, [](const NodeStatus& s) { return s.healthy; }));
  }

  // requestStop(): returns at once, the engine stops and finished() follows; a second request
  // and a stop() after it are harmless (stop() waits for the same stop).
  void requestStopDoesNotWait() {
    const QString dir = m_dir.filePath("n3");
    QVERIFY(QDir().mkpath(dir));
    Config c;
    c.dbPath = dir + "/data.db";
    c.nodeId = 3;
    c.nats.urls = {m_server.url()};
    EngineThread engine(c);
    QSignalSpy started(&engine, &EngineThread::started);
    QSignalSpy stopped(&engine, &EngineThread::stopped);
    QSignalSpy finished(&engine, &EngineThread::finished);
    engine.start();
    QVERIFY(started.wait(30000));
    engine.requestStop();
    engine.requestStop();
    QVERIFY(finished.wait(15000));
    QCOMPARE(finished.size(), 1);
    QVERIFY(!engine.isRunning());
    QCOMPARE(stopped.size(), 1);
    QVERIFY(engine.stop(1000));

    // stop() right after requestStop() waits for that stop (no second one queued behind a
    // loop that has ended, which would wait out the whole deadline).
    EngineThread again(c);
    QSignalSpy started2(&again, &EngineThread::started);
    again.start();
    QVERIFY(started2.wait(30000));
    again.requestStop();
    QElapsedTimer t;
    t.start();
    QVERIFY(again.stop(10000));
    QVERIFY2(t.elapsed() < 9000, qPrintable(QString::number(t.elapsed())));
    QVERIFY(!again.isRunning());
  }

  void cleanupTestCase() {
    for (Node& n : m_nodes) n.engine->stop();
  }

  // Status records: each node shows the other one (with lag and schema hash) within seconds.
  void clusterViewShowsEveryNode() {
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < 2; ++i) {
      QVERIFY(waitStatus(
          i, [](const NodeStatus& s) { return s.cluster.size() == 2; }, 10000));
      for (const PeerStatus& p : m_nodes[i].status.cluster) {
        QVERIFY(p.nodeId == 1 || p.nodeId == 2);
        QVERIFY(p.healthy);
        QCOMPARE(p.schemaHash, m_nodes[i].status.schemaHash);
        QVERIFY(p.lastSeenMs > QDateTime::currentMSecsSinceEpoch() - 10000);
        QCOMPARE(shardStatesText(p.shardStates), QString("1:running 2:running"));
        QCOMPARE(p.lagMessages, 0);
      }
    }
    qInfo() << "both nodes saw each other after" << t.elapsed() << "ms";
    const QJsonArray cluster =
        HealthServer::toJson(m_nodes[0].status, true).value("cluster").toArray();
    QCOMPARE(cluster.size(), 2);
  }

  void pauseAndResumePublishing() {
    auto [ok, msg] = run(0, C::kPausePublishing);
    QVERIFY2(ok, qPrintable(msg));
    QVERIFY(m_nodes[0].status.publishingPaused);
    QVERIFY(MetricsServer::render({}, m_nodes[0].status)
                .contains("harmonylite_publishing_paused{node_id=\"1\"} 1"));
    QCOMPARE(HealthServer::toJson(m_nodes[0].status, true).value("publishing_paused").toBool(),
             true);
    sql(0, "INSERT INTO Books(id, title, author) VALUES (1, 'held', 'a')");
    QVERIFY(waitStatus(0, [](const NodeStatus& s) { return s.pendingChanges == 1; }));
    // Node 2 applies node 1's other traffic meanwhile? There is none: the row stays on node 1.
    QCOMPARE(sql(1, "SELECT count(*) FROM Books"), QString("0"));
    std::tie(ok, msg) = run(0, C::kResumePublishing);
    QVERIFY(ok);
    QVERIFY(test::waitFor([&] { return sql(1, "SELECT count(*) FROM Books") == "1"; }, 15000));
    QVERIFY(waitStatus(
        0, [](const NodeStatus& s) { return !s.publishingPaused && s.pendingChanges == 0; }));
  }

  void pauseAndResumeApplying() {
    auto [ok, msg] = run(1, C::kPauseApplying, 0);
    QVERIFY2(ok, qPrintable(msg));
    QCOMPARE(m_nodes[1].status.shards.size(), 2);
    for (const ShardStatus& s : m_nodes[1].status.shards) QCOMPARE(s.state, ShardState::Paused);
    QVERIFY(m_nodes[1].status.healthy);  // the operator's pause is not a failure
    QVERIFY(MetricsServer::render({}, m_nodes[1].status)
                .contains("harmonylite_shard_running{node_id=\"2\",shard=\"1\"} 0"));
    QCOMPARE(HealthServer::toJson(m_nodes[1].status, true)
                 .value("shards")
                 .toArray()[0]
                 .toObject()
                 .value("state")
                 .toString(),
             QString("paused"));
    sql(0, "INSERT INTO Books(id, title, author) VALUES (2, 'waits', 'a')");
    QVERIFY(waitStatus(
        0, [](const NodeStatus& s) { return s.pendingChanges == 0 && s.published >= 2; }));
    QCOMPARE(sql(1, "SELECT count(*) FROM Books"), QString("1"));  // published, not applied
    QVERIFY(!run(1, C::kPauseApplying, 7).first);                  // no such shard
    std::tie(ok, msg) = run(1, C::kResumeApplying, 0);
    QVERIFY(ok);
    QVERIFY(test::waitFor([&] { return sql(1, "SELECT count(*) FROM Books") == "2"; }, 15000));
    for (const ShardStatus& s : m_nodes[1].status.shards) QCOMPARE(s.state, ShardState::Running);
  }

  void reconnectNats() {
    const qint64 before = m_nodes[0].status.natsReconnects;
    auto [ok, msg] = run(0, C::kReconnectNats);
    QVERIFY2(ok, qPrintable(msg));
    QVERIFY(
        waitStatus(0, [](const NodeStatus& s) { return s.natsConnected && s.shards.size() == 2; }));
    QCOMPARE(m_nodes[0].status.natsReconnects, before);  // a new connection, not a reconnect
    sql(0, "INSERT INTO Books(id, title, author) VALUES (3, 'after reconnect', 'a')");
    sql(1, "INSERT INTO Books(id, title, author) VALUES (4, 'to node 1', 'b')");
    // Each node ends with both new rows (node 2 holds 1, 2, 4 at once, so a count of 3 there
    // would prove nothing and would miss once row 3 has already arrived).
    const QString both = "SELECT count(*) FROM Books WHERE id IN (3, 4)";
    QVERIFY(test::waitFor([&] { return sql(1, both) == "2"; }, 15000));
    QVERIFY(test::waitFor([&] { return sql(0, both) == "2"; }, 15000));
    QCOMPARE(sql(0, "SELECT count(*) FROM Books"), QString("4"));
    QCOMPARE(sql(1, "SELECT count(*) FROM Books"), QString("4"));
  }

  // The durability guard's look at the streams (every 5 s), the schema registry (every 10 s) and
  // the re-creation of a consumer (its heartbeats missed) wait for JetStream's answers, up to
  // 3 s a request, on a thread of their own (docs/architecture.md#threads): while the server
  // does not answer at all (paused with SIGSTOP, short of the connection's ping timeout), the
  // engine's thread still builds its status twice a second and answers a control at once.
  // Before the consumers were made there (the "replicating" row), such a node sent no status
  // for 6,058 ms and answered the control after 3,456 ms. Once the server answers again, every
  // shard is subscribed again. A shard paused by the operator asks for its stream's last
  // sequence every 5 s (the waiting count): there too ("applying paused"); after the pause, the
  // count shows what waits, and a resume applies it.
  void engineAnswersWhileJetStreamDoesNot_data() {
    QTest::addColumn<bool>("replicate");
    QTest::addColumn<bool>("pauseApplying");
    QTest::newRow("publishing only") << false << false;
    QTest::newRow("replicating") << true << false;
    QTest::newRow("applying paused") << true << true;
  }
  void engineAnswersWhileJetStreamDoesNot() {
    QFETCH(bool, replicate);
    QFETCH(bool, pauseApplying);
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    Node n;
    Config c;
    QVERIFY(prepareNode(n, m_dir.filePath(QTest::currentDataTag()), 7, server.url(), 2, &c));
    c.replicate = replicate;
    StatusTimes times;
    makeRecorded(n, c, &times);
    QSignalSpy started(n.engine.get(), &EngineThread::started);
    n.engine->start();
    QVERIFY(started.wait(30000));
    auto shardsRunning = [&](const NodeStatus& st) {
      return !replicate || (st.shards.size() == 2 &&
                            std::all_of(st.shards.begin(), st.shards.end(), [](const auto& sh) {
                              return sh.state == ShardState::Running;
                            }));
    };
    QVERIFY(
        waitFor(n, [&](const NodeStatus& st) { return st.natsConnected && shardsRunning(st); }));
    if (pauseApplying) QVERIFY(run(n, C::kPauseApplying, 0).first);

    QVERIFY(::kill(pid_t(server.pid()), SIGSTOP) == 0);
    const qint64 pausedAt = times.now();
    // Two looks of the guard (4 requests, 12 s of timeouts on the old engine thread) and one
    // reading of the registry fall in 11 s.
    constexpr qint64 kPauseMs = 11000;
    qint64 controlMs = -1;
    while (times.now() - pausedAt < kPauseMs) {
      QTest::qWait(50);
      if (controlMs < 0 && times.now() - pausedAt > 6000) {  // after the first look
        QElapsedTimer t;
        t.start();
        auto [done, msg] = run(n, C::kPausePublishing);
        QVERIFY2(done, qPrintable(msg));
        controlMs = t.elapsed();
      }
    }
    QVERIFY(::kill(pid_t(server.pid()), SIGCONT) == 0);
    int during = 0;
    const qint64 longestGap = times.longestGap(pausedAt, pausedAt + kPauseMs, &during);
    qInfo() << "while JetStream did not answer:" << during << "statuses, longest gap" << longestGap
            << "ms; a control answered in" << controlMs << "ms";
    QVERIFY2(longestGap < 1500, qPrintable(QString::number(longestGap)));
    QVERIFY2(controlMs >= 0 && controlMs < 1500, qPrintable(QString::number(controlMs)));
    // Once the server answers again, so does the registry: a reading after the pause holds this
    // node's entry (the answers of the pause were handed over, so a new one was asked).
    const qint64 resumedMs = QDateTime::currentMSecsSinceEpoch();
    QVERIFY(run(n, C::kResumePublishing).first);
    QVERIFY2(waitFor(
                 n,
                 [&](const NodeStatus& st) {
                   return st.natsConnected && st.schema.registryReadMs > resumedMs &&
                          st.schema.registryError.isEmpty() &&
                          std::any_of(st.schema.registry.begin(), st.schema.registry.end(),
                                      [](const SchemaNode& e) { return e.nodeId == 7; });
                 },
                 25000),
             qPrintable(n.status.schema.registryError));
    // The consumers re-created meanwhile (missed heartbeats) deliver again: a row sent on each
    // shard by another client reaches this node.
    if (replicate) {
      if (!pauseApplying) QVERIFY(waitFor(n, shardsRunning, 25000));
      QVERIFY(sendAuthorOnEachShard(server.url(), c, 4240, "after"));
      if (pauseApplying) {  // the count of what waits, asked while paused; then a resume
        QVERIFY(waitFor(
            n,
            [](const NodeStatus& st) {
              return st.shards.size() == 2 &&
                     std::all_of(st.shards.begin(), st.shards.end(), [](const auto& sh) {
                       return sh.state == ShardState::Paused && sh.lagMessages == 1;
                     });
            },
            15000));
        QVERIFY(run(n, C::kResumeApplying, 0).first);
      }
      QVERIFY(test::waitFor(
          [&] {
            return test::sqlite3(n.db, "SELECT count(*) FROM Authors WHERE name = 'after'") == "2";
          },
          20000));
    }
    n.engine->stop();
  }

  // Connecting waits on the request thread too (docs/architecture.md#threads): the attempt and
  // the streams' creation or check, at start and at the operator's reconnect. A proxy in front
  // of the server drops every stream request ($JS.API.STREAM.*), as a JetStream that does not
  // answer; everything else passes. Each request waits out its 3 s timeout, 2 s apart. On the
  // engine thread (before), a control waited for the request under way and no status came for
  // 3 s at a time.
  void engineAnswersWhileConnecting() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    test::TcpProxy proxy(server.port());
    QVERIFY(proxy.start().isOk());
    proxy.setDropPublishes("$JS.API.STREAM.");
    Node n;
    Config c;
    QVERIFY(prepareNode(n, m_dir.filePath("connecting"), 8, proxy.url(), 2, &c));
    StatusTimes times;
    makeRecorded(n, c, &times);
    QSignalSpy started(n.engine.get(), &EngineThread::started);
    n.engine->start();
    // At start: a control while the first stream request waits for its answer.
    QVERIFY(test::waitFor([&] { return proxy.droppedPublishes() >= 1; }, 30000));
    QElapsedTimer t;
    t.start();
    auto [paused, pausedMsg] = run(n, C::kPausePublishing);
    const qint64 atStartMs = t.elapsed();
    QVERIFY2(paused, qPrintable(pausedMsg));
    QCOMPARE(started.count(), 0);  // still waiting for the streams
    proxy.setDropPublishes("");
    QVERIFY(started.wait(30000));
    QVERIFY(run(n, C::kResumePublishing).first);
    auto shardsRunning = [](const NodeStatus& st) {
      return st.natsConnected && st.shards.size() == 2 &&
             std::all_of(st.shards.begin(), st.shards.end(),
                         [](const auto& sh) { return sh.state == ShardState::Running; });
    };
    QVERIFY(waitFor(n, shardsRunning));

    // The operator's reconnect: statuses and controls go on while the new connection's stream
    // requests wait.
    const int droppedBefore = proxy.setDropPublishes("$JS.API.STREAM.");
    const qint64 reconnectAt = times.now();
    QVERIFY(run(n, C::kReconnectNats).first);
    QVERIFY(test::waitFor([&] { return proxy.droppedPublishes() > droppedBefore; }, 15000));
    constexpr qint64 kWaitMs = 7000;  // two stream requests of 3 s
    const qint64 controlMs = pauseWhileWaiting(n, times, reconnectAt, kWaitMs);
    const int droppedDuring = proxy.droppedPublishes() - droppedBefore;
    const qint64 longestGap = times.longestGap(reconnectAt, reconnectAt + kWaitMs);
    qInfo() << "a control at start answered in" << atStartMs
            << "ms; after the reconnect:" << droppedDuring
            << "stream requests unanswered, longest status gap" << longestGap
            << "ms, a control answered in" << controlMs << "ms";
    QVERIFY2(atStartMs < 1500, qPrintable(QString::number(atStartMs)));
    QVERIFY2(longestGap < 1500, qPrintable(QString::number(longestGap)));
    QVERIFY2(controlMs >= 0 && controlMs < 1500, qPrintable(QString::number(controlMs)));
    QVERIFY(!n.status.natsConnected || n.status.shards.isEmpty() ||
            !shardsRunning(n.status));  // not started again while its streams are not known
    // Once JetStream answers, the node replicates again: a change on each shard arrives.
    proxy.setDropPublishes("");
    QVERIFY(run(n, C::kResumePublishing).first);
    QVERIFY(waitFor(n, shardsRunning, 30000));
    QVERIFY(sendAuthorOnEachShard(server.url(), c, 4250, "reconnected"));
    QVERIFY(test::waitFor(
        [&] {
          return test::sqlite3(n.db, "SELECT count(*) FROM Authors WHERE name = 'reconnected'") ==
                 "2";
        },
        20000));
    n.engine->stop();
  }

  // Two reconnects in a row: the first one's attempt belongs to a client the second replaced,
  // and must not connect the second one's client a second time (a connection replaced under
  // its subscriptions). The node ends connected once, and replicates.
  void reconnectTwiceInARow() {
    test::NatsServer server;  // its own: the rows it sends would reach the other tests' nodes
    QVERIFY(server.start().isOk());
    Node n;
    Config c;
    StatusTimes times;
    QVERIFY(startRecorded(n, m_dir.filePath("twice"), 11, server.url(), &c, &times));
    auto running = [](const NodeStatus& st) {
      return st.natsConnected && st.healthy && st.shards.size() == 2 &&
             std::all_of(st.shards.begin(), st.shards.end(),
                         [](const auto& sh) { return sh.state == ShardState::Running; });
    };
    QVERIFY(waitFor(n, running));
    QSignalSpy done(n.engine.get(), &EngineThread::controlDone);
    QSignalSpy events(n.engine.get(), &EngineThread::event);
    n.engine->control(C::kReconnectNats, 0, false);
    n.engine->control(C::kReconnectNats, 0, false);
    QVERIFY(test::waitFor([&] { return done.count() == 2; }, 10000));
    QVERIFY(waitFor(n, running, 30000));
    QVERIFY(sendAuthorOnEachShard(server.url(), c, 4270, "twice"));
    QVERIFY(test::waitFor(
        [&] {
          return test::sqlite3(n.db, "SELECT count(*) FROM Authors WHERE name = 'twice'") == "2";
        },
        20000));
    int connects = 0;
    for (const QList<QVariant>& e : events)
      if (e.at(0).value<EngineEvent>().kind == EngineEvent::Kind::NatsConnected) ++connects;
    QCOMPARE(connects, 1);
    n.engine->stop();
  }

  // The watchdog's last resort (docs/replication.md#applying) asks on the request thread too:
  // shard 1's every subscription delivers nothing (HL_TEST_DROP_DELIVERIES, read when the
  // client is made), so after two stuck looks the shard fetches by sequence, and a proxy drops
  // those fetches ($JS.API.STREAM.MSG.GET of shard 1's stream only: each waits out its 3 s).
  // Statuses keep coming meanwhile (on the engine thread, each look's fetch held it 3 s); once
  // the fetches pass, the row arrives.
  void engineAnswersWhileFetchesWait() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    test::TcpProxy proxy(server.port());
    QVERIFY(proxy.start().isOk());
    Node n;
    Config c;
    qputenv("HL_TEST_DROP_DELIVERIES", "1:all");
    StatusTimes times;
    const bool ok = startRecorded(n, m_dir.filePath("fetching"), 10, proxy.url(), &c, &times);
    qunsetenv("HL_TEST_DROP_DELIVERIES");
    QVERIFY(ok);
    // Set once started: the first fetch comes after two stuck looks (20 s).
    proxy.setDropPublishes("$JS.API.STREAM.MSG.GET." + c.streamName(1).toUtf8());
    QVERIFY(waitFor(n, [](const NodeStatus& st) { return st.natsConnected && st.healthy; }));
    QVERIFY(sendAuthorOnEachShard(server.url(), c, 4260, "fetched"));
    const qint64 from = times.now();
    // Two looks' fetches dropped: about 25 s (two stuck looks of 10 s, then looks every 5 s).
    QVERIFY2(test::waitFor([&] { return proxy.droppedPublishes() >= 2; }, 60000),
             qPrintable(QString::number(proxy.droppedPublishes())));
    const qint64 to = times.now();
    const qint64 longestGap = times.longestGap(from, to);
    qInfo() << "while" << proxy.droppedPublishes() << "fetches waited for their answer over"
            << to - from << "ms: longest status gap" << longestGap << "ms";
    QVERIFY2(longestGap < 1500, qPrintable(QString::number(longestGap)));
    QCOMPARE(test::sqlite3(n.db, "SELECT count(*) FROM Authors WHERE name = 'fetched'"),
             QString("1"));  // shard 2's; shard 1's waits for a fetch
    proxy.setDropPublishes("");
    QVERIFY(test::waitFor(
        [&] {
          return test::sqlite3(n.db, "SELECT count(*) FROM Authors WHERE name = 'fetched'") == "2";
        },
        30000));
    n.engine->stop();
  }

  // A restore asks JetStream where each stream begins and ends before it copies the snapshot
  // in (docs/snapshots.md#how, step 4), on the request thread: while a proxy drops shard 1's
  // stream-info requests (each waits out its 3 s, and is asked again), statuses keep coming and
  // a control is answered at once; once the stream answers, the restore ends well. On the
  // engine thread each of those requests held it 3 s, and the restore failed on the first.
  void restoreAsksTheStreamsOffTheEngineThread() {
    test::NatsServer server;  // its own: the snapshot and the restore stay off the other nodes
    QVERIFY(server.start().isOk());
    test::TcpProxy proxy(server.port());
    QVERIFY(proxy.start().isOk());
    Node n;
    Config c;
    StatusTimes times;
    QVERIFY(startRecorded(n, m_dir.filePath("restoring"), 12, proxy.url(), &c, &times));
    QVERIFY(waitFor(n, [](const NodeStatus& st) { return st.natsConnected && st.healthy; }));
    test::sqlite3(n.db, "INSERT INTO Authors(id, name) VALUES (4280, 'in the snapshot')");
    const auto saved = run(n, C::kSaveSnapshot);
    QVERIFY2(saved.first, qPrintable(saved.second));

    proxy.setDropPublishes("$JS.API.STREAM.INFO." + c.streamName(1).toUtf8());
    QSignalSpy done(n.engine.get(), &EngineThread::controlDone);
    auto restoreAnswers = [&] {
      QList<QList<QVariant>> answers;
      for (const QList<QVariant>& d : done)
        if (d.at(0).value<C>() == C::kRestoreSnapshot) answers << d;
      return answers;
    };
    n.engine->control(C::kRestoreSnapshot, 0, true);
    QVERIFY(test::waitFor([&] { return proxy.droppedPublishes() >= 1; }, 30000));
    const qint64 from = times.now();
    constexpr qint64 kWaitMs = 5000;  // two stream requests of 3 s
    const qint64 controlMs = pauseWhileWaiting(n, times, from, kWaitMs);
    const qint64 longestGap = times.longestGap(from, from + kWaitMs);
    const int dropped = proxy.droppedPublishes();
    qInfo() << "while" << dropped << "stream requests of the restore waited: longest status gap"
            << longestGap << "ms, a control answered in" << controlMs << "ms";
    QVERIFY2(restoreAnswers().isEmpty(),
             qPrintable(restoreAnswers().value(0).value(2).toString()));  // still waiting
    QVERIFY(n.status.snapshots.restoreUnderWay);
    // The operator's reconnect meanwhile drops the request's answer: the restore asks again,
    // on the new client once it is connected.
    QVERIFY(run(n, C::kReconnectNats).first);
    proxy.setDropPublishes("");
    QVERIFY(test::waitFor([&] { return !restoreAnswers().isEmpty(); }, 30000));
    const QList<QVariant> answer = restoreAnswers().first();
    qInfo() << "restore:" << answer.at(2).toString();
    QVERIFY2(answer.at(1).toBool(), qPrintable(answer.at(2).toString()));
    QVERIFY(answer.at(2).toString().contains("restored snapshot"));
    QVERIFY2(longestGap < 1500, qPrintable(QString::number(longestGap)));
    QVERIFY2(controlMs >= 0 && controlMs < 1500, qPrintable(QString::number(controlMs)));
    QVERIFY(run(n, C::kResumePublishing).first);
    QCOMPARE(test::sqlite3(n.db, "SELECT name FROM Authors WHERE id = 4280"),
             QString("in the snapshot"));
    // It replicates after the restore: a change on each shard arrives.
    QVERIFY(sendAuthorOnEachShard(server.url(), c, 4290, "after restore"));
    QVERIFY(test::waitFor(
        [&] {
          return test::sqlite3(n.db, "SELECT count(*) FROM Authors WHERE name = 'after restore'") ==
                 "2";
        },
        30000));

    // A stream that does not answer until the restore's deadline (20 s): the restore fails and
    // says why, and the node goes on with the database it has.
    proxy.setDropPublishes("$JS.API.STREAM.INFO." + c.streamName(1).toUtf8());
    done.clear();
    n.engine->control(C::kRestoreSnapshot, 0, true);
    QVERIFY(test::waitFor([&] { return !restoreAnswers().isEmpty(); }, 40000));
    const QList<QVariant> failed = restoreAnswers().first();
    QVERIFY(!failed.at(1).toBool());
    QVERIFY2(failed.at(2).toString().contains("stream info " + c.streamName(1)),
             qPrintable(failed.at(2).toString()));
    proxy.setDropPublishes("");
    QVERIFY(waitFor(n, [](const NodeStatus& st) { return !st.snapshots.restoreUnderWay; }));
    QCOMPARE(test::sqlite3(n.db, "SELECT count(*) FROM Authors WHERE name = 'after restore'"),
             QString("2"));
    n.engine->stop();
  }

  // A stop while the schema registry is read and its entries' requests go unanswered (a proxy
  // drops them: each waits out its 3 s) cuts the reading short: the stop waits for the request
  // under way, not for one per entry. Before, with 6 entries it waited up to 18 s, past the
  // hosts' 10 s bound (docs/replication.md: "exiting without a clean stop").
  void stopCutsTheRegistryReadingShort() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    test::TcpProxy proxy(server.port());
    QVERIFY(proxy.start().isOk());
    {  // five other nodes' entries besides this node's own
      auto nc = test::connectTo(server.url());
      QVERIFY(nc.ok());
      auto js = test::jetStream(nc->get());
      QVERIFY(js.ok());
      SchemaRegistry registry(js->get(), 1);
      for (uint64_t id = 21; id <= 25; ++id) {
        SchemaNode other;
        other.nodeId = id;
        other.schemaHash = QString(64, 'b');
        other.version = QStringLiteral("test");
        other.updatedAtMs = QDateTime::currentMSecsSinceEpoch();
        QVERIFY(registry.put(other).isOk());
      }
    }
    Node n;
    Config c;
    StatusTimes times;
    QVERIFY(startRecorded(n, m_dir.filePath("registry"), 13, proxy.url(), &c, &times));
    QVERIFY(waitFor(n, [](const NodeStatus& st) { return st.natsConnected && st.healthy; }));
    proxy.setDropPublishes("$JS.API.DIRECT.GET.KV_" + kSchemaRegistryBucket.toUtf8());
    // The registry is read every 10 s.
    QVERIFY(test::waitFor([&] { return proxy.droppedPublishes() >= 1; }, 30000));
    QElapsedTimer t;
    t.start();
    const bool clean = n.engine->stop(30000);
    const qint64 stopMs = t.elapsed();
    qInfo() << "stop while the registry's entries went unanswered:" << stopMs << "ms,"
            << proxy.droppedPublishes() << "requests dropped";
    QVERIFY(clean);
    QVERIFY2(stopMs < 6000, qPrintable(QString::number(stopMs)));
  }

  void deadLettersRetryAndDiscard() {
    // A Go-format message for a table node 2 does not have yet: dead-lettered.
    auto nc = test::connectTo(m_server.url());
    QVERIFY(nc.ok());
    auto js = test::jetStream(nc->get());
    QVERIFY(js.ok());
    Change c;
    c.fromNodeId = 9;
    c.id = 1;
    c.table = "Later";
    c.row = {{"id", Value::integer(1)}, {"v", Value::text("x")}};
    QVERIFY(test::publish(js->get(), "harmonylite-change-log-1", encodeMessage(c, true)).isOk());
    QVERIFY(waitStatus(1, [](const NodeStatus& s) { return s.deadLetterCount == 1; }));
    const qint64 id = m_nodes[1].status.recentDeadLetters.value(0).id;
    QVERIFY(
        m_nodes[1].status.recentDeadLetters.value(0).reason.contains("unknown table \"Later\""));
    QCOMPARE(HealthServer::toJson(m_nodes[1].status, true).value("dead_letters").toInteger(), 1);
    QVERIFY(!run(1, C::kRetryDeadLetter, id).first);  // still no such table: kept
    QCOMPARE(m_nodes[1].status.deadLetterCount, 1);
    sql(1, "CREATE TABLE Later(id INTEGER PRIMARY KEY, v TEXT)");
    QVERIFY(test::waitFor([&] { return run(1, C::kRetryDeadLetter, id).first; }, 15000));
    QCOMPARE(sql(1, "SELECT v FROM Later WHERE id = 1"), QString("x"));
    QCOMPARE(m_nodes[1].status.deadLetterCount, 0);

    c.table = "Never";
    QVERIFY(test::publish(js->get(), "harmonylite-change-log-2", encodeMessage(c, true)).isOk());
    QVERIFY(waitStatus(1, [](const NodeStatus& s) { return s.deadLetterCount == 1; }));
    const qint64 id2 = m_nodes[1].status.recentDeadLetters.value(0).id;
    auto [ok, msg] = run(1, C::kDiscardDeadLetter, id2, false);
    QVERIFY(!ok);
    QVERIFY(msg.contains("confirm"));
    QCOMPARE(m_nodes[1].status.deadLetterCount, 1);
    QVERIFY(run(1, C::kDiscardDeadLetter, id2, true).first);
    QCOMPARE(m_nodes[1].status.deadLetterCount, 0);
    QVERIFY(!run(1, C::kDiscardDeadLetter, 999999, true).first);  // no such dead letter
  }

  // docs/replication.md#insert-collisions: Authors is dead-letter. Node 2 inserts a row while it
  // neither applies nor publishes; node 1 inserts one meanwhile, SQLite giving both the same
  // key. Node 1's insert is earlier in the stream and keeps the key everywhere; node 2 keeps
  // its own row as a dead letter, and Retry inserts it under a new key, on both nodes.
  void deadLetterKeepsTheLostInsertForRetry() {
    QVERIFY(run(1, C::kPauseApplying, 0).first);
    QVERIFY(run(1, C::kPausePublishing).first);
    const qint64 published0 = m_nodes[0].status.published;
    const qint64 published1 = m_nodes[1].status.published;
    const QString key = sql(0, "INSERT INTO Authors(name) VALUES ('from-1') RETURNING id");
    QVERIFY(waitStatus(0, [&](const NodeStatus& s) { return s.published > published0; }));
    QCOMPARE(sql(1, "INSERT INTO Authors(name) VALUES ('from-2') RETURNING id"), key);
    QVERIFY(run(1, C::kResumePublishing).first);
    QVERIFY(waitStatus(1, [&](const NodeStatus& s) { return s.published > published1; }));
    QVERIFY(run(1, C::kResumeApplying, 0).first);
    const QString all = "SELECT group_concat(id || '|' || name, ';') FROM Authors";
    QVERIFY(test::waitFor([&] { return sql(1, all) == key + "|from-1"; }, 15000));
    QCOMPARE(sql(0, all), key + "|from-1");
    QVERIFY(waitStatus(1, [](const NodeStatus& s) { return s.deadLetterCount == 1; }));
    const DeadLetterInfo letter = m_nodes[1].status.recentDeadLetters.value(0);
    QVERIFY2(letter.reason.contains("insert collision in Authors at id=" + key) &&
                 letter.reason.contains("Retry inserts it under a new key"),
             qPrintable(letter.reason));
    QCOMPARE(m_nodes[1].status.insertCollisions.value("Authors"), qint64(1));
    QCOMPARE(sql(1, "SELECT loser FROM __harmonylite__conflicts ORDER BY id DESC LIMIT 1"),
             QString("node 2 (its row kept as a dead letter)"));
    // Node 1 kept its row: no lost insert there.
    QCOMPARE(sql(0, "SELECT count(*) FROM __harmonylite__dead_letters WHERE lost_insert = 1"),
             QString("0"));

    auto [ok, msg] = run(1, C::kRetryDeadLetter, letter.id);
    QVERIFY2(ok, qPrintable(msg));
    QVERIFY2(msg.contains("is inserted again at id="), qPrintable(msg));
    QVERIFY(waitStatus(1, [](const NodeStatus& s) { return s.deadLetterCount == 0; }));
    const QString moved = "SELECT id FROM Authors WHERE name = 'from-2'";
    QVERIFY(test::waitFor([&] { return !sql(0, moved).isEmpty(); }, 15000));
    QCOMPARE(sql(1, moved), sql(0, moved));
    QVERIFY(sql(0, moved) != key);
    QCOMPARE(sql(0, all), sql(1, all));
  }

  void retryFailedPublishes() {
    // A change in the failed state (as a too-large one would be) is not sent until the retry
    // control puts it back to pending. Made failed while publishing is paused, so that it was
    // never sent.
    QVERIFY(run(0, C::kPausePublishing).first);
    sql(0, "INSERT INTO Books(id, title, author) VALUES (5, 'was failed', 'a')");
    sql(0, "UPDATE __harmonylite__changes SET state = 2, error = 'test' WHERE state IS NULL");
    QVERIFY(run(0, C::kResumePublishing).first);
    QVERIFY(waitStatus(
        0, [](const NodeStatus& s) { return s.failedChanges == 1 && s.pendingChanges == 0; }));
    // A later row reaches node 2, so the publisher has run since the resume; row 5 did not.
    sql(0, "INSERT INTO Books(id, title, author) VALUES (6, 'marker', 'a')");
    QVERIFY(test::waitFor([&] { return sql(1, "SELECT count(*) FROM Books WHERE id = 6") == "1"; },
                          15000));
    QCOMPARE(sql(1, "SELECT count(*) FROM Books WHERE id = 5"), QString("0"));
    auto [ok, msg] = run(0, C::kRetryFailedPublishes);
    QVERIFY2(ok, qPrintable(msg));
    QVERIFY2(msg.startsWith("1 failed change"), qPrintable(msg));
    QVERIFY(test::waitFor([&] { return sql(1, "SELECT count(*) FROM Books WHERE id = 5") == "1"; },
                          15000));
    QVERIFY(waitStatus(
        0, [](const NodeStatus& s) { return s.failedChanges == 0 && s.pendingChanges == 0; }));
  }

  // The durability guard's heal with publishing paused (docs/replication.md#durability). Node A
  // updates row 1 (message P), node B updates it after seeing P (message Q, later). The server's
  // store is put back to an older copy that still holds P and Q and lacks what A wrote after,
  // so both nodes heal: they read the stream again from its start and make their kept changes
  // pending again. A's publishing is paused, so its change of row 1 waits, not sent, while its
  // consumer meets Q. That change's first message P is before Q in the stream, and its copy
  // sent again will be a duplicate answered with P's position: A must wait for that ack and then
  // apply Q. Before, a kept change made pending counted as "not sent yet" (newer than Q): A
  // skipped Q, recorded a conflict, and kept its value for good, while B had Q's.
  void healedNodeWaitsForItsRepublishedChange() {
    test::NatsServer server;
    QVERIFY2(server.start().isOk(), qPrintable(server.log()));
    Node heal[2];
    for (int i = 0; i < 2; ++i) {
      startNode(heal, i, m_dir.filePath(QStringLiteral("heal%1").arg(i + 1)), uint64_t(31 + i),
                server.url(), 1);
      if (QTest::currentTestFailed()) return;
    }
    auto sqlOn = [&](int i, const QString& s) { return test::sqlite3(heal[i].db, s); };
    const QString row = "SELECT title FROM Books WHERE id = 1";
    auto both = [&](const QString& v) {
      return test::waitFor([&] { return sqlOn(0, row) == v && sqlOn(1, row) == v; }, 30000);
    };
    sqlOn(0, "INSERT INTO Books(id, title, author) VALUES (1, 'from A', 'a')");
    QVERIFY(both("from A"));
    sqlOn(1, "UPDATE Books SET title = 'from B' WHERE id = 1");
    QVERIFY(both("from B"));

    const QString older = m_dir.filePath("heal-older-store");
    server.stop();
    QVERIFY(test::runProcess("cp", {"-a", server.dataDir(), older}, 60000).exitCode == 0);
    QVERIFY(server.start().isOk());
    // Acknowledged, then lost with the older copy: the stream goes back below what both applied.
    QString rows = "BEGIN;";
    for (int k = 2; k <= 11; ++k)
      rows +=
          QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, 'lost', 'a');").arg(k);
    sqlOn(0, rows + "COMMIT;");
    const QString count = "SELECT count(*) FROM Books";
    QVERIFY(test::waitFor([&] { return sqlOn(1, count) == "11"; }, 30000));
    QVERIFY(waitFor(heal[0], [](const NodeStatus& s) { return s.pendingChanges == 0; }));

    QVERIFY(run(heal[0], C::kPausePublishing).first);
    server.stop();
    QVERIFY(QDir(server.dataDir()).removeRecursively());
    QVERIFY(test::runProcess("cp", {"-a", older, server.dataDir()}, 60000).exitCode == 0);
    QVERIFY2(server.start().isOk(), qPrintable(server.log()));
    // Both healed; a new row of B (after Q) reached A's consumer, so Q did too.
    for (Node& n : heal)
      QVERIFY(waitFor(
          n, [](const NodeStatus& s) { return s.streamIncidents >= 1; }, 30000));
    sqlOn(1, "INSERT INTO Books(id, title, author) VALUES (100, 'after the heal', 'b')");
    QVERIFY2(waitFor(heal[0],
                     [](const NodeStatus& s) {
                       return !s.shards.isEmpty() && s.shards[0].received >= 3;
                     }),
             qPrintable(heal[0].status.lastStreamIncident));
    QVERIFY(run(heal[0], C::kResumePublishing).first);

    QVERIFY2(both("from B"),
             qPrintable(QStringLiteral("A has %1, B has %2").arg(sqlOn(0, row), sqlOn(1, row))));
    // Every row: A's lost ones came back with its kept changes, B's new one reached A.
    QVERIFY(
        test::waitFor([&] { return sqlOn(0, count) == "12" && sqlOn(1, count) == "12"; }, 30000));
    QCOMPARE(sqlOn(0, "SELECT count(*) FROM __harmonylite__conflicts"), QString("0"));
    for (Node& n : heal) QVERIFY(n.engine->stop(15000));
  }

  void clearConflictsNeedsConfirmation() {
    const qint64 before = sql(1, "SELECT count(*) FROM __harmonylite__conflicts").toLongLong();
    sql(1,
        "INSERT INTO __harmonylite__conflicts(at, tbl, row_key, winner, loser) VALUES ('t', "
        "'Books', 'id=1', 'a', 'b')");
    QVERIFY(waitStatus(1, [&](const NodeStatus& s) { return s.conflictCount == before + 1; }));
    QCOMPARE(m_nodes[1].status.recentConflicts.value(0).rowKey, QString("id=1"));
    QVERIFY(!run(1, C::kClearConflicts, 0, false).first);
    QCOMPARE(m_nodes[1].status.conflictCount, before + 1);
    QVERIFY(run(1, C::kClearConflicts, 0, true).first);
    QCOMPARE(m_nodes[1].status.conflictCount, 0);
  }
};

QTEST_GUILESS_MAIN(TestControls)
#include "tst_controls.moc"
