#include "snapshot/snapshot_service.h"

#include <QBuffer>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QSet>

#include <algorithm>

#include "harmonylite/version.h"
#include "nats/nats_client.h"
#include "replication/state_store.h"
#include "snapshot/leader_lease.h"
#include "snapshot/local_store.h"
#include "snapshot/nats_object_store.h"
#include "snapshot/s3_store.h"
#include "snapshot/sftp_store.h"
#include "snapshot/sha256.h"
#include "snapshot/snapshot_file.h"
#include "snapshot/webdav_store.h"

Q_LOGGING_CATEGORY(lcSnapshot, "hl.snapshot")

namespace hl {
namespace {

constexpr int kScheduleCheckMs = 2000;
constexpr qint64 kCatalogRefreshMs = 30000;
constexpr int kProgressEveryMs = 200;
constexpr int64_t kUploadLockTtlMs = 10000;  // Go's "snapshot" key TTL
constexpr qint64 kSnapshotMaxBackoffMs = 5 * 60 * 1000;

qint64 nowMs() {
  return QDateTime::currentMSecsSinceEpoch();
}

}  // namespace

SnapshotService::SnapshotService(Config config, QStringList natsUrls)
    : m_config(std::move(config)), m_urls(std::move(natsUrls)) {
  qRegisterMetaType<RestoreFile>();
  qRegisterMetaType<SnapshotStatus>();
  m_status.enabled = m_config.snapshot.enabled;
}

SnapshotService::~SnapshotService() {
  if (m_leaseThread) {  // stop() was not called: end the lease thread before it is destroyed
    m_leaseThread->quit();
    m_leaseThread->wait();
    delete m_keeper;
  }
}

QString SnapshotService::tempPath(const QString& what) const {
  return QDir(m_config.stateDir()).filePath(QStringLiteral(".harmonylite-%1.tmp").arg(what));
}

void SnapshotService::start() {
  // Leftovers of a killed process (temp snapshot files) go first.
  // (with their -journal, -wal and -shm siblings: a hot journal would make every later restore
  // into the same name fail).
  for (const QString& f :
       QDir(m_config.stateDir()).entryList({QStringLiteral(".harmonylite-*.tmp*")}, QDir::Files))
    QFile::remove(QDir(m_config.stateDir()).filePath(f));
  m_startedMs = nowMs();
  m_scheduleTimer = new QTimer(this);
  connect(m_scheduleTimer, &QTimer::timeout, this, &SnapshotService::checkSchedule);
  m_scheduleTimer->start(kScheduleCheckMs);
  if (Status s = ensureStore(); !s.isOk()) {
    qCWarning(lcSnapshot).noquote() << "snapshot store:" << s.message() << "- retrying";
  } else if (Status r = readCatalog(); !r.isOk()) {
    qCWarning(lcSnapshot).noquote() << "snapshot catalogue:" << r.message();
  }
  publish();
}

void SnapshotService::stop() {
  if (m_keeper) {
    QMetaObject::invokeMethod(m_keeper, &LeaseKeeper::stop, Qt::BlockingQueuedConnection);
    m_leaseThread->quit();
    m_leaseThread->wait();
    delete m_keeper;
    m_keeper = nullptr;
    delete m_leaseThread;
    m_leaseThread = nullptr;
  }
  if (m_scheduleTimer) m_scheduleTimer->stop();
  m_lease.reset();
  m_store.reset();
  if (m_nc) natsConnection_Close(m_nc.get());
  m_nc.reset();
}

// The store and the NATS connection, made on first need and again after a failure.
Status SnapshotService::ensureStore() {
  const SnapshotConfig& sc = m_config.snapshot;
  const bool needNats = !m_urls.isEmpty();
  if (needNats && !m_nc) {
    auto nc = connectNats(m_config, m_urls,
                          QStringLiteral("harmonylite-node-%1-snapshots").arg(m_config.nodeId));
    if (!nc) {
      if (sc.store == QLatin1String("nats")) return nc.status();
    } else {
      m_nc = std::move(*nc);
      m_lease =
          std::make_unique<LeaderLease>(m_nc.get(), m_config.nodeId, m_config.effectiveReplicas());
      // The leader lease on a thread of its own: a long job here never lets it lapse.
      m_keeper = new LeaseKeeper(m_nc.get(), m_config.nodeId, m_config.effectiveReplicas(),
                                 m_config.snapshot.leaderTtlMs);
      m_leaseThread = new QThread(this);
      m_leaseThread->setObjectName(QStringLiteral("hl-snapshot-lease"));
      m_keeper->moveToThread(m_leaseThread);
      connect(m_keeper, &LeaseKeeper::changed, this, &SnapshotService::onLease);
      m_leaseThread->start();
      if (!m_eligible)
        QMetaObject::invokeMethod(m_keeper, [k = m_keeper] { k->setEligible(false); });
      QMetaObject::invokeMethod(m_keeper, &LeaseKeeper::start, Qt::QueuedConnection);
    }
  }
  if (m_store) return Status::ok();
  if (sc.store == QLatin1String("nats")) {
    m_store = std::make_unique<NatsObjectStore>(m_nc.get(), m_config.effectiveSnapshotBucket(),
                                                sc.nats.replicas);
  } else if (sc.store == QLatin1String("local")) {
    const QString root = sc.localPath.isEmpty()
                             ? QDir(m_config.stateDir()).filePath(QStringLiteral("snapshots"))
                             : sc.localPath;
    m_store = std::make_unique<LocalStore>(root);
  } else if (sc.store == QLatin1String("s3")) {
    m_store = std::make_unique<S3Store>(sc.s3, TransferOptions::of(sc));
  } else if (sc.store == QLatin1String("webdav")) {
    m_store = std::make_unique<WebDavStore>(sc.webdav, TransferOptions::of(sc));
  } else if (sc.store == QLatin1String("sftp")) {
    m_store = std::make_unique<SftpStore>(sc.sftp, TransferOptions::of(sc));
  } else {
    return Status::invalidArgument(
        QStringLiteral("snapshot.store = \"%1\" is unknown").arg(sc.store));
  }
  m_status.store = m_store->describe();
  return Status::ok();
}

// ---- lease and schedule ---------------------------------------------------------------------

void SnapshotService::setEligible(bool eligible) {
  if (eligible == m_eligible) return;
  m_eligible = eligible;
  qCInfo(lcSnapshot).noquote() << (eligible ? "this node may lead snapshots again"
                                            : "a shard needs a restore: this node steps down "
                                              "as snapshot leader until it is restored");
  if (m_keeper)
    QMetaObject::invokeMethod(m_keeper, [k = m_keeper, eligible] { k->setEligible(eligible); });
}

void SnapshotService::onLease(const LeaseState& st) {
  if (st.held != m_status.isLeader)
    qCInfo(lcSnapshot).noquote() << (st.held ? "this node now holds the snapshot leader lease"
                                             : "this node no longer holds the snapshot lease");
  m_status.isLeader = st.held;
  m_status.leaderNodeId = st.holder;
  m_status.leaderUntilMs = st.untilMs;
  if (!st.error.isEmpty()) qCDebug(lcSnapshot).noquote() << "lease:" << st.error;
  publish();
}

// The leader's own snapshots: the interval, and the streams' growth past the newest watermark.
void SnapshotService::checkSchedule() {
  const SnapshotConfig& sc = m_config.snapshot;
  // Every node re-reads the catalogue now and then: other nodes' snapshots show, and a new
  // leader judges the growth rule against the newest snapshot, not the one it last saw.
  if (m_store && nowMs() - m_status.catalogReadMs > kCatalogRefreshMs) {
    (void)readCatalog();
    publish();
  }
  if (!m_nc) (void)ensureStore();  // NATS was not reachable at start: try again
  if (!m_status.isLeader || nowMs() < m_retryAfterMs) {
    if (m_status.nextScheduledMs != 0 && !m_status.isLeader) {
      m_status.nextScheduledMs = 0;
      publish();
    }
    return;
  }
  if (!m_store && !ensureStore().isOk()) return;
  // The newest by time for the interval; for the growth rule, what the catalogue covers at
  // most per stream (a node's clock can be wrong; watermarks cannot).
  const SnapshotInfo* newest = nullptr;
  QHash<QString, quint64> covered;
  for (const SnapshotInfo& i : m_status.catalog) {
    if (i.foreign) continue;
    if (!newest || i.takenAtMs > newest->takenAtMs) newest = &i;
    const auto meta = m_metas.constFind(i.id);
    if (meta == m_metas.cend()) continue;
    for (auto it = meta->streams.begin(); it != meta->streams.end(); ++it)
      covered[it.key()] = std::max(covered.value(it.key()), it.value());
  }
  QString reason;
  if (sc.intervalMs > 0) {
    const qint64 base = newest ? newest->takenAtMs : m_startedMs;
    m_status.nextScheduledMs = std::max(nowMs(), base + sc.intervalMs);
    if (!newest || nowMs() >= newest->takenAtMs + sc.intervalMs)
      reason = QStringLiteral("snapshot.interval");
  }
  // Growth: a snapshot of this node would cover more than half of max_entries past what the
  // store covers. Judged on this node's applied positions (what its snapshot would cover), not
  // on the streams' heads: a leader that lags (paused, needing a restore, replicate = false)
  // would otherwise save the same old watermark again and again, and push the useful
  // snapshots out of the history.
  if (reason.isEmpty()) {
    auto own = ownPositions();
    const int64_t half = std::max<int64_t>(1, m_config.replicationLog.maxEntries / 2);
    for (int shard = 1; own && shard <= m_config.replicationLog.shards; ++shard) {
      const QString stream = m_config.streamName(shard);
      const quint64 mine = own->value(stream, 0), base = covered.value(stream, 0);
      if (mine > base && int64_t(mine - base) > half) {
        reason = QStringLiteral("this node applied %1 messages of %2 past the newest snapshot")
                     .arg(mine - base)
                     .arg(stream);
        break;
      }
    }
  }
  if (!reason.isEmpty()) save(reason, 0);
}

// ---- jobs -----------------------------------------------------------------------------------

void SnapshotService::save(const QString& reason, qint64 requestId) {
  if (stopping(requestId, SnapshotActivity::Saving)) return;
  m_cancel = false;
  QString message;
  const Status s = runSave(reason, &message);
  setActivity(SnapshotActivity::Idle, QString());
  if (s.isOk()) {
    m_failureStreak = 0;
    m_retryAfterMs = 0;
  } else {
    // Scheduled saves back off: 5 s, 10 s, ... up to 5 minutes.
    ++m_failureStreak;
    m_retryAfterMs = nowMs() + std::min<qint64>(kSnapshotMaxBackoffMs,
                                                5000LL << std::min(6, m_failureStreak - 1));
    m_status.lastError = s.message();
    qCWarning(lcSnapshot).noquote() << "snapshot failed:" << s.message();
  }
  publish();
  emit finished(requestId, SnapshotActivity::Saving, s.isOk(), s.isOk() ? message : s.message());
}

// This node's applied positions, read on a connection of the worker's own (the engine commits
// them with the rows, docs/replication.md#crash-safety).
Result<QHash<QString, quint64>> SnapshotService::ownPositions() {
  SqliteDb::Options o;
  o.readOnly = true;
  o.create = false;
  auto db = SqliteDb::open(m_config.dbPath, o);
  if (!db) return db.status();
  return ReplicationState::readPositions(*db);
}

void SnapshotService::saveIfLeader(const QString& reason, qint64 requestId) {
  if (!m_status.isLeader) {
    emit finished(requestId, SnapshotActivity::Saving, true,
                  QStringLiteral("not the snapshot leader: no snapshot taken"));
    return;
  }
  save(reason, requestId);
}

Status SnapshotService::runSave(const QString& reason, QString* message) {
  HL_RETURN_IF_ERROR(ensureStore());
  const qint64 started = nowMs();
  SnapshotMeta meta;
  meta.takenAtMs = started;
  meta.nodeId = m_config.nodeId;
  meta.version = versionInfo().version;
  meta.id = makeSnapshotId(started, m_config.nodeId);
  qCInfo(lcSnapshot).noquote() << "taking snapshot" << meta.id << "(" + reason + ")";
  const QString file = tempPath("save-" + meta.id);
  struct Cleanup {
    QString path;
    ~Cleanup() { QFile::remove(path); }
  } cleanup{file};
  setActivity(SnapshotActivity::Saving, meta.id);
  auto content = makeSnapshotFile(m_config.dbPath, file, m_config.ignoreTables, {},
                                  /*hash=*/false);  // hashed while uploading, below
  if (!content) {
    failure("save");
    return content.status();
  }
  meta.size = content->size;
  meta.schemaHash = content->schemaHash;
  meta.streams = content->streams;
  // A stream this node never applied from is covered from its start.
  for (int shard = 1; shard <= m_config.replicationLog.shards; ++shard)
    if (!meta.streams.contains(m_config.streamName(shard)))
      meta.streams.insert(m_config.streamName(shard), 0);
  meta.rowCounts = content->rowCounts;
  if (Status s = takeUploadLock(); !s.isOk()) {
    failure("busy");
    return s;
  }
  struct UploadLock {  // released however the upload ends
    LeaderLease* lease;
    ~UploadLock() {
      if (lease) lease->release(kUploadKey);
    }
  } uploadLock{m_lease.get()};
  setActivity(SnapshotActivity::Uploading, meta.id);
  QFile in(file);
  if (!in.open(QIODevice::ReadOnly)) {
    const Status s = Status::ioError("open " + file + ": " + in.errorString());
    failure("save");
    return s;
  }
  HashingDevice source(in);  // the checksum of exactly what the store received
  Status s = m_store->put(
      meta.fileObject(), source, meta.size, {{QString::fromLatin1(kGoTagHeader), meta.id}},
      [this](qint64 d, qint64 t) { return progress(SnapshotActivity::Uploading, d, t); });
  meta.sha256 = source.hex();
  if (s.isOk() && source.bytes() != meta.size)
    s = Status::ioError(
        QStringLiteral("the store read %1 of %2 bytes").arg(source.bytes()).arg(meta.size));
  if (s.isOk()) s = putSmall(meta.metaObject(), meta.toJson());
  // Only now does snapshot.db, the one Go nodes read, move to the new snapshot.
  if (s.isOk()) s = m_store->copy(meta.fileObject(), kLatestObject);
  if (s.isOk())
    s = putSmall(kLatestPointer,
                 QJsonDocument(QJsonObject{{"id", meta.id}}).toJson(QJsonDocument::Compact));
  if (!s.isOk()) {
    failure("upload");
    return s.withContext("upload snapshot " + meta.id);
  }
  m_status.lastSuccessMs = nowMs();
  m_status.lastDurationMs = m_status.lastSuccessMs - started;
  m_status.lastSizeBytes = meta.size;
  m_status.lastError.clear();
  m_metas.insert(meta.id, meta);
  if (Status r = readCatalog(); r.isOk()) applyRetention();
  *message = QStringLiteral("snapshot %1 saved: %2 bytes in %3 ms to %4")
                 .arg(meta.id)
                 .arg(meta.size)
                 .arg(m_status.lastDurationMs)
                 .arg(m_store->describe());
  qCInfo(lcSnapshot).noquote() << *message;
  return Status::ok();
}

void SnapshotService::verify(const QString& id, qint64 requestId) {
  if (stopping(requestId, SnapshotActivity::Verifying)) return;
  m_cancel = false;
  QString message;
  const Status s = runVerify(id, &message);
  setActivity(SnapshotActivity::Idle, QString());
  if (!s.isOk()) {
    m_status.lastError = s.message();
    qCWarning(lcSnapshot).noquote() << s.message();
  }
  publish();
  emit finished(requestId, SnapshotActivity::Verifying, s.isOk(), s.isOk() ? message : s.message());
}

// The restore drill: download into a temp file and check it against its metadata; the live
// database is not touched. The result is written back into the metadata for every node to see.
Status SnapshotService::runVerify(const QString& id, QString* message) {
  HL_RETURN_IF_ERROR(ensureStore());
  auto entry = findEntry(id);
  if (!entry) return entry.status();
  const QString file = tempPath("verify");
  struct Cleanup {
    QString path;
    ~Cleanup() { QFile::remove(path); }
  } cleanup{file};
  auto content = fetchAndCheck(*entry, file);
  QStringList problems;
  if (!content) {
    problems << content.status().message();
  } else if (!entry->rowCounts.isEmpty() && content->rowCounts != entry->rowCounts) {
    problems << "row counts differ from the metadata";
  }
  const bool ok = problems.isEmpty();
  const QString result =
      ok ? QStringLiteral(
               "ok: %1 bytes, checksum, integrity_check and %2 table(s) row counts match")
               .arg(content->size)
               .arg(content->rowCounts.size())
         : problems.join("; ");
  if (m_metas.contains(entry->id)) {
    SnapshotMeta& meta = m_metas[entry->id];
    meta.verifiedAtMs = nowMs();
    meta.verifiedOk = ok;
    meta.verifyMessage = result;
    if (Status w = putSmall(meta.metaObject(), meta.toJson()); !w.isOk())
      qCWarning(lcSnapshot).noquote() << "could not record the verification:" << w.message();
  }
  for (SnapshotInfo& i : m_status.catalog) {
    if (i.id != entry->id) continue;
    i.verifiedAtMs = nowMs();
    i.verifiedOk = ok;
    i.verifyMessage = result;
  }
  if (!ok) {
    failure("verify");
    return Status::corruption(
        QStringLiteral("snapshot %1 failed verification: %2").arg(entry->id, result));
  }
  *message = QStringLiteral("snapshot %1 verified %2").arg(entry->id, result);
  return Status::ok();
}

void SnapshotService::fetchForRestore(const QString& id, const QString& ourSchemaHash,
                                      bool haveTables, bool force, qint64 requestId) {
  if (stopping(requestId, SnapshotActivity::Restoring)) return;
  m_cancel = false;
  auto file = runFetch(id, ourSchemaHash, haveTables, force);
  setActivity(SnapshotActivity::Idle, QString());
  if (!file) {
    m_status.lastError = file.status().message();
    publish();
    emit finished(requestId, SnapshotActivity::Restoring, false, file.status().message());
    return;
  }
  publish();
  emit restoreReady(requestId, *file);
}

Result<RestoreFile> SnapshotService::runFetch(const QString& id, const QString& ourSchemaHash,
                                              bool haveTables, bool force) {
  HL_RETURN_IF_ERROR(ensureStore());
  auto entry = findEntry(id);
  if (!entry) return entry.status();
  RestoreFile out;
  out.id = entry->id;
  out.path = tempPath("restore");
  auto content = fetchAndCheck(*entry, out.path);
  Status s = content.status();
  if (content && content->schemaHash != ourSchemaHash && haveTables && !force)
    s = Status::invalidArgument(
        QStringLiteral("snapshot %1 has another schema (hash %2) than this node (%3): "
                       "refused; restore it with force to replace this node's schema too")
            .arg(entry->id, content->schemaHash.left(12), ourSchemaHash.left(12)));
  if (!s.isOk()) {
    QFile::remove(out.path);
    failure(s.code() == Status::Code::kInvalidArgument ? "schema" : "download");
    return s.withContext("restore");
  }
  if (m_metas.contains(entry->id)) {
    out.watermarkKnown = true;
    out.streams = m_metas[entry->id].streams;
  }
  return out;
}

void SnapshotService::refresh(qint64 requestId) {
  Status s = ensureStore();
  if (s.isOk()) s = readCatalog();
  publish();
  emit finished(requestId, SnapshotActivity::Idle, s.isOk(),
                s.isOk() ? QStringLiteral("%1 snapshot(s) in %2")
                               .arg(m_status.catalog.size())
                               .arg(m_store->describe())
                         : s.message());
}

// ---- helpers --------------------------------------------------------------------------------

Status SnapshotService::readCatalog() {
  auto objects = m_store->list();
  if (!objects) {
    m_status.catalogError = objects.status().message();
    failure("list");
    return objects.status();
  }
  QStringList problems;
  QHash<QString, SnapshotMeta> metas;
  m_status.catalog = assembleCatalog(
      *objects, [this](const QString& name) { return getSmall(name); },
      m_config.replicationLog.shards, m_config.nats.streamPrefix, &metas, &problems);
  m_metas = metas;
  m_status.catalogReadMs = nowMs();
  m_status.catalogError = problems.join("; ");
  for (const QString& p : problems)
    qCWarning(lcSnapshot).noquote() << "snapshot metadata skipped:" << p;
  return Status::ok();
}

Result<SnapshotInfo> SnapshotService::findEntry(const QString& id) {
  HL_RETURN_IF_ERROR(readCatalog());
  if (m_status.catalog.isEmpty()) return Status::notFound("no snapshot in " + m_store->describe());
  if (id.isEmpty()) {
    // A snapshot without our metadata (Go's) only when there is none of ours.
    const SnapshotInfo* best = defaultRestoreChoice(m_status.catalog);
    return best ? *best : m_status.catalog.first();
  }
  for (const SnapshotInfo& i : m_status.catalog)
    if (i.id == id) return i;
  return Status::notFound(QStringLiteral("no snapshot \"%1\" in %2").arg(id, m_store->describe()));
}

Status SnapshotService::download(const SnapshotInfo& entry, const QString& path, QString* sha256) {
  setActivity(SnapshotActivity::Downloading, entry.id);
  QFile out(path);
  if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate))
    return Status::ioError("create " + path + ": " + out.errorString());
  HashingDevice sink(out);  // hashed on the way: no second read of the file
  Status s = m_store->get(entry.object, sink, [this](qint64 d, qint64 t) {
    return progress(SnapshotActivity::Downloading, d, t);
  });
  if (s.isOk() && !out.flush()) s = Status::ioError("write " + path + ": " + out.errorString());
  out.close();
  *sha256 = sink.hex();
  if (!s.isOk()) {
    QFile::remove(path);
    return s.withContext("download " + entry.object);
  }
  return Status::ok();
}

