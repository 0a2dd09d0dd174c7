#include "replication/consumer.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>

#include <algorithm>
#include <chrono>

#include "replication/applier.h"
#include "replication/collisions.h"
#include "replication/convergence.h"
#include "replication/publisher.h"
#include "replication/shard_positions.h"
#include "schema/catalog.h"
#include "wire/cbor_codec.h"

Q_LOGGING_CATEGORY(lcApply, "hl.apply")

namespace hl {
namespace {
constexpr int kMaxBatch = 2000;
// A batch's write transaction aims at this much work, so that an application writing at the
// same moment waits little for the write lock (docs/replication.md#write-lock): the batch size
// follows the measured cost per change.
constexpr int64_t kBatchTargetUs = 1000;
constexpr int kMinBatch = 8;
constexpr int kSeqMapIntervalMs = 200;
constexpr int kPositionIntervalMs = 200;
constexpr int kPausedRefreshMs = 5000;

QString rowText(const RowImage& row) {
  QStringList parts;
  for (const auto& [k, v] : row) parts << k + '=' + v.toDebugString();
  return parts.join(", ");
}

// The same columns with equal values, in any order.
bool sameRow(const RowImage& a, const RowImage& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, value] : a) {
    const auto it =
        std::find_if(b.begin(), b.end(), [&](const auto& c) { return c.first == name; });
    if (it == b.end() || !(it->second == value)) return false;
  }
  return true;
}

// Shards held on purpose: no subscription, and nothing but their own trigger starts one again.
bool isHeld(ShardState st) {
  return st == ShardState::Paused || st == ShardState::SchemaPaused ||
         st == ShardState::NeedsRestore;
}

std::optional<quint64> seenSeqOf(const QByteArray& header) {
  bool ok = false;
  const quint64 seq = header.toULongLong(&ok);
  return ok ? std::optional<quint64>(seq) : std::nullopt;
}
}  // namespace

Consumer::Consumer(const Config& config, SqliteDb& db, SchemaCatalog& catalog, Applier& applier,
                   Collisions& collisions, ReplicationState& state, NatsClient& nats,
                   ShardPositions& positions, Publisher* publisher, RequestThread& requests,
                   QObject* parent)
    : QObject(parent),
      m_config(config),
      m_db(db),
      m_catalog(catalog),
      m_applier(applier),
      m_collisions(collisions),
      m_state(state),
      m_nats(nats),
      m_positions(positions),
      m_publisher(publisher),
      m_requests(requests),
      m_rows(db, catalog),
      m_gate(catalog),
      m_drainTimer(this),
      m_retryTimer(this),
      m_seqMapTimer(this),
      m_positionTimer(this),
      m_pausedTimer(this) {
  m_shards.resize(config.replicationLog.shards + 1);
  // After a restore, this node's own messages past the snapshot's watermark may be missing
  // from the database: they are applied like any other (docs/snapshots.md#restoring).
  if (auto replay = state.replayOwnUpTo(); replay) {
    for (int shard = 1; shard < m_shards.size(); ++shard)
      m_shards[shard].replayOwnUpTo = replay->value(config.streamName(shard), 0);
  }
  m_drainTimer.setSingleShot(true);
  m_drainTimer.setInterval(0);
  connect(&m_drainTimer, &QTimer::timeout, this, &Consumer::drain);
  m_retryTimer.setSingleShot(true);
  connect(&m_retryTimer, &QTimer::timeout, this, &Consumer::drain);
  // The positions in the database are authoritative and commit with the rows; the seq-map
  // file mirrors them for Go tools, rewritten at most every kSeqMapIntervalMs and at stop.
  m_positionTimer.setSingleShot(true);
  m_positionTimer.setInterval(kPositionIntervalMs);
  connect(&m_positionTimer, &QTimer::timeout, this, [this] {
    if (Status s = flushPositions(); !s.isOk()) {
      qCDebug(lcApply).noquote() << "recording positions deferred:" << s.message();
      m_positionTimer.start();
    }
  });
  // One stream-info request per paused shard every kPausedRefreshMs: the waiting count on
  // screen, without keeping a subscription (NATS stays quiet while a shard waits).
  m_pausedTimer.setInterval(kPausedRefreshMs);
  connect(&m_pausedTimer, &QTimer::timeout, this, &Consumer::refreshPausedCounts);
  m_seqMapTimer.setSingleShot(true);
  m_seqMapTimer.setInterval(kSeqMapIntervalMs);
  connect(&m_seqMapTimer, &QTimer::timeout, this, [this] {
    if (Status s = writeSeqMap(false); !s.isOk()) qCWarning(lcApply).noquote() << s.message();
  });
}

Consumer::~Consumer() {
  (void)flushPositions();
  if (m_seqMapTimer.isActive()) (void)writeSeqMap();
}

quint64 Consumer::applied(int shard) const {
  return m_positions.applied(shard);
}

Status Consumer::flushPositions() {
  QList<int> dirty;
  for (int shard = 1; shard < m_shards.size(); ++shard)
    if (m_shards[shard].positionDirty) dirty << shard;
  if (dirty.isEmpty()) return Status::ok();
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status();
  for (int shard : dirty) {
    HL_RETURN_IF_ERROR(m_state.setPosition(m_config.streamName(shard), applied(shard)));
    HL_RETURN_IF_ERROR(m_state.forgetOwnUpTo(shard, applied(shard)));
  }
  HL_RETURN_IF_ERROR(txn->commit());
  for (int shard : dirty) m_shards[shard].positionDirty = false;
  if (!m_seqMapTimer.isActive()) m_seqMapTimer.start();
  return Status::ok();
}

qint64 Consumer::lagMessages(int shard) const {
  const ShardStatus& s = m_shards[shard].status;
  const quint64 done = applied(shard);
  const qint64 counted =
      qint64(s.received > done ? s.received - done : 0) + qint64(s.streamPending);
  if (s.state == ShardState::SchemaPaused && s.wait.streamLast > done)
    return std::max(counted, qint64(s.wait.streamLast - done));
  if (s.state == ShardState::Paused && s.pausedStreamLast > done)
    return std::max(counted, qint64(s.pausedStreamLast - done));
  return counted;
}

