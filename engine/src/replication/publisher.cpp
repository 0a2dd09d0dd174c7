#include "replication/publisher.h"

#include <QDateTime>
#include <QLoggingCategory>

#include <chrono>
#include <optional>

#include "cdc/change_log.h"
#include "replication/collisions.h"
#include "replication/shard_positions.h"
#include "replication/state_store.h"
#include "schema/catalog.h"
#include "wire/cbor_codec.h"
#include "wire/shard.h"

Q_LOGGING_CATEGORY(lcPublish, "hl.publish")

namespace hl {
namespace {
// Room for the headers next to the payload when comparing with the server's max_payload.
constexpr int64_t kHeaderAllowance = 256;
constexpr int kPublishMaxBackoffMs = 5000;
// Work per transaction that records acked changes (docs/replication.md#write-lock).
constexpr auto kMarkTarget = std::chrono::microseconds(1000);
}  // namespace

Publisher::Publisher(const Config& config, SqliteDb& db, ChangeLog& log, SchemaCatalog& catalog,
                     ReplicationState& state, NatsClient& nats, const ShardPositions& positions,
                     const Collisions* collisions, QObject* parent)
    : QObject(parent),
      m_config(config),
      m_db(db),
      m_log(log),
      m_catalog(catalog),
      m_state(state),
      m_nats(nats),
      m_positions(positions),
      m_collisions(collisions),
      m_retry(this),
      m_roundWatch(this),
      m_recordRetry(this) {
  m_retry.setSingleShot(true);
  m_recordRetry.setSingleShot(true);
  connect(&m_recordRetry, &QTimer::timeout, this, &Publisher::recordDeferred);
  connect(&m_retry, &QTimer::timeout, this, &Publisher::startRounds);
  m_roundWatch.setInterval(kRoundWatchMs);
  connect(&m_roundWatch, &QTimer::timeout, this, &Publisher::expireSilentRounds);
  m_roundWatch.start();
  if (auto seqs = m_log.highestPublishedSeqs(); seqs) m_highestAcked = *seqs;
}

void Publisher::setConnected(bool connected) {
  m_connected = connected;
  if (connected) wake();
}

void Publisher::wake() {
  startRounds();
}

void Publisher::setPaused(bool paused) {
  m_paused = paused;
  if (!paused) wake();
}

void Publisher::rewindTo(int64_t id) {
  m_cursor = std::min<int64_t>(m_cursor, id - 1);
  wake();
}

void Publisher::republish(const QList<int64_t>& ids) {
  if (ids.isEmpty()) return;
  for (int64_t id : ids) m_attempted.insert(id);
  rewindTo(ids.first());
}

void Publisher::startRounds() {
  while (m_connected && !m_paused && m_firstFailed == 0 && !m_retry.isActive() &&
         int(m_rounds.size()) < kMaxRounds && m_unrecorded.size() < kMaxUnrecorded) {
    if (!startRound()) break;
  }
}

bool Publisher::startRound() {
  auto pending = m_log.readPending(m_config.scanMaxChanges, m_cursor);
  if (!pending) {
    qCWarning(lcPublish).noquote()
        << "reading pending changes failed:" << pending.status().message();
    m_backoffMs = std::min(kPublishMaxBackoffMs, std::max(100, m_backoffMs * 2));
    m_retry.start(m_backoffMs);
    return false;
  }
  if (pending->isEmpty()) return false;
  const int64_t maxPayload = m_nats.maxPayload();
  const int number = m_nextRound++;
  Round& round = m_rounds[number];
  round.startCursor = m_cursor;
  round.started.start();
  for (const PendingChange& p : *pending) {
    Change c;
    c.fromNodeId = m_config.nodeId;
    c.id = p.id;
    c.type = p.type;
    c.table = p.table;
    c.row = p.row;
    c.schemaHash = m_catalog.schemaHash();
    const QByteArray payload = encodeMessage(c, m_config.replicationLog.compress);
    if (maxPayload > 0 && payload.size() + kHeaderAllowance > maxPayload) {
      const QString reason =
          QStringLiteral("message of %1 bytes exceeds the server's max_payload of %2 bytes")
              .arg(payload.size())
              .arg(maxPayload);
      qCWarning(lcPublish).noquote()
          << "change" << p.id << "of" << p.table << "not sent:" << reason;
      if (Status s = m_log.markFailed(p.id, reason); !s.isOk())
        qCWarning(lcPublish).noquote() << "marking change failed:" << s.message();
      ++m_stats.oversized;
      continue;
    }
    const int shard = shardOfKeyBytes(p.rowKey, m_config.replicationLog.shards);
    const QByteArray msgId = messageId(m_config.nodeId, p.id);
    const QByteArray seen = QByteArray::number(m_positions.applied(shard));
    round.inFlight.insert(p.id, {shard, p.rowKey, p.type, p.assigned});
    m_roundOf.insert(p.id, number);
    std::vector<std::pair<QByteArray, QByteArray>> headers{{"Nats-Msg-Id", msgId},
                                                           {"Hl-Seen-Seq", seen}};
    // docs/replication.md#insert-collisions: what the node had applied when it captured the
    // insert, for every node to tell a colliding insert (inserts of keys SQLite assigned, in
    // keep-both and dead-letter tables).
    if (p.type == ChangeType::kInsert && m_collisions &&
        m_collisions->hasCaptureHeader(p.table, p.assigned)) {
      if (const std::optional<quint64> captured = m_collisions->captureSeq(p.id, shard))
        headers.emplace_back("Hl-Capture-Seq", QByteArray::number(*captured));
    }
    const Status s = m_nats.publishAsync(m_config.subjectName(shard), payload, headers);
    if (!s.isOk()) round.results.append({p.id, false, false, 0, s.message()});  // not sent
  }
  m_cursor = std::max(m_cursor, pending->last().id);
  if (round.results.size() == round.inFlight.size()) finishRound(number);
  return true;
}

void Publisher::onPublished(const PublishResult& result) {
  const auto it = m_roundOf.constFind(result.token);
  if (it == m_roundOf.constEnd()) return;  // a late or repeated answer
  const int number = *it;
  m_roundOf.erase(it);
  Round& round = m_rounds[number];
  round.results.append(result);
  if (round.results.size() == round.inFlight.size()) finishRound(number);
}

// Every async publish is answered: an ack, or a failure after its 5 s wait. Should an answer
// never come (nats.c losing one around a reconnect), its round would never end, and with
// kMaxRounds such rounds the publisher would stop for good without a word. A change without an
// answer after kRoundAnswerMs counts as failed: sent again (the same Nats-Msg-Id, so a duplicate
// if it landed) and "ack lost" for the convergence rule meanwhile (docs/replication.md#publishing).
void Publisher::expireSilentRounds() {
  QList<int> expired;
  for (const auto& [number, round] : m_rounds)
    if (round.started.isValid() && round.started.elapsed() >= kRoundAnswerMs) expired << number;
  for (int number : expired) {
    const auto it = m_rounds.find(number);
    if (it == m_rounds.end()) continue;
    QList<qint64> silent;
    for (auto f = it->second.inFlight.cbegin(); f != it->second.inFlight.cend(); ++f)
      if (m_roundOf.value(f.key()) == number) silent << f.key();
    qCWarning(lcPublish).noquote()
        << QStringLiteral("publish round %1: %2 change(s) got no answer in %3 s; counted as failed")
               .arg(number)
               .arg(silent.size())
               .arg(kRoundAnswerMs / 1000);
    const QString error =
        QStringLiteral("no answer from the server in %1 s").arg(kRoundAnswerMs / 1000);
    for (qint64 token : silent) onPublished({token, false, false, 0, error});
  }
}

Status Publisher::recordAcks(QList<Unrecorded>* todo, QList<int64_t>* acked) {
  // Each acked change is recorded (its own stream position, its mark) in one transaction with
  // its mark; a transaction ends after kMarkTarget of work and the next one goes on, so that
  // an application writing at the same moment waits little (docs/replication.md#write-lock).
  while (!todo->isEmpty()) {
    // A short wait for the write lock (an application's commit under way), then the acks wait
    // in memory and the engine's thread goes on publishing and applying instead of waiting up
    // to the usual 200 ms; tried again after 1 ms, doubling up to 100 ms (recordOrDefer()).
    // Against an application that writes without a pause, 2 ms and up to 500 ms starved
    // the recording (a restore waiting for every change to be recorded gave up).
    m_db.setBusyTimeout(kRecordBusyMs);
    auto txn = SqliteTxn::begin(m_db);
    m_db.setBusyTimeout(SqliteDb::Options{}.busyTimeoutMs);
    if (!txn) return txn.status();
    const auto lockedAt = std::chrono::steady_clock::now();
    QList<ChangeLog::Acked> chunk;  // kept with its ack until a snapshot or the horizon covers
                                    // it (docs/replication.md#durability)
    qsizetype n = 0;
    while (n < todo->size()) {
      const Unrecorded& u = (*todo)[n++];
      chunk.append({u.result.token, u.flight.shard, u.result.streamSeq, u.flight.assigned});
      HL_RETURN_IF_ERROR(m_state.recordOwn(u.flight.key, u.flight.shard, u.result.streamSeq));
      // The row exists in the replicated history from here on, or no longer does.
      HL_RETURN_IF_ERROR(u.flight.type == ChangeType::kDelete
                             ? m_state.forgetBorn(u.flight.key)
                             : m_state.noteBorn(u.flight.key, u.result.streamSeq, m_config.nodeId));
      if (std::chrono::steady_clock::now() - lockedAt >= kMarkTarget) break;
    }
    HL_RETURN_IF_ERROR(m_log.markAcked(chunk));  // in the same transaction
    HL_RETURN_IF_ERROR(txn->commit());
    for (const ChangeLog::Acked& a : chunk) {
      *acked << a.id;
      m_attempted.remove(a.id);
    }
    todo->remove(0, n);
  }
  return Status::ok();
}

QList<int64_t> Publisher::recordOrDefer() {
  QList<Unrecorded> todo = std::move(m_unrecorded);
  m_unrecorded.clear();
  QList<int64_t> acked;  // recorded and committed
  const Status s = recordAcks(&todo, &acked);
  if (!acked.isEmpty()) {
    m_stats.published += acked.size();
    m_stats.lastPublishedMs = QDateTime::currentMSecsSinceEpoch();
  }
  if (todo.isEmpty()) {
    m_recordDelayMs = 0;
    return acked;
  }
  // In the stream, with a known ack, but not recorded: the database was locked (an application
  // writing without a pause; SQLite has no queue for the write lock) or failed. Recorded again
  // soon, never sent again; meanwhile each still counts as sent with its ack lost
  // (OwnPending::kLostAck, marked in m_attempted when it joined m_unrecorded in finishRound()),
  // so a remote change of its row waits for the recording. Said once per wait (m_recordDelayMs
  // is 0 between waits).
  if (m_recordDelayMs == 0 && s.code() != Status::Code::kBusy)
    qCWarning(lcPublish).noquote() << "recording published changes failed:" << s.message();
  else if (m_recordDelayMs == 0)
    qCInfo(lcPublish).noquote() << QStringLiteral(
                                       "the acks of %1 published change(s) wait for the database "
                                       "(locked by another connection); not sent again")
                                       .arg(todo.size());
  m_unrecorded = std::move(todo);
  m_recordDelayMs = std::min(kMaxRecordDelayMs, std::max(1, m_recordDelayMs * 2));
  m_recordRetry.start(m_recordDelayMs);
  return acked;
}

void Publisher::recordDeferred() {
  if (m_unrecorded.isEmpty()) return;
  const QList<int64_t> acked = recordOrDefer();
  if (!acked.isEmpty()) {
    emit roundFinished(int(acked.size()), 0);
    startRounds();  // held while too many waited
  }
}

void Publisher::finishRound(int number) {
  Round round = std::move(m_rounds[number]);
  m_rounds.erase(number);
  for (auto it = round.inFlight.cbegin(); it != round.inFlight.cend(); ++it)
    m_roundOf.remove(it.key());
  int failed = 0;
  QList<Unrecorded> todo;
  for (const PublishResult& r : round.results) {
    if (!r.ok) {
      ++m_stats.failedPublishes;
      ++failed;
      if (m_firstFailed == 0 || r.token < m_firstFailed) {
        m_firstFailed = r.token;
        m_firstError = r.error;
      }
      m_attempted.insert(r.token);  // it may have landed all the same (a lost ack)
      continue;
    }
    const InFlight f = round.inFlight.value(r.token);
    if (r.streamSeq > m_highestAcked.value(f.shard, 0)) m_highestAcked.insert(f.shard, r.streamSeq);
    todo.append({r, f});
  }
  // Acks are recorded together: once kRecordBatch wait, else kRecordCoalesceMs after the first
  // (many small rounds, one write transaction, so that an application writing meanwhile
  // waits for the lock less often; docs/replication.md#write-lock). Until then each counts as
  // sent with its ack not recorded (OwnPending::kLostAck), as when the database is locked.
  for (const Unrecorded& u : todo) m_attempted.insert(u.result.token);
  m_unrecorded += todo;
  QList<int64_t> acked;
  if (m_unrecorded.size() >= kRecordBatch)
    acked = recordOrDefer();
  else if (!m_unrecorded.isEmpty() && !m_recordRetry.isActive())
    m_recordRetry.start(kRecordCoalesceMs);
  if (m_config.cleanupIntervalMs == 0) (void)m_log.cleanup();
  emit roundFinished(int(acked.size()), failed);

  if (m_firstFailed != 0) {
    if (!m_rounds.empty()) return;  // wait until every round in flight has ended
    // Read again from the first failed change, with its current row, after a backoff.
    m_cursor = std::min<int64_t>(m_cursor, m_firstFailed - 1);
    m_backoffMs = std::min(kPublishMaxBackoffMs, std::max(100, m_backoffMs * 2));
    qCWarning(lcPublish).noquote()
        << "publishing failed (" << m_firstError << "); retrying from change" << m_firstFailed
        << "in" << m_backoffMs << "ms";
    m_firstFailed = 0;
    m_retry.start(m_backoffMs);
    return;
  }
  if (m_rounds.empty()) m_backoffMs = 0;
  startRounds();
}

bool Publisher::sentAny(const QList<int64_t>& ids) const {
  for (int64_t id : ids) {
    if (m_attempted.contains(id)) return true;
    for (const auto& [number, round] : m_rounds)
      if (round.inFlight.contains(id)) return true;
  }
  return false;
}

int64_t Publisher::settledUpTo() const {
  int64_t floor = m_cursor;
  for (const auto& [number, round] : m_rounds) floor = std::min(floor, round.startCursor);
  if (m_firstFailed != 0) floor = std::min(floor, m_firstFailed - 1);
  for (const Unrecorded& u : m_unrecorded) floor = std::min<int64_t>(floor, u.result.token - 1);
  return floor;
}

Result<QHash<QByteArray, OwnPending>> Publisher::pendingOwnRows(int stamp) {
  // Above the floor, the pending ones (state NULL) are in flight, acked but not recorded, or
  // not sent yet.
  auto pending = m_log.pendingKeysAfter(settledUpTo());
  if (!pending) return pending.status();
  QHash<QByteArray, int64_t> latest;  // row -> its newest pending change
  QSet<int64_t> stillPending;
  for (const ChangeLog::PendingKey& p : *pending) {
    latest.insert(p.rowKey, p.id);
    stillPending.insert(p.id);
  }
  m_attempted.intersect(stillPending);  // the others were published or dropped since
  QHash<QByteArray, OwnPending> rows;
  rows.reserve(latest.size());
  for (auto it = latest.cbegin(); it != latest.cend(); ++it) {
    int round = 0;
    for (const auto& [number, r] : m_rounds) {
      if (r.inFlight.contains(it.value())) {
        round = number;
        break;
      }
    }
    OwnPending state = OwnPending::kNotSent;  // not sent yet, or sent after the message arrived
    if (round != 0 && round <= stamp)
      state = OwnPending::kInFlight;
    else if (m_attempted.contains(it.value()))
      // Its failed attempt may have landed before the message, also while a retry sent after
      // the message arrived is in flight: the retry's ack tells where (the first position).
      state = OwnPending::kLostAck;
    rows.insert(it.key(), state);
  }
  return rows;
}

}  // namespace hl
