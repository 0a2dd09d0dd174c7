#include "health_server.h"

#include "metrics_server.h"

#include <QDateTime>
#include <QHostAddress>
#include <QJsonArray>
#include <QUrlQuery>

#include "harmonylite/history.h"

namespace hl {
namespace {

QString rfc3339(qint64 ms) {
  return ms > 0 ? QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs)
                : QString();
}

}  // namespace

HealthServer::HealthServer(HealthCheckConfig config, QString historyPath, QObject* parent)
    : QObject(parent), m_config(std::move(config)), m_historyPath(std::move(historyPath)) {
  if (!m_historyPath.isEmpty())
    m_server.route("/history.csv", [this](const QHttpServerRequest& request) {
      using Code = QHttpServerResponder::StatusCode;
      qint64 since = 0;
      const QString hours = request.query().queryItemValue("hours");
      if (!hours.isEmpty()) {
        bool ok = false;
        const int h = hours.toInt(&ok);
        if (!ok || h <= 0 || h > 8760)
          return QHttpServerResponse("text/plain", "hours: expected 1..8760\n", Code::BadRequest);
        since = QDateTime::currentMSecsSinceEpoch() - qint64(h) * 3600 * 1000;
      }
      auto samples = readHistory(m_historyPath, since);
      if (!samples)
        return QHttpServerResponse("text/plain", samples.status().message().toUtf8() + '\n',
                                   Code::InternalServerError);
      QHttpServerResponse response("text/csv; charset=utf-8", historyCsv(*samples));
      response.setHeader("Content-Disposition", "attachment; filename=\"history.csv\"");
      return response;
    });
  m_server.route(m_config.path, [this](const QHttpServerRequest&) {
    const bool healthy = m_received && m_status.healthy;
    const auto code = healthy ? QHttpServerResponder::StatusCode::Ok
                              : QHttpServerResponder::StatusCode::ServiceUnavailable;
    if (!m_config.detailed) {
      QJsonObject o{{"status", healthy ? "healthy" : "unhealthy"}};
      if (!healthy)
        o.insert("reason", m_received ? m_status.unhealthyReason : QStringLiteral("starting"));
      return QHttpServerResponse(o, code);
    }
    return QHttpServerResponse(toJson(m_status, m_received), code);
  });
}

Status HealthServer::listen() {
  auto port = listenAt(m_server, "health_check.bind", m_config.bind);
  if (!port) return port.status();
  m_port = *port;
  return Status::ok();
}

void HealthServer::setStatus(const NodeStatus& status) {
  m_status = status;
  m_received = true;
}

