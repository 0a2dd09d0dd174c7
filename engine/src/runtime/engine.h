// Engine: the orchestrator of one node, on the engine thread. It owns the node's resources
// (the database connection, the schema catalog, change capture, the applier, the replication
// state, the embedded nats-server when nats.urls is empty, the NATS client, the publisher and
// the consumer) and calls them in order, as LevelDB's DBImpl calls its parts; the components do
// not call back into it. What it does itself: start-up and its retry policy, the operator's
// controls (each carried out by the component that owns the data), gathering the status facts
// a few times per second (observe/status_builder.h) and the cluster status record
// (observe/status_record.h), and turning component signals into EngineEvents.
// Created by EngineThread (harmonylite/engine_thread.h) and moved to its thread; its slots are
// invoked with queued calls.
#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <functional>
#include <memory>

#include "cdc/change_log.h"
#include "harmonylite/config.h"
#include "harmonylite/consistency.h"
#include "harmonylite/engine_state.h"
#include "nats/request_thread.h"
#include "replication/shard_positions.h"
#include "sqlite/sqlite_db.h"

namespace hl {

class AlertRules;
class Applier;
class ChangeLog;
class Collisions;
class ConsistencyResponder;
class Consumer;
class DatabaseWatcher;
class HistoryStore;
class WalCheckpointer;
class EmbeddedServer;
class NatsClient;
class Publisher;
class ReplicationState;
class SchemaCatalog;
class SchemaRegistry;
class SnapshotService;
struct RestoreFile;
struct StatusFacts;

class Engine final : public QObject {
  Q_OBJECT
 public:
  explicit Engine(Config config);
  ~Engine() override;

 public slots:
  void start();
  void stop();
  // One of EngineThread::Control (as int), answered with controlDone().
  void control(int control, qint64 id, bool confirm, const QString& name);

 signals:
  void started();
  void failed(const QString& reason);
  void stopped();
  void statusChanged(const hl::NodeStatus& status);  // a few times per second
  void event(const hl::EngineEvent& event);          // as things happen
  // sleep_timeout: nothing was published or applied for that long (the host exits 0).
  void idleTimeout(qint64 idleMs);
  void controlDone(int control, bool ok, const QString& message);

 private:
  // Start-up, in order.
  Status openDatabase();
  Status setUpCapture();
  Status loadPositions();
  Status startEmbeddedServer();
  void onEmbeddedReady();  // the embedded server accepts clients for the first time: connect
  void makeNatsClient(const QStringList& urls);
  void tryConnect();
  void connectFailed(const Status& s);
  void laterForThisClient(int ms, void (Engine::*f)());
  void ensureStreams();
  void onConnected();
  void startReplication();
  void fail(const QString& reason);

  // Running.
  void onDatabaseChanged();  // schema changes and new local changes
  // Schema changes (docs/schema-changes.md): the catalog's hash into the state store's history
  // (so the previous hash survives restarts) and the known hashes to the consumer; what
  // follows a change of this node's schema; this node's registry entry and everyone's.
  void recordSchema();
  void onSchemaChanged(const QString& before);
  void publishSchema();
  void readRegistry();
  // The durability guard (docs/replication.md#durability): every kStreamCheckMs, each shard's
  // stream is compared with what this node applied and the creation time it had; a stream that
  // went back or was re-created is healed (positions back to what it holds, this node's kept
  // changes published again). checkStreams() asks JetStream on m_requests, from the positions
  // of one moment; judgeStreams() judges the answers against those, on this thread.
  struct StreamLook {  // what checkStreams() asks about each shard's stream, and the answers
    struct IdAnswer {
      bool ok = false;
      bool notFound = false;
      QByteArray id;
    };
    struct Shard {
      QString stream;
      quint64 applied = 0;    // this node's position when asked
      quint64 published = 0;  // the publisher's highest acked position when asked
      QByteArray ours;        // the id of the message this node applied last
      QList<quint64> idsAt;   // positions whose message id is asked for
      // divergence(): the position compared (0: none) and the id this node applied there.
      quint64 compareAt = 0;
      QByteArray compareOurs;
      // Answers.
      Status state = Status::unavailable("not asked");  // stays so for a look cut short
      bool missing = false;
      QString madeAgainError;
      quint64 first = 0, last = 0;
      qint64 created = 0;
      QHash<quint64, IdAnswer> ids;
    };
    QList<Shard> shards;  // index 0 is shard 1
    quint64 epoch = 0;    // m_guardEpoch when asked
  };
  void checkStreams();
  void judgeStreams(const StreamLook& look);
  void healStream(int shard, const QString& what, quint64 first, quint64 last);
  // What differs between the message this node applied last on `shard` and the one the stream
  // holds there ("" when they agree or cannot be compared now); rereadStream() acts on it.
  QString divergence(int shard, const StreamLook::Shard& a);
  // The NATS client and what uses it go (stop, the operator's reconnect): first the answers of
  // m_requests not yet handed over, after the request under way.
  void dropConnection();
  void rereadStream(int shard, const QString& what, quint64 first, quint64 last);
  // Moves the applied position of `shard` to `to` in one transaction with `also` (healStream(),
  // rereadStream()).
  Status moveAppliedPosition(int shard, quint64 to, const std::function<Status()>& also);
  static constexpr const char* kDiffers = "differs from what this node applied";
  // The newest of the consumer's checkpoints at or below `upTo` that the stream still holds
  // unchanged (0: none; docs/replication.md#durability).
  quint64 verifiedCheckpoint(int shard, quint64 first, quint64 upTo);
  static constexpr int kCheckpointLooks = 8;
  // Tells the change log what the snapshot store covers, by shard, so that kept changes a
  // snapshot holds can go before the horizon (docs/replication.md#durability).
  void updateSnapshotWatermarks();
  void runCleanup();
  void onStatusTick();
  void onStatusRecord(const QByteArray& json);
  StatusFacts gatherStatusFacts() const;
  NodeStatus currentStatus();  // builds it and tells a change of health as an event
  Status runControl(int control, qint64 id, bool confirm, const QString& name, QString* message);

