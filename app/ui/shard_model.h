// ShardModel: one row per shard of this node (Shards page), fed from NodeStatus by the
// DashboardController a few times per second. Rows are updated in place (dataChanged) while
// the set of shards stays the same, so views keep their scroll position and selection.
// QML sees it as the type ShardModel of the module HarmonyLite.Backend (controller.shards): the
// role `state` is a ShardState (compared as Hl.ShardState.Paused), `stateText` its word for the
// chip ("needs-restore", as /health writes it). Thread: GUI thread only.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QAbstractListModel>
#include <QList>

#include "harmonylite/engine_state.h"

namespace hl {

// Not `final`: Qt 6.4's QML registration derives a class from every default-constructible
// registered type (QQmlElement<T>), uncreatable or not.
class ShardModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("the DashboardController's shards")
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
 public:
  enum Role {
    kShardRole = Qt::UserRole + 1,
    kStreamRole,
    kAppliedRole,
    kReceivedRole,
    kLagMessagesRole,
    kLagSecondsRole,
    kStateRole,
    kLastErrorRole,
    kAppliedChangesRole,
    kConflictsRole,
    kDeadLettersRole,
    kRateRole,
    kStateTextRole,
  };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  // Takes the new picture; `seconds` since the previous one gives each shard's apply rate
  // (0 or less: rates stay as they were).
  void update(const QList<ShardStatus>& shards, double seconds);

  const QList<ShardStatus>& shards() const { return m_shards; }

 signals:
  void countChanged();

 private:
  QList<ShardStatus> m_shards;
  QList<double> m_rates;  // applied changes per second, per row
};

}  // namespace hl
