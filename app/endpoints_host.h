// EndpointsHost: the node's HTTP endpoints ([health_check] /health and [prometheus] /metrics),
// as both hosts (headless runner, dashboard) start them: bound before the engine starts, so a
// taken port is a start-up error, and fed from the engine's status signal.
// Thread: the host (main) thread; owns the servers.
#pragma once

#include <memory>

#include "harmonylite/config.h"
#include "harmonylite/engine_thread.h"
#include "harmonylite/status.h"

namespace hl {

class HealthServer;
class MetricsServer;

class EndpointsHost final {
 public:
  EndpointsHost();
  ~EndpointsHost();

  // Binds the enabled endpoints; an error names the endpoint and address. Logs where they are.
  Status start(const Config& config);
  // Feeds them every status of `engine`.
  void follow(EngineThread& engine);
  void stop();

 private:
  std::unique_ptr<HealthServer> m_health;
  std::unique_ptr<MetricsServer> m_metrics;
};

}  // namespace hl
