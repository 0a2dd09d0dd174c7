#include "nats/nats_client.h"

#include <atomic>

#include <QLoggingCategory>
#include <QMutex>

#include <cstring>
#include <list>
#include <utility>

#include "nats/nkey.h"
#include "wire/change.h"

Q_LOGGING_CATEGORY(lcNats, "hl.nats")

namespace hl {

// Receives nats.c callbacks on nats.c threads and posts them to the client. It is never freed:
// nats.c may still call back while the connection is being destroyed, and the sink is small
// (one per NatsClient).
struct NatsSink {
  struct SubClosure {
    NatsSink* sink;
    int shard;
    quint64 generation;
    bool drop = false;  // HL_TEST_DROP_DELIVERIES: its messages are thrown away (a test fault)
    // HL_TEST_SHIFT_DELIVERIES: from this position on, each message arrives with the body of
    // the one before it (a test fault); that body.
    quint64 shiftFrom = 0;
    IncomingMessage previous;
  };
  QMutex mutex;
  NatsClient* target = nullptr;
  std::atomic<int> dropAcks{
      0};  // HL_TEST_DROP_ACKS: so many answers are thrown away (a test fault)
  std::list<SubClosure> closures;  // stable addresses
  // Acks and messages are batched: one queued call carries everything that arrived since the
  // last one, instead of one thread wake-up per message.
  template <typename T>
  struct Mailbox {
    std::vector<T> items;
    bool posted = false;
  };
  Mailbox<PublishResult> acks;
  Mailbox<IncomingMessage> messages;
  Mailbox<QByteArray> statusRecords;
  struct CoreMessage {
    QByteArray subject, data, reply;
  };
  Mailbox<CoreMessage> consistency;

  // Called on a nats.c thread: queues `item` and, unless a delivery is already on its way,
  // posts one call of `deliver` to the client.
  template <typename T>
  void push(Mailbox<T>& box, T item, void (NatsClient::*deliver)()) {
    QMutexLocker lock(&mutex);
    box.items.push_back(std::move(item));
    if (!box.posted && target) {
      box.posted = true;
      QMetaObject::invokeMethod(target, deliver, Qt::QueuedConnection);
    }
  }
  // Called on the client's thread: everything queued so far.
  template <typename T>
  std::vector<T> take(Mailbox<T>& box) {
    QMutexLocker lock(&mutex);
    box.posted = false;
    return std::exchange(box.items, {});
  }

  template <typename F>
  void post(F&& f) {
    QMutexLocker lock(&mutex);
    if (target) QMetaObject::invokeMethod(target, std::forward<F>(f), Qt::QueuedConnection);
  }

  static void onDisconnected(natsConnection*, void* c) {
    auto* s = static_cast<NatsSink*>(c);
    s->post([t = s->target] { emit t->disconnected(); });
  }
  static void onReconnected(natsConnection*, void* c) {
    auto* s = static_cast<NatsSink*>(c);
    s->post([t = s->target] { emit t->reconnected(); });
  }
  static void onClosed(natsConnection*, void* c) {
    auto* s = static_cast<NatsSink*>(c);
    s->post([t = s->target] { emit t->closed(); });
  }
  static void onError(natsConnection*, natsSubscription* sub, natsStatus err, void* c) {
    auto* s = static_cast<NatsSink*>(c);
    const QString text = QString::fromUtf8(natsStatus_GetText(err));
    // The subscription is named by its id, read here while nats.c holds it: by the time the
    // client's thread sees the error the subscription may be gone and a new one may live at
    // the same address, and that shard must not be re-created for the old one's error.
    const int64_t sid = sub ? natsSubscription_GetID(sub) : 0;
    s->post([t = s->target, text, sid] { emit t->asyncError(text, t->shardOfSubscription(sid)); });
  }
  static void onPubAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* c) {
    auto* s = static_cast<NatsSink*>(c);
    // The token is the change id of the message's Nats-Msg-Id (see messageId()).
    const char* msgId = nullptr;
    uint64_t node = 0;
    int64_t change = 0;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &msgId) != NATS_OK || !msgId ||
        !parseMessageId(QByteArray(msgId), &node, &change))
      change = 0;
    PublishResult r = publishResultOf(change, pa, pae);
    natsMsg_Destroy(msg);
    if (s->dropAcks.load() > 0 && s->dropAcks.fetch_sub(1) > 0) return;  // HL_TEST_DROP_ACKS
    s->push(s->acks, std::move(r), &NatsClient::deliverAcks);
  }
  static void onStatusRecord(natsConnection*, natsSubscription*, natsMsg* msg, void* c) {
    auto* s = static_cast<NatsSink*>(c);
    QByteArray data(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
    s->push(s->statusRecords, std::move(data), &NatsClient::deliverStatusRecords);
  }
  static void onConsistency(natsConnection*, natsSubscription*, natsMsg* msg, void* c) {
    auto* s = static_cast<NatsSink*>(c);
    CoreMessage m;
    m.subject = natsMsg_GetSubject(msg);
    m.data = QByteArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    if (const char* reply = natsMsg_GetReply(msg)) m.reply = reply;
    natsMsg_Destroy(msg);
    s->push(s->consistency, std::move(m), &NatsClient::deliverConsistency);
  }
  // The payload and our headers of a stream message, delivered or fetched.
  static void readBody(natsMsg* msg, IncomingMessage* m) {
    m->data = QByteArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    const char* seen = nullptr;
    if (natsMsgHeader_Get(msg, "Hl-Seen-Seq", &seen) == NATS_OK && seen) m->seenSeq = seen;
    const char* capture = nullptr;
    if (natsMsgHeader_Get(msg, "Hl-Capture-Seq", &capture) == NATS_OK && capture)
      m->captureSeq = capture;
    const char* msgId = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &msgId) == NATS_OK && msgId) m->msgId = msgId;
  }
  static void onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* c) {
    auto* sc = static_cast<SubClosure*>(c);
    if (sc->drop) {  // unacknowledged: the server goes on sending, heartbeats included
      natsMsg_Destroy(msg);
      return;
    }
    IncomingMessage m;
    m.shard = sc->shard;
    m.generation = sc->generation;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK && meta) {
      m.streamSeq = meta->Sequence.Stream;
      m.timestampNs = meta->Timestamp;
      m.numPending = meta->NumPending;
      jsMsgMetaData_Destroy(meta);
    }
    readBody(msg, &m);
    if (const char* reply = natsMsg_GetReply(msg)) m.replyTo = reply;
    natsMsg_Destroy(msg);
    if (m.streamSeq == 0) return;  // not a stream message (flow control is handled by nats.c)
    if (sc->shiftFrom > 0) {
      IncomingMessage body = m;
      if (m.streamSeq >= sc->shiftFrom && sc->previous.streamSeq + 1 == m.streamSeq) {
        m.data = sc->previous.data;
        m.msgId = sc->previous.msgId;
        m.seenSeq = sc->previous.seenSeq;
        m.captureSeq = sc->previous.captureSeq;
        m.timestampNs = sc->previous.timestampNs;
      }
      sc->previous = std::move(body);
    }
    sc->sink->push(sc->sink->messages, std::move(m), &NatsClient::deliverMessages);
  }
};