double Consumer::lagSeconds(int shard) const {
  const Shard& sh = m_shards[shard];
  double oldestMs = 0;
  if (sh.status.state == ShardState::SchemaPaused && sh.status.wait.seq != 0)
    oldestMs = double(sh.status.wait.messageMs);
  else if (!sh.queue.isEmpty())
    oldestMs = double(sh.queue.first().timestampNs) / 1e6;
  else
    return 0;
  return std::max(0.0, (double(QDateTime::currentMSecsSinceEpoch()) - oldestMs) / 1000.0);
}

void Consumer::setState(int shard, ShardState state, const QString& reason) {
  ShardStatus& s = m_shards[shard].status;
  if (s.state == state && s.lastError == reason) return;
  s.state = state;
  if (!reason.isEmpty()) s.lastError = reason;
  emit event(EngineEvent::shardStateChanged(shard, state, reason));
}

void Consumer::start() {
  for (int shard = 1; shard < m_shards.size(); ++shard) resubscribe(shard);
}

void Consumer::resubscribeAll() {
  for (int shard = 1; shard < m_shards.size(); ++shard) {
    if (!isHeld(m_shards[shard].status.state)) resubscribe(shard);
  }
}

void Consumer::onStalled(int shard) {
  if (shard <= 0 || shard >= m_shards.size()) return;
  if (isHeld(m_shards[shard].status.state)) return;
  // The retry, or the subscription on its way, re-creates it anyway.
  if (m_shards[shard].retryPending || m_shards[shard].subscribing) return;
  qCWarning(lcApply).noquote()
      << QStringLiteral("shard %1: no heartbeat from the server; re-creating its consumer")
             .arg(shard);
  resubscribe(shard);
}

// One retry per shard at a time: each resubscribe() (a retry, a missed heartbeat, a reconnection,
// the operator) supersedes the one scheduled before it, so failures while the stream has no
// leader never grow parallel chains that re-create the consumer again after it was made. The
// delay doubles from 1 s to 5 s while the server does not answer. The next one is scheduled
// once an attempt's answer is back (up to 3 s per request on the request thread), and a
// consumer that could not be made is tried again within 5 s: nats-server 2.9 places each new
// one on a stream's server at random, and one server may not answer while the others do (the
// CI run of f0f88ea: one node's attempts 19 s apart all timed out while the other two nodes'
// succeeded).
void Consumer::retryLater(int shard) {
  Shard& sh = m_shards[shard];
  const quint64 token = ++sh.retryToken;
  sh.retryPending = true;
  const int delay = sh.retryDelayMs;
  sh.retryDelayMs = std::min(sh.retryDelayMs * 2, kMaxRetryDelayMs);
  QTimer::singleShot(delay, this, [this, shard, token] {
    Shard& s = m_shards[shard];
    if (s.retryToken != token) return;
    s.retryPending = false;
    if (!isHeld(s.status.state)) resubscribe(shard);
  });
}

// nats-server 2.9 can leave a push consumer that sends heartbeats but no messages: seen in the
// chaos suite (embedded servers, a node cut off with its server) on a consumer whose server's
// replica of the stream had caught up after the partition; it reported nothing pending while
// the stream held 232 more messages. No heartbeat is missed, so only the stream's last
// sequence, read by the durability guard, shows it.
void Consumer::checkProgress(int shard, quint64 streamLast) {
  if (shard <= 0 || shard >= m_shards.size()) return;
  Shard& sh = m_shards[shard];
  const quint64 done = applied(shard);
  if (sh.status.state != ShardState::Running || !sh.queue.isEmpty() || m_waitingForPublisher ||
      sh.retryPending || sh.subscribing || streamLast <= done || heldBack(shard)) {
    sh.stuckSinceMs = 0;
    return;
  }
  if (sh.fetching) {  // nothing delivered since the watchdog re-created the subscription
    fetchMissing(shard, streamLast);
    return;
  }
  const qint64 now = QDateTime::currentMSecsSinceEpoch();
  if (sh.stuckSinceMs == 0 || sh.stuckApplied != done || sh.stuckReceived != sh.status.received) {
    sh.stuckSinceMs = now;
    sh.stuckApplied = done;
    sh.stuckReceived = sh.status.received;
    return;
  }
  if (now - sh.stuckSinceMs < kStuckMs) return;
  sh.fetching = true;  // until the new subscription delivers
  qCWarning(lcApply).noquote()
      << QStringLiteral(
             "shard %1 received nothing for %2 s while its stream holds up to %3 and this node "
             "applied %4: re-creating its consumer")
             .arg(shard)
             .arg((now - sh.stuckSinceMs) / 1000)
             .arg(streamLast)
             .arg(done);
  sh.stuckSinceMs = 0;
  resubscribe(shard);
}

// A subscription re-created by the watchdog that delivers nothing either (seen once in the chaos
// suite: a stream's leader held 3 more messages, and consumers re-created every 15 s for 180 s
// delivered none of them). The stream's leader answers "get message" requests itself, so the
// shard goes on from there: messages fetched by sequence enter the queue as if delivered, and
// whatever the subscription delivers later is a duplicate dropped by applyBatch().
//
// The fetches are requests: they run on the request thread (docs/architecture.md#threads), for
// kFetchBudgetMs at most per look (a busy cluster answers slowly; the rest at the next look),
// and what they brought joins the queue when the answer is back, unless the shard subscribed
// again meanwhile.
void Consumer::fetchMissing(int shard, quint64 streamLast) {
  Shard& sh = m_shards[shard];
  if (sh.fetchAsked) return;  // the last look's fetches are not back yet
  sh.fetchAsked = true;
  const quint64 from = applied(shard) + 1;
  const quint64 to = std::min(streamLast, from + quint64(kFetchMax) - 1);
  std::function<Fetched()> work = [nats = &m_nats, requests = &m_requests,
                                   stream = m_config.streamName(shard), from, to] {
    Fetched f;
    f.from = from;
    QElapsedTimer spent;
    spent.start();
    for (quint64 seq = from; seq <= to && spent.elapsed() < kFetchBudgetMs; ++seq) {
      if (requests->cancelled()) break;
      auto m = nats->messageAt(stream, seq);
      if (!m) {
        f.error = m.status();
        break;
      }
      f.messages.append(std::move(*m));
    }
    f.spentMs = spent.elapsed();
    return f;
  };
  std::function<void(Fetched)> done =
      [self = QPointer<Consumer>(this), shard, generation = sh.generation, streamLast](Fetched f) {
        if (!self) return;
        Shard& s = self->m_shards[shard];
        s.fetchAsked = false;
        if (s.generation != generation) return;  // subscribed again: fetched by the next look
        for (IncomingMessage& m : f.messages) {
          m.shard = shard;
          m.generation = generation;
          m.numPending = streamLast - m.streamSeq;
          self->enqueue(m);
        }
        qCWarning(lcApply).noquote()
            << QStringLiteral(
                   "shard %1: its re-created consumer delivers nothing either; fetched %2 "
                   "message(s) from %3 by sequence from %4 in %5 ms%6")
                   .arg(shard)
                   .arg(f.messages.size())
                   .arg(self->m_config.streamName(shard))
                   .arg(f.from)
                   .arg(f.spentMs)
                   .arg(f.error.isOk() ? QString()
                                       : QStringLiteral(", stopped: ") + f.error.message());
        // The next message needed is no longer in the stream (deleted, or aged out): the gap check
        // of a new subscription decides (a restore when it aged out).
        if (f.messages.isEmpty() && f.error.code() == Status::Code::kNotFound)
          self->resubscribe(shard);
      };
  m_requests.run<Fetched>(std::move(work), std::move(done));
}

