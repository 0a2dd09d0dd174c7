#include "runtime/consistency_responder.h"

#include <QLoggingCategory>

#include <algorithm>

#include "cdc/change_log.h"
#include "consistency/table_digest.h"
#include "nats/nats_client.h"
#include "replication/consumer.h"
#include "replication/publisher.h"
#include "replication/shard_positions.h"
#include "sqlite/sqlite_value.h"

namespace hl {

Q_LOGGING_CATEGORY(lcCheck, "hl.consistency")

namespace {

constexpr int kDefaultMaxRows = 1000;
constexpr int kMostRows = 10000;

QList<TableInfo> sortedTables(const SchemaCatalog& catalog) {
  QList<TableInfo> tables = catalog.tables();
  std::sort(tables.begin(), tables.end(),
            [](const TableInfo& a, const TableInfo& b) { return a.name < b.name; });
  return tables;
}

}  // namespace

// ---- HeldRead: the worker ------------------------------------------------------------------

HeldRead::~HeldRead() {
  end();
}

void HeldRead::end() {
  m_txn.reset();  // a read transaction: rolling back only ends the snapshot
  m_read.reset();
  m_check.clear();
  if (m_idle) m_idle->stop();
}

void HeldRead::digest(const QByteArray& reply, const check::NodeAnswer& base) {
  end();
  check::NodeAnswer a = base;
  auto busy = [&](const QString& reason) {
    a.state = QStringLiteral("busy");
    a.reason = reason;
    a.tables.clear();
    emit answer(reply, check::encode(a));
    end();
  };
  QElapsedTimer t;
  t.start();
  // HL_TEST_CHECK_SNAPSHOT_DELAY_MS (a test fault): the snapshot comes that much later, while
  // the consumer stays held; a hold that let the applier go on would show as a difference.
  if (const int delay = qEnvironmentVariableIntValue("HL_TEST_CHECK_SNAPSHOT_DELAY_MS"); delay > 0)
    QThread::msleep(ulong(delay));
  auto read = openLocalRead(m_config);
  if (!read) {
    emit snapshotTaken(a.check, false);
    return busy("cannot read the database: " + read.status().message());
  }
  m_read = std::move(*read);
  SqliteDb& db = m_read->db;
  auto txn = SqliteTxn::begin(db, SqliteTxn::Mode::kDeferred);
  if (!txn) {
    emit snapshotTaken(a.check, false);
    return busy(txn.status().message());
  }
  m_txn = std::make_unique<SqliteTxn>(std::move(*txn));
  // The snapshot is taken at the first read: now, while the engine holds the consumer.
  auto hasLog = db.hasTable(QLatin1String(ChangeLog::kChangesTable));
  qint64 pending = 0;
  if (hasLog && *hasLog) {
    auto n = ChangeLog(db, *m_read->catalog).pendingCount();
    if (!n)
      hasLog = n.status();
    else
      pending = *n;
  }
  emit snapshotTaken(a.check, bool(hasLog) && pending == 0);
  // The consumer was held until now: the hold's length includes getting here; the digest's
  // time starts here.
  a.heldMs += t.restart();
  if (!hasLog) return busy(hasLog.status().message());
  a.schemaHash = m_read->catalog->schemaHash();
  a.pending = pending;
  if (pending > 0)
    return busy(QStringLiteral("the application wrote on this node during the check (%1 own "
                               "change(s) not yet acknowledged)")
                    .arg(pending));
  DigestOptions o;
  o.progress = [this](uint64_t) { return !m_cancel->load(); };
  for (const TableInfo& table : sortedTables(*m_read->catalog)) {
    auto d = digestTable(db, table, o);
    if (!d) return busy("digest " + table.name + ": " + d.status().message());
    a.tables.append({d->table, d->all.rows, d->all.hex()});
  }
  a.state = QStringLiteral("held");
  a.digestMs = t.elapsed();
  m_check = a.check;
  emit answer(reply, check::encode(a));
  if (!m_idle) {
    m_idle = new QTimer(this);
    m_idle->setSingleShot(true);
    connect(m_idle, &QTimer::timeout, this, [this] { end(); });
  }
  m_idle->start(kSessionIdleMs);
}

const TableInfo* HeldRead::table(const QString& check, const QString& name, QString* error) {
  if (!m_read || check != m_check) {
    *error =
        QStringLiteral("check %1 is not held here (it ended, or another check began)").arg(check);
    return nullptr;
  }
  const TableInfo* t = m_read->catalog->find(name);
  if (!t) *error = QStringLiteral("'%1' is not a watched table here").arg(name);
  if (m_idle) m_idle->start(kSessionIdleMs);
  return t;
}

void HeldRead::buckets(const QByteArray& reply, const check::Request& r) {
  check::BucketsAnswer a;
  a.node = m_config.nodeId;
  a.table = r.table;
  const TableInfo* t = table(r.check, r.table, &a.error);
  if (t && r.buckets < 1) a.error = QStringLiteral("no bucket count");
  if (t && a.error.isEmpty()) {
    DigestOptions o;
    o.buckets = r.buckets;
    o.progress = [this](uint64_t) { return !m_cancel->load(); };
    auto d = digestTable(m_read->db, *t, o);
    if (!d)
      a.error = d.status().message();
    else
      for (const RowSetDigest& b : d->buckets) a.buckets.append({b.rows, b.hex()});
  }
  emit answer(reply, check::encode(a));
}

void HeldRead::rows(const QByteArray& reply, const check::Request& r) {
  check::RowsAnswer a;
  a.node = m_config.nodeId;
  a.table = r.table;
  const TableInfo* t = table(r.check, r.table, &a.error);
  if (t && r.buckets < 1) a.error = QStringLiteral("no bucket count");
  if (t && a.error.isEmpty()) {
    auto rows = rowsInBuckets(m_read->db, *t, r.buckets, r.wanted);
    if (!rows) {
      a.error = rows.status().message();
    } else {
      const int most = std::clamp(r.maxRows > 0 ? r.maxRows : kDefaultMaxRows, 1, kMostRows);
      a.truncated = rows->size() > most;
      for (const DigestedRow& row : rows->mid(0, most))
        a.rows.append({row.keyValues, row.key, row.values, row.rowHash});
    }
  }
  emit answer(reply, check::encode(a));
}

void HeldRead::close(const QString& check) {
  if (check == m_check) end();
}

// ---- ConsistencyResponder ------------------------------------------------------------------

ConsistencyResponder::ConsistencyResponder(const Config& config, SqliteDb& db,
                                           SchemaCatalog& catalog, ChangeLog& changeLog,
                                           ShardPositions& positions, NatsClient& nats,
                                           Consumer* consumer, Publisher* publisher,
                                           QObject* parent)
    : QObject(parent),
      m_config(config),
      m_db(db),
      m_catalog(catalog),
      m_changeLog(changeLog),
      m_positions(positions),
      m_nats(nats),
      m_consumer(consumer),
      m_publisher(publisher),
      m_pollTimer(this) {
  m_thread.setObjectName(QStringLiteral("consistency"));
  m_worker = new HeldRead(m_config, &m_cancel);
  m_worker->moveToThread(&m_thread);
  connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
  connect(m_worker, &HeldRead::answer, this, &ConsistencyResponder::reply);
  connect(m_worker, &HeldRead::snapshotTaken, this, [this](const QString& check, bool comparable) {
    if (!m_hold || m_hold->request.check != check) return;
    m_counts.longestHoldMs = std::max(m_counts.longestHoldMs, m_hold->since.elapsed());
    if (!comparable) ++m_counts.busy;
    endHold();
  });
  m_thread.start();
  if (qEnvironmentVariableIsSet("HL_TEST_CHECK_SNAPSHOT_DELAY_MS"))
    qCWarning(lcCheck).noquote() << "HL_TEST_CHECK_SNAPSHOT_DELAY_MS: consistency snapshots are "
                                    "taken late (a test fault)";
  m_pollTimer.setInterval(5);
  connect(&m_pollTimer, &QTimer::timeout, this, &ConsistencyResponder::pollHold);
}

ConsistencyResponder::~ConsistencyResponder() {
  m_cancel = true;
  if (m_hold) endHold();
  m_thread.quit();
  m_thread.wait();
}

void ConsistencyResponder::reply(const QByteArray& to, const QByteArray& json) {
  if (to.isEmpty()) return;
  if (Status s = m_nats.publishCore(to, json); !s.isOk())
    qCWarning(lcCheck).noquote() << "could not answer a consistency check:" << s.message();
}

Result<qint64> ConsistencyResponder::pendingOwn() const {
  auto n = m_changeLog.pendingCount(m_publisher ? m_publisher->settledUpTo() : 0);
  if (!n) return n.status();
  return qint64(*n);
}

check::NodeAnswer ConsistencyResponder::here(const QString& check) const {
  check::NodeAnswer a;
  a.check = check;
  a.node = m_config.nodeId;
  a.state = QStringLiteral("here");
  a.schemaHash = m_catalog.schemaHash();
  for (int shard = 1; shard <= m_config.replicationLog.shards; ++shard)
    a.positions.insert(m_config.streamName(shard), m_positions.applied(shard));
  auto pending = pendingOwn();
  a.pending = pending ? *pending : -1;
  return a;
}

void ConsistencyResponder::onRequest(const QByteArray& subject, const QByteArray& data,
                                     const QByteArray& replyTo) {
  const QByteArray prefix = check::subject(m_config.nats.streamPrefix, QString());
  if (!subject.startsWith(prefix)) return;
  const QByteArray what = subject.mid(prefix.size());
  auto request = check::decodeRequest(data);
  if (!request) {
    ++m_counts.badRequests;
    qCWarning(lcCheck).noquote() << QStringLiteral(
                                        "ignored a malformed consistency request on %1: %2")
                                        .arg(QString::fromUtf8(subject),
                                             request.status().message());
    check::NodeAnswer a = here(QString());
    a.state = QStringLiteral("busy");
    a.reason = "bad request: " + request.status().message();
    reply(replyTo, check::encode(a));
    return;
  }
  if (what == "where") {
    reply(replyTo, check::encode(here(request->check)));
  } else if (what == "hold") {
    startHold(*request, replyTo);
  } else if (what == "buckets") {
    QMetaObject::invokeMethod(m_worker,
                              [w = m_worker, replyTo, r = *request] { w->buckets(replyTo, r); });
  } else if (what == "rows") {
    QMetaObject::invokeMethod(m_worker,
                              [w = m_worker, replyTo, r = *request] { w->rows(replyTo, r); });
  } else if (what == "end") {
    if (m_hold && m_hold->request.check == request->check) answerBusy("the check was ended");
    QMetaObject::invokeMethod(m_worker, [w = m_worker, c = request->check] { w->close(c); });
  } else if (what == "repair." + QByteArray::number(m_config.nodeId)) {
    auto done = repair(*request);
    check::RepairAnswer a;
    if (done)
      a = *done;
    else
      a.error = done.status().message();
    a.node = m_config.nodeId;
    a.table = request->table;
    if (done) ++m_counts.repairs;
    reply(replyTo, check::encode(a));
  }
}

void ConsistencyResponder::startHold(const check::Request& request, const QByteArray& replyTo) {
  if (m_hold) answerBusy(QStringLiteral("another check (%1) began").arg(request.check));
  ++m_counts.checks;
  m_hold = Hold{request, replyTo, {}, {}, false};
  m_hold->since.start();
  if (!m_consumer)
    return answerBusy(QStringLiteral("this node does not apply changes (replicate = false)"));
  for (int shard = 1; shard <= m_config.replicationLog.shards; ++shard) {
    const QString stream = m_config.streamName(shard);
    if (!request.target.contains(stream))
      return answerBusy(QStringLiteral("the check names no position for %1").arg(stream));
    const quint64 target = request.target.value(stream);
    if (m_positions.applied(shard) > target)
      return answerBusy(QStringLiteral("this node applied %1 beyond the target (%2 > %3)")
                            .arg(stream)
                            .arg(m_positions.applied(shard))
                            .arg(target));
    m_hold->target.insert(shard, target);
  }
  m_consumer->holdAt(m_hold->target);
  m_pollTimer.start();
  pollHold();
}

void ConsistencyResponder::pollHold() {
  if (!m_hold || m_hold->snapshotAsked) return;
  bool reached = true;
  QStringList behind;
  for (auto it = m_hold->target.cbegin(); it != m_hold->target.cend(); ++it) {
    const int shard = it.key();
    const QString stream = m_config.streamName(shard);
    const quint64 acked = m_publisher ? m_publisher->highestAcked(shard) : 0;
    if (acked > it.value())
      return answerBusy(QStringLiteral("this node's own change is at %1 %2, beyond the target %3 "
                                       "(the application wrote during the check)")
                            .arg(stream)
                            .arg(acked)
                            .arg(it.value()));
    if (m_positions.applied(shard) != it.value()) {
      reached = false;
      behind << QStringLiteral("%1 applied %2 of %3 (%4)")
                    .arg(stream)
                    .arg(m_positions.applied(shard))
                    .arg(it.value())
                    .arg(stateName(m_consumer->status(shard).state));
    }
  }
  auto pending = pendingOwn();
  if (!pending) return answerBusy(pending.status().message());
  if (reached && *pending == 0) {
    m_hold->snapshotAsked = true;
    // The worker fills in the schema hash and the pending count as its snapshot has them.
    check::NodeAnswer base;
    base.check = m_hold->request.check;
    base.node = m_config.nodeId;
    for (auto it = m_hold->target.cbegin(); it != m_hold->target.cend(); ++it)
      base.positions.insert(m_config.streamName(it.key()), it.value());
    base.heldMs = m_hold->since.elapsed();
    QMetaObject::invokeMethod(m_worker,
                              [w = m_worker, r = m_hold->reply, base] { w->digest(r, base); });
    return;
  }
  if (m_hold->since.elapsed() < m_hold->request.holdMs) return;
  if (*pending > 0) behind << QStringLiteral("%1 own change(s) not yet acknowledged").arg(*pending);
  answerBusy(QStringLiteral("did not reach the target within %1 ms: %2")
                 .arg(m_hold->request.holdMs)
                 .arg(behind.join("; ")));
}

void ConsistencyResponder::answerBusy(const QString& reason) {
  if (!m_hold) return;
  ++m_counts.busy;
  check::NodeAnswer a = here(m_hold->request.check);
  a.state = QStringLiteral("busy");
  a.reason = reason;
  a.heldMs = m_hold->since.elapsed();
  reply(m_hold->reply, check::encode(a));
  qCInfo(lcCheck).noquote() << "consistency check" << m_hold->request.check
                            << "not comparable here:" << reason;
  endHold();
}

void ConsistencyResponder::endHold() {
  m_pollTimer.stop();
  if (m_consumer) m_consumer->releaseHold();
  m_hold.reset();
}

Result<check::RepairAnswer> ConsistencyResponder::repair(const check::Request& r) {
  if (!m_publisher) return Status::unavailable("this node does not publish (publish = false)");
  const TableInfo* table = m_catalog.find(r.table);
  if (!table)
    return Status::notFound(QStringLiteral("'%1' is not a watched table here").arg(r.table));
  const QStringList keys = table->keyColumns();
  QStringList where;
  for (qsizetype i = 0; i < keys.size(); ++i)
    where << QStringLiteral("%1 IS ?%2")
                 .arg(table->hasDeclaredPk() ? quoteIdentifier(keys[i]) : table->rowidName)
                 .arg(i + 1);
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status();
  auto exists = m_db.prepare(QStringLiteral("SELECT 1 FROM %1 WHERE %2 LIMIT 1")
                                 .arg(table->quotedName, where.join(" AND ")));
  if (!exists) return exists.status();
  check::RepairAnswer a;
  for (const QList<Value>& key : r.keys) {
    if (key.size() != keys.size())
      return Status::invalidArgument(QStringLiteral("a key of %1 value(s), %2 has %3 key column(s)")
                                         .arg(key.size())
                                         .arg(r.table)
                                         .arg(keys.size()));
    RowImage image;
    exists->reset();
    for (qsizetype i = 0; i < key.size(); ++i) {
      HL_RETURN_IF_ERROR(bindValue(*exists, int(i) + 1, key[i]));
      image.append({keys[i], key[i]});
    }
    auto found = exists->step();
    if (!found) return found.status();
    HL_RETURN_IF_ERROR(
        m_changeLog.capture(*table, *found ? ChangeType::kUpdate : ChangeType::kDelete, image));
    ++(*found ? a.republished : a.deleted);
  }
  HL_RETURN_IF_ERROR(txn->commit());
  qCInfo(lcCheck).noquote() << QStringLiteral(
                                   "repair of %1: %2 row(s) published again as updates, %3 as "
                                   "deletes (this node's version)")
                                   .arg(r.table)
                                   .arg(a.republished)
                                   .arg(a.deleted);
  m_publisher->wake();
  return a;
}

}  // namespace hl
