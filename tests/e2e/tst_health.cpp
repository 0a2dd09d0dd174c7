// The /health endpoint of [health_check] and /metrics of [prometheus]
// (docs/replication.md#health-endpoint) on real nodes: Go's fields plus per-shard state, 200 when
// healthy, 503 with the reason when NATS is down and back to 200 after; a taken port is a clear
// start-up error; detailed = false; the metrics pass `promtool check metrics` and move with the
// data.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

#include "node_process.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

class TestHealth : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  NodeProcess::Options options(const QString& tag, const QString& url, int port,
                               bool detailed = true) {
    NodeProcess::Options o;
    o.nodeId = 7;
    o.dir = m_dir.filePath(tag);
    o.urls = {url};
    o.healthPort = port;
    o.healthDetailed = detailed;
    return o;
  }

  static QJsonObject get(int port, int* code) {
    QByteArray body;
    *code = test::httpGet(port, "/health", &body);
    return QJsonDocument::fromJson(body).object();
  }

 private slots:
  void healthyThenNatsDownThenBack() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    const int port = test::freePort();
    NodeProcess node(options("up-down", server.url(), port));
    QVERIFY2(node.start().isOk(), qPrintable(node.log()));

    int code = 0;
    QJsonObject o;
    QVERIFY(test::waitFor(
        [&] {
          o = get(port, &code);
          return code == 200;
        },
        10000));
    QCOMPARE(o.value("status").toString(), QString("healthy"));
    QCOMPARE(o.value("node_id").toInteger(), 7);
    QVERIFY(o.value("uptime_seconds").toInteger() >= 0);
    QCOMPARE(o.value("db_connected").toBool(), true);
    QCOMPARE(o.value("nats_connected").toBool(), true);
    QCOMPARE(o.value("cdc_installed").toBool(), true);
    QCOMPARE(o.value("tables_tracked").toInt(), 2);
    QVERIFY(!o.value("version").toString().isEmpty());
    const QJsonArray shards = o.value("shards").toArray();
    QCOMPARE(shards.size(), 2);
    QCOMPARE(shards[0].toObject().value("state").toString(), QString("running"));
    QCOMPARE(shards[0].toObject().value("stream").toString(), QString("harmonylite-changes-c-1"));

    node.sql("INSERT INTO Books(id, title, author) VALUES (1, 't', 'a')");
    QVERIFY(test::waitFor(
        [&] {
          o = get(port, &code);
          return !o.value("last_published_event_timestamp").toString().isEmpty();
        },
        10000));

    QElapsedTimer t;
    t.start();
    server.kill();
    QVERIFY(test::waitFor(
        [&] {
          o = get(port, &code);
          return code == 503;
        },
        15000));
    qInfo() << "503 after" << t.elapsed() << "ms";
    QCOMPARE(o.value("status").toString(), QString("unhealthy"));
    QCOMPARE(o.value("reason").toString(), QString("NATS not connected"));
    QCOMPARE(o.value("nats_connected").toBool(), false);

    QVERIFY(server.start().isOk());
    QVERIFY(test::waitFor(
        [&] {
          o = get(port, &code);
          return code == 200;
        },
        30000));
    QCOMPARE(node.stop(), 0);
  }

  void takenPortIsAStartupError() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    QTcpServer squatter;
    QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
    NodeProcess node(options("taken", server.url(), squatter.serverPort()));
    QVERIFY(node.launch().isOk());
    QVERIFY(!node.waitRunning(15000).isOk());
    QVERIFY(test::waitFor([&] { return !node.isRunning(); }, 10000));
    QVERIFY2(node.log().contains("start-up failed: health_check.bind: cannot listen on 127.0.0.1:" +
                                 QString::number(squatter.serverPort())),
             qPrintable(node.log()));
    QCOMPARE(node.stop(), 1);
  }

  // /metrics of two nodes: valid for promtool, node_id and shard labels, counters that move.
  void metricsPassPromtoolAndMove() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    QList<int> ports;
    std::vector<std::unique_ptr<NodeProcess>> nodes;
    for (int i = 1; i <= 2; ++i) {
      ports << test::freePort();
      NodeProcess::Options o;
      o.nodeId = uint64_t(40 + i);
      o.dir = m_dir.filePath(QStringLiteral("metrics%1").arg(i));
      o.urls = {server.url()};
      o.tablesToml =
          QStringLiteral(
              "[prometheus]\nenable = true\nbind = \"127.0.0.1:%1\"\nsubsystem = \"node\"\n")
              .arg(ports.last());
      nodes.push_back(std::make_unique<NodeProcess>(o));
      QVERIFY2(nodes.back()->start().isOk(), qPrintable(nodes.back()->log()));
    }
    nodes[0]->sql(
        "INSERT INTO Books(id, title, author) VALUES (1, 't', 'a'), (2, 'u', 'b'), (3, 'v', 'c')");
    QByteArray body1, body2;
    QVERIFY(test::waitFor(
        [&] {
          test::httpGet(ports[0], "/metrics", &body1);
          return body1.contains("harmonylite_node_published_total{node_id=\"41\"} 3\n");
        },
        15000));
    QVERIFY2(test::waitFor(
                 [&] {
                   test::httpGet(ports[1], "/metrics", &body2);
                   double applied = 0;
                   for (const QByteArray& line : body2.split('\n'))
                     if (line.startsWith("harmonylite_node_applied_total{"))
                       applied += line.split(' ').last().toDouble();
                   return applied == 3;
                 },
                 15000),
             body2.constData());
    QVERIFY(body2.contains("harmonylite_node_lag_messages{node_id=\"42\",shard=\"1\"}"));
    // The durability guard (docs/replication.md#durability): the writer keeps its 3 acked
    // changes (the default keep_published is 10 minutes), the other node has none of its own.
    QVERIFY2(test::waitFor(
                 [&] {
                   test::httpGet(ports[0], "/metrics", &body1);
                   return body1.contains("harmonylite_node_kept_changes{node_id=\"41\"} 3\n");
                 },
                 10000),
             body1.constData());
    QVERIFY(body1.contains("harmonylite_node_kept_dropped_uncovered_total{node_id=\"41\"} 0\n"));
    QVERIFY(body1.contains("# TYPE harmonylite_node_stream_rereads_total counter\n"));
    QVERIFY(body1.contains("harmonylite_node_stream_rereads_total{node_id=\"41\"} 0\n"));
    QVERIFY(body1.contains("# TYPE harmonylite_node_kept_oldest_age_seconds gauge\n"));
    QVERIFY(body2.contains("harmonylite_node_kept_changes{node_id=\"42\"} 0\n"));
    QVERIFY(body2.contains("harmonylite_node_kept_oldest_age_seconds{node_id=\"42\"} 0\n"));
    QVERIFY(body2.contains("harmonylite_node_up{node_id=\"42\"} 1"));
    // The write-lock hold time (docs/replication.md#write-lock): the receiver applied a batch.
    for (const char* q : {"0.5", "0.99", "1"})
      QVERIFY2(
          body2.contains("harmonylite_node_write_lock_hold_seconds{node_id=\"42\",quantile=\"" +
                         QByteArray(q) + "\"} "),
          body2.constData());
    QVERIFY(body2.contains("# TYPE harmonylite_node_write_lock_hold_seconds summary\n"));
    for (const QByteArray& body : {body1, body2}) {
      QProcess promtool;
      promtool.start("promtool", {"check", "metrics"});
      QVERIFY(promtool.waitForStarted());
      promtool.write(body);
      promtool.closeWriteChannel();
      QVERIFY(promtool.waitForFinished(30000));
      const QByteArray out = promtool.readAllStandardOutput() + promtool.readAllStandardError();
      QVERIFY2(promtool.exitCode() == 0 && out.trimmed().isEmpty(), out.constData());
    }
    for (auto& n : nodes) QCOMPARE(n->stop(), 0);
  }

  void notDetailed() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    const int port = test::freePort();
    NodeProcess node(options("plain", server.url(), port, false));
    QVERIFY(node.start().isOk());
    int code = 0;
    QJsonObject o;
    QVERIFY(test::waitFor(
        [&] {
          o = get(port, &code);
          return code == 200;
        },
        10000));
    QCOMPARE(o, QJsonObject({{"status", "healthy"}}));
    QCOMPARE(node.stop(), 0);
  }
};

QTEST_GUILESS_MAIN(TestHealth)
#include "tst_health.moc"
