// The /health endpoint of [health_check] (SPEC B9) on a real node: Go's fields plus per-shard
// state, 200 when healthy, 503 with the reason when NATS is down and back to 200 after; a
// taken port is a clear start-up error; detailed = false.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
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

  NodeProcess::Options options(const QString& tag, const QString& url, int port, bool detailed = true) {
    NodeProcess::Options o;
    o.nodeId = 7;
    o.dir = m_dir.filePath(tag);
    o.urls = {url};
    o.tablesToml = QStringLiteral("[health_check]\nenable = true\nbind = \"127.0.0.1:%1\"\ndetailed = %2\n")
                       .arg(port)
                       .arg(detailed ? "true" : "false");
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
    QVERIFY(test::waitFor([&] { o = get(port, &code); return code == 200; }, 10000));
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
    QVERIFY(test::waitFor([&] {
      o = get(port, &code);
      return !o.value("last_published_event_timestamp").toString().isEmpty();
    }, 10000));

    QElapsedTimer t;
    t.start();
    server.kill();
    QVERIFY(test::waitFor([&] { o = get(port, &code); return code == 503; }, 15000));
    qInfo() << "503 after" << t.elapsed() << "ms";
    QCOMPARE(o.value("status").toString(), QString("unhealthy"));
    QCOMPARE(o.value("reason").toString(), QString("NATS not connected"));
    QCOMPARE(o.value("nats_connected").toBool(), false);

    QVERIFY(server.start().isOk());
    QVERIFY(test::waitFor([&] { o = get(port, &code); return code == 200; }, 30000));
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

  void notDetailed() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    const int port = test::freePort();
    NodeProcess node(options("plain", server.url(), port, false));
    QVERIFY(node.start().isOk());
    int code = 0;
    QJsonObject o;
    QVERIFY(test::waitFor([&] { o = get(port, &code); return code == 200; }, 10000));
    QCOMPARE(o, QJsonObject({{"status", "healthy"}}));
    QCOMPARE(node.stop(), 0);
  }
};

QTEST_GUILESS_MAIN(TestHealth)
#include "tst_health.moc"
