#include "headless_runner.h"

#include <QCoreApplication>

#include <cstdio>
#include <cstdlib>

#include "endpoints_host.h"
#include "harmonylite/engine_thread.h"
#include "harmonylite/logging.h"
#include "unix_signals.h"

namespace hl {

void stopEngineOrExit(EngineThread& engine) {
  if (!engine.stop()) exitWithoutCleanStop();
}

void exitWithoutCleanStop() {
  qCCritical(lcMain) << "exiting without a clean stop";
  flushLogs();  // _Exit skips the exit handlers that would write the waiting lines
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(1);
}

HeadlessRunner::HeadlessRunner(Config config, QObject* parent)
    : QObject(parent), m_config(std::move(config)) {}

int HeadlessRunner::exec() {
  EndpointsHost endpoints;
  if (Status s = endpoints.start(m_config); !s.isOk()) {
    qCCritical(lcMain).noquote() << "start-up failed:" << s.message();
    return 1;
  }
  EngineThread engine(m_config);
  endpoints.follow(engine);
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
    // The engine has already taken the leader's snapshot before telling this
    // (docs/snapshots.md#saving).
    qCInfo(lcMain) << "idle for" << idleMs << "ms (sleep_timeout): stopping";
    stopEngineOrExit(engine);
    QCoreApplication::exit(0);
  });
  QObject::connect(&unixSignals, &UnixSignals::terminationRequested, [&](int sig) {
    qCInfo(lcMain) << "signal" << sig << "received, stopping";
    stopEngineOrExit(engine);
    QCoreApplication::exit(exitCode);
  });

  engine.start();
  const int rc = QCoreApplication::exec();
  stopEngineOrExit(engine);
  if (rc == 0 && exitCode == 0) qCInfo(lcMain) << "stopped cleanly";
  return rc != 0 ? rc : exitCode;
}

}  // namespace hl
