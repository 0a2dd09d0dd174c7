// SettingsModel: the effective configuration, one row per key with secrets masked (Settings
// page), from describeConfig(). QML sees it as the type SettingsModel of the module
// HarmonyLite.Backend (controller.settings). Thread: GUI thread only.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QAbstractListModel>

#include "harmonylite/config.h"

namespace hl {

// Not `final`: Qt 6.4's QML registration derives a class from every default-constructible
// registered type (QQmlElement<T>), uncreatable or not.
class SettingsModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("the DashboardController's settings")
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