void Consumer::cancelRetry(Shard& sh) {
  ++sh.retryToken;  // the scheduled retry finds another token and does nothing
  sh.retryPending = false;
}

void Consumer::noteApplied(Shard& sh, int n) {
  const IncomingMessage& last = sh.queue[n - 1];
  sh.lastAppliedMsgId = last.msgId;
  sh.lastAppliedSeq = last.streamSeq;
  // The highest multiple of kCheckpointEvery among the n (consecutive) sequences, if any.
  const quint64 firstSeq = sh.queue[0].streamSeq;
  const quint64 mark = last.streamSeq - last.streamSeq % kCheckpointEvery;
  if (mark == 0 || mark < firstSeq) return;
  const IncomingMessage& m = sh.queue[int(mark - firstSeq)];
  if (m.msgId.isEmpty() || m.timestampNs == 0) return;  // a Go sender's: nothing to compare
  if (!sh.checkpoints.isEmpty() && sh.checkpoints.last().seq >= mark) return;
  sh.checkpoints.append({mark, m.msgId, m.timestampNs});
  if (sh.checkpoints.size() > kMaxCheckpoints) sh.checkpoints.removeFirst();
}

void Consumer::dropCheckpointsAbove(int shard, quint64 seq) {
  if (shard <= 0 || shard >= m_shards.size()) return;
  QList<Checkpoint>& c = m_shards[shard].checkpoints;
  while (!c.isEmpty() && c.last().seq > seq) c.removeLast();
}

// The gap check and the new consumer are requests that wait for JetStream's answer: they run
// on the request thread (docs/architecture.md#threads), and the shard
// keeps its state until the answer is back (subscribed()). The new subscription may deliver
// before that: its messages carry the new generation and are queued meanwhile.
void Consumer::resubscribe(int shard) {
  Shard& sh = m_shards[shard];
  cancelRetry(sh);
  sh.queue.clear();
  // What the new consumer delivers counts from the applied position (which a heal may have
  // moved back): a stream that went back does not keep the old, higher "received".
  sh.status.received = applied(shard);
  sh.generation = m_nextGeneration++;
  sh.subscribing = true;
  const quint64 from = applied(shard);
  NatsClient::SubscribeRequest request = m_nats.prepareSubscription(shard, from + 1, sh.generation);
  std::function<Attempt()> work = [nats = &m_nats, stream = m_config.streamName(shard), from,
                                   request = std::move(request)] {
    Attempt a;
    a.from = from;
    // Gap check: the next needed message must still be in the stream
    // (docs/replication.md#applying).
    a.state = nats->streamState(stream, &a.first, &a.last);
    if (a.state.isOk() && a.last >= from && from + 1 >= a.first)
      a.made = NatsClient::makeSubscription(request);
    return a;
  };
  // A restore replaces the consumer without waiting for the request thread; the client stays
  // (an answer is handed over only while it lives: its requests are dropped before it goes).
  std::function<void(Attempt)> done = [self = QPointer<Consumer>(this), nats = &m_nats, shard,
                                       generation = sh.generation](Attempt a) {
    if (self && self->m_shards[shard].generation == generation)
      self->subscribed(shard, std::move(a));
    else
      nats->discardSubscription(shard, std::move(a.made));
  };
  m_requests.run<Attempt>(std::move(work), std::move(done));
}

void Consumer::subscribed(int shard, Attempt a) {
  Shard& sh = m_shards[shard];
  sh.subscribing = false;
  const QString stream = m_config.streamName(shard);
  if (!a.state.isOk()) {
    setState(shard, ShardState::Stopped, a.state.message());
    qCWarning(lcApply).noquote() << "shard" << shard << ":" << a.state.message() << "- retrying";
    retryLater(shard);
    return;
  }
  if (a.last < a.from) {
    setState(shard, ShardState::Stopped,
             QStringLiteral("stream %1 holds %2 to %3, below this node's applied position %4")
                 .arg(stream)
                 .arg(a.first)
                 .arg(a.last)
                 .arg(a.from));
    emit streamWentBack(shard, a.first, a.last);
    return;
  }
  if (a.from + 1 < a.first) {
    const QString reason =
        QStringLiteral(
            "stream %1 no longer holds message %2 (its first is %3): this node is behind the log "
            "and needs a restore from a snapshot")
            .arg(stream)
            .arg(a.from + 1)
            .arg(a.first);
    qCCritical(lcApply).noquote() << reason;
    setState(shard, ShardState::NeedsRestore, reason);
    return;
  }
  if (Status s = m_nats.adoptSubscription(shard, std::move(a.made)); !s.isOk()) {
    setState(shard, ShardState::Stopped, s.message());
    qCWarning(lcApply).noquote() << "shard" << shard << ":" << s.message() << "- retrying";
    retryLater(shard);
    return;
  }
  qCInfo(lcApply).noquote() << QStringLiteral(
                                   "shard %1 subscribed from %2 (the stream holds %3 to %4)")
                                   .arg(shard)
                                   .arg(a.from + 1)
                                   .arg(a.first)
                                   .arg(a.last);
  sh.retryDelayMs = kMinRetryDelayMs;
  setState(shard, ShardState::Running, QString());
  // What it delivered while the answer was on its way.
  if (!sh.queue.isEmpty() && !m_drainTimer.isActive() && !m_retryTimer.isActive())
    m_drainTimer.start();
}

