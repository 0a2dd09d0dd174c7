#include "snapshot_model.h"

#include <QDateTime>
#include <QSet>
#include <QStringList>

#include <algorithm>

#include "cluster_model.h"         // agoText
#include "dashboard_controller.h"  // bytesText

namespace hl {

namespace {

const QString kUnknown = QStringLiteral("unknown");

QString orUnknown(const QString& s) {
  return s.isEmpty() ? kUnknown : s;
}

QString shortHash(const QString& hash) {
  return hash.isEmpty() ? kUnknown : hash.left(12);
}

QString rowCountsText(const QList<QPair<QString, qint64>>& counts) {
  if (counts.isEmpty()) return kUnknown;
  QStringList parts;
  for (const auto& [table, rows] : counts) parts << QStringLiteral("%1 %2").arg(table).arg(rows);
  return parts.join(QStringLiteral(", "));
}

}  // namespace

QString watermarkText(const QList<quint64>& watermark) {
  if (watermark.isEmpty()) return kUnknown;
  QStringList parts;
  for (qsizetype i = 0; i < watermark.size(); ++i)
    parts << QStringLiteral("%1:%2").arg(i + 1).arg(watermark[i]);
  return parts.join(' ');
}

int SnapshotModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant SnapshotModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
    return {};
  const Row& r = m_rows.at(index.row());
  const SnapshotInfo& s = r.info;
  switch (role) {
    case Qt::DisplayRole:
    case kIdRole:
      return s.id;
    case kTakenAtMsRole:
      return double(s.takenAtMs);
    case kTakenAtRole:
      return s.takenAtMs > 0 ? QDateTime::fromMSecsSinceEpoch(s.takenAtMs)
                                   .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"))
                             : kUnknown;
    case kNodeIdRole:
      return s.nodeId == 0 ? kUnknown : QString::number(s.nodeId);
    case kVersionRole:
      return orUnknown(s.version);
    case kSizeBytesRole:
      return double(s.sizeBytes);
    case kSizeRole:
      return s.sizeBytes < 0 ? kUnknown : bytesText(s.sizeBytes);
    case kWatermarkRole:
      return watermarkText(s.watermark);
    case kSchemaHashRole:
      return s.schemaHash;
    case kSchemaHashShortRole:
      return shortHash(s.schemaHash);
    case kMatchesOurSchemaRole:
      return r.matches;
    case kSchemaMismatchRole:
      return r.mismatch;
    case kSha256Role:
      return s.sha256;
    case kSha256ShortRole:
      return shortHash(s.sha256);
    case kRowCountsRole:
      return rowCountsText(s.rowCounts);
    case kLatestRole:
      return s.latest;
    case kForeignRole:
      return s.foreign;
    case kVerifiedRole:
      return r.verified;
    case kVerifiedOkRole:
      return s.verifiedAtMs > 0 && s.verifiedOk;
    case kVerifyFailedRole:
      return s.verifiedAtMs > 0 && !s.verifiedOk;
    default:
      return {};
  }
}

QHash<int, QByteArray> SnapshotModel::roleNames() const {
  return {{kIdRole, "id"},
          {kTakenAtMsRole, "takenAtMs"},
          {kTakenAtRole, "takenAt"},
          {kNodeIdRole, "nodeId"},
          {kVersionRole, "version"},
          {kSizeBytesRole, "sizeBytes"},
          {kSizeRole, "size"},
          {kWatermarkRole, "watermark"},
          {kSchemaHashRole, "schemaHash"},
          {kSchemaHashShortRole, "schemaHashShort"},
          {kMatchesOurSchemaRole, "matchesOurSchema"},
          {kSchemaMismatchRole, "schemaMismatch"},
          {kSha256Role, "sha256"},
          {kSha256ShortRole, "sha256Short"},
          {kRowCountsRole, "rowCounts"},
          {kLatestRole, "latest"},
          {kForeignRole, "foreign"},
          {kVerifiedRole, "verified"},
          {kVerifiedOkRole, "verifiedOk"},
          {kVerifyFailedRole, "verifyFailed"}};
}

int SnapshotModel::rowOf(const QString& id) const {
  for (qsizetype i = 0; i < m_rows.size(); ++i)
    if (m_rows[i].info.id == id) return int(i);
  return -1;
}

