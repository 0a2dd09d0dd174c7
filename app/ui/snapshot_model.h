// SnapshotModel: the snapshot catalogue of the store this node uses (Snapshots page), newest
// first (those of unknown time last), fed from NodeStatus::snapshots by the DashboardController a
// few times per second. Each row is a SnapshotInfo with its texts made here: a field the snapshot
// does not carry (a Go node's snapshot carries none) reads "unknown". Rows are updated in place
// (dataChanged, and only for rows whose shown values changed), a new snapshot is inserted at the
// top and a pruned one removed, so views keep their scroll position and selection; any other change
// of the list resets it. QML sees it as the type SnapshotModel of the module HarmonyLite.Backend
// (controller.snapshots). Thread: GUI thread only.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QAbstractListModel>
#include <QList>

#include "harmonylite/engine_state.h"

namespace hl {

// Not `final`: Qt 6.4's QML registration derives a class from every default-constructible
// registered type (QQmlElement<T>), uncreatable or not.
class SnapshotModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("the DashboardController's snapshots")
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
 public:
  enum Role {
    kIdRole = Qt::UserRole + 1,
    kTakenAtMsRole,         // epoch ms, 0 = unknown
    kTakenAtRole,           // "2026-11-30 15:01:02" (local time) or "unknown"
    kNodeIdRole,            // "3" or "unknown"
    kVersionRole,           // or "unknown"
    kSizeBytesRole,         // -1 = unknown (a double: a QML number)
    kSizeRole,              // "12.4 MB" or "unknown"
    kWatermarkRole,         // "1:1234 2:88" or "unknown"
    kSchemaHashRole,        // the full hash, "" = unknown
    kSchemaHashShortRole,   // its first 12 characters, or "unknown"
    kMatchesOurSchemaRole,  // both hashes known and equal
    kSchemaMismatchRole,    // both hashes known and different
    kSha256Role,            // the full checksum, "" = unknown
    kSha256ShortRole,       // its first 12 characters, or "unknown"
    kRowCountsRole,         // "Books 1200, Authors 300" or "unknown"
    kLatestRole,            // what the store's snapshot.db is (what Go nodes restore)
    kForeignRole,           // made by another program (a Go node)
    kVerifiedRole,          // "never", "ok 3 min ago", "FAILED: <message>"
    kVerifiedOkRole,        // verified at least once, and the last drill passed
    kVerifyFailedRole,      // the last drill failed
  };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  // Takes the catalogue (sorted here by time, newest first); `ourSchemaHash` is this node's,
  // `nowMs` the wall clock for "verified 3 min ago".
  void update(const QList<SnapshotInfo>& catalog, const QString& ourSchemaHash, qint64 nowMs);

  // The row of snapshot `id`, -1 when it is not in the catalogue.
  Q_INVOKABLE int rowOf(const QString& id) const;
  // The roles of snapshot `id` by role name (empty when it is not in the catalogue): what the
  // page shows of its selection.
  Q_INVOKABLE QVariantMap entry(const QString& id) const;

  const QList<SnapshotInfo>& snapshots() const { return m_infos; }

 signals:
  void countChanged();

 private:
  // What a row shows: the entry and the texts that depend on this node and the clock.
  struct Row {
    SnapshotInfo info;
    bool matches = false;
    bool mismatch = false;
    QString verified;
  };
  Row makeRow(const SnapshotInfo& info) const;
  static bool sameShown(const Row& a, const Row& b);

  QList<Row> m_rows;
  QList<SnapshotInfo> m_infos;  // the rows' entries, for snapshots()
  QString m_ourHash;
  qint64 m_nowMs = 0;
};

// "1:1234 2:88" (shard:sequence, shards from 1), "unknown" for an empty watermark.
QString watermarkText(const QList<quint64>& watermark);

}  // namespace hl
