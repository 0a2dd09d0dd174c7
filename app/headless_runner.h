// The headless host: runs the engine on its thread with no window, until SIGINT/SIGTERM.
// Used for --no-gui, for services and when no display can be opened (docs/dashboard.md).
// Thread: the host (main) thread; it owns the EngineThread.
#pragma once

#include <QObject>

#include "harmonylite/config.h"
#include "harmonylite/engine_thread.h"

namespace hl {

class HeadlessRunner final : public QObject {
  Q_OBJECT
 public:
  explicit HeadlessRunner(Config config, QObject* parent = nullptr);

  // Runs the event loop; returns the process exit code: 0 after a clean stop on a signal,
  // 1 when the engine fails to start.
  int exec();

 private:
  Config m_config;
};

// Stops `engine`; when it does not stop within its deadline (stuck in a NATS or SQLite call),
// logs why and ends the process with exit code 1 at once: a stop request must not hang (the
// embedded nats-server child dies with us through its parent-death signal). Both hosts use it.
void stopEngineOrExit(EngineThread& engine);
// The second half of it: logs "exiting without a clean stop" and ends the process with exit
// code 1 at once (for a host that bounds the stop itself, as the dashboard's restart does).
[[noreturn]] void exitWithoutCleanStop();

}  // namespace hl
