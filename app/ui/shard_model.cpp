#include "shard_model.h"

namespace hl {

int ShardModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_shards.size());
}

QVariant ShardModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
    return {};
  const ShardStatus& s = m_shards.at(index.row());
  switch (role) {
    case Qt::DisplayRole:
    case kShardRole:
      return s.shard;
    case kStreamRole:
      return s.stream;
    case kAppliedRole:
      return QVariant::fromValue<qulonglong>(s.applied);
    case kReceivedRole:
      return QVariant::fromValue<qulonglong>(s.received);
    case kLagMessagesRole:
      return QVariant::fromValue<qlonglong>(s.lagMessages);
    case kLagSecondsRole:
      return s.lagSeconds;
    case kStateRole:
      return QVariant::fromValue(s.state);
    case kStateTextRole:
      return stateName(s.state);
    case kLastErrorRole:
      return s.lastError;
    case kAppliedChangesRole:
      return QVariant::fromValue<qlonglong>(s.appliedChanges);
    case kConflictsRole:
      return QVariant::fromValue<qlonglong>(s.conflicts);
    case kDeadLettersRole:
      return QVariant::fromValue<qlonglong>(s.deadLetters);
    case kRateRole:
      return m_rates.value(index.row());
    default:
      return {};
  }
}

QHash<int, QByteArray> ShardModel::roleNames() const {
  return {{kShardRole, "shard"},
          {kStreamRole, "stream"},
          {kAppliedRole, "applied"},
          {kReceivedRole, "received"},
          {kLagMessagesRole, "lagMessages"},
          {kLagSecondsRole, "lagSeconds"},
          {kStateRole, "state"},
          {kLastErrorRole, "lastError"},
          {kAppliedChangesRole, "appliedChanges"},
          {kConflictsRole, "conflicts"},
          {kDeadLettersRole, "deadLetters"},
          {kRateRole, "rate"},
          {kStateTextRole, "stateText"}};
}

void ShardModel::update(const QList<ShardStatus>& shards, double seconds) {
  bool sameRows = shards.size() == m_shards.size();
  for (qsizetype i = 0; sameRows && i < shards.size(); ++i)
    sameRows = shards[i].shard == m_shards[i].shard;
  QList<double> rates(shards.size(), 0.0);
  for (qsizetype i = 0; i < shards.size(); ++i) {
    if (sameRows && seconds > 0) {
      const qint64 delta = shards[i].appliedChanges - m_shards[i].appliedChanges;
      rates[i] = delta > 0 ? double(delta) / seconds : 0.0;
    } else if (sameRows) {
      rates[i] = m_rates.value(i);
    }
  }
  if (!sameRows) {
    beginResetModel();
    m_shards = shards;
    m_rates = rates;
    endResetModel();
    emit countChanged();
    return;
  }
  // Per row, only the roles whose value changed: a dataChanged without roles re-evaluates every
  // binding of every delegate on the GUI thread (1.2 ms per status with 2 shards while applying,
  // docs/dashboard.md#responsiveness-measured).
  QList<QList<int>> changed(shards.size());
  for (qsizetype i = 0; i < shards.size(); ++i) {
    const ShardStatus& a = m_shards[i];
    const ShardStatus& b = shards[i];
    QList<int>& roles = changed[i];
    if (a.stream != b.stream) roles << kStreamRole;
    if (a.applied != b.applied) roles << kAppliedRole;
    if (a.received != b.received) roles << kReceivedRole;
    if (a.lagMessages != b.lagMessages) roles << kLagMessagesRole;
    if (a.lagSeconds != b.lagSeconds) roles << kLagSecondsRole;
    if (a.state != b.state) roles << kStateRole << kStateTextRole;
    if (a.lastError != b.lastError) roles << kLastErrorRole;
    if (a.appliedChanges != b.appliedChanges) roles << kAppliedChangesRole;
    if (a.conflicts != b.conflicts) roles << kConflictsRole;
    if (a.deadLetters != b.deadLetters) roles << kDeadLettersRole;
    if (m_rates.value(i) != rates[i]) roles << kRateRole;
  }
  m_shards = shards;
  m_rates = rates;
  for (qsizetype i = 0; i < changed.size(); ++i)
    if (!changed[i].isEmpty()) emit dataChanged(index(int(i)), index(int(i)), changed[i]);
}

}  // namespace hl
