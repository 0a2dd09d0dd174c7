#include "endpoints_host.h"

#include "harmonylite/logging.h"
#include "health_server.h"
#include "metrics_server.h"

namespace hl {

EndpointsHost::EndpointsHost() = default;
EndpointsHost::~EndpointsHost() = default;

Status EndpointsHost::start(const Config& config) {
  stop();
  if (config.healthCheck.enable) {
    m_health = std::make_unique<HealthServer>(config.healthCheck, config.keptHistoryPath());
    HL_RETURN_IF_ERROR(m_health->listen());
    qCInfo(lcMain).noquote() << "health endpoint on" << config.healthCheck.bind
                             << config.healthCheck.path;
  }
  if (config.prometheus.enable) {
    m_metrics = std::make_unique<MetricsServer>(config.prometheus);
    HL_RETURN_IF_ERROR(m_metrics->listen());
    qCInfo(lcMain).noquote() << "Prometheus metrics on" << config.prometheus.bind << "/metrics";
  }
  return Status::ok();
}

void EndpointsHost::follow(EngineThread& engine) {
  if (m_health)
    QObject::connect(&engine, &EngineThread::statusChanged, m_health.get(),
                     &HealthServer::setStatus);
  if (m_metrics)
    QObject::connect(&engine, &EngineThread::statusChanged, m_metrics.get(),
                     &MetricsServer::setStatus);
}

void EndpointsHost::stop() {
  m_health.reset();
  m_metrics.reset();
}

}  // namespace hl