// Download, then the checks in the order that touches least: size and checksum against the
// metadata (a truncated or corrupt file is refused before SQLite opens it), then SQLite's own.
Result<SnapshotContent> SnapshotService::fetchAndCheck(const SnapshotInfo& entry,
                                                       const QString& path) {
  QString sha;
  HL_RETURN_IF_ERROR(download(entry, path, &sha));
  const qint64 size = QFileInfo(path).size();
  if (entry.sizeBytes >= 0 && size != entry.sizeBytes)
    return Status::corruption(QStringLiteral("snapshot %1 is truncated or damaged: %2 bytes, "
                                             "its metadata says %3")
                                  .arg(entry.id)
                                  .arg(size)
                                  .arg(entry.sizeBytes));
  if (!entry.sha256.isEmpty() && sha != entry.sha256)
    return Status::corruption(
        QStringLiteral("snapshot %1: checksum mismatch (SHA-256 %2, its metadata says %3)")
            .arg(entry.id, sha, entry.sha256));
  setActivity(SnapshotActivity::Verifying, entry.id);
  auto content = inspectSnapshotFile(path, m_config.ignoreTables, sha);
  if (!content) {
    QString m = content.status().message();
    m.replace(QStringLiteral("snapshot file ") + path, QStringLiteral("snapshot ") + entry.id);
    return Status(content.status().code(), m);
  }
  return content;
}