NatsClient::NatsClient(const Config& config, QStringList urls, QObject* parent)
    : QObject(parent), m_config(config), m_urls(std::move(urls)) {
  qRegisterMetaType<IncomingMessage>();
  qRegisterMetaType<PublishResult>();
  m_clock.start();
  m_sink = new NatsSink;
  m_sink->target = this;
  m_subs.resize(size_t(config.replicationLog.shards) + 1);
  m_subIds.assign(m_subs.size(), 0);
  m_avoidedServers.resize(m_subs.size());
  m_placedOn.resize(m_subs.size());
  m_consumers.resize(m_subs.size());
  // Fault injection for tests (tst_heartbeat stuckConsumerIsRecreated), in the spirit of
  // LevelDB's fault-injection environment: the first subscription of shard N delivers nothing
  // (its messages are dropped on arrival, heartbeats go on), as a stuck consumer of
  // nats-server 2.9 does. Not for production use; a warning says it is on.
  // HL_TEST_DROP_ACKS=<n>: the answers to the first n publishes never reach the publisher, as if
  // nats.c lost them (tst_lost_ack silentAnswersDoNotStopPublishing).
  m_sink->dropAcks = qEnvironmentVariableIntValue("HL_TEST_DROP_ACKS");
  if (m_sink->dropAcks.load() > 0)
    qCWarning(lcNats).noquote()
        << QStringLiteral(
               "HL_TEST_DROP_ACKS: the answers to the first %1 publish(es) are dropped "
               "(a test fault)")
               .arg(m_sink->dropAcks.load());
  // HL_TEST_SHIFT_DELIVERIES=<shard>:<seq>: the first subscription of the shard that starts at
  // or before <seq> delivers, from <seq> on, each message with the body of the one before it
  // (the first one twice, the last one never), as a server whose store went out of step with
  // its stream does (tst_durability serverThatDeliversOtherMessagesIsReadAgain).
  const QByteArray shift = qgetenv("HL_TEST_SHIFT_DELIVERIES");
  m_shiftDeliveriesOf = shift.split(':').value(0).toInt();
  m_shiftDeliveriesFrom = shift.split(':').value(1).toULongLong();
  if (m_shiftDeliveriesOf > 0 && m_shiftDeliveriesFrom > 0)
    qCWarning(lcNats).noquote() << QStringLiteral(
                                       "HL_TEST_SHIFT_DELIVERIES: shard %1 delivers each message "
                                       "from %2 on with the body of the one before (a test fault)")
                                       .arg(m_shiftDeliveriesOf)
                                       .arg(m_shiftDeliveriesFrom);
  // "<shard>:all": every subscription of the shard does (a consumer that never recovers).
  const QByteArray drop = qgetenv("HL_TEST_DROP_DELIVERIES");
  m_dropDeliveriesOf = drop.split(':').value(0).toInt();
  m_dropAllDeliveries = drop.endsWith(":all");
  if (m_dropDeliveriesOf > 0)
    qCWarning(lcNats).noquote() << QStringLiteral(
                                       "HL_TEST_DROP_DELIVERIES: %1 subscription of shard %2 "
                                       "drops every message (a test fault)")
                                       .arg(m_dropAllDeliveries ? "every" : "the first")
                                       .arg(m_dropDeliveriesOf);
}

