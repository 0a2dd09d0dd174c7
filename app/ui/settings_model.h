// SettingsModel: the effective configuration, one row per key with secrets masked (Settings
// page), from describeConfig(). Thread: GUI thread only.
#pragma once

#include <QAbstractListModel>

#include "harmonylite/config.h"

namespace hl {

class SettingsModel final : public QAbstractListModel {
  Q_OBJECT
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
 public:
  enum Role { kSectionRole = Qt::UserRole + 1, kKeyRole, kValueRole, kSecretRole };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  void setConfig(const Config& config);

 signals:
  void countChanged();

 private:
  QList<ConfigEntry> m_entries;
};

}  // namespace hl
