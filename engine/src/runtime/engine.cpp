#include "runtime/engine.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QMetaEnum>
#include <QRandomGenerator>

#include <algorithm>
#include <climits>
#include <limits>
#include <utility>

#include "cdc/change_log.h"
#include "harmonylite/engine_thread.h"
#include "harmonylite/version.h"
#include "nats/embedded_server.h"
#include "nats/nats_client.h"
#include "observe/alert_rules.h"
#include "observe/history_store.h"
#include "observe/status_builder.h"
#include "observe/status_record.h"
#include "replication/applier.h"
#include "replication/collisions.h"
#include "replication/consumer.h"
#include "replication/publisher.h"
#include "replication/schema_registry.h"
#include "replication/state_store.h"
#include "runtime/consistency_responder.h"
#include "runtime/database_watcher.h"
#include "runtime/wal_checkpointer.h"
#include "schema/catalog.h"
#include "snapshot/snapshot_file.h"
#include "snapshot/snapshot_service.h"

Q_LOGGING_CATEGORY(lcEngine, "hl.engine")

namespace hl {
namespace {
constexpr int kStartBusyTimeoutMs = 30000;
constexpr int kStatusIntervalMs = 500;
constexpr int kStatusRecordEveryTicks = 4;  // a status record every 2 s
constexpr int kRecentListSize = 20;         // dead letters and conflicts in the status
constexpr int kRestoreAttempts = 10;        // copies started again after application writes
// The schema registry (docs/schema-changes.md#registry): read every 10 s, this node's entry
// written at start, on every change and every minute (the bucket's max age is 5 minutes).
constexpr int kRegistryReadMs = 10000;
constexpr int kRegistryWriteEveryTicks = 6;
constexpr int kStreamCheckMs = 5000;  // the durability guard's look at every stream
constexpr int kCleanupAgainMs = 20;   // after a cleanup that stopped at its work budget
// Work of each status on counting the change log (ChangeLog::countSlice()).
constexpr qint64 kCountSliceUs = 1000;

int clampMs(int64_t ms) {
  return int(std::clamp<int64_t>(ms, 0, INT_MAX));
}

ServerState toServerState(EmbeddedServer::State state) {
  switch (state) {
    case EmbeddedServer::State::kStopped:
      return ServerState::Stopped;
    case EmbeddedServer::State::kStarting:
      return ServerState::Starting;
    case EmbeddedServer::State::kRunning:
      return ServerState::Running;
    case EmbeddedServer::State::kRestarting:
      return ServerState::Restarting;
    case EmbeddedServer::State::kFailed:
      return ServerState::Failed;
  }
  return ServerState::Stopped;
}
}  // namespace

// Members that are QObjects get the engine as parent so that moveToThread() takes them along.
Engine::Engine(Config config)
    : m_config(std::move(config)),
      m_cleanupTimer(this),
      m_statusTimer(this),
      m_idleTimer(this),
      m_registryTimer(this),
      m_streamCheckTimer(this),
      m_autoRestoreTimer(this),
      m_consistencyTimer(this) {
  qRegisterMetaType<NodeStatus>();
  qRegisterMetaType<EngineEvent>();
  m_instance = QString::number(QRandomGenerator::system()->generate64(), 16);
  connect(&m_consistencyTimer, &QTimer::timeout, this, [this] {
    if (m_checkThread) return;  // the one under way counts
    if (Status s = startConsistencyCheck(int(EngineThread::Control::kCheckConsistency), 0, false);
        !s.isOk())
      qCInfo(lcEngine).noquote() << "scheduled consistency check not started:" << s.message();
  });
  connect(&m_idleTimer, &QTimer::timeout, this,
          [this] {
            const qint64 idle = QDateTime::currentMSecsSinceEpoch() - m_lastActivityMs;
            if (m_config.sleepTimeoutMs > 0 && idle >= m_config.sleepTimeoutMs) {
              m_idleTimer.stop();
              qCInfo(lcEngine).noquote()
                  << QStringLiteral("nothing published or applied for %1 ms: sleep_timeout reached")
                         .arg(idle);
              onIdle(idle);
            }
          });
  connect(&m_statusTimer, &QTimer::timeout, this, &Engine::onStatusTick);
  connect(&m_streamCheckTimer, &QTimer::timeout, this, &Engine::checkStreams);
  connect(&m_registryTimer, &QTimer::timeout, this, [this] {
    if (++m_registryTicks % kRegistryWriteEveryTicks == 0) publishSchema();
    readRegistry();
  });
  connect(&m_cleanupTimer, &QTimer::timeout, this, &Engine::runCleanup);
  m_autoRestoreTimer.setSingleShot(true);
  connect(&m_autoRestoreTimer, &QTimer::timeout, this, [this] {
    onShardEvent(EngineEvent::shardStateChanged(0, ShardState::NeedsRestore, QString()));
  });
}

Engine::~Engine() {
  stopConsistencyCheck();
  stopObserving();
}

// ---- start-up -------------------------------------------------------------------------------

void Engine::start() {
  m_uptime.start();
  startObserving();
  Status s = openDatabase();
  if (s.isOk()) {  // before the catalog reads the schema, so that it does not change after
    m_state = std::make_unique<ReplicationState>(m_db);
    s = m_state->ensureTables();
  }
  if (s.isOk()) s = setUpCapture();
  if (s.isOk()) s = loadPositions();
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

Status Engine::openDatabase() {
  const QString dir = m_config.stateDir();
  if (!QDir().mkpath(dir))
    return Status::ioError(QStringLiteral("cannot create the directory %1").arg(dir));
  auto db = SqliteDb::open(m_config.dbPath);
  if (!db) return db.status();
  m_db = std::move(db.value());
  m_db.setWriteLockWindow(&m_writeLock);  // docs/replication.md#write-lock
  // A quick read proves the file is a database (sqlite3_open_v2 is lazy).
  auto tables = m_db.queryInt(QStringLiteral("SELECT count(*) FROM sqlite_schema"));
  if (!tables) return tables.status().withContext(QStringLiteral("read %1").arg(m_config.dbPath));
  // WAL lets the application read while the engine writes, and the engine read while the
  // application writes. It stays set on the file.
  if (Status s = m_db.exec(QStringLiteral("PRAGMA journal_mode=WAL")); !s.isOk())
    qCWarning(lcEngine).noquote() << "could not switch" << m_config.dbPath
                                  << "to WAL:" << s.message();
  // For the engine's own connection only: in WAL mode NORMAL survives any process crash
  // (kill -9); a power loss can undo its last commits, and then rows and positions go back
  // together and the messages are applied again from the stream, or published changes are sent
  // again under the same Nats-Msg-Id. The application's connections keep their own setting.
  (void)m_db.exec(QStringLiteral("PRAGMA synchronous=NORMAL"));
  // Checkpoints (a copy and two fsyncs, 5-60 ms) from a thread of their own instead of inside
  // the engine's commits (docs/replication.md#performance).
  auto checkpointer = std::make_unique<WalCheckpointer>(m_config.dbPath);
  if (Status s = checkpointer->start(); !s.isOk()) {
    qCWarning(lcEngine).noquote() << s.message() << "- the engine's commits checkpoint instead";
  } else if (Status e = m_db.setCheckpointsElsewhere(true); !e.isOk()) {
    qCWarning(lcEngine).noquote() << "checkpoints stay with the engine's commits:" << e.message();
  } else {
    m_checkpointer = std::move(checkpointer);
  }
  return Status::ok();
}

Status Engine::setUpCapture() {
  // Made aside and swapped in whole: a failure leaves the previous set (after a restore) or
  // none (at start), never a change log pointing at a destroyed catalog.
  auto catalog = std::make_unique<SchemaCatalog>(m_db, m_config.ignoreTables);
  HL_RETURN_IF_ERROR(catalog->reload().withContext("read schema"));
  auto changeLog = std::make_unique<ChangeLog>(m_db, *catalog);
  // The durability guard keeps published changes until the horizon or a snapshot covers them,
  // at most as many as the streams can hold (docs/replication.md#durability).
  changeLog->setRetention(
      m_config.replicationLog.keepPublishedMs,
      m_config.replicationLog.maxEntries * std::max(1, m_config.replicationLog.shards));
  if (m_changeLog) m_droppedUncoveredBefore += m_changeLog->droppedUncovered();
  auto applier = std::make_unique<Applier>(m_db, *catalog, *changeLog);
  m_collisions = std::make_unique<Collisions>(
      m_config.conflicts, m_db, *catalog, m_config.publish ? changeLog.get() : nullptr, *m_state);
  m_applier = std::move(applier);
  m_changeLog = std::move(changeLog);
  m_catalog = std::move(catalog);
  updateSnapshotWatermarks();
  // At start the application may be in the middle of a write transaction: wait for it longer
  // than the engine's usual short busy timeout.
  HL_RETURN_IF_ERROR(m_collisions->resolvePolicies().withContext("[conflicts]"));
  m_changeLog->setAssignedKeyTables(m_collisions->earlierKeepsTables());
  m_db.setBusyTimeout(kStartBusyTimeoutMs);
  const Status installed =
      m_config.publish ? m_changeLog->install() : m_changeLog->removeTriggers();
  m_db.setBusyTimeout(SqliteDb::Options{}.busyTimeoutMs);
  HL_RETURN_IF_ERROR(installed);
  if (!m_config.publish)
    qCInfo(lcEngine) << "publish = false: local changes are not captured (read replica)";
  QStringList names;
  for (const TableInfo& t : m_catalog->tables()) names << t.name;
  qCInfo(lcEngine).noquote() << QStringLiteral(
                                    "database %1, watching %2 table(s)%3, schema hash %4")
                                    .arg(m_config.dbPath)
                                    .arg(names.size())
                                    .arg(names.isEmpty() ? QString() : ": " + names.join(", "),
                                         m_catalog->schemaHash());
  if (!m_catalog->skippedTables().isEmpty())
    qCInfo(lcEngine).noquote() << "not replicated (virtual, shadow or ignored):"
                               << m_catalog->skippedTables().join(", ");
  recordSchema();
  if (!m_catalog->previousSchemaHash().isEmpty())
    qCInfo(lcEngine).noquote() << "previous schema hash" << m_catalog->previousSchemaHash();
  return Status::ok();
}

void Engine::recordSchema() {
  if (!m_state || !m_catalog) return;
  auto previous =
      m_state->noteSchemaHash(m_catalog->schemaHash(), QDateTime::currentMSecsSinceEpoch());
  if (!previous) {
    qCWarning(lcEngine).noquote() << "schema history not recorded:" << previous.status().message();
  } else if (!previous->isEmpty()) {
    m_catalog->setPreviousSchemaHash(*previous);
  }
  if (auto known = m_state->schemaHashes(); known) m_knownHashes = *known;
  if (!m_knownHashes.contains(m_catalog->schemaHash()))
    m_knownHashes.prepend(m_catalog->schemaHash());
  if (m_consumer) m_consumer->setKnownSchemaHashes(m_knownHashes);
}

void Engine::onSchemaChanged(const QString& before) {
  ++m_schemaChanges;
  m_lastSchemaChangeMs = QDateTime::currentMSecsSinceEpoch();
  recordSchema();
  const QString after = m_catalog->schemaHash();
  qCInfo(lcEngine).noquote() << QStringLiteral("schema changed: %1 -> %2, watching %3 table(s)")
                                    .arg(before.left(12), after.left(12))
                                    .arg(m_catalog->tables().size());
  EngineEvent e = EngineEvent::of(EngineEvent::Kind::SchemaChanged);
  e.text = before + QStringLiteral(" -> ") + after;
  emit event(e);
  publishSchema();
  readRegistry();
  if (m_consumer) m_consumer->onSchemaChanged();
}

void Engine::publishSchema() {
  if (!m_registry || !m_catalog || !m_nats || !m_nats->isConnected()) return;
  SchemaNode self;
  self.nodeId = m_config.nodeId;
  self.schemaHash = m_catalog->schemaHash();
  self.previousHash = m_catalog->previousSchemaHash();
  self.version = versionInfo().version;
  self.updatedAtMs = QDateTime::currentMSecsSinceEpoch();
  self.hasTables = true;
  self.tables = schemaTablesOf(m_catalog->tables());
  // On m_requests, like every use of m_registry: it waits for JetStream's answer.
  SchemaRegistry* registry = m_registry.get();
  m_requests.run<Status>([registry, self] { return registry->put(self); },
                         [this](const Status& s) {
                           if (s.isOk()) return;
                           if (m_registryError != s.message())
                             qCWarning(lcEngine).noquote() << "schema registry:" << s.message();
                           m_registryError = s.message();
                         });
}

void Engine::checkStreams() {
  if (!m_streamsReady || !m_nats->isConnected() || m_restoring) return;
  if (m_streamLookAsked) {  // one at a time: this one follows the look under way
    m_streamLookAgain = true;
    return;
  }
  StreamLook look;
  look.epoch = m_guardEpoch;
  for (int shard = 1; shard <= m_config.replicationLog.shards; ++shard) {
    StreamLook::Shard a;
    a.stream = m_config.streamName(shard);
    a.applied = m_positions.applied(shard);
    // A node that publishes without applying (or had not received its own messages yet) knows
    // the loss by its acks: the "a position we applied or published".
    a.published = m_publisher ? m_publisher->highestAcked(shard) : 0;
    if (m_consumer) a.ours = m_consumer->lastAppliedMsgId(shard);
    // For a stream that looked gone back at the last look, and for divergence().
    if (a.applied > 0 && !a.ours.isEmpty() &&
        m_streamSuspects.value(shard).first.endsWith(QLatin1String(" went back")))
      a.idsAt.append(a.applied);
    if (const auto pending = m_divergentAt.constFind(shard); pending != m_divergentAt.constEnd()) {
      a.compareAt = pending->first;  // a difference found at the last look: looked at again
      a.compareOurs = pending->second;
    } else if (m_consumer && a.applied > 0 && m_consumer->lastAppliedSeq(shard) == a.applied &&
               m_verifiedApplied.value(shard) != a.applied && !a.ours.isEmpty()) {
      a.compareAt = a.applied;  // once per position reached; "" is a Go sender's message
      a.compareOurs = a.ours;
    }
    if (a.compareAt > 0) a.idsAt.append(a.compareAt);
    look.shards.append(a);
  }
  m_streamLookAsked = true;
  NatsClient* nats = m_nats.get();
  RequestThread* requests = &m_requests;
  m_requests.run<StreamLook>(
      [nats, requests, look]() mutable {
        for (StreamLook::Shard& a : look.shards) {
          if (requests->cancelled()) break;
          a.state = nats->streamState(a.stream, &a.first, &a.last, &a.created, &a.missing);
          if (a.missing) {
            // Deleted under us: made again, empty (docs/wire-format.md#streams).
            if (Status e = nats->ensureStreams(); !e.isOk()) {
              a.madeAgainError = e.message();
              continue;
            }
            a.state = nats->streamState(a.stream, &a.first, &a.last, &a.created);
          }
          if (!a.state.isOk()) continue;
          for (quint64 seq : a.idsAt) {
            if (a.ids.contains(seq) || requests->cancelled()) continue;
            auto id = nats->messageIdAt(a.stream, seq);
            StreamLook::IdAnswer& answer = a.ids[seq];
            answer.ok = id.ok();
            answer.notFound = id.status().code() == Status::Code::kNotFound;
            if (id.ok()) answer.id = *id;
          }
        }
        return look;
      },
      [this](StreamLook answered) {
        m_streamLookAsked = false;
        judgeStreams(answered);
        if (m_streamLookAgain) {
          m_streamLookAgain = false;
          checkStreams();
        }
      });
}

void Engine::dropConnection() {
  // The requests under way use the connection and the registry: waited for, their answers
  // dropped.
  m_requests.forget();
  m_streamLookAsked = false;
  m_streamLookAgain = false;
  m_registryAsked = false;
  // A restore whose bounds were asked starts that step again, on the next client.
  if (auto again = std::exchange(m_restoreAgain, nullptr)) QTimer::singleShot(0, this, again);
  m_consistency.reset();
  m_consumer.reset();  // its applied positions stay in m_positions
  m_publisher.reset();
  m_registry.reset();  // it uses the connection's JetStream context
  m_streamsReady = false;
  m_nats.reset();
}

void Engine::judgeStreams(const StreamLook& look) {
  // Positions moved by the guard itself or by a restore since it asked: the answers are of
  // another moment. Looked at again.
  if (look.epoch != m_guardEpoch) {
    m_streamLookAgain = true;
    return;
  }
  if (!m_nats || m_restoring) return;
  struct Incident {
    int shard;
    QString what;
    quint64 first, last;
    bool reread;  // the stream lost nothing: this node applied other messages than it holds
  };
  QList<Incident> found;
  for (int shard = 1; shard <= look.shards.size(); ++shard) {
    const StreamLook::Shard& a = look.shards[shard - 1];
    const QString& stream = a.stream;
    const quint64 first = a.first, last = a.last;
    const qint64 created = a.created;
    QString what;
    if (a.missing) {
      if (!a.madeAgainError.isEmpty()) {
        qCWarning(lcEngine).noquote()
            << "durability guard:" << stream
            << "is gone and cannot be made again yet:" << a.madeAgainError;
        continue;
      }
      what = QStringLiteral("stream %1 was deleted; made again").arg(stream);
    }
    if (!a.state.isOk()) continue;  // unreachable for now: looked at again later
    const auto known = m_streamCreated.constFind(shard);
    const quint64 applied = a.applied;
    const quint64 published = a.published;
    QString suspicion;  // needs a second reading before anything is done about it
    if (what.isEmpty() && known != m_streamCreated.constEnd() && *known != created &&
        created != 0 && *known != 0)
      suspicion = QStringLiteral("stream %1 was re-created").arg(stream);
    else if (what.isEmpty() && last >= applied && applied > 0 && m_consumer &&
             m_streamSuspects.value(shard).first.endsWith(QLatin1String(" went back")) &&
             a.ids.contains(applied) && (first == 0 || first <= applied)) {
      // Looking again after a stream looked gone back: it may have grown again past this
      // node's position meanwhile (other nodes publishing their kept changes again first);
      // then the message at that position is another one. Only then: on its own, a message
      // that differs was also seen after a paused leader and follower came back (the consumer's
      // server had delivered messages the cluster then replaced), and healing that made a hot
      // row diverge (docs/replication.md#durability).
      const StreamLook::IdAnswer& theirs = a.ids[applied];
      if (theirs.ok && theirs.id != a.ours)
        suspicion = QStringLiteral(
                        "stream %1 went back: its message %2 is %3, not the %4 this node applied")
                        .arg(stream)
                        .arg(applied)
                        .arg(QString::fromUtf8(theirs.id.isEmpty() ? "one without id" : theirs.id),
                             QString::fromUtf8(a.ours));
      else if (theirs.notFound)
        suspicion = QStringLiteral(
                        "stream %1 went back: it no longer holds message %2 that this "
                        "node applied")
                        .arg(stream)
                        .arg(applied);
    }
    if (suspicion.isEmpty() && what.isEmpty() && (last < applied || last < published))
      suspicion = QStringLiteral(
                      "stream %1 went back: its last message is %2, this node applied %3 and "
                      "its acked changes reached %4")
                      .arg(stream)
                      .arg(last)
                      .arg(applied)
                      .arg(published);
    if (suspicion.isEmpty() && what.isEmpty() && last >= applied) suspicion = divergence(shard, a);
    if (!suspicion.isEmpty()) {
      // Healing reads the whole stream again and publishes every kept change again: one reading
      // taken while the cluster elects a leader must not cause that. The same finding, again
      // after kConfirmStreamMs, does.
      const qint64 now = QDateTime::currentMSecsSinceEpoch();
      const QString kind = suspicion.section(':', 0, 0);
      auto it = m_streamSuspects.find(shard);
      if (it == m_streamSuspects.end() || it->first != kind) {
        m_streamSuspects.insert(shard, {kind, now});
        qCInfo(lcEngine).noquote()
            << "durability guard:" << suspicion << "- looking again before healing";
        // Precise: a coarse timer may fire up to 5% early, which is "too soon" below.
        QTimer::singleShot(kConfirmStreamMs, Qt::PreciseTimer, this, &Engine::checkStreams);
        continue;
      }
      if (now - it->second < kConfirmStreamMs) {  // looked again too soon: once more, on time
        QTimer::singleShot(int(kConfirmStreamMs - (now - it->second)) + 1, Qt::PreciseTimer, this,
                           &Engine::checkStreams);
        continue;
      }
      m_streamSuspects.erase(it);
      what = suspicion;
    } else {
      m_streamSuspects.remove(shard);
      if (what.isEmpty() && m_consumer) m_consumer->checkProgress(shard, last);
    }
    m_streamCreated.insert(shard, created);
    if (!what.isEmpty())
      found.append({shard, what, first, last, what.contains(QLatin1String(kDiffers))});
  }
  // Healed after every stream was looked at: publishing kept changes again makes the other
  // streams grow, which could hide that they went back too.
  for (const Incident& i : found) {
    if (i.reread)
      rereadStream(i.shard, i.what, i.first, i.last);
    else
      healStream(i.shard, i.what, i.first, i.last);
  }
  updateSnapshotWatermarks();  // the creation times may have changed
}

Status Engine::moveAppliedPosition(int shard, quint64 to, const std::function<Status()>& also) {
  {
    auto txn = SqliteTxn::begin(m_db);
    if (!txn) return txn.status();
    HL_RETURN_IF_ERROR(m_state->setPosition(m_config.streamName(shard), to));
    HL_RETURN_IF_ERROR(also());
    HL_RETURN_IF_ERROR(txn->commit());
  }
  m_positions.setApplied(shard, to);
  ++m_guardEpoch;                   // a look under way asked from the old positions
  m_verifiedApplied.remove(shard);  // what divergence() knew of this shard is stale
  m_divergentAt.remove(shard);
  return Status::ok();
}

QString Engine::divergence(int shard, const StreamLook::Shard& a) {
  // docs/replication.md#durability, "A server that delivered other messages": the message this
  // node applied last, compared with the one the stream's leader holds at that position, once
  // per position reached (checkStreams() chose the position and asked). A difference found at
  // the last look is looked at again at the same position (the consumer may have moved on).
  if (a.compareAt == 0) return {};
  const auto theirs = a.ids.constFind(a.compareAt);
  if (theirs == a.ids.constEnd() || !theirs->ok) return {};  // not answered now (no leader)
  if (theirs->id == a.compareOurs) {
    m_divergentAt.remove(shard);
    m_verifiedApplied.insert(shard, a.compareAt);
    return {};
  }
  m_divergentAt.insert(shard, {a.compareAt, a.compareOurs});
  return QStringLiteral("stream %1 %2: its message %3 is %4, the one this node applied there is %5")
      .arg(a.stream, QLatin1String(kDiffers))
      .arg(a.compareAt)
      .arg(QString::fromUtf8(theirs->id.isEmpty() ? "one without id" : theirs->id),
           QString::fromUtf8(a.compareOurs));
}

void Engine::rereadStream(int shard, const QString& what, quint64 first, quint64 last) {
  // Nothing acked was lost (the stream holds every position this node applied), but the
  // server this node's consumer read from delivered other messages under some of those
  // positions: read again, from the newest checkpoint the stream holds unchanged or from its
  // first message, with this node's own messages applied like any other up to where it was
  // (they may have been among the ones it missed), and nothing published again.
  const QString stream = m_config.streamName(shard);
  const quint64 applied = m_positions.applied(shard);
  const quint64 verified = verifiedCheckpoint(shard, first, std::min(applied, last));
  const quint64 from = std::min(applied, std::max(verified, first > 0 ? first - 1 : 0));
  const Status s = moveAppliedPosition(shard, from, [&] {
    return m_state->setReplayOwnUpTo(stream, std::max(applied, m_consumer->replayOwnUpTo(shard)));
  });
  if (!s.isOk()) {
    qCWarning(lcEngine).noquote() << "durability guard:" << what
                                  << "- cannot read it again yet:" << s.message();
    return;
  }
  m_consumer->replayOwnUpTo(shard, applied);
  m_consumer->dropCheckpointsAbove(shard, verified);
  // That server's copy of the stream differs from its leader's (nats-server 2.9 can leave a
  // paused leader's copy so, for good): the new consumer is placed on another one.
  const QString server = m_nats->consumerServer(shard);
  m_nats->avoidServer(shard, server);
  m_consumer->resubscribe(shard);
  ++m_streamRereads;
  m_lastStreamRereadMs = QDateTime::currentMSecsSinceEpoch();
  m_lastStreamReread =
      server.isEmpty()  // one server, not clustered: it has no name to avoid
          ? QStringLiteral(
                "%1: a server delivered messages the stream does not hold there; reading it "
                "again from %2 (nothing is published again)")
                .arg(what)
                .arg(from + 1)
          : QStringLiteral(
                "%1: server %2 delivered messages the stream does not hold there; reading it "
                "again from %3 from another server (nothing is published again)")
                .arg(what, server)
                .arg(from + 1);
  qCWarning(lcEngine).noquote() << "durability guard:" << m_lastStreamReread;
  emit event(EngineEvent::shardError(shard, m_lastStreamReread));
}

void Engine::updateSnapshotWatermarks() {
  if (!m_changeLog) return;
  QHash<int, quint64> marks;
  // The snapshot a restore would take (normally the newest). A store in the NATS servers is
  // left out: a server that loses its last writes (the case the horizon covers) can lose a
  // fresh snapshot with them, and one old enough to be safe is older than the horizon anyway.
  const SnapshotInfo* pick = m_config.snapshot.enabled && m_config.snapshot.store != "nats"
                                 ? defaultRestoreChoice(m_snapshotStatus.catalog)
                                 : nullptr;
  for (int shard = 1; pick && shard <= int(pick->watermark.size()); ++shard) {
    // A snapshot taken before the stream was made, or before this node healed it, numbers
    // messages of a stream that is gone (comparing clocks of two machines: when unsure, the
    // horizon decides).
    const qint64 created = m_streamCreated.value(shard, 0);
    if (created > 0 && pick->takenAtMs * 1000000 <= created) continue;
    if (pick->takenAtMs <= m_healedAtMs.value(shard, 0)) continue;
    if (pick->watermark[shard - 1] > 0) marks.insert(shard, pick->watermark[shard - 1]);
  }
  m_changeLog->setSnapshotWatermarks(marks);
}

quint64 Engine::verifiedCheckpoint(int shard, quint64 first, quint64 upTo) {
  if (!m_consumer || !m_nats) return 0;
  const QString stream = m_config.streamName(shard);
  const QList<Consumer::Checkpoint> marks = m_consumer->checkpoints(shard);
  // Each look is one request to the stream's leader on this thread: the newest few only.
  int looks = 0;
  for (auto it = marks.crbegin(); it != marks.crend() && looks < kCheckpointLooks; ++it) {
    if (it->seq > upTo) continue;
    if (it->seq < first) break;  // older ones are gone from the stream too
    ++looks;
    auto held = m_nats->messageAt(stream, it->seq);
    // The same message stored at the same time: the stream was never cut below it. A copy
    // published again after a loss has the same id but a new time.
    if (held.ok() && held->msgId == it->msgId && held->timestampNs == it->timestampNs)
      return it->seq;
    qCInfo(lcEngine).noquote()
        << QStringLiteral(
               "durability guard: stream %1 does not hold checkpoint %2 (%3 stored at "
               "%4) any more: %5")
               .arg(stream)
               .arg(it->seq)
               .arg(QString::fromUtf8(it->msgId))
               .arg(it->timestampNs)
               .arg(held.ok() ? QStringLiteral("%1 stored at %2")
                                    .arg(QString::fromUtf8(held->msgId))
                                    .arg(held->timestampNs)
                              : held.status().message());
    if (!held.ok() && held.status().code() != Status::Code::kNotFound) break;  // unreachable
  }
  return 0;
}

void Engine::healStream(int shard, const QString& what, quint64 first, quint64 last) {
  const QString stream = m_config.streamName(shard);
  // Read again from what the stream holds: a re-created stream numbers from 1 again, and one
  // that went back numbers the messages it gets after the loss from where it went back to,
  // which this node cannot tell from its position (a node that applied past it took other
  // messages under those numbers), so from its first message, or from the newest checkpoint
  // the stream still holds unchanged.
  const quint64 applied = m_positions.applied(shard);
  const quint64 verified = verifiedCheckpoint(shard, first, std::min(applied, last));
  const quint64 from = std::min(applied, std::max(verified, first > 0 ? first - 1 : last));
  // This node's own stream positions of that stream mean nothing any more.
  const Status s = moveAppliedPosition(shard, from, [&] {
    return m_state->forgetOwnUpTo(shard, std::numeric_limits<quint64>::max() / 2);
  });
  if (!s.isOk()) {
    qCWarning(lcEngine).noquote() << "durability guard:" << what
                                  << "- cannot heal yet:" << s.message();
    return;
  }
  // The kept changes of this node in that stream are published again: what the stream lost
  // comes back; what it still holds is a duplicate (dropped within the window, else the same
  // row once more). Which ones it lost is not known for sure (the stream may have taken new
  // messages under their numbers), so all of them acked past the verified checkpoint (all of
  // them when there is none).
  int64_t requeuedFrom = 0;
  if (m_changeLog && m_config.publish) {
    QList<int64_t> requeued;
    if (auto r = m_changeLog->requeuePublished(shard, verified); r) requeued = *r;
    if (!requeued.isEmpty()) requeuedFrom = requeued.first();
    if (m_publisher) {
      m_publisher->forgetAcksAbove(shard, verified);
      m_publisher->republish(requeued);
    }
  }
  if (m_consumer) {
    m_consumer->dropCheckpointsAbove(shard, verified);
    m_consumer->resubscribe(shard);
  }
  ++m_streamIncidents;
  m_lastStreamIncidentMs = QDateTime::currentMSecsSinceEpoch();
  m_healedAtMs.insert(shard, m_lastStreamIncidentMs);
  m_lastStreamIncident =
      QStringLiteral(
          "%1: reading it again from %2%3; changes of other nodes lost with it come back when "
          "they publish theirs again, or from a snapshot")
          .arg(what)
          .arg(from + 1)
          .arg(requeuedFrom > 0
                   ? QStringLiteral(", this node's kept changes published again from change %1")
                         .arg(requeuedFrom)
                   : QString());
  qCWarning(lcEngine).noquote() << "durability guard:" << m_lastStreamIncident;
  emit event(EngineEvent::shardError(shard, m_lastStreamIncident));
}

void Engine::readRegistry() {
  if (!m_registry || !m_nats || !m_nats->isConnected()) return;
  if (m_registryAsked) return;  // the reading under way is recent enough
  m_registryAsked = true;
  struct Reading {
    Result<QList<SchemaNode>> nodes = QList<SchemaNode>();
    int unreadable = 0;
  };
  SchemaRegistry* registry = m_registry.get();
  RequestThread* requests = &m_requests;
  m_requests.run<Reading>(
      [registry, requests] {
        Reading r;
        // Cut short by a stop or a reconnect: each entry may wait for its 3 s timeout.
        r.nodes = registry->readAll(&r.unreadable, [requests] { return requests->cancelled(); });
        return r;
      },
      [this](const Reading& r) {
        m_registryAsked = false;
        if (!r.nodes) {
          m_registryError = r.nodes.status().message();
          return;
        }
        m_registryNodes = *r.nodes;
        m_registryReadMs = QDateTime::currentMSecsSinceEpoch();
        m_registryError = r.unreadable > 0 ? QStringLiteral("%1 registry entr%2 could not be read")
                                                 .arg(r.unreadable)
                                                 .arg(r.unreadable == 1 ? "y" : "ies")
                                           : QString();
      });
}

Status Engine::loadPositions() {
  auto positions = m_state->loadPositions(m_config.effectiveSeqMapPath());
  if (!positions) return positions.status().withContext("read applied positions");
  m_positions = ShardPositions(m_config.replicationLog.shards);
  for (int shard = 1; shard <= m_config.replicationLog.shards; ++shard)
    m_positions.setApplied(shard, positions->value(m_config.streamName(shard), 0));
  return Status::ok();
}

// Launches the server and returns; start() goes on in onEmbeddedReady(), or fails, when the
// server says so. No nested event loop: a stop() queued meanwhile runs after this returns, and
// destroying the server cuts these connections, so nothing goes on after it.
Status Engine::startEmbeddedServer() {
  m_embedded = std::make_unique<EmbeddedServer>(EmbeddedServer::fromConfig(m_config));
  connect(m_embedded.get(), &EmbeddedServer::stateChanged, this,
          [this](EmbeddedServer::State state) {
            const ServerState s = toServerState(state);
            qCInfo(lcEngine).noquote() << "embedded nats-server" << stateName(s);
            emit event(EngineEvent::serverStateChanged(s));
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

void Engine::makeNatsClient(const QStringList& urls) {
  m_urls = urls;
  m_nats = std::make_unique<NatsClient>(m_config, urls);
  ++m_clientGeneration;
  m_nats->setRequestThread(&m_requests);
  connect(m_nats.get(), &NatsClient::disconnected, this, [this] {
    qCWarning(lcEngine) << "NATS connection lost; reconnecting (local changes are kept)";
    if (m_publisher) m_publisher->setConnected(false);
    emit event(EngineEvent::of(EngineEvent::Kind::NatsDisconnected));
  });
  connect(m_nats.get(), &NatsClient::reconnected, this, [this] {
    qCInfo(lcEngine).noquote() << "NATS reconnected to" << m_nats->connectedUrl();
    ++m_natsReconnects;
    if (m_consumer) m_consumer->resubscribeAll();  // consumers may be gone after a server restart
    if (m_publisher) m_publisher->setConnected(true);
    publishSchema();
    emit event(EngineEvent::natsConnected(m_nats->connectedUrl()));
  });
  connect(m_nats.get(), &NatsClient::asyncError, this, [this](const QString& error, int shard) {
    qCWarning(lcEngine).noquote() << "NATS:" << error
                                  << (shard ? QStringLiteral("(shard %1)").arg(shard) : QString());
    if (shard > 0 && m_consumer) m_consumer->onStalled(shard);  // missed heartbeats
  });
  connect(m_nats.get(), &NatsClient::statusRecord, this, &Engine::onStatusRecord);
}

// Each attempt waits on the request thread (up to the connect timeout for each server, then up
// to 3 s for each stream request): the engine thread goes on answering its host meanwhile
// (docs/architecture.md#threads). The attempt's answer, and the timer of the next attempt,
// belong to this client: after the operator's reconnect (a new client) they do nothing.
void Engine::tryConnect() {
  if (!m_running || !m_nats) return;
  ++m_connectAttempts;
  auto request = m_nats->prepareConnection();
  if (!request) {
    connectFailed(request.status());
    return;
  }
  auto shared = std::make_shared<NatsClient::ConnectRequest>(std::move(*request));
  m_requests.run<NatsClient::NewConnection>(
      [shared] { return NatsClient::openConnection(*shared); },
      [this, client = m_clientGeneration](NatsClient::NewConnection made) {
        if (!m_running || client != m_clientGeneration) return;  // closed with `made`
        if (Status s = m_nats->adoptConnection(std::move(made)); !s.isOk()) {
          connectFailed(s);
          return;
        }
        m_streamAttempts = 0;
        ensureStreams();
      });
}

void Engine::connectFailed(const Status& s) {
  // connect_retries bounds only this first connection (docs/replication.md#nats); the embedded
  // server we just started gets the same bound.
  const int attempts = std::max(1, m_config.nats.connectRetries);
  if (m_connectAttempts >= attempts && !m_startedOnce) {
    fail(QStringLiteral("cannot connect to NATS after %1 attempts: %2")
             .arg(m_connectAttempts)
             .arg(s.message()));
    return;
  }
  qCWarning(lcEngine).noquote()
      << s.message() << QStringLiteral("(attempt %1 of %2)").arg(m_connectAttempts).arg(attempts);
  laterForThisClient(std::max(100, m_config.nats.reconnectWaitSeconds * 1000), &Engine::tryConnect);
}

// Calls `f` in `ms`, unless the NATS client was replaced meanwhile (the operator's reconnect):
// each client's attempts are its own.
void Engine::laterForThisClient(int ms, void (Engine::*f)()) {
  QTimer::singleShot(ms, this, [this, f, client = m_clientGeneration] {
    if (client == m_clientGeneration) (this->*f)();
  });
}

// A clustered JetStream may not answer right after a restart (docs/wire-format.md#streams:
// 5 attempts, 2 s apart).
void Engine::ensureStreams() {
  if (!m_running) return;
  ++m_streamAttempts;
  NatsClient* nats = m_nats.get();
  m_requests.run<Status>([nats] { return nats->ensureStreams(); },
                         [this, client = m_clientGeneration](Status s) {
                           if (!m_running || client != m_clientGeneration) return;
                           if (s.isOk()) {
                             onConnected();
                             return;
                           }
                           if (m_streamAttempts >= 5) {
                             fail(s.message());
                             return;
                           }
                           qCWarning(lcEngine).noquote() << s.message() << "- retrying";
                           laterForThisClient(2000, &Engine::ensureStreams);
                         });
}

// Connected, and every shard's stream is there.
void Engine::onConnected() {
  m_streamsReady = true;
  // The snapshot worker first: a shard that finds its position aged out while the consumer
  // starts asks it for a restore at once (docs/snapshots.md#restoring).
  startSnapshots();
  startReplication();
  // On this connection's JetStream context (a reconnect by the operator makes a new one).
  m_registry =
      std::make_unique<SchemaRegistry>(m_nats->jetStream(), m_config.replicationLog.replicas);
  if (!m_registryTimer.isActive()) m_registryTimer.start(kRegistryReadMs);
  if (!m_streamCheckTimer.isActive()) m_streamCheckTimer.start(kStreamCheckMs);
  checkStreams();  // remembers each stream's creation time
  publishSchema();
  readRegistry();
  if (Status s = m_nats->subscribeStatusRecords(); !s.isOk())
    qCWarning(lcEngine).noquote() << s.message();
  emit event(EngineEvent::natsConnected(m_nats->connectedUrl()));
  if (m_startedOnce) {  // connected again after the operator's reconnect
    qCInfo(lcEngine).noquote() << "reconnected to" << m_nats->connectedUrl();
    emit statusChanged(currentStatus());
    return;
  }
  m_startedOnce = true;
  qCInfo(lcEngine).noquote() << QStringLiteral("replicating: %1 shard(s) on %2, %3, %4")
                                    .arg(m_config.replicationLog.shards)
                                    .arg(m_nats->connectedUrl(),
                                         m_config.publish ? "publish" : "no publish",
                                         m_config.replicate ? "replicate" : "no replicate");
  emit started();
}

// The publisher and the consumer on a (new) connection, wired to each other through the
// engine, and the timers that drive them.
void Engine::startReplication() {
  if (m_config.publish) {
    // Changes captured before this start: with at most the applied positions of now.
    if (auto newest = m_collisions->newestChangeId(); newest)
      m_collisions->noteCaptureMark(*newest, m_positions);
    m_publisher = std::make_unique<Publisher>(m_config, m_db, *m_changeLog, *m_catalog, *m_state,
                                              *m_nats, m_positions, m_collisions.get());
    connect(m_nats.get(), &NatsClient::published, m_publisher.get(), &Publisher::onPublished);
  }
  if (m_config.replicate) {
    m_consumer =
        std::make_unique<Consumer>(m_config, m_db, *m_catalog, *m_applier, *m_collisions, *m_state,
                                   *m_nats, m_positions, m_publisher.get(), m_requests);
    m_consumer->setKnownSchemaHashes(m_knownHashes);
    connect(m_nats.get(), &NatsClient::received, m_consumer.get(), &Consumer::onReceived);
    // The consumer saw it at a re-subscription (and stopped the shard): checked, and confirmed,
    // like every finding. When it is not confirmed, the shard subscribes again later.
    connect(m_consumer.get(), &Consumer::streamWentBack, this, [this](int shard, quint64, quint64) {
      checkStreams();
      QTimer::singleShot(2 * kConfirmStreamMs + 500, this, [this, shard] {
        if (m_consumer && m_consumer->status(shard).state == ShardState::Stopped)
          m_consumer->resubscribe(shard);
      });
    });
    if (m_publisher)
      connect(m_publisher.get(), &Publisher::roundFinished, m_consumer.get(),
              &Consumer::onPublisherRoundFinished);
    connect(m_consumer.get(), &Consumer::event, this, &Engine::event);
    connect(m_consumer.get(), &Consumer::event, this, &Engine::onShardEvent);
    m_consumer->start();
  } else {
    qCInfo(lcEngine) << "replicate = false: changes from other nodes are not applied";
  }
  // The consistency check's requests (docs/consistency.md#protocol).
  m_consistency =
      std::make_unique<ConsistencyResponder>(m_config, m_db, *m_catalog, *m_changeLog, m_positions,
                                             *m_nats, m_consumer.get(), m_publisher.get());
  connect(m_nats.get(), &NatsClient::consistencyRequest, m_consistency.get(),
          &ConsistencyResponder::onRequest);
  if (Status s = m_nats->subscribeConsistency(); !s.isOk())
    qCWarning(lcEngine).noquote() << s.message();
  if (m_config.consistency.intervalMs > 0 && !m_consistencyTimer.isActive())
    m_consistencyTimer.start(clampMs(m_config.consistency.intervalMs));
  if (!m_watcher) {
    m_watcher = std::make_unique<DatabaseWatcher>(m_config.dbPath, m_config.stateDir(), this);
    connect(m_watcher.get(), &DatabaseWatcher::changed, this, &Engine::onDatabaseChanged);
  }
  m_watcher->start(clampMs(m_config.pollingIntervalMs));
  // cleanup_interval = 0 means "at once": the publisher cleans after each round (no timer).
  if (m_config.cleanupIntervalMs > 0) m_cleanupTimer.start(clampMs(m_config.cleanupIntervalMs));
  m_statusTimer.start(kStatusIntervalMs);
  if (m_publisher) {
    m_publisher->setPaused(m_publishingPaused);
    m_publisher->setConnected(true);
  }
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
}

void Engine::fail(const QString& reason) {
  m_running = false;
  emit failed(reason);
}

void Engine::stop() {
  m_running = false;
  stopConsistencyCheck();
  stopObserving();
  stopSnapshots();
  m_autoRestoreTimer.stop();
  m_statusTimer.stop();
  m_idleTimer.stop();
  m_cleanupTimer.stop();
  m_registryTimer.stop();
  m_streamCheckTimer.stop();
  if (m_watcher) m_watcher->stop();
  dropConnection();
  if (m_embedded) m_embedded->stop();
  m_embedded.reset();
  m_state.reset();
  m_applier.reset();
  m_collisions.reset();
  m_changeLog.reset();
  m_catalog.reset();
  m_db = SqliteDb();
  m_checkpointer.reset();
  emit stopped();
}

// ---- running --------------------------------------------------------------------------------

void Engine::onDatabaseChanged() {
  if (!m_catalog) return;
  const QString before = m_catalog->schemaHash();
  auto changed = m_catalog->refresh();
  if (!changed) {
    qCWarning(lcEngine).noquote() << "schema check failed:" << changed.status().message();
    return;
  }
  if (*changed) {
    if (Status s = m_collisions->resolvePolicies(); !s.isOk())
      qCWarning(lcEngine).noquote() << "[conflicts] policies not re-read:" << s.message();
    m_changeLog->setAssignedKeyTables(m_collisions->earlierKeepsTables());
  }
  if ((*changed || m_captureStale) && m_config.publish) {
    // Busy while the application writes: kept stale and tried again at the next wake-up.
    const Status s = m_changeLog->install();
    m_captureStale = !s.isOk();
    if (m_captureStale) {
      qCDebug(lcEngine).noquote() << "re-installing capture deferred:" << s.message();
      m_watcher->wakeSoon(50);
    }
  }
  // A new index or trigger (ours included) moves schema_version without changing the hash.
  if (*changed && m_catalog->schemaHash() != before) onSchemaChanged(before);
  if (m_publisher) m_publisher->wake();
}

void Engine::runCleanup() {
  if (!m_changeLog || !m_config.publish) return;
  auto removed = m_changeLog->cleanup();
  if (!removed && removed.status().code() == Status::Code::kBusy) {
    // An application holding the write lock without a pause: tried again at the next interval;
    // said once a minute while it lasts (the log grows meanwhile).
    if (m_cleanupBusy++ % kCleanupBusyWarnEvery == kCleanupBusyWarnEvery - 1)
      qCWarning(lcEngine).noquote()
          << QStringLiteral("cleanup could not take the write lock %1 times in a row: %2")
                 .arg(m_cleanupBusy)
                 .arg(removed.status().message());
    return;
  }
  m_cleanupBusy = 0;
  if (!removed)
    qCWarning(lcEngine).noquote() << "cleanup failed:" << removed.status().message();
  else if (*removed > 0)
    qCDebug(lcEngine) << "cleanup removed" << *removed << "published changes";
  // Stopped at its work budget (docs/replication.md#durability): goes on soon, in another
  // short transaction.
  if (removed && m_changeLog->cleanupIncomplete())
    QTimer::singleShot(kCleanupAgainMs, this, &Engine::runCleanup);
}

StatusFacts Engine::gatherStatusFacts() const {
  StatusFacts f;
  NodeStatus& n = f.node;
  n.nodeId = m_config.nodeId;
  n.version = versionInfo().version;
  n.uptimeSeconds = m_uptime.isValid() ? m_uptime.elapsed() / 1000 : 0;
  n.dbPath = m_config.dbPath;
  n.dbSizeBytes = QFileInfo(m_config.dbPath).size();
  n.walSizeBytes = QFileInfo(m_config.dbPath + "-wal").size();
  n.dbConnected = m_db.isOpen();
  n.natsConnected = m_nats && m_nats->isConnected();
  n.natsServer = m_nats ? m_nats->connectedUrl() : QString();
  n.embeddedServer = m_embedded ? toServerState(m_embedded->state()) : ServerState::None;
  n.natsReconnects = m_natsReconnects;
  n.cdcInstalled = m_changeLog && !m_captureStale;
  n.tablesTracked = m_catalog ? int(m_catalog->tables().size()) : 0;
  n.schemaHash = m_catalog ? m_catalog->schemaHash() : QString();
  if (m_catalog) {
    SchemaStatus& sc = n.schema;
    sc.hash = m_catalog->schemaHash();
    sc.previousHash = m_catalog->previousSchemaHash();
    sc.tables = schemaTablesOf(m_catalog->tables());
    sc.registry = m_registryNodes;
    sc.registryReadMs = m_registryReadMs;
    sc.registryError = m_registryError;
    sc.changes = m_schemaChanges;
    sc.lastChangeMs = m_lastSchemaChangeMs;
    // This node as it is now, whatever the last read of the registry said.
    SchemaNode self{m_config.nodeId, sc.hash, sc.previousHash, n.version, 0, true, sc.tables};
    auto it = std::find_if(sc.registry.begin(), sc.registry.end(),
                           [&](const SchemaNode& x) { return x.nodeId == self.nodeId; });
    if (it == sc.registry.end()) {
      sc.registry.append(self);  // not written yet: updatedAtMs 0
    } else {
      self.updatedAtMs = it->updatedAtMs;
      *it = self;
    }
  }
  n.publishingPaused = m_publishingPaused;
  if (m_publisher) {
    n.published = m_publisher->stats().published;
    n.failedPublishes = m_publisher->stats().failedPublishes;
    n.lastPublishedMs = m_publisher->stats().lastPublishedMs;
  }
  if (m_consumer) {
    for (int shard = 1; shard <= m_consumer->shardCount(); ++shard) {
      const Consumer::ShardStatus& c = m_consumer->status(shard);
      ShardStatus s;
      s.shard = shard;
      s.stream = m_config.streamName(shard);
      s.applied = m_positions.applied(shard);
      s.received = c.received;
      s.lagMessages = m_consumer->lagMessages(shard);
      s.replayOwnUntil = m_consumer->replayOwnUpTo(shard);
      s.lagSeconds = m_consumer->lagSeconds(shard);
      s.state = c.state;
      s.lastError = c.lastError;
      s.appliedChanges = c.appliedChanges;
      s.conflicts = c.conflicts;
      s.deadLetters = c.deadLetters;
      if (c.state == ShardState::SchemaPaused) {
        s.waitingForHash = c.wait.hash;
        s.waitingFromNode = c.wait.fromNode;
        s.waitingTable = c.wait.table;
        s.waitingReason = c.wait.reason;
        s.waitingSeq = c.wait.seq;
        s.waitingSinceMs = c.wait.sinceMs;
        s.redeliveries = c.wait.redeliveries;
      }
      n.lastReplicatedMs = std::max(n.lastReplicatedMs, c.lastAppliedMs);
      n.shards.append(s);
    }
  }
  n.cluster = m_peers.values();
  n.streamIncidents = m_streamIncidents;
  n.streamRereads = m_streamRereads;
  n.lastStreamReread = m_lastStreamReread;
  n.lastStreamRereadMs = m_lastStreamRereadMs;
  n.lastStreamIncident = m_lastStreamIncident;
  n.lastStreamIncidentMs = m_lastStreamIncidentMs;
  const WriteLockWindow::Quantiles lock = m_writeLock.quantiles();
  n.writeLockP50Seconds = lock.p50;
  n.writeLockP99Seconds = lock.p99;
  n.writeLockMaxSeconds = lock.max;
  n.writeLockSamples = lock.samples;
  n.snapshots = m_snapshotStatus;
  n.snapshots.enabled = m_config.snapshot.enabled;
  n.snapshots.restoreUnderWay = m_restoring;
  n.snapshots.restores = m_restores;
  if (m_restoring) {  // every shard is being replaced
    for (ShardStatus& sh : n.shards) {
      sh.state = ShardState::Restoring;
      sh.lastError = QStringLiteral("restoring from snapshot %1").arg(m_restoreTarget);
    }
  }
  f.captureExpected = m_config.publish;
  if (m_changeLog) {
    // Pending changes are counted above the publisher's settled id (a range: the changes not
    // published yet), at most once per 100 times what the last count cost (at most 1% of a
    // core while a bulk write waits to be published); failed and kept ones by a sweep of the
    // whole log a slice per status (docs/replication.md#performance).
    LogCounts& c = m_logCounts;
    if (!c.readAt.isValid() || c.readAt.nsecsElapsed() >= 100 * c.costNs) {
      c.readAt.start();
      c.pending = m_changeLog->pendingCount(m_publisher ? m_publisher->settledUpTo() : 0);
      c.costNs = c.readAt.nsecsElapsed();
    }
    f.pendingChanges = c.pending;
    QElapsedTimer sliceCost;
    sliceCost.start();
    int read = 0;
    const Status s = m_changeLog->countSlice(c.sliceRows, &read);
    // Rows per slice follow the measured cost of a row: about kCountSliceUs each.
    c.sliceRows =
        ChangeLog::nextSliceRows(c.sliceRows, read, sliceCost.nsecsElapsed(), kCountSliceUs * 1000);
    if (!s.isOk()) {
      f.failedChanges = s;
      f.keptChanges = s;
    } else if (const ChangeLog::Counts& counts = m_changeLog->lastCounts(); counts.valid) {
      f.failedChanges = counts.failed;
      f.keptChanges = counts.kept.count;
      if (counts.kept.oldestMs > 0)
        n.keptOldestAgeSeconds =
            std::max<qint64>(0, QDateTime::currentMSecsSinceEpoch() - counts.kept.oldestMs) /
            1000.0;
    }
    n.keptDroppedUncovered = m_droppedUncoveredBefore + m_changeLog->droppedUncovered();
  }
  if (m_collisions) n.insertCollisions = m_collisions->counts();
  if (m_state) {
    f.deadLetterCount = m_state->deadLetterCount();
    f.conflictCount = m_state->conflictCount();
    f.recentDeadLetters = m_state->recentDeadLetters(kRecentListSize);
    f.recentConflicts = m_state->recentConflicts(kRecentListSize);
  }
  return f;
}

NodeStatus Engine::currentStatus() {
  NodeStatus st = buildStatus(gatherStatusFacts());
  fillConsistencyStatus(&st);
  observe(&st);
  if (m_lastHealth != int(st.healthy) ||
      (!st.healthy && st.unhealthyReason != m_lastUnhealthyReason)) {
    m_lastHealth = int(st.healthy);
    m_lastUnhealthyReason = st.unhealthyReason;
    emit event(EngineEvent::healthChanged(st.healthy, st.unhealthyReason));
  }
  return st;
}

void Engine::onStatusTick() {
  QElapsedTimer cost;
  cost.start();
  const NodeStatus st = currentStatus();
  emit statusChanged(st);
  m_statusCostNs += cost.nsecsElapsed();
  if (m_statusTicks % 120 == 119) {  // once a minute, for whoever measures it (debug level)
    qCDebug(lcEngine) << "status model: built in" << m_statusCostNs / 120 / 1000 << "us on average";
    m_statusCostNs = 0;
  }
  // Every 2 s, a compact record for the other nodes (docs/replication.md#cluster-view).
  if (++m_statusTicks % kStatusRecordEveryTicks != 0 || !m_nats || !m_nats->isConnected()) return;
  if (Status s = m_nats->publishStatusRecord(encodeStatusRecord(st, m_instance)); !s.isOk())
    qCDebug(lcEngine).noquote() << s.message();
}

void Engine::onStatusRecord(const QByteArray& json) {
  auto record = decodeStatusRecord(json);
  if (!record) {
    qCDebug(lcEngine).noquote() << "ignored a status record:" << record.status().message();
    return;
  }
  PeerStatus& p = record->peer;
  if (p.nodeId == m_config.nodeId && record->instance != m_instance) {
    m_duplicateIdSeenMs = QDateTime::currentMSecsSinceEpoch();  // the duplicate_node_id alert
    if (!m_warnedDuplicateId)
      qCWarning(lcEngine).noquote()
          << QStringLiteral(
                 "another node uses node id %1 (cloned image?): give each node its own node_id")
                 .arg(p.nodeId);
    m_warnedDuplicateId = true;
    return;
  }
  p.lastSeenMs = QDateTime::currentMSecsSinceEpoch();
  m_peers.insert(p.nodeId, p);
}

// ---- the operator's controls ----------------------------------------------------------------

void Engine::control(int control, qint64 id, bool confirm, const QString& name) {
  using C = EngineThread::Control;
  const auto key = QMetaEnum::fromType<EngineThread::Control>().valueToKey(control);
  if (C(control) == C::kSaveSnapshot || C(control) == C::kVerifySnapshot ||
      C(control) == C::kRestoreSnapshot || C(control) == C::kRefreshSnapshots) {
    // Answered when the snapshot worker is done (onSnapshotFinished).
    const qint64 requestId = m_nextRequestId++;
    const Status s = requestSnapshot(control, id, confirm, name, requestId);
    if (!s.isOk()) {
      qCInfo(lcEngine).noquote() << "control" << key << "refused:" << s.message();
      emit controlDone(control, false, s.message());
      return;
    }
    qCInfo(lcEngine).noquote() << "control" << key + (name.isEmpty() ? QString() : " " + name)
                               << "under way";
    m_pendingControls.insert(requestId, control);
    emit statusChanged(currentStatus());
    return;
  }
  if (C(control) == C::kCheckConsistency || C(control) == C::kRepairConsistency) {
    // Answered when the check is done (onConsistencyChecked).
    const Status s = startConsistencyCheck(control, quint64(std::max<qint64>(0, id)), confirm);
    qCInfo(lcEngine).noquote() << "control" << key << (s.isOk() ? "under way" : "refused:")
                               << (s.isOk() ? QString() : s.message());
    if (!s.isOk()) emit controlDone(control, false, s.message());
    emit statusChanged(currentStatus());
    return;
  }
  QString message;
  const Status s = runControl(control, id, confirm, name, &message);
  if (!s.isOk()) message = s.message();
  qCInfo(lcEngine).noquote() << "control"
                             << QMetaEnum::fromType<EngineThread::Control>().valueToKey(control)
                             << (s.isOk() ? "done:" : "refused:") << message;
  emit statusChanged(currentStatus());  // the effect shows at once, before the answer arrives
  emit controlDone(control, s.isOk(), message);
}

// Each control is carried out by the component that owns the data; the engine checks that the
// node is in a state where it applies, and answers.
Status Engine::runControl(int control, qint64 id, bool confirm, const QString& name,
                          QString* message) {
  using C = EngineThread::Control;
  if (!m_running || !m_db.isOpen()) return Status::unavailable("the node is not running");
  switch (C(control)) {
    case C::kPausePublishing:
    case C::kResumePublishing:
      if (!m_config.publish) return Status::invalidArgument("publish = false: nothing to pause");
      m_publishingPaused = C(control) == C::kPausePublishing;
      if (m_publisher) m_publisher->setPaused(m_publishingPaused);
      emit event(EngineEvent::of(m_publishingPaused ? EngineEvent::Kind::PublishingPaused
                                                    : EngineEvent::Kind::PublishingResumed));
      *message = m_publishingPaused ? "publishing paused" : "publishing resumed";
      return Status::ok();
    case C::kPauseApplying:
    case C::kResumeApplying: {
      if (!m_consumer)
        return Status::invalidArgument("replicate = false or not connected: nothing applies");
      HL_RETURN_IF_ERROR(C(control) == C::kPauseApplying ? m_consumer->pause(int(id))
                                                         : m_consumer->resume(int(id)));
      *message =
          QStringLiteral("applying %1 %2")
              .arg(C(control) == C::kPauseApplying ? "paused" : "resumed",
                   id ? QStringLiteral("for shard %1").arg(id) : QStringLiteral("for every shard"));
      return Status::ok();
    }
    case C::kReconnectNats:
      dropConnection();
      m_connectAttempts = 0;
      makeNatsClient(m_urls);
      laterForThisClient(0, &Engine::tryConnect);  // not after a newer reconnect
      *message = "reconnecting to NATS";
      return Status::ok();
    case C::kRetryDeadLetter: {
      if (!m_consumer)
        return Status::invalidArgument("replicate = false or not connected: nothing applies");
      HL_RETURN_IF_ERROR(m_consumer->retryDeadLetter(id, message));
      emit event(EngineEvent::deadLetterClosed(id));
      return Status::ok();
    }
    case C::kDiscardDeadLetter: {
      if (!confirm) return Status::invalidArgument("discarding a dead letter loses it: confirm it");
      HL_RETURN_IF_ERROR(m_state->deleteDeadLetter(id));
      emit event(EngineEvent::deadLetterClosed(id));
      *message = QStringLiteral("dead letter %1 discarded").arg(id);
      return Status::ok();
    }
    case C::kRetryFailedPublishes: {
      if (!m_changeLog || !m_publisher)
        return Status::invalidArgument("publish = false or not connected");
      auto retried = m_changeLog->retryFailed();
      if (!retried) return retried.status();
      if (retried->firstId > 0) m_publisher->rewindTo(retried->firstId);
      *message = QStringLiteral("%1 failed change(s) back to pending").arg(retried->count);
      return Status::ok();
    }
    case C::kClearConflicts:
      if (!confirm)
        return Status::invalidArgument("clearing the conflict journal loses it: confirm it");
      HL_RETURN_IF_ERROR(m_state->clearConflicts());
      *message = "conflict journal cleared";
      return Status::ok();
    case C::kSaveSnapshot:
    case C::kVerifySnapshot:
    case C::kRestoreSnapshot:
    case C::kRefreshSnapshots:
    case C::kCheckConsistency:
    case C::kRepairConsistency:
      break;  // control() hands them to requestSnapshot() and startConsistencyCheck()
  }
  return Status::invalidArgument(QStringLiteral("unknown control %1").arg(control));
}

// ---- snapshots (docs/snapshots.md) ----------------------------------------------------------

void Engine::startSnapshots() {
  if (!m_config.snapshot.enabled || m_snapshots) return;
  qRegisterMetaType<RestoreFile>();
  qRegisterMetaType<SnapshotStatus>();
  qRegisterMetaType<SnapshotActivity>();
  m_snapshots = new SnapshotService(m_config, m_urls);
  m_snapshots->moveToThread(&m_snapshotThread);
  connect(&m_snapshotThread, &QThread::finished, m_snapshots, &QObject::deleteLater);
  connect(m_snapshots, &SnapshotService::statusChanged, this, [this](const SnapshotStatus& st) {
    m_snapshotStatus = st;
    updateSnapshotWatermarks();  // the catalogue was read, or a snapshot saved
  });
  connect(m_snapshots, &SnapshotService::finished, this, &Engine::onSnapshotFinished);
  connect(m_snapshots, &SnapshotService::restoreReady, this, &Engine::onRestoreReady);
  m_snapshotThread.setObjectName(QStringLiteral("hl-snapshots"));
  m_snapshotThread.start();
  QMetaObject::invokeMethod(m_snapshots, &SnapshotService::start, Qt::QueuedConnection);
}

void Engine::stopSnapshots() {
  if (!m_snapshots) return;
  m_snapshots->cancel();  // a transfer under way stops at its next chunk
  QMetaObject::invokeMethod(m_snapshots, &SnapshotService::stop, Qt::BlockingQueuedConnection);
  m_snapshotThread.quit();
  m_snapshotThread.wait();
  m_snapshots = nullptr;  // deleted by the thread's finished()
}

Status Engine::requestSnapshot(int control, qint64 id, bool confirm, const QString& name,
                               qint64 requestId) {
  using C = EngineThread::Control;
  if (!m_config.snapshot.enabled)
    return Status::invalidArgument("snapshots are disabled ([snapshot] enabled = false)");
  if (!m_snapshots) return Status::unavailable("the node is not connected to NATS yet");
  switch (C(control)) {
    case C::kSaveSnapshot:
      QMetaObject::invokeMethod(m_snapshots, [s = m_snapshots, requestId] {
        s->save(QStringLiteral("asked by the operator"), requestId);
      });
      return Status::ok();
    case C::kVerifySnapshot:
      QMetaObject::invokeMethod(m_snapshots,
                                [s = m_snapshots, name, requestId] { s->verify(name, requestId); });
      return Status::ok();
    case C::kRefreshSnapshots:
      QMetaObject::invokeMethod(m_snapshots,
                                [s = m_snapshots, requestId] { s->refresh(requestId); });
      return Status::ok();
    case C::kRestoreSnapshot:
      if (!confirm)
        return Status::invalidArgument("a restore replaces the live database: confirm it");
      if (m_restoring)
        return Status::busy(
            QStringLiteral("a restore (of %1) is already under way").arg(m_restoreTarget));
      startRestore(name, id == 1, requestId, QStringLiteral("asked by the operator"));
      return Status::ok();
    default:
      return Status::invalidArgument("not a snapshot control");
  }
}

void Engine::onSnapshotFinished(qint64 requestId, SnapshotActivity operation, bool ok,
                                const QString& message) {
  if (operation == SnapshotActivity::Restoring) {  // the download or its checks failed
    finishRestore(requestId, false, message);
    return;
  }
  if (operation != SnapshotActivity::Idle)  // a catalogue refresh is no event
    emit event(EngineEvent::snapshotFinished(operation, ok, message));
  emit statusChanged(currentStatus());  // before the answer: the host sees the new catalogue
  if (m_pendingControls.contains(requestId))
    emit controlDone(m_pendingControls.take(requestId), ok, message);
  if (requestId != 0 && requestId == m_sleepRequestId) {
    m_sleepRequestId = 0;
    emit idleTimeout(m_sleepIdleMs);
  }
}

// sleep_timeout: the leader takes a snapshot before the host exits.
void Engine::onIdle(qint64 idleMs) {
  if (!m_snapshots) {
    emit idleTimeout(idleMs);
    return;
  }
  m_sleepIdleMs = idleMs;
  m_sleepRequestId = m_nextRequestId++;
  QMetaObject::invokeMethod(m_snapshots, [s = m_snapshots, id = m_sleepRequestId] {
    s->saveIfLeader(QStringLiteral("sleep_timeout"), id);
  });
}

// A shard's next message aged out of its stream: restore at once when auto_restore is on,
// and again later while a shard still needs it (backing off after failures).
void Engine::onShardEvent(const EngineEvent& e) {
  if (e.kind != EngineEvent::Kind::ShardStateChanged || e.shardState != ShardState::NeedsRestore)
    return;
  if (!m_consumer) return;
  bool needed = false;
  for (int shard = 1; shard <= m_consumer->shardCount(); ++shard)
    needed = needed || m_consumer->status(shard).state == ShardState::NeedsRestore;
  if (!needed) return;
  // Behind the log, this node's snapshots would be old ones: another node leads meanwhile.
  setSnapshotEligible(false);
  if (!m_config.snapshot.enabled || !m_config.snapshot.autoRestore || m_restoring || !m_snapshots)
    return;
  // Not from inside the consumer's own signal: the restore replaces the consumer.
  QTimer::singleShot(0, this, [this] {
    if (!m_restoring)
      startRestore(QString(), false, m_nextRequestId++,
                   QStringLiteral("a shard needs it and snapshot.auto_restore = true"));
  });
}

void Engine::setSnapshotEligible(bool eligible) {
  if (!m_snapshots) return;
  QMetaObject::invokeMethod(m_snapshots, [s = m_snapshots, eligible] { s->setEligible(eligible); });
}

void Engine::startRestore(const QString& id, bool force, qint64 requestId, const QString& reason) {
  m_restoring = true;
  // The positions will be the snapshot's: a look asked before is not judged (and none is asked
  // while m_restoring).
  ++m_guardEpoch;
  m_restoreForce = force;
  m_restoreTarget = id.isEmpty() ? QStringLiteral("the newest snapshot") : id;
  qCInfo(lcEngine).noquote() << "restore from" << m_restoreTarget << "(" + reason + ")";
  for (int shard = 1; m_consumer && shard <= m_consumer->shardCount(); ++shard)
    emit event(EngineEvent::shardStateChanged(
        shard, ShardState::Restoring, QStringLiteral("restoring from %1").arg(m_restoreTarget)));
  const bool haveTables = m_catalog && !m_catalog->tables().isEmpty();
  const QString hash = m_catalog ? m_catalog->schemaHash() : QString();
  QMetaObject::invokeMethod(m_snapshots, [s = m_snapshots, id, hash, haveTables, force, requestId] {
    s->fetchForRestore(id, hash, haveTables, force, requestId);
  });
  emit statusChanged(currentStatus());
}

void Engine::onRestoreReady(qint64 requestId, const RestoreFile& file) {
  m_restoreTarget = file.id;
  applyRestore(requestId, file, QDateTime::currentMSecsSinceEpoch() + 20000);
}

// Local changes not published yet would be lost with the old database: they are sent first
// (while NATS is reachable), then the checked file is copied in.
void Engine::applyRestore(qint64 requestId, const RestoreFile& file, qint64 deadlineMs) {
  if (!m_running) {
    QFile::remove(file.path);
    finishRestore(requestId, false, "the node stopped");
    return;
  }
  // Failed changes (too large to publish) would be lost with the old database.
  auto failedChanges = m_changeLog ? m_changeLog->failedCount() : Result<int64_t>(int64_t(0));
  if (failedChanges && *failedChanges > 0 && !m_restoreForce) {
    QFile::remove(file.path);
    finishRestore(requestId, false,
                  QStringLiteral("%1 local change(s) failed to publish (too large) and would be "
                                 "lost: retry or discard them first, or force the restore; "
                                 "nothing was changed")
                      .arg(*failedChanges));
    return;
  }
  if (m_publisher) m_publisher->recordNow();  // acks waiting to be recorded together
  auto pending = m_changeLog ? m_changeLog->pendingCount() : Result<int64_t>(int64_t(0));
  const bool connected = m_nats && m_nats->isConnected();
  if (pending && *pending > 0 && m_config.publish && !m_restoreForce) {
    if (connected && m_publisher && QDateTime::currentMSecsSinceEpoch() < deadlineMs) {
      m_publisher->wake();
      // Looked at every 20 ms: an application writing all the time leaves a moment with
      // nothing pending only briefly (tst_snapshots applicationWritesThroughRestore missed it
      // for 20 s at 100 ms under a loaded machine).
      QTimer::singleShot(20, this, [this, requestId, file, deadlineMs] {
        applyRestore(requestId, file, deadlineMs);
      });
      return;
    }
    QFile::remove(file.path);
    finishRestore(
        requestId, false,
        QStringLiteral("%1 local change(s) are not published yet (%2): restoring "
                       "would lose them; nothing was changed")
            .arg(*pending)
            .arg(connected ? "publishing did not finish in 20 s" : "NATS is unreachable"));
    return;
  }
  askRestoreBounds(requestId, file, deadlineMs);
}

// The streams' bounds are asked on the request thread: each request may wait for its 3 s
// timeout, and the engine's thread goes on meanwhile (docs/architecture.md#threads). A stream
// that could not be asked (NATS unreachable, no answer, no leader) is asked again every 100 ms
// until the deadline; a reconnect meanwhile (dropConnection()) starts this step again.
void Engine::askRestoreBounds(qint64 requestId, const RestoreFile& file, qint64 deadlineMs) {
  QStringList streams;
  for (int shard = 1; shard <= m_config.replicationLog.shards; ++shard)
    streams << m_config.streamName(shard);
  m_restoreAgain = [this, requestId, file, deadlineMs] {
    applyRestore(requestId, file, deadlineMs);
  };
  NatsClient* nats = m_nats.get();
  RequestThread* requests = &m_requests;
  m_requests.run<QList<StreamBounds>>(
      [nats, requests, streams] {
        QList<StreamBounds> bounds(streams.size());
        for (qsizetype i = 0; i < streams.size() && !requests->cancelled(); ++i)
          bounds[i].state = nats->streamState(streams[i], &bounds[i].first, &bounds[i].last);
        return bounds;
      },
      [this, requestId, file, deadlineMs](QList<StreamBounds> bounds) {
        m_restoreAgain = nullptr;
        onRestoreBounds(requestId, file, deadlineMs, bounds);
      });
}

void Engine::onRestoreBounds(qint64 requestId, const RestoreFile& file, qint64 deadlineMs,
                             const QList<StreamBounds>& bounds) {
  if (!m_running) {
    QFile::remove(file.path);
    finishRestore(requestId, false, "the node stopped");
    return;
  }
  for (const StreamBounds& b : bounds) {
    const Status::Code code = b.state.code();
    if ((code == Status::Code::kUnavailable || code == Status::Code::kTimeout) &&
        QDateTime::currentMSecsSinceEpoch() < deadlineMs) {
      QTimer::singleShot(100, this, [this, requestId, file, deadlineMs] {
        applyRestore(requestId, file, deadlineMs);
      });
      return;
    }
  }
  QString message;
  const Status s = copySnapshotIn(file, bounds, &message);
  if (s.code() == Status::Code::kBusy && ++m_restoreAttempts < kRestoreAttempts) {
    // The changes written meanwhile could not be carried over (the copy did not start):
    // publish them and try again.
    qCInfo(lcEngine).noquote() << s.message() << "- publishing them first, then again";
    QTimer::singleShot(100, this, [this, requestId, file] {
      applyRestore(requestId, file, QDateTime::currentMSecsSinceEpoch() + 20000);
    });
    return;
  }
  m_restoreAttempts = 0;
  QFile::remove(file.path);
  finishRestore(requestId, s.isOk(), s.isOk() ? message : s.message());
}

Status Engine::copySnapshotIn(const RestoreFile& file, const QList<StreamBounds>& bounds,
                              QString* message) {
  // The positions the node resumes from: the snapshot's watermark, or (a snapshot without
  // one, from a Go node) everything the streams still hold. Either way each must still be in
  // its stream, or the restore would leave a gap.
  QHash<QString, quint64> positions, replayOwn;
  for (int shard = 1; shard <= m_config.replicationLog.shards; ++shard) {
    const QString stream = m_config.streamName(shard);
    if (shard > bounds.size()) return Status::internal("restore: a stream's bounds not asked");
    const StreamBounds& b = bounds[shard - 1];
    HL_RETURN_IF_ERROR(b.state.withContext("restore"));
    const quint64 first = b.first, last = b.last;
    const quint64 from = first > 0 ? first - 1 : 0;
    if (!file.watermarkKnown && first > 1 && !m_restoreForce)
      return Status::invalidArgument(
          QStringLiteral("snapshot %1 has no watermark (made by another program) and stream %2 "
                         "no longer starts at 1: messages between it and the stream's first "
                         "may be missing; restore it with force to accept that; nothing was "
                         "changed")
              .arg(file.id, stream));
    const quint64 pos = file.watermarkKnown ? file.streams.value(stream, from) : from;
    if (pos + 1 < first)
      return Status::invalidArgument(
          QStringLiteral("snapshot %1 covers stream %2 up to %3, but the stream now starts at "
                         "%4: it is too old to restore from; nothing was changed (a newer "
                         "snapshot is needed: save one on an up-to-date node)")
              .arg(file.id, stream)
              .arg(pos)
              .arg(first));
    positions.insert(stream, pos);
    replayOwn.insert(stream, last);  // what we published may be missing from the snapshot
  }
  auto pageSize = m_db.queryInt(QStringLiteral("PRAGMA page_size"));
  if (!pageSize) return pageSize.status();
  auto lastChangeId = m_changeLog ? m_changeLog->maxChangeId() : Result<int64_t>(int64_t(0));
  if (!lastChangeId) return lastChangeId.status();
  HL_RETURN_IF_ERROR(
      prepareForRestore(file.path, m_config, positions, replayOwn, *lastChangeId, int(*pageSize)));
  // Replication stops while the database is replaced; the components are made again after.
  m_cleanupTimer.stop();
  if (m_watcher) m_watcher->stop();
  m_consistency.reset();
  m_consumer.reset();  // writes its positions first: they are replaced just below
  m_publisher.reset();
  // Under the copy's write lock nothing can commit any more: the local changes captured since
  // the pending check above are carried into the snapshot file (its triggers capture them
  // again), so they are published after the restore instead of lost with the old database.
  int carried = 0;
  auto carry = [this, &file, &carried]() -> Status {
    auto n = carryPendingChanges(m_config.dbPath, file.path, m_config);
    if (!n) return Status::busy(n.status().message());  // tried again, bounded
    carried = *n;
    return Status::ok();
  };
  Status copied = copyIntoLive(m_db, file.path, {}, carry);
  if (copied.isOk()) {
    // The database is replaced: from here on the node runs on it whatever else fails. The
    // positions are the ones just committed with it.
    for (int shard = 1; shard <= m_config.replicationLog.shards; ++shard)
      m_positions.setApplied(shard, positions.value(m_config.streamName(shard), 0));
    if (Status w = ReplicationState::writeSeqMap(m_config.effectiveSeqMapPath(), positions);
        !w.isOk())
      qCWarning(lcEngine).noquote() << "restore: seq-map file not written (it only mirrors the "
                                       "database):"
                                    << w.message();
    if (Status c = setUpCapture(); !c.isOk()) {
      // The snapshot file carried our capture already; re-checked at the next wake-up.
      qCWarning(lcEngine).noquote() << "restore: capture check deferred:" << c.message();
      m_captureStale = true;
    }
  }
  startReplication();  // on the restored database, or again on the old one after a failure
  if (m_captureStale && m_watcher) m_watcher->wakeSoon(50);
  if (!copied.isOk()) return copied.withContext("restore");
  QStringList from;
  for (auto it = positions.begin(); it != positions.end(); ++it)
    from << QStringLiteral("%1 from %2").arg(it.key()).arg(it.value() + 1);
  *message = QStringLiteral("restored snapshot %1; replaying %2").arg(file.id, from.join(", "));
  if (carried > 0)
    *message += QStringLiteral("; %1 local change(s) written during the restore kept").arg(carried);
  return Status::ok();
}

void Engine::finishRestore(qint64 requestId, bool ok, const QString& message) {
  m_restoring = false;
  m_restoreAttempts = 0;
  m_restoreForce = false;
  if (ok) {
    ++m_restores;
    m_autoRestoreFailures = 0;
    setSnapshotEligible(true);
    qCInfo(lcEngine).noquote() << message;
    // A shard whose stream moved past the watermark meanwhile says so again.
    m_autoRestoreTimer.start(1000);
  } else {
    qCWarning(lcEngine).noquote() << "restore failed:" << message;
    if (m_consumer) m_consumer->resubscribeAll();  // shards that still need one say so again
    // Automatic restores try again while a shard needs one: 30 s, 60 s, ... up to 10 minutes.
    ++m_autoRestoreFailures;
    if (m_config.snapshot.autoRestore)
      m_autoRestoreTimer.start(
          int(std::min<qint64>(600000, 30000LL << std::min(5, m_autoRestoreFailures - 1))));
  }
  emit event(EngineEvent::snapshotFinished(SnapshotActivity::Restoring, ok, message));
  emit statusChanged(currentStatus());
  if (m_pendingControls.contains(requestId))
    emit controlDone(m_pendingControls.take(requestId), ok, message);
}

}  // namespace hl
