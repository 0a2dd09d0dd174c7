// SnapshotService: the snapshot worker (docs/snapshots.md). It lives on a thread of its own,
// owned by the engine, so that making, uploading, downloading and checking a snapshot (seconds
// to minutes for a large database) never stalls replication. It owns its own NATS connection
// (for the object store and the leader lease), its store and the short-lived SQLite
// connections of each job; it never touches the engine's connection. The final step of a
// restore, copying the checked file into the live database, is the engine's (it owns that
// connection): the worker hands it a verified file (restoreReady).
//
// Jobs run one at a time, in the order asked. The leader (leader_lease.h) also takes snapshots
// on its own: every snapshot.interval ms, and when a shard's stream has grown by more than
// half of max_entries past the newest snapshot's watermark, so that a snapshot exists before
// the stream forgets what it covers.
// Thread: created on the engine thread, moved to its own; slots are called queued. cancel() is
// the one call safe from any thread.
#pragma once

#include <QHash>
#include <QMetaType>
#include <QObject>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <memory>

#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"
#include "nats/nats_handles.h"
#include "snapshot/catalog.h"
#include "snapshot/snapshot_file.h"

namespace hl {

class LeaderLease;
class LeaseKeeper;
class SnapshotStore;
struct LeaseState;

// A downloaded and checked snapshot, ready for the engine to copy in.
struct RestoreFile {
  QString path;                     // temp file in the state directory (the engine removes it)
  QString id;                       // catalogue id
  bool watermarkKnown = false;      // false for a snapshot without our metadata (Go's)
  QHash<QString, quint64> streams;  // the watermark: stream -> last sequence covered
};

class SnapshotService final : public QObject {
  Q_OBJECT
 public:
  SnapshotService(Config config, QStringList natsUrls);
  ~SnapshotService() override;

  // Thread-safe: the transfer under way stops at its next chunk, and jobs queued behind it end
  // at once (used before stopping).
  void cancel() {
    m_stopping = true;
    m_cancel = true;
  }

 public slots:
  void start();
  void stop();
  // `requestId` comes back in finished(); 0 for the engine's own requests.
  void save(const QString& reason, qint64 requestId);
  void verify(const QString& id, qint64 requestId);
  // Downloads and checks snapshot `id` ("" = the newest) for a restore: restoreReady() or
  // finished(..., false, why). `ourSchemaHash` and `haveTables` (the live database has watched
  // tables) decide whether a schema mismatch is refused; `force` lets it through.
  void fetchForRestore(const QString& id, const QString& ourSchemaHash, bool haveTables, bool force,
                       qint64 requestId);
  void refresh(qint64 requestId);
  // The leader's work before a sleep_timeout exit: a snapshot when this node holds the lease,
  // then finished(requestId, Saving, ok, ...) either way.
  void saveIfLeader(const QString& reason, qint64 requestId);
  // Whether this node may lead (LeaseKeeper::setEligible): false while a shard needs a restore.
  void setEligible(bool eligible);

 signals:
  void statusChanged(const hl::SnapshotStatus& status);
  void finished(qint64 requestId, hl::SnapshotActivity operation, bool ok, const QString& message);
  void restoreReady(qint64 requestId, const hl::RestoreFile& file);

 private:
  Status ensureStore();
  void onLease(const hl::LeaseState& state);
  void checkSchedule();
  Status runSave(const QString& reason, QString* message);
  Status runVerify(const QString& id, QString* message);
  Result<RestoreFile> runFetch(const QString& id, const QString& ourSchemaHash, bool haveTables,
                               bool force);
  Status readCatalog();
  Result<SnapshotInfo> findEntry(const QString& id);
  Status download(const SnapshotInfo& entry, const QString& path, QString* sha256);
  Result<SnapshotContent> fetchAndCheck(const SnapshotInfo& entry, const QString& path);
  Status putSmall(const QString& name, const QByteArray& bytes);
  Result<QByteArray> getSmall(const QString& name);
  void applyRetention();
  Status takeUploadLock();
  bool progress(SnapshotActivity activity, qint64 done, qint64 total);
  void setActivity(SnapshotActivity activity, const QString& target);
  void failure(const QString& kind);  // counted by kind for /metrics
  void publish(bool force = true);
  QString tempPath(const QString& what) const;

  Config m_config;
  QStringList m_urls;
  std::atomic<bool> m_cancel{false};
  std::atomic<bool> m_stopping{false};  // sticky: no job starts any more
  Result<QHash<QString, quint64>> ownPositions();
  bool stopping(qint64 requestId, SnapshotActivity operation);
  NatsConnectionPtr m_nc;
  std::unique_ptr<SnapshotStore> m_store;
  std::unique_ptr<LeaderLease> m_lease;  // the upload key, on this thread
  QThread* m_leaseThread = nullptr;      // the leader lease, kept on a thread of its own
  LeaseKeeper* m_keeper = nullptr;
  bool m_eligible = true;  // setEligible()
  QTimer* m_scheduleTimer = nullptr;
  SnapshotStatus m_status;
  QHash<QString, SnapshotMeta> m_metas;  // by id, from the last catalogue read
  qint64 m_activityStartMs = 0;
  qint64 m_startedMs = 0;
  qint64 m_lastPublishMs = 0;
  qint64 m_lastUploadLockMs = 0;
  qint64 m_retryAfterMs = 0;  // scheduled saves back off after a failure
  int m_failureStreak = 0;
};

}  // namespace hl

Q_DECLARE_METATYPE(hl::RestoreFile)
Q_DECLARE_METATYPE(hl::SnapshotStatus)