Status Consumer::pause(int shard) {
  if (shard < 0 || shard >= m_shards.size())
    return Status::invalidArgument(QStringLiteral("no shard %1").arg(shard));
  for (int s = 1; s < m_shards.size(); ++s) {
    if ((shard != 0 && s != shard) || m_shards[s].status.state == ShardState::NeedsRestore)
      continue;
    m_nats.unsubscribe(s);
    m_shards[s].queue.clear();
    cancelRetry(m_shards[s]);  // a pending retry must not subscribe a paused shard
    m_shards[s].generation =
        m_nextGeneration++;           // late messages of the old subscription are dropped
    m_shards[s].subscribing = false;  // and the answer to one on its way
    m_shards[s].status.pausedStreamLast = m_shards[s].status.received;
    setState(s, ShardState::Paused, QStringLiteral("paused by the operator"));
  }
  if (!m_pausedTimer.isActive()) m_pausedTimer.start();
  return Status::ok();
}

Status Consumer::resume(int shard) {
  if (shard < 0 || shard >= m_shards.size())
    return Status::invalidArgument(QStringLiteral("no shard %1").arg(shard));
  for (int s = 1; s < m_shards.size(); ++s) {
    if ((shard != 0 && s != shard) || m_shards[s].status.state != ShardState::Paused) continue;
    m_shards[s].status.lastError.clear();
    // The operator's pause ends now; the shard stops again if its consumer cannot be made.
    setState(s, ShardState::Running, QString());
    resubscribe(s);
  }
  return Status::ok();
}

void Consumer::onReceived(const IncomingMessage& message) {
  if (message.shard <= 0 || message.shard >= m_shards.size()) return;
  Shard& sh = m_shards[message.shard];
  if (message.generation != sh.generation ||
      (sh.status.state != ShardState::Running && !sh.subscribing))
    return;
  sh.fetching = false;  // the subscription delivers
  enqueue(message);
}

void Consumer::enqueue(const IncomingMessage& message) {
  Shard& sh = m_shards[message.shard];
  if (message.streamSeq >= sh.status.received) sh.status.streamPending = message.numPending;
  sh.status.received = std::max(sh.status.received, message.streamSeq);
  sh.queue.append(message);
  if (m_publisher) sh.queue.last().publishRound = m_publisher->lastStartedRound();
  if (!m_drainTimer.isActive() && !m_retryTimer.isActive()) m_drainTimer.start();
}

void Consumer::holdAt(const QHash<int, quint64>& target) {
  m_holdAt = target;
}

void Consumer::releaseHold() {
  if (m_holdAt.isEmpty()) return;
  m_holdAt.clear();
  if (!m_drainTimer.isActive() && !m_retryTimer.isActive()) m_drainTimer.start();
}

bool Consumer::heldBack(int shard) const {
  const auto it = m_holdAt.constFind(shard);
  return it != m_holdAt.constEnd() && applied(shard) >= *it;
}

void Consumer::drain() {
  bool wait = false;
  for (int shard = 1; shard < m_shards.size(); ++shard) {
    while (!m_shards[shard].queue.isEmpty() &&
           m_shards[shard].status.state == ShardState::Running && !heldBack(shard)) {
      if (!applyBatch(shard)) {
        wait = true;
        break;
      }
    }
  }
  if (wait) m_retryTimer.start(m_waitingForPublisher ? 1000 : 100);  // 1 s: a safety net only
}

void Consumer::onPublisherRoundFinished() {
  if (!m_waitingForPublisher) return;
  m_waitingForPublisher = false;
  m_retryTimer.stop();
  if (!m_drainTimer.isActive()) m_drainTimer.start();
}

Consumer::Batch Consumer::readBatch(int shard, int count) {
  const Shard& sh = m_shards[shard];
  Batch b;
  b.shard = shard;
  b.lastSeq = sh.queue[count - 1].streamSeq;
  for (int i = 0; i < count; ++i) {
    const IncomingMessage& m = sh.queue[i];
    b.stamp = std::max(b.stamp, m.publishRound);
    uint64_t sender = 0;
    int64_t changeId = 0;
    const bool replayOwn = m.streamSeq <= sh.replayOwnUpTo;
    if (!replayOwn && parseMessageId(m.msgId, &sender, &changeId) && sender == m_config.nodeId) {
      ++b.own;  // our own change (recognised without decoding): the row is already here
      continue;
    }
    auto decoded = decodeMessage(m.data, m_config.replicationLog.maxMessageBytes);
    if (!decoded) {
      b.dead.append({m.streamSeq, decoded.status().message(), m.data});
      continue;
    }
    if (decoded->fromNodeId == m_config.nodeId && !replayOwn) {
      ++b.own;
      continue;
    }
    const SchemaVerdict verdict = m_gate.check(&*decoded);
    if (verdict.fit == SchemaFit::kSkipDroppedTable) {
      ++b.skippedDropped;  // the table was dropped here after the sender's schema
      continue;
    }
    if (verdict.fit == SchemaFit::kPause) {
      b.pauseAt = i;
      b.pause.seq = m.streamSeq;
      b.pause.hash = decoded->schemaHash;
      b.pause.fromNode = decoded->fromNodeId;
      b.pause.table = decoded->table;
      b.pause.reason = verdict.reason;
      b.pause.messageMs = m.timestampNs / 1000000;
      b.lastSeq = i > 0 ? sh.queue[i - 1].streamSeq : 0;
      break;
    }
    b.changes.append(std::move(*decoded));
    Origin o{m.streamSeq, m.seenSeq, m.data, {}, {}, m.captureSeq};
    if (const TableInfo* table = m_catalog.find(b.changes.last().table))
      o.rowKey = rowKeyOf(*table, b.changes.last().row, &o.key);
    b.origins.append(std::move(o));
  }
  return b;
}