Status SnapshotService::putSmall(const QString& name, const QByteArray& bytes) {
  QBuffer buf;
  buf.setData(bytes);
  buf.open(QIODevice::ReadOnly);
  return m_store->put(name, buf, bytes.size(), {}, {});
}

Result<QByteArray> SnapshotService::getSmall(const QString& name) {
  QBuffer buf;
  buf.open(QIODevice::WriteOnly);
  HL_RETURN_IF_ERROR(m_store->get(name, buf, [](qint64 done, qint64) {
    return done <= 1 << 20;  // metadata is small; refuse to buffer anything large
  }));
  return buf.data();
}

void SnapshotService::applyRetention() {
  const int keep = std::max(1, m_config.snapshot.keep);
  const QList<SnapshotInfo> old = beyondRetention(m_status.catalog, keep);
  for (const SnapshotInfo& i : old) {
    const QString meta = kSnapshotDir + i.id + ".json";
    Status s = m_store->remove(i.object);
    if (s.isOk() || s.code() == Status::Code::kNotFound) s = m_store->remove(meta);
    if (!s.isOk() && s.code() != Status::Code::kNotFound)
      qCWarning(lcSnapshot).noquote()
          << "retention: could not remove" << i.id << ":" << s.message();
    else
      qCInfo(lcSnapshot).noquote() << "retention: removed snapshot" << i.id;
  }
  // Halves left by interrupted saves or removals (a .db without its .json or the reverse),
  // once they are an hour old (a save under way writes the .db, then the .json).
  auto objects = m_store->list();
  if (objects) {
    QSet<QString> names;
    for (const StoreObject& o : *objects) names.insert(o.name);
    const QDateTime hourAgo = QDateTime::currentDateTimeUtc().addSecs(-3600);
    for (const StoreObject& o : *objects) {
      if (!o.modified.isValid() || o.modified > hourAgo) continue;
      if (isTemporaryName(o.name)) {  // an upload (webdav, sftp) that never finished
        if (m_store->remove(o.name).isOk())
          qCInfo(lcSnapshot).noquote() << "retention: removed the unfinished upload" << o.name;
        continue;
      }
      if (!o.name.startsWith(kSnapshotDir)) continue;
      const bool isDb = o.name.endsWith(QLatin1String(".db"));
      const bool isJson = o.name.endsWith(QLatin1String(".json"));
      const QString stem = o.name.left(o.name.lastIndexOf('.'));
      if ((isDb && !names.contains(stem + ".json")) || (isJson && !names.contains(stem + ".db"))) {
        if (m_store->remove(o.name).isOk())
          qCInfo(lcSnapshot).noquote() << "retention: removed the orphan" << o.name;
      }
    }
  }
  if (!old.isEmpty()) (void)readCatalog();
}

