#include "observe/status_record.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace hl {
namespace {
constexpr qsizetype kMaxRecordBytes = 64 * 1024;
}

QByteArray encodeStatusRecord(const NodeStatus& st, const QString& instance) {
  qint64 lag = 0;
  double lagSeconds = 0;
  QList<QPair<int, ShardState>> states;
  for (const ShardStatus& sh : st.shards) {
    lag += sh.lagMessages;
    lagSeconds = std::max(lagSeconds, sh.lagSeconds);
    states.append({sh.shard, sh.state});
  }
  const QJsonObject record{{"node_id", qint64(st.nodeId)},
                           {"instance", instance},
                           {"version", st.version},
                           {"healthy", st.healthy},
                           {"reason", st.unhealthyReason},
                           {"schema_hash", st.schemaHash},
                           {"lag_messages", lag},
                           {"lag_seconds", lagSeconds},
                           {"shards", shardStatesText(states)}};
  return QJsonDocument(record).toJson(QJsonDocument::Compact);
}

Result<StatusRecord> decodeStatusRecord(const QByteArray& json) {
  QJsonParseError error;
  const QJsonDocument doc = QJsonDocument::fromJson(json.left(kMaxRecordBytes), &error);
  if (error.error != QJsonParseError::NoError || !doc.isObject())
    return Status::invalidArgument(QStringLiteral("status record: not a JSON object"));
  const QJsonObject o = doc.object();
  const qint64 id = o.value("node_id").toInteger(-1);
  if (id <= 0) return Status::invalidArgument(QStringLiteral("status record: no positive node_id"));
  StatusRecord r;
  r.instance = o.value("instance").toString().left(64);
  PeerStatus& p = r.peer;
  p.nodeId = quint64(id);
  p.version = o.value("version").toString().left(64);
  p.healthy = o.value("healthy").toBool();
  p.reason = o.value("reason").toString().left(256);
  p.schemaHash = o.value("schema_hash").toString().left(64);
  p.lagMessages = o.value("lag_messages").toInteger();
  p.lagSeconds = o.value("lag_seconds").toDouble();
  p.shardStates = shardStatesFromText(o.value("shards").toString().left(256));
  return r;
}

}  // namespace hl