bool Consumer::applyBatch(int shard) {
  Shard& sh = m_shards[shard];
  const QString stream = m_config.streamName(shard);
  while (!sh.queue.isEmpty() && sh.queue.first().streamSeq <= applied(shard))
    sh.queue.removeFirst();
  if (sh.queue.isEmpty()) return true;
  if (sh.queue.first().streamSeq != applied(shard) + 1) {
    qCWarning(lcApply).noquote() << QStringLiteral(
                                        "shard %1 expected message %2, got %3: re-subscribing")
                                        .arg(shard)
                                        .arg(applied(shard) + 1)
                                        .arg(sh.queue.first().streamSeq);
    resubscribe(shard);  // checks whether the missing messages aged out
    return true;
  }
  int limit = m_batchLimit;
  if (const auto hold = m_holdAt.constFind(shard); hold != m_holdAt.constEnd()) {
    if (applied(shard) >= *hold) return true;  // held: the rest waits for releaseHold()
    limit = int(std::min<quint64>(quint64(limit), *hold - applied(shard)));
  }
  int n = 0;
  while (n < sh.queue.size() && n < limit &&
         sh.queue[n].streamSeq == applied(shard) + 1 + quint64(n))
    ++n;
  Batch batch = readBatch(shard, n);
  if (batch.pauseAt >= 0) {
    n = batch.pauseAt;  // the changes before it go on; it and the rest wait
    if (n == 0) {
      pauseForSchema(shard, batch.pause);
      return true;
    }
  }
  const QByteArray reply = sh.queue[n - 1].replyTo;

  if (batch.changes.isEmpty() && batch.dead.isEmpty()) {
    // Only our own messages: nothing to write now. The position is recorded a little later
    // with the next batch or by the position timer; after a crash these messages are simply
    // received and skipped again. This keeps the engine's write transactions (and so its
    // contention with the application's writers) to what changes data.
    noteApplied(sh, n);
    sh.queue.erase(sh.queue.begin(), sh.queue.begin() + n);
    m_positions.setApplied(shard, batch.lastSeq);
    sh.status.skippedOwn += batch.own;
    sh.positionDirty = true;
    if (!reply.isEmpty()) (void)m_nats.ack(reply);
    if (!m_positionTimer.isActive()) m_positionTimer.start();
    emit batchApplied(shard, n);
    if (batch.pauseAt >= 0) pauseForSchema(shard, batch.pause);
    return true;
  }
  auto committed = commitBatch(batch);
  if (!committed) {
    if (batch.waitForPublisher) {
      m_waitingForPublisher = true;
      return false;
    }
    const QString error = committed.status().message();
    qCWarning(lcApply).noquote() << "shard" << shard << "apply failed, will retry:" << error;
    if (sh.status.lastError != error) {
      sh.status.lastError = error;
      emit event(EngineEvent::shardError(shard, error));
    }
    return false;
  }
  noteApplied(sh, n);
  sh.queue.erase(sh.queue.begin(), sh.queue.begin() + n);
  m_positions.setApplied(shard, batch.lastSeq);
  // Changes captured from now on were captured with this batch applied.
  if (batch.captureMark >= 0) m_collisions.noteCaptureMark(batch.captureMark, m_positions);
  sh.positionDirty = false;
  sh.status.appliedChanges += *committed;
  sh.status.skippedOwn += batch.own;
  sh.status.conflicts += batch.conflicts.size();
  sh.status.deadLetters += batch.dead.size();
  sh.status.lastAppliedMs = QDateTime::currentMSecsSinceEpoch();
  for (const DeadLetter& d : batch.dead)
    qCWarning(lcApply).noquote() << "dead letter" << stream << "seq" << d.seq << ":" << d.reason;
  if (!reply.isEmpty()) {
    if (Status s = m_nats.ack(reply); !s.isOk())
      qCDebug(lcApply).noquote() << "ack failed:" << s.message();
  }
  if (!m_seqMapTimer.isActive()) m_seqMapTimer.start();
  if (sh.status.wait.seq != 0 && batch.lastSeq >= sh.status.wait.seq) {
    qCInfo(lcApply).noquote() << QStringLiteral(
                                     "shard %1 resumed: the change it waited for (seq %2) is "
                                     "applied after %3 redelivery(ies)")
                                     .arg(shard)
                                     .arg(sh.status.wait.seq)
                                     .arg(sh.status.wait.redeliveries);
    sh.status.wait = {};
  }
  emit batchApplied(shard, n);
  if (batch.pauseAt >= 0) pauseForSchema(shard, batch.pause);
  return true;
}

void Consumer::pauseForSchema(int shard, const ShardStatus::SchemaWait& wait) {
  Shard& sh = m_shards[shard];
  m_nats.unsubscribe(shard);
  sh.queue.clear();
  sh.generation = m_nextGeneration++;  // late messages of the old subscription are dropped
  sh.subscribing = false;
  ShardStatus::SchemaWait& w = sh.status.wait;
  const bool again = w.seq == wait.seq && w.hash == wait.hash;
  const qint64 redeliveries = again ? w.redeliveries : 0;
  const qint64 since = again ? w.sinceMs : QDateTime::currentMSecsSinceEpoch();
  const quint64 last = std::max(w.streamLast, sh.status.received);
  w = wait;
  w.redeliveries = redeliveries;
  w.sinceMs = since;
  w.streamLast = last;
  const QString reason = QStringLiteral("waits for schema %1 of node %2 (%3): %4 at %5 seq %6")
                             .arg(wait.hash.left(12))
                             .arg(wait.fromNode)
                             .arg(wait.reason, QStringLiteral("its change of %1").arg(wait.table),
                                  m_config.streamName(shard))
                             .arg(wait.seq);
  if (!again)
    qCWarning(lcApply).noquote() << "shard" << shard << reason
                                 << "- apply the same schema change on this node to resume";
  setState(shard, ShardState::SchemaPaused, reason);
  if (!m_pausedTimer.isActive()) m_pausedTimer.start();
}

void Consumer::onSchemaChanged() {
  for (int shard = 1; shard < m_shards.size(); ++shard) {
    Shard& sh = m_shards[shard];
    if (sh.status.state != ShardState::SchemaPaused) continue;
    ++sh.status.wait.redeliveries;
    qCInfo(lcApply).noquote() << "shard" << shard
                              << "paused by schema: the local schema changed, trying again";
    resubscribe(shard);
  }
}