// Go's short "snapshot" key: one upload at a time across the cluster.
Status SnapshotService::takeUploadLock() {
  if (!m_lease) return Status::ok();  // no NATS (local store): nothing to coordinate with
  const LeaseState st = m_lease->tryAcquire(kUploadKey, kUploadLockTtlMs, nowMs());
  if (st.held) {
    m_lastUploadLockMs = nowMs();
    return Status::ok();
  }
  if (st.holder != 0)
    return Status::busy(QStringLiteral("node %1 is uploading a snapshot right now; try again "
                                       "in a few seconds")
                            .arg(st.holder));
  return Status::unavailable(
      "cannot take the upload lock: " +
      (st.error.isEmpty() ? QStringLiteral("another node took it") : st.error));
}

bool SnapshotService::stopping(qint64 requestId, SnapshotActivity operation) {
  if (!m_stopping) return false;
  emit finished(requestId, operation, false, QStringLiteral("the node is stopping"));
  return true;
}

bool SnapshotService::progress(SnapshotActivity activity, qint64 done, qint64 total) {
  if (m_status.activity != activity) setActivity(activity, m_status.activityTarget);
  // The first report of a size is shown at once (the dashboard shows what is being moved).
  const bool sizeNew = m_status.totalBytes == 0 && total > 0;
  m_status.doneBytes = done;
  m_status.totalBytes = std::max<qint64>(0, total);
  const qint64 elapsed = std::max<qint64>(1, nowMs() - m_activityStartMs);
  m_status.bytesPerSecond = double(done) * 1000.0 / double(elapsed);
  // A long upload keeps its lock (the other nodes see it held).
  if (activity == SnapshotActivity::Uploading && m_lease &&
      nowMs() - m_lastUploadLockMs > kUploadLockTtlMs / 3) {
    m_lease->tryAcquire(kUploadKey, kUploadLockTtlMs, nowMs());
    m_lastUploadLockMs = nowMs();
  }
  publish(sizeNew);
  return !m_cancel && !m_stopping;
}

void SnapshotService::setActivity(SnapshotActivity activity, const QString& target) {
  m_status.activity = activity;
  m_status.activityTarget = target;
  m_status.doneBytes = 0;
  m_status.totalBytes = 0;
  m_status.bytesPerSecond = 0;
  m_activityStartMs = nowMs();
  publish();
}

void SnapshotService::failure(const QString& kind) {
  for (auto& [k, n] : m_status.failures)
    if (k == kind) {
      ++n;
      return;
    }
  m_status.failures.append({kind, 1});
}

void SnapshotService::publish(bool force) {
  if (!force && nowMs() - m_lastPublishMs < kProgressEveryMs) return;
  m_lastPublishMs = nowMs();
  emit statusChanged(m_status);
}

}  // namespace hl
