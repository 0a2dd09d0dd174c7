// hl::NatsClient: what it reports as the result of an asynchronous publish
// (docs/replication.md#publishing), from answers made up and from a real 3-server cluster.
#include <QtTest>

#include "harmonylite/config.h"
#include "nats/nats_client.h"
#include "nats/request_thread.h"
#include "nats_test_client.h"
#include "test_support.h"
#include "wire/change.h"

using namespace hl;

class TestNatsClient : public QObject {
  Q_OBJECT

  // Node `nodeId`'s configuration: one shard, its stream on three servers.
  static Config oneShardOnThree(uint64_t nodeId) {
    Config config;
    config.nodeId = nodeId;
    config.replicationLog.shards = 1;
    config.replicationLog.replicas = 3;
    return config;
  }
  // Node `nodeId`'s configuration: one shard on one server, keeping `maxEntries` messages.
  static Config oneShard(uint64_t nodeId, int64_t maxEntries = 1024) {
    Config config;
    config.nodeId = nodeId;
    config.replicationLog.shards = 1;
    config.replicationLog.maxEntries = maxEntries;
    return config;
  }
  // Starts the cluster, connects a client of `config` to it and makes its streams (once a
  // leader is elected).
  static Status startAndConnect(test::NatsCluster* cluster, const Config& config,
                                std::unique_ptr<NatsClient>* out) {
    HL_RETURN_IF_ERROR(cluster->start());
    *out = std::make_unique<NatsClient>(config, cluster->urls());
    NatsClient* client = out->get();
    HL_RETURN_IF_ERROR(client->connect());
    Status streams;
    if (!test::waitFor([&] { return (streams = client->ensureStreams()).isOk(); }, 30000, 200))
      return streams;
    return Status::ok();
  }

 private slots:
  void initTestCase() { qRegisterMetaType<hl::PublishResult>(); }

  // What each answer to an asynchronous publish becomes. nats-server 2.10 (before 2.11) stages
  // the id of a message it is storing with position 0 and answers another message with that id
  // "duplicate, position 0" meanwhile; the message is not stored yet, or never is when a change
  // of stream leader drops it. Taken for an ack, the change would be lost.
  void anAckWithoutAPositionIsAFailure() {
    char stream[] = "harmonylite-changes-c-1";
    jsPubAck pa{};
    pa.Stream = stream;
    pa.Sequence = 0;
    pa.Duplicate = true;
    PublishResult r = publishResultOf(42, &pa, nullptr);
    QCOMPARE(r.token, qint64(42));
    QVERIFY(!r.ok);
    QVERIFY2(r.error.contains("position 0"), qPrintable(r.error));

    pa.Sequence = 17;  // a duplicate of a stored message: where it is
    r = publishResultOf(42, &pa, nullptr);
    QVERIFY(r.ok);
    QVERIFY(r.duplicate);
    QCOMPARE(r.streamSeq, quint64(17));

    pa.Duplicate = false;
    r = publishResultOf(43, &pa, nullptr);
    QVERIFY(r.ok && !r.duplicate);
    QCOMPARE(r.streamSeq, quint64(17));

    char text[] = "maximum messages exceeded";
    jsPubAckErr pae{};
    pae.Err = NATS_ERR;
    pae.ErrCode = jsErrCode(10077);
    pae.ErrText = text;
    r = publishResultOf(44, nullptr, &pae);
    QVERIFY(!r.ok);
    QCOMPARE(r.error, QStringLiteral("maximum messages exceeded (JetStream error 10077)"));

    pae.ErrText = nullptr;  // a timeout has no text of its own
    pae.Err = NATS_TIMEOUT;
    pae.ErrCode = jsErrCode(0);
    r = publishResultOf(45, nullptr, &pae);
    QVERIFY(!r.ok);
    QCOMPARE(r.error, QString::fromUtf8(natsStatus_GetText(NATS_TIMEOUT)));
  }

