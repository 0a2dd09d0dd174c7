#include "runtime/engine.h"

#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>

#include <climits>

#include "harmonylite/engine.h"
#include "cdc/change_log.h"
#include "replication/applier.h"
#include "schema/catalog.h"

Q_LOGGING_CATEGORY(lcEngine, "hl.engine")

namespace hl {

Engine::Engine(Config config) : m_config(std::move(config)) {
  m_wakeCoalescer.setSingleShot(true);
  m_wakeCoalescer.setInterval(0);
  connect(&m_wakeCoalescer, &QTimer::timeout, this, &Engine::onDatabaseChanged);
  connect(&m_watcher, &QFileSystemWatcher::fileChanged, &m_wakeCoalescer,
          qOverload<>(&QTimer::start));
  connect(&m_watcher, &QFileSystemWatcher::directoryChanged, this, [this] {
    watchFiles();  // the -wal file may have appeared
    m_wakeCoalescer.start();
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
  return Status::ok();
}

Status Engine::setUpCapture() {
  m_catalog = std::make_unique<SchemaCatalog>(m_db, m_config.ignoreTables);
  HL_RETURN_IF_ERROR(m_catalog->reload().withContext("read schema"));
  m_changeLog = std::make_unique<ChangeLog>(m_db, *m_catalog);
  m_applier = std::make_unique<Applier>(m_db, *m_catalog);
  if (m_config.publish) {
    HL_RETURN_IF_ERROR(m_changeLog->install());
  } else {
    HL_RETURN_IF_ERROR(m_changeLog->removeTriggers());
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
  if (*changed && m_config.publish) {
    if (Status s = m_changeLog->install(); !s.isOk())
      qCWarning(lcEngine).noquote() << "re-installing capture failed:" << s.message();
  }
}

void Engine::runCleanup() {
  if (!m_changeLog || !m_config.publish) return;
  auto removed = m_changeLog->cleanup();
  if (!removed)
    qCWarning(lcEngine).noquote() << "cleanup failed:" << removed.status().message();
  else if (*removed > 0)
    qCDebug(lcEngine) << "cleanup removed" << *removed << "published changes";
}

void Engine::start() {
  Status s = openDatabase();
  if (s.isOk()) s = setUpCapture();
  if (!s.isOk()) {
    emit failed(s.message());
    return;
  }
  watchFiles();
  if (m_config.pollingIntervalMs > 0) m_pollTimer.start(int(m_config.pollingIntervalMs));
  // cleanup_interval = 0 means "at once": the publisher cleans after marking (no timer).
  if (m_config.cleanupIntervalMs > 0)
    m_cleanupTimer.start(int(std::min<int64_t>(m_config.cleanupIntervalMs, INT_MAX)));
  emit started();
}

void Engine::stop() {
  m_pollTimer.stop();
  m_cleanupTimer.stop();
  m_wakeCoalescer.stop();
  m_watcher.removePaths(m_watcher.files() + m_watcher.directories());
  m_applier.reset();
  m_changeLog.reset();
  m_catalog.reset();
  m_db = SqliteDb();
  emit stopped();
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
  connect(m_engine, &Engine::started, this, &EngineThread::started);
  connect(m_engine, &Engine::failed, this, &EngineThread::failed);
  connect(m_engine, &Engine::stopped, this, &EngineThread::stopped);
}

EngineThread::~EngineThread() { stop(); }

void EngineThread::start() {
  m_thread.start();
  QMetaObject::invokeMethod(m_engine, &Engine::start, Qt::QueuedConnection);
}

void EngineThread::stop(int timeoutMs) {
  if (!m_thread.isRunning()) return;
  // Runs Engine::stop on the engine thread and waits for it, then ends the thread's loop.
  QMetaObject::invokeMethod(m_engine, &Engine::stop, Qt::BlockingQueuedConnection);
  m_thread.quit();
  if (!m_thread.wait(QDeadlineTimer(timeoutMs))) {
    qCCritical(lcEngine) << "engine thread did not stop within" << timeoutMs << "ms";
  }
}

}  // namespace hl