  // Snapshots (docs/snapshots.md): the worker on its own thread does the slow parts; the
  // engine asks, and copies a checked snapshot into the live database itself.
  void startSnapshots();
  void stopSnapshots();
  Status requestSnapshot(int control, qint64 id, bool confirm, const QString& name,
                         qint64 requestId);
  void onSnapshotFinished(qint64 requestId, hl::SnapshotActivity operation, bool ok,
                          const QString& message);
  void setSnapshotEligible(bool eligible);  // SnapshotService::setEligible, queued
  void startRestore(const QString& id, bool force, qint64 requestId, const QString& reason);
  void onRestoreReady(qint64 requestId, const hl::RestoreFile& file);
  void applyRestore(qint64 requestId, const hl::RestoreFile& file, qint64 deadlineMs);
  // Each shard's stream bounds, asked on m_requests (index 0 is shard 1): where the restored
  // node resumes must still be in its stream (docs/snapshots.md#how).
  struct StreamBounds {
    Status state = Status::unavailable("not asked");  // stays so for a request cut short
    quint64 first = 0, last = 0;
  };
  void askRestoreBounds(qint64 requestId, const hl::RestoreFile& file, qint64 deadlineMs);
  void onRestoreBounds(qint64 requestId, const hl::RestoreFile& file, qint64 deadlineMs,
                       const QList<StreamBounds>& bounds);
  Status copySnapshotIn(const hl::RestoreFile& file, const QList<StreamBounds>& bounds,
                        QString* message);
  void finishRestore(qint64 requestId, bool ok, const QString& message);
  void onShardEvent(const hl::EngineEvent& e);

  // The cross-node consistency check (docs/consistency.md#in-the-appliance), in
  // engine_consistency.cpp: run on its own thread with its own NATS connection (this node
  // answers it like any other, on this thread); the result goes into the status.
  Status startConsistencyCheck(int control, quint64 repairFrom, bool confirm);
  void onConsistencyChecked(int control, quint64 repairFrom, const hl::Status& failed,
                            const hl::ClusterCheckReport& report);
  void stopConsistencyCheck();
  void fillConsistencyStatus(NodeStatus* s) const;
  void onIdle(qint64 idleMs);

  // Alerts and history (docs/alerts.md), in engine_alerts.cpp: every status built goes through
  // the rules and into the history file.
  void startObserving();
  void observe(NodeStatus* st);
  void stopObserving();