  // Each id sent twice at once to a replicated stream (its store takes a round of the
  // cluster, so the second copy comes while the first is in flight): every "ok" carries the
  // position where the stream holds the message, the same for both copies, and a failure can
  // only be the "not stored yet" answer of a server that stages ids (none here with 2.9).
  void duplicatesInFlightAnswerWithTheirPosition() {
    test::NatsCluster cluster;
    const Config config = oneShardOnThree(7);
    std::unique_ptr<NatsClient> owned;
    const Status ready = startAndConnect(&cluster, config, &owned);
    QVERIFY2(ready.isOk(), qPrintable(ready.message()));
    NatsClient& client = *owned;
    QList<PublishResult> results;
    connect(&client, &NatsClient::published, this, [&](const PublishResult& r) { results << r; });
    constexpr int kIds = 300;
    for (int id = 1; id <= kIds; ++id) {
      const QByteArray payload = "change " + QByteArray::number(id);
      for (int copy = 0; copy < 2; ++copy)
        QVERIFY(client
                    .publishAsync(config.subjectName(1), payload,
                                  {{"Nats-Msg-Id", messageId(config.nodeId, id)}})
                    .isOk());
    }
    QVERIFY2(test::waitFor([&] { return results.size() == 2 * kIds; }, 30000),
             qPrintable(QString::number(results.size())));
    int notStored = 0;
    QHash<qint64, quint64> at;  // id -> its position, from every ok answer
    for (const PublishResult& r : results) {
      QVERIFY(r.token >= 1 && r.token <= kIds);
      if (!r.ok) {
        QVERIFY2(r.error.contains("position 0"), qPrintable(r.error));
        ++notStored;
        continue;
      }
      QVERIFY2(r.streamSeq > 0, qPrintable(QString::number(r.token)));
      if (at.contains(r.token)) QCOMPARE(r.streamSeq, at.value(r.token));  // the same message
      at.insert(r.token, r.streamSeq);
    }
    // Every id is stored once, where its ok answers say.
    QCOMPARE(at.size(), kIds);
    for (auto it = at.cbegin(); it != at.cend(); ++it) {
      auto m = client.messageAt(config.streamName(1), it.value());
      QVERIFY2(m, qPrintable(m.status().message()));
      QCOMPARE(m->msgId, messageId(config.nodeId, it.key()));
    }
    qInfo() << kIds << "ids sent twice at once:" << notStored
            << "answer(s) 'duplicate, position 0' (not stored yet), reported as failures";
  }