NatsClient::~NatsClient() {
  m_requests = nullptr;  // its requests were dropped (RequestThread::forget()): none more
  {
    QMutexLocker lock(&m_sink->mutex);
    m_sink->target = nullptr;  // late callbacks go nowhere
  }
  unsubscribeAll();
  for (NatsSubscriptionPtr* sub : {&m_statusSub, &m_consistencySub, &m_repairSub})
    if (*sub) retire(std::move(*sub));
  m_js.reset();
  if (m_nc) natsConnection_Close(m_nc.get());
  m_nc.reset();
  m_retired.clear();  // the connection's reading thread has ended
}

// nats.c 3.4.1 (fixed in 3.6, nats.c#638) takes a subscription out of its map on the reading
// thread and locks it a moment later without holding a reference: freed in between by another
// thread, the lock aborts the process. Seen once in CI (tst_durability storeReplacedByOlderCopy:
// SIGABRT in natsConn_processMsg after a reconnect re-created both shards' consumers), once
// ending a subscription no longer waited for a consumer's deletion, during which the server
// stopped sending. So a subscription that ends stays allocated for kRetiredMs (closed: nats.c
// drops what still arrives for it), and is freed by a later retire() or with the client, after
// its connection closed.
void NatsClient::retire(NatsSubscriptionPtr sub) {
  natsSubscription_Unsubscribe(sub.get());
  const qint64 now = m_clock.elapsed();
  while (!m_retired.empty() && now - m_retired.front().first > kRetiredMs) m_retired.pop_front();
  m_retired.emplace_back(now, std::move(sub));
}

void NatsClient::deliverAcks() {
  for (const PublishResult& r : m_sink->take(m_sink->acks)) emit published(r);
}

void NatsClient::deliverStatusRecords() {
  for (const QByteArray& r : m_sink->take(m_sink->statusRecords)) emit statusRecord(r);
}

Status NatsClient::publishStatusRecord(const QByteArray& json) {
  if (!m_nc) return Status::unavailable("not connected");
  const QByteArray subject =
      QStringLiteral("%1-status.%2").arg(m_config.nats.streamPrefix).arg(m_config.nodeId).toUtf8();
  return fromNats(
      natsConnection_Publish(m_nc.get(), subject.constData(), json.constData(), int(json.size())),
      "publish status record");
}

Status NatsClient::subscribeStatusRecords() {
  if (!m_nc) return Status::unavailable("not connected");
  const QByteArray subject = QStringLiteral("%1-status.*").arg(m_config.nats.streamPrefix).toUtf8();
  natsSubscription* sub = nullptr;
  HL_RETURN_IF_ERROR(fromNats(natsConnection_Subscribe(&sub, m_nc.get(), subject.constData(),
                                                       &NatsSink::onStatusRecord, m_sink),
                              "subscribe to status records"));
  m_statusSub.reset(sub);
  return Status::ok();
}

void NatsClient::deliverConsistency() {
  for (const NatsSink::CoreMessage& m : m_sink->take(m_sink->consistency))
    emit consistencyRequest(m.subject, m.data, m.reply);
}

Status NatsClient::subscribeConsistency() {
  if (!m_nc) return Status::unavailable("not connected");
  const QString prefix = m_config.nats.streamPrefix;
  const QByteArray all = QStringLiteral("%1-consistency.*").arg(prefix).toUtf8();
  const QByteArray mine =
      QStringLiteral("%1-consistency.repair.%2").arg(prefix).arg(m_config.nodeId).toUtf8();
  for (auto [subject, target] : {std::pair{&all, &m_consistencySub}, {&mine, &m_repairSub}}) {
    natsSubscription* sub = nullptr;
    HL_RETURN_IF_ERROR(fromNats(natsConnection_Subscribe(&sub, m_nc.get(), subject->constData(),
                                                         &NatsSink::onConsistency, m_sink),
                                "subscribe to consistency checks"));
    target->reset(sub);
  }
  return Status::ok();
}

Status NatsClient::publishCore(const QByteArray& subject, const QByteArray& data) {
  if (!m_nc) return Status::unavailable("not connected");
  return fromNats(
      natsConnection_Publish(m_nc.get(), subject.constData(), data.constData(), int(data.size())),
      "publish " + QString::fromUtf8(subject));
}

void NatsClient::deliverMessages() {
  for (const IncomingMessage& m : m_sink->take(m_sink->messages)) emit received(m);
}

