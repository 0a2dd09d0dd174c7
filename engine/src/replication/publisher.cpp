#include "replication/publisher.h"

#include <QDateTime>
#include <QLoggingCategory>

#include "cdc/change_log.h"
#include "replication/state_store.h"
#include "schema/catalog.h"
#include "wire/cbor_codec.h"
#include "wire/shard.h"

Q_LOGGING_CATEGORY(lcPublish, "hl.publish")

namespace hl {
namespace {
// Room for the headers next to the payload when comparing with the server's max_payload.
constexpr int64_t kHeaderAllowance = 256;
constexpr int kMaxBackoffMs = 5000;
}  // namespace

Publisher::Publisher(const Config& config, SqliteDb& db, ChangeLog& log, SchemaCatalog& catalog,
                     ReplicationState& state, NatsClient& nats, std::function<quint64(int)> appliedSeq,
                     QObject* parent)
    : QObject(parent), m_config(config), m_db(db), m_log(log), m_catalog(catalog), m_state(state),
      m_nats(nats), m_appliedSeq(std::move(appliedSeq)), m_retry(this) {
  m_retry.setSingleShot(true);
  connect(&m_retry, &QTimer::timeout, this, &Publisher::startRound);
}

void Publisher::setConnected(bool connected) {
  m_connected = connected;
  if (connected) wake();
}

void Publisher::wake() {
  if (m_roundActive || m_retry.isActive()) {
    m_dirty = true;
    return;
  }
  startRound();
}

void Publisher::startRound() {
  if (!m_connected || m_roundActive) return;
  m_dirty = false;
  auto pending = m_log.readPending(m_config.scanMaxChanges, m_cursor);
  if (!pending) {
    qCWarning(lcPublish).noquote() << "reading pending changes failed:" << pending.status().message();
    m_backoffMs = std::min(kMaxBackoffMs, std::max(100, m_backoffMs * 2));
    m_retry.start(m_backoffMs);
    return;
  }
  if (pending->isEmpty()) return;
  const int64_t maxPayload = m_nats.maxPayload();
  const QByteArray nodePrefix = QByteArray::number(quint64(m_config.nodeId)) + '-';
  m_roundActive = true;
  m_roundStartCursor = m_cursor;
  m_results.clear();
  m_inFlight.clear();
  m_answered.clear();
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
      const QString reason = QStringLiteral("message of %1 bytes exceeds the server's max_payload of %2 bytes")
                                 .arg(payload.size()).arg(maxPayload);
      qCWarning(lcPublish).noquote() << "change" << p.id << "of" << p.table << "not sent:" << reason;
      if (Status s = m_log.markFailed(p.id, reason); !s.isOk())
        qCWarning(lcPublish).noquote() << "marking change failed:" << s.message();
      ++m_stats.oversized;
      continue;
    }
    const int shard = shardFor(p.table, p.key, m_config.replicationLog.shards);
    const QByteArray msgId = nodePrefix + QByteArray::number(p.id);
    const QByteArray seen = QByteArray::number(m_appliedSeq(shard));
    const Status s = m_nats.publishAsync(m_config.subjectName(shard), payload, p.id,
                                         {{"Nats-Msg-Id", msgId}, {"Hl-Seen-Seq", seen}});
    if (!s.isOk()) {  // not sent: a result of our own so the round completes
      m_results.append({p.id, false, false, 0, s.message()});
      continue;
    }
    m_inFlight.insert(p.id, {shard, shardKeyBytes(p.table, p.key)});
  }
  m_cursor = std::max(m_cursor, pending->last().id);
  if (m_inFlight.isEmpty()) finishRound();
}

void Publisher::onPublished(const PublishResult& result) {
  if (!m_inFlight.contains(result.token) || m_answered.contains(result.token)) return;  // late
  m_answered.insert(result.token);
  m_results.append(result);
  if (m_answered.size() == m_inFlight.size()) finishRound();
}

void Publisher::finishRound() {
  QList<int64_t> acked;
  int64_t firstFailed = 0;
  QString firstError;
  auto txn = SqliteTxn::begin(m_db);
  Status s = txn.ok() ? Status::ok() : txn.status();
  for (const PublishResult& r : m_results) {
    if (!r.ok) {
      ++m_stats.failedPublishes;
      if (firstFailed == 0 || r.token < firstFailed) {
        firstFailed = r.token;
        firstError = r.error;
      }
      continue;
    }
    acked << r.token;
    const InFlight f = m_inFlight.value(r.token);
    if (s.isOk() && !f.key.isEmpty()) s = m_state.recordOwn(f.key, f.shard, r.streamSeq);
  }
  if (s.isOk()) s = txn->commit();
  if (s.isOk()) s = m_log.markPublished(acked);
  m_roundActive = false;
  if (!s.isOk()) {
    // Not marked: the changes are read and sent again (their message ids make it harmless).
    qCWarning(lcPublish).noquote() << "recording published changes failed:" << s.message();
    m_cursor = acked.isEmpty() ? m_cursor : std::min<int64_t>(m_cursor, acked.first() - 1);
    firstFailed = firstFailed ? firstFailed : (acked.isEmpty() ? 0 : acked.first());
  }
  m_stats.published += s.isOk() ? acked.size() : 0;
  if (!acked.isEmpty() && s.isOk()) m_stats.lastPublishedMs = QDateTime::currentMSecsSinceEpoch();
  if (m_config.cleanupIntervalMs == 0) (void)m_log.cleanup();
  const int failed = int(m_results.size() - acked.size());
  m_inFlight.clear();
  m_answered.clear();
  m_results.clear();
  emit roundFinished(int(acked.size()), failed);
  if (firstFailed != 0) {
    // Read again from the first failed change, with its current row, after a backoff.
    m_cursor = std::min<int64_t>(m_cursor, firstFailed - 1);
    m_backoffMs = std::min(kMaxBackoffMs, std::max(100, m_backoffMs * 2));
    qCWarning(lcPublish).noquote() << failed << "publishes failed (first:" << firstError << "), retrying in"
                                   << m_backoffMs << "ms";
    m_retry.start(m_backoffMs);
    return;
  }
  m_backoffMs = 0;
  startRound();  // more may be pending: a round that finds nothing ends at once
}

Result<QSet<QByteArray>> Publisher::pendingKeys() {
  // Every change at or below the floor was published or failed; above it, the pending ones
  // (state NULL) are in flight or not read yet.
  auto pending = m_log.pendingKeysAfter(m_roundActive ? m_roundStartCursor : m_cursor);
  if (!pending) return pending.status();
  QSet<QByteArray> keys;
  for (const auto& [table, key] : *pending) keys.insert(shardKeyBytes(table, key));
  return keys;
}

}  // namespace hl
