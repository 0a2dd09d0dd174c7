#include "runtime/engine.h"

#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>

#include "harmonylite/engine.h"

Q_LOGGING_CATEGORY(lcEngine, "hl.engine")

namespace hl {

Engine::Engine(Config config) : m_config(std::move(config)) {}
Engine::~Engine() = default;

Status Engine::openDatabase() {
  const QString dir = m_config.stateDir();
  if (!QDir().mkpath(dir))
    return Status::ioError(QStringLiteral("cannot create the directory %1").arg(dir));
  auto db = SqliteDb::open(m_config.dbPath);
  if (!db) return db.status();
  m_db = std::move(db.value());
  // A quick read proves the file is a database (sqlite3_open_v2 is lazy).
  auto tables = m_db.queryInt(QStringLiteral(
      "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
      "ESCAPE '\\'"));
  if (!tables) return tables.status().withContext(QStringLiteral("read %1").arg(m_config.dbPath));
  qCInfo(lcEngine).noquote() << "database" << m_config.dbPath << "open," << *tables << "tables";
  return Status::ok();
}

void Engine::start() {
  if (Status s = openDatabase(); !s.isOk()) {
    emit failed(s.message());
    return;
  }
  emit started();
}

void Engine::stop() {
  m_db = SqliteDb();
  emit stopped();
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
