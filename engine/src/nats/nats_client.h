// NatsClient: the node's NATS connection, its JetStream context, the change streams
// (docs/wire-format.md#streams), asynchronous publishing (docs/replication.md#publishing) and push
// subscriptions (docs/replication.md#applying).
//
// Thread: created, used and destroyed on the engine thread, which owns every nats.c handle.
// nats.c calls back on its own threads; those callbacks only copy what they need and post it
// to this object with a queued call (docs/architecture.md#threads), through a Sink that outlives
// the connection so that a late callback never touches a destroyed object. Security: passwords,
// seeds and keys are passed to nats.c and never logged.
#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QStringList>

#include <deque>
#include <memory>
#include <vector>

#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "nats/nats_handles.h"
#include "nats/request_thread.h"

namespace hl {

struct NatsSink;

// Options for a connection to `urls` with the node's credentials and TLS files
// (docs/replication.md#nats), named `name` on the server; no callbacks. NatsClient adds its
// own; the snapshot worker's connection (snapshot/snapshot_service.h) uses them as they are.
Status makeNatsOptions(const Config& config, const QStringList& urls, const QString& name,
                       NatsOptionsPtr* out);
// One connection attempt with those options (nats.c then reconnects it forever).
Result<NatsConnectionPtr> connectNats(const Config& config, const QStringList& urls,
                                      const QString& name);

// A message delivered to a shard subscription (copied off the nats.c thread).
struct IncomingMessage {
  int shard = 0;
  quint64 generation = 0;  // which subscription of the shard delivered it
  quint64 streamSeq = 0;
  qint64 timestampNs = 0;
  quint64 numPending = 0;  // messages in the stream after this one, for this consumer
  QByteArray data;
  QByteArray replyTo;  // the ack subject
  QByteArray seenSeq;  // Hl-Seen-Seq header of our senders ("" from Go senders)
  // Hl-Capture-Seq (docs/replication.md#insert-collisions): the shard position the sender had
  // applied when it captured the change; only on changes of its keep-both tables ("" otherwise).
  QByteArray captureSeq;
  QByteArray msgId;      // Nats-Msg-Id header of our senders: "<node id>-<change id>"
  int publishRound = 0;  // set on arrival: the publisher's newest round at that moment
};

// The outcome of one asynchronous publish.
struct PublishResult {
  qint64 token = 0;  // the change id, from the message's Nats-Msg-Id "<node>-<change id>"
  bool ok = false;
  bool duplicate = false;
  quint64 streamSeq = 0;
  QString error;  // when !ok
};

// What the answer to an asynchronous publish of change `token` says: `pa` an ack, `pae` a
// failure (docs/replication.md#publishing). An ack without a stream position is none.
PublishResult publishResultOf(qint64 token, const jsPubAck* pa, const jsPubAckErr* pae);

class NatsClient final : public QObject {
  Q_OBJECT
 public:
  // `urls`: the servers to use (the configured ones, or the embedded server's URL).
  NatsClient(const Config& config, QStringList urls, QObject* parent = nullptr);
  ~NatsClient() override;

  // One connection attempt (up to the connect timeout for each server). nats.c then reconnects
  // forever. The same in three steps, so that the attempt runs on the request thread while the
  // engine thread goes on (docs/architecture.md#threads): prepareConnection() (engine thread:
  // the options, with this client's callbacks), openConnection() (any thread: the attempt and
  // the JetStream context), adoptConnection() (engine thread: the connection of this client
  // from now on). A connection opened and not adopted is closed with its NewConnection.
  Status connect();
  struct ConnectRequest {
    std::shared_ptr<natsOptions> options;  // shared: a request thread's job is copied
    QString urls;                          // for the error message
    bool tlsWithoutCertificate = false;    // a CA file and no client certificate
    NatsSink* sink = nullptr;              // the publish acks' handler closure
  };
  struct NewConnection {
    Status status;
    NatsConnectionPtr nc;
    JsCtxPtr js;  // destroyed before nc
  };
  Result<ConnectRequest> prepareConnection();
  static NewConnection openConnection(const ConnectRequest& request);
  Status adoptConnection(NewConnection made);
  bool isConnected() const;
  QString connectedUrl() const;
  int64_t maxPayload() const;
  natsConnection* connection() const { return m_nc.get(); }
  jsCtx* jetStream() const { return m_js.get(); }

