#include "snapshot/catalog.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>

#include <algorithm>

namespace hl {

QByteArray SnapshotMeta::toJson() const {
  QJsonObject o;
  o["format"] = "harmonylite-snapshot/1";
  o["id"] = id;
  o["taken_at"] = QDateTime::fromMSecsSinceEpoch(takenAtMs, Qt::UTC).toString(Qt::ISODateWithMs);
  o["taken_at_ms"] = takenAtMs;
  o["node_id"] = QString::number(nodeId);  // as text: JSON numbers lose 64-bit ids
  o["version"] = version;
  o["size"] = size;
  o["sha256"] = sha256;
  o["schema_hash"] = schemaHash;
  QJsonObject s;
  for (auto it = streams.begin(); it != streams.end(); ++it) s[it.key()] = qint64(it.value());
  o["streams"] = s;
  QJsonArray rows;
  for (const auto& [table, n] : rowCounts) rows.append(QJsonArray{table, n});
  o["row_counts"] = rows;
  if (verifiedAtMs > 0) {
    o["verified_at_ms"] = verifiedAtMs;
    o["verified_ok"] = verifiedOk;
    o["verify_message"] = verifyMessage;
  }
  return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

Result<SnapshotMeta> SnapshotMeta::fromJson(const QByteArray& json) {
  QJsonParseError err;
  const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject())
    return Status::corruption("snapshot metadata is not a JSON object: " + err.errorString());
  const QJsonObject o = doc.object();
  SnapshotMeta m;
  m.id = o["id"].toString();
  static const QRegularExpression kId(QStringLiteral("^[0-9]{8}T[0-9]{9}Z-n[0-9]{1,20}$"));
  if (!kId.match(m.id).hasMatch())
    return Status::corruption(QStringLiteral("snapshot metadata: bad id \"%1\"").arg(m.id));
  m.takenAtMs = o["taken_at_ms"].toInteger();
  bool ok = false;
  m.nodeId = o["node_id"].toString().toULongLong(&ok);
  if (!ok) m.nodeId = 0;
  m.version = o["version"].toString();
  m.size = o["size"].toInteger(-1);
  m.sha256 = o["sha256"].toString();
  m.schemaHash = o["schema_hash"].toString();
  const QJsonObject s = o["streams"].toObject();
  for (auto it = s.begin(); it != s.end(); ++it)
    m.streams.insert(it.key(), quint64(std::max<qint64>(0, it.value().toInteger())));
  for (const QJsonValue& v : o["row_counts"].toArray()) {
    const QJsonArray pair = v.toArray();
    if (pair.size() == 2) m.rowCounts.append({pair[0].toString(), pair[1].toInteger()});
  }
  m.verifiedAtMs = o["verified_at_ms"].toInteger();
  m.verifiedOk = o["verified_ok"].toBool();
  m.verifyMessage = o["verify_message"].toString();
  return m;
}

QString makeSnapshotId(qint64 takenAtMs, uint64_t nodeId) {
  return QDateTime::fromMSecsSinceEpoch(takenAtMs, Qt::UTC).toString("yyyyMMdd'T'HHmmsszzz") +
         QStringLiteral("Z-n%1").arg(nodeId);
}

int shardOfStream(const QString& stream) {
  static const QRegularExpression kTail(QStringLiteral("-([0-9]+)$"));
  const auto m = kTail.match(stream);
  return m.hasMatch() ? m.captured(1).toInt() : 0;
}

SnapshotInfo toSnapshotInfo(const SnapshotMeta& meta, int shards, const QString& streamPrefix) {
  SnapshotInfo i;
  i.id = meta.id;
  i.object = meta.fileObject();
  i.takenAtMs = meta.takenAtMs;
  i.nodeId = meta.nodeId;
  i.version = meta.version;
  i.sizeBytes = meta.size;
  i.schemaHash = meta.schemaHash;
  i.sha256 = meta.sha256;
  i.rowCounts = meta.rowCounts;
  i.verifiedAtMs = meta.verifiedAtMs;
  i.verifiedOk = meta.verifiedOk;
  i.verifyMessage = meta.verifyMessage;
  // The watermark by shard, for the streams of our prefix.
  QList<quint64> w(shards, 0);
  for (auto it = meta.streams.begin(); it != meta.streams.end(); ++it) {
    if (!it.key().startsWith(streamPrefix)) continue;
    const int shard = shardOfStream(it.key());
    if (shard >= 1 && shard <= shards) w[shard - 1] = it.value();
  }
  if (!meta.streams.isEmpty()) i.watermark = w;
  return i;
}

const SnapshotInfo* defaultRestoreChoice(const QList<SnapshotInfo>& catalog) {
  auto covers = [](const SnapshotInfo& i) {
    quint64 sum = 0;
    for (quint64 w : i.watermark) sum += w;
    return sum;
  };
  const SnapshotInfo* best = nullptr;
  for (const SnapshotInfo& i : catalog) {
    if (i.foreign) continue;
    if (!best || covers(i) > covers(*best) ||
        (covers(i) == covers(*best) && i.takenAtMs > best->takenAtMs))
      best = &i;
  }
  return best;
}

QString digestToHex(const QString& digest) {
  if (!digest.startsWith(QLatin1String("SHA-256="))) return {};
  const QByteArray raw =
      QByteArray::fromBase64(digest.mid(8).toLatin1(), QByteArray::Base64UrlEncoding |
                                                           QByteArray::AbortOnBase64DecodingErrors);
  return raw.size() == 32 ? QString::fromLatin1(raw.toHex()) : QString();
}

QList<SnapshotInfo> assembleCatalog(
    const QList<StoreObject>& objects,
    const std::function<Result<QByteArray>(const QString&)>& readSmall, int shards,
    const QString& streamPrefix, QHash<QString, SnapshotMeta>* metas, QStringList* problems) {
  QHash<QString, StoreObject> byName;
  for (const StoreObject& o : objects) byName.insert(o.name, o);
  QList<SnapshotInfo> out;
  QHash<QString, SnapshotMeta> found;
  for (const StoreObject& o : objects) {
    if (!o.name.startsWith(kSnapshotDir) || !o.name.endsWith(QLatin1String(".json"))) continue;
    auto bytes = readSmall(o.name);
    auto meta = bytes ? SnapshotMeta::fromJson(*bytes) : Result<SnapshotMeta>(bytes.status());
    if (!meta) {
      if (problems) *problems << o.name + ": " + meta.status().message();
      continue;
    }
    if (!byName.contains(meta->fileObject())) continue;  // its file is gone (or not yet there)
    found.insert(meta->id, *meta);
    out.append(toSnapshotInfo(*meta, shards, streamPrefix));
  }
  // Which one snapshot.db is.
  if (byName.contains(kLatestObject)) {
    const StoreObject& latest = byName[kLatestObject];
    QString latestId;
    if (!latest.linkTo.isEmpty()) {
      for (const SnapshotMeta& m : found)
        if (m.fileObject() == latest.linkTo) latestId = m.id;
    } else if (byName.contains(kLatestPointer)) {
      auto pointer = readSmall(kLatestPointer);
      if (pointer) {
        const QString id = QJsonDocument::fromJson(*pointer).object()["id"].toString();
        const StoreObject& ptrObj = byName[kLatestPointer];
        // A snapshot.db written after our pointer (by a Go node) is not ours any more.
        const bool newer = latest.modified.isValid() && ptrObj.modified.isValid() &&
                           latest.modified > ptrObj.modified.addSecs(2);
        if (found.contains(id) && found[id].size == latest.size && !newer) latestId = id;
      }
    }
    if (!latestId.isEmpty()) {
      for (SnapshotInfo& i : out) i.latest = i.id == latestId;
    } else {
      SnapshotInfo f;
      f.id = kLatestObject;
      f.object = kLatestObject;
      f.takenAtMs = latest.modified.isValid() ? latest.modified.toMSecsSinceEpoch() : 0;
      f.sizeBytes = latest.size;
      f.sha256 = digestToHex(latest.digest);
      f.latest = true;
      f.foreign = true;
      for (const auto& [name, value] : latest.headers)
        if (name.compare(QLatin1String(kGoTagHeader), Qt::CaseInsensitive) == 0)
          f.version = QStringLiteral("Go (tag %1)").arg(value);
      out.append(f);
    }
  }
  std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.takenAtMs != b.takenAtMs ? a.takenAtMs > b.takenAtMs : a.id > b.id;
  });
  if (metas) *metas = found;
  return out;
}

QList<SnapshotInfo> beyondRetention(const QList<SnapshotInfo>& catalog, int keep) {
  QList<SnapshotInfo> out;
  int kept = 0;
  for (const SnapshotInfo& i : catalog) {  // newest first
    if (i.foreign) continue;
    if (kept < keep || i.latest) {
      ++kept;
      continue;
    }
    out.append(i);
  }
  return out;
}

}  // namespace hl
