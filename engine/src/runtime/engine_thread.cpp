#include "harmonylite/engine_thread.h"

#include <openssl/crypto.h>
#include <QDeadlineTimer>
#include <QLoggingCategory>

#include "runtime/engine.h"

Q_DECLARE_LOGGING_CATEGORY(lcEngine)

namespace hl {

void keepCryptoStateUntilExit() {
  // The first initialisation decides: with NO_ATEXIT, no OPENSSL_cleanup() runs at exit.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
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
  connect(m_engine, &Engine::event, this, &EngineThread::event);
  connect(m_engine, &Engine::idleTimeout, this, &EngineThread::idleTimeout);
  connect(m_engine, &Engine::controlDone, this,
          [this](int control, bool ok, const QString& message) {
            emit controlDone(Control(control), ok, message);
          });
}

EngineThread::~EngineThread() {
  stop();
}

void EngineThread::control(Control control, qint64 id, bool confirm, const QString& name) {
  QMetaObject::invokeMethod(
      m_engine,
      [e = m_engine, control, id, confirm, name] { e->control(int(control), id, confirm, name); },
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