  // Creates or checks the stream of every shard (docs/wire-format.md#streams); retried by the
  // caller.
  Status ensureStreams();
  // First and last sequence of a stream; `createdNs` (optional) its creation time, which a
  // re-created stream changes (0 for a replicated stream, whose servers each have their own);
  // `missing` (optional) is set when the stream does not exist. A clustered stream without a
  // leader answers kUnavailable.
  Status streamState(const QString& stream, quint64* firstSeq, quint64* lastSeq,
                     qint64* createdNs = nullptr, bool* missing = nullptr);

  // Message `seq` of `stream` as the stream's leader holds it (no ack subject, no shard or
  // generation); NotFound when the stream does not hold it. A request: blocks up to its timeout.
  Result<IncomingMessage> messageAt(const QString& stream, quint64 seq);
  // The Nats-Msg-Id header of message `seq` of `stream` ("" when it has none); NotFound when the
  // stream does not hold that message.
  Result<QByteArray> messageIdAt(const QString& stream, quint64 seq);

  // Publishes asynchronously; the result arrives as published(). `headers` are name/value
  // and must include Nats-Msg-Id "<node id>-<change id>" (the result's token).
  Status publishAsync(const QString& subject, const QByteArray& data,
                      const std::vector<std::pair<QByteArray, QByteArray>>& headers);

  // Push subscription of `shard` starting at `startSeq` (ack-all, flow control, heartbeats).
  // Messages arrive as received(), marked with `generation`; a new call replaces the shard's
  // previous subscription. A request: blocks up to its timeout. The same in three steps, so
  // that the request runs on the request thread (nats/request_thread.h) while the engine thread
  // goes on: prepareSubscription() (engine thread: ends the shard's subscription and says what
  // to make), makeSubscription() (any thread: the request; its subscription delivers at once),
  // adoptSubscription() (engine thread: the shard's subscription from now on). A subscription
  // made and not adopted is destroyed with its NewSubscription, and delivers nothing more.
  Status subscribe(int shard, quint64 startSeq, quint64 generation);
  // Where unsubscribe() deletes the shard's consumer (a request); without one, the server
  // removes it once its inactive threshold passed. Set before the first subscription.
  void setRequestThread(RequestThread* requests) { m_requests = requests; }
  struct SubscribeRequest {
    int shard = 0;
    quint64 startSeq = 0;
    QByteArray stream, subject;
    void* closure = nullptr;  // the sink's closure of the subscription (its generation)
    QStringList avoid;        // avoidServer() as it was asked
    jsCtx* js = nullptr;      // the client's: alive until the client goes
  };
  struct NewSubscription {
    Status status;
    NatsSubscriptionPtr sub;
    QByteArray consumer;        // its name
    QString placedOn;           // its server
    bool stopAvoiding = false;  // every try landed on an avoided server
    bool shifted = false;       // HL_TEST_SHIFT_DELIVERIES applies to it
  };
  SubscribeRequest prepareSubscription(int shard, quint64 startSeq, quint64 generation);
  static NewSubscription makeSubscription(const SubscribeRequest& request);
  Status adoptSubscription(int shard, NewSubscription made);
  // One made and not wanted any more (a newer one was asked meanwhile): ended, its consumer
  // deleted like unsubscribe()'s.
  void discardSubscription(int shard, NewSubscription made);
  void unsubscribe(int shard);
  void unsubscribeAll();
  // The server that holds the shard's current consumer: the one whose copy of the stream it
  // delivers ("" when not known: no subscription, or one server that is not clustered).
  QString consumerServer(int shard) const;
  // Later subscriptions of `shard` place their consumer on another server than `server` when
  // the cluster has one (a few tries; docs/replication.md#durability, "It notices a server
  // that delivered other messages"): its copy of the stream differs from its leader's.
  void avoidServer(int shard, const QString& server);
  QStringList avoidedServers(int shard) const;
  // Status records (docs/replication.md#health-endpoint): every node publishes on
  // <stream_prefix>-status.<node id> and listens to all of them (core NATS, no stream: only the
  // live picture matters).
  Status publishStatusRecord(const QByteArray& json);
  Status subscribeStatusRecords();
  // Acknowledges every message of the subscription up to and including the one of `replyTo`.
  Status ack(const QByteArray& replyTo);
  // The consistency check's requests (docs/consistency.md#protocol): this node listens on
  // <stream_prefix>-consistency.* and on ...-consistency.repair.<node id> (core NATS), and
  // answers on a request's reply subject.
  Status subscribeConsistency();
  Status publishCore(const QByteArray& subject, const QByteArray& data);