void Consumer::refreshPausedCounts() {
  QHash<int, QString> paused;  // shard -> its stream
  for (int shard = 1; shard < m_shards.size(); ++shard) {
    const ShardState st = m_shards[shard].status.state;
    if (st == ShardState::SchemaPaused || st == ShardState::Paused)
      paused.insert(shard, m_config.streamName(shard));
  }
  if (paused.isEmpty()) {
    m_pausedTimer.stop();
    return;
  }
  if (m_pausedCountsAsked) return;  // the last answer is not back (a server slow to answer)
  // The streams' last sequences, asked on the request thread (docs/architecture.md#threads).
  std::function<QHash<int, quint64>()> work = [nats = &m_nats, paused] {
    QHash<int, quint64> lasts;
    for (auto it = paused.cbegin(); it != paused.cend(); ++it) {
      quint64 first = 0, last = 0;
      if (nats->streamState(it.value(), &first, &last).isOk()) lasts.insert(it.key(), last);
    }
    return lasts;
  };
  std::function<void(QHash<int, quint64>)> done =
      [self = QPointer<Consumer>(this)](QHash<int, quint64> lasts) {
        if (!self) return;
        self->m_pausedCountsAsked = false;
        for (auto it = lasts.cbegin(); it != lasts.cend(); ++it) {
          ShardStatus& st = self->m_shards[it.key()].status;  // still paused, or not any more
          if (st.state == ShardState::SchemaPaused)
            st.wait.streamLast = it.value();
          else if (st.state == ShardState::Paused)
            st.pausedStreamLast = it.value();
        }
      };
  m_pausedCountsAsked = true;
  m_requests.run<QHash<int, quint64>>(std::move(work), std::move(done));
}

Result<int> Consumer::commitBatch(Batch& b) {
  const QString stream = m_config.streamName(b.shard);
  const qsizetype undecodable = b.dead.size();
  QHash<qsizetype, Status> poisoned;  // changes whose ROLLBACK clause ended a transaction
  for (;;) {
    auto txn = SqliteTxn::begin(m_db);
    if (!txn) return txn.status().withContext("apply");
    const auto lockedAt = std::chrono::steady_clock::now();
    // The convergence rule, decided inside the write transaction: with the write lock held,
    // the application cannot commit a change of these rows between the decision and the apply.
    QList<bool> apply(b.changes.size(), true);
    HL_RETURN_IF_ERROR(decide(b, &apply));
    auto result = m_applier.applyAll(b.changes, apply, poisoned);
    if (!result) return result.status().withContext("apply");
    if (result->endedTransactionAt >= 0) {  // run again without that change
      poisoned.insert(result->endedTransactionAt, result->outcomes.last());
      continue;
    }
    HL_RETURN_IF_ERROR(noteBirths(b, apply));
    b.dead.resize(undecodable);
    for (qsizetype i = 0; i < result->outcomes.size(); ++i) {
      if (result->outcomes[i].code() == Status::Code::kPoison)
        b.dead.append({b.origins[i].seq, result->outcomes[i].message(), b.origins[i].payload});
    }
    QList<DeadLetterInfo> letters;
    QList<ConflictInfo> conflicts;
    for (const DeadLetter& d : b.dead + b.lostInserts) {
      auto letter = m_state.addDeadLetter(stream, d.seq, d.reason, d.payload, d.lostInsert);
      if (!letter) return letter.status();
      letters << *letter;
    }
    for (const ConflictRecord& c : b.conflicts) {
      auto conflict = m_state.addConflict(c);
      if (!conflict) return conflict.status();
      conflicts << *conflict;
    }
    HL_RETURN_IF_ERROR(m_state.setPosition(stream, b.lastSeq));
    HL_RETURN_IF_ERROR(m_state.forgetOwnUpTo(b.shard, b.lastSeq));
    auto mark = m_collisions.newestChangeId();
    if (!mark) return mark.status();
    b.captureMark = *mark;
    HL_RETURN_IF_ERROR(txn->commit().withContext("apply"));
    adaptBatchLimit(int(b.changes.size()), std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::steady_clock::now() - lockedAt)
                                               .count());
    for (const QString& table : b.collisions) m_collisions.count(table);
    for (const QString& note : b.collisionNotes) qCWarning(lcApply).noquote() << note;
    for (const DeadLetterInfo& d : letters) emit event(EngineEvent::deadLettered(d));
    for (const ConflictInfo& c : conflicts) emit event(EngineEvent::conflictRecorded(c));
    return result->applied;
  }
}

void Consumer::adaptBatchLimit(int changes, int64_t heldUs) {
  if (changes <= 0) return;
  // What fits in kBatchTargetUs at this batch's cost per change; halfway there each time, so
  // that one slow transaction (a checkpoint, a busy machine) does not swing the size.
  const int64_t fits = kBatchTargetUs * changes / std::max<int64_t>(1, heldUs);
  m_batchLimit = int(std::clamp<int64_t>((int64_t(m_batchLimit) + fits) / 2, kMinBatch, kMaxBatch));
}