namespace {

// A string as the inside of a JSON string literal.
QByteArray jsonEscaped(const QString& text) {
  QByteArray out;
  for (const char c : text.toUtf8()) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (uchar(c) < 0x20) {
      out += QByteArray("\\u00") + QByteArray::number(uchar(c), 16).rightJustified(2, '0');
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Status makeNatsOptions(const Config& config, const QStringList& urlList, const QString& name,
                       NatsOptionsPtr* out) {
  natsOptions* raw = nullptr;
  HL_RETURN_IF_ERROR(fromNats(natsOptions_Create(&raw), "nats options"));
  NatsOptionsPtr opts(raw);
  const NatsConfig& n = config.nats;
  std::vector<QByteArray> urls;
  std::vector<const char*> ptrs;
  for (const QString& u : urlList) urls.push_back(u.toUtf8());
  for (const QByteArray& u : urls) ptrs.push_back(u.constData());
  HL_RETURN_IF_ERROR(
      fromNats(natsOptions_SetServers(opts.get(), ptrs.data(), int(ptrs.size())), "nats.urls"));
  natsOptions_SetName(opts.get(), name.toUtf8().constData());
  natsOptions_SetTimeout(opts.get(), 2000);
  natsOptions_SetMaxReconnect(opts.get(),
                              -1);  // an outage never ends the process (docs/replication.md#nats)
  natsOptions_SetReconnectWait(opts.get(), std::max(100, n.reconnectWaitSeconds * 1000));
  natsOptions_SetPingInterval(opts.get(), 5000);
  natsOptions_SetMaxPingsOut(opts.get(), 3);
  natsOptions_SetReconnectBufSize(opts.get(), 32 * 1024 * 1024);
  if (!n.userName.isEmpty()) {
    // nats.c (3.4.1 at least) copies user and password into its CONNECT JSON without escaping
    // them: a '"' or '\\' ends the string early and the server drops the connection with a
    // parse error. Escaped here, they reach the server as written (docs/replication.md#nats).
    HL_RETURN_IF_ERROR(
        fromNats(natsOptions_SetUserInfo(opts.get(), jsonEscaped(n.userName).constData(),
                                         jsonEscaped(n.userPassword).constData()),
                 "nats.user_name"));
  }
  if (!n.seedFile.isEmpty()) {
    auto pub = nkeyPublicKeyFromSeedFile(n.seedFile);
    if (!pub) return pub.status().withContext("nats.seed_file");
    HL_RETURN_IF_ERROR(fromNats(
        natsOptions_SetNKeyFromSeed(opts.get(), pub->constData(), n.seedFile.toUtf8().constData()),
        "nats.seed_file " + n.seedFile));
  }
  if (!n.caFile.isEmpty()) {
    natsOptions_SetSecure(opts.get(), true);
    HL_RETURN_IF_ERROR(
        fromNats(natsOptions_LoadCATrustedCertificates(opts.get(), n.caFile.toUtf8().constData()),
                 "nats.ca_file " + n.caFile));
  }
  if (!n.certFile.isEmpty() || !n.keyFile.isEmpty()) {
    natsOptions_SetSecure(opts.get(), true);
    HL_RETURN_IF_ERROR(
        fromNats(natsOptions_LoadCertificatesChain(opts.get(), n.certFile.toUtf8().constData(),
                                                   n.keyFile.toUtf8().constData()),
                 "nats.cert_file/key_file"));
  }
  *out = std::move(opts);
  return Status::ok();
}

Result<NatsConnectionPtr> connectNats(const Config& config, const QStringList& urls,
                                      const QString& name) {
  NatsOptionsPtr opts;
  HL_RETURN_IF_ERROR(makeNatsOptions(config, urls, name, &opts));
  natsConnection* nc = nullptr;
  HL_RETURN_IF_ERROR(
      fromNats(natsConnection_Connect(&nc, opts.get()), "connect to " + urls.join(',')));
  return NatsConnectionPtr(nc);
}

Status NatsClient::makeOptions(NatsOptionsPtr* out) {
  NatsOptionsPtr opts;
  HL_RETURN_IF_ERROR(makeNatsOptions(
      m_config, m_urls, QStringLiteral("harmonylite-node-%1").arg(m_config.nodeId), &opts));
  natsOptions_SetDisconnectedCB(opts.get(), &NatsSink::onDisconnected, m_sink);
  natsOptions_SetReconnectedCB(opts.get(), &NatsSink::onReconnected, m_sink);
  natsOptions_SetClosedCB(opts.get(), &NatsSink::onClosed, m_sink);
  natsOptions_SetErrorHandler(opts.get(), &NatsSink::onError, m_sink);
  *out = std::move(opts);
  return Status::ok();
}

Status NatsClient::connect() {
  auto request = prepareConnection();
  if (!request) return request.status();
  return adoptConnection(openConnection(*request));
}

Result<NatsClient::ConnectRequest> NatsClient::prepareConnection() {
  NatsOptionsPtr opts;
  HL_RETURN_IF_ERROR(makeOptions(&opts));
  ConnectRequest r;
  r.options = std::shared_ptr<natsOptions>(opts.release(), natsdel::Options());
  r.urls = m_urls.join(',');
  r.tlsWithoutCertificate = !m_config.nats.caFile.isEmpty() && m_config.nats.certFile.isEmpty();
  r.sink = m_sink;
  return r;
}

NatsClient::NewConnection NatsClient::openConnection(const ConnectRequest& request) {
  NewConnection made;
  natsConnection* nc = nullptr;
  if (natsStatus s = natsConnection_Connect(&nc, request.options.get()); s != NATS_OK) {
    made.status = fromNats(s, "connect to " + request.urls);
    // A TLS server that wants a client certificate closes the connection after the handshake;
    // nats.c then only sees a protocol error. Name the likely cause.
    if (s == NATS_PROTOCOL_ERROR && request.tlsWithoutCertificate)
      made.status =
          Status(made.status.code(),
                 made.status.message() +
                     QStringLiteral(" (the server closed the TLS connection: if it requires client "
                                    "certificates, set nats.cert_file and nats.key_file)"));
    return made;
  }
  made.nc.reset(nc);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 3000;
  jo.PublishAsync.MaxPending = 8192;
  jo.PublishAsync.AckHandler = &NatsSink::onPubAck;
  jo.PublishAsync.AckHandlerClosure = request.sink;
  jsCtx* js = nullptr;
  made.status = fromNats(natsConnection_JetStream(&js, nc, &jo), "jetstream");
  made.js.reset(js);
  return made;
}

Status NatsClient::adoptConnection(NewConnection made) {
  HL_RETURN_IF_ERROR(made.status);  // a connection without its JetStream context closes here
  m_nc = std::move(made.nc);
  m_js = std::move(made.js);
  qCInfo(lcNats).noquote() << "connected to" << connectedUrl();
  return Status::ok();
}

bool NatsClient::isConnected() const {
  return m_nc && natsConnection_Status(m_nc.get()) == NATS_CONN_STATUS_CONNECTED;
}

QString NatsClient::connectedUrl() const {
  char buf[256] = {0};
  if (!m_nc || natsConnection_GetConnectedUrl(m_nc.get(), buf, sizeof buf) != NATS_OK) return {};
  return QString::fromUtf8(buf);
}

int64_t NatsClient::maxPayload() const {
  return m_nc ? natsConnection_GetMaxPayload(m_nc.get()) : 0;
}

Status NatsClient::ensureStreams() {
  const ReplicationLogConfig& rl = m_config.replicationLog;
  for (int shard = 1; shard <= rl.shards; ++shard) {
    const QByteArray stream = m_config.streamName(shard).toUtf8();
    const QByteArray subject = m_config.subjectName(shard).toUtf8();
    const char* subjects[] = {subject.constData()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream.constData();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Discard = js_DiscardOld;
    cfg.MaxMsgs = rl.maxEntries;
    cfg.MaxMsgsPerSubject = -1;
    cfg.MaxConsumers = -1;
    cfg.DenyDelete = true;
    cfg.AllowDirect = true;
    cfg.Replicas = m_config.effectiveReplicas();
    cfg.Duplicates = int64_t(5) * 60 * 1000 * 1000 * 1000;  // 5 minutes: covers publish retries

    jsStreamInfo* si = nullptr;
    jsErrCode jerr = jsErrCode(0);
    natsStatus s = js_GetStreamInfo(&si, m_js.get(), stream.constData(), nullptr, &jerr);
    JsStreamInfoPtr info(si);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
      jsStreamInfo* created = nullptr;
      s = js_AddStream(&created, m_js.get(), &cfg, nullptr, &jerr);
      JsStreamInfoPtr owned(created);
      HL_RETURN_IF_ERROR(fromNats(s, "create stream " + QString::fromUtf8(stream), jerr));
      qCInfo(lcNats).noquote() << "created stream" << stream << "subject" << subject << "replicas"
                               << cfg.Replicas << "max_msgs" << cfg.MaxMsgs;
      continue;
    }
    HL_RETURN_IF_ERROR(fromNats(s, "stream info " + QString::fromUtf8(stream), jerr));
    const jsStreamConfig* live = info->Config;
    QStringList diffs;
    auto differ = [&](const char* name, auto a, auto b) {
      if (a != b)
        diffs << QStringLiteral("%1 %2 (want %3)")
                     .arg(QLatin1String(name))
                     .arg(qint64(a))
                     .arg(qint64(b));
    };
    differ("max_msgs", live->MaxMsgs, cfg.MaxMsgs);
    differ("replicas", live->Replicas, cfg.Replicas);
    differ("storage", int(live->Storage), int(cfg.Storage));
    differ("retention", int(live->Retention), int(cfg.Retention));
    differ("discard", int(live->Discard), int(cfg.Discard));
    differ("deny_delete", live->DenyDelete, cfg.DenyDelete);
    differ("allow_direct", live->AllowDirect, cfg.AllowDirect);
    if (live->SubjectsLen != 1 || QByteArray(live->Subjects[0]) != subject)
      diffs << QStringLiteral("subjects differ (want %1)").arg(QString::fromUtf8(subject));
    if (diffs.isEmpty()) continue;
    if (!rl.updateExisting) {
      qCWarning(lcNats).noquote() << "stream" << stream
                                  << "differs from the configuration:" << diffs.join(", ")
                                  << "- using it as it is (update_existing = false)";
      continue;
    }
    jsStreamInfo* updated = nullptr;
    s = js_UpdateStream(&updated, m_js.get(), &cfg, nullptr, &jerr);
    JsStreamInfoPtr owned(updated);
    HL_RETURN_IF_ERROR(fromNats(s, "update stream " + QString::fromUtf8(stream), jerr));
    qCInfo(lcNats).noquote() << "updated stream" << stream << ":" << diffs.join(", ");
  }
  return Status::ok();
}

Status NatsClient::streamState(const QString& stream, quint64* firstSeq, quint64* lastSeq,
                               qint64* createdNs, bool* missing) {
  if (missing) *missing = false;
  if (!m_js) return Status::unavailable("not connected");
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  const natsStatus s =
      js_GetStreamInfo(&si, m_js.get(), stream.toUtf8().constData(), nullptr, &jerr);
  JsStreamInfoPtr info(si);
  if (missing && (jerr == JSStreamNotFoundErr || s == NATS_NOT_FOUND)) *missing = true;
  HL_RETURN_IF_ERROR(fromNats(s, "stream info " + stream, jerr));
  // A clustered stream without a leader (one being elected, its leader's server paused) is
  // answered by a replica, whose state can lag and whose creation time can differ: not
  // evidence of anything (seen in the chaos suite's stop-nats; docs/replication.md#durability).
  if (info->Cluster && (info->Cluster->Leader == nullptr || *info->Cluster->Leader == '\0'))
    return Status::unavailable(
        QStringLiteral("stream %1 has no leader at the moment: its state is not known")
            .arg(stream));
  *firstSeq = info->State.FirstSeq;
  *lastSeq = info->State.LastSeq;
  // A replicated stream's creation time is each server's own (when it loaded its replica, in
  // nats-server 2.9): a new leader after a restart shows another one. Only a stream on one
  // server has a creation time that says "re-created" (docs/replication.md#durability).
  const bool replicated = info->Cluster && info->Cluster->ReplicasLen > 0;
  if (createdNs) *createdNs = replicated ? 0 : info->Created;
  return Status::ok();
}

PublishResult publishResultOf(qint64 token, const jsPubAck* pa, const jsPubAckErr* pae) {
  PublishResult r;
  r.token = token;
  if (pa && pa->Sequence == 0) {
    // Not an ack: nats-server 2.10 (before 2.11) stages the id of a message it is storing with
    // position 0 and answers another message with that id "duplicate, position 0" meanwhile;
    // the message is not stored yet, or never is when a change of stream leader drops it.
    r.error = QStringLiteral(
        "the server holds this message id for a message it has not stored (a duplicate with "
        "position 0)");
  } else if (pa) {
    r.ok = true;
    r.duplicate = pa->Duplicate;
    r.streamSeq = pa->Sequence;
  } else if (pae) {
    r.error = QString::fromUtf8(pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
    if (pae->ErrCode) r.error += QStringLiteral(" (JetStream error %1)").arg(int(pae->ErrCode));
  }
  return r;
}

Result<IncomingMessage> NatsClient::messageAt(const QString& stream, quint64 seq) {
  if (!m_js) return Status::unavailable("not connected");
  natsMsg* msg = nullptr;
  jsErrCode jerr = jsErrCode(0);
  const natsStatus s =
      js_GetMsg(&msg, m_js.get(), stream.toUtf8().constData(), seq, nullptr, &jerr);
  NatsMsgPtr owned(msg);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
    return Status::notFound(QStringLiteral("%1 holds no message %2").arg(stream).arg(seq));
  HL_RETURN_IF_ERROR(
      fromNats(s, QStringLiteral("get message %1 of %2").arg(seq).arg(stream), jerr));
  IncomingMessage m;
  m.streamSeq = seq;
  m.timestampNs = natsMsg_GetTime(msg);
  NatsSink::readBody(msg, &m);
  return m;
}

Result<QByteArray> NatsClient::messageIdAt(const QString& stream, quint64 seq) {
  auto m = messageAt(stream, seq);
  if (!m) return m.status();
  return m->msgId;
}

Status NatsClient::publishAsync(const QString& subject, const QByteArray& data,
                                const std::vector<std::pair<QByteArray, QByteArray>>& headers) {
  if (!m_js) return Status::unavailable("not connected");
  natsMsg* msg = nullptr;
  const QByteArray subj = subject.toUtf8();
  HL_RETURN_IF_ERROR(
      fromNats(natsMsg_Create(&msg, subj.constData(), nullptr, data.constData(), int(data.size())),
               "create message"));
  NatsMsgPtr owned(msg);
  for (const auto& [k, v] : headers) natsMsgHeader_Set(msg, k.constData(), v.constData());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 5000;  // the ack handler reports a timeout after 5 s
  natsMsg* raw = owned.release();
  const natsStatus s = js_PublishMsgAsync(m_js.get(), &raw, &po);
  if (raw) natsMsg_Destroy(raw);  // not taken by the library on failure
  return fromNats(s, "publish to " + subject);
}

Status NatsClient::subscribe(int shard, quint64 startSeq, quint64 generation) {
  return adoptSubscription(shard,
                           makeSubscription(prepareSubscription(shard, startSeq, generation)));
}

NatsClient::SubscribeRequest NatsClient::prepareSubscription(int shard, quint64 startSeq,
                                                             quint64 generation) {
  unsubscribe(shard);
  SubscribeRequest r;
  if (!m_js || shard <= 0 || size_t(shard) >= m_subs.size()) return r;  // js null: not made
  {
    QMutexLocker lock(&m_sink->mutex);
    // The test faults apply to the first subscription adopted (adoptSubscription()).
    const bool drop = shard == m_dropDeliveriesOf;
    m_sink->closures.push_back({m_sink, shard, generation, drop, 0, {}});
    NatsSink::SubClosure* closure = &m_sink->closures.back();
    if (shard == m_shiftDeliveriesOf && startSeq <= m_shiftDeliveriesFrom)
      closure->shiftFrom = m_shiftDeliveriesFrom;
    r.closure = closure;
  }
  r.shard = shard;
  r.startSeq = startSeq;
  r.stream = m_config.streamName(shard).toUtf8();
  r.subject = m_config.subjectName(shard).toUtf8();
  r.avoid = m_avoidedServers[size_t(shard)];
  r.js = m_js.get();
  return r;
}

NatsClient::NewSubscription NatsClient::makeSubscription(const SubscribeRequest& r) {
  NewSubscription made;
  if (!r.js) {
    made.status = Status::unavailable("not connected");
    return made;
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = r.stream.constData();
  so.ManualAck = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = std::max<quint64>(1, r.startSeq);
  so.Config.AckPolicy = js_AckAll;
  so.Config.AckWait = int64_t(60) * 1000 * 1000 * 1000;
  so.Config.MaxAckPending = 20000;
  so.Config.FlowControl = true;
  so.Config.Heartbeat =
      int64_t(2) * 1000 * 1000 * 1000;  // stalls are reported (docs/replication.md#nats)
  so.Config.InactiveThreshold = int64_t(60) * 1000 * 1000 * 1000;
  // The consumer is made ahead (on a server the shard does not avoid), and the subscription
  // binds to it: nats.c then never deletes it itself. It deletes a consumer it made when the
  // subscription ends, a request that waits up to 3 s for its answer on the thread that
  // unsubscribes (measured: 3.0 s on the engine thread per shard while the server was paused).
  // Ours are deleted by unsubscribe() on the request thread.
  made.status = placeConsumer(r, so, &made);
  if (!made.status.isOk()) return made;
  so.Consumer = made.consumer.constData();
  natsSubscription* sub = nullptr;
  jsErrCode jerr = jsErrCode(0);
  const natsStatus s = js_Subscribe(&sub, r.js, r.subject.constData(), &NatsSink::onMessage,
                                    r.closure, nullptr, &so, &jerr);
  made.status = fromNats(
      s, QStringLiteral("subscribe to %1 from %2").arg(QString::fromUtf8(r.stream)).arg(r.startSeq),
      jerr);
  if (!made.status.isOk()) return made;
  natsSubscription_SetPendingLimits(sub, -1, -1);
  made.sub.reset(sub);
  made.shifted = static_cast<const NatsSink::SubClosure*>(r.closure)->shiftFrom > 0;
  return made;
}

Status NatsClient::adoptSubscription(int shard, NewSubscription made) {
  if (shard <= 0 || size_t(shard) >= m_subs.size())
    return Status::invalidArgument(QStringLiteral("no shard %1").arg(shard));
  if (made.stopAvoiding) m_avoidedServers[size_t(shard)].clear();
  if (!made.status.isOk()) {
    deleteConsumer(shard, made.consumer);  // made, and the subscription to it failed
    return made.status;
  }
  unsubscribe(shard);  // one adopted since this one was prepared
  {
    QMutexLocker lock(&m_sink->mutex);
    if (shard == m_dropDeliveriesOf && !m_dropAllDeliveries)
      m_dropDeliveriesOf = 0;  // the next subscription delivers
    if (made.shifted)
      m_shiftDeliveriesOf = 0;  // the next subscription delivers as the stream holds
  }
  m_placedOn[size_t(shard)] = made.placedOn;
  m_consumers[size_t(shard)] = made.consumer;
  m_subIds[size_t(shard)] = natsSubscription_GetID(made.sub.get());
  m_subs[size_t(shard)] = std::move(made.sub);
  return Status::ok();
}

Status NatsClient::placeConsumer(const SubscribeRequest& r, const jsSubOptions& so,
                                 NewSubscription* made) {
  // nats-server 2.9 places an ephemeral consumer on one of the stream's servers at random
  // (measured: 30 consumers of an R3 stream landed 5/14/11 on the three), and a consumer
  // delivers its server's copy of the stream. Made here, ahead of the subscription, so that one
  // on an avoided server is deleted before it delivers anything; a push consumer delivers
  // nothing until its deliver subject has a subscriber. nats.c deletes only the consumers it
  // made: unsubscribe() deletes this one, and its inactive threshold removes one left behind.
  constexpr int kTries = 8;  // each try lands elsewhere with 2/3 chance on 3 servers
  natsInbox* inbox = nullptr;
  HL_RETURN_IF_ERROR(fromNats(natsInbox_Create(&inbox), "create inbox"));
  const QByteArray deliverTo(inbox);
  natsInbox_Destroy(inbox);
  jsConsumerConfig cc = so.Config;
  cc.DeliverSubject = deliverTo.constData();
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;
  QString& server = made->placedOn;
  for (int tries = 1;; ++tries) {
    jsConsumerInfo* raw = nullptr;
    jsErrCode jerr = jsErrCode(0);
    const natsStatus s = js_AddConsumer(&raw, r.js, so.Stream, &cc, &jo, &jerr);
    JsConsumerInfoPtr info(raw);
    HL_RETURN_IF_ERROR(fromNats(
        s, QStringLiteral("make a consumer of %1").arg(QString::fromUtf8(so.Stream)), jerr));
    server = info->Cluster && info->Cluster->Leader ? QString::fromUtf8(info->Cluster->Leader)
                                                    : QString();
    made->consumer = QByteArray(info->Name);
    if (r.avoid.isEmpty()) return Status::ok();
    if (!r.avoid.contains(server)) break;
    if (tries == kTries) {
      qCWarning(lcNats).noquote()
          << QStringLiteral(
                 "shard %1: every consumer of %2 made in %3 tries is on %4, which "
                 "this node avoided; reading from it, and no longer avoiding it")
                 .arg(r.shard)
                 .arg(QString::fromUtf8(so.Stream))
                 .arg(kTries)
                 .arg(server);
      // No other server holds the stream (one server, or the others down).
      made->stopAvoiding = true;
      return Status::ok();
    }
    js_DeleteConsumer(r.js, so.Stream, info->Name, &jo, nullptr);
  }
  qCInfo(lcNats).noquote() << QStringLiteral("shard %1 reads %2 from server %3 (avoiding %4)")
                                  .arg(r.shard)
                                  .arg(QString::fromUtf8(so.Stream), server, r.avoid.join(", "));
  return Status::ok();
}

QString NatsClient::consumerServer(int shard) const {
  if (shard <= 0 || size_t(shard) >= m_subs.size() || !m_subs[size_t(shard)]) return {};
  return m_placedOn[size_t(shard)];  // nats.c 3.4.1 has no consumer info for a bound one
}

void NatsClient::avoidServer(int shard, const QString& server) {
  if (shard <= 0 || size_t(shard) >= m_avoidedServers.size() || server.isEmpty()) return;
  if (!m_avoidedServers[size_t(shard)].contains(server))
    m_avoidedServers[size_t(shard)].append(server);
}

QStringList NatsClient::avoidedServers(int shard) const {
  if (shard <= 0 || size_t(shard) >= m_avoidedServers.size()) return {};
  return m_avoidedServers[size_t(shard)];
}

void NatsClient::unsubscribe(int shard) {
  if (shard < 0 || size_t(shard) >= m_subs.size() || !m_subs[size_t(shard)]) return;
  retire(std::move(m_subs[size_t(shard)]));  // no request: the consumer is ours
  m_placedOn[size_t(shard)].clear();
  m_subIds[size_t(shard)] = 0;
  deleteConsumer(shard, std::exchange(m_consumers[size_t(shard)], {}));
}

void NatsClient::discardSubscription(int shard, NewSubscription made) {
  if (made.sub) retire(std::move(made.sub));
  deleteConsumer(shard, made.consumer);
}

void NatsClient::deleteConsumer(int shard, const QByteArray& consumer) {
  // On the request thread, unless its requests are dropped first (a stop): a consumer left
  // behind is removed by the server once its inactive threshold (60 s) passed.
  if (!m_requests || consumer.isEmpty() || !m_js) return;
  const QByteArray stream = m_config.streamName(shard).toUtf8();
  m_requests->run<bool>(
      [js = m_js.get(), stream, consumer] {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = 2000;
        return js_DeleteConsumer(js, stream.constData(), consumer.constData(), &jo, nullptr) ==
               NATS_OK;
      },
      [](bool) {});
}

void NatsClient::unsubscribeAll() {
  for (size_t i = 0; i < m_subs.size(); ++i) unsubscribe(int(i));
}

int NatsClient::shardOfSubscription(int64_t sid) const {
  if (sid <= 0) return 0;
  for (size_t i = 0; i < m_subIds.size(); ++i)
    if (m_subIds[i] == sid) return int(i);
  return 0;
}

Status NatsClient::ack(const QByteArray& replyTo) {
  if (!m_nc) return Status::unavailable("not connected");
  return fromNats(natsConnection_PublishString(m_nc.get(), replyTo.constData(), "+ACK"), "ack");
}

}  // namespace hl
