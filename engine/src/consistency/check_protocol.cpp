#include "consistency/check_protocol.h"

#include <QJsonDocument>

#include <cstring>

namespace hl::check {
namespace {

Result<QJsonObject> parseObject(const QByteArray& json) {
  QJsonParseError err;
  const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
  if (err.error != QJsonParseError::NoError)
    return Status::invalidArgument("not JSON: " + err.errorString());
  if (!doc.isObject()) return Status::invalidArgument("not a JSON object");
  const QJsonObject o = doc.object();
  if (o.value("v").toInt() != kVersion)
    return Status::invalidArgument(
        QStringLiteral("version %1 is not %2").arg(o.value("v").toInt()).arg(kVersion));
  return o;
}

QByteArray dump(QJsonObject o) {
  o.insert("v", kVersion);
  return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// Node ids and positions are unsigned 64-bit: sent as decimal strings (JSON numbers are
// doubles).
QString u64(quint64 v) {
  return QString::number(v);
}
Result<quint64> u64Of(const QJsonValue& v, const char* what) {
  bool ok = false;
  const quint64 n = v.toString().toULongLong(&ok);
  if (!ok) return Status::invalidArgument(QStringLiteral("%1 is not a number").arg(what));
  return n;
}

QJsonObject positionsToJson(const QMap<QString, quint64>& p) {
  QJsonObject o;
  for (auto it = p.cbegin(); it != p.cend(); ++it) o.insert(it.key(), u64(it.value()));
  return o;
}
Result<QMap<QString, quint64>> positionsOf(const QJsonValue& v) {
  QMap<QString, quint64> out;
  const QJsonObject o = v.toObject();
  for (auto it = o.constBegin(); it != o.constEnd(); ++it) {
    auto n = u64Of(it.value(), "a position");
    if (!n) return n.status();
    out.insert(it.key(), *n);
  }
  return out;
}

}  // namespace

QByteArray subject(const QString& streamPrefix, const QString& what) {
  return QStringLiteral("%1-consistency.%2").arg(streamPrefix, what).toUtf8();
}

QJsonArray valueToJson(const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      return {"null"};
    case Value::Type::kInteger:
      return {"int", QString::number(v.asInteger())};
    case Value::Type::kReal: {
      quint64 bits = 0;
      const double d = v.asReal();
      std::memcpy(&bits, &d, sizeof bits);
      return {"real", QString::number(bits, 16)};
    }
    case Value::Type::kText:
      return {"text", QString::fromLatin1(v.bytes().toBase64())};
    case Value::Type::kBlob:
      return {"blob", QString::fromLatin1(v.bytes().toBase64())};
  }
  return {"null"};
}

Result<Value> valueFromJson(const QJsonValue& json) {
  const QJsonArray a = json.toArray();
  const QString kind = a.at(0).toString();
  if (kind == "null" && a.size() == 1) return Value::null();
  if (a.size() != 2 || !a.at(1).isString())
    return Status::invalidArgument("a value is not [kind, text]");
  const QString text = a.at(1).toString();
  bool ok = false;
  if (kind == "int") {
    const qlonglong n = text.toLongLong(&ok);
    if (ok) return Value::integer(n);
  } else if (kind == "real") {
    const quint64 bits = text.toULongLong(&ok, 16);
    if (ok) {
      double d = 0;
      std::memcpy(&d, &bits, sizeof d);
      return Value::real(d);
    }
  } else if (kind == "text" || kind == "blob") {
    auto bytes =
        QByteArray::fromBase64Encoding(text.toLatin1(), QByteArray::AbortOnBase64DecodingErrors);
    if (bytes) return kind == "text" ? Value::text(*bytes) : Value::blob(*bytes);
  }
  return Status::invalidArgument(QStringLiteral("a value of kind '%1' is malformed").arg(kind));
}

QJsonArray keyToJson(const QList<Value>& key) {
  QJsonArray out;
  for (const Value& v : key) out.append(valueToJson(v));
  return out;
}

Result<QList<Value>> keyFromJson(const QJsonValue& json) {
  QList<Value> key;
  for (const QJsonValue& v : json.toArray()) {
    auto value = valueFromJson(v);
    if (!value) return value.status();
    key.append(*value);
  }
  return key;
}

QByteArray encode(const NodeAnswer& a) {
  QJsonArray tables;
  for (const TableSum& t : a.tables)
    tables.append(QJsonObject{{"name", t.table}, {"rows", u64(t.rows)}, {"digest", t.digest}});
  return dump({{"check", a.check},
               {"node", u64(a.node)},
               {"state", a.state},
               {"reason", a.reason},
               {"schema", a.schemaHash},
               {"positions", positionsToJson(a.positions)},
               {"pending", a.pending},
               {"tables", tables},
               {"held_ms", a.heldMs},
               {"digest_ms", a.digestMs}});
}

Result<NodeAnswer> decodeAnswer(const QByteArray& json) {
  auto o = parseObject(json);
  if (!o) return o.status();
  NodeAnswer a;
  a.check = o->value("check").toString();
  auto node = u64Of(o->value("node"), "node");
  if (!node) return node.status();
  a.node = *node;
  a.state = o->value("state").toString();
  if (a.state != "here" && a.state != "held" && a.state != "busy")
    return Status::invalidArgument("unknown state '" + a.state + "'");
  a.reason = o->value("reason").toString();
  a.schemaHash = o->value("schema").toString();
  auto positions = positionsOf(o->value("positions"));
  if (!positions) return positions.status();
  a.positions = *positions;
  a.pending = o->value("pending").toInteger();
  for (const QJsonValue& t : o->value("tables").toArray()) {
    auto rows = u64Of(t.toObject().value("rows"), "rows");
    if (!rows) return rows.status();
    a.tables.append(
        {t.toObject().value("name").toString(), *rows, t.toObject().value("digest").toString()});
  }
  a.heldMs = o->value("held_ms").toInteger();
  a.digestMs = o->value("digest_ms").toInteger();
  return a;
}

QByteArray encode(const Request& r) {
  QJsonObject o{{"check", r.check}};
  if (!r.target.isEmpty()) o.insert("target", positionsToJson(r.target));
  if (r.holdMs) o.insert("hold_ms", r.holdMs);
  if (!r.table.isEmpty()) o.insert("table", r.table);
  if (r.buckets) o.insert("buckets", r.buckets);
  if (!r.wanted.isEmpty()) {
    QJsonArray w;
    for (int b : r.wanted) w.append(b);
    o.insert("wanted", w);
  }
  if (r.maxRows) o.insert("max", r.maxRows);
  if (!r.keys.isEmpty()) {
    QJsonArray keys;
    for (const QList<Value>& key : r.keys) keys.append(keyToJson(key));
    o.insert("keys", keys);
  }
  return dump(o);
}

Result<Request> decodeRequest(const QByteArray& json) {
  auto o = parseObject(json);
  if (!o) return o.status();
  Request r;
  r.check = o->value("check").toString();
  if (r.check.isEmpty() || r.check.size() > 64) return Status::invalidArgument("no check id");
  auto target = positionsOf(o->value("target"));
  if (!target) return target.status();
  r.target = *target;
  r.holdMs = o->value("hold_ms").toInteger();
  if (r.holdMs < 0 || r.holdMs > 60000)
    return Status::invalidArgument("hold_ms is not between 0 and 60000");
  r.table = o->value("table").toString();
  r.buckets = o->value("buckets").toInt();
  if (r.buckets < 0 || r.buckets > kMaxBuckets || (r.buckets & (r.buckets - 1)) != 0)
    return Status::invalidArgument(QStringLiteral("buckets %1 is not a power of two up to %2")
                                       .arg(r.buckets)
                                       .arg(kMaxBuckets));
  for (const QJsonValue& w : o->value("wanted").toArray()) {
    const int b = w.toInt(-1);
    if (b < 0 || b >= r.buckets)
      return Status::invalidArgument(QStringLiteral("bucket %1 is out of range").arg(b));
    r.wanted.append(b);
  }
  r.maxRows = o->value("max").toInt();
  const QJsonArray keys = o->value("keys").toArray();
  if (keys.size() > kMaxKeys)
    return Status::invalidArgument(
        QStringLiteral("%1 keys, more than %2").arg(keys.size()).arg(kMaxKeys));
  for (const QJsonValue& k : keys) {
    auto key = keyFromJson(k);
    if (!key) return key.status();
    r.keys.append(*key);
  }
  return r;
}

QByteArray encode(const BucketsAnswer& a) {
  QJsonArray b;
  for (const auto& [rows, digest] : a.buckets) b.append(u64(rows) + ':' + digest);
  return dump({{"node", u64(a.node)}, {"table", a.table}, {"error", a.error}, {"buckets", b}});
}

Result<BucketsAnswer> decodeBuckets(const QByteArray& json) {
  auto o = parseObject(json);
  if (!o) return o.status();
  BucketsAnswer a;
  auto node = u64Of(o->value("node"), "node");
  if (!node) return node.status();
  a.node = *node;
  a.table = o->value("table").toString();
  a.error = o->value("error").toString();
  for (const QJsonValue& b : o->value("buckets").toArray()) {
    const QString s = b.toString();
    const qsizetype colon = s.indexOf(':');
    auto rows = u64Of(s.left(colon), "a bucket's rows");
    if (colon < 0 || !rows) return Status::invalidArgument("a bucket is not rows:digest");
    a.buckets.append({*rows, s.mid(colon + 1)});
  }
  return a;
}

QByteArray encode(const RowsAnswer& a) {
  QJsonArray rows;
  for (const RowAnswer& r : a.rows)
    rows.append(QJsonObject{{"key", keyToJson(r.key)},
                            {"key_text", r.keyText},
                            {"values", r.values},
                            {"hash", r.hash}});
  return dump({{"node", u64(a.node)},
               {"table", a.table},
               {"error", a.error},
               {"rows", rows},
               {"truncated", a.truncated}});
}

Result<RowsAnswer> decodeRows(const QByteArray& json) {
  auto o = parseObject(json);
  if (!o) return o.status();
  RowsAnswer a;
  auto node = u64Of(o->value("node"), "node");
  if (!node) return node.status();
  a.node = *node;
  a.table = o->value("table").toString();
  a.error = o->value("error").toString();
  a.truncated = o->value("truncated").toBool();
  for (const QJsonValue& rv : o->value("rows").toArray()) {
    const QJsonObject r = rv.toObject();
    RowAnswer row;
    auto key = keyFromJson(r.value("key"));
    if (!key) return key.status();
    row.key = *key;
    row.keyText = r.value("key_text").toString();
    row.values = r.value("values").toString();
    row.hash = r.value("hash").toString();
    a.rows.append(row);
  }
  return a;
}

QByteArray encode(const RepairAnswer& a) {
  return dump({{"node", u64(a.node)},
               {"table", a.table},
               {"error", a.error},
               {"republished", a.republished},
               {"deleted", a.deleted}});
}

Result<RepairAnswer> decodeRepair(const QByteArray& json) {
  auto o = parseObject(json);
  if (!o) return o.status();
  RepairAnswer a;
  auto node = u64Of(o->value("node"), "node");
  if (!node) return node.status();
  a.node = *node;
  a.table = o->value("table").toString();
  a.error = o->value("error").toString();
  a.republished = o->value("republished").toInt();
  a.deleted = o->value("deleted").toInt();
  return a;
}

}  // namespace hl::check