 signals:
  void disconnected();
  void reconnected();
  void closed();
  void asyncError(const QString& error, int shard);  // shard > 0: that shard's subscription
  void published(const hl::PublishResult& result);
  void received(const hl::IncomingMessage& message);
  void statusRecord(const QByteArray& json);
  void consistencyRequest(const QByteArray& subject, const QByteArray& data,
                          const QByteArray& reply);

 private:
  friend struct NatsSink;
  Status makeOptions(NatsOptionsPtr* out);
  // Emit what the sink collected on nats.c threads (queued calls from the sink).
  void deliverAcks();
  void deliverMessages();
  void deliverStatusRecords();
  void deliverConsistency();
  int shardOfSubscription(int64_t sid) const;
  // Ends a subscription and frees it kRetiredMs later (see the definition).
  void retire(NatsSubscriptionPtr sub);
  static constexpr qint64 kRetiredMs = 5000;
  // Deletes `consumer` of the shard's stream on the request thread (none: left to the server).
  void deleteConsumer(int shard,
                      const QByteArray& consumer);  // 0: none of the shards' current ones
  // A consumer for `so` made ahead of its subscription (the subscription binds to it, by its
  // name in made->consumer), on a server the request does not avoid when one is found in a few
  // tries; its server in made->placedOn.
  static Status placeConsumer(const SubscribeRequest& request, const jsSubOptions& so,
                              NewSubscription* made);

  Config m_config;
  QStringList m_urls;
  NatsSink* m_sink = nullptr;  // see header comment: deliberately outlives this object
  NatsConnectionPtr m_nc;
  JsCtxPtr m_js;
  std::vector<NatsSubscriptionPtr> m_subs;  // index = shard
  int m_dropDeliveriesOf = 0;               // HL_TEST_DROP_DELIVERIES (see the constructor)
  bool m_dropAllDeliveries = false;         // ... "<shard>:all"
  int m_shiftDeliveriesOf = 0;              // HL_TEST_SHIFT_DELIVERIES (see the constructor)
  quint64 m_shiftDeliveriesFrom = 0;
  std::vector<int64_t> m_subIds;              // their ids (natsSubscription_GetID); 0 = none
  std::vector<QStringList> m_avoidedServers;  // index = shard (avoidServer)
  std::vector<QString> m_placedOn;            // index = shard: the server of its consumer
  std::vector<QByteArray> m_consumers;        // index = shard: the name of its consumer
  RequestThread* m_requests = nullptr;        // setRequestThread()
  QElapsedTimer m_clock;
  std::deque<std::pair<qint64, NatsSubscriptionPtr>> m_retired;  // retire(): when, and which
  NatsSubscriptionPtr m_statusSub;
  NatsSubscriptionPtr m_consistencySub, m_repairSub;
};

}  // namespace hl

Q_DECLARE_METATYPE(hl::IncomingMessage)
Q_DECLARE_METATYPE(hl::PublishResult)
