#include "replication/consumer.h"

#include <QDateTime>
#include <QLoggingCategory>

#include "replication/applier.h"
#include "replication/publisher.h"
#include "replication/state_store.h"
#include "schema/catalog.h"
#include "wire/cbor_codec.h"
#include "wire/shard.h"

Q_LOGGING_CATEGORY(lcApply, "hl.apply")

namespace hl {
namespace {
constexpr int kMaxBatch = 2000;
constexpr int kSeqMapIntervalMs = 200;
constexpr int kPositionIntervalMs = 200;

QString rowText(const RowImage& row) {
  QStringList parts;
  for (const auto& [k, v] : row) parts << k + '=' + v.toDebugString();
  return parts.join(", ");
}
}  // namespace

Consumer::Consumer(const Config& config, SqliteDb& db, SchemaCatalog& catalog, Applier& applier,
                   ReplicationState& state, NatsClient& nats, Publisher* publisher, QObject* parent)
    : QObject(parent), m_config(config), m_db(db), m_catalog(catalog), m_applier(applier), m_state(state),
      m_nats(nats), m_publisher(publisher), m_drainTimer(this), m_retryTimer(this), m_seqMapTimer(this), m_positionTimer(this) {
  m_shards.resize(config.replicationLog.shards + 1);
  if (m_publisher) connect(m_publisher, &Publisher::roundFinished, this, &Consumer::onPublisherRoundFinished);
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
  m_seqMapTimer.setSingleShot(true);
  m_seqMapTimer.setInterval(kSeqMapIntervalMs);
  connect(&m_seqMapTimer, &QTimer::timeout, this, [this] {
    if (Status s = writeSeqMap(); !s.isOk()) qCWarning(lcApply).noquote() << s.message();
  });
}

Consumer::~Consumer() {
  (void)flushPositions();
  if (m_seqMapTimer.isActive()) (void)writeSeqMap();
}

Status Consumer::flushPositions() {
  QList<int> dirty;
  for (int shard = 1; shard < m_shards.size(); ++shard)
    if (m_shards[shard].positionDirty) dirty << shard;
  if (dirty.isEmpty()) return Status::ok();
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status();
  for (int shard : dirty) {
    HL_RETURN_IF_ERROR(m_state.setPosition(m_config.streamName(shard), m_shards[shard].status.applied));
    HL_RETURN_IF_ERROR(m_state.forgetOwnUpTo(shard, m_shards[shard].status.applied));
  }
  HL_RETURN_IF_ERROR(txn->commit());
  for (int shard : dirty) m_shards[shard].positionDirty = false;
  if (!m_seqMapTimer.isActive()) m_seqMapTimer.start();
  return Status::ok();
}

quint64 Consumer::applied(int shard) const {
  return shard > 0 && shard < m_shards.size() ? m_shards[shard].status.applied : 0;
}

qint64 Consumer::lagMessages(int shard) const {
  const ShardStatus& s = m_shards[shard].status;
  return qint64(s.received > s.applied ? s.received - s.applied : 0) + qint64(s.streamPending);
}

double Consumer::lagSeconds(int shard) const {
  const Shard& sh = m_shards[shard];
  if (sh.queue.isEmpty()) return 0;
  const double oldestMs = double(sh.queue.first().timestampNs) / 1e6;
  return std::max(0.0, (double(QDateTime::currentMSecsSinceEpoch()) - oldestMs) / 1000.0);
}

void Consumer::setState(int shard, ShardState state, const QString& reason) {
  ShardStatus& s = m_shards[shard].status;
  if (s.state == state && s.lastError == reason) return;
  s.state = state;
  if (!reason.isEmpty()) s.lastError = reason;
  emit shardStateChanged(shard, state, reason);
}

void Consumer::start(const QHash<QString, quint64>& positions) {
  for (int shard = 1; shard < m_shards.size(); ++shard) {
    m_shards[shard].status.applied = positions.value(m_config.streamName(shard), 0);
    resubscribe(shard);
  }
}

void Consumer::resubscribeAll() {
  for (int shard = 1; shard < m_shards.size(); ++shard) {
    const ShardState st = m_shards[shard].status.state;
    if (st != ShardState::kNeedsRestore && st != ShardState::kPaused) resubscribe(shard);
  }
}

void Consumer::resubscribe(int shard) {
  Shard& sh = m_shards[shard];
  sh.queue.clear();
  sh.generation = m_nextGeneration++;
  const QString stream = m_config.streamName(shard);
  // Gap check: the next needed message must still be in the stream (docs/replication.md#applying).
  quint64 first = 0, last = 0;
  if (Status s = m_nats.streamState(stream, &first, &last); !s.isOk()) {
    setState(shard, ShardState::kStopped, s.message());
    qCWarning(lcApply).noquote() << "shard" << shard << ":" << s.message() << "- retrying";
    QTimer::singleShot(1000, this, [this, shard] { resubscribe(shard); });
    return;
  }
  const quint64 next = sh.status.applied + 1;
  if (next < first) {
    const QString reason = QStringLiteral(
        "stream %1 no longer holds message %2 (its first is %3): this node is behind the log "
        "and needs a restore from a snapshot")
                               .arg(stream).arg(next).arg(first);
    qCCritical(lcApply).noquote() << reason;
    m_nats.unsubscribe(shard);
    setState(shard, ShardState::kNeedsRestore, reason);
    return;
  }
  if (Status s = m_nats.subscribe(shard, next, sh.generation); !s.isOk()) {
    setState(shard, ShardState::kStopped, s.message());
    qCWarning(lcApply).noquote() << "shard" << shard << ":" << s.message() << "- retrying";
    QTimer::singleShot(1000, this, [this, shard] { resubscribe(shard); });
    return;
  }
  qCDebug(lcApply) << "shard" << shard << "subscribed from" << next << "(stream holds" << first << "to" << last << ")";
  setState(shard, ShardState::kRunning, QString());
}

Status Consumer::pause(int shard) {
  if (shard < 0 || shard >= m_shards.size()) return Status::invalidArgument(QStringLiteral("no shard %1").arg(shard));
  for (int s = 1; s < m_shards.size(); ++s) {
    if ((shard != 0 && s != shard) || m_shards[s].status.state == ShardState::kNeedsRestore) continue;
    m_nats.unsubscribe(s);
    m_shards[s].queue.clear();
    m_shards[s].generation = m_nextGeneration++;  // late messages of the old subscription are dropped
    setState(s, ShardState::kPaused, QStringLiteral("paused by the operator"));
  }
  return Status::ok();
}

Status Consumer::resume(int shard) {
  if (shard < 0 || shard >= m_shards.size()) return Status::invalidArgument(QStringLiteral("no shard %1").arg(shard));
  for (int s = 1; s < m_shards.size(); ++s) {
    if ((shard != 0 && s != shard) || m_shards[s].status.state != ShardState::kPaused) continue;
    m_shards[s].status.lastError.clear();
    resubscribe(s);
  }
  return Status::ok();
}

void Consumer::onReceived(const IncomingMessage& message) {
  if (message.shard <= 0 || message.shard >= m_shards.size()) return;
  Shard& sh = m_shards[message.shard];
  if (message.generation != sh.generation || sh.status.state != ShardState::kRunning) return;
  if (message.streamSeq >= sh.status.received) sh.status.streamPending = message.numPending;
  sh.status.received = std::max(sh.status.received, message.streamSeq);
  sh.queue.append(message);
  if (m_publisher) sh.queue.last().publishRound = m_publisher->lastStartedRound();
  if (!m_drainTimer.isActive() && !m_retryTimer.isActive()) m_drainTimer.start();
}

void Consumer::drain() {
  bool wait = false;
  for (int shard = 1; shard < m_shards.size(); ++shard) {
    while (!m_shards[shard].queue.isEmpty() && m_shards[shard].status.state == ShardState::kRunning) {
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

bool Consumer::applyBatch(int shard) {
  Shard& sh = m_shards[shard];
  const QString stream = m_config.streamName(shard);
  while (!sh.queue.isEmpty() && sh.queue.first().streamSeq <= sh.status.applied) sh.queue.removeFirst();
  if (sh.queue.isEmpty()) return true;
  if (sh.queue.first().streamSeq != sh.status.applied + 1) {
    qCWarning(lcApply) << "shard" << shard << "expected" << sh.status.applied + 1 << "got"
                       << sh.queue.first().streamSeq << "- re-subscribing";
    resubscribe(shard);  // checks whether the missing messages aged out
    return true;
  }
  int n = 0;
  while (n < sh.queue.size() && n < kMaxBatch && sh.queue[n].streamSeq == sh.status.applied + 1 + quint64(n)) ++n;

  struct DeadLetter { quint64 seq; QString reason; QByteArray payload; };
  struct Candidate {
    quint64 seq = 0;
    QByteArray seenSeq;
    const TableInfo* table = nullptr;  // nullptr: the applier reports the message as poison
    RowImage key;
    QList<Value> keyValues;
    QByteArray rowKey;                 // empty when the key is incomplete (poison too)
  };
  QList<DeadLetter> dead;
  QList<Change> toApply;
  QList<Candidate> candidates;  // parallel to toApply
  QList<ConflictRecord> conflicts;
  int own = 0;
  int stamp = 0;
  for (int i = 0; i < n; ++i) stamp = std::max(stamp, sh.queue[i].publishRound);
  const QByteArray ownPrefix = QByteArray::number(quint64(m_config.nodeId)) + '-';
  for (int i = 0; i < n; ++i) {
    const IncomingMessage& m = sh.queue[i];
    if (m.msgId.startsWith(ownPrefix)) {
      ++own;  // our own change (recognised without decoding): the row is already here
      continue;
    }
    auto decoded = decodeMessage(m.data);
    if (!decoded) {
      dead.append({m.streamSeq, decoded.status().message(), m.data});
      continue;
    }
    if (decoded->fromNodeId == m_config.nodeId) {
      ++own;
      continue;
    }
    Candidate cand;
    cand.seq = m.streamSeq;
    cand.seenSeq = m.seenSeq;
    cand.table = m_catalog.find(decoded->table);
    if (cand.table) {
      for (const QString& k : cand.table->keyColumns()) {
        for (const auto& [name, value] : decoded->row) {
          if (name.compare(k, Qt::CaseInsensitive) == 0) {
            cand.key.append({k, value});
            cand.keyValues << value;
            break;
          }
        }
      }
      if (cand.key.size() == cand.table->keyColumns().size())
        cand.rowKey = shardKeyBytes(cand.table->name, cand.key);
    }
    toApply.append(*decoded);
    candidates.append(cand);
  }

  // The convergence rule, decided inside the apply transaction: with the write lock held, the
  // application cannot commit a change of these rows between the decision and the apply.
  bool wait = false;
  auto decide = [&](QList<bool>* apply) -> Status {
    conflicts.clear();
    if (!m_publisher) return Status::ok();
    QSet<QByteArray> newer, undecided;
    HL_RETURN_IF_ERROR(m_publisher->classifyPending(stamp, &newer, &undecided));
    auto anyOwn = m_state.hasOwnChanges();  // most batches of a receiving node: none to look up
    if (!anyOwn) return anyOwn.status();
    const QString local = QStringLiteral("node %1").arg(m_config.nodeId);
    for (qsizetype i = 0; i < candidates.size(); ++i) {
      const Candidate& cand = candidates[i];
      if (cand.rowKey.isEmpty()) continue;
      if (undecided.contains(cand.rowKey)) {
        // Our change of this row is in flight and may have landed before or after this
        // message: decide when its ack is in (the publisher's next finished round).
        wait = true;
        return Status::unavailable(QStringLiteral("waiting for the ack of an own change"));
      }
      auto ownSeq = *anyOwn ? m_state.ownSeq(cand.rowKey) : Result<quint64>(quint64(0));
      if (!ownSeq) return ownSeq.status();
      const Change& c = toApply[i];
      const QString remote = QStringLiteral("node %1 (%2 seq %3)").arg(c.fromNodeId).arg(stream).arg(cand.seq);
      if (newer.contains(cand.rowKey) || *ownSeq > cand.seq) {
        // Our own change of this row is newer (pending, or later in the stream): it wins.
        (*apply)[i] = false;
        conflicts.append({cand.table->name, rowText(cand.key),
                          local + (newer.contains(cand.rowKey) ? QStringLiteral(" (pending)")
                                                               : QStringLiteral(" (seq %1)").arg(*ownSeq)),
                          remote, rowText(m_applier.readRow(cand.table->name, cand.keyValues)), rowText(c.row)});
        continue;
      }
      bool ok = false;
      const quint64 seen = cand.seenSeq.toULongLong(&ok);
      if (*ownSeq > 0 && ok && seen < *ownSeq) {
        // The sender had not seen our change of this row: its later message overwrites it.
        conflicts.append({cand.table->name, rowText(cand.key), remote, local + QStringLiteral(" (seq %1)").arg(*ownSeq),
                          rowText(m_applier.readRow(cand.table->name, cand.keyValues)), rowText(c.row)});
      }
    }
    return Status::ok();
  };

  const quint64 lastSeq = sh.queue[n - 1].streamSeq;
  if (toApply.isEmpty() && dead.isEmpty()) {
    // Only our own messages: nothing to write now. The position is recorded a little later
    // with the next batch or by the position timer; after a crash these messages are simply
    // received and skipped again. This keeps the engine's write transactions (and so its
    // contention with the application's writers) to what changes data.
    const QByteArray reply = sh.queue[n - 1].replyTo;
    sh.queue.erase(sh.queue.begin(), sh.queue.begin() + n);
    sh.status.applied = lastSeq;
    sh.status.skippedOwn += own;
    sh.positionDirty = true;
    if (!reply.isEmpty()) (void)m_nats.ack(reply);
    if (!m_positionTimer.isActive()) m_positionTimer.start();
    emit batchApplied(shard, n);
    return true;
  }
  auto result = m_applier.applyBatch(
      toApply,
      [&](const Applier::BatchResult& r) -> Status {
        for (int i = 0; i < r.outcomes.size(); ++i) {
          if (r.outcomes[i].code() == Status::Code::kPoison)
            dead.append({candidates[i].seq, r.outcomes[i].message(),
                         sh.queue[int(candidates[i].seq - sh.status.applied - 1)].data});
        }
        for (const DeadLetter& d : dead) HL_RETURN_IF_ERROR(m_state.addDeadLetter(stream, d.seq, d.reason, d.payload));
        for (const ConflictRecord& c : conflicts) HL_RETURN_IF_ERROR(m_state.addConflict(c));
        HL_RETURN_IF_ERROR(m_state.setPosition(stream, lastSeq));
        return m_state.forgetOwnUpTo(shard, lastSeq);
      },
      decide);
  if (!result) {
    if (wait) {
      m_waitingForPublisher = true;
      return false;
    }
    sh.status.lastError = result.status().message();
    qCWarning(lcApply).noquote() << "shard" << shard << "apply failed, will retry:" << result.status().message();
    return false;
  }
  const QByteArray reply = sh.queue[n - 1].replyTo;
  sh.queue.erase(sh.queue.begin(), sh.queue.begin() + n);
  sh.status.applied = lastSeq;
  sh.positionDirty = false;
  sh.status.appliedChanges += result->applied;
  sh.status.skippedOwn += own;
  sh.status.conflicts += conflicts.size();
  sh.status.deadLetters += dead.size();
  sh.status.lastAppliedMs = QDateTime::currentMSecsSinceEpoch();
  for (const DeadLetter& d : dead)
    qCWarning(lcApply).noquote() << "dead letter" << stream << "seq" << d.seq << ":" << d.reason;
  if (!reply.isEmpty()) {
    if (Status s = m_nats.ack(reply); !s.isOk()) qCDebug(lcApply).noquote() << "ack failed:" << s.message();
  }
  if (!m_seqMapTimer.isActive()) m_seqMapTimer.start();
  emit batchApplied(shard, n);
  return true;
}

Status Consumer::writeSeqMap() {
  QHash<QString, quint64> positions;
  for (int shard = 1; shard < m_shards.size(); ++shard)
    positions.insert(m_config.streamName(shard), m_shards[shard].status.applied);
  return ReplicationState::writeSeqMap(m_config.effectiveSeqMapPath(), positions);
}

}  // namespace hl
