// The HTTP endpoints under load (issue 15, docs/replication.md#health-endpoint): /health
// and /metrics are served by Qt HttpServer on the host (main) thread, the engine runs on its own
// thread. With 200 connections opened and held idle, and 20 clients that send their request one
// byte every 100 ms, while a node replicates a stream of writes, the engine never stalls: its
// status keeps changing (uptime_seconds in /health, which only the engine's status ticks
// advance), every batch of rows arrives within a bound, and the endpoints answer again, quickly,
// once the load is gone. Bounded throughout; figures are printed for docs.
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "node_process.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {
constexpr int kIdleConnections = 200;
constexpr int kSlowClients = 20;
constexpr int kBatches = 20;  // of kBatchRows rows, one every kBatchEveryMs
constexpr int kBatchRows = 200;
constexpr int kBatchEveryMs = 500;
constexpr int kReplicateBoundMs = 10000;  // each batch on the other node within this
constexpr int kStatusGapBoundMs = 5000;   // uptime_seconds never stands still longer

bool insertRows(NodeProcess& n, int from, int count) {
  QString sql = "BEGIN;";
  for (int i = from; i < from + count; ++i)
    sql +=
        QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, 'load', 'http');").arg(i);
  sql += "COMMIT;";
  bool ok = false;
  n.sql(sql, &ok);
  return ok;
}
}  // namespace

