// Proves the NATS fixtures work with real nats-server processes and nats.c: a single server
// (connect, create a stream, publish, fetch) and a 3-server cluster that keeps working when
// one server stops. Also checks the nats.c error conversion on real failures.
#include <QtTest>

#include "nats/nats_handles.h"
#include "nats_test_client.h"
#include "test_support.h"

using namespace hl;

namespace {

struct Client {
  NatsConnectionPtr nc;
  JsCtxPtr js;
};

Result<Client> connectTo(const QStringList& urls, int timeoutMs = 2000) {
  auto nc = test::connectTo(urls, {}, {}, timeoutMs);
  if (!nc) return nc.status();
  auto js = test::jetStream(nc->get());
  if (!js) return js.status();
  return Client{std::move(*nc), std::move(*js)};
}

using test::addStream;

// Publishes with a message id, so that a retry after an ambiguous failure is not a duplicate.
Status publish(jsCtx* js, const char* subject, const QByteArray& data) {
  return test::publish(js, subject, data, "m-" + data);
}

// Fetches up to `want` messages, acking them; returns their payloads in order.
QList<QByteArray> fetchAll(jsCtx* js, const char* subject, const char* durable, int want) {
  natsSubscription* raw = nullptr;
  jsErrCode jerr = jsErrCode(0);
  // Right after a server stopped, creating the consumer may fail until leaders are elected.
  Status subscribed;
  test::waitFor(
      [&] {
        subscribed = fromNats(js_PullSubscribe(&raw, js, subject, durable, nullptr, nullptr, &jerr),
                              "pull subscribe", jerr);
        return subscribed.isOk();
      },
      20000, 100);
  if (!subscribed.isOk()) {
    qWarning().noquote() << subscribed.message();
    return {};
  }
  NatsSubscriptionPtr sub(raw);
  QList<QByteArray> out;
  test::waitFor(
      [&] {
        NatsMsgList list;
        natsSubscription_Fetch(list.get(), sub.get(), want - int(out.size()), 500, &jerr);
        for (int i = 0; i < list.count(); ++i) {
          natsMsg* m = list.at(i);
          out << QByteArray(natsMsg_GetData(m), natsMsg_GetDataLength(m));
          natsMsg_Ack(m, nullptr);
        }
        return out.size() >= want;
      },
      20000, 1);
  return out;
}

}  // namespace

class TestNatsFixture : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() { QCOMPARE(nats_Open(-1), NATS_OK); }
  void cleanupTestCase() { nats_Close(); }

  void singleServerPublishAndFetch() {
    test::NatsServer server;
    const Status started = server.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    QVERIFY(server.port() > 0);
    auto c = connectTo({server.url()});
    QVERIFY2(c.ok(), qPrintable(c.status().message()));
    QVERIFY(addStream(c->js.get(), "S1", "s1.x", 1).isOk());
    for (int i = 0; i < 5; ++i) QVERIFY(publish(c->js.get(), "s1.x", QByteArray::number(i)).isOk());
    const QList<QByteArray> got = fetchAll(c->js.get(), "s1.x", "d1", 5);
    QCOMPARE(got, QList<QByteArray>({"0", "1", "2", "3", "4"}));

    // A restarted server keeps its JetStream data (the fixture keeps its directory).
    server.stop();
    QVERIFY(!server.isRunning());
    QVERIFY(server.start().isOk());
    auto c2 = connectTo({server.url()});
    QVERIFY(c2.ok());
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = jsErrCode(0);
    QCOMPARE(js_GetStreamInfo(&si, c2->js.get(), "S1", nullptr, &jerr), NATS_OK);
    JsStreamInfoPtr info(si);
    QCOMPARE(info->State.Msgs, uint64_t(5));
  }

  void errorsFromARealServerAreConverted() {
    const int closedPort = test::freePort();
    auto none = connectTo({QStringLiteral("nats://127.0.0.1:%1").arg(closedPort)}, 500);
    QVERIFY(!none.ok());
    QCOMPARE(none.status().code(), Status::Code::kUnavailable);
    QVERIFY(none.status().isRetryable());
    QVERIFY2(none.status().message().startsWith("connect:"), qPrintable(none.status().message()));

    test::NatsServer server;
    QVERIFY(server.start().isOk());
    auto c = connectTo({server.url()});
    QVERIFY(c.ok());
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = jsErrCode(0);
    const Status missing =
        fromNats(js_GetStreamInfo(&si, c->js.get(), "NOPE", nullptr, &jerr), "stream info", jerr);
    QVERIFY(!missing.isOk());
    QCOMPARE(missing.code(), Status::Code::kNotFound);
    QVERIFY2(missing.message().startsWith("stream info:"), qPrintable(missing.message()));
  }

  void clusterSurvivesOneServerStopping() {
    test::NatsCluster cluster;
    const Status started = cluster.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    auto c = connectTo(cluster.urls());
    QVERIFY2(c.ok(), qPrintable(c.status().message()));
    QVERIFY(
        test::waitFor([&] { return addStream(c->js.get(), "R3", "r3.x", 3).isOk(); }, 20000, 100));
    // The first publishes to a new 3-replica stream may time out on a loaded machine while it
    // settles: retried with a deadline (message ids make a retry safe).
    for (int i = 0; i < 10; ++i)
      QVERIFY(test::waitFor(
          [&] { return publish(c->js.get(), "r3.x", QByteArray::number(i)).isOk(); }, 30000, 100));

    cluster.server(0).stop();  // maybe the one we are connected to, maybe the stream leader
    QVERIFY(!cluster.server(0).isRunning());
    for (int i = 10; i < 20; ++i) {
      // While a new stream leader is elected a publish may fail: retry with a deadline.
      QVERIFY2(
          test::waitFor([&] { return publish(c->js.get(), "r3.x", QByteArray::number(i)).isOk(); },
                        30000, 100),
          qPrintable(QStringLiteral("publish %1 after a server stopped").arg(i)));
    }
    const QList<QByteArray> got = fetchAll(c->js.get(), "r3.x", "d3", 20);
    QCOMPARE(got.size(), 20);
    for (int i = 0; i < 20; ++i) QCOMPARE(got[i], QByteArray::number(i));

    // The stopped server rejoins.
    const Status back = cluster.server(0).start();
    QVERIFY2(back.isOk(), qPrintable(back.message()));
  }
};

QTEST_GUILESS_MAIN(TestNatsFixture)
#include "tst_nats_fixture.moc"