QJsonObject HealthServer::toJson(const NodeStatus& s, bool received) {
  const bool healthy = received && s.healthy;
  QJsonObject o;
  o.insert("status", healthy ? "healthy" : "unhealthy");
  if (!healthy) o.insert("reason", received ? s.unhealthyReason : QStringLiteral("starting"));
  o.insert("node_id", qint64(s.nodeId));
  o.insert("uptime_seconds", s.uptimeSeconds);
  o.insert("db_connected", s.dbConnected);
  o.insert("nats_connected", s.natsConnected);
  o.insert("cdc_installed", s.cdcInstalled);
  o.insert("tables_tracked", s.tablesTracked);
  o.insert("last_replicated_event_timestamp", rfc3339(s.lastReplicatedMs));
  o.insert("last_published_event_timestamp", rfc3339(s.lastPublishedMs));
  o.insert("version", s.version);
  o.insert("schema_hash", s.schemaHash);
  o.insert("published", s.published);  // changes published since start
  o.insert("pending_changes", s.pendingChanges);
  o.insert("failed_changes", s.failedChanges);
  o.insert("publishing_paused", s.publishingPaused);
  o.insert("dead_letters", s.deadLetterCount);
  o.insert("conflicts", s.conflictCount);
  {
    QJsonObject collisions;  // docs/replication.md#insert-collisions: by table, since start
    for (auto it = s.insertCollisions.cbegin(); it != s.insertCollisions.cend(); ++it)
      collisions.insert(it.key(), it.value());
    o.insert("insert_collisions", collisions);
  }
  if (s.embeddedServer != ServerState::None)
    o.insert("embedded_nats_server", stateName(s.embeddedServer));
  QJsonArray shards;
  for (const ShardStatus& sh : s.shards) {
    shards.append(QJsonObject{{"shard", sh.shard},
                              {"stream", sh.stream},
                              {"state", stateName(sh.state)},
                              {"applied_sequence", qint64(sh.applied)},
                              {"lag_messages", sh.lagMessages},
                              {"lag_seconds", sh.lagSeconds},
                              {"conflicts", sh.conflicts},
                              {"dead_letters", sh.deadLetters},
                              {"last_error", sh.lastError}});
  }
  o.insert("shards", shards);
  // Schema (docs/schema-changes.md#observing): a shard paused by a schema difference keeps the
  // node healthy (a rolling upgrade's expected state); it is listed here with what it waits for.
  QJsonArray paused;
  qint64 waiting = 0;
  for (const ShardStatus& sh : s.shards) {
    if (sh.state != ShardState::SchemaPaused) continue;
    waiting += sh.lagMessages;
    paused.append(QJsonObject{{"shard", sh.shard},
                              {"waiting_for_hash", sh.waitingForHash},
                              {"from_node_id", qint64(sh.waitingFromNode)},
                              {"table", sh.waitingTable},
                              {"reason", sh.waitingReason},
                              {"sequence", qint64(sh.waitingSeq)},
                              {"waiting_messages", sh.lagMessages},
                              {"since", rfc3339(sh.waitingSinceMs)},
                              {"redeliveries", sh.redeliveries}});
  }
  QJsonArray registry;
  bool agree = !s.schema.registry.isEmpty();
  for (const SchemaNode& n : s.schema.registry) {
    agree = agree && n.schemaHash == s.schema.hash;
    registry.append(QJsonObject{{"node_id", qint64(n.nodeId)},
                                {"schema_hash", n.schemaHash},
                                {"previous_hash", n.previousHash},
                                {"version", n.version},
                                {"updated_at", rfc3339(n.updatedAtMs)}});
  }
  o.insert("durability", QJsonObject{{"stream_incidents", s.streamIncidents},
                                     {"last_incident", s.lastStreamIncident},
                                     {"last_incident_at", rfc3339(s.lastStreamIncidentMs)},
                                     {"stream_rereads", s.streamRereads},
                                     {"last_reread", s.lastStreamReread},
                                     {"last_reread_at", rfc3339(s.lastStreamRereadMs)},
                                     {"kept_changes", s.keptChanges},
                                     {"kept_oldest_age_seconds", s.keptOldestAgeSeconds},
                                     {"kept_dropped_uncovered", s.keptDroppedUncovered}});
  const ConsistencyStatus& c = s.consistency;
  QJsonObject agreement;
  for (auto it = c.nodes.cbegin(); it != c.nodes.cend(); ++it)
    agreement.insert(QString::number(it.key()), it.value());
  o.insert("consistency", QJsonObject{{"last_check_at", rfc3339(c.lastCheckMs)},
                                      {"verdict", c.verdict},
                                      {"reason", c.reason},
                                      {"positions", c.positions},
                                      {"tables_checked", c.tablesChecked},
                                      {"tables_differing", c.tablesDiffering},
                                      {"rows_differing", c.rowsDiffering},
                                      {"nodes", agreement},
                                      {"running", c.running},
                                      {"interval_ms", c.intervalMs},
                                      {"last_repair", c.lastRepair},
                                      {"holds_answered", c.holdsAnswered},
                                      {"holds_not_comparable", c.holdsBusy},
                                      {"bad_requests", c.badRequests},
                                      {"repairs_done", c.repairsDone},
                                      {"longest_hold_ms", c.longestHoldMs}});
  o.insert("write_lock", QJsonObject{{"p50_seconds", s.writeLockP50Seconds},
                                     {"p99_seconds", s.writeLockP99Seconds},
                                     {"max_seconds", s.writeLockMaxSeconds},
                                     {"transactions", s.writeLockSamples}});
  o.insert("schema", QJsonObject{{"hash", s.schema.hash},
                                 {"previous_hash", s.schema.previousHash},
                                 {"changes", s.schema.changes},
                                 {"registry", registry},
                                 {"registry_agrees", agree},
                                 {"registry_error", s.schema.registryError},
                                 {"paused_shards", paused},
                                 {"waiting_messages", waiting}});
  QJsonArray cluster;
  for (const PeerStatus& p : s.cluster) {
    cluster.append(QJsonObject{{"node_id", qint64(p.nodeId)},
                               {"version", p.version},
                               {"last_seen", rfc3339(p.lastSeenMs)},
                               {"healthy", p.healthy},
                               {"schema_hash", p.schemaHash},
                               {"lag_messages", p.lagMessages},
                               {"lag_seconds", p.lagSeconds},
                               {"shards", shardStatesText(p.shardStates)}});
  }
  o.insert("cluster", cluster);
  // Snapshots (docs/snapshots.md#observing): the newest one's age, and the restore state.
  const SnapshotStatus& sn = s.snapshots;
  const qint64 newest = sn.newestTakenAtMs();
  const qint64 now = QDateTime::currentMSecsSinceEpoch();
  QJsonObject snap{{"enabled", sn.enabled},
                   {"store", sn.store},
                   {"count", sn.catalog.size()},
                   {"newest_age_seconds",
                    newest > 0 ? QJsonValue((now - newest) / 1000) : QJsonValue(QJsonValue::Null)},
                   {"restore", sn.restoreUnderWay ? "in-progress" : "idle"},
                   {"restores", sn.restores},
                   {"activity", stateName(sn.activity)},
                   {"activity_done_bytes", sn.doneBytes},
                   {"activity_total_bytes", sn.totalBytes},
                   {"leader_node_id", qint64(sn.leaderNodeId)},
                   {"last_error", sn.lastError}};
  o.insert("snapshots", snap);
  // Alerts (docs/alerts.md): the rules firing now.
  QJsonArray alerts;
  for (const AlertInfo& a : s.alerts) {
    if (!a.firing) continue;
    alerts.append(QJsonObject{{"alert", a.rule},
                              {"severity", stateName(a.severity)},
                              {"value", a.value},
                              {"threshold", a.threshold},
                              {"since", rfc3339(a.sinceMs)},
                              {"message", a.message}});
  }
  o.insert("alerts", alerts);
  return o;
}

}  // namespace hl
