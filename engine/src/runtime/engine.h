// Engine: the object that lives on the engine thread and owns the node's resources: the
// database connection, the schema catalog, change capture, the applier, the replication
// state, the embedded nats-server (when nats.urls is empty), the NATS client, the publisher
// and the consumer. Created by EngineThread and moved to its thread; its slots are invoked
// with queued calls.
#pragma once

#include <QElapsedTimer>
#include <QFileSystemWatcher>
#include <QHash>
#include <QObject>
#include <QTimer>

#include <memory>

#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"
#include "sqlite/sqlite_db.h"

namespace hl {

class Applier;
class ChangeLog;
class Consumer;
class EmbeddedServer;
class NatsClient;
class Publisher;
class ReplicationState;
class SchemaCatalog;

class Engine final : public QObject {
  Q_OBJECT
 public:
  explicit Engine(Config config);
  ~Engine() override;

 public slots:
  void start();
  void stop();
  // One of EngineThread::Control (as int), answered with controlDone().
  void control(int control, qint64 id, bool confirm);

 signals:
  void started();
  void failed(const QString& reason);
  void stopped();
  void statusChanged(const hl::NodeStatus& status);  // a few times per second
  // sleep_timeout: nothing was published or applied for that long (the host exits 0).
  void idleTimeout(qint64 idleMs);
  void controlDone(int control, bool ok, const QString& message);

 private:
  NodeStatus buildStatus();
  void onStatusTick();
  void onStatusRecord(const QByteArray& json);
  Status openDatabase();
  Status setUpCapture();
  Status startEmbeddedServer();
  void onEmbeddedReady();  // the embedded server accepts clients for the first time: connect
  void makeNatsClient(const QStringList& urls);
  Status runControl(int control, qint64 id, bool confirm, QString* message);
  Status retryDeadLetter(qint64 id);
  void tryConnect();
  void onConnected();
  void fail(const QString& reason);
  // Wake-up after the database (or its WAL) changed: schema changes and new local changes.
  void onDatabaseChanged();
  void watchFiles();
  void runCleanup();

  Config m_config;
  SqliteDb m_db;
  std::unique_ptr<SchemaCatalog> m_catalog;
  std::unique_ptr<ChangeLog> m_changeLog;
  std::unique_ptr<Applier> m_applier;
  std::unique_ptr<ReplicationState> m_state;
  std::unique_ptr<EmbeddedServer> m_embedded;
  std::unique_ptr<NatsClient> m_nats;
  std::unique_ptr<Publisher> m_publisher;
  std::unique_ptr<Consumer> m_consumer;
  QHash<QString, quint64> m_positions;
  int m_connectAttempts = 0;
  qint64 m_natsReconnects = 0;
  int m_streamAttempts = 0;
  bool m_running = false;
  bool m_captureStale = false;
  bool m_startedOnce = false;
  bool m_publishingPaused = false;  // after the first start, connection failures never end the node
  QStringList m_urls;  // the schema changed but the triggers could not be re-created yet
  QFileSystemWatcher m_watcher;
  QTimer m_wakeCoalescer;  // many file events -> one wake-up
  // Looks again 25 ms and 250 ms after the last file event: the event of the -wal write can
  // come before SQLite makes the commit visible (through the memory-mapped -shm, which raises
  // no event), and nothing else would wake the node until the next cleanup or poll.
  QTimer m_settleTimer;
  int m_settleStep = 0;
  QTimer m_pollTimer;      // polling_interval, when set
  QTimer m_cleanupTimer;   // cleanup_interval
  QTimer m_statusTimer;    // status cadence
  QTimer m_idleTimer;      // sleep_timeout checks
  qint64 m_lastActivityMs = 0;  // epoch ms of the last publish or apply (or the start)
  int m_statusTicks = 0;
  qint64 m_statusCostNs = 0;
  QString m_instance;           // random per process: tells a second node with our id apart
  bool m_warnedDuplicateId = false;
  QHash<quint64, PeerStatus> m_peers;  // from status records, by node id
  QElapsedTimer m_uptime;
};

}  // namespace hl
