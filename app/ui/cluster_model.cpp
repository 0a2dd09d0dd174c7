#include "cluster_model.h"

#include <algorithm>

namespace hl {

QString agoText(qint64 thenMs, qint64 nowMs) {
  if (thenMs <= 0) return QStringLiteral("never");
  const qint64 s = std::max<qint64>(0, (nowMs - thenMs) / 1000);
  if (s < 2) return QStringLiteral("just now");
  if (s < 120) return QStringLiteral("%1 s ago").arg(s);
  if (s < 7200) return QStringLiteral("%1 min ago").arg(s / 60);
  return QStringLiteral("%1 h ago").arg(s / 3600);
}

int ClusterModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_peers.size());
}

QVariant ClusterModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
    return {};
  const PeerStatus& p = m_peers.at(index.row());
  switch (role) {
    case Qt::DisplayRole:
    case kNodeIdRole:
      return QString::number(p.nodeId);
    case kVersionRole:
      return p.version;
    case kLastSeenMsRole:
      return QVariant::fromValue<qlonglong>(p.lastSeenMs);
    case kLastSeenTextRole:
      return p.nodeId == m_self ? QStringLiteral("this node") : agoText(p.lastSeenMs, m_nowMs);
    case kHealthyRole:
      return p.healthy;
    case kReasonRole:
      return p.reason;
    case kSchemaHashRole:
      return p.schemaHash;
    case kSchemaMismatchRole:
      return !m_selfHash.isEmpty() && !p.schemaHash.isEmpty() && p.schemaHash != m_selfHash;
    case kLagMessagesRole:
      return QVariant::fromValue<qlonglong>(p.lagMessages);
    case kLagSecondsRole:
      return p.lagSeconds;
    case kShardStatesRole:
      return shardStatesText(p.shardStates);
    case kIsSelfRole:
      return p.nodeId == m_self;
    case kAgreementRole:
      return m_agreement.value(p.nodeId);
    default:
      return {};
  }
}

QHash<int, QByteArray> ClusterModel::roleNames() const {
  return {{kNodeIdRole, "nodeId"},           {kVersionRole, "version"},
          {kLastSeenMsRole, "lastSeenMs"},   {kLastSeenTextRole, "lastSeen"},
          {kHealthyRole, "healthy"},         {kReasonRole, "reason"},
          {kSchemaHashRole, "schemaHash"},   {kSchemaMismatchRole, "schemaMismatch"},
          {kLagMessagesRole, "lagMessages"}, {kLagSecondsRole, "lagSeconds"},
          {kShardStatesRole, "shardStates"}, {kIsSelfRole, "isSelf"},
          {kAgreementRole, "agreement"}};
}

void ClusterModel::update(QList<PeerStatus> peers, uint64_t self, const QString& selfSchemaHash,
                          qint64 nowMs, const QMap<quint64, QString>& agreement) {
  m_agreement = agreement;
  std::sort(peers.begin(), peers.end(),
            [](const PeerStatus& a, const PeerStatus& b) { return a.nodeId < b.nodeId; });
  bool sameRows = peers.size() == m_peers.size() && self == m_self;
  for (qsizetype i = 0; sameRows && i < peers.size(); ++i)
    sameRows = peers[i].nodeId == m_peers[i].nodeId;
  int mismatches = 0;
  for (const PeerStatus& p : peers)
    if (!selfSchemaHash.isEmpty() && !p.schemaHash.isEmpty() && p.schemaHash != selfSchemaHash)
      ++mismatches;
  const bool countsChange = !sameRows || mismatches != m_mismatches;
  if (!sameRows) beginResetModel();
  m_peers = std::move(peers);
  m_self = self;
  m_selfHash = selfSchemaHash;
  m_nowMs = nowMs;
  m_mismatches = mismatches;
  if (!sameRows) {
    endResetModel();
  } else if (!m_peers.isEmpty()) {
    emit dataChanged(index(0), index(int(m_peers.size()) - 1));
  }
  if (countsChange) emit countChanged();
}

}  // namespace hl