class TestHttpLoad : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }

  void slowAndIdleClientsDoNotStallTheEngine() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    const int healthPort = test::freePort();
    int metricsPort = test::freePort();
    while (metricsPort == healthPort) metricsPort = test::freePort();
    std::vector<std::unique_ptr<NodeProcess>> nodes;
    for (int i = 1; i <= 2; ++i) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(i);
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(i));
      o.urls = {server.url()};
      if (i == 2) {
        o.healthPort = healthPort;
        o.tablesToml = QStringLiteral("[prometheus]\nenable = true\nbind = \"127.0.0.1:%1\"\n")
                           .arg(metricsPort);
      }
      nodes.push_back(std::make_unique<NodeProcess>(o));
      QVERIFY2(nodes.back()->start().isOk(), qPrintable(nodes.back()->log()));
    }
    NodeProcess& a = *nodes[0];
    NodeProcess& b = *nodes[1];
    QVERIFY(test::waitFor([&] { return test::httpGet(healthPort, "/health") == 200; }, 30000));

    // 200 idle connections, half on each endpoint, held open for the whole load.
    std::vector<std::unique_ptr<QTcpSocket>> idle;
    for (int i = 0; i < kIdleConnections; ++i) {
      auto s = std::make_unique<QTcpSocket>();
      s->connectToHost(QHostAddress::LocalHost, quint16(i % 2 ? metricsPort : healthPort));
      idle.push_back(std::move(s));
    }
    QVERIFY(test::waitFor(
        [&] {
          return std::all_of(idle.begin(), idle.end(), [](const auto& s) {
            return s->state() == QAbstractSocket::ConnectedState;
          });
        },
        10000));

    // Slow clients: a request one byte per 100 ms (about 5 s for the whole request).
    struct Slow {
      std::unique_ptr<QTcpSocket> socket;
      QByteArray request;
      int sent = 0;
      QByteArray response;
    };
    std::vector<Slow> slow(kSlowClients);
    for (int i = 0; i < kSlowClients; ++i) {
      slow[size_t(i)].socket = std::make_unique<QTcpSocket>();
      slow[size_t(i)].request = QByteArray("GET ") + (i % 2 ? "/metrics" : "/health") +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      slow[size_t(i)].socket->connectToHost(QHostAddress::LocalHost,
                                            quint16(i % 2 ? metricsPort : healthPort));
    }
    QTimer drip;
    drip.setInterval(100);
    connect(&drip, &QTimer::timeout, this, [&] {
      for (Slow& c : slow) {
        if (c.socket->state() != QAbstractSocket::ConnectedState) continue;
        if (c.sent < c.request.size()) c.socket->write(c.request.mid(c.sent++, 1));
        c.response += c.socket->readAll();
      }
    });
    drip.start();

    // The load: batches of rows written on A, each must reach B within the bound; meanwhile
    // B's status (uptime_seconds) must keep moving.
    QElapsedTimer clock;
    clock.start();
    qint64 lastUptime = -1, lastUptimeChangeMs = 0, worstGapMs = 0, worstHealthMs = 0;
    qint64 worstReplicateMs = 0;
    auto lookAtStatus = [&] {
      QElapsedTimer t;
      t.start();
      QByteArray body;
      const int code = test::httpGet(healthPort, "/health", &body, 5000);
      worstHealthMs = std::max(worstHealthMs, t.elapsed());
      if (code == 0) return;
      const qint64 up = QJsonDocument::fromJson(body).object().value("uptime_seconds").toInteger();
      if (up != lastUptime) {
        if (lastUptime >= 0)
          worstGapMs = std::max(worstGapMs, clock.elapsed() - lastUptimeChangeMs);
        lastUptime = up;
        lastUptimeChangeMs = clock.elapsed();
      }
    };
    int next = 1;
    for (int batch = 0; batch < kBatches; ++batch) {
      QVERIFY(insertRows(a, next, kBatchRows));
      next += kBatchRows;
      QElapsedTimer t;
      t.start();
      const QString expected = QString::number(next - 1);
      QVERIFY2(test::waitFor(
                   [&] {
                     lookAtStatus();
                     return b.sql("SELECT count(*) FROM Books") == expected;
                   },
                   kReplicateBoundMs, 50),
               qPrintable(QStringLiteral("batch %1 not on B within %2 ms\n%3")
                              .arg(batch)
                              .arg(kReplicateBoundMs)
                              .arg(b.log().right(3000))));
      worstReplicateMs = std::max(worstReplicateMs, t.elapsed());
      test::waitFor(
          [&] {
            lookAtStatus();
            return t.elapsed() >= kBatchEveryMs;
          },
          kBatchEveryMs + 1000, 50);
    }
    worstGapMs = std::max(worstGapMs, clock.elapsed() - lastUptimeChangeMs);
    // The slow clients finish their requests and get answers.
    QVERIFY2(test::waitFor(
                 [&] {
                   return std::all_of(slow.begin(), slow.end(), [](const Slow& c) {
                     return c.response.startsWith("HTTP/1.1 200");
                   });
                 },
                 20000),
             "a slow client got no answer");
    drip.stop();
    qInfo().noquote() << QStringLiteral(
                             "under %1 idle and %2 slow connections, %3 rows in %4 s: worst batch "
                             "replication %5 ms, worst /health answer %6 ms, longest status gap "
                             "%7 ms, all idle connections still open: %8")
                             .arg(kIdleConnections)
                             .arg(kSlowClients)
                             .arg(next - 1)
                             .arg(double(clock.elapsed()) / 1000.0, 0, 'f', 1)
                             .arg(worstReplicateMs)
                             .arg(worstHealthMs)
                             .arg(worstGapMs)
                             .arg(std::all_of(idle.begin(), idle.end(), [](const auto& s) {
                               return s->state() == QAbstractSocket::ConnectedState;
                             }));
    QVERIFY2(worstGapMs <= kStatusGapBoundMs, qPrintable(QString::number(worstGapMs)));
    QVERIFY2(worstHealthMs < 2000, qPrintable(QString::number(worstHealthMs)));

    // The load goes away; both endpoints answer at once.
    idle.clear();
    slow.clear();
    QElapsedTimer t;
    t.start();
    QCOMPARE(test::httpGet(healthPort, "/health"), 200);
    QByteArray metrics;
    QCOMPARE(test::httpGet(metricsPort, "/metrics", &metrics), 200);
    QVERIFY(metrics.contains("harmonylite_up{"));
    QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
    QCOMPARE(a.stop(), 0);
    QCOMPARE(b.stop(), 0);
  }
};

QTEST_GUILESS_MAIN(TestHttpLoad)
#include "tst_http_load.moc"