Status Consumer::decide(Batch& b, QList<bool>* apply) {
  b.conflicts.clear();
  b.collisions.clear();
  b.collisionNotes.clear();
  b.collided.clear();
  b.movedTo.clear();
  b.lostInserts.clear();
  HL_RETURN_IF_ERROR(findLosingInserts(b));
  for (qsizetype i : b.losing) (*apply)[i] = false;
  if (!m_publisher) return Status::ok();  // a node that does not publish has no own changes
  auto pending = m_publisher->pendingOwnRows(b.stamp);
  if (!pending) return pending.status();
  auto anyOwn = m_state.hasOwnChanges();  // most batches of a receiving node: none to look up
  if (!anyOwn) return anyOwn.status();
  const QString local = QStringLiteral("node %1").arg(m_config.nodeId);
  for (qsizetype i = 0; i < b.changes.size(); ++i) {
    const Change& c = b.changes[i];
    const Origin& origin = b.origins[i];
    const QByteArray& rowKey = origin.rowKey;
    if (rowKey.isEmpty()) continue;  // unknown table or incomplete key: the applier says poison
    if (b.losing.contains(i)) continue;
    // Our version of the row went to a fresh key earlier in this batch: the row at the key is
    // the other node's now, and its later changes apply.
    if (b.collided.value(rowKey, false)) continue;
    ConvergenceFacts facts;
    facts.remoteSeq = origin.seq;
    facts.seenSeq = seenSeqOf(origin.seenSeq);
    facts.pending = b.movedTo.contains(rowKey) ? OwnPending::kNotSent
                                               : pending->value(rowKey, OwnPending::kNone);
    if (*anyOwn) {
      auto own = m_state.ownSeq(rowKey);
      if (!own) return own.status();
      facts.ownSeq = *own;
    }
    // After a restore this node's own messages are replayed (docs/snapshots.md#how): one that
    // loses to a newer own change of the row is an old version of our own row, not a conflict.
    const bool ownReplay = c.fromNodeId == m_config.nodeId;
    const QString remote = QStringLiteral("node %1 (%2 seq %3)")
                               .arg(c.fromNodeId)
                               .arg(m_config.streamName(b.shard))
                               .arg(facts.remoteSeq);
    switch (decideConvergence(facts)) {
      case Verdict::kWait:
        // Our change of this row is in flight and may have landed before or after this
        // message: decide when its ack is in (the publisher's next finished round).
        b.waitForPublisher = true;
        return Status::unavailable(QStringLiteral("waiting for the ack of an own change"));
      case Verdict::kSkipLocalNewer: {
        (*apply)[i] = false;
        if (ownReplay) break;
        if (c.type != ChangeType::kDelete && !b.collided.contains(rowKey)) {
          const TableInfo* table = m_catalog.find(c.table);  // known: the change has a row key
          auto collided = m_collisions.isCollision(*table, origin.key, rowKey, b.shard,
                                                   facts.remoteSeq, c.fromNodeId, m_config.nodeId);
          if (!collided) return collided.status();
          if (*collided) {
            HL_RETURN_IF_ERROR(resolveCollision(b, i, remote, facts.ownSeq, apply));
            break;
          }
        }
        const QString winner = local + (facts.pending == OwnPending::kNotSent
                                            ? QStringLiteral(" (pending)")
                                            : QStringLiteral(" (seq %1)").arg(facts.ownSeq));
        auto record = conflictRecord(c, origin.key, winner, remote);
        if (!record) return record.status();
        if (*record) b.conflicts << **record;
        break;
      }
      case Verdict::kApplyOverLocal: {
        if (ownReplay) break;
        auto record = conflictRecord(c, origin.key, remote,
                                     local + QStringLiteral(" (seq %1)").arg(facts.ownSeq));
        if (!record) return record.status();
        if (*record) b.conflicts << **record;
        break;
      }
      case Verdict::kApply:
        break;
    }
  }
  return Status::ok();
}

Status Consumer::resolveCollision(Batch& b, qsizetype i, const QString& remote, quint64 ownSeq,
                                  QList<bool>* apply) {
  const Change& c = b.changes[i];
  const Origin& origin = b.origins[i];
  const TableInfo* table = m_catalog.find(c.table);
  const QString local = QStringLiteral("node %1").arg(m_config.nodeId);
  auto ours = m_rows.read(*table, origin.key);
  if (!ours) return ours.status().withContext("insert collision");
  ConflictRecord record{table->name,
                        rowText(origin.key),
                        QString(),
                        QString(),
                        ours->has_value() ? rowText(**ours) : QString(),
                        rowText(c.row),
                        true};
  b.collisions << table->name;
  const CollisionPolicy policy = m_collisions.policyOf(table->name);
  // keep-both and dead-letter: the other node's row takes the key here as on every node, and
  // this node's changes of the key are settled (Collisions::settleOwnChanges()).
  const auto yieldKey = [&]() -> Status {
    auto ids = m_collisions.pendingChangesOf(*table, origin.key);
    if (!ids) return ids.status();
    const bool sent = ownSeq > 0 || (m_publisher && m_publisher->sentAny(*ids));
    HL_RETURN_IF_ERROR(m_collisions.settleOwnChanges(*table, origin.key, sent));
    (*apply)[i] = true;
    b.collided.insert(origin.rowKey, true);
    record.winner = remote + QStringLiteral(" keeps the key (insert collision)");
    return Status::ok();
  };
  if (policy == CollisionPolicy::kDeadLetter && ours->has_value()) {
    Change lost;
    lost.fromNodeId = m_config.nodeId;
    lost.type = ChangeType::kInsert;
    lost.table = table->name;
    lost.row = **ours;
    const QString reason =
        QStringLiteral(
            "insert collision in %1 at %2: the row of %3 keeps the key; this node's row is kept "
            "here, and Retry inserts it under a new key (dead-letter)")
            .arg(table->name, record.rowKey, remote);
    b.lostInserts.append({origin.seq, reason, encodeMessage(lost, false), true});
    HL_RETURN_IF_ERROR(yieldKey());
    record.loser = local + QStringLiteral(" (its row kept as a dead letter)");
    b.collisionNotes << reason;
    b.conflicts << record;
    return Status::ok();
  }
  if (policy == CollisionPolicy::kKeepBoth) {
    auto moved = m_collisions.moveToFreshKey(*table, origin.key);
    if (moved) {
      HL_RETURN_IF_ERROR(yieldKey());
      b.movedTo.insert(rowKeyOf(*table, {{table->keyColumns().first(), *moved}}));
      const QString newKey = table->keyColumns().first() + '=' + moved->toDebugString();
      record.loser = local + QStringLiteral(" (its row moved to %1)").arg(newKey);
      b.collisionNotes << QStringLiteral(
                              "insert collision in %1 at %2: the row of %3 keeps the key; this "
                              "node's row moved to %4 (keep-both)")
                              .arg(table->name, record.rowKey, remote, newKey);
      b.conflicts << record;
      return Status::ok();
    }
    b.collisionNotes << QStringLiteral(
                            "insert collision in %1 at %2: this node's row could not move to a "
                            "fresh key (%3); the later insert keeps the key")
                            .arg(table->name, record.rowKey, moved.status().message());
  }
  (*apply)[i] = false;  // last-writer-wins: ours is later in the stream and keeps the key
  b.collided.insert(origin.rowKey, false);
  record.winner =
      local + (ownSeq > 0 ? QStringLiteral(" (seq %1)").arg(ownSeq) : QStringLiteral(" (pending)"));
  record.loser = remote + QStringLiteral(" (insert collision: its row is lost)");
  b.collisionNotes << QStringLiteral(
                          "insert collision in %1 at %2: the insert of %3 is lost; this node's "
                          "later insert keeps the key (last-writer-wins)")
                          .arg(table->name, record.rowKey, remote);
  b.conflicts << record;
  return Status::ok();
}