  // A subscription in three steps (docs/architecture.md#threads): made on the request thread,
  // adopted on the client's. One made and not adopted delivers nothing once discarded. Every
  // consumer is made ahead and bound, so ending a subscription sends no request on the
  // client's thread (nats.c deletes a consumer it made, waiting for the answer); ours are
  // deleted on the request thread: the stream is left with none.
  void subscriptionsMadeOnTheRequestThread() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    const Config config = oneShard(5);
    NatsClient client(config, {server.url()});
    RequestThread requests(this);
    client.setRequestThread(&requests);
    QVERIFY(client.connect().isOk());
    QVERIFY(client.ensureStreams().isOk());
    int acked = 0;
    connect(&client, &NatsClient::published, this, [&](const PublishResult& r) { acked += r.ok; });
    auto publish = [&](int from, int to) {
      for (int id = from; id <= to; ++id)
        if (!client.publishAsync(config.subjectName(1), "m", {{"Nats-Msg-Id", messageId(5, id)}})
                 .isOk())
          return false;
      return test::waitFor([&] { return acked == to; }, 20000);
    };
    QVERIFY(publish(1, 5));
    QHash<quint64, QList<quint64>> seqs;  // generation -> positions delivered
    connect(&client, &NatsClient::received, this,
            [&](const IncomingMessage& m) { seqs[m.generation] << m.streamSeq; });
    // The stream's consumers, as the server counts them.
    auto nc = test::connectTo(server.url());
    QVERIFY(nc.ok());
    auto js = test::jetStream(nc->get());
    QVERIFY(js.ok());
    auto consumers = [&] {
      jsStreamInfo* si = nullptr;
      if (js_GetStreamInfo(&si, js->get(), config.streamName(1).toUtf8().constData(), nullptr,
                           nullptr) != NATS_OK)
        return -1;
      const int n = int(si->State.Consumers);
      jsStreamInfo_Destroy(si);
      return n;
    };
    // Made on the request thread, adopted here.
    Status adopted = Status::unavailable("no answer yet");
    bool answered = false;
    const NatsClient::SubscribeRequest first = client.prepareSubscription(1, 1, 1);
    requests.run<NatsClient::NewSubscription>(
        [first] { return NatsClient::makeSubscription(first); },
        [&](NatsClient::NewSubscription made) {
          QVERIFY(!made.consumer.isEmpty());
          adopted = client.adoptSubscription(1, std::move(made));
          answered = true;
        });
    QVERIFY(test::waitFor([&] { return answered; }, 10000));
    QVERIFY2(adopted.isOk(), qPrintable(adopted.message()));
    QVERIFY(test::waitFor([&] { return seqs.value(1).size() == 5; }, 10000));
    QCOMPARE(consumers(), 1);
    // Made, never adopted, discarded: it ends, and its consumer goes with the first one's.
    NatsClient::NewSubscription unwanted =
        NatsClient::makeSubscription(client.prepareSubscription(1, 1, 2));
    QVERIFY(unwanted.status.isOk());
    QVERIFY(test::waitFor([&] { return consumers() == 1; }, 10000));  // the first one's deleted
    client.discardSubscription(1, std::move(unwanted));
    QVERIFY(test::waitFor([&] { return consumers() == 0; }, 10000));
    // The one adopted after it delivers what comes next; the discarded one nothing more.
    QVERIFY(client.subscribe(1, 1, 3).isOk());
    QVERIFY(publish(6, 8));
    QVERIFY(test::waitFor([&] { return seqs.value(3).size() == 8; }, 10000));
    QVERIFY(std::none_of(seqs.value(2).cbegin(), seqs.value(2).cend(),
                         [](quint64 seq) { return seq > 5; }));
    QCOMPARE(consumers(), 1);
    client.unsubscribe(1);
    QVERIFY(test::waitFor([&] { return consumers() == 0; }, 10000));
  }

  // Subscriptions ended while their consumer pushes messages at full speed: nats.c 3.4.1's
  // reading thread can lock one a moment after it was freed (NatsClient::retire()), which
  // aborted a node in CI once. Each round subscribes from 1 to a stream of 5,000 messages and
  // ends the subscription once some arrived, with the rest in flight; then one delivers all.
  // Its failure is an abort (or a hang) of the test process.
  void subscriptionsEndedWhileTheyDeliver() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    const Config config = oneShard(6, 10000);
    NatsClient client(config, {server.url()});
    QVERIFY(client.connect().isOk());
    QVERIFY(client.ensureStreams().isOk());
    constexpr int kMessages = 5000;
    int acked = 0;
    connect(&client, &NatsClient::published, this, [&](const PublishResult& r) { acked += r.ok; });
    for (int id = 1; id <= kMessages; ++id)
      QVERIFY(client
                  .publishAsync(config.subjectName(1), QByteArray(200, 'x'),
                                {{"Nats-Msg-Id", messageId(6, id)}})
                  .isOk());
    QVERIFY(test::waitFor([&] { return acked == kMessages; }, 30000));
    QHash<quint64, int> received;  // generation -> messages
    connect(&client, &NatsClient::received, this,
            [&](const IncomingMessage& m) { ++received[m.generation]; });
    // Freed at once instead, 3 of 3 runs of 1,000 rounds aborted, and of two of 60 rounds one
    // aborted and one hung; with retire(), 1,000 rounds passed twice and 60 rounds five times.
    constexpr int kRounds = 200;
    QElapsedTimer spent;
    spent.start();
    for (quint64 generation = 1; generation <= kRounds; ++generation) {
      QVERIFY(client.subscribe(1, 1, generation).isOk());
      QVERIFY(test::waitFor([&] { return received.value(generation) > 0; }, 10000, 1));
      client.unsubscribe(1);
    }
    QVERIFY(client.subscribe(1, 1, kRounds + 1).isOk());
    QVERIFY2(test::waitFor([&] { return received.value(kRounds + 1) == kMessages; }, 30000),
             qPrintable(QString::number(received.value(kRounds + 1))));
    qInfo() << kRounds << "subscriptions ended while delivering, in" << spent.elapsed() << "ms";
  }

  // A consumer delivers its own server's copy of the stream, and nats-server 2.9 can leave one
  // copy out of step with the others for good (tst_durability pausedStreamLeaderIsNoIncident).
  // After avoidServer(), each later subscription of the shard has its consumer on another
  // server (nats-server places them at random: without it, about a third would land there),
  // and it delivers every message from its start. Avoiding every server falls back to reading
  // from one, and forgets the avoidance; a stream that does not exist is an error.
  void subscriptionsAvoidAServer() {
    test::NatsCluster cluster;
    const Config config = oneShardOnThree(8);
    std::unique_ptr<NatsClient> owned;
    const Status ready = startAndConnect(&cluster, config, &owned);
    QVERIFY2(ready.isOk(), qPrintable(ready.message()));
    NatsClient& client = *owned;
    constexpr int kMessages = 20;
    int acked = 0;
    connect(&client, &NatsClient::published, this, [&](const PublishResult& r) { acked += r.ok; });
    for (int id = 1; id <= kMessages; ++id)
      QVERIFY(client.publishAsync(config.subjectName(1), "m", {{"Nats-Msg-Id", messageId(8, id)}})
                  .isOk());
    QVERIFY(test::waitFor([&] { return acked == kMessages; }, 30000));
    QHash<quint64, QList<quint64>> seqs;  // generation -> positions delivered
    connect(&client, &NatsClient::received, this,
            [&](const IncomingMessage& m) { seqs[m.generation] << m.streamSeq; });
    auto delivered = [&](quint64 generation) {
      return test::waitFor([&] { return seqs.value(generation).size() == kMessages; }, 20000);
    };
    QVERIFY(client.subscribe(1, 1, 1).isOk());
    QVERIFY(delivered(1));
    const QString avoided = client.consumerServer(1);
    QVERIFY2(avoided.startsWith("hl-test"), qPrintable(avoided));
    client.avoidServer(1, avoided);
    QCOMPARE(client.avoidedServers(1), QStringList{avoided});
    QMap<QString, int> placed;
    for (quint64 generation = 2; generation <= 13; ++generation) {
      const Status s = client.subscribe(1, 1, generation);
      QVERIFY2(s.isOk(), qPrintable(s.message()));
      const QString at = client.consumerServer(1);
      QVERIFY2(!at.isEmpty() && at != avoided, qPrintable(at));
      ++placed[at];
      QVERIFY2(delivered(generation), qPrintable(QString::number(seqs.value(generation).size())));
      QCOMPARE(seqs.value(generation).first(), quint64(1));
      QCOMPARE(seqs.value(generation).last(), quint64(kMessages));
    }
    qInfo() << "12 subscriptions avoiding" << avoided << "were placed on" << placed;
    for (int i = 0; i < cluster.size(); ++i)
      client.avoidServer(1, "hl-test-" + QString::number(i + 1));
    QCOMPARE(client.avoidedServers(1).size(), 3);
    QVERIFY(client.subscribe(1, 1, 20).isOk());
    QVERIFY(delivered(20));
    QVERIFY(client.avoidedServers(1).isEmpty());
    // A stream that does not exist: the consumer cannot be made, and says why.
    Config other = config;
    other.nats.streamPrefix = "no-such";
    NatsClient missing(other, cluster.urls());
    QVERIFY(missing.connect().isOk());
    missing.avoidServer(1, avoided);
    const Status s = missing.subscribe(1, 1, 1);
    QVERIFY(!s.isOk());
    QVERIFY2(s.message().contains("make a consumer of no-such"), qPrintable(s.message()));
  }
};

QTEST_GUILESS_MAIN(TestNatsClient)
#include "tst_nats_client.moc"
