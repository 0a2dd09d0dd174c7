#include "headless_runner.h"

#include <QCoreApplication>

#include <memory>

#include "harmonylite/engine.h"
#include "health_server.h"
#include "metrics_server.h"
#include "harmonylite/logging.h"
#include "unix_signals.h"

namespace hl {

HeadlessRunner::HeadlessRunner(Config config, QObject* parent)
    : QObject(parent), m_config(std::move(config)) {}

int HeadlessRunner::exec() {
  std::unique_ptr<HealthServer> health;
  if (m_config.healthCheck.enable) {
    health = std::make_unique<HealthServer>(m_config.healthCheck);
    if (Status s = health->listen(); !s.isOk()) {
      qCCritical(lcMain).noquote() << "start-up failed:" << s.message();
      return 1;
    }
    qCInfo(lcMain).noquote() << "health endpoint on" << m_config.healthCheck.bind << m_config.healthCheck.path;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (m_config.prometheus.enable) {
    metrics = std::make_unique<MetricsServer>(m_config.prometheus);
    if (Status s = metrics->listen(); !s.isOk()) {
      qCCritical(lcMain).noquote() << "start-up failed:" << s.message();
      return 1;
    }
    qCInfo(lcMain).noquote() << "Prometheus metrics on" << m_config.prometheus.bind << "/metrics";
  }
  EngineThread engine(m_config);
  if (health) QObject::connect(&engine, &EngineThread::statusChanged, health.get(), &HealthServer::setStatus);
  if (metrics) QObject::connect(&engine, &EngineThread::statusChanged, metrics.get(), &MetricsServer::setStatus);
  UnixSignals unixSignals;
  int exitCode = 0;

  QObject::connect(&engine, &EngineThread::started, [] {
    qCInfo(lcMain) << "node running headless; stop it with Ctrl-C or SIGTERM";
  });
  QObject::connect(&engine, &EngineThread::failed, [&](const QString& reason) {
    qCCritical(lcMain).noquote() << "start-up failed:" << reason;
    exitCode = 1;
    QCoreApplication::exit(1);
  });
  QObject::connect(&engine, &EngineThread::idleTimeout, [&](qint64 idleMs) {
    // The snapshot before this exit arrives with the snapshot work (SPEC A9, B6).
    qCInfo(lcMain) << "idle for" << idleMs << "ms (sleep_timeout): stopping";
    engine.stop();
    QCoreApplication::exit(0);
  });
  QObject::connect(&unixSignals, &UnixSignals::terminationRequested, [&](int sig) {
    qCInfo(lcMain) << "signal" << sig << "received, stopping";
    engine.stop();
    QCoreApplication::exit(exitCode);
  });

  engine.start();
  const int rc = QCoreApplication::exec();
  engine.stop();
  if (rc == 0 && exitCode == 0) qCInfo(lcMain) << "stopped cleanly";
  return rc != 0 ? rc : exitCode;
}

}  // namespace hl
