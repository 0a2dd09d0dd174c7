// ClusterModel: every node this one has heard from through the status records (Cluster page),
// this node included, ordered by node id. A schema hash that differs from this node's is
// flagged so the page can highlight it. QML sees it as the type ClusterModel of the module
// HarmonyLite.Backend (controller.cluster); a peer's shard states are one label there
// ("1:running 2:paused", as its status record carries them). Thread: GUI thread only.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QAbstractListModel>
#include <QList>

#include "harmonylite/engine_state.h"

namespace hl {

// Not `final`: Qt 6.4's QML registration derives a class from every default-constructible
// registered type (QQmlElement<T>), uncreatable or not.
class ClusterModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("the DashboardController's cluster")
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
  Q_PROPERTY(int mismatches READ mismatches NOTIFY countChanged)
 public:
  enum Role {
    kNodeIdRole = Qt::UserRole + 1,
    kVersionRole,
    kLastSeenMsRole,
    kLastSeenTextRole,
    kHealthyRole,
    kReasonRole,
    kSchemaHashRole,
    kSchemaMismatchRole,
    kLagMessagesRole,
    kLagSecondsRole,
    kShardStatesRole,
    kIsSelfRole,
    kAgreementRole,  // of the last consistency check: "agrees", "differs in T", ... ("" = none)
  };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  // `self` and `selfSchemaHash` identify this node; `nowMs` is the wall clock for "last seen".
  // `agreement`: each node's line of the last consistency check (ConsistencyStatus::nodes).
  void update(QList<PeerStatus> peers, uint64_t self, const QString& selfSchemaHash, qint64 nowMs,
              const QMap<quint64, QString>& agreement = {});

  int mismatches() const { return m_mismatches; }

 signals:
  void countChanged();

 private:
  QList<PeerStatus> m_peers;
  uint64_t m_self = 0;
  QString m_selfHash;
  qint64 m_nowMs = 0;
  QMap<quint64, QString> m_agreement;
  int m_mismatches = 0;
};

// "just now", "12 s ago", "3 min ago", "2 h ago"; "never" for 0.
QString agoText(qint64 thenMs, qint64 nowMs);

}  // namespace hl
