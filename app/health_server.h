// HealthServer: the /health endpoint of [health_check] (docs/replication.md#health-endpoint),
// served with Qt HttpServer on the host thread. It answers from the latest NodeStatus the engine
// published (no NATS or database round trip per request): 200 when healthy, 503 with the reason
// otherwise. On the same port, /history.csv serves the node's history (docs/alerts.md#history)
// read from its history file per request (?hours=N, default every sample kept).
// Thread: the host (main) thread.
#pragma once

#include <QHttpServer>
#include <QJsonObject>
#include <QObject>

#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"

namespace hl {

class HealthServer final : public QObject {
  Q_OBJECT
 public:
  // `historyPath`: the node's history file ("" = no /history.csv).
  explicit HealthServer(HealthCheckConfig config, QString historyPath = QString(),
                        QObject* parent = nullptr);

  // Binds where configured; a taken port or a bad address is an error naming them.
  Status listen();
  quint16 port() const { return m_port; }
  void setStatus(const NodeStatus& status);

  // The JSON body: Go's fields plus per-shard lag and state (exposed for tests).
  static QJsonObject toJson(const NodeStatus& status, bool received);

 private:
  HealthCheckConfig m_config;
  QString m_historyPath;
  QHttpServer m_server;
  NodeStatus m_status;
  bool m_received = false;  // no status yet: the node is still starting
  quint16 m_port = 0;
};

}  // namespace hl
