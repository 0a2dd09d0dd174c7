#include "replication/schema_registry.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>

#include <algorithm>

namespace hl {
namespace {

QString rfc3339Ms(qint64 ms) {
  return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}

// Go writes time.Time as RFC 3339 with up to nine fraction digits and any offset.
qint64 parseRfc3339Ms(const QString& text) {
  QString t = text;
  static const QRegularExpression fraction(QStringLiteral("\\.(\\d{3})\\d+"));
  t.replace(fraction, QStringLiteral(".\\1"));
  const QDateTime d = QDateTime::fromString(t, Qt::ISODateWithMs);
  return d.isValid() ? d.toMSecsSinceEpoch() : 0;
}

}  // namespace

QString registryKey(uint64_t nodeId) {
  return QStringLiteral("node-%1").arg(nodeId);
}

QByteArray encodeRegistryEntry(const SchemaNode& node) {
  QJsonObject o;
  o["node_id"] = qint64(node.nodeId);
  o["schema_hash"] = node.schemaHash;
  if (!node.previousHash.isEmpty()) o["previous_hash"] = node.previousHash;
  o["harmonylite_version"] = node.version;
  o["updated_at"] = rfc3339Ms(node.updatedAtMs);
  QJsonArray tables;
  for (const SchemaTable& t : node.tables) {
    QJsonArray columns;
    for (const SchemaColumn& c : t.columns)
      columns.append(
          QJsonObject{{"name", c.name}, {"type", c.type}, {"not_null", c.notNull}, {"pk", c.pk}});
    tables.append(QJsonObject{{"name", t.name}, {"columns", columns}});
  }
  o["tables"] = tables;
  return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

Result<SchemaNode> decodeRegistryEntry(const QByteArray& json) {
  QJsonParseError error;
  const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
  if (!doc.isObject())
    return Status::invalidArgument(
        QStringLiteral("registry entry is not a JSON object: %1").arg(error.errorString()));
  const QJsonObject o = doc.object();
  SchemaNode n;
  // Read as an integer, not through a double: ids above 2^53 stay exact, 7.5 is refused.
  const QJsonValue id = o.value("node_id");
  const qint64 nodeId = id.toInteger(0);
  if (!id.isDouble() || nodeId < 1)
    return Status::invalidArgument(
        QStringLiteral("registry entry: node_id missing or not a number"));
  n.nodeId = uint64_t(nodeId);
  n.schemaHash = o.value("schema_hash").toString();
  if (n.schemaHash.isEmpty())
    return Status::invalidArgument(QStringLiteral("registry entry: schema_hash missing"));
  n.previousHash = o.value("previous_hash").toString();
  n.version = o.value("harmonylite_version").toString();
  n.updatedAtMs = parseRfc3339Ms(o.value("updated_at").toString());
  n.hasTables = o.value("tables").isArray();
  for (const QJsonValue& tv : o.value("tables").toArray()) {
    const QJsonObject to = tv.toObject();
    SchemaTable t;
    t.name = to.value("name").toString();
    if (t.name.isEmpty()) continue;
    for (const QJsonValue& cv : to.value("columns").toArray()) {
      const QJsonObject co = cv.toObject();
      SchemaColumn c;
      c.name = co.value("name").toString();
      c.type = co.value("type").toString();
      c.notNull = co.value("not_null").toBool();
      c.pk = co.value("pk").toInt();
      if (!c.name.isEmpty()) t.columns.append(c);
    }
    n.tables.append(t);
  }
  std::sort(n.tables.begin(), n.tables.end(), [](const SchemaTable& a, const SchemaTable& b) {
    return a.name.toUtf8() < b.name.toUtf8();
  });
  return n;
}

QList<SchemaTable> schemaTablesOf(const QList<TableInfo>& tables) {
  QList<SchemaTable> out;
  for (const TableInfo& t : tables) {
    SchemaTable st;
    st.name = t.name;
    for (const ColumnInfo& c : t.columns)
      st.columns.append({c.name, c.declaredType, c.notNull, c.pk});
    out.append(st);
  }
  std::sort(out.begin(), out.end(), [](const SchemaTable& a, const SchemaTable& b) {
    return a.name.toUtf8() < b.name.toUtf8();
  });
  return out;
}

bool registryAgrees(const QList<SchemaNode>& nodes) {
  if (nodes.isEmpty()) return false;
  return std::all_of(nodes.begin(), nodes.end(),
                     [&](const SchemaNode& n) { return n.schemaHash == nodes.first().schemaHash; });
}

SchemaRegistry::SchemaRegistry(jsCtx* js, int replicas)
    : m_js(js), m_replicas(std::max(1, replicas)) {}

SchemaRegistry::~SchemaRegistry() = default;

Status SchemaRegistry::open(bool create) {
  if (m_kv) return Status::ok();
  const QByteArray bucket = kSchemaRegistryBucket.toUtf8();
  kvStore* kv = nullptr;
  natsStatus s = js_KeyValue(&kv, m_js, bucket.constData());
  if (s == NATS_OK) {
    m_kv.reset(kv);
    return Status::ok();
  }
  if (!create) return fromNats(s, "KV bucket " + kSchemaRegistryBucket);
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = bucket.constData();
  cfg.History = 1;
  cfg.TTL = kSchemaRegistryMaxAgeMs * 1000 * 1000;  // nanoseconds (the stream's MaxAge)
  cfg.StorageType = js_FileStorage;
  cfg.Replicas = m_replicas;
  s = js_CreateKeyValue(&kv, m_js, &cfg);
  if (s != NATS_OK) s = js_KeyValue(&kv, m_js, bucket.constData());  // made by another node
  HL_RETURN_IF_ERROR(fromNats(s, "KV bucket " + kSchemaRegistryBucket));
  m_kv.reset(kv);
  return Status::ok();
}

Status SchemaRegistry::put(const SchemaNode& self) {
  HL_RETURN_IF_ERROR(open(true));
  const QByteArray key = registryKey(self.nodeId).toUtf8();
  const QByteArray value = encodeRegistryEntry(self);
  uint64_t rev = 0;
  natsStatus s =
      kvStore_Put(&rev, m_kv.get(), key.constData(), value.constData(), int(value.size()));
  if (s != NATS_OK) m_kv.reset();  // the bucket may have been deleted: open it again next time
  return fromNats(
      s, QStringLiteral("write %1 to %2").arg(QString::fromUtf8(key), kSchemaRegistryBucket));
}

Result<QList<SchemaNode>> SchemaRegistry::readAll(int* unreadable,
                                                  const std::function<bool()>& cancelled) {
  if (unreadable) *unreadable = 0;
  HL_RETURN_IF_ERROR(open(false));
  kvKeysList keys{nullptr, 0};
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.Timeout = 2000;
  const natsStatus s = kvStore_Keys(&keys, m_kv.get(), &wo);
  QList<SchemaNode> out;
  if (s == NATS_NOT_FOUND) return out;  // no entry (all aged out)
  if (s != NATS_OK) {
    m_kv.reset();
    return fromNats(s, "list " + kSchemaRegistryBucket);
  }
  for (int i = 0; i < keys.Count; ++i) {
    if (cancelled && cancelled()) {
      kvKeysList_Destroy(&keys);
      return Status::cancelled("reading " + kSchemaRegistryBucket + " cut short");
    }
    kvEntry* raw = nullptr;
    if (kvStore_Get(&raw, m_kv.get(), keys.Keys[i]) != NATS_OK) {
      if (unreadable) ++*unreadable;
      continue;
    }
    KvEntryPtr entry(raw);
    const QByteArray value(static_cast<const char*>(kvEntry_Value(entry.get())),
                           kvEntry_ValueLen(entry.get()));
    auto node = decodeRegistryEntry(value);
    if (!node) {
      if (unreadable) ++*unreadable;
      continue;
    }
    out.append(*node);
  }
  kvKeysList_Destroy(&keys);
  std::sort(out.begin(), out.end(),
            [](const SchemaNode& a, const SchemaNode& b) { return a.nodeId < b.nodeId; });
  return out;
}

}  // namespace hl
