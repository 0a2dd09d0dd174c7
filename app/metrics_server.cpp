#include "metrics_server.h"

#include "harmonylite/logging.h"

#include <QHostAddress>

namespace hl {
namespace {

class Exposition {
 public:
  Exposition(const PrometheusConfig& c, uint64_t nodeId)
      : m_nodeId(QByteArray::number(quint64(nodeId))) {
    m_prefix = c.nameSpace.toUtf8();
    if (!c.subsystem.isEmpty()) m_prefix += (m_prefix.isEmpty() ? "" : "_") + c.subsystem.toUtf8();
    if (!m_prefix.isEmpty()) m_prefix += '_';
  }

  void family(const char* name, const char* type, const char* help) {
    m_name = m_prefix + name;
    m_out += "# HELP " + m_name + ' ' + help + '\n';
    m_out += "# TYPE " + m_name + ' ' + type + '\n';
  }
  // A family with one node-wide sample.
  void single(const char* name, const char* type, const char* help, double value) {
    family(name, type, help);
    sample(value);
  }
  // A family with one sample per shard.
  template <typename F>
  void perShard(const char* name, const char* type, const char* help,
                const QList<ShardStatus>& shards, F value) {
    family(name, type, help);
    for (const ShardStatus& sh : shards) sample(double(value(sh)), sh.shard);
  }
  void sample(double value, int shard = 0, const QByteArray& kind = QByteArray()) {
    m_out += m_name + "{node_id=\"" + m_nodeId + '"';
    if (shard > 0) m_out += ",shard=\"" + QByteArray::number(shard) + '"';
    if (!kind.isEmpty()) m_out += ",kind=\"" + kind + '"';  // our own fixed words, no escaping
    m_out += "} " + QByteArray::number(value, 'g', 15) + '\n';
  }
  // A sample with one more label (its value escaped as the exposition format says).
  void labelled(double value, const char* label, const QString& text) {
    QByteArray name = text.toUtf8();
    name.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    m_out += m_name + "{node_id=\"" + m_nodeId + "\"," + label + "=\"" + name + "\"} " +
             QByteArray::number(value, 'g', 15) + '\n';
  }
  // A summary family: one sample per quantile ("0.5", "0.99", "1" for the maximum).
  void summary(const char* name, const char* help,
               const QList<std::pair<const char*, double>>& quantiles) {
    family(name, "summary", help);
    for (const auto& [q, value] : quantiles)
      m_out += m_name + "{node_id=\"" + m_nodeId + "\",quantile=\"" + q + "\"} " +
               QByteArray::number(value, 'g', 15) + '\n';
  }
  QByteArray take() { return std::move(m_out); }

