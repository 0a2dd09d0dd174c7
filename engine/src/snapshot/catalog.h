// The snapshot catalogue in a store (docs/snapshots.md#catalogue):
//
//   snapshots/<id>.db     one snapshot file (id = "<UTC yyyyMMddTHHmmsszzz>Z-n<node id>")
//   snapshots/<id>.json   its metadata (SnapshotMeta, below), written after the file
//   snapshot.db           the latest, the object Go nodes restore: a link to (nats), a hard
//                         link or copy of (local) the newest snapshots/<id>.db
//   latest.json           {"id": ...}: which snapshot snapshot.db is, written after it
//
// A snapshot.db written by a Go node (not the one latest.json names) is listed as a foreign
// entry with what it lacks shown as unknown. Listing reads the store's object list and the
// small .json files, never a snapshot file.
// Thread: pure functions; any thread.
#pragma once

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QList>
#include <QString>

#include <functional>

#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"
#include "snapshot/snapshot_store.h"

namespace hl {

inline const QString kLatestObject = QStringLiteral("snapshot.db");  // docs/wire-format.md
inline const QString kLatestPointer = QStringLiteral("latest.json");
inline const QString kSnapshotDir = QStringLiteral("snapshots/");
inline const QByteArray kGoTagHeader = "harmonylite-snapshot-tag";

// Our metadata of one snapshot (its .json object).
struct SnapshotMeta {
  QString id;
  qint64 takenAtMs = 0;
  uint64_t nodeId = 0;
  QString version;
  qint64 size = 0;
  QString sha256;
  QString schemaHash;
  QHash<QString, quint64> streams;  // stream name -> last sequence covered (the watermark)
  QList<QPair<QString, qint64>> rowCounts;
  qint64 verifiedAtMs = 0;
  bool verifiedOk = false;
  QString verifyMessage;

  QString fileObject() const { return kSnapshotDir + id + ".db"; }
  QString metaObject() const { return kSnapshotDir + id + ".json"; }
  QByteArray toJson() const;
  static Result<SnapshotMeta> fromJson(const QByteArray& json);  // Corruption when malformed
};

QString makeSnapshotId(qint64 takenAtMs, uint64_t nodeId);

// Shard of a stream name "<prefix>[-c]-<n>" for the dashboard; 0 when it has no number.
int shardOfStream(const QString& stream);

// The catalogue entry of our metadata (`shards`: how many watermark columns to show).
SnapshotInfo toSnapshotInfo(const SnapshotMeta& meta, int shards, const QString& streamPrefix);

// Builds the catalogue (newest first) from the store's objects; `readSmall` fetches one small
// object (the .json files). Metadata that cannot be read is skipped with its error in
// `problems`. `metas` (may be null) receives the metadata by id.
QList<SnapshotInfo> assembleCatalog(
    const QList<StoreObject>& objects,
    const std::function<Result<QByteArray>(const QString&)>& readSmall, int shards,
    const QString& streamPrefix, QHash<QString, SnapshotMeta>* metas, QStringList* problems);

// The snapshot a restore takes when none is named: of ours, the one that covers most (by
// watermark; a node's clock can be wrong), then the newest. nullptr when there is none of ours.
const SnapshotInfo* defaultRestoreChoice(const QList<SnapshotInfo>& catalog);

// The snapshots retention removes: ours beyond the newest `keep`, never the latest.
QList<SnapshotInfo> beyondRetention(const QList<SnapshotInfo>& catalog, int keep);

// "SHA-256=<base64url>" (a store digest) as lower-case hex; "" when it is not one.
QString digestToHex(const QString& digest);

}  // namespace hl
