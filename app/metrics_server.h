// MetricsServer: Prometheus text exposition of [prometheus] (docs/replication.md#health-endpoint),
// served with Qt HttpServer on the host thread from the latest NodeStatus (no round trip per
// scrape). Names: <namespace>[_<subsystem>]_<name>; Go's `published` and `pending_publish` keep
// their names (the counter with the _total suffix Prometheus requires); every series carries
// node_id, per-shard series also shard.
// Thread: the host (main) thread.
#pragma once

#include <QByteArray>
#include <QHttpServer>
#include <QObject>

#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"

namespace hl {

class MetricsServer final : public QObject {
  Q_OBJECT
 public:
  explicit MetricsServer(PrometheusConfig config, QObject* parent = nullptr);

  Status listen();  // a taken port or a bad address is an error naming prometheus.bind
  quint16 port() const { return m_port; }
  void setStatus(const NodeStatus& status) { m_status = status; }

  // The exposition text (exposed for tests).
  static QByteArray render(const PrometheusConfig& config, const NodeStatus& status);

 private:
  PrometheusConfig m_config;
  QHttpServer m_server;
  NodeStatus m_status;
  quint16 m_port = 0;
};

// Listens on "host:port" / ":port" (config key `key`); shared by the HTTP endpoints. Returns
// the port, or an error naming the key when the address is bad or taken.
Result<quint16> listenAt(QHttpServer& server, const QString& key, const QString& bind);

}  // namespace hl