  Config m_config;
  // Applied position per shard, loaded at start. Declared before the publisher and the
  // consumer, which hold references to it, so that it outlives them (the consumer writes it
  // to the database and the seq-map file when it is destroyed).
  ShardPositions m_positions;
  WriteLockWindow m_writeLock;  // how long m_db's write transactions held the lock
  SqliteDb m_db;
  std::unique_ptr<SchemaCatalog> m_catalog;
  std::unique_ptr<ChangeLog> m_changeLog;
  std::unique_ptr<Applier> m_applier;
  std::unique_ptr<Collisions> m_collisions;
  std::unique_ptr<ReplicationState> m_state;
  std::unique_ptr<EmbeddedServer> m_embedded;
  std::unique_ptr<NatsClient> m_nats;
  std::unique_ptr<Publisher> m_publisher;
  std::unique_ptr<Consumer> m_consumer;
  std::unique_ptr<ConsistencyResponder> m_consistency;  // uses the consumer and the publisher
  std::unique_ptr<DatabaseWatcher> m_watcher;
  std::unique_ptr<WalCheckpointer> m_checkpointer;  // null: the engine's commits checkpoint
  std::unique_ptr<SchemaRegistry> m_registry;       // on m_nats's JetStream context
  QStringList m_urls;                               // the NATS servers in use
  int m_connectAttempts = 0;
  int m_streamAttempts = 0;
  bool m_streamsReady = false;     // this client connected and made or checked every stream
  quint64 m_clientGeneration = 0;  // makeNatsClient() counts: an older client's answers are void
  qint64 m_natsReconnects = 0;
  bool m_running = false;
  bool m_startedOnce = false;   // after the first start, connection failures never end the node
  bool m_captureStale = false;  // the schema changed but the triggers could not be re-created yet
  bool m_publishingPaused = false;
  QTimer m_cleanupTimer;               // cleanup_interval
  QTimer m_statusTimer;                // status cadence
  QTimer m_idleTimer;                  // sleep_timeout checks
  QTimer m_registryTimer;              // reads the schema registry, and writes this node's entry
  QTimer m_streamCheckTimer;           // the durability guard
  QHash<int, qint64> m_streamCreated;  // creation time (ns) of each shard's stream, as last seen
  // A stream that looked re-created or gone back at one reading: (what, since epoch ms), healed
  // only when the next reading, kConfirmStreamMs later, says the same.
  QHash<int, std::pair<QString, qint64>> m_streamSuspects;
  static constexpr int kConfirmStreamMs = 3000;
  qint64 m_streamIncidents = 0;
  qint64 m_streamRereads = 0;  // rereadStream()
  QString m_lastStreamReread;
  qint64 m_lastStreamRereadMs = 0;
  QHash<int, quint64> m_verifiedApplied;  // the applied position divergence() last found agreeing
  QHash<int, std::pair<quint64, QByteArray>> m_divergentAt;  // where it found a difference
  QString m_lastStreamIncident;
  qint64 m_lastStreamIncidentMs = 0;
  QHash<int, qint64> m_healedAtMs;      // when this node last healed each shard (epoch ms)
  qint64 m_droppedUncoveredBefore = 0;  // by change logs replaced since start (restores)
  int m_registryTicks = 0;
  QStringList m_knownHashes;  // every schema hash this node has had, newest first
  QList<SchemaNode> m_registryNodes;
  qint64 m_registryReadMs = 0;
  QString m_registryError;
  qint64 m_schemaChanges = 0;
  qint64 m_lastSchemaChangeMs = 0;
  qint64 m_lastActivityMs = 0;  // epoch ms of the last publish or apply (or the start)
  int m_statusTicks = 0;
  int m_cleanupBusy = 0;  // cleanups in a row that found the database locked
  // With cleanup_interval's 5 s: once a minute.
  static constexpr int kCleanupBusyWarnEvery = 12;
  struct LogCounts {  // gatherStatusFacts(): the pending count and its cost, the sweep's slice
    Result<int64_t> pending = int64_t(0);
    QElapsedTimer readAt;
    int sliceRows = 2000;  // of countSlice(), adapted to its cost
    qint64 costNs = 0;
  };
  mutable LogCounts m_logCounts;
  qint64 m_statusCostNs = 0;
  int m_lastHealth = -1;  // -1 unknown, 0 unhealthy, 1 healthy: HealthChanged events
  QString m_lastUnhealthyReason;
  QString m_instance;  // random per process: tells a second node with our id apart
  bool m_warnedDuplicateId = false;
  QHash<quint64, PeerStatus> m_peers;  // from status records, by node id
  QElapsedTimer m_uptime;
  // Snapshots.
  QThread m_snapshotThread;
  SnapshotService* m_snapshots = nullptr;  // lives on m_snapshotThread
  SnapshotStatus m_snapshotStatus;         // the worker's last report
  qint64 m_nextRequestId = 1;
  QHash<qint64, int> m_pendingControls;  // snapshot request id -> the operator's control
  bool m_restoring = false;
  QString m_restoreTarget;
  bool m_restoreForce = false;
  int m_restoreAttempts = 0;
  qint64 m_restores = 0;
  int m_autoRestoreFailures = 0;
  QTimer m_autoRestoreTimer;  // tries again while a shard needs a restore
  qint64 m_sleepRequestId = 0;
  // Consistency checks.
  QThread* m_checkThread = nullptr;
  std::atomic<bool> m_checkCancel{false};
  QTimer m_consistencyTimer;  // consistency.interval
  ConsistencyStatus m_consistencyStatus;
  qint64 m_sleepIdleMs = 0;
  // Alerts and history.
  std::unique_ptr<AlertRules> m_alertRules;
  std::unique_ptr<HistoryStore> m_history;
  qint64 m_startedMs = 0;
  qint64 m_natsDownSinceMs = 0;
  qint64 m_duplicateIdSeenMs = 0;  // last status record of another process with our node id
  double m_diskFreePercent = -1;
  qint64 m_diskCheckedMs = 0;
  // Requests that wait for JetStream's answer. Last: destroyed first, it waits for the request
  // under way, which uses m_nats and m_registry.
  bool m_streamLookAsked = false;  // a look of checkStreams() under way
  bool m_streamLookAgain = false;  // asked for meanwhile: another one when it is answered
  bool m_registryAsked = false;    // a reading of readRegistry() under way
  quint64 m_guardEpoch = 0;        // moves with the applied positions the guard does not expect
  // The restore whose stream bounds are asked for: run again when dropConnection() drops the
  // answer (empty: none asked).
  std::function<void()> m_restoreAgain;
  RequestThread m_requests{this};
};

}  // namespace hl
