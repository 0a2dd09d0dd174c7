#include "metrics_server.h"

#include <QHostAddress>

namespace hl {
namespace {

class Exposition {
 public:
  Exposition(const PrometheusConfig& c, uint64_t nodeId) : m_nodeId(QByteArray::number(quint64(nodeId))) {
    m_prefix = c.nameSpace.toUtf8();
    if (!c.subsystem.isEmpty()) m_prefix += (m_prefix.isEmpty() ? "" : "_") + c.subsystem.toUtf8();
    if (!m_prefix.isEmpty()) m_prefix += '_';
  }

  void family(const char* name, const char* type, const char* help) {
    m_name = m_prefix + name;
    m_out += "# HELP " + m_name + ' ' + help + '\n';
    m_out += "# TYPE " + m_name + ' ' + type + '\n';
  }
  void sample(double value, int shard = 0) {
    m_out += m_name + "{node_id=\"" + m_nodeId + '"';
    if (shard > 0) m_out += ",shard=\"" + QByteArray::number(shard) + '"';
    m_out += "} " + QByteArray::number(value, 'g', 15) + '\n';
  }
  QByteArray take() { return std::move(m_out); }

 private:
  QByteArray m_prefix, m_nodeId, m_name, m_out;
};

}  // namespace

Status parseBind(const QString& key, const QString& bind, QHostAddress* address, quint16* port) {
  const qsizetype colon = bind.lastIndexOf(':');
  const QString host = bind.left(colon);
  *port = quint16(bind.mid(colon + 1).toUInt());
  *address = host.isEmpty() ? QHostAddress(QHostAddress::Any) : QHostAddress(host);
  if (host == QLatin1String("localhost")) *address = QHostAddress(QHostAddress::LocalHost);
  if (address->isNull())
    return Status::invalidArgument(QStringLiteral("%1: \"%2\" is not an IP address").arg(key, host));
  return Status::ok();
}

MetricsServer::MetricsServer(PrometheusConfig config, QObject* parent)
    : QObject(parent), m_config(std::move(config)) {
  m_server.route("/metrics", [this](const QHttpServerRequest&) {
    return QHttpServerResponse("text/plain; version=0.0.4; charset=utf-8", render(m_config, m_status));
  });
}

Status MetricsServer::listen() {
  QHostAddress address;
  quint16 port = 0;
  HL_RETURN_IF_ERROR(parseBind("prometheus.bind", m_config.bind, &address, &port));
  m_port = m_server.listen(address, port);
  if (m_port == 0)
    return Status::unavailable(
        QStringLiteral("prometheus.bind: cannot listen on %1 (address in use or not available)").arg(m_config.bind));
  return Status::ok();
}

QByteArray MetricsServer::render(const PrometheusConfig& config, const NodeStatus& s) {
  Exposition e(config, s.nodeId);
  e.family("up", "gauge", "1 when the node is healthy (see /health), else 0.");
  e.sample(s.healthy ? 1 : 0);
  e.family("uptime_seconds", "gauge", "Seconds since the node started.");
  e.sample(double(s.uptimeSeconds));
  e.family("published_total", "counter", "Changes published and acknowledged by JetStream (Go: published).");
  e.sample(double(s.published));
  e.family("pending_publish", "gauge", "Captured changes not published yet (Go: pending_publish).");
  e.sample(double(s.pendingChanges));
  e.family("failed_changes", "gauge", "Changes in the failed state (larger than the server accepts).");
  e.sample(double(s.failedChanges));
  e.family("publishing_paused", "gauge", "1 when the operator paused publishing.");
  e.sample(s.publishingPaused ? 1 : 0);
  e.family("dead_letters", "gauge", "Messages in the dead-letter table.");
  e.sample(double(s.deadLetterCount));
  e.family("conflict_journal_entries", "gauge", "Entries in the conflict journal (bounded).");
  e.sample(double(s.conflictCount));
  e.family("failed_publishes_total", "counter", "Publish attempts that failed and were retried.");
  e.sample(double(s.failedPublishes));
  e.family("nats_connected", "gauge", "1 when connected to NATS.");
  e.sample(s.natsConnected ? 1 : 0);
  e.family("nats_reconnects_total", "counter", "Reconnections to NATS since start.");
  e.sample(double(s.natsReconnects));
  e.family("database_size_bytes", "gauge", "Size of the database file.");
  e.sample(double(s.dbSizeBytes));
  e.family("wal_size_bytes", "gauge", "Size of the database's write-ahead log.");
  e.sample(double(s.walSizeBytes));
  e.family("applied_total", "counter", "Remote changes applied, per shard.");
  for (const ShardStatus& sh : s.shards) e.sample(double(sh.appliedChanges), sh.shard);
  e.family("applied_sequence", "gauge", "Last applied stream sequence, per shard.");
  for (const ShardStatus& sh : s.shards) e.sample(double(sh.applied), sh.shard);
  e.family("lag_messages", "gauge", "Messages in the shard's stream not applied yet.");
  for (const ShardStatus& sh : s.shards) e.sample(double(sh.lagMessages), sh.shard);
  e.family("lag_seconds", "gauge", "Age of the oldest received message not applied yet.");
  for (const ShardStatus& sh : s.shards) e.sample(sh.lagSeconds, sh.shard);
  e.family("shard_running", "gauge", "1 when the shard applies, 0 when stopped or needing a restore.");
  for (const ShardStatus& sh : s.shards) e.sample(sh.state == QLatin1String("running") ? 1 : 0, sh.shard);
  e.family("conflicts_total", "counter", "Conflicts recorded, per shard.");
  for (const ShardStatus& sh : s.shards) e.sample(double(sh.conflicts), sh.shard);
  e.family("dead_letters_total", "counter", "Poison messages dead-lettered, per shard.");
  for (const ShardStatus& sh : s.shards) e.sample(double(sh.deadLetters), sh.shard);
  return e.take();
}

}  // namespace hl