QVariantMap SnapshotModel::entry(const QString& id) const {
  QVariantMap out;
  const int row = rowOf(id);
  if (row < 0) return out;
  const QHash<int, QByteArray> names = roleNames();
  for (auto it = names.begin(); it != names.end(); ++it)
    out.insert(QString::fromLatin1(it.value()), data(index(row), it.key()));
  return out;
}

SnapshotModel::Row SnapshotModel::makeRow(const SnapshotInfo& info) const {
  Row r;
  r.info = info;
  const bool bothKnown = !info.schemaHash.isEmpty() && !m_ourHash.isEmpty();
  r.matches = bothKnown && info.schemaHash == m_ourHash;
  r.mismatch = bothKnown && info.schemaHash != m_ourHash;
  if (info.verifiedAtMs <= 0)
    r.verified = QStringLiteral("never");
  else if (info.verifiedOk)
    r.verified = QStringLiteral("ok ") + agoText(info.verifiedAtMs, m_nowMs);
  else
    r.verified = QStringLiteral("FAILED: ") + orUnknown(info.verifyMessage);
  return r;
}

bool SnapshotModel::sameShown(const Row& a, const Row& b) {
  const SnapshotInfo& x = a.info;
  const SnapshotInfo& y = b.info;
  return x.id == y.id && x.object == y.object && x.takenAtMs == y.takenAtMs &&
         x.nodeId == y.nodeId && x.version == y.version && x.sizeBytes == y.sizeBytes &&
         x.watermark == y.watermark && x.schemaHash == y.schemaHash && x.sha256 == y.sha256 &&
         x.rowCounts == y.rowCounts && x.latest == y.latest && x.foreign == y.foreign &&
         x.verifiedAtMs == y.verifiedAtMs && x.verifiedOk == y.verifiedOk &&
         x.verifyMessage == y.verifyMessage && a.matches == b.matches && a.mismatch == b.mismatch &&
         a.verified == b.verified;
}

void SnapshotModel::update(const QList<SnapshotInfo>& catalog, const QString& ourSchemaHash,
                           qint64 nowMs) {
  m_ourHash = ourSchemaHash;
  m_nowMs = nowMs;
  // Newest first, those of unknown time last, each group in the engine's order.
  QList<SnapshotInfo> sorted = catalog;
  std::stable_sort(sorted.begin(), sorted.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.takenAtMs > b.takenAtMs;
  });
  QList<Row> rows;
  rows.reserve(sorted.size());
  QSet<QString> newIds;
  for (const SnapshotInfo& info : sorted) {
    rows << makeRow(info);
    newIds.insert(info.id);
  }
  const int countBefore = int(m_rows.size());
  if (m_rows.isEmpty() && rows.isEmpty()) return;

  // The rows that stay must keep their order (the catalogue is sorted by time): then the
  // pruned ones are removed and the new ones inserted where they belong. Otherwise (no row
  // stays, duplicate ids, a reordered catalogue) the list starts over.
  QStringList kept;
  QSet<QString> oldIds;
  for (const Row& r : m_rows) {
    oldIds.insert(r.info.id);
    if (newIds.contains(r.info.id)) kept << r.info.id;
  }
  QStringList keptInNew;
  for (const Row& r : rows)
    if (oldIds.contains(r.info.id)) keptInNew << r.info.id;
  const bool orderKept = !kept.isEmpty() && kept == keptInNew && newIds.size() == rows.size() &&
                         oldIds.size() == m_rows.size();

  if (!orderKept) {
    beginResetModel();
    m_rows = rows;
    endResetModel();
  } else {
    for (int i = int(m_rows.size()) - 1; i >= 0; --i) {
      if (newIds.contains(m_rows[i].info.id)) continue;
      beginRemoveRows(QModelIndex(), i, i);
      m_rows.removeAt(i);
      endRemoveRows();
    }
    for (int i = 0; i < int(rows.size()); ++i) {
      if (i < m_rows.size() && m_rows[i].info.id == rows[i].info.id) {
        if (!sameShown(m_rows[i], rows[i])) {
          m_rows[i] = rows[i];
          emit dataChanged(index(i), index(i));
        }
        continue;
      }
      beginInsertRows(QModelIndex(), i, i);
      m_rows.insert(i, rows[i]);
      endInsertRows();
    }
  }
  m_infos = sorted;
  if (int(m_rows.size()) != countBefore || !orderKept) emit countChanged();
}

}  // namespace hl