 private:
  QByteArray m_prefix, m_nodeId, m_name, m_out;
};

}  // namespace

Result<quint16> listenAt(QHttpServer& server, const QString& key, const QString& bind) {
  const qsizetype colon = bind.lastIndexOf(':');
  const QString host = bind.left(colon);
  QHostAddress address = host.isEmpty() ? QHostAddress(QHostAddress::Any) : QHostAddress(host);
  if (host == QLatin1String("localhost")) address = QHostAddress(QHostAddress::LocalHost);
  if (address.isNull())
    return Status::invalidArgument(
        QStringLiteral("%1: \"%2\" is not an IP address").arg(key, host));
  const quint16 port = server.listen(address, quint16(bind.mid(colon + 1).toUInt()));
  if (port == 0)
    return Status::unavailable(
        QStringLiteral("%1: cannot listen on %2 (address in use or not available)").arg(key, bind));
  return port;
}

MetricsServer::MetricsServer(PrometheusConfig config, QObject* parent)
    : QObject(parent), m_config(std::move(config)) {
  m_server.route("/metrics", [this](const QHttpServerRequest&) {
    return QHttpServerResponse("text/plain; version=0.0.4; charset=utf-8",
                               render(m_config, m_status));
  });
}

Status MetricsServer::listen() {
  auto port = listenAt(m_server, "prometheus.bind", m_config.bind);
  if (!port) return port.status();
  m_port = *port;
  return Status::ok();
}

QByteArray MetricsServer::render(const PrometheusConfig& config, const NodeStatus& s) {
  Exposition e(config, s.nodeId);
  e.single("up", "gauge", "1 when the node is healthy (see /health), else 0.", s.healthy ? 1 : 0);
  e.single("uptime_seconds", "gauge", "Seconds since the node started.", double(s.uptimeSeconds));
  e.single("published_total", "counter",
           "Changes published and acknowledged by JetStream (Go: published).", double(s.published));
  e.single("pending_publish", "gauge", "Captured changes not published yet (Go: pending_publish).",
           double(s.pendingChanges));
  e.single("failed_changes", "gauge",
           "Changes in the failed state (larger than the server accepts).",
           double(s.failedChanges));
  e.single("publishing_paused", "gauge", "1 when the operator paused publishing.",
           s.publishingPaused ? 1 : 0);
  e.single("dead_letters", "gauge", "Messages in the dead-letter table.",
           double(s.deadLetterCount));
  e.single("conflict_journal_entries", "gauge", "Entries in the conflict journal (bounded).",
           double(s.conflictCount));
  e.single("failed_publishes_total", "counter", "Publish attempts that failed and were retried.",
           double(s.failedPublishes));
  e.single("log_lines_dropped_total", "counter",
           "Log lines dropped because stderr was not read fast enough.", double(droppedLogLines()));
  e.single("nats_connected", "gauge", "1 when connected to NATS.", s.natsConnected ? 1 : 0);
  e.single("nats_reconnects_total", "counter", "Reconnections to NATS since start.",
           double(s.natsReconnects));
  e.single("database_size_bytes", "gauge", "Size of the database file.", double(s.dbSizeBytes));
  e.single("wal_size_bytes", "gauge", "Size of the database's write-ahead log.",
           double(s.walSizeBytes));
  const QList<ShardStatus>& shards = s.shards;
  e.perShard("applied_total", "counter", "Remote changes applied, per shard.", shards,
             [](const ShardStatus& sh) { return sh.appliedChanges; });
  e.perShard("applied_sequence", "gauge", "Last applied stream sequence, per shard.", shards,
             [](const ShardStatus& sh) { return sh.applied; });
  e.perShard("lag_messages", "gauge", "Messages in the shard's stream not applied yet.", shards,
             [](const ShardStatus& sh) { return sh.lagMessages; });
  e.perShard("lag_seconds", "gauge", "Age of the oldest received message not applied yet.", shards,
             [](const ShardStatus& sh) { return sh.lagSeconds; });
  e.perShard("shard_running", "gauge",
             "1 when the shard applies, 0 when stopped, paused or needing a restore.", shards,
             [](const ShardStatus& sh) { return sh.state == ShardState::Running ? 1 : 0; });
  e.perShard("conflicts_total", "counter", "Conflicts recorded, per shard.", shards,
             [](const ShardStatus& sh) { return sh.conflicts; });
  e.perShard("dead_letters_total", "counter", "Poison messages dead-lettered, per shard.", shards,
             [](const ShardStatus& sh) { return sh.deadLetters; });
  e.family("insert_collisions_total", "counter",
           "Inserts of one key by this node and another that had not seen each other's, found by "
           "this node since start (its insert was the later one), per table "
           "(docs/replication.md#insert-collisions).");
  for (auto it = s.insertCollisions.cbegin(); it != s.insertCollisions.cend(); ++it)
    e.labelled(double(it.value()), "table", it.key());
  e.single("stream_incidents_total", "counter",
           "Streams found to have lost acknowledged messages (gone back or re-created) and healed "
           "since start (docs/replication.md#durability).",
           double(s.streamIncidents));
  e.single("stream_rereads_total", "counter",
           "Streams read again since start because a server had delivered other messages than "
           "the stream holds at positions this node applied (docs/replication.md#durability).",
           double(s.streamRereads));
  // The last consistency check this node ran (docs/consistency.md#in-the-appliance).
  const ConsistencyStatus& c = s.consistency;
  e.single("consistency_tables_checked", "gauge",
           "Tables compared by the last consistency check this node ran (0: none yet).",
           double(c.tablesChecked));
  e.single("consistency_tables_differing", "gauge",
           "Tables whose digests differed between nodes in the last consistency check.",
           double(c.tablesDiffering));
  e.single("consistency_rows_differing", "gauge",
           "Rows located as different in the last consistency check.", double(c.rowsDiffering));
  e.single("consistency_last_check_timestamp_seconds", "gauge",
           "When the last consistency check began (Unix time; 0: never).",
           double(c.lastCheckMs) / 1000.0);
  e.single("consistency_last_check_comparable", "gauge",
           "1 when the last consistency check found a point where every node could be compared.",
           c.verdict == "agree" || c.verdict == "differ" ? 1.0 : 0.0);
  e.single("consistency_holds_total", "counter",
           "Consistency checks (of any node) this node was asked to hold for.",
           double(c.holdsAnswered));
  e.single("consistency_hold_longest_seconds", "gauge",
           "The longest this node's applier waited at a check's target positions.",
           double(c.longestHoldMs) / 1000.0);
  e.single("kept_changes", "gauge",
           "Own published changes kept to be published again if a stream loses them, until a "
           "snapshot or keep_published covers them (docs/replication.md#durability).",
           double(s.keptChanges));
  e.single("kept_oldest_age_seconds", "gauge",
           "Age of the oldest ack among the kept changes; 0 when none is kept.",
           s.keptOldestAgeSeconds);
  e.single("kept_dropped_uncovered_total", "counter",
           "Kept changes dropped before a snapshot or keep_published covered them (more than "
           "max_entries x shards), since start.",
           double(s.keptDroppedUncovered));
  e.summary("write_lock_hold_seconds",
            "How long the node's own write transactions held SQLite's write lock, over its last "
            "4096 transactions (docs/replication.md#write-lock); quantile 1 is the maximum.",
            {{"0.5", s.writeLockP50Seconds},
             {"0.99", s.writeLockP99Seconds},
             {"1", s.writeLockMaxSeconds}});
  // Schema (docs/schema-changes.md#observing).
  int schemaPaused = 0;
  for (const ShardStatus& sh : shards) schemaPaused += sh.state == ShardState::SchemaPaused;
  e.single("schema_mismatch_paused", "gauge",
           "Shards paused until this node's schema can take a change from another node.",
           schemaPaused);
  e.perShard("shard_schema_paused", "gauge", "1 while the shard waits for a schema change here.",
             shards,
             [](const ShardStatus& sh) { return sh.state == ShardState::SchemaPaused ? 1 : 0; });
  e.perShard("schema_waiting_messages", "gauge",
             "Messages held in the stream while the shard waits for a schema change here.", shards,
             [](const ShardStatus& sh) {
               return sh.state == ShardState::SchemaPaused ? sh.lagMessages : qint64(0);
             });
  e.perShard("schema_redeliveries", "gauge",
             "Times the change a schema-paused shard waits at was delivered again.", shards,
             [](const ShardStatus& sh) { return sh.redeliveries; });
  e.single("schema_changes_total", "counter", "Changes of this node's schema noticed since start.",
           double(s.schema.changes));
  bool agree = !s.schema.registry.isEmpty();
  for (const SchemaNode& n : s.schema.registry) agree = agree && n.schemaHash == s.schema.hash;
  e.single("schema_registry_agrees", "gauge",
           "1 when every node of the schema registry has this node's schema hash.", agree ? 1 : 0);
  // Snapshots (docs/snapshots.md#observing).
  const SnapshotStatus& sn = s.snapshots;
  e.single("snapshot_last_success_timestamp_seconds", "gauge",
           "When this node last saved a snapshot (unix seconds), 0 = never.",
           double(sn.lastSuccessMs) / 1000.0);
  e.single("snapshot_last_duration_seconds", "gauge",
           "How long this node's last snapshot took to make and upload.",
           double(sn.lastDurationMs) / 1000.0);
  e.single("snapshot_last_size_bytes", "gauge", "Size of this node's last snapshot.",
           double(sn.lastSizeBytes));
  const qint64 newest = sn.newestTakenAtMs();
  e.single("snapshot_newest_timestamp_seconds", "gauge",
           "Time of the newest snapshot in the store (unix seconds), 0 = none or unknown.",
           double(newest) / 1000.0);
  e.single("snapshots_in_store", "gauge", "Snapshots listed in the store's catalogue.",
           double(sn.catalog.size()));
  e.family("snapshot_failures_total", "counter",
           "Snapshot operations that failed, by kind (save, busy, upload, list, download, "
           "verify, schema).");
  for (const auto& [kind, n] : sn.failures) e.sample(double(n), 0, kind.toUtf8());
  e.single("snapshot_restores_total", "counter", "Restores from a snapshot done since start.",
           double(sn.restores));
  e.single("snapshot_restore_in_progress", "gauge", "1 while a restore is under way.",
           sn.restoreUnderWay ? 1 : 0);
  e.single("snapshot_leader", "gauge", "1 when this node holds the snapshot leader lease.",
           sn.isLeader ? 1 : 0);
  // Alerts (docs/alerts.md): one series per rule that is on, for Alertmanager to route.
  e.family("alerts_firing", "gauge",
           "1 while the alert rule fires, per rule that is on (docs/alerts.md).");
  for (const AlertInfo& a : s.alerts) e.labelled(a.firing ? 1 : 0, "alert", a.rule);
  return e.take();
}

}  // namespace hl