Status Consumer::findLosingInserts(Batch& b) {
  b.losing.clear();
  // The rows' first writes in the stream as this batch goes (std::nullopt: deleted in it).
  QHash<QByteArray, std::optional<ReplicationState::Birth>> births;
  for (qsizetype i = 0; i < b.changes.size(); ++i) {
    const Change& c = b.changes[i];
    const Origin& origin = b.origins[i];
    if (origin.rowKey.isEmpty()) continue;
    if (c.type == ChangeType::kDelete) {
      births.insert(origin.rowKey, std::nullopt);
      continue;
    }
    auto known = births.constFind(origin.rowKey);
    std::optional<ReplicationState::Birth> first;
    if (known != births.constEnd()) {
      first = *known;
    } else {
      auto stored = m_state.born(origin.rowKey);
      if (!stored) return stored.status();
      first = *stored;
    }
    // A birth later in the stream than this change (this node's own insert, acked before the
    // consumer got here) is not before it: this change is the row's first write.
    if (first && first->seq > origin.seq) first = std::nullopt;
    bool ok = false;
    const quint64 captured = origin.captureSeq.toULongLong(&ok);
    if (c.type == ChangeType::kInsert && ok && first && first->origin != c.fromNodeId &&
        first->seq > captured && c.fromNodeId != m_config.nodeId) {
      b.losing.insert(i);  // its sender had not seen the earlier insert: it moves its row
      qCDebug(lcApply).noquote() << QStringLiteral(
                                        "%1: the insert at seq %2 of node %3 lost a collision to "
                                        "seq %4 of node %5 (%6); skipped")
                                        .arg(c.table)
                                        .arg(origin.seq)
                                        .arg(c.fromNodeId)
                                        .arg(first->seq)
                                        .arg(first->origin)
                                        .arg(rowText(origin.key));
      continue;
    }
    if (!first) births.insert(origin.rowKey, ReplicationState::Birth{origin.seq, c.fromNodeId});
  }
  return Status::ok();
}

Status Consumer::noteBirths(const Batch& b, const QList<bool>& apply) {
  for (qsizetype i = 0; i < b.changes.size(); ++i) {
    const QByteArray& rowKey = b.origins[i].rowKey;
    if (rowKey.isEmpty() || b.losing.contains(i)) continue;
    const Change& c = b.changes[i];
    if (c.type != ChangeType::kDelete) {
      HL_RETURN_IF_ERROR(m_state.noteBorn(rowKey, b.origins[i].seq, c.fromNodeId));
    } else if (apply[i]) {
      HL_RETURN_IF_ERROR(m_state.forgetBorn(rowKey));
    }
  }
  return Status::ok();
}

Result<std::optional<ConflictRecord>> Consumer::conflictRecord(const Change& c, const RowImage& key,
                                                               const QString& winner,
                                                               const QString& loser) {
  const TableInfo* table = m_catalog.find(c.table);  // known: the change has a row key
  auto local = m_rows.read(*table, key);
  if (!local) return local.status().withContext("conflict record");
  if (*local && sameRow(**local, c.row)) return std::optional<ConflictRecord>();
  return std::optional<ConflictRecord>(
      ConflictRecord{table->name, rowText(key), winner, loser,
                     local->has_value() ? rowText(**local) : QString(), rowText(c.row)});
}

Status Consumer::retryDeadLetter(qint64 id, QString* done) {
  QString stream;
  bool lostInsert = false;
  auto payload = m_state.deadLetterPayload(id, &stream, &lostInsert);
  if (!payload) return payload.status();
  auto change = decodeMessage(*payload, m_config.replicationLog.maxMessageBytes);
  if (!change) {
    HL_RETURN_IF_ERROR(m_state.updateDeadLetterReason(id, change.status().message()));
    return change.status();
  }
  if (lostInsert) return reinsertLostRow(id, *change, done);
  *done = QStringLiteral("dead letter %1 applied").arg(id);
  Status outcome;
  {
    auto txn = SqliteTxn::begin(m_db);
    if (!txn) return txn.status().withContext("apply");
    auto result = m_applier.applyAll({*change}, {true});
    if (!result) return result.status().withContext("apply");
    outcome = result->outcomes.value(0);
    if (outcome.isOk()) {
      HL_RETURN_IF_ERROR(m_state.deleteDeadLetter(id));
      HL_RETURN_IF_ERROR(txn->commit().withContext("apply"));
      return Status::ok();
    }
  }  // a poison outcome left nothing to keep: rolled back
  HL_RETURN_IF_ERROR(m_state.updateDeadLetterReason(id, outcome.message()));
  return outcome;
}

Status Consumer::reinsertLostRow(qint64 id, const Change& lost, QString* done) {
  const TableInfo* table = m_catalog.find(lost.table);
  Result<Value> key = Status::notFound("no table " + lost.table + " any more");
  {
    auto txn = SqliteTxn::begin(m_db);
    if (!txn) return txn.status().withContext("retry");
    // An ordinary local insert: captured, and published to every node.
    if (table) key = m_collisions.insertUnderFreshKey(*table, lost.row);
    if (key) {
      HL_RETURN_IF_ERROR(m_state.deleteDeadLetter(id));
      HL_RETURN_IF_ERROR(txn->commit().withContext("retry"));
      *done = QStringLiteral(
                  "dead letter %1: the row that lost an insert collision in %2 is inserted again "
                  "at %3=%4")
                  .arg(id)
                  .arg(lost.table, table->keyColumns().first(), key->toDebugString());
      qCInfo(lcApply).noquote() << *done;
      if (m_publisher) m_publisher->wake();
      return Status::ok();
    }
  }
  HL_RETURN_IF_ERROR(m_state.updateDeadLetterReason(id, key.status().message()));
  return key.status();
}

Status Consumer::writeSeqMap(bool synced) {
  QHash<QString, quint64> positions;
  for (int shard = 1; shard < m_shards.size(); ++shard)
    positions.insert(m_config.streamName(shard), applied(shard));
  return ReplicationState::writeSeqMap(m_config.effectiveSeqMapPath(), positions, synced);
}

}  // namespace hl
