#include "runtime/engine.h"

#include <QDateTime>
#include <QDeadlineTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>

#include <climits>
#include <memory>

#include "harmonylite/engine.h"
#include "harmonylite/version.h"
#include "cdc/change_log.h"
#include "nats/embedded_server.h"
#include "nats/nats_client.h"
#include "replication/applier.h"
#include "replication/consumer.h"
#include "replication/publisher.h"
#include "replication/state_store.h"
#include "schema/catalog.h"
#include "wire/cbor_codec.h"

Q_LOGGING_CATEGORY(lcEngine, "hl.engine")

namespace {
constexpr int kStartBusyTimeoutMs = 30000;
constexpr int kStatusIntervalMs = 500;
constexpr int kStatusRecordEveryTicks = 4;  // a status record every 2 s
}

namespace hl {

// Members that are QObjects get the engine as parent so that moveToThread() takes them along.
Engine::Engine(Config config)
    : m_config(std::move(config)), m_watcher(this), m_wakeCoalescer(this), m_settleTimer(this), m_pollTimer(this),
      m_cleanupTimer(this), m_statusTimer(this), m_idleTimer(this) {
  connect(&m_idleTimer, &QTimer::timeout, this, [this] {
    const qint64 idle = QDateTime::currentMSecsSinceEpoch() - m_lastActivityMs;
    if (m_config.sleepTimeoutMs > 0 && idle >= m_config.sleepTimeoutMs) {
      m_idleTimer.stop();
      qCInfo(lcEngine) << "nothing published or applied for" << idle << "ms: sleep_timeout reached";
      emit idleTimeout(idle);
    }
  });
  qRegisterMetaType<NodeStatus>();
  connect(&m_statusTimer, &QTimer::timeout, this, &Engine::onStatusTick);
  m_instance = QString::number(QRandomGenerator::system()->generate64(), 16);
  m_wakeCoalescer.setSingleShot(true);
  connect(&m_wakeCoalescer, &QTimer::timeout, this, &Engine::onDatabaseChanged);
  m_settleTimer.setSingleShot(true);
  connect(&m_settleTimer, &QTimer::timeout, this, [this] {
    onDatabaseChanged();
    if (m_settleStep++ == 0) m_settleTimer.start(225);
  });
  auto onFileEvent = [this] {
    if (!m_wakeCoalescer.isActive()) m_wakeCoalescer.start(0);
    m_settleStep = 0;
    m_settleTimer.start(25);
  };
  connect(&m_watcher, &QFileSystemWatcher::fileChanged, this, onFileEvent);
  connect(&m_watcher, &QFileSystemWatcher::directoryChanged, this, [this, onFileEvent] {
    watchFiles();  // the -wal file may have appeared
    onFileEvent();
  });
  connect(&m_pollTimer, &QTimer::timeout, this, &Engine::onDatabaseChanged);
  connect(&m_cleanupTimer, &QTimer::timeout, this, &Engine::runCleanup);
}

Engine::~Engine() = default;

Status Engine::openDatabase() {
  const QString dir = m_config.stateDir();
  if (!QDir().mkpath(dir))
    return Status::ioError(QStringLiteral("cannot create the directory %1").arg(dir));
  auto db = SqliteDb::open(m_config.dbPath);
  if (!db) return db.status();
  m_db = std::move(db.value());
  // A quick read proves the file is a database (sqlite3_open_v2 is lazy).
  auto tables = m_db.queryInt(QStringLiteral("SELECT count(*) FROM sqlite_schema"));
  if (!tables) return tables.status().withContext(QStringLiteral("read %1").arg(m_config.dbPath));
  // WAL lets the application read while the engine writes, and the engine read while the
  // application writes. It stays set on the file.
  if (Status s = m_db.exec(QStringLiteral("PRAGMA journal_mode=WAL")); !s.isOk())
    qCWarning(lcEngine).noquote() << "could not switch" << m_config.dbPath << "to WAL:" << s.message();
  // For the engine's own connection only: in WAL mode NORMAL survives any process crash
  // (kill -9); a power loss can undo its last commits, and then rows and positions go back
  // together and the messages are applied again from the stream, or published changes are sent
  // again under the same Nats-Msg-Id. The application's connections keep their own setting.
  (void)m_db.exec(QStringLiteral("PRAGMA synchronous=NORMAL"));
  return Status::ok();
}

Status Engine::setUpCapture() {
  m_catalog = std::make_unique<SchemaCatalog>(m_db, m_config.ignoreTables);
  HL_RETURN_IF_ERROR(m_catalog->reload().withContext("read schema"));
  m_changeLog = std::make_unique<ChangeLog>(m_db, *m_catalog);
  m_applier = std::make_unique<Applier>(m_db, *m_catalog);
  // At start the application may be in the middle of a write transaction: wait for it longer
  // than the engine's usual short busy timeout.
  sqlite3_busy_timeout(m_db.handle(), kStartBusyTimeoutMs);
  const Status installed = m_config.publish ? m_changeLog->install() : m_changeLog->removeTriggers();
  sqlite3_busy_timeout(m_db.handle(), SqliteDb::Options{}.busyTimeoutMs);
  HL_RETURN_IF_ERROR(installed);
  if (!m_config.publish) {
    qCInfo(lcEngine) << "publish = false: local changes are not captured (read replica)";
  }
  QStringList names;
  for (const TableInfo& t : m_catalog->tables()) names << t.name;
  qCInfo(lcEngine).noquote() << "database" << m_config.dbPath << "watching"
                             << m_catalog->tables().size() << "tables" << names
                             << "schema hash" << m_catalog->schemaHash();
  if (!m_catalog->skippedTables().isEmpty())
    qCInfo(lcEngine).noquote() << "not replicated (virtual, shadow or ignored):"
                               << m_catalog->skippedTables();
  return Status::ok();
}

void Engine::watchFiles() {
  QStringList paths{m_config.stateDir(), m_config.dbPath, m_config.dbPath + "-wal"};
  for (const QString& p : paths)
    if (QFileInfo::exists(p) && !m_watcher.files().contains(p) && !m_watcher.directories().contains(p))
      m_watcher.addPath(p);
}

void Engine::onDatabaseChanged() {
  if (!m_catalog) return;
  auto changed = m_catalog->refresh();
  if (!changed) {
    qCWarning(lcEngine).noquote() << "schema check failed:" << changed.status().message();
    return;
  }
  if ((*changed || m_captureStale) && m_config.publish) {
    // Busy while the application writes: kept stale and tried again at the next wake-up.
    const Status s = m_changeLog->install();
    m_captureStale = !s.isOk();
    if (m_captureStale) {
      qCDebug(lcEngine).noquote() << "re-installing capture deferred:" << s.message();
      m_wakeCoalescer.start(50);
    }
  }
  if (m_publisher) m_publisher->wake();
}

void Engine::runCleanup() {
  if (!m_changeLog || !m_config.publish) return;
  auto removed = m_changeLog->cleanup();
  if (!removed)
    qCWarning(lcEngine).noquote() << "cleanup failed:" << removed.status().message();
  else if (*removed > 0)
    qCDebug(lcEngine) << "cleanup removed" << *removed << "published changes";
}

void Engine::fail(const QString& reason) {
  m_running = false;
  emit failed(reason);
}

// Launches the server and returns; start() goes on in onEmbeddedReady(), or fails, when the
// server says so. No nested event loop: a stop() queued meanwhile runs after this returns, and
// destroying the server cuts these connections, so nothing goes on after it.
Status Engine::startEmbeddedServer() {
  m_embedded = std::make_unique<EmbeddedServer>(EmbeddedServer::fromConfig(m_config));
  connect(m_embedded.get(), &EmbeddedServer::stateChanged, this, [](EmbeddedServer::State state) {
    static const char* const kNames[] = {"stopped", "starting", "running", "restarting", "failed"};
    qCInfo(lcEngine) << "embedded nats-server" << kNames[int(state)];
  });
  // ready() comes again after each restart: only the first one goes on with the start.
  connect(m_embedded.get(), &EmbeddedServer::ready, this, &Engine::onEmbeddedReady,
          Qt::SingleShotConnection);
  connect(m_embedded.get(), &EmbeddedServer::startFailed, this, [this](const Status& error) {
    fail(error.withContext("embedded nats-server").message());
  });
  return m_embedded->start().withContext("embedded nats-server");
}

void Engine::onEmbeddedReady() {
  m_running = true;
  makeNatsClient(QStringList{m_embedded->clientUrl()});
  tryConnect();
}

void Engine::onStatusTick() {
  QElapsedTimer cost;
  cost.start();
  const NodeStatus st = buildStatus();
  emit statusChanged(st);
  m_statusCostNs += cost.nsecsElapsed();
  if (m_statusTicks % 120 == 119) {  // once a minute, for whoever measures it (debug level)
    qCDebug(lcEngine) << "status model: built in" << m_statusCostNs / 120 / 1000 << "us on average";
    m_statusCostNs = 0;
  }
  // Every 2 s, a compact record for the other nodes (docs/replication.md#health-endpoint).
  if (++m_statusTicks % kStatusRecordEveryTicks != 0 || !m_nats || !m_nats->isConnected()) return;
  qint64 lag = 0;
  double lagSeconds = 0;
  QStringList states;
  for (const ShardStatus& sh : st.shards) {
    lag += sh.lagMessages;
    lagSeconds = std::max(lagSeconds, sh.lagSeconds);
    states << QStringLiteral("%1:%2").arg(sh.shard).arg(sh.state);
  }
  const QJsonObject record{{"node_id", qint64(st.nodeId)},  {"instance", m_instance},
                           {"version", st.version},         {"healthy", st.healthy},
                           {"reason", st.unhealthyReason},  {"schema_hash", st.schemaHash},
                           {"lag_messages", lag},           {"lag_seconds", lagSeconds},
                           {"shards", states.join(' ')}};
  if (Status s = m_nats->publishStatusRecord(QJsonDocument(record).toJson(QJsonDocument::Compact)); !s.isOk())
    qCDebug(lcEngine).noquote() << s.message();
}

void Engine::onStatusRecord(const QByteArray& json) {
  QJsonParseError error;
  const QJsonObject o = QJsonDocument::fromJson(json.left(64 * 1024), &error).object();
  const qint64 id = o.value("node_id").toInteger(-1);
  if (error.error != QJsonParseError::NoError || id <= 0) {
    qCDebug(lcEngine) << "ignored a malformed status record";
    return;
  }
  if (quint64(id) == m_config.nodeId && o.value("instance").toString() != m_instance) {
    if (!m_warnedDuplicateId)
      qCWarning(lcEngine) << "another node uses node id" << id << "(cloned image?): give each node its own node_id";
    m_warnedDuplicateId = true;
    return;
  }
  PeerStatus p;
  p.nodeId = quint64(id);
  p.version = o.value("version").toString().left(64);
  p.lastSeenMs = QDateTime::currentMSecsSinceEpoch();
  p.healthy = o.value("healthy").toBool();
  p.reason = o.value("reason").toString().left(256);
  p.schemaHash = o.value("schema_hash").toString().left(64);
  p.lagMessages = o.value("lag_messages").toInteger();
  p.lagSeconds = o.value("lag_seconds").toDouble();
  p.shardStates = o.value("shards").toString().left(256);
  m_peers.insert(p.nodeId, p);
}

NodeStatus Engine::buildStatus() {
  static const char* const kServerStates[] = {"stopped", "starting", "running", "restarting", "failed"};
  NodeStatus st;
  st.nodeId = m_config.nodeId;
  st.version = versionInfo().version;
  st.uptimeSeconds = m_uptime.isValid() ? m_uptime.elapsed() / 1000 : 0;
  st.dbPath = m_config.dbPath;
  st.dbSizeBytes = QFileInfo(m_config.dbPath).size();
  st.walSizeBytes = QFileInfo(m_config.dbPath + "-wal").size();
  st.natsReconnects = m_natsReconnects;
  st.dbConnected = m_db.isOpen();
  st.natsConnected = m_nats && m_nats->isConnected();
  st.natsServer = m_nats ? m_nats->connectedUrl() : QString();
  if (m_embedded) st.embeddedServer = QLatin1String(kServerStates[int(m_embedded->state())]);
  st.cdcInstalled = m_changeLog && !m_captureStale;
  st.tablesTracked = m_catalog ? int(m_catalog->tables().size()) : 0;
  st.schemaHash = m_catalog ? m_catalog->schemaHash() : QString();
  if (m_changeLog) {
    st.pendingChanges = m_changeLog->pendingCount().ok() ? *m_changeLog->pendingCount() : -1;
    st.failedChanges = m_changeLog->failedCount().ok() ? *m_changeLog->failedCount() : -1;
  }
  if (m_publisher) {
    st.published = m_publisher->stats().published;
    st.failedPublishes = m_publisher->stats().failedPublishes;
    st.lastPublishedMs = m_publisher->stats().lastPublishedMs;
  }
  st.publishingPaused = m_publishingPaused;
  if (m_state) {
    if (auto n = m_state->deadLetterCount(); n) st.deadLetterCount = *n;
    if (auto n = m_state->conflictCount(); n) st.conflictCount = *n;
    if (auto l = m_state->recentDeadLetters(20); l) st.recentDeadLetters = *l;
    if (auto l = m_state->recentConflicts(20); l) st.recentConflicts = *l;
  }
  QString stalled;
  if (m_consumer) {
    for (int shard = 1; shard <= m_consumer->shardCount(); ++shard) {
      const Consumer::ShardStatus& c = m_consumer->status(shard);
      ShardStatus s;
      s.shard = shard;
      s.stream = m_config.streamName(shard);
      s.applied = c.applied;
      s.received = c.received;
      s.lagMessages = m_consumer->lagMessages(shard);
      s.lagSeconds = m_consumer->lagSeconds(shard);
      s.state = c.state == Consumer::ShardState::kRunning        ? QStringLiteral("running")
                : c.state == Consumer::ShardState::kNeedsRestore ? QStringLiteral("needs-restore")
                : c.state == Consumer::ShardState::kPaused       ? QStringLiteral("paused")
                                                                 : QStringLiteral("stopped");
      s.lastError = c.lastError;
      s.appliedChanges = c.appliedChanges;
      s.conflicts = c.conflicts;
      s.deadLetters = c.deadLetters;
      st.lastReplicatedMs = std::max(st.lastReplicatedMs, c.lastAppliedMs);
      if (stalled.isEmpty() && s.state != QLatin1String("running") && s.state != QLatin1String("paused"))
        stalled = QStringLiteral("shard %1 is %2%3").arg(shard).arg(s.state,
                                 s.lastError.isEmpty() ? QString() : ": " + s.lastError);
      st.shards.append(s);
    }
  }
  for (const PeerStatus& p : m_peers) st.cluster.append(p);
  if (!st.dbConnected) st.unhealthyReason = QStringLiteral("database not open");
  else if (!st.natsConnected) st.unhealthyReason = QStringLiteral("NATS not connected");
  else if (m_config.publish && !st.cdcInstalled) st.unhealthyReason = QStringLiteral("change capture not installed");
  else if (!stalled.isEmpty()) st.unhealthyReason = stalled;
  st.healthy = st.unhealthyReason.isEmpty();
  return st;
}

void Engine::start() {
  m_uptime.start();
  Status s = openDatabase();
  if (s.isOk()) {  // before the catalog reads the schema, so that it does not change after
    m_state = std::make_unique<ReplicationState>(m_db);
    s = m_state->ensureTables();
  }
  if (s.isOk()) s = setUpCapture();
  if (s.isOk()) {
    auto positions = m_state->loadPositions(m_config.effectiveSeqMapPath());
    if (positions) m_positions = *positions;
    else s = positions.status().withContext("read applied positions");
  }
  const bool embedded = m_config.nats.urls.isEmpty();
  if (s.isOk() && embedded) s = startEmbeddedServer();
  if (!s.isOk()) {
    fail(s.message());
    return;
  }
  if (embedded) return;  // onEmbeddedReady() goes on once the server accepts clients
  m_running = true;
  makeNatsClient(m_config.nats.urls);
  tryConnect();
}

void Engine::makeNatsClient(const QStringList& urls) {
  m_urls = urls;
  m_nats = std::make_unique<NatsClient>(m_config, urls);
  connect(m_nats.get(), &NatsClient::disconnected, this, [this] {
    qCWarning(lcEngine) << "NATS connection lost; reconnecting (local changes are kept)";
    if (m_publisher) m_publisher->setConnected(false);
  });
  connect(m_nats.get(), &NatsClient::reconnected, this, [this] {
    qCInfo(lcEngine).noquote() << "NATS reconnected to" << m_nats->connectedUrl();
    ++m_natsReconnects;
    if (m_consumer) m_consumer->resubscribeAll();  // consumers may be gone after a server restart
    if (m_publisher) m_publisher->setConnected(true);
  });
  connect(m_nats.get(), &NatsClient::asyncError, this, [this](const QString& error, int shard) {
    qCWarning(lcEngine).noquote() << "NATS:" << error << (shard ? QStringLiteral("(shard %1)").arg(shard) : QString());
    if (shard > 0 && m_consumer) m_consumer->resubscribe(shard);  // missed heartbeats: stalled
  });
}

void Engine::tryConnect() {
  if (!m_running) return;
  ++m_connectAttempts;
  const Status s = m_nats->connect();
  if (s.isOk()) {
    onConnected();
    return;
  }
  // connect_retries bounds only this first connection (docs/replication.md#nats); the embedded server we just
  // started gets the same bound.
  const int attempts = std::max(1, m_config.nats.connectRetries);
  if (m_connectAttempts >= attempts && !m_startedOnce) {
    fail(QStringLiteral("cannot connect to NATS after %1 attempts: %2").arg(m_connectAttempts).arg(s.message()));
    return;
  }
  qCWarning(lcEngine).noquote() << s.message() << QStringLiteral("(attempt %1 of %2)").arg(m_connectAttempts).arg(attempts);
  QTimer::singleShot(std::max(100, m_config.nats.reconnectWaitSeconds * 1000), this, &Engine::tryConnect);
}

void Engine::onConnected() {
  if (!m_running) return;
  // A clustered JetStream may not answer right after a restart (docs/wire-format.md#streams: 5 attempts, 2 s apart).
  ++m_streamAttempts;
  if (Status s = m_nats->ensureStreams(); !s.isOk()) {
    if (m_streamAttempts >= 5) {
      fail(s.message());
      return;
    }
    qCWarning(lcEngine).noquote() << s.message() << "- retrying";
    QTimer::singleShot(2000, this, &Engine::onConnected);
    return;
  }
  if (m_config.publish) {
    m_publisher = std::make_unique<Publisher>(
        m_config, m_db, *m_changeLog, *m_catalog, *m_state, *m_nats,
        [this](int shard) { return m_consumer ? m_consumer->applied(shard) : quint64(0); });
    connect(m_nats.get(), &NatsClient::published, m_publisher.get(), &Publisher::onPublished);
  }
  if (m_config.replicate) {
    m_consumer = std::make_unique<Consumer>(m_config, m_db, *m_catalog, *m_applier, *m_state, *m_nats,
                                            m_publisher.get());
    connect(m_nats.get(), &NatsClient::received, m_consumer.get(), &Consumer::onReceived);
    m_consumer->start(m_positions);
  } else {
    qCInfo(lcEngine) << "replicate = false: changes from other nodes are not applied";
  }
  watchFiles();
  if (m_config.pollingIntervalMs > 0) m_pollTimer.start(int(std::min<int64_t>(m_config.pollingIntervalMs, INT_MAX)));
  // cleanup_interval = 0 means "at once": the publisher cleans after each round (no timer).
  if (m_config.cleanupIntervalMs > 0)
    m_cleanupTimer.start(int(std::min<int64_t>(m_config.cleanupIntervalMs, INT_MAX)));
  if (m_publisher) m_publisher->setConnected(true);
  m_statusTimer.start(kStatusIntervalMs);
  if (m_publisher) m_publisher->setPaused(m_publishingPaused);
  connect(m_nats.get(), &NatsClient::statusRecord, this, &Engine::onStatusRecord);
  if (Status s = m_nats->subscribeStatusRecords(); !s.isOk()) qCWarning(lcEngine).noquote() << s.message();
  if (m_config.sleepTimeoutMs > 0) {
    auto active = [this] { m_lastActivityMs = QDateTime::currentMSecsSinceEpoch(); };
    active();
    if (m_publisher)
      connect(m_publisher.get(), &Publisher::roundFinished, this, [active](int published, int) {
        if (published > 0) active();
      });
    if (m_consumer)
      connect(m_consumer.get(), &Consumer::batchApplied, this, [active](int, int) { active(); });
    if (!m_idleTimer.isActive())
      m_idleTimer.start(int(std::clamp<int64_t>(m_config.sleepTimeoutMs / 4, 50, 1000)));
  }
  if (m_startedOnce) {  // connected again after the operator's reconnect
    qCInfo(lcEngine).noquote() << "reconnected to" << m_nats->connectedUrl();
    emit statusChanged(buildStatus());
    return;
  }
  m_startedOnce = true;
  qCInfo(lcEngine).noquote() << "replicating:" << m_config.replicationLog.shards << "shard(s) on"
                             << m_nats->connectedUrl() << (m_config.publish ? "publish" : "no publish")
                             << (m_config.replicate ? "replicate" : "no replicate");
  emit started();
}

void Engine::stop() {
  m_running = false;
  m_statusTimer.stop();
  m_idleTimer.stop();
  m_pollTimer.stop();
  m_cleanupTimer.stop();
  m_wakeCoalescer.stop();
  m_settleTimer.stop();
  if (const QStringList watched = m_watcher.files() + m_watcher.directories(); !watched.isEmpty())
    m_watcher.removePaths(watched);  // (Qt warns on an empty list: a node that failed to start)
  m_consumer.reset();
  m_publisher.reset();
  m_nats.reset();
  if (m_embedded) m_embedded->stop();
  m_embedded.reset();
  m_state.reset();
  m_applier.reset();
  m_changeLog.reset();
  m_catalog.reset();
  m_db = SqliteDb();
  emit stopped();
}

void Engine::control(int control, qint64 id, bool confirm) {
  QString message;
  const Status s = runControl(control, id, confirm, &message);
  if (!s.isOk()) message = s.message();
  qCInfo(lcEngine).noquote() << "control" << control << (s.isOk() ? "done:" : "refused:") << message;
  emit statusChanged(buildStatus());  // the effect shows at once, before the answer arrives
  emit controlDone(control, s.isOk(), message);
}

Status Engine::runControl(int control, qint64 id, bool confirm, QString* message) {
  using C = EngineThread::Control;
  if (!m_running || !m_db.isOpen()) return Status::unavailable("the node is not running");
  switch (C(control)) {
    case C::kPausePublishing:
    case C::kResumePublishing:
      if (!m_config.publish) return Status::invalidArgument("publish = false: nothing to pause");
      m_publishingPaused = C(control) == C::kPausePublishing;
      if (m_publisher) m_publisher->setPaused(m_publishingPaused);
      *message = m_publishingPaused ? "publishing paused" : "publishing resumed";
      return Status::ok();
    case C::kPauseApplying:
    case C::kResumeApplying: {
      if (!m_consumer) return Status::invalidArgument("replicate = false or not connected: nothing applies");
      HL_RETURN_IF_ERROR(C(control) == C::kPauseApplying ? m_consumer->pause(int(id)) : m_consumer->resume(int(id)));
      *message = QStringLiteral("applying %1 %2")
                     .arg(C(control) == C::kPauseApplying ? "paused" : "resumed",
                          id ? QStringLiteral("for shard %1").arg(id) : QStringLiteral("for every shard"));
      return Status::ok();
    }
    case C::kReconnectNats: {
      QHash<QString, quint64> positions = m_positions;
      if (m_consumer)
        for (int shard = 1; shard <= m_consumer->shardCount(); ++shard)
          positions.insert(m_config.streamName(shard), m_consumer->applied(shard));
      m_consumer.reset();
      m_publisher.reset();
      m_nats.reset();
      m_positions = positions;
      m_connectAttempts = 0;
      m_streamAttempts = 0;
      makeNatsClient(m_urls);
      QTimer::singleShot(0, this, &Engine::tryConnect);
      *message = "reconnecting to NATS";
      return Status::ok();
    }
    case C::kRetryDeadLetter:
      HL_RETURN_IF_ERROR(retryDeadLetter(id));
      *message = QStringLiteral("dead letter %1 applied").arg(id);
      return Status::ok();
    case C::kDiscardDeadLetter:
      if (!confirm) return Status::invalidArgument("discarding a dead letter loses it: confirm it");
      HL_RETURN_IF_ERROR(m_state->deleteDeadLetter(id));
      *message = QStringLiteral("dead letter %1 discarded").arg(id);
      return Status::ok();
    case C::kRetryFailedPublishes: {
      if (!m_changeLog || !m_publisher) return Status::invalidArgument("publish = false or not connected");
      auto first = m_db.queryInt("SELECT coalesce(min(id), 0) FROM __harmonylite__changes WHERE state = 2");
      if (!first) return first.status();
      HL_RETURN_IF_ERROR(m_db.exec("UPDATE __harmonylite__changes SET state = NULL, error = NULL WHERE state = 2"));
      const int n = m_db.changes();
      if (*first > 0) m_publisher->rewindTo(*first);
      *message = QStringLiteral("%1 failed change(s) back to pending").arg(n);
      return Status::ok();
    }
    case C::kClearConflicts:
      if (!confirm) return Status::invalidArgument("clearing the conflict journal loses it: confirm it");
      HL_RETURN_IF_ERROR(m_state->clearConflicts());
      *message = "conflict journal cleared";
      return Status::ok();
  }
  return Status::invalidArgument(QStringLiteral("unknown control %1").arg(control));
}

Status Engine::retryDeadLetter(qint64 id) {
  QString stream;
  auto payload = m_state->deadLetterPayload(id, &stream);
  if (!payload) return payload.status();
  auto change = decodeMessage(*payload);
  if (!change) {
    HL_RETURN_IF_ERROR(m_state->updateDeadLetterReason(id, change.status().message()));
    return change.status();
  }
  auto applied = m_applier->applyBatch({*change}, [&](const Applier::BatchResult& r) -> Status {
    if (r.outcomes.value(0).isOk()) return m_state->deleteDeadLetter(id);
    return Status::ok();
  });
  if (!applied) return applied.status();
  const Status outcome = applied->outcomes.value(0);
  if (!outcome.isOk()) {
    HL_RETURN_IF_ERROR(m_state->updateDeadLetterReason(id, outcome.message()));
    return outcome;
  }
  return Status::ok();
}

Status removeCaptureObjects(const QString& dbPath) {
  if (!QFileInfo::exists(dbPath))
    return Status::notFound(QStringLiteral("database %1 does not exist").arg(dbPath));
  auto db = SqliteDb::open(dbPath, SqliteDb::Options{false, false, 5000});
  if (!db) return db.status();
  return ChangeLog::uninstall(*db).withContext(QStringLiteral("cleanup of %1").arg(dbPath));
}

EngineThread::EngineThread(Config config, QObject* parent) : QObject(parent) {
  m_thread.setObjectName(QStringLiteral("hl-engine"));
  m_engine = new Engine(std::move(config));
  m_engine->moveToThread(&m_thread);
  connect(&m_thread, &QThread::finished, m_engine, &QObject::deleteLater);
  connect(&m_thread, &QThread::finished, this, &EngineThread::finished);
  connect(m_engine, &Engine::started, this, &EngineThread::started);
  connect(m_engine, &Engine::failed, this, &EngineThread::failed);
  connect(m_engine, &Engine::stopped, this, &EngineThread::stopped);
  connect(m_engine, &Engine::statusChanged, this, &EngineThread::statusChanged);
  connect(m_engine, &Engine::idleTimeout, this, &EngineThread::idleTimeout);
  connect(m_engine, &Engine::controlDone, this, [this](int control, bool ok, const QString& message) {
    emit controlDone(Control(control), ok, message);
  });
}

EngineThread::~EngineThread() { stop(); }

void EngineThread::control(Control control, qint64 id, bool confirm) {
  QMetaObject::invokeMethod(m_engine, [e = m_engine, control, id, confirm] { e->control(int(control), id, confirm); },
                            Qt::QueuedConnection);
}

void EngineThread::start() {
  m_thread.start();
  QMetaObject::invokeMethod(m_engine, &Engine::start, Qt::QueuedConnection);
}

void EngineThread::requestStop() {
  if (!m_thread.isRunning() || m_stopRequested) return;
  m_stopRequested = true;
  QMetaObject::invokeMethod(
      m_engine,
      [e = m_engine] {
        e->stop();
        QThread::currentThread()->quit();
      },
      Qt::QueuedConnection);
}

bool EngineThread::stop(int timeoutMs) {
  if (!m_thread.isRunning()) return true;
  // The same stop as requestStop() (Engine::stop, then the thread's loop ends), waited for with
  // a deadline: a host stopping on SIGTERM must not hang behind a stuck NATS or SQLite call.
  requestStop();
  if (!m_thread.wait(QDeadlineTimer(timeoutMs))) {
    qCCritical(lcEngine) << "the engine did not stop within" << timeoutMs << "ms";
    return false;
  }
  return true;
}

}  // namespace hl
